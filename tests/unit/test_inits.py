"""Initialisations: the paper's construction, and the premises of the theorems."""

from pathlib import Path

import numpy as np
import pytest

from implicit_bias.architectures import conv, diag, fc, matrix_sensing
from implicit_bias.decompositions import dft_matrix, single_point_svd
from implicit_bias.inits import INITS, initial_directions, initialize, premise

PAPER_NETWORKS = [fc(2, depth=2), diag(2, depth=2), conv(2, depth=2)]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("alpha", [0.01, 0.5, 1.0])
def test_paper_init_starts_every_network_at_alpha_squared_z(seed, alpha):
    """Section 6: beta(Theta(0)) = alpha^2 z̄_j, the same z̄_j for fc, diag and conv."""
    z = np.random.default_rng(seed).standard_normal(2)
    z /= np.linalg.norm(z)
    for net in PAPER_NETWORKS:
        theta = initialize("paper", net, [[1.0, 2.0]], alpha=alpha, seed=seed)
        np.testing.assert_allclose(net.beta(theta), alpha**2 * z, rtol=1e-10, atol=1e-15)


def test_paper_init_deeper_gives_alpha_to_the_L():
    net = diag(3, depth=3)
    v = initial_directions("paper", net, np.ones((1, 3)), seed=5)
    theta = initialize("paper", net, np.ones((1, 3)), alpha=0.3, seed=5)
    np.testing.assert_allclose(net.beta(theta), 0.3**3 * net.beta(net.flatten(v)), rtol=1e-12)
    assert np.linalg.norm(net.beta(net.flatten(v))) == pytest.approx(1.0)


