"""Deep matrix sensing with commuting symmetric sensors (eq. 13, Corollary 7): f(x) = <A(x), W_1 ... W_L>."""

from __future__ import annotations

import itertools
from functools import reduce

import numpy as np

from ..decompositions import OrthogonalDecomposition
from ..operators import Operator, constant
from .base import Architecture, check_depth, check_dim, make_network


def matrix_sensing(dim: int, *, depth: int, basis=None):
    """Deep matrix sensing W_1 ... W_L with commuting symmetric sensors (eq. 13, Corollary 7).

    Sensors are A = Q diag(x) Q^T for the common orthonormal eigenbasis Q = ``basis`` (default I),
    so the input x is the vector of eigenvalues and f(x) = <A, W_1 ... W_L>; v_l = vec(W_l)
    (column-major). beta_k = q_k^T W_1 ... W_L q_k.
    """
    check_dim(dim)
    check_depth(depth)
    Q = np.eye(dim) if basis is None else np.asarray(basis, dtype=np.float64)
    if Q.shape != (dim, dim) or not np.allclose(Q.T @ Q, np.eye(dim), atol=1e-10):
        raise ValueError(f"matrix_sensing: basis must be an orthogonal {dim}x{dim} matrix")

    def entries():
        for k in range(dim):
            for path in itertools.product(range(dim), repeat=depth + 1):  # (a, c_1..c_{L-1}, b)
                index = tuple(path[l] + dim * path[l + 1] for l in range(depth))
                yield k, index, Q[path[0], k] * Q[path[-1], k]

    settings = {"depth": depth, "basis": Q.tolist()}
    return make_network(ARCHITECTURE, dim, (dim * dim,) * depth, entries, settings)


class MatrixSensing(Operator):
    """f(x) = <Q diag(x) Q^T, W_1 ... W_L>, beta_k = q_k^T W_1 .. W_L q_k."""

    def __init__(self, network):
        super().__init__(network)
        self.Q = np.asarray(network.settings["basis"], dtype=np.float64)

    def _matrices(self, layers):
        d = self.dim
        return [v.reshape(*v.shape[:-1], d, d).swapaxes(-1, -2) for v in layers]

    def beta_of(self, layers):
        Q = constant(self.Q, layers[0])
        chain = reduce(lambda a, b: a @ b, self._matrices(layers))
        return ((Q.T @ chain) * Q.T).sum(-1)  # diag(Q^T W Q)

    def pullback_of(self, u, layers):
        Q = constant(self.Q, u)
        Ws = self._matrices(layers)
        A = (Q * u[..., None, :]) @ Q.T
        grads = []
        for l in range(len(Ws)):
            # d <A, P W_l S> / d W_l = P^T A S^T
            grad = A
            if l > 0:
                grad = reduce(lambda a, b: a @ b, Ws[:l]).swapaxes(-1, -2) @ grad
            if l < len(Ws) - 1:
                grad = grad @ reduce(lambda a, b: a @ b, Ws[l + 1 :]).swapaxes(-1, -2)
            grads.append(grad.swapaxes(-1, -2).reshape(*grad.shape[:-2], -1))
        return grads


def decomposition(network, even=False):
    """Not a decomposition of M(x) as a tensor: it holds for parameters W_l = Q diag(eta_l) Q^T, the invariant
    set that the Corollary 7 initialisation starts in (Appendix F.5)."""
    d = network.dim
    Q = np.asarray(network.settings["basis"])
    columns = np.stack([np.outer(Q[:, j], Q[:, j]).ravel(order="F") for j in range(d)], axis=1)
    return OrthogonalDecomposition(
        np.eye(d), (columns,) * network.depth, domain="parameters diagonal in the sensors' eigenbasis"
    )


ARCHITECTURE = Architecture(
    name="matrix_sensing",
    build=matrix_sensing,
    description="deep matrix sensing W_1 ... W_L with commuting symmetric sensors (eq. 13)",
    operator=MatrixSensing,
    entry_count=lambda dim, shape, settings: dim ** (len(shape) + 2),
    decomposition=decomposition,
    from_data=("basis",),  # the sensors are the data: their eigenbasis comes with them, not from the config
)
