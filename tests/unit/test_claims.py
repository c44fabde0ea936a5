"""Training against theory: for every claim, the library's own runs pass its check on seeded random
instances, and a deliberately wrong prediction or a violated premise is caught."""

import dataclasses

import numpy as np
import pytest

from implicit_bias.datasets import Dataset, paper_classification, paper_regression
from implicit_bias.inits import initialize
from implicit_bias.networks import conv, diag, fc, matrix_sensing, transform
from implicit_bias.theory import CLAIM_IDS, RunView, check, check_runs, predict
from implicit_bias.training import GradientDescent, GradientFlow, Problem

# Directions converge slowly, so classification runs follow the flow far out. With several support
# vectors the flow is stiff (their weights balance on a scale of O(1) in log L) and explicit steps
# grow with |log L|: -1e5 there; a single support vector lets the flow go to -1e100 in milliseconds.
DEEP = GradientFlow(log_loss_target=-1e5)
FARTHEST = GradientFlow(log_loss_target=-1e100)


def views(dataset, net, init, alphas, seeds, solver=GradientFlow(), spec=None):
    problem = Problem(net, dataset.X, dataset.y, dataset.task)
    thetas = np.stack([initialize(init, net, dataset.X, alpha=a, seed=s) for a in alphas for s in seeds])
    results = solver.run(problem, thetas)
    settings = spec or solver.settings()
    pairs = [(a, s) for a in alphas for s in seeds]
    return [RunView.from_result(r, net, dataset, alpha=a, seed=s, init=init, solver=settings, experiment="test")
            for r, (a, s) in zip(results, pairs)]


def statuses(rows):
    return [(r.claim, r.architecture, r.alpha, r.seed, r.status, r.value, r.tolerance, r.reason) for r in rows]


def assert_all_pass(rows, claims):
    assert {r.claim for r in rows} >= set(claims), statuses(rows)
    bad = [r for r in rows if r.status != "pass"]
    assert not bad, statuses(bad)


def separable(seed, n, d):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return Dataset(X, np.sign(X @ rng.normal(size=d)), "classification")


def underdetermined(seed, n, d):
    rng = np.random.default_rng(seed)
    return Dataset(rng.normal(size=(n, d)), rng.normal(size=n), "regression")


def even_data(seed, n, d):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return Dataset((X + np.roll(X[:, ::-1], 1, axis=1)) / 2, rng.normal(size=n), "regression")


@pytest.mark.parametrize("depth", [2, 3])
def test_theorem1_and_corollary1_on_fc(depth):
    runs = views(separable(1, 4, 3), fc(3, depth=depth), "random", [0.5, 1.0], [0], solver=DEEP)
    assert_all_pass(check_runs(["theorem1", "corollary1"], runs), ["theorem1", "corollary1"])


@pytest.mark.parametrize("net,claims", [
    (diag(4, depth=2), ["theorem2", "corollary2", "theorem1"]),
    (diag(4, depth=3), ["theorem2", "corollary2", "theorem1"]),
    (conv(4, depth=2), ["theorem2", "corollary3"]),
    (conv(4, depth=3), ["theorem2", "corollary3"]),
], ids=lambda p: p.describe() if hasattr(p, "describe") else "")
def test_theorem2_family(net, claims):
    # An instance whose flow is in its asymptotic regime by log L = -1e5. On some random instances
    # the optimality gap still shrinks by only ~1 % per decade there (near-tied |[S X^T r]_j|); the
    # pipeline reports those as failing its trend rule.
    runs = views(separable(3, 3, net.dim), net, "theorem2", [0.3, 1.0], [0, 1], solver=DEEP)
    rows = [r for r in check_runs(claims, runs) if r.status != "not-applicable" or r.claim.startswith("corollary")]
    assert_all_pass([r for r in rows if r.status != "not-applicable"], claims)


