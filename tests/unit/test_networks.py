"""The tensor form equals the paper's direct definitions; gradients equal autograd and finite differences."""

import itertools

import numpy as np
import pytest
import torch

from implicit_bias.architectures import build_network, conv, diag, fc, generic, matrix_sensing
from implicit_bias.decompositions import dft_matrix, is_even, orthogonal_decomposition, single_point_svd


# --- direct definitions (eqs. 3-5, 10-13), written independently of the entry lists -----------
def direct_diag(x, ws):
    h = x
    for w in ws[:-1]:
        h = h * w
    return h @ ws[-1]


def circular(a, b):
    """[a * b]_i = sum_j a_{(i + j - 1) mod d} b_j (Section 3), 0-based."""
    d = len(a)
    return np.array([sum(a[(i + j) % d] * b[j] for j in range(len(b))) for i in range(d)])


def direct_conv(x, ws):
    h = x
    for w in ws[:-1]:
        h = circular(h, w)
    return h @ ws[-1]


def direct_fc(x, Ws, w):
    h = x
    for W in Ws:
        h = h @ W
    return h @ w


def appendix_b_tensor(x, dims):
    """The block-diagonal recursion of Appendix B, literally."""
    T = np.asarray(x, dtype=float)
    for l in range(1, len(dims)):
        prev, width = dims[l - 1], dims[l]
        new = np.zeros(T.shape[:-1] + (prev * width, width))
        for j in range(width):
            new[..., prev * j : prev * (j + 1), j] = T
        T = new
    return T


@pytest.mark.parametrize("d,depth", [(1, 2), (3, 2), (4, 3), (2, 5)])
def test_diag_equals_eq3(rng, d, depth):
    net = diag(d, depth=depth)
    ws = [rng.normal(size=d) for _ in range(depth)]
    X = rng.normal(size=(4, d))
    np.testing.assert_allclose(net.output(X, ws), [direct_diag(x, ws) for x in X], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("d,filters", [(2, [2]), (5, [3]), (5, [1]), (4, [2, 3]), (3, [3, 3, 3]), (6, [2, 6, 4])])
def test_conv_equals_eq4(rng, d, filters):
    net = conv(d, depth=len(filters) + 1, filters=filters)
    ws = [rng.normal(size=k) for k in [*filters, d]]
    X = rng.normal(size=(3, d))
    np.testing.assert_allclose(net.output(X, ws), [direct_conv(x, ws) for x in X], rtol=1e-12, atol=1e-13)


def test_conv_data_tensor_entries(rng):
    d, filters = 5, [3, 4]
    net = conv(d, depth=3, filters=filters)
    x = rng.normal(size=d)
    M = net.data_tensor(x)
    for j in itertools.product(range(3), range(4), range(5)):  # [M]_{j1..jL} = x_{(sum j_l - L + 1) mod d}
        assert M[j] == x[sum(j) % d]


@pytest.mark.parametrize("d,widths", [(2, [2]), (3, [4]), (3, [2, 5]), (2, [3, 1, 2])])
def test_fc_equals_eq10_and_appendix_b(rng, d, widths):
    depth = len(widths) + 1
    net = fc(d, depth=depth, widths=widths)
    dims = [d, *widths]
    Ws = [rng.normal(size=(dims[l], dims[l + 1])) for l in range(depth - 1)]
    w = rng.normal(size=dims[-1])
    theta = [W.ravel(order="F") for W in Ws] + [w]  # v_l = vec(W_l)
    X = rng.normal(size=(3, d))
    np.testing.assert_allclose(net.output(X, theta), [direct_fc(x, Ws, w) for x in X], rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(net.data_tensor(X[0]), appendix_b_tensor(X[0], dims))


@pytest.mark.parametrize("d,depth", [(2, 2), (3, 3)])
def test_matrix_sensing_equals_eq13(rng, d, depth):
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    net = matrix_sensing(d, depth=depth, basis=Q)
    Ws = [rng.normal(size=(d, d)) for _ in range(depth)]
    x = rng.normal(size=d)  # eigenvalues of the sensor A = Q diag(x) Q^T
    A = Q @ np.diag(x) @ Q.T
    product = np.linalg.multi_dot(Ws)
    theta = [W.ravel(order="F") for W in Ws]
    assert net.output(x[None], theta)[0] == pytest.approx(np.sum(A * product), rel=1e-12)


def test_generic_from_basis_tensors(rng):
    E = rng.normal(size=(3, 2, 4, 2))
    net = generic(E)
    vs = [rng.normal(size=k) for k in (2, 4, 2)]
    x = rng.normal(size=3)
    expected = np.einsum("k,kabc,a,b,c->", x, E, *vs)
    assert net.output(x[None], vs)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "net",
    [diag(3, depth=3), conv(4, depth=3, filters=[2, 3]), fc(3, depth=3, widths=[2, 4]), matrix_sensing(2, depth=3)],
    ids=lambda n: n.describe(),
)
def test_data_tensor_and_beta_are_linear_in_x(rng, net):
    x1, x2 = rng.normal(size=net.dim), rng.normal(size=net.dim)
    np.testing.assert_allclose(
        net.data_tensor(2 * x1 - 3 * x2), 2 * net.data_tensor(x1) - 3 * net.data_tensor(x2), atol=1e-13
    )
    theta = rng.normal(size=net.n_params)
    # f(x) = M(x) o (v_1..v_L) by dense contraction equals x^T beta
    M = net.data_tensor(x1)
    for v in reversed(net.unflatten(theta)):
        M = M @ v
    assert float(M) == pytest.approx(x1 @ net.beta(theta), rel=1e-12)


@pytest.mark.parametrize(
    "net",
    [diag(3, depth=2), conv(4, depth=3, filters=[2, 3]), fc(3, depth=3, widths=[2, 4]), matrix_sensing(2, depth=2)],
    ids=lambda n: n.describe(),
)
def test_gradient_equals_autograd_and_finite_differences(rng, net):
    theta = rng.normal(size=net.n_params)
    u = rng.normal(size=net.dim)
    grad = net.gradient(u, theta)
    # autograd through the dense data tensor, an independent computation
    M = torch.tensor(net.data_tensor(u))
    t = torch.tensor(theta, requires_grad=True)
    out = M
    for v in reversed(torch.split(t, list(net.shape))):
        out = out @ v
    out.backward()
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12, atol=1e-13)
    h = 1e-6
    fd = [(u @ net.beta(theta + h * e) - u @ net.beta(theta - h * e)) / (2 * h) for e in np.eye(net.n_params)]
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-8)


