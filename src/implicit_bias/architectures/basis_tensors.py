"""Any linear tensor network, given its basis tensors E_k = M(e_k) (eq. 6): the architecture a config can
write out without code. It has no structured form: it trains on its entry list."""

from __future__ import annotations

import numpy as np

from .base import Architecture, make_network


def generic(basis_tensors, depth: int | None = None):
    """Any linear tensor network, given E_k = M(e_k) as an array of shape (d, k_1, ..., k_L).

    ``depth``, if given, must be L (the config's form names it, as every architecture does).
    """
    E = np.asarray(basis_tensors, dtype=np.float64)
    if E.ndim < 3:
        raise ValueError("generic: basis_tensors must have shape (d, k_1, ..., k_L) with L >= 2")
    if depth is not None and depth != E.ndim - 1:
        raise ValueError(f"generic: depth {depth} does not match basis_tensors of shape {E.shape} (depth {E.ndim - 1})")
    if not np.all(np.isfinite(E)):
        raise ValueError("generic: basis_tensors contain NaN or inf")
    nonzero = np.argwhere(E != 0)
    if len(nonzero) == 0:
        raise ValueError("generic: the data tensor is identically zero")
    entries = lambda: [(int(n[0]), tuple(int(i) for i in n[1:]), float(E[tuple(n)])) for n in nonzero]  # noqa: E731
    return make_network(ARCHITECTURE, E.shape[0], E.shape[1:], entries, {"depth": E.ndim - 1})


def _build(dim: int, *, depth: int | None = None, basis_tensors):
    network = generic(basis_tensors, depth)
    if network.dim != dim:
        raise ValueError(f"generic: basis_tensors have d = {network.dim}, the data have d = {dim}")
    return network


ARCHITECTURE = Architecture(
    name="generic",
    build=_build,
    description="any linear tensor network, given its basis tensors E_k = M(e_k)",
    settings={"basis_tensors": {"type": "array", "description": "generic: E_k = M(e_k), shape (d, k_1, ..., k_L)."}},
)