@pytest.mark.parametrize("filters", [[1], [2], [3]])
def test_theorem3_and_corollary4_on_small_filters(filters):
    # M(x) has well-separated top singular values for this x (s_2/s_1 = 0.71, 0.64 for k_1 = 2, 3): the limit
    # direction is approached like tau^-(1 - s_2/s_1)/2, hopelessly slowly when s_2 ~ s_1.
    data = Dataset(np.array([[-0.1, 1.4, -0.7, 0.4, 0.9]]), np.array([-1.0]), "classification")
    runs = views(data, conv(5, depth=2, filters=filters), "theorem3", [0.5], [0, 1], solver=FARTHEST)
    claims = ["theorem3", "corollary4"] if filters[0] <= 2 else ["theorem3"]
    assert_all_pass(check_runs(claims, runs), claims)


@pytest.mark.parametrize("net,data,claims,init", [
    (diag(5, depth=2), underdetermined(3, 2, 5), ["theorem4", "corollary5"], "theorem4"),
    (diag(4, depth=4), underdetermined(4, 2, 4), ["theorem4", "corollary5"], "theorem4"),
    (conv(5, depth=3), even_data(5, 2, 5), ["theorem4", "corollary6"], "theorem4"),
    (matrix_sensing(3, depth=3), None, ["theorem4", "corollary7"], "corollary7"),
], ids=["diag2", "diag4", "conv3-even", "matrix-sensing"])
def test_theorem4_family(net, data, claims, init):
    if data is None:
        rng = np.random.default_rng(6)
        basis = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        net = matrix_sensing(3, depth=3, basis=basis)
        data = Dataset(rng.normal(size=(2, 3)), np.array([1.0, -0.5]), "regression", basis=basis)
    runs = views(data, net, init, [0.1, 1.0, 5.0], [0])
    assert_all_pass(check_runs(claims, runs), claims)


def test_remark1_evidence_rows_report_the_movement_of_xtr():
    runs = views(separable(2, 3, 4), diag(4, depth=2), "theorem2", [0.3, 1.0], [0, 1], solver=DEEP)
    rows = check_runs(["remark1_xtr_direction"], runs)
    assert len(rows) == 4 and all(r.status in ("pass", "fail") and np.isfinite(r.value) for r in rows)
    assert all(r.reason.startswith("evidence, not a test of the paper") for r in rows)


def test_remark4_limits_follow_alpha_on_a_deep_diagonal_net():
    runs = views(underdetermined(7, 2, 5), diag(5, depth=3), "theorem4", [0.01, 0.1, 1.0, 10.0], [0])
    rows = check_runs(["remark4"], runs)
    group = [r for r in rows if "distance" in r.metric]
    assert len(group) == 4
    assert_all_pass(rows, ["remark4"])


@pytest.mark.parametrize("net", [conv(5, depth=2, filters=[3]), fc(5, depth=2, widths=[3]), diag(5, depth=2)],
                         ids=lambda n: n.describe())
def test_theorem5_closed_form_limits(net):
    data = Dataset(np.array([[0.3, -1.2, 0.5, 2.0, -0.7]]), np.array([0.8]), "regression")
    runs = views(data, net, "theorem5", [0.05, 0.5, 2.0], [0, 1])
    assert_all_pass(check_runs(["theorem5"], runs), ["theorem5"])


def test_theorem6_convergence_and_bias_towards_min_norm():
    runs = views(underdetermined(8, 2, 3), fc(3, depth=3), "theorem6", [0.01, 0.1, 1.0], [0])
    rows = check_runs(["theorem6"], runs)
    assert any("6.2" in r.metric for r in rows)
    assert_all_pass(rows, ["theorem6"])


def test_remark3_sparse_in_the_chosen_transform():
    net = transform(5, depth=2, kind="dct")
    runs = views(separable(3, 3, 5), net, "theorem2", [0.5], [0, 1], solver=DEEP)  # see test_theorem2_family
    assert_all_pass(check_runs(["remark3"], runs), ["remark3"])
    runs = views(underdetermined(9, 2, 5), net, "theorem4", [0.1, 1.0], [0])
    assert_all_pass(check_runs(["remark3"], runs), ["remark3"])


def test_figure1_gd_protocol_reaches_the_theorem5_points():
    gd = GradientDescent(lr=1e-3, steps=5000)
    for net in (fc(2, depth=2), diag(2, depth=2), conv(2, depth=2)):
        runs = views(paper_regression(), net, "paper", [0.01, 0.5, 1.0], [0, 1, 2, 3], solver=gd)
        assert_all_pass(check_runs(["figure1"], runs), ["figure1"])


