"""Networks built by Assumption 1 from a chosen transform T (Remark 3): a diagonal network acting on T x."""

from __future__ import annotations

import numpy as np

from ..decompositions import OrthogonalDecomposition
from ..operators import Operator, constant, product
from .base import Architecture, check_depth, check_dim, make_network


def transform(dim: int, *, depth: int, kind: str = "dct", seed: int = 0, matrix=None):
    """A network built by Assumption 1 from a chosen transform T (Remark 3): S = T, U_l = I.

    M(x) = sum_j [T x]_j e_j o ... o e_j, i.e. a diagonal network acting on T x.
    ``kind``: ``dct`` (orthonormal DCT-II), ``random_orthogonal`` (seeded), or ``matrix`` given.
    """
    check_dim(dim)
    check_depth(depth)
    if matrix is not None:
        T = np.asarray(matrix, dtype=np.float64)
        kind = "matrix"
    elif kind == "dct":
        from scipy.fft import dct

        T = dct(np.eye(dim), norm="ortho", axis=0)
    elif kind == "random_orthogonal":
        T = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))[0]
    else:
        raise ValueError(f"transform: kind must be 'dct', 'random_orthogonal' or a matrix, got {kind!r}")
    if T.shape != (dim, dim) or abs(np.linalg.det(T)) < 1e-12:
        raise ValueError(f"transform: the matrix must be an invertible {dim}x{dim} matrix")
    entries = lambda: [(k, (j,) * depth, T[j, k]) for j in range(dim) for k in range(dim)]  # noqa: E731
    settings = {"depth": depth, "kind": kind, "matrix": T.tolist()}
    return make_network(ARCHITECTURE, dim, (dim,) * depth, entries, settings)


class Transform(Operator):
    """beta = T^T (v_1 * ... * v_L)."""

    def __init__(self, network):
        super().__init__(network)
        self.T = np.asarray(network.settings["matrix"], dtype=np.float64)

    def beta_of(self, layers):
        return product(layers) @ constant(self.T, layers[0])

    def pullback_of(self, u, layers):
        Tu = u @ constant(self.T, u).T
        return [Tu * product(layers[:l] + layers[l + 1 :]) for l in range(len(layers))]


def decomposition(network, even=False):
    """S = T, U_l = I (the network is defined by it)."""
    return OrthogonalDecomposition(np.asarray(network.settings["matrix"]), (np.eye(network.dim),) * network.depth)


def label(spec: dict) -> list[str]:
    return [str(spec.get("kind", "dct")) + (f"{spec['seed']}" if "seed" in spec else "")]


ARCHITECTURE = Architecture(
    name="transform",
    build=transform,
    description="a diagonal network acting on T x for a chosen orthogonal T (Remark 3)",
    settings={
        "kind": {"enum": ["dct", "random_orthogonal"], "description": "transform: which T."},
        "seed": {"type": "integer", "minimum": 0, "description": "transform: seed of a random orthogonal T."},
    },
    operator=Transform,
    entry_count=lambda dim, shape, settings: dim * dim,
    label=label,
    decomposition=decomposition,
)