def test_same_seed_same_init_and_different_seeds_differ():
    net = conv(4, depth=3, filters=[2, 3])
    a = initialize("random", net, np.ones((1, 4)), alpha=1.0, seed=7)
    b = initialize("random", net, np.ones((1, 4)), alpha=1.0, seed=7)
    c = initialize("random", net, np.ones((1, 4)), alpha=1.0, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize(
    "scheme,net,X",
    [
        ("theorem2", diag(3, depth=3), np.ones((2, 3))),
        ("theorem2", conv(4, depth=2), np.ones((2, 4))),
        ("theorem3", conv(5, depth=2, filters=[2]), np.array([[1.0, -2.0, 0.5, 3.0, 1.0]])),
        ("theorem3", fc(3, depth=2, widths=[2]), np.array([[1.0, -2.0, 0.5]])),
        ("theorem5", conv(5, depth=2, filters=[3]), np.array([[0.3, -1.2, 0.5, 2.0, -0.7]])),
        ("theorem4", diag(4, depth=3), np.ones((2, 4))),
        ("theorem4", conv(5, depth=3), np.array([[1.0, 2.0, 3.0, 3.0, 2.0]])),
        ("theorem4", matrix_sensing(3, depth=2), np.ones((1, 3))),
        ("corollary7", matrix_sensing(3, depth=3), np.ones((1, 3))),
        ("theorem6", fc(3, depth=4), np.ones((1, 3))),
    ],
    ids=lambda p: getattr(p, "describe", lambda: p if isinstance(p, str) else "")(),
)
@pytest.mark.parametrize("seed", [0, 1])
def test_each_theorem_init_meets_its_premise(scheme, net, X, seed):
    vectors = initial_directions(scheme, net, X, seed=seed)
    result = premise(scheme, net, vectors, X)
    assert result.holds, result.reason
    assert result.lam > 0


def test_theorem2_gap_is_the_papers_inequality():
    net = conv(3, depth=3)
    v = initial_directions("theorem2", net, np.ones((1, 3)), seed=0)
    F = dft_matrix(3)
    gaps = [np.abs(F @ v[l]) ** 2 - np.abs(F @ v[-1]) ** 2 for l in range(2)]  # Corollary 3's form
    assert premise("theorem2", net, v, np.ones((1, 3))).lam == pytest.approx(np.min(gaps), rel=1e-9)


def test_violated_premises_are_reported():
    net = diag(3, depth=2)
    X = np.ones((1, 3))
    v = initial_directions("theorem2", net, X, seed=0)
    swapped = [v[1], v[0]]  # the last layer is now the larger one
    assert not premise("theorem2", net, swapped, X).holds
    v4 = initial_directions("theorem4", net, X, seed=0)
    v4[-1] = v4[-1] + 1e-3
    assert premise("theorem4", net, v4, X).reason == "Theorem 4 needs v̄_L = 0"
    assert not premise("theorem2", fc(3, depth=2), initial_directions("random", fc(3, depth=2), X, seed=0), X).holds
    net6 = fc(2, depth=2)
    v6 = [np.eye(2).ravel(order="F") * 0.1, np.array([1.0, 0.0])]
    assert premise("theorem6", net6, v6, X[:, :2]).reason.startswith("condition (2) fails")


def test_single_point_gap_uses_the_svd_of_m_x():
    net = conv(4, depth=2, filters=[2])
    x = np.array([[1.0, -1.0, 2.0, 0.5]])
    v = initial_directions("theorem5", net, x, seed=3)
    U1, _, U2 = single_point_svd(net, x[0])
    assert premise("theorem5", net, v, x).lam == pytest.approx(np.min((U1.T @ v[0]) ** 2 - (U2.T @ v[1]) ** 2))


def test_corollary7_init_is_alpha_identity():
    d, depth, alpha = 3, 3, 0.2
    Q = np.linalg.qr(np.random.default_rng(0).normal(size=(d, d)))[0]
    net = matrix_sensing(d, depth=depth, basis=Q)
    Ws = [
        v.reshape(d, d, order="F")
        for v in net.unflatten(initialize("corollary7", net, np.ones((1, d)), alpha=alpha, seed=0))
    ]
    for W in Ws[:-1]:
        np.testing.assert_allclose(W, alpha * np.eye(d), atol=1e-15)
    np.testing.assert_array_equal(Ws[-1], 0)


def test_theorem4_on_conv_needs_even_data():
    with pytest.raises(ValueError, match=r"theorem4 init on full-length conv needs even data \(Corollary 6\)"):
        initial_directions("theorem4", conv(4, depth=2), np.array([[1.0, 2.0, 3.0, 4.0]]), seed=0)


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: initialize("xavier", diag(2, depth=2), np.ones((1, 2)), alpha=1, seed=0),
            "unknown init scheme 'xavier'; expected one of",
        ),
        (
            lambda: initialize("random", diag(2, depth=2), np.ones((1, 2)), alpha=0.0, seed=0),
            "alpha must be a positive finite number, got 0.0",
        ),
        (
            lambda: initialize("random", diag(2, depth=2), np.ones((1, 2)), alpha=float("nan"), seed=0),
            "alpha must be a positive finite number, got nan",
        ),
        (
            lambda: initialize("random", diag(2, depth=2), np.ones((1, 2)), alpha=1, seed=-1),
            "seed must be a non-negative integer, got -1",
        ),
        (
            lambda: initial_directions("theorem2", fc(2, depth=2), np.ones((1, 2)), seed=0),
            "theorem2 init needs the orthogonal decomposition of Assumption 1",
        ),
        (
            lambda: initial_directions("theorem5", diag(2, depth=3), np.ones((1, 2)), seed=0),
            "theorem5 init needs a 2-layer network and one data point (n = 1)",
        ),
        (
            lambda: initial_directions("theorem6", fc(2, depth=2, widths=[3]), np.ones((1, 2)), seed=0),
            "theorem6 init needs a fully-connected network with every width equal to d",
        ),
        (
            lambda: initial_directions("full_support", diag(2, depth=3), np.ones((1, 2)), seed=0),
            "full_support init needs the data's classification labels",
        ),
        (
            lambda: initial_directions("full_support", diag(2, depth=2), np.ones((1, 2)), seed=0, y=[1.0]),
            "full_support init needs a network of depth >= 3 and one data point (n = 1)",
        ),
        (
            lambda: initial_directions("full_support", conv(3, depth=3), np.ones((1, 3)), seed=0, y=[1.0]),
            "full_support init needs a real decomposition (diag, transform)",
        ),
        (
            lambda: initial_directions("full_support", diag(2, depth=3), np.array([[1.0, 0.0]]), seed=0, y=[1.0]),
            "full_support init needs every coordinate [S x]_j of the data point to be non-zero",
        ),
    ],
)
def test_bad_init_requests_are_rejected(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value).startswith(message)


