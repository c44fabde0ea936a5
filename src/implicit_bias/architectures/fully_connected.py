"""Fully-connected linear networks (eq. 5/10): f(x) = x^T W_1 W_2 ... W_{L-1} w_L."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np

from ..operators import Operator, concat, matvec, vecmat
from .base import Architecture, check_depth, check_dim, make_network, sizes_label, sizes_setting


def fc(dim: int, *, depth: int, widths=None):
    """L-layer fully-connected network (eq. 5/10), v_l = vec(W_l) (column-major), v_L = w_L.

    ``widths`` are the hidden widths d_2..d_L (default: all d). The nonzero entries of the
    block-diagonal recursion of Appendix B are the paths (a_1, ..., a_L) through the layers:
    [M(x)]_{a_1 + d_1 a_2, ..., a_{L-1} + d_{L-1} a_L, a_L} = x_{a_1}.
    """
    check_dim(dim)
    check_depth(depth)
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

    return make_network(ARCHITECTURE, dim, shape, entries, {"depth": depth, "widths": widths})


class FullyConnected(Operator):
    """beta = W_1 W_2 ... W_{L-1} w_L, v_l = vec(W_l) column-major. The gradient of layer l is the outer
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
            ends.insert(0, matvec(W, ends[0]))
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
            left = vecmat(left, W)
        grads.append(left)
        return grads

    def flow_coordinates(self, X, theta):
        """The first layer moves only in the data's row space (``RowSpaceFlow``): n x d_2 coordinates for it
        instead of d x d_2, where there are fewer points than inputs; at depth 2 and wider than n + 1, w_2 and B's
        rows stay in an (n + 1)-dimensional subspace too (``TwoLayerRowSpaceFlow``: n (n + 1) + n + 1 coordinates)."""
        n = X.shape[0]
        if n >= X.shape[1]:
            return None
        if len(self.dims) == 2 and self.dims[1] > n + 1:
            return TwoLayerRowSpaceFlow(self, X, theta)
        return RowSpaceFlow(self, X, theta)

    def batched_flow_coordinates(self, X, thetas, lib):
        """At depth 2, each run's ``flow_coordinates`` stacked (``BatchedTwoLayerRowSpace``); None deeper (the batch
        moves in theta) or with as many points as inputs."""
        if len(self.dims) != 2 or X.shape[0] >= X.shape[1]:
            return None
        return BatchedTwoLayerRowSpace([self.flow_coordinates(X, theta) for theta in thetas], X, lib)

    def gram(self, X, theta, chunk=None):
        """<x_i^T P_l, x_j^T P_l> |s_(l+1)|^2 summed over layers: d f/d W_l = (P_l^T x) s_(l+1)^T."""
        layers = self.layers(theta)
        Ws = self._matrices(layers)
        ends = self._suffixes(Ws, layers[-1])
        return _chain_gram(X @ X.T, X @ Ws[0], Ws[1:], ends[1:])


def _chain_gram(XX, XW1, Ws, ends):
    """The per-point gradients' Gram matrix of a fully-connected network, from the points' own Gram matrix XX and
    their first layer's outputs XW1 = X W_1: layer l contributes <x_i^T W_1 .. W_(l-1), x_j^T ...> |W_(l+1) .. w_L|^2.
    Ws are W_2 .. W_(L-1), ends the chain's right ends [W_2 .. w_L, ..., w_L]."""
    total, left = XX * (ends[0] @ ends[0]), XW1
    for l, W in enumerate(Ws):
        total = total + (left @ left.T) * (ends[l + 1] @ ends[l + 1])
        left = left @ W
    return total + left @ left.T


