"""Circular convolutional networks (eq. 4/12): [M(x)]_{j_1..j_L} = x_{(j_1 + ... + j_L) mod d}."""

from __future__ import annotations

import itertools

import numpy as np

from ..decompositions import OrthogonalDecomposition, dft_matrix, rfft_multiplicities
from ..operators import Operator, fft_of, product
from .base import Architecture, check_depth, check_dim, make_network, sizes_label, sizes_setting


def conv(dim: int, *, depth: int, filters=None):
    """L-layer circular convolutional network (eq. 4/12).

    ``filters`` are k_1..k_{L-1} (each 1 <= k_l <= d); k_L = d. Default: full length (all d).
    [M(x)]_{j_1..j_L} = x_{(j_1 + ... + j_L) mod d} with 0-based indices.
    """
    check_dim(dim)
    check_depth(depth)
    filters = [dim] * (depth - 1) if filters is None else [int(k) for k in filters]
    if len(filters) != depth - 1:
        raise ValueError(f"conv: filters must list k_1..k_(L-1), {depth - 1} value(s) for depth {depth}; got {filters}")
    for k in filters:
        if not 1 <= k <= dim:
            raise ValueError(f"conv: each filter size must satisfy 1 <= k_l <= d = {dim}; got {filters}")
    shape = (*filters, dim)
    entries = lambda: [(sum(j) % dim, j, 1.0) for j in itertools.product(*(range(k) for k in shape))]  # noqa: E731
    return make_network(ARCHITECTURE, dim, shape, entries, {"depth": depth, "filters": filters})


class Convolution(Operator):
    """beta is the circular convolution of the zero-padded filters, a product in the DFT domain (rfft); the
    gradient of layer l is the circular cross-correlation of u with the other filters' convolution, truncated
    to the filter's length."""

    def beta_of(self, layers):
        fft = fft_of(layers[0])
        return fft.irfft(product([fft.rfft(v, n=self.dim) for v in layers]), n=self.dim)

    def pullback_of(self, u, layers):
        fft = fft_of(u)
        spectra = [fft.rfft(v, n=self.dim) for v in layers]
        U = fft.rfft(u, n=self.dim)
        return [
            fft.irfft(U * product(spectra[:l] + spectra[l + 1 :]).conj(), n=self.dim)[..., :k]
            for l, k in enumerate(self.shape)
        ]

    def gram(self, X, theta, chunk=16):
        """Full-length filters: <grad f(x_i), grad f(x_j)> = sum_l <x_i * P_l, x_j * P_l> with P_l the other filters'
        convolution, by Parseval sum_k c_k Re(x^_ik conj(x^_jk)) sum_l |P^_lk|^2 / d over the rfft's bins (c_k = 2
        where a bin stands for its conjugate too): O(n^2 d) in one product instead of a pullback and a
        Jacobian-vector product per point. Truncated filters: the generic way."""
        if any(k != self.dim for k in self.shape):
            return super().gram(X, theta, chunk)
        spectra = [np.fft.rfft(v) for v in self.layers(theta)]
        weights = sum(np.abs(product(spectra[:l] + spectra[l + 1 :])) ** 2 for l in range(len(spectra)))
        weights = weights * rfft_multiplicities(self.dim) / self.dim
        Xf = np.fft.rfft(X, axis=-1)
        return (Xf.real * weights) @ Xf.real.T + (Xf.imag * weights) @ Xf.imag.T


def decomposition(network, even=False):
    """Full-length filters only (Appendix A.2): S = d^{(L-1)/2} F, U_l = conj(F); ``even``: the real variant
    of Corollary 6, S = d^{(L-1)/2} Re F, U_l = Re F, for even data and even parameters."""
    d, L = network.dim, network.depth
    if not all(k == d for k in network.shape):
        return None
    F = dft_matrix(d)
    if even:
        real = F.real.copy()
        return OrthogonalDecomposition(d ** ((L - 1) / 2) * real, (real,) * L, domain="even inputs and even parameters")
    return OrthogonalDecomposition(d ** ((L - 1) / 2) * F, (F.conj(),) * L)


ARCHITECTURE = Architecture(
    name="conv",
    build=conv,
    description="circular convolutional network (eq. 4)",
    settings={"filters": sizes_setting("conv: k_1..k_(L-1) (k_L = d); default full length.")},
    operator=Convolution,
    label=lambda spec: sizes_label("k", spec.get("filters")),
    decomposition=decomposition,
)