# --- Assumption 1 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("d,depth", [(2, 2), (3, 2), (4, 3), (5, 4)])
def test_full_length_conv_decomposition_rebuilds_data_tensor(rng, d, depth):
    net = conv(d, depth=depth)
    dec = orthogonal_decomposition(net)
    F = dft_matrix(d)
    np.testing.assert_allclose(dec.S, d ** ((depth - 1) / 2) * F)
    for U in dec.U:
        np.testing.assert_allclose(U.conj().T @ U, np.eye(d), atol=1e-13)
    x = rng.normal(size=d)
    np.testing.assert_allclose(dec.data_tensor(x), net.data_tensor(x), atol=1e-12)


@pytest.mark.parametrize("d,depth", [(3, 2), (4, 3)])
def test_diag_decomposition_is_identity(rng, d, depth):
    dec = orthogonal_decomposition(diag(d, depth=depth))
    x = rng.normal(size=d)
    np.testing.assert_array_equal(dec.data_tensor(x), diag(d, depth=depth).data_tensor(x))
    assert dec.is_real


def even(v):
    return (v + np.roll(v[::-1], 1)) / 2


@pytest.mark.parametrize("d,depth", [(4, 2), (5, 3), (6, 2)])
def test_even_conv_real_decomposition(rng, d, depth):
    """Corollary 6: for even x and even w_l, f = sum_j [S x]_j prod_l [Re(F) w_l]_j with real S."""
    net = conv(d, depth=depth)
    dec = orthogonal_decomposition(net, even=True)
    assert dec.is_real
    x = even(rng.normal(size=d))
    ws = [even(rng.normal(size=d)) for _ in range(depth)]
    assert is_even(x) and not is_even(rng.normal(size=d))
    etas = dec.coordinates(ws)
    np.testing.assert_allclose(etas[0], (dft_matrix(d) @ ws[0]).real, atol=1e-13)
    assert net.output(x[None], ws)[0] == pytest.approx(np.sum(dec.S @ x * np.prod(etas, axis=0)), rel=1e-12)


def test_matrix_sensing_decomposition_on_diagonal_parameters(rng):
    d, depth = 3, 3
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    net = matrix_sensing(d, depth=depth, basis=Q)
    dec = orthogonal_decomposition(net)
    etas = [rng.normal(size=d) for _ in range(depth)]
    theta = [(Q @ np.diag(e) @ Q.T).ravel(order="F") for e in etas]
    np.testing.assert_allclose(dec.coordinates(theta), etas, atol=1e-13)
    x = rng.normal(size=d)
    assert net.output(x[None], theta)[0] == pytest.approx(np.sum(x * np.prod(etas, axis=0)), rel=1e-12)


def test_single_point_svd_rebuilds_matrix(rng):
    net = conv(5, depth=2, filters=[2])
    x = rng.normal(size=5)
    U1, s, U2 = single_point_svd(net, x)
    np.testing.assert_allclose(U1 @ np.diag(s) @ U2.T, net.data_tensor(x), atol=1e-13)
    assert orthogonal_decomposition(net) is None and orthogonal_decomposition(fc(2, depth=2)) is None


# --- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: diag(3, depth=1), "depth must be an integer >= 2 (the paper's L >= 2), got 1"),
        (lambda: conv(3, depth=2, filters=[4]), "conv: each filter size must satisfy 1 <= k_l <= d = 3; got [4]"),
        (
            lambda: conv(3, depth=3, filters=[2]),
            "conv: filters must list k_1..k_(L-1), 2 value(s) for depth 3; got [2]",
        ),
        (
            lambda: fc(3, depth=3, widths=[2]),
            "fc: widths must list the hidden widths d_2..d_L, 2 value(s) for depth 3; got [2]",
        ),
        (lambda: build_network({"name": "resnet"}, 3), "unknown architecture 'resnet'; expected one of"),
        (
            lambda: build_network({"name": "conv", "depth": 2, "filter": [2]}, 3),
            "conv: unknown setting(s) ['filter']; known: ['depth', 'filters']",
        ),
    ],
)
def test_bad_architectures_are_rejected(build, message):
    with pytest.raises(ValueError) as error:
        build()
    assert str(error.value).startswith(message)
