"""Linear tensor networks (Section 3, Appendices A and B).

Every network of the paper is stored the same way: a sparse list of the nonzero entries of its data
tensor ``M(x) = sum_k x_k E_k`` (eq. 6).  Entry ``e`` says that ``[M(x)]_{j_1..j_L}`` gets
``weight[e] * x[coord[e]]`` at the multi-index ``index[e]``.  From that one list follow the output
``f(x) = M(x) o (v_1, ..., v_L)``, the linear coefficients ``beta`` with ``f(x) = x^T beta``, and the
gradients ``M(X^T r) o (v_1, .., I, .., v_L)`` of eq. (7), all in closed form, for any depth.
The same list feeds the compiled training loops (``implicit_bias.training``).

Parameters of one network are kept as a list of vectors ``[v_1, ..., v_L]`` (the paper's tensor
formulation); ``flatten``/``unflatten`` convert to one flat vector for the solvers.

The entry list is built when first asked for: it has 10^6 entries for a two-layer conv or fc network at
d = 1000 and 10^9 for three layers. Networks with more than ``ENTRY_LIMIT`` entries or ``PARAM_LIMIT``
parameters compute beta and the gradients with their structured operator (``implicit_bias.operators``: elementwise, FFT, matrix
chain) and never list them; smaller ones keep the entry list, the reference those operators are tested
against.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import operators

ENTRY_LIMIT = 20_000  # above this many entries, a network with a structured operator uses it
PARAM_LIMIT = 200  # and above this many parameters: the entry engine's stiff phase factors a dense P x P Jacobian


@dataclass(frozen=True, eq=False)
class LinearTensorNetwork:
    """A linear tensor network ``f(x; Theta) = M(x) o (v_1, ..., v_L)``.

    Attributes:
        name: architecture name (a key of ``ARCHITECTURES``).
        dim: input dimension d.
        shape: (k_1, ..., k_L), the length of each parameter vector v_l.
        settings: the architecture's own settings (depth, filters, widths, ...), for provenance.
        make_entries: builds the entry list, (coord, index, weight) triples, when first asked for:
            ``coord`` (E,) the input coordinate each nonzero entry of M(x) reads, ``index`` (E, L) its
            multi-index and ``weight`` (E,) its coefficient.
    """

    name: str
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
        return operators.entry_count(self.name, self.dim, self.shape, self.settings)

    @cached_property
    def operator(self) -> operators.Operator:
        """The structured operator (elementwise, FFT, matrix chain), or the entry list where there is none."""
        return operators.operator(self)

    @property
    def structured(self) -> bool:
        """Whether beta and the gradients are computed by the structured operator instead of the entry list, and
        the solvers train on it: for networks too large to list (more than ``ENTRY_LIMIT`` entries) or with more
        than ``PARAM_LIMIT`` parameters (the entry engine's stiff phase costs O(P^3) a step)."""
        large = self.entry_count > ENTRY_LIMIT or self.n_params > PARAM_LIMIT
        return self.name in operators.STRUCTURED and large

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


def _network(name, dim, shape, make_entries, settings) -> LinearTensorNetwork:
    """A network whose entry list, (coord, multi-index, weight) triples with exact zeros dropped, is built
    by ``make_entries`` when first asked for."""
    return LinearTensorNetwork(
        name=name, dim=int(dim), shape=tuple(int(k) for k in shape), settings=settings, make_entries=make_entries
    )


def _check_depth(depth):
    if not isinstance(depth, (int, np.integer)) or depth < 2:
        raise ValueError(f"depth must be an integer >= 2 (the paper's L >= 2), got {depth!r}")


def _check_dim(dim):
    if not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"input dimension d must be a positive integer, got {dim!r}")


def diag(dim: int, *, depth: int) -> LinearTensorNetwork:
    """L-layer diagonal network (eq. 3/11): [M(x)]_{j,...,j} = x_j."""
    _check_dim(dim)
    _check_depth(depth)
    entries = lambda: [(j, (j,) * depth, 1.0) for j in range(dim)]  # noqa: E731
    return _network("diag", dim, (dim,) * depth, entries, {"depth": depth})


def conv(dim: int, *, depth: int, filters=None) -> LinearTensorNetwork:
    """L-layer circular convolutional network (eq. 4/12).

    ``filters`` are k_1..k_{L-1} (each 1 <= k_l <= d); k_L = d. Default: full length (all d).
    [M(x)]_{j_1..j_L} = x_{(j_1 + ... + j_L) mod d} with 0-based indices.
    """
    _check_dim(dim)
    _check_depth(depth)
    filters = [dim] * (depth - 1) if filters is None else [int(k) for k in filters]
    if len(filters) != depth - 1:
        raise ValueError(f"conv: filters must list k_1..k_(L-1), {depth - 1} value(s) for depth {depth}; got {filters}")
    for k in filters:
        if not 1 <= k <= dim:
            raise ValueError(f"conv: each filter size must satisfy 1 <= k_l <= d = {dim}; got {filters}")
    shape = (*filters, dim)
    entries = lambda: [(sum(j) % dim, j, 1.0) for j in itertools.product(*(range(k) for k in shape))]  # noqa: E731
    return _network("conv", dim, shape, entries, {"depth": depth, "filters": filters})


