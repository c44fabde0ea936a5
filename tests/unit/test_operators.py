"""The structured operators (elementwise, FFT, matrix chain, eigenbasis) against the entry list they replace."""

import numpy as np
import pytest
import torch

from implicit_bias import architectures, operators

RNG = np.random.default_rng(7)


def _cases():
    for depth in (2, 3, 4):
        yield architectures.diag(5, depth=depth)
        yield architectures.conv(6, depth=depth)
        yield architectures.conv(6, depth=depth, filters=[3] + [6] * (depth - 2))
        yield architectures.fc(4, depth=depth, widths=[3, 2, 5][: depth - 1])
        yield architectures.transform(4, depth=depth, kind="random_orthogonal", seed=depth)
    yield architectures.matrix_sensing(3, depth=2, basis=np.linalg.qr(RNG.standard_normal((3, 3)))[0])
    yield architectures.matrix_sensing(2, depth=3)


CASES = list(_cases())
IDS = [f"{n.name}-L{n.depth}-{n.shape}" for n in CASES]


def test_every_architecture_with_an_operator_is_tested_against_its_entry_list():
    with_operator = {name for name, arch in architectures.ARCHITECTURES.items() if arch.operator is not None}
    assert {network.name for network in CASES} == with_operator


def _entry_list(network):
    return operators.EntryList(network)


@pytest.mark.parametrize("network", CASES, ids=IDS)
def test_beta_and_gradients_match_the_entry_list(network):
    structured = operators.operator(network)
    assert type(structured) is not operators.EntryList
    reference = _entry_list(network)
    theta = RNG.standard_normal((3, network.n_params))
    u = RNG.standard_normal((3, network.dim))
    direction = RNG.standard_normal((3, network.n_params))
    np.testing.assert_allclose(structured.beta(theta), reference.beta(theta), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(structured.pullback(u, theta), reference.pullback(u, theta), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        structured.beta_jvp(theta, direction), reference.beta_jvp(theta, direction), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        structured.hessian_vector(u, theta, direction),
        reference.hessian_vector(u, theta, direction),
        rtol=1e-11,
        atol=1e-11,
    )


@pytest.mark.parametrize("network", CASES[:5], ids=IDS[:5])
def test_entry_list_operator_is_the_networks_own_closed_form(network):
    """The batched entry-list operator against the network's one-run methods (two independent codes)."""
    theta, u = RNG.standard_normal(network.n_params), RNG.standard_normal(network.dim)
    reference = _entry_list(network)
    np.testing.assert_allclose(reference.beta(theta), network.beta(theta), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(reference.pullback(u, theta), network.gradient(u, theta), rtol=1e-13, atol=1e-14)
    direction = RNG.standard_normal(network.n_params)
    np.testing.assert_allclose(
        reference.beta_jvp(theta, direction), network.beta_jacobian(theta) @ direction, rtol=1e-12, atol=1e-13
    )
    np.testing.assert_allclose(
        reference.hessian_vector(u, theta, direction), network.hessian(u, theta) @ direction, rtol=1e-12, atol=1e-13
    )


@pytest.mark.parametrize("network", CASES, ids=IDS)
def test_torch_computes_the_same_operators(network):
    op = operators.operator(network)
    theta = RNG.standard_normal((2, network.n_params))
    u = RNG.standard_normal((2, network.dim))
    as_torch = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    np.testing.assert_allclose(op.beta(as_torch(theta)).numpy(), op.beta(theta), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(
        op.pullback(as_torch(u), as_torch(theta)).numpy(), op.pullback(u, theta), rtol=1e-10, atol=1e-13
    )


def test_large_networks_never_list_their_entries():
    net = architectures.conv(1000, depth=3)  # 10^9 entries
    assert net.entry_count == 10**9 and net.structured
    theta = RNG.standard_normal(net.n_params)
    beta = net.beta(theta)
    layers = net.unflatten(theta)
    # beta is the circular convolution of the filters: one coordinate by the definition, sum_{a+b+c = k mod d}
    k, a, b = 17, np.arange(1000)[:, None], np.arange(1000)[None, :]
    direct = np.sum(layers[0][a] * layers[1][b] * layers[2][(k - a - b) % 1000])
    assert np.isclose(beta[k], direct, rtol=1e-9)
    assert "_entries" not in vars(net)


def test_entry_count_matches_the_list():
    for network in CASES:
        assert network.entry_count >= network.coord.size
    assert (
        architectures.fc(4, depth=3, widths=[3, 2]).entry_count
        == 24
        == architectures.fc(4, depth=3, widths=[3, 2]).coord.size
    )


GRAM_CASES = CASES + [architectures.conv(7, depth=2), architectures.conv(5, depth=3)]  # odd d: no Nyquist bin


@pytest.mark.parametrize("network", GRAM_CASES, ids=IDS + ["conv-L2-odd", "conv-L3-odd"])
def test_gram_is_the_per_point_gradients_inner_products(network):
    op = operators.operator(network)
    theta, X = RNG.standard_normal(network.n_params), RNG.standard_normal((5, network.dim))
    grads = np.array([network.gradient(x, theta) for x in X])  # the entry list, one point at a time
    np.testing.assert_allclose(op.gram(X, theta), grads @ grads.T, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("network", CASES, ids=IDS)
def test_the_point_maps_take_rows_of_vectors(network):
    """``structured.PointLinearization`` says its maps take a leading axis of vectors (``stacked``: Radau's complex
    solves put the real and imaginary parts through at once): on two rows, each row's own map, for every operator and
    the entry list."""
    from implicit_bias.training.structured import PointLinearization

    theta, X = RNG.standard_normal(network.n_params), RNG.standard_normal((4, network.dim))
    for op in (operators.operator(network), _entry_list(network)):
        points = PointLinearization(op, theta, X)
        assert points.stacked
        a, x = RNG.standard_normal((2, 4)), RNG.standard_normal((2, network.n_params))
        np.testing.assert_allclose(points.pullback(a), [points.pullback(row) for row in a], rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(points.jvp(x), [points.jvp(row) for row in x], rtol=1e-13, atol=1e-13)