class RowSpaceFlow:
    """The re-timed flow -g/|g|^2 of a fully-connected network in the coordinates it moves in.

    The first layer's gradient is X^T c s^T (c = d log L / d f, s = W_2 ... w_L), so from theta on
    W_1 = W_1(theta) + X^T B, exactly, with B (n x d_2) starting at 0 and dB/dtau = -c s^T / |g|^2, where
    |g|^2 keeps W_1's own norm, (c^T X X^T c) |s|^2. The outputs need only X W_1(theta) (n x d_2) and X X^T:
    at d = 1000, n = 100 a tenth of the parameters and of the work per velocity. The other layers are
    theta's own (their gradients start the chain from W_1^T X^T c)."""

    def __init__(self, op, X, theta):
        self.op, self.X, self.n, self.width = op, X, X.shape[0], op.dims[1]
        W1 = op._matrices(op.layers(theta))[0]
        self.W1T, self.XW1, self.XX = W1.T.copy(), X @ W1, X @ X.T  # W_1^T row-major is theta's column-major W_1
        self.start = np.concatenate([np.zeros(self.n * self.width), theta[op.offsets[1] :]])

    def _split(self, xi):
        B = xi[: self.n * self.width].reshape(self.n, self.width)
        rest = np.split(xi[self.n * self.width :], np.cumsum(self.op.shape[1:-1]))
        Ws = [v.reshape(self.op.dims[l + 2], self.op.dims[l + 1]).T for l, v in enumerate(rest[:-1])]
        return B, Ws, rest[-1]

    def outputs(self, xi):
        """f(x_i) for every point, at xi."""
        B, Ws, w = self._split(xi)
        s = self.op._suffixes(Ws, w)[0]
        return self.XW1 @ s + self.XX @ (B @ s)

    def velocity(self, xi, loss_of):
        B, Ws, w = self._split(xi)
        ends = self.op._suffixes(Ws, w)  # [s = W_2 .. w_L, ..., w_L]
        s = ends[0]
        _, c, _ = loss_of(self.XW1 @ s + self.XX @ (B @ s))
        if c is None:
            return np.full(xi.size, np.nan)
        XXc = self.XX @ c
        grads = self._rest_gradients(ends, Ws, self.XW1.T @ c + B.T @ XXc)  # from W_1^T X^T c
        g2 = (c @ XXc) * (s @ s) + sum(g @ g for g in grads)
        if not (g2 > 0.0 and np.isfinite(g2)):
            return np.full(xi.size, np.nan)
        return -np.concatenate([np.outer(c, s).ravel(), *grads]) / g2

    @staticmethod
    def _rest_gradients(ends, Ws, left):
        """The gradients of layers 2..L, from left = W_1^T X^T c."""
        grads = []
        for l, W in enumerate(Ws):
            grads.append((ends[l + 1][:, None] * left[None, :]).ravel())
            left = left @ W
        grads.append(left)
        return grads

    def linearization(self, xi, keep):
        """The outputs of the points ``keep`` selects, linearised at xi in these coordinates
        (``structured.PointLinearization``'s maps, theta's mapped back)."""
        return RowSpaceLinearization(self, xi, keep)

    def theta_of(self, xi):
        B = xi[: self.n * self.width].reshape(self.n, self.width)
        return self._theta(B, xi[B.size :])

    def _theta(self, B, rest):
        """theta with W_1 = W_1(0) + X^T B (B: n x d_2) and the other layers ``rest``."""
        theta = np.empty(self.W1T.size + rest.size)
        first = theta[: self.W1T.size].reshape(self.W1T.shape)
        np.matmul(B.T, self.X, out=first)  # (X^T B)^T in place: no transposed copy of a d x d_2 matrix
        first += self.W1T
        theta[self.W1T.size :] = rest
        return theta


class TwoLayerRowSpaceFlow(RowSpaceFlow):
    """A two-layer network wider than n + 1, in fewer coordinates still: w_2 and the rows of B stay in
    V = span(w_2(0), W_1(0)^T X^T), as dB/dtau is a multiple of c w_2^T and dw_2/dtau of
    W_1^T X^T c = W_1(0)^T X^T c + B^T X X^T c. With Q an orthonormal basis of V (d_2 x k, k <= n + 1),
    B = C Q^T and w_2 = Q a, and (W_1 Q, a) is a two-layer network of width k with the same outputs, the same
    gradients and the same |g|^2: ``RowSpaceFlow`` of that network, in C (n x k) and a. At d = d_2 = 1000,
    n = 100: 10^4 coordinates for theta's 10^6. (W_1 (I - Q Q^T) never moves: it is W_1(0)'s.)"""

    def __init__(self, op, X, theta):
        W1, w2 = op._matrices(op.layers(theta))[0], theta[op.offsets[1] :]
        # a basis of a space holding V (np.linalg.qr's Q spans the columns' span and more where they are dependent)
        self.Q = np.linalg.qr(np.column_stack([w2, W1.T @ X.T]))[0]
        self.op, self.X, self.n, self.width = op, X, X.shape[0], self.Q.shape[1]
        self.W1T, self.XW1, self.XX = W1.T.copy(), X @ W1 @ self.Q, X @ X.T  # W1T: theta's, for theta_of
        self.start = np.concatenate([np.zeros(self.n * self.width), self.Q.T @ w2])
        self._w2, self._a0 = w2.copy(), self.start[self.n * self.width :].copy()

    def theta_of(self, xi):
        C, a = xi[: self.n * self.width].reshape(self.n, self.width), xi[self.n * self.width :]
        return self._theta(C @ self.Q.T, self._w2 + self.Q @ (a - self._a0))  # w_2(0) = Q a_0: exact at the start


