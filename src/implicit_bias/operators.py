"""Structured forms of the networks' linear maps: beta(Theta), the gradients of eq. (7), their derivatives.

A network's data tensor M(x) has d * k_2 * ... entries for a full convolution and d * prod(widths) for a
fully-connected network: 10^6 at d = 1000 for two layers, 10^9 for three. Each architecture also has a
natural form that never lists them:

- diag: an elementwise product, beta = v_1 * ... * v_L;
- transform (Assumption 1 with S = T): a diagonal network on T x, beta = T^T (v_1 * ... * v_L);
- conv: a circular convolution of the zero-padded filters, a product in the DFT domain (rfft);
- fc: the matrix chain beta = W_1 W_2 ... W_{L-1} w_L;
- matrix_sensing: <A, W_1 ... W_L> with A = Q diag(x) Q^T.

Each operator takes a batch of flat parameter vectors (shape (..., P), the network's layout) and
computes with whatever array library it is given: NumPy arrays or torch tensors (the same code, so
that the torch backend runs the same operators on a GPU). ``network.py``'s entry list is the
reference every operator is tested against (tests/unit/test_operators.py).

All of them are multilinear in the layers, so every derivative follows from the two maps
``beta_of`` and ``pullback_of``: the Jacobian-vector product of beta replaces one layer at a time by
the direction, and so does the Hessian-vector product of f(u).
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np


def _is_torch(a) -> bool:
    return type(a).__module__.startswith("torch")


def _fft(a):
    """The fft namespace of a's library (numpy.fft and torch.fft share rfft/irfft(a, n))."""
    if _is_torch(a):
        import torch

        return torch.fft
    return np.fft


def _concat(parts):
    if _is_torch(parts[0]):
        import torch

        return torch.cat([p.reshape(*p.shape[:-1], -1) for p in parts], dim=-1)
    return np.concatenate(parts, axis=-1)


def _constant(array, like):
    """A NumPy constant (a transform, a basis) in the library and on the device of ``like``."""
    if _is_torch(like):
        import torch

        return torch.as_tensor(array, dtype=like.dtype, device=like.device)
    return array


def _product(factors):
    return reduce(lambda a, b: a * b, factors)


def _matvec(W, v):
    """W @ v over a batch: W (..., a, b), v (..., b) -> (..., a)."""
    return (W @ v[..., None])[..., 0]


def _vecmat(v, W):
    """v^T W over a batch: v (..., a), W (..., a, b) -> (..., b)."""
    return (v[..., None, :] @ W)[..., 0, :]


class Operator:
    """The structured maps of one network. Subclasses define ``beta_of`` and ``pullback_of`` on the list of
    layers (each of shape (..., k_l)); the flat forms and the derivatives follow."""

    def __init__(self, network):
        self.dim = network.dim
        self.shape = tuple(network.shape)
        self.offsets = [int(o) for o in network.offsets]

    # --- what an architecture defines ------------------------------------------------------------
    def beta_of(self, layers):
        raise NotImplementedError

    def pullback_of(self, u, layers) -> list:
        """[M(u) o (v_1, .., I, .., v_L)] for each layer l: the gradient of Theta -> f(u; Theta) by layer."""
        raise NotImplementedError

    # --- flat parameter vectors -------------------------------------------------------------------
    def layers(self, theta) -> list:
        return [theta[..., o : o + k] for o, k in zip(self.offsets, self.shape)]

    def beta(self, theta):
        """beta(Theta) for each row of theta, shape (..., d)."""
        return self.beta_of(self.layers(theta))

    def pullback(self, u, theta):
        """The flat gradient of Theta -> f(u; Theta) (eq. 7 with u = X^T r), shape (..., P)."""
        return _concat(self.pullback_of(u, self.layers(theta)))

    def beta_jvp(self, theta, direction):
        """(d beta / d theta) @ direction: beta is multilinear, so the sum over layers of beta with that
        layer replaced by the direction's."""
        layers, along = self.layers(theta), self.layers(direction)
        return sum(self.beta_of(layers[:l] + [along[l]] + layers[l + 1 :]) for l in range(len(layers)))

    def hessian_vector(self, u, theta, direction):
        """Hess_theta f(u; Theta) @ direction: layer l's gradient is multilinear in the other layers."""
        layers, along = self.layers(theta), self.layers(direction)
        total = [0.0 * layer for layer in layers]
        for m in range(len(layers)):
            moved = self.pullback_of(u, layers[:m] + [along[m]] + layers[m + 1 :])
            total = [t if l == m else t + g for l, (t, g) in enumerate(zip(total, moved))]
        return _concat(total)

    def gram(self, X, theta, chunk: int = 16):
        """The per-point gradients' Gram matrix [<grad f(x_i), grad f(x_j)>] for the rows of X (one theta,
        NumPy): X J J^T X^T, by a pullback and a Jacobian-vector product per point (never the n x P matrix
        of gradients at once)."""
        columns = []
        for start in range(0, X.shape[0], chunk):
            grads = self.pullback(X[start : start + chunk], theta[None, :])
            columns.append(self.beta_jvp(theta[None, :], grads) @ X.T)
        return np.concatenate(columns, axis=0)


