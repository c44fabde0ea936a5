"""Linear tensor networks (Section 3, Appendices A and B): what every architecture's network is.

The architectures themselves (diag, conv, fc, ...: their constructors, structured operators and
decompositions) are the modules of ``implicit_bias.architectures``, one each. Every network is stored the
same way: a sparse list of the nonzero entries of its data
tensor ``M(x) = sum_k x_k E_k`` (eq. 6).  Entry ``e`` says that ``[M(x)]_{j_1..j_L}`` gets
``weight[e] * x[coord[e]]`` at the multi-index ``index[e]``.  From that one list follow the output
``f(x) = M(x) o (v_1, ..., v_L)``, the linear coefficients ``beta`` with ``f(x) = x^T beta``, and the
gradients ``M(X^T r) o (v_1, .., I, .., v_L)`` of eq. (7), all in closed form, for any depth.
The same list feeds the compiled training loops (``implicit_bias.training``).

Parameters of one network are kept as a list of vectors ``[v_1, ..., v_L]`` (the paper's tensor
formulation); ``flatten``/``unflatten`` convert to one flat vector for the solvers.

The entry list is built when first asked for: it has 10^6 entries for a two-layer conv or fc network at
d = 1000 and 10^9 for three layers. Networks with more than ``ENTRY_LIMIT`` entries or ``PARAM_LIMIT``
parameters compute beta and the gradients with their architecture's structured operator (elementwise, FFT,
matrix chain) and never list them; smaller ones keep the entry list, the reference those operators are tested
against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from . import operators

if TYPE_CHECKING:
    from .architectures import Architecture

ENTRY_LIMIT = 20_000  # above this many entries, a network with a structured operator uses it
PARAM_LIMIT = 200  # and above this many parameters: the entry engine's stiff phase factors a dense P x P Jacobian


@dataclass(frozen=True, eq=False)
class LinearTensorNetwork:
    """A linear tensor network ``f(x; Theta) = M(x) o (v_1, ..., v_L)``.

    Attributes:
        architecture: what the network is an instance of (``implicit_bias.architectures``): its name, its
            structured operator, its orthogonal decomposition.
        dim: input dimension d.
        shape: (k_1, ..., k_L), the length of each parameter vector v_l.
        settings: the architecture's own settings (depth, filters, widths, ...), for provenance.
        make_entries: builds the entry list, (coord, index, weight) triples, when first asked for:
            ``coord`` (E,) the input coordinate each nonzero entry of M(x) reads, ``index`` (E, L) its
            multi-index and ``weight`` (E,) its coefficient.
    """

    architecture: Architecture
    dim: int
    shape: tuple[int, ...]
    settings: dict = field(default_factory=dict)
    make_entries: Callable = field(default=None, repr=False)

    @cached_property
    def _entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coord, index, weight = zip(*[(k, j, w) for k, j, w in self.make_entries() if w != 0.0])
        return (
            np.array(coord, dtype=np.int64),
            np.array(index, dtype=np.int64).reshape(len(coord), self.depth),
            np.array(weight, dtype=np.float64),
        )

    @property
    def name(self) -> str:
        """The architecture's name, as a config gives it (diag, conv, fc, ...)."""
        return self.architecture.name

    @property
    def coord(self) -> np.ndarray:
        return self._entries[0]

    @property
    def index(self) -> np.ndarray:
        return self._entries[1]

    @property
    def weight(self) -> np.ndarray:
        return self._entries[2]

    @property
    def entry_count(self) -> int:
        """How many entries the data tensor lists (at most), known without listing them."""
        return self.architecture.entry_count(self.dim, self.shape, self.settings)

    @cached_property
    def operator(self) -> operators.Operator:
        """The structured operator (elementwise, FFT, matrix chain), or the entry list where there is none."""
        return operators.operator(self)

    @property
    def has_operator(self) -> bool:
        """Whether its architecture has a structured operator (every one but ``generic``)."""
        return self.architecture.operator is not None

    @property
    def structured(self) -> bool:
        """Whether beta and the gradients are computed by the structured operator instead of the entry list, and
        the solvers train on it: for networks too large to list (more than ``ENTRY_LIMIT`` entries) or with more
        than ``PARAM_LIMIT`` parameters (the entry engine's stiff phase costs O(P^3) a step)."""
        large = self.entry_count > ENTRY_LIMIT or self.n_params > PARAM_LIMIT
        return self.has_operator and large

    @property
    def depth(self) -> int:
        return len(self.shape)

    @property
    def offsets(self) -> np.ndarray:
        """Start of each v_l in the flat parameter vector."""
        return np.concatenate([[0], np.cumsum(self.shape)[:-1]]).astype(np.int64)

    @property
    def n_params(self) -> int:
        return int(sum(self.shape))

    @property
    def flat_index(self) -> np.ndarray:
        """(E, L) positions of each entry's factors in the flat parameter vector."""
        return (self.index + self.offsets[None, :]).astype(np.int64)

    def flatten(self, vectors) -> np.ndarray:
        vectors = [np.asarray(v, dtype=np.float64) for v in vectors]
        if [v.shape for v in vectors] != [(k,) for k in self.shape]:
            raise ValueError(
                f"{self.name}: parameter shapes {[v.shape for v in vectors]} do not match "
                f"the network's (k_1..k_L) = {self.shape}"
            )
        return np.concatenate(vectors)

    def unflatten(self, theta) -> list[np.ndarray]:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape[-1] != self.n_params:
            raise ValueError(f"{self.name}: expected {self.n_params} parameters, got {theta.shape[-1]}")
        return [theta[..., o : o + k] for o, k in zip(self.offsets, self.shape)]

    # --- the tensor formulation -------------------------------------------------------------
    def data_tensor(self, x) -> np.ndarray:
        """The dense data tensor M(x) of shape (k_1, ..., k_L)."""
        x = self._check_input(x)
        tensor = np.zeros(self.shape)
        np.add.at(tensor, tuple(self.index.T), self.weight * x[self.coord])
        return tensor

    def _entry_products(self, theta) -> np.ndarray:
        """weight_e * prod_l v_l[j_{e,l}] for every entry (the entry's share of beta)."""
        theta = np.asarray(theta, dtype=np.float64)
        return self.weight * np.prod(theta[self.flat_index], axis=1)

    def beta(self, theta) -> np.ndarray:
        """Linear coefficients beta(Theta), with f(x; Theta) = x^T beta(Theta)."""
        if self.structured:
            return self.operator.beta(self._check_theta(theta))
        beta = np.zeros(self.dim)
        np.add.at(beta, self.coord, self._entry_products(self._check_theta(theta)))
        return beta

    def output(self, X, theta) -> np.ndarray:
        """f(x_i; Theta) for every row of X."""
        return np.atleast_2d(np.asarray(X, dtype=np.float64)) @ self.beta(theta)

    def gradient(self, u, theta) -> np.ndarray:
        """Flat gradient of theta -> f(u; Theta), i.e. M(u) o (v_1, .., I_{k_l}, .., v_L) for each l.

        With ``u = X^T r`` this is the gradient of the training loss (eq. 7, up to the sign).
        """
        u = self._check_input(u)
        theta = self._check_theta(theta)
        if self.structured:
            return self.operator.pullback(u, theta)
        factors = theta[self.flat_index]
        grad = np.zeros(self.n_params)
        for l in range(self.depth):
            others = np.prod(np.delete(factors, l, axis=1), axis=1)
            np.add.at(grad, self.flat_index[:, l], self.weight * u[self.coord] * others)
        return grad

    def beta_jacobian(self, theta) -> np.ndarray:
        """d beta / d theta, shape (d, P): column a is the derivative of beta in parameter a."""
        factors = self._check_theta(theta)[self.flat_index]
        jacobian = np.zeros((self.dim, self.n_params))
        for l in range(self.depth):
            others = np.prod(np.delete(factors, l, axis=1), axis=1)
            np.add.at(jacobian, (self.coord, self.flat_index[:, l]), self.weight * others)
        return jacobian

    def hessian(self, u, theta) -> np.ndarray:
        """Hessian of theta -> f(u; Theta), shape (P, P): f is multilinear, so only pairs of
        different layers contribute."""
        u = self._check_input(u)
        factors = self._check_theta(theta)[self.flat_index]
        hessian = np.zeros((self.n_params, self.n_params))
        scaled = self.weight * u[self.coord]
        for l in range(self.depth):
            for m in range(self.depth):
                if l != m:
                    others = np.prod(np.delete(factors, [l, m], axis=1), axis=1)
                    np.add.at(hessian, (self.flat_index[:, l], self.flat_index[:, m]), scaled * others)
        return hessian

    def _check_input(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.dim,):
            raise ValueError(f"{self.name}: input must have shape ({self.dim},), got {x.shape}")
        return x

    def _check_theta(self, theta) -> np.ndarray:
        if isinstance(theta, (list, tuple)):
            theta = self.flatten(theta)
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_params,):
            raise ValueError(f"{self.name}: expected {self.n_params} parameters, got shape {theta.shape}")
        return theta

    def describe(self) -> str:
        return f"{self.name}(d={self.dim}, k={self.shape})"