class BatchedTwoLayerRowSpace:
    """Two-layer flows of a batch of runs in their row-space coordinates, on NumPy or torch: each run's
    ``RowSpaceFlow`` (width at most n + 1) or ``TwoLayerRowSpaceFlow`` (wider: W_1 Q, a), which at depth 2 are both a
    network (W_1(0) + X^T B) s of width k with B (n x k) and s (k) in the coordinates; their matrices stacked.
    beta = W_1(0) s + X^T B s, where for the wider W_1(0) Q stands for W_1(0) (w_2 = Q a)."""

    def __init__(self, flows, X, lib):
        first = flows[0]
        self.n, self.k = first.n, first.width
        self.start = lib.as_array(np.stack([flow.start for flow in flows]))
        self.XW1 = lib.as_array(np.stack([flow.XW1 for flow in flows]))  # (runs, n, k)
        self.XX, self.X = lib.as_array(first.XX), lib.as_array(X)
        self.W1 = lib.as_array(np.stack([flow.W1T.T @ flow.Q if hasattr(flow, "Q") else flow.W1T.T for flow in flows]))
        self.theta_of = [flow.theta_of for flow in flows]

    def keep(self, index):
        """These coordinates for the runs ``index`` (an index array of the library's) only."""
        kept = copy.copy(self)
        kept.XW1, kept.W1 = self.XW1[index], self.W1[index]
        return kept

    def _split(self, y):
        return y[..., : self.n * self.k].reshape(*y.shape[:-1], self.n, self.k), y[..., self.n * self.k :]

    def outputs(self, y):
        B, s = self._split(y)
        return matvec(self.XW1, s) + matvec(B, s) @ self.XX

    def beta(self, y):
        B, s = self._split(y)
        return matvec(self.W1, s) + matvec(B, s) @ self.X

    def velocity(self, y, loss_of):
        """-g/|g|^2 in these coordinates, log L and |g|^2, as ``RowSpaceFlow.velocity``."""
        B, s = self._split(y)
        log_loss, c = loss_of(matvec(self.XW1, s) + matvec(B, s) @ self.XX)
        XXc = c @ self.XX
        left = vecmat(c, self.XW1) + vecmat(XXc, B)  # W_1^T X^T c in these coordinates: the second layer's gradient
        g2 = (c * XXc).sum(-1) * (s * s).sum(-1) + (left * left).sum(-1)
        outer = c[..., :, None] * s[..., None, :]
        return -concat([outer.reshape(*outer.shape[:-2], -1), left]) / g2[..., None], log_loss, g2


class RowSpaceLinearization:
    """The kept points' outputs linearised at xi, in ``RowSpaceFlow``'s coordinates, in O(k n + P_rest) a map:
    ``pullback(a)`` is the gradient of sum_i a_i f(x_i) mapped back (first layer: a s^T, in B), ``jvp(x)`` the
    outputs' derivative along x (first layer: X X^T dB s), ``gram`` the gradients' Gram matrix in theta's metric."""

    def __init__(self, flow, xi, keep):
        B, self.Ws, w = flow._split(xi)
        self.flow, self.keep = flow, keep
        self.ends = flow.op._suffixes(self.Ws, w)
        self.XW1 = (flow.XW1 + flow.XX @ B)[keep]  # X_k W_1
        self.XX = flow.XX[keep]
        self.gram = _chain_gram(self.XX[:, keep], self.XW1, self.Ws, self.ends)

    def pullback(self, a):
        c = np.zeros(self.flow.n)
        c[self.keep] = a
        grads = self.flow._rest_gradients(self.ends, self.Ws, self.XW1.T @ a)
        return np.concatenate([np.outer(c, self.ends[0]).ravel(), *grads])

    def jvp(self, x):
        dB, dWs, dw = self.flow._split(x)
        ds = dw  # the chain s = W_2 .. w_L differentiated from its right end
        for l in range(len(self.Ws) - 1, -1, -1):
            ds = dWs[l] @ self.ends[l + 1] + self.Ws[l] @ ds
        return self.XX @ (dB @ self.ends[0]) + self.XW1 @ ds


ARCHITECTURE = Architecture(
    name="fc",
    build=fc,
    description="fully-connected linear network, beta = W_1 ... W_(L-1) w_L (eq. 5)",
    settings={"widths": sizes_setting("fc: hidden widths d_2..d_L; default d.")},
    operator=FullyConnected,
    entry_count=lambda dim, shape, settings: math.prod([dim, *settings["widths"]]),
    label=lambda spec: sizes_label("w", spec.get("widths")),
)