class Diagonal(Operator):
    """diag: beta = v_1 * ... * v_L elementwise."""

    def beta_of(self, layers):
        return _product(layers)

    def pullback_of(self, u, layers):
        return [u * _product(layers[:l] + layers[l + 1 :]) for l in range(len(layers))]

    def gram(self, X, theta, chunk=None):
        layers = self.layers(theta)
        scale = sum(_product(layers[:l] + layers[l + 1 :]) ** 2 for l in range(len(layers)))
        return (X * scale) @ X.T


class Transform(Operator):
    """transform: a diagonal network acting on T x, beta = T^T (v_1 * ... * v_L)."""

    def __init__(self, network):
        super().__init__(network)
        self.T = np.asarray(network.settings["matrix"], dtype=np.float64)

    def beta_of(self, layers):
        return _product(layers) @ _constant(self.T, layers[0])

    def pullback_of(self, u, layers):
        Tu = u @ _constant(self.T, u).T
        return [Tu * _product(layers[:l] + layers[l + 1 :]) for l in range(len(layers))]


class Convolution(Operator):
    """conv: beta is the circular convolution of the zero-padded filters, [M(x)]_j = x_{(j_1+..+j_L) mod d};
    the gradient of layer l is the circular cross-correlation of u with the other filters' convolution,
    truncated to the filter's length."""

    def beta_of(self, layers):
        fft = _fft(layers[0])
        return fft.irfft(_product([fft.rfft(v, n=self.dim) for v in layers]), n=self.dim)

    def pullback_of(self, u, layers):
        fft = _fft(u)
        spectra = [fft.rfft(v, n=self.dim) for v in layers]
        U = fft.rfft(u, n=self.dim)
        return [
            fft.irfft(U * _product(spectra[:l] + spectra[l + 1 :]).conj(), n=self.dim)[..., :k]
            for l, k in enumerate(self.shape)
        ]


class FullyConnected(Operator):
    """fc: beta = W_1 W_2 ... W_{L-1} w_L, v_l = vec(W_l) column-major. The gradient of layer l is the outer
    product of W_{l-1}^T .. W_1^T u with W_{l+1} .. w_L."""

    def __init__(self, network):
        super().__init__(network)
        self.dims = [network.dim, *network.settings["widths"]]

    def _matrices(self, layers):
        # column-major vec(W) of a (a x b) matrix is the row-major (b x a) matrix W^T
        return [
            v.reshape(*v.shape[:-1], self.dims[l + 1], self.dims[l]).swapaxes(-1, -2) for l, v in enumerate(layers[:-1])
        ]

    def _suffixes(self, Ws, w):
        """[W_1 .. w_L, W_2 .. w_L, ..., w_L]: the chain's right ends."""
        ends = [w]
        for W in reversed(Ws):
            ends.insert(0, _matvec(W, ends[0]))
        return ends

    def beta_of(self, layers):
        return self._suffixes(self._matrices(layers), layers[-1])[0]

    def pullback_of(self, u, layers):
        Ws = self._matrices(layers)
        ends = self._suffixes(Ws, layers[-1])
        grads, left = [], u
        for l, W in enumerate(Ws):
            # d f / d W_l = left right^T; its column-major vec is the row-major (right x left) outer product
            outer = ends[l + 1][..., :, None] * left[..., None, :]
            grads.append(outer.reshape(*outer.shape[:-2], -1))
            left = _vecmat(left, W)
        grads.append(left)
        return grads

    def gram(self, X, theta, chunk=None):
        """<x_i^T P_l, x_j^T P_l> |s_(l+1)|^2 summed over layers: d f/d W_l = (P_l^T x) s_(l+1)^T."""
        layers = self.layers(theta)
        Ws = self._matrices(layers)
        ends = self._suffixes(Ws, layers[-1])
        total, left = 0.0, X
        for l, W in enumerate(Ws):
            total = total + (left @ left.T) * (ends[l + 1] @ ends[l + 1])
            left = left @ W
        return total + left @ left.T