def test_registry_has_the_config_names():
    assert set(INITS) == {
        "paper",
        "theorem2",
        "theorem3",
        "theorem4",
        "theorem5",
        "theorem6",
        "corollary7",
        "uniform",
        "random",
        "full_support",
    }
    import yaml

    schema = yaml.safe_load((Path(__file__).parents[2] / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert set(schema["$defs"]["experiment"]["properties"]["init"]["oneOf"][0]["enum"]) == set(INITS)


@pytest.mark.parametrize("depth", [2, 3])
def test_the_uniform_init_is_woodworths_uniform_scale_and_a_theorem4_init(depth):
    """Diagonal networks: v_1(0) = ... = v_{L-1}(0) = alpha 1 and v_L(0) = 0 (eta = 1), so Theorem 4's premise
    holds with min eta_j^2 = 1 and its Q has equal weights: Remark 4's ends are the unweighted min-l1/l2."""
    net = diag(6, depth=depth)
    X = np.random.default_rng(0).standard_normal((3, 6))
    vectors = initial_directions("uniform", net, X, seed=4)
    for v in vectors[:-1]:
        assert np.array_equal(np.abs(v), np.ones(6))
    assert np.array_equal(vectors[-1], np.zeros(6))
    result = premise("theorem4", net, vectors, X)
    assert result.holds and result.lam == pytest.approx(1.0)


def test_given_directions_start_the_run_and_the_premises_are_judged_on_them(tmp_path):
    """init: {vectors: ...} / {file: ...}: v(0) = alpha * the given vectors; Theorem 4's premise (v̄_1 = v̄_2 = eta,
    v̄_3 = 0 on a diagonal net, Woodworth et al.'s init) holds for them and fails once v̄_3 != 0."""
    import hashlib

    from implicit_bias.datasets import Dataset
    from implicit_bias.predictions import predict_experiment
    from implicit_bias.runs import train_run

    dataset = Dataset([[0.3, -1.2, 0.5, 2.0, -0.7]], [0.8], "regression", "point")
    ones, zeros = [1.0] * 5, [0.0] * 5
    spec = {
        "architectures": [{"name": "diag", "depth": 3}],
        "alphas": [0.5],
        "seeds": [0],
        "init": {"vectors": [ones, ones, zeros]},
        "claims": ["theorem4"],
    }
    solver = {"name": "flow"}
    (held,) = predict_experiment(dataset, spec, "e", solver).values()
    np.testing.assert_array_equal(held["theta_init"], 0.5 * np.array(ones + ones + zeros))
    assert held["applicable"].tolist() == [1]

    np.savez(tmp_path / "v.npz", v_1=ones, v_2=ones, v_3=[0.1] * 5)
    from_file = {**spec, "init": {"file": str(tmp_path / "v.npz")}}
    (broken,) = predict_experiment(dataset, from_file, "e", solver).values()
    assert broken["applicable"].tolist() == [0]
    assert "Theorem 4 needs v̄_L = 0" in str(broken["reason"][0])

    run = train_run(
        dataset, architecture=spec["architectures"][0], init=from_file["init"], alpha=0.5, seed=0, solver=solver
    )
    assert run.attrs["init_applied"] == "given"
    assert run.attrs["init_sha256"] == hashlib.sha256((tmp_path / "v.npz").read_bytes()).hexdigest()
    np.testing.assert_array_equal(run["theta_init_3"], 0.5 * np.array([0.1] * 5))


@pytest.mark.parametrize("r", [0.2, 0.5, 0.8])
def test_the_blow_up_time_is_the_closed_form_at_depths_3_and_4(r):
    """s* = int_r^inf (b^2 + c)^-(L-1)/2 db, c = 1 - r^2: (pi/2 - arctan(r/sqrt c)) / sqrt c at L = 3 and
    (1 - r) / c at L = 4; and the scalar flow itself blows up there."""
    from scipy.integrate import solve_ivp

    from implicit_bias.inits import blow_up_time

    c = 1 - r * r
    assert blow_up_time(r, 3) == pytest.approx((np.pi / 2 - np.arctan(r / np.sqrt(c))) / np.sqrt(c), rel=1e-12)
    assert blow_up_time(r, 4) == pytest.approx((1 - r) / c, rel=1e-12)
    s = blow_up_time(r, 3)
    flow = solve_ivp(lambda t, v: [v[0] * v[1], v[0] ** 2], (0, s), [1.0, r], rtol=1e-12, atol=1e-12)
    assert flow.status == -1 or flow.y[0, -1] > 1e5  # it blows up at s*, not before: the step size underflows
    before = solve_ivp(lambda t, v: [v[0] * v[1], v[0] ** 2], (0, 0.99 * s), [1.0, r], rtol=1e-12, atol=1e-12)
    assert before.status == 0 and 10 < before.y[0, -1] < 1e3


@pytest.mark.parametrize("depth", [3, 4])
@pytest.mark.parametrize("label", [1.0, -1.0])
def test_full_support_init_keeps_every_coordinate_in_the_limit(depth, label):
    """Every coordinate blows up at once, so the flow's limit is the full-support KKT point of the l_(2/L)
    max-margin problem, |beta_j| ∝ |y x_j|^(-L/(L-2)) with beta_j's sign y x_j's; Theorem 2's gap holds; from
    the theorem2 init the limit is the one coordinate that blew up first."""
    from implicit_bias.training.problem import Problem
    from implicit_bias.training.solvers import GradientFlow

    X, y = np.array([[0.8, -1.2, 1.6, -2.0]]), np.array([label])
    net = diag(4, depth=depth)
    vectors = initial_directions("full_support", net, X, seed=0, y=y)
    assert premise("theorem2", net, vectors, X).holds
    problem = Problem(net, X, y, "classification")
    s = y[0] * X[0]
    expected = np.sign(s) * np.abs(s) ** (-depth / (depth - 2))
    (run,) = GradientFlow(log_loss_target=-1e8).run(problem, initialize("full_support", net, X, alpha=0.5, seed=0, y=y))
    limit = run.beta[-1] / np.linalg.norm(run.beta[-1])
    assert np.linalg.norm(limit - expected / np.linalg.norm(expected)) < 1e-5
    (generic,) = GradientFlow(log_loss_target=-1e8).run(problem, initialize("theorem2", net, X, alpha=0.5, seed=0))
    shares = np.abs(generic.beta[-1]) / np.abs(generic.beta[-1]).max()
    assert np.sum(shares > 1e-2) == 1