def fc(dim: int, *, depth: int, widths=None) -> LinearTensorNetwork:
    """L-layer fully-connected network (eq. 5/10), v_l = vec(W_l) (column-major), v_L = w_L.

    ``widths`` are the hidden widths d_2..d_L (default: all d). The nonzero entries of the
    block-diagonal recursion of Appendix B are the paths (a_1, ..., a_L) through the layers:
    [M(x)]_{a_1 + d_1 a_2, ..., a_{L-1} + d_{L-1} a_L, a_L} = x_{a_1}.
    """
    _check_dim(dim)
    _check_depth(depth)
    widths = [dim] * (depth - 1) if widths is None else [int(w) for w in widths]
    if len(widths) != depth - 1:
        raise ValueError(
            f"fc: widths must list the hidden widths d_2..d_L, {depth - 1} value(s) for depth {depth}; got {widths}"
        )
    if any(w < 1 for w in widths):
        raise ValueError(f"fc: widths must be positive integers, got {widths}")
    dims = [dim, *widths]
    shape = tuple(dims[l] * dims[l + 1] for l in range(depth - 1)) + (dims[-1],)

    def entries():
        for path in itertools.product(*(range(n) for n in dims)):
            index = tuple(path[l] + dims[l] * path[l + 1] for l in range(depth - 1)) + (path[-1],)
            yield path[0], index, 1.0

    return _network("fc", dim, shape, entries, {"depth": depth, "widths": widths})


def matrix_sensing(dim: int, *, depth: int, basis=None) -> LinearTensorNetwork:
    """Deep matrix sensing W_1 ... W_L with commuting symmetric sensors (eq. 13, Corollary 7).

    Sensors are A = Q diag(x) Q^T for the common orthonormal eigenbasis Q = ``basis`` (default I),
    so the input x is the vector of eigenvalues and f(x) = <A, W_1 ... W_L>; v_l = vec(W_l)
    (column-major). beta_k = q_k^T W_1 ... W_L q_k.
    """
    _check_dim(dim)
    _check_depth(depth)
    Q = np.eye(dim) if basis is None else np.asarray(basis, dtype=np.float64)
    if Q.shape != (dim, dim) or not np.allclose(Q.T @ Q, np.eye(dim), atol=1e-10):
        raise ValueError(f"matrix_sensing: basis must be an orthogonal {dim}x{dim} matrix")

    def entries():
        for k in range(dim):
            for path in itertools.product(range(dim), repeat=depth + 1):  # (a, c_1..c_{L-1}, b)
                index = tuple(path[l] + dim * path[l + 1] for l in range(depth))
                yield k, index, Q[path[0], k] * Q[path[-1], k]

    settings = {"depth": depth, "basis": Q.tolist()}
    return _network("matrix_sensing", dim, (dim * dim,) * depth, entries, settings)


def transform(dim: int, *, depth: int, kind: str = "dct", seed: int = 0, matrix=None) -> LinearTensorNetwork:
    """A network built by Assumption 1 from a chosen transform T (Remark 3): S = T, U_l = I.

    M(x) = sum_j [T x]_j e_j o ... o e_j, i.e. a diagonal network acting on T x.
    ``kind``: ``dct`` (orthonormal DCT-II), ``random_orthogonal`` (seeded), or ``matrix`` given.
    """
    _check_dim(dim)
    _check_depth(depth)
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
    return _network("transform", dim, (dim,) * depth, entries, {"depth": depth, "kind": kind, "matrix": T.tolist()})


def generic(basis_tensors, depth: int | None = None) -> LinearTensorNetwork:
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
    return _network("generic", E.shape[0], E.shape[1:], entries, {"depth": E.ndim - 1})


ARCHITECTURES = {
    "diag": diag,
    "conv": conv,
    "fc": fc,
    "matrix_sensing": matrix_sensing,
    "transform": transform,
    "generic": generic,
}


def build_network(spec: dict, dim: int) -> LinearTensorNetwork:
    """Build a network from a config entry such as ``{name: conv, depth: 2, filters: [3]}``."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; expected one of {sorted(ARCHITECTURES)}")
    known = [k for k in inspect.signature(ARCHITECTURES[name]).parameters if k != "dim"]
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise ValueError(f"{name}: unknown setting(s) {unknown}; known: {known}")
    if name == "generic":
        network = generic(spec.pop("basis_tensors"), spec.pop("depth", None))
        if network.dim != dim:
            raise ValueError(f"generic: basis_tensors have d = {network.dim}, the data have d = {dim}")
    else:
        network = ARCHITECTURES[name](dim, **spec)
    return network