class MatrixSensing(Operator):
    """matrix_sensing: f(x) = <Q diag(x) Q^T, W_1 ... W_L>, beta_k = q_k^T W_1 .. W_L q_k."""

    def __init__(self, network):
        super().__init__(network)
        self.Q = np.asarray(network.settings["basis"], dtype=np.float64)

    def _matrices(self, layers):
        d = self.dim
        return [v.reshape(*v.shape[:-1], d, d).swapaxes(-1, -2) for v in layers]

    def beta_of(self, layers):
        Q = _constant(self.Q, layers[0])
        chain = reduce(lambda a, b: a @ b, self._matrices(layers))
        return ((Q.T @ chain) * Q.T).sum(-1)  # diag(Q^T W Q)

    def pullback_of(self, u, layers):
        Q = _constant(self.Q, u)
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


class EntryList(Operator):
    """Any network by its data tensor's entry list (``LinearTensorNetwork``): the reference, and the form of
    networks without a structured one (``generic``)."""

    def __init__(self, network):
        super().__init__(network)
        self.coord = network.coord
        self.index = network.index
        self.weight = network.weight

    def _as(self, a, like):
        if _is_torch(like):
            import torch

            dtype = torch.int64 if a.dtype.kind == "i" else like.dtype
            return torch.as_tensor(a, dtype=dtype, device=like.device)
        return a

    def _scatter(self, values, positions, size):
        """out[..., positions[e]] += values[..., e]."""
        if _is_torch(values):
            import torch

            out = torch.zeros(*values.shape[:-1], size, dtype=values.dtype, device=values.device)
            return out.index_add_(values.dim() - 1, self._as(positions, values), values)
        out = np.zeros(values.shape[:-1] + (size,))
        np.add.at(out.reshape(-1, size), (slice(None), positions), values.reshape(-1, values.shape[-1]))
        return out

    def _factors(self, layers):
        return [layers[l][..., self._as(self.index[:, l], layers[l])] for l in range(len(layers))]

    def beta_of(self, layers):
        weight = self._as(self.weight, layers[0])
        return self._scatter(weight * _product(self._factors(layers)), self.coord, self.dim)

    def pullback_of(self, u, layers):
        factors = self._factors(layers)
        scaled = self._as(self.weight, u) * u[..., self._as(self.coord, u)]
        return [
            self._scatter(scaled * _product(factors[:l] + factors[l + 1 :]), self.index[:, l], k)
            for l, k in enumerate(self.shape)
        ]


STRUCTURED = {"diag": Diagonal, "transform": Transform, "conv": Convolution, "fc": FullyConnected}
STRUCTURED["matrix_sensing"] = MatrixSensing


def operator(network) -> Operator:
    """The structured operator of a network, or its entry list where it has none."""
    return STRUCTURED.get(network.name, EntryList)(network)


def entry_count(name: str, dim: int, shape, settings) -> int:
    """How many nonzero entries the network's data tensor lists (at most), without listing them."""
    if name == "diag":
        return dim
    if name == "transform":
        return dim * dim
    if name == "fc":
        return math.prod([dim, *settings["widths"]])
    if name == "matrix_sensing":
        return dim ** (len(shape) + 2)
    return math.prod(shape)  # conv: k_1 ... k_(L-1) d; generic: at most every entry