def test_figure3_gd_stops_short_and_the_flow_closes_the_gap():
    """The paper's own finding: at L ~ 1e-5 GD's directions depend on the init; the flow's do not."""
    gd = GradientDescent(lr=5e-4, steps=2_000_000, checkpoints=50)
    net = diag(2, depth=2)
    gd_rows = check_runs(["figure3"], views(paper_classification(), net, "paper", [0.5, 1.0], [0, 1, 2, 3], solver=gd))
    assert any(r.status == "fail" for r in gd_rows), statuses(gd_rows)
    flow_runs = views(paper_classification(), net, "paper", [0.01, 0.5, 1.0], [0, 1, 2, 3])
    assert_all_pass(check_runs(["figure3", "figure3_loss_gap"], flow_runs), ["figure3", "figure3_loss_gap"])


def test_lemma5_1_rows_come_from_check_runs():
    rows = check_runs(["lemma5_1"], [])
    assert {r.depth for r in rows} == {2, 3, 4, 5, 6}
    assert_all_pass(rows, ["lemma5_1"])


# --- what must not pass ----------------------------------------------------------------------------
def test_a_perturbed_prediction_fails():
    runs = views(underdetermined(3, 2, 5), diag(5, depth=2), "theorem4", [0.5], [0])
    prediction = predict("theorem4", runs[0])
    wrong = dataclasses.replace(prediction, beta=prediction.beta * (1 + 1e-4))
    (row,) = check("theorem4", runs[0], wrong)
    assert row.status == "fail" and row.value > row.tolerance
    runs = views(paper_classification(), diag(2, depth=2), "theorem2", [0.5], [0])
    prediction = predict("corollary2", runs[0])
    wrong = dataclasses.replace(prediction, beta=np.array([0.2, 0.4]))  # the l2 answer, not the l1 one
    (row,) = check("corollary2", runs[0], wrong)
    assert row.status == "fail" and row.value > 0.1  # |0.5 - 0.6| / 0.6: the trained beats the "optimum"


def test_a_violated_premise_is_not_applicable():
    runs = views(underdetermined(3, 2, 5), diag(5, depth=2), "random", [0.5], [0])
    (row,) = check("theorem4", runs[0], predict("theorem4", runs[0]))
    assert row.status == "not-applicable"
    assert row.reason.startswith("initialisation premise not met")
    (row,) = check("corollary1", runs[0], predict("corollary1", runs[0]))
    assert row.status == "not-applicable" and row.reason == "the claim is about classification, this experiment is regression"


def test_a_failed_run_fails_its_checks_with_the_runs_reason():
    data = underdetermined(3, 2, 5)
    runs = views(data, diag(5, depth=2), "theorem4", [0.5], [0], solver=GradientDescent(lr=50.0, steps=100))
    (row,) = check("theorem4", runs[0], predict("theorem4", runs[0]))
    assert row.status == "fail" and row.reason.startswith("the run diverged: the loss became non-finite")


def test_every_claim_of_the_catalog_has_a_prediction_or_a_check():
    claims_md = ["lemma5_1", "theorem1", "corollary1", "theorem2", "corollary2", "corollary3", "theorem3",
                 "corollary4", "theorem4", "remark4", "corollary5", "corollary6", "corollary7", "theorem5",
                 "theorem6", "remark1_xtr_direction", "remark3", "figure1", "figure3", "figure3_loss_gap"]
    assert sorted(CLAIM_IDS) == sorted(claims_md)


def test_a_failed_prediction_fails_its_check_with_the_solvers_reason(monkeypatch):
    from implicit_bias.theory import regression

    runs = views(underdetermined(3, 2, 5), diag(5, depth=2), "theorem4", [0.5], [0])

    def no_convergence(*args, **kwargs):
        raise ValueError("Theorem 4 dual Newton did not converge (residual 1.000e-03)")

    monkeypatch.setattr(regression, "theorem4_rho", no_convergence)
    prediction = predict("theorem4", runs[0])
    assert prediction.applicable and prediction.error
    (row,) = check("theorem4", runs[0], prediction)
    assert row.status == "fail"
    assert row.reason == "the prediction failed: Theorem 4 dual Newton did not converge (residual 1.000e-03)"
