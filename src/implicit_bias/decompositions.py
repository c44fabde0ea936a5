"""Orthogonal decompositions of data tensors (Assumption 1, eq. 9) and the SVD of Theorems 3 and 5.

Assumption 1: M(x) = sum_j [S x]_j (U_1[:, j] o U_2[:, j] o ... o U_L[:, j]) with U_l^H U_l = I.
In these coordinates eta_l = U_l^T v_l, the network acts like a diagonal network on S x.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .networks import LinearTensorNetwork


@dataclass(frozen=True, eq=False)
class OrthogonalDecomposition:
    """S (m x d) and U_1..U_L (k_l x m), real or complex; ``domain`` says where it holds."""

    S: np.ndarray
    U: tuple[np.ndarray, ...]
    domain: str = "all inputs and parameters"

    @property
    def is_real(self) -> bool:
        return not (np.iscomplexobj(self.S) or any(np.iscomplexobj(u) for u in self.U))

    def data_tensor(self, x) -> np.ndarray:
        """Rebuild M(x) from eq. (9)."""
        singular = self.S @ np.asarray(x, dtype=np.float64)
        tensor = 0
        for j, s in enumerate(singular):
            rank_one = s
            for u in self.U:
                rank_one = np.multiply.outer(rank_one, u[:, j])
            tensor = tensor + rank_one
        return tensor

    def coordinates(self, vectors) -> list[np.ndarray]:
        """eta_l = U_l^T v_l for each layer (the paper's transformed parameters)."""
        return [u.T @ np.asarray(v, dtype=np.float64) for u, v in zip(self.U, vectors)]


@functools.lru_cache(maxsize=4)
def dft_matrix(dim: int) -> np.ndarray:
    """[F]_{j,k} = exp(-2 pi i (j-1)(k-1) / d) / sqrt(d) (Appendix A.2). Kept, read-only: at d = 1000 it costs
    30 ms, and a classification's checks ask for it at every decade it continues."""
    j = np.arange(dim)
    F = np.exp(-2j * np.pi * np.outer(j, j) / dim) / np.sqrt(dim)
    F.setflags(write=False)
    return F


def rfft_multiplicities(dim: int) -> np.ndarray:
    """How many of the full spectrum's bins each of a real signal's rfft bins stands for (2, its conjugate too; 1 at
    DC and, for even d, the Nyquist bin): Parseval over the rfft is sum_k m_k Re(a_k conj(b_k)) / d."""
    m = np.full(dim // 2 + 1, 2.0)
    m[0] = 1.0
    if dim % 2 == 0:
        m[-1] = 1.0
    return m


def proportional(A, B) -> bool:
    """Whether A = c B for a scalar c (complex, any sign): |<A, B>| = |A| |B|, one inner product."""
    if np.shape(A) != np.shape(B):
        return False
    return 1.0 - abs(np.vdot(A, B)) / (np.linalg.norm(A) * np.linalg.norm(B)) <= 1e-12


def is_dft_multiple(S) -> bool:
    """Whether S = c F for a scalar c (F the unitary DFT matrix)."""
    S = np.asarray(S)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or not np.iscomplexobj(S):
        return False
    return proportional(dft_matrix(S.shape[0]), S)


def is_even(x, *, atol: float = 1e-12) -> bool:
    """Even symmetry x_{j} = x_{(d - j) mod d} (0-based), around x_1 (Appendix A.4)."""
    x = np.asarray(x, dtype=np.float64)
    return bool(np.allclose(x, np.roll(x[::-1], 1), atol=atol, rtol=0.0))


def orthogonal_decomposition(network: LinearTensorNetwork, *, even: bool = False):
    """The decomposition of Assumption 1 where the paper gives one (its architecture declares it), else None.

    Args:
        network: the network.
        even: for full-length conv, the real variant of Corollary 6 (S = d^{(L-1)/2} Re F,
            U_l = Re F), which holds for even data and even parameters only.
    Returns:
        An ``OrthogonalDecomposition`` or None when the architecture has none.
    """
    if network.architecture.decomposition is None:
        return None
    return network.architecture.decomposition(network, even=even)


def single_point_svd(network: LinearTensorNetwork, x, *, rtol: float = 1e-12):
    """Compact SVD M(x) = U_1 diag(s) U_2^T of a 2-layer network's data matrix (Theorems 3, 5).

    Returns (U_1, s, U_2) with singular values above ``rtol * max(s)``.
    """
    if network.depth != 2:
        raise ValueError(f"the single-point SVD needs a 2-layer network, got depth {network.depth}")
    U1, s, U2t = np.linalg.svd(network.data_tensor(x), full_matrices=False)
    keep = s > rtol * s.max() if s.size and s.max() > 0 else np.zeros_like(s, dtype=bool)
    if not keep.any():
        raise ValueError("the data point gives a zero data matrix M(x)")
    return U1[:, keep], s[keep], U2t[keep].T
