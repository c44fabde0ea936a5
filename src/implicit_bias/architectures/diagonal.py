"""Diagonal networks (eq. 3/11): f(x) = x^T (v_1 * ... * v_L), [M(x)]_{j,...,j} = x_j."""

from __future__ import annotations

import numpy as np

from ..decompositions import OrthogonalDecomposition
from ..operators import Operator, product
from .base import Architecture, check_depth, check_dim, make_network


def diag(dim: int, *, depth: int):
    """L-layer diagonal network (eq. 3/11): [M(x)]_{j,...,j} = x_j."""
    check_dim(dim)
    check_depth(depth)
    entries = lambda: [(j, (j,) * depth, 1.0) for j in range(dim)]  # noqa: E731
    return make_network(ARCHITECTURE, dim, (dim,) * depth, entries, {"depth": depth})


class Diagonal(Operator):
    """beta = v_1 * ... * v_L elementwise."""

    def beta_of(self, layers):
        return product(layers)

    def pullback_of(self, u, layers):
        return [u * product(layers[:l] + layers[l + 1 :]) for l in range(len(layers))]

    def gram(self, X, theta, chunk=None):
        layers = self.layers(theta)
        scale = sum(product(layers[:l] + layers[l + 1 :]) ** 2 for l in range(len(layers)))
        rows = X * np.sqrt(scale)
        return rows @ rows.T  # BLAS's symmetric product (syrk): half the work, and exactly symmetric


def decomposition(network, even=False):
    """S = I, U_l = I: the network is already diagonal."""
    d = network.dim
    return OrthogonalDecomposition(np.eye(d), (np.eye(d),) * network.depth)


ARCHITECTURE = Architecture(
    name="diag",
    build=diag,
    description="diagonal network, beta = v_1 * ... * v_L (eq. 3)",
    operator=Diagonal,
    entry_count=lambda dim, shape, settings: dim,
    decomposition=decomposition,
)
