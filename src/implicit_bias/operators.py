"""What a structured operator is: beta(Theta), the gradients of eq. (7) and their derivatives, from two maps.

A network's data tensor M(x) has d * k_2 * ... entries for a full convolution and d * prod(widths) for a
fully-connected network: 10^6 at d = 1000 for two layers, 10^9 for three. Each architecture also has a
natural form that never lists them, its ``Operator`` subclass, in its module of
``implicit_bias.architectures`` (diag elementwise, conv by FFT, fc the matrix chain, matrix sensing in the
eigenbasis); ``EntryList`` here is the form of any network by its entry list.

Each operator takes a batch of flat parameter vectors (shape (..., P), the network's layout) and
computes with whatever array library it is given: NumPy arrays or torch tensors (the same code, so
that the torch backend runs the same operators on a GPU). ``networks.py``'s entry list is the
reference every operator is tested against (tests/unit/test_operators.py).

All of them are multilinear in the layers, so every derivative follows from the two maps
``beta_of`` and ``pullback_of``: the Jacobian-vector product of beta replaces one layer at a time by
the direction, and so does the Hessian-vector product of f(u).
"""

from __future__ import annotations

from functools import reduce

import numpy as np


def is_torch(a) -> bool:
    return type(a).__module__.startswith("torch")


def fft_of(a):
    """The fft namespace of a's library (numpy.fft and torch.fft share rfft/irfft(a, n))."""
    if is_torch(a):
        import torch

        return torch.fft
    return np.fft


def concat(parts):
    if is_torch(parts[0]):
        import torch

        return torch.cat([p.reshape(*p.shape[:-1], -1) for p in parts], dim=-1)
    return np.concatenate(parts, axis=-1)


def constant(array, like):
    """A NumPy constant (a transform, a basis) in the library and on the device of ``like``."""
    if is_torch(like):
        import torch

        return torch.as_tensor(array, dtype=like.dtype, device=like.device)
    return array


def product(factors):
    return reduce(lambda a, b: a * b, factors)


def matvec(W, v):
    """W @ v over a batch: W (..., a, b), v (..., b) -> (..., a)."""
    return (W @ v[..., None])[..., 0]


def vecmat(v, W):
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
        return concat(self.pullback_of(u, self.layers(theta)))

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
        return concat(total)

    def flow_coordinates(self, X, theta):
        """Fewer coordinates that a flow from theta on data X moves in, exactly (an object with ``start``,
        ``velocity(xi, loss_of)``, ``outputs(xi)``, ``linearization(xi, keep)`` as ``structured.PointLinearization``
        and ``theta_of(xi)``), or None: the flow moves in theta itself."""
        return None

    def batched_flow_coordinates(self, X, thetas, lib):
        """The fewer coordinates of ``flow_coordinates`` for a batch of runs (rows of ``thetas``) in the array
        library ``lib`` (``training.array_library``), for the batched flow (``training.batched_flow``): an object
        with ``start`` (runs, p), ``velocity(y, loss_of)`` -> (velocity, log L, |g|^2), ``outputs(y)``, ``beta(y)``
        on rows of y, ``keep(index)``, the same for those runs only (the batch drops runs as they leave), and
        ``theta_of``, each run's NumPy map to theta (its ``flow_coordinates``' own); or None: the batch moves in
        theta itself."""
        return None

    def gram(self, X, theta, chunk: int = 16):
        """The per-point gradients' Gram matrix [<grad f(x_i), grad f(x_j)>] for the rows of X (one theta,
        NumPy): X J J^T X^T, by a pullback and a Jacobian-vector product per point (never the n x P matrix
        of gradients at once)."""
        columns = []
        for start in range(0, X.shape[0], chunk):
            grads = self.pullback(X[start : start + chunk], theta[None, :])
            columns.append(self.beta_jvp(theta[None, :], grads) @ X.T)
        return np.concatenate(columns, axis=0)


class EntryList(Operator):
    """Any network by its data tensor's entry list (``LinearTensorNetwork``): the reference, and the form of
    networks without a structured one (``generic``)."""

    def __init__(self, network):
        super().__init__(network)
        self.coord = network.coord
        self.index = network.index
        self.weight = network.weight

    def _as(self, a, like):
        if is_torch(like):
            import torch

            dtype = torch.int64 if a.dtype.kind == "i" else like.dtype
            return torch.as_tensor(a, dtype=dtype, device=like.device)
        return a

    def _scatter(self, values, positions, size):
        """out[..., positions[e]] += values[..., e]."""
        if is_torch(values):
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
        return self._scatter(weight * product(self._factors(layers)), self.coord, self.dim)

    def pullback_of(self, u, layers):
        factors = self._factors(layers)
        scaled = self._as(self.weight, u) * u[..., self._as(self.coord, u)]
        return [
            self._scatter(scaled * product(factors[:l] + factors[l + 1 :]), self.index[:, l], k)
            for l, k in enumerate(self.shape)
        ]


def operator(network) -> Operator:
    """The structured operator of a network's architecture, or its entry list where it has none."""
    return (network.architecture.operator or EntryList)(network)
