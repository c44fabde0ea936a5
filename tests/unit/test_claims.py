"""Training against theory: for every claim, the library's own runs pass its check and reject its
controls on seeded random instances; a deliberately wrong prediction, an under-trained run, a control
that coincides with the prediction and a violated premise are caught."""

import dataclasses

import numpy as np
import pytest

from implicit_bias.architectures import conv, diag, fc, matrix_sensing, transform
from implicit_bias.datasets import Dataset, paper_classification, paper_regression, random_dataset
from implicit_bias.deciding import train_until_decided, undecided_claims
from implicit_bias.inits import initialize
from implicit_bias.theory import CLAIM_IDS, RunView, check, check_runs, predict
from implicit_bias.theory import classification as mm
from implicit_bias.training import GradientDescent, GradientFlow, Problem

# Directions converge slowly, so classification runs follow the flow far out. With several support
# vectors the flow is stiff (their weights balance on a scale of O(1) in log L) and explicit steps
# grow with |log L|: -1e5 there; a single support vector lets the flow go to -1e100 in milliseconds.
DEEP = GradientFlow(log_loss_target=-1e5)
SWEEP = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]  # Theorem 6.2: alphas a decade apart in pairs
DECIDING = GradientFlow(log_loss_target=-1e5, log_loss_cap=-1e8)  # with views(..., decide=claims)
FARTHEST = GradientFlow(log_loss_target=-1e100)


def views(dataset, net, init, alphas, seeds, solver=None, spec=None, decide=()):
    """Train every (alpha, seed); with ``decide`` (claims) and a solver with log_loss_cap, each run
    continues while a check of those claims is inconclusive, as the workflow's training does."""
    solver = solver or GradientFlow()
    problem = Problem(net, dataset.X, dataset.y, dataset.task)
    labels = dataset.y if dataset.task == "classification" else None
    thetas = np.stack([initialize(init, net, dataset.X, alpha=a, seed=s, y=labels) for a in alphas for s in seeds])
    results = solver.run(problem, thetas)
    settings = spec or solver.settings()
    pairs = [(a, s) for a in alphas for s in seeds]
    if decide:
        results = [
            train_until_decided(
                solver,
                problem,
                r,
                lambda current, a=a, s=s: undecided_claims(
                    current, net, dataset, claims=decide, alpha=a, seed=s, init=init, solver=settings, experiment="test"
                ),
            )[0]
            for r, (a, s) in zip(results, pairs)
        ]
    return [
        RunView.from_result(r, net, dataset, alpha=a, seed=s, init=init, solver=settings, experiment="test")
        for r, (a, s) in zip(results, pairs)
    ]


def statuses(rows):
    return [
        (r.claim, r.alternative, r.architecture, r.alpha, r.seed, r.status, r.value, r.tolerance, r.reason)
        for r in rows
    ]


def assert_all_pass(rows, claims):
    """Every check passes and every control is rejected (and each claim has at least one control)."""
    assert {r.claim for r in rows} >= set(claims), statuses(rows)
    bad = [r for r in rows if r.status != ("pass" if r.role == "claim" else "rejected")]
    assert not bad, statuses(bad)
    assert {r.claim for r in rows if r.role == "control"} >= set(claims), "a claim without controls"


def separable(seed, n, d):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return Dataset(X, np.sign(X @ rng.normal(size=d)), "classification")


def full_support_point():
    """The default config's instance of Corollary 2's exponent (init full_support): one point, every
    coordinate kept by the limit."""
    return Dataset(np.array([[0.8, -1.2, 1.6, -2.0]]), np.array([-1.0]), "classification")


def underdetermined(seed, n, d):
    rng = np.random.default_rng(seed)
    return Dataset(rng.normal(size=(n, d)), rng.normal(size=n), "regression")


def even_data(seed, n, d):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return Dataset((X + np.roll(X[:, ::-1], 1, axis=1)) / 2, rng.normal(size=n), "regression")


@pytest.mark.parametrize("depth", [2, 3])
def test_theorem1_and_corollary1_on_fc(depth):
    # the config's instance: its l2, l1 and DFT-l1 max-margin directions are 7.7 to 31 deg apart
    data = random_dataset("classification", n=4, d=3, seed=1)
    claims = ["theorem1", "corollary1"]
    runs = views(data, fc(3, depth=depth), "random", [0.5, 1.0], [0], solver=DECIDING, decide=claims)
    assert_all_pass(check_runs(claims, runs), claims)


@pytest.mark.parametrize(
    "net,claims",
    [
        (diag(4, depth=2), ["theorem2", "corollary2"]),
        (diag(4, depth=3), ["theorem2", "corollary2"]),
        (conv(4, depth=2), ["theorem2", "corollary3"]),
        (conv(4, depth=3), ["theorem2", "corollary3"]),
    ],
    ids=lambda p: p.describe() if hasattr(p, "describe") else "",
)
def test_theorem2_family(net, claims):
    runs = views(separable(3, 3, net.dim), net, "theorem2", [0.3, 1.0], [0, 1], solver=DECIDING, decide=claims)
    assert_all_pass(check_runs(claims, runs), claims)


def test_other_exponents_are_controls_where_the_limit_has_more_support_than_active_constraints():
    """Depth 3: on the full-support limit (one point, init full_support) exponents 1, 2 and 2/4 are controls and
    are rejected; on a limit with no more coordinates than support vectors every exponent is stationary, and
    the row says why none is a control there."""
    claims = ["theorem2", "corollary2"]
    wide = views(full_support_point(), diag(4, depth=3), "full_support", [0.3, 1.0], [0], solver=DECIDING)
    rows = check_runs(claims, wide)
    assert_all_pass(rows, claims)
    controls = {r.alternative for r in rows if r.role == "control" and r.claim == "corollary2"}
    assert {"exponent 1 (l1)", "exponent 2/4", "l2 max-margin"} <= controls
    narrow = views(separable(3, 3, 4), diag(4, depth=3), "theorem2", [1.0], [0], solver=DECIDING, decide=claims)
    rows = [r for r in check_runs(claims, narrow) if r.claim == "corollary2"]
    assert all(r.alternative not in ("exponent 1 (l1)", "exponent 2/4") for r in rows)
    assert "is no larger than its active constraints" in next(r.reason for r in rows if r.role == "claim")
    # a conv limit with three DFT coordinates (a conjugate pair, 1.48, and a real one, 1.37) against two active
    # constraints: the exponents reweight it by 3 % at most, and their residuals (0.009, 0.004) are within KKT's
    # tolerance: no control there either
    claims = ["theorem2", "corollary3"]
    alike = views(separable(3, 3, 4), conv(4, depth=3), "theorem2", [0.3], [0], solver=DECIDING, decide=claims)
    rows = check_runs(claims, alike)
    assert_all_pass(rows, claims)
    assert all(r.alternative not in ("exponent 1 (l1)", "exponent 2/4") for r in rows)
    reason = next(r.reason for r in rows if r.role == "claim")
    factor = float(reason.split("the limit's support moduli differ by a factor ")[1].split(" ")[0])
    # the factor is the end point's own: |F z| on its non-zero DFT coordinates, computed here from beta directly
    run = alike[0]
    z = run.beta[run.final] / np.min(run.y * (run.X @ run.beta[run.final]))
    moduli = np.abs(np.fft.fft(z))
    kept = moduli[moduli > 1e-2 * moduli.max()]
    assert kept.size == 3 and factor == pytest.approx(kept.max() / kept.min(), rel=5e-3)
    assert factor < 1.1 and "too little to tell the exponents apart" in reason


@pytest.mark.parametrize("filters", [[1], [2], [3]])
def test_theorem3_and_corollary4_on_small_filters(filters):
    # M(x) has well-separated top singular values for this x (s_2/s_1 = 0.71, 0.64 for k_1 = 2, 3): the limit
    # direction is approached like tau^-(1 - s_2/s_1)/2, hopelessly slowly when s_2 ~ s_1.
    data = Dataset(np.array([[-0.1, 1.4, -0.7, 0.4, 0.9]]), np.array([-1.0]), "classification")
    runs = views(data, conv(5, depth=2, filters=filters), "theorem3", [0.5], [0, 1], solver=FARTHEST)
    claims = ["theorem3", "corollary4"] if filters[0] <= 2 else ["theorem3"]
    assert_all_pass(check_runs(claims, runs), claims)


@pytest.mark.parametrize(
    "net,data,claims,init",
    [
        (diag(5, depth=2), underdetermined(3, 2, 5), ["theorem4", "corollary5"], "theorem4"),
        (diag(4, depth=4), underdetermined(4, 2, 4), ["theorem4", "corollary5"], "theorem4"),
        (conv(5, depth=3), even_data(5, 2, 5), ["theorem4", "corollary6"], "theorem4"),
        (matrix_sensing(3, depth=3), None, ["theorem4", "corollary7"], "corollary7"),
    ],
    ids=["diag2", "diag4", "conv3-even", "matrix-sensing"],
)
def test_theorem4_family(net, data, claims, init):
    if data is None:
        rng = np.random.default_rng(6)
        basis = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        net = matrix_sensing(3, depth=3, basis=basis)
        data = Dataset(rng.normal(size=(2, 3)), np.array([1.0, -0.5]), "regression", basis=basis)
    runs = views(data, net, init, [0.1, 1.0], [0])
    assert_all_pass(check_runs(claims, runs), claims)


def test_a_limit_that_coincides_with_a_control_is_inconclusive():
    """At alpha = 5 a depth-4 diagonal net's limit is its alpha -> inf limit (weighted l2) to 1e-8:
    the run cannot tell Theorem 4 from Remark 4's end, so it does not verify Theorem 4."""
    runs = views(underdetermined(4, 2, 4), diag(4, depth=4), "theorem4", [5.0], [0])
    row, *controls = check("theorem4", runs[0], predict("theorem4", runs[0]))
    assert row.status == "inconclusive" and row.value < 1e-10
    assert {c.alternative for c in controls if c.status == "not-rejected"} >= {"weighted l2 (alpha -> inf)"}
    assert "were not rejected" in row.reason


def test_remark1_rows_are_observations_of_xtr():
    runs = views(separable(2, 3, 4), diag(4, depth=2), "theorem2", [0.3, 1.0], [0, 1], solver=DEEP)
    rows = check_runs(["remark1_xtr_direction"], runs)
    assert len(rows) == 4 and all(r.status == "observation" and np.isfinite(r.value) for r in rows)
    assert all(r.reason.startswith("the paper leaves open whether X^T r converges") for r in rows)


def test_remark4_limits_follow_alpha_on_a_deep_diagonal_net():
    runs = views(underdetermined(7, 2, 5), diag(5, depth=3), "theorem4", [0.01, 0.1, 1.0], [0])
    rows = check_runs(["remark4"], runs)
    ends = [r for r in rows if r.metric.startswith("alpha ->") and r.role == "claim"]
    assert len(ends) == 2 and all(r.value < 1e-6 for r in ends)
    assert_all_pass(rows, ["remark4"])


@pytest.mark.parametrize(
    "net", [conv(5, depth=2, filters=[3]), fc(5, depth=2, widths=[3]), diag(5, depth=2)], ids=lambda n: n.describe()
)
def test_theorem5_closed_form_limits(net):
    data = Dataset(np.array([[0.3, -1.2, 0.5, 2.0, -0.7]]), np.array([0.8]), "regression")
    runs = views(data, net, "theorem5", [0.05, 0.5, 2.0], [0, 1])
    assert_all_pass(check_runs(["theorem5"], runs), ["theorem5"])


def test_theorem6_convergence_and_bias_towards_min_norm():
    runs = views(underdetermined(8, 2, 3), fc(3, depth=3), "theorem6", SWEEP, [0])
    rows = check_runs(["theorem6"], runs)
    (bias,) = [r for r in rows if "6.2" in r.metric and r.role == "claim"]
    assert 0.8 < bias.rate < 1.2  # ||beta_alpha - beta_l2|| ~ alpha
    assert_all_pass(rows, ["theorem6"])


def test_remark3_sparse_in_the_chosen_transform():
    net = transform(5, depth=2, kind="dct")
    runs = views(separable(3, 3, 5), net, "theorem2", [0.5], [0, 1], solver=DECIDING, decide=["remark3"])
    assert_all_pass(check_runs(["remark3"], runs), ["remark3"])
    runs = views(underdetermined(9, 2, 5), net, "theorem4", [0.1, 1.0], [0])
    assert_all_pass(check_runs(["remark3"], runs), ["remark3"])


def test_figure1_gd_protocol_reaches_the_theorem5_points():
    gd = GradientDescent(lr=1e-3, steps=5000)
    for net in (fc(2, depth=2), diag(2, depth=2), conv(2, depth=2)):
        runs = views(paper_regression(), net, "paper", [0.01, 0.5, 1.0], [0, 1, 2, 3], solver=gd)
        assert_all_pass(check_runs(["figure1"], runs), ["figure1"])


def test_figure3_gd_stops_short_and_the_flow_closes_the_gap():
    """The paper's own finding: at L ~ 1e-5 GD's directions depend on the init (an observation);
    the flow's reach their network's max-margin direction and the spread vanishes (a claim)."""
    gd = GradientDescent(lr=5e-4, steps=2_000_000, checkpoints=50)
    net = diag(2, depth=2)
    gd_rows = check_runs(["figure3"], views(paper_classification(), net, "paper", [0.5, 1.0], [0, 1, 2, 3], solver=gd))
    assert {r.status for r in gd_rows} == {"observation"}
    (spread,) = [r for r in gd_rows if r.seed == -1]
    assert spread.value > 1 and "we do too" in spread.reason
    flow_runs = views(paper_classification(), net, "paper", [0.01, 0.5, 1.0], [0, 1, 2, 3])
    assert_all_pass(check_runs(["figure3_loss_gap"], flow_runs), ["figure3_loss_gap"])


def test_lemma5_1_rows_come_from_check_runs():
    rows = check_runs(["lemma5_1"], [])
    assert {r.depth for r in rows} == {2, 3, 4, 5, 6}
    assert_all_pass(rows, ["lemma5_1"])


# --- what must not pass ----------------------------------------------------------------------------
def claim_row(rows):
    (row,) = [r for r in rows if r.role == "claim"]
    return row


def test_a_perturbed_prediction_fails():
    runs = views(underdetermined(3, 2, 5), diag(5, depth=2), "theorem4", [0.5], [0])
    prediction = predict("theorem4", runs[0])
    wrong = dataclasses.replace(prediction, beta=prediction.beta * (1 + 1e-4))
    row = claim_row(check("theorem4", runs[0], wrong))
    assert row.status == "fail" and row.value > row.tolerance


def test_swapped_max_margin_predictions_fail_and_never_pass():
    """l1 and l2 max-margin swapped: fc trained to its limit is judged against the l1 direction,
    diag against the l2 one; both must fail (not merely be inconclusive)."""
    from implicit_bias.theory import classification as mm

    data = random_dataset("classification", n=4, d=3, seed=1)
    (fc_run,) = views(data, fc(3, depth=2), "random", [1.0], [0], solver=DEEP)
    wrong = dataclasses.replace(
        predict("corollary1", fc_run), beta=mm.transformed_l1_max_margin(data.X, data.y, np.eye(3))
    )
    assert claim_row(check("corollary1", fc_run, wrong)).status == "fail"
    (diag_run,) = views(paper_classification(), diag(2, depth=2), "theorem2", [0.5], [0], solver=DEEP)
    wrong = dataclasses.replace(predict("corollary2", diag_run), beta=np.array([0.2, 0.4]))  # the l2 answer
    row = claim_row(check("corollary2", diag_run, wrong))
    assert row.status == "fail" and row.value > 0.1  # |0.5 - 0.6| / 0.6: the trained beats the "optimum"


@pytest.mark.parametrize(
    "claim,net,init",
    [
        ("corollary1", fc(3, depth=2), "random"),
        ("theorem1", fc(3, depth=2), "random"),
        ("corollary2", diag(3, depth=2), "theorem2"),
    ],
)
def test_an_under_trained_run_is_never_a_pass(claim, net, init):
    data = random_dataset("classification", n=4, d=3, seed=1)
    (run,) = views(data, net, init, [1.0], [0], solver=GradientFlow(log_loss_target=-1e1))
    row = claim_row(check(claim, run, predict(claim, run)))
    assert row.status == "inconclusive", statuses([row])


def test_an_inconclusive_run_continues_until_decided():
    data = separable(3, 3, 4)
    net = conv(4, depth=2)
    (shallow,) = views(data, net, "theorem2", [1.0], [1], solver=DEEP)
    assert claim_row(check("theorem2", shallow, predict("theorem2", shallow))).status == "inconclusive"
    (deep,) = views(data, net, "theorem2", [1.0], [1], solver=DECIDING, decide=["theorem2"])
    assert deep.log_loss[deep.final] < shallow.log_loss[shallow.final]
    assert claim_row(check("theorem2", deep, predict("theorem2", deep))).status == "pass"


def test_a_control_that_coincides_makes_the_check_inconclusive():
    """On this instance the l1, DFT-l1 and l2 max-margin directions agree to 1e-4 deg: an fc run
    there cannot show Corollary 1 rather than its wrong alternatives."""
    (run,) = views(separable(1, 4, 3), fc(3, depth=2), "random", [1.0], [0], solver=DEEP)
    row, *controls = check("corollary1", run, predict("corollary1", run))
    assert row.status == "inconclusive" and all(c.status == "not-rejected" for c in controls)


def test_a_violated_premise_is_not_applicable():
    runs = views(underdetermined(3, 2, 5), diag(5, depth=2), "random", [0.5], [0])
    (row,) = check("theorem4", runs[0], predict("theorem4", runs[0]))
    assert row.status == "not-applicable"
    assert row.reason.startswith("initialisation premise not met")
    (row,) = check("corollary1", runs[0], predict("corollary1", runs[0]))
    assert (
        row.status == "not-applicable"
        and row.reason == "the claim is about classification, this experiment is regression"
    )


def test_a_run_that_did_not_finish_leaves_its_checks_inconclusive_with_the_runs_reason():
    """A numerical failure of the solver (here GD diverging at lr = 50) is no evidence against a theorem."""
    data = underdetermined(3, 2, 5)
    runs = views(data, diag(5, depth=2), "theorem4", [0.5], [0], solver=GradientDescent(lr=50.0, steps=100))
    (row,) = check("theorem4", runs[0], predict("theorem4", runs[0]))
    assert row.status == "inconclusive" and row.reason.startswith("the run diverged: the loss became non-finite")
    assert row.reason.endswith("; a run that did not finish training cannot test the claim")


def test_a_flow_stopped_short_of_its_limit_is_judged_inconclusive_with_the_numbers_it_used():
    """residual_rtol = 1e-3: the end point is ~1e-3 from the limit, which a 1e-6 tolerance cannot judge (it
    was refuted at 9.6e-4 with a reason quoting the default settings)."""
    data = underdetermined(3, 2, 5)
    (loose,) = views(data, diag(5, depth=2), "theorem4", [0.5], [0], solver=GradientFlow(residual_rtol=1e-3))
    (row, *controls) = check("theorem4", loose, predict("theorem4", loose))
    residual = np.linalg.norm(data.X @ loose.beta[loose.final] - data.y) / np.linalg.norm(data.y)
    assert 5e-4 < residual < 2e-3 and row.value > 1e-6  # the end point misses at the 1e-6 tolerance
    assert row.status == "inconclusive"
    assert row.reason.startswith(
        f"the run ended at a relative residual of {residual:.2g} with rtol 1e-10: its end point does not resolve "
        "the limit to 1e-06 (train with residual_rtol and rtol <= 1e-08; defaults 1e-12 and 1e-10); "
    )
    assert row.reason.endswith(f"(this run: rtol 1e-10, residual {residual:.2g})")
    (tight,) = views(data, diag(5, depth=2), "theorem4", [0.5], [0])
    (row, *_) = check("theorem4", tight, predict("theorem4", tight))
    assert row.status == "pass" and "(this run: rtol 1e-10, residual " in row.reason


def test_a_regression_flow_that_stalls_after_resolving_its_limit_is_judged_and_one_before_it_is_not():
    """A flow can stall at float64's floor of the residual (diag L = 3, d = 100, alpha = 1e-3: at 2.8e-12 on one
    machine, at its 1e-12 target on another). Past RESOLVED = 1e-8 its end point is as good as a converged one and
    the claim is judged, saying so; a flow that stalls before it is no evidence either way."""
    from dataclasses import replace

    data = underdetermined(3, 2, 5)
    (run,) = views(data, diag(5, depth=2), "theorem4", [0.5], [0])
    late = replace(run, status="stalled", reason="the step size underflowed")
    (row, *controls) = check("theorem4", late, predict("theorem4", late))
    assert row.status == "pass" and row.value <= 1e-6 and {c.status for c in controls} == {"rejected"}
    assert row.reason.endswith("; it stalled there, at float64's floor, past what its limit point needs)")
    residuals = np.linalg.norm(run.beta @ data.X.T - data.y, axis=1) / np.linalg.norm(data.y)
    k = int(np.nonzero(residuals > 1e-6)[0][-1])  # a checkpoint short of RESOLVED
    log_loss = run.log_loss.copy()
    log_loss[k + 1 :] = np.nan
    early = replace(late, log_loss=log_loss)
    (row,) = check("theorem4", early, predict("theorem4", early))
    assert row.status == "inconclusive" and row.reason.startswith("the run stalled: the step size underflowed;")


def test_every_claim_of_the_catalog_is_registered():
    claims_md = [
        "lemma5_1",
        "theorem1",
        "corollary1",
        "theorem2",
        "corollary2",
        "corollary3",
        "theorem3",
        "corollary4",
        "theorem4",
        "remark4",
        "corollary5",
        "corollary6",
        "corollary7",
        "theorem5",
        "theorem6",
        "remark1_xtr_direction",
        "remark3",
        "figure1",
        "figure3",
        "figure3_loss_gap",
    ]
    assert sorted(CLAIM_IDS) == sorted(claims_md)


def test_a_failed_prediction_leaves_its_check_inconclusive_with_the_solvers_reason(monkeypatch):
    """A solver's numerical failure is no evidence against the theorem (it read as a refutation at d = 100)."""
    from implicit_bias.theory import regression

    runs = views(underdetermined(3, 2, 5), diag(5, depth=2), "theorem4", [0.5], [0])

    def no_convergence(*args, **kwargs):
        raise ValueError("Theorem 4 dual Newton did not converge (residual 1.000e-03)")

    monkeypatch.setattr(regression, "theorem4_rho", no_convergence)
    prediction = predict("theorem4", runs[0])
    assert prediction.applicable and prediction.error
    (row,) = check("theorem4", runs[0], prediction)
    assert row.status == "inconclusive"
    assert row.reason == (
        "the prediction could not be computed: Theorem 4 dual Newton did not converge (residual 1.000e-03); "
        "nothing to compare the run with"
    )


# --- the registry is the one place claims are declared ----------------------------------------------
def test_the_registry_is_the_only_place_a_claim_id_is_spelled_out():
    """Outside theory/registry.py and the claim modules (theory/claims/), no module of the package
    names a claim; inits.py may name its schemes, which share the theorems' names."""
    import re
    from pathlib import Path

    from implicit_bias.inits import INITS

    package = Path(__file__).parents[2] / "src" / "implicit_bias"
    own = {package / "theory" / "registry.py", *(package / "theory" / "claims").glob("*.py")}
    offenders = []
    for path in package.rglob("*.py"):
        if path in own:
            continue
        text = path.read_text()
        for claim in CLAIM_IDS:
            if path.name == "inits.py" and claim in INITS:
                continue
            if re.search(rf"[\"']{claim}[\"']", text):
                offenders.append((path.relative_to(package), claim))
    assert not offenders


def test_the_schema_enum_is_the_registry():
    from pathlib import Path

    import yaml

    schema = yaml.safe_load((Path(__file__).parents[2] / "workflow" / "schemas" / "config.schema.yaml").read_text())
    enum = schema["$defs"]["experiment"]["properties"]["claims"]["items"]["enum"]
    assert enum == list(CLAIM_IDS)
    theory = schema["properties"]["theory"]["properties"]["claims"]["items"]["enum"]
    from implicit_bias.theory import CLAIMS

    assert theory == [c for c in CLAIM_IDS if CLAIMS[c].theory_only]


def test_the_figure_kinds_agree_everywhere_a_figure_is_named():
    """docs/development.md's walk-through: a kind is in figures.FIGURES, the schema's enum, the workflow's
    wildcard constraint and figure.rst; every claim's figures are kinds."""
    import re
    from pathlib import Path

    import yaml

    from implicit_bias.figures import FIGURES
    from implicit_bias.theory import CLAIMS

    root = Path(__file__).parents[2]
    schema = yaml.safe_load((root / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert schema["$defs"]["experiment"]["properties"]["figures"]["items"]["enum"] == list(FIGURES)
    constraint = re.search(r'kind="([^"]+)"', (root / "workflow" / "rules" / "common.smk").read_text()).group(1)
    assert constraint.split("|") == list(FIGURES)
    captions = (root / "workflow" / "report" / "figure.rst").read_text()
    for kind in FIGURES:
        assert f'snakemake.wildcards.kind == "{kind}"' in captions, kind
    # one caption per kind, the same text in figure.rst (the Snakemake report) and captions.py (report.html)
    from implicit_bias.captions import CAPTIONS

    parts = re.split(r'\{% (?:if|elif) snakemake\.wildcards\.kind == "(\w+)" %\}\n', captions)
    in_rst = {
        parts[i]: " ".join(parts[i + 1].split("{%")[0].split()).replace("\\|", "|") for i in range(1, len(parts), 2)
    }
    assert in_rst == CAPTIONS and set(CAPTIONS) == set(FIGURES)
    for claim in CLAIMS.values():
        assert set(claim.figures) <= set(FIGURES), claim.id


def test_every_theorem_has_a_control_and_every_claim_a_source():
    from implicit_bias.theory import CLAIMS

    for claim in CLAIMS.values():
        assert claim.where and claim.statement
        assert claim.kind in ("theorem", "observation")
        assert claim.kind == "observation" or claim.controls, claim.id
        assert claim.theory_only or claim.predict is not None, claim.id


def test_remark4_predicts_its_two_ends_as_interpolants_that_the_limit_moves_between():
    """The weighted l1 and l2 solutions that Remark 4's prediction carries (for the alpha_sweep figure) fit the
    data, and the trained limit is nearer the l1 one at small alpha, the l2 one at large alpha."""
    data = underdetermined(7, 2, 5)
    small, large = views(data, diag(5, depth=3), "theorem4", [0.01, 3.0], [0])
    l1, l2 = "weighted l1 (Remark 4: alpha -> 0)", "weighted l2 (Remark 4: alpha -> inf)"
    for run in (small, large):
        references = predict("remark4", run).info["references"]
        assert set(references) == {l1, l2}
        for end in (l1, l2):
            np.testing.assert_allclose(data.X @ np.array(references[end]), data.y, atol=1e-8)
    distance = lambda run, end: np.linalg.norm(run.beta[-1] - predict("remark4", run).info["references"][end])  # noqa: E731
    assert distance(small, l1) < distance(small, l2)
    assert distance(large, l2) < distance(large, l1)


def test_a_wrong_decomposition_is_refuted_not_a_crash(monkeypatch):
    """S = I in place of the DCT for a transform network (a deliberate error of decompositions.py): the
    prediction lacks the alternative the check's own S names; the check crashed with a KeyError."""
    from implicit_bias.decompositions import OrthogonalDecomposition
    from implicit_bias.theory.claims import classification

    net = transform(5, depth=2, kind="dct")
    runs = views(separable(3, 3, 5), net, "theorem2", [0.5], [0, 1], solver=DECIDING, decide=["remark3"])
    identity = OrthogonalDecomposition(np.eye(5), (np.eye(5),) * 2)
    monkeypatch.setattr(classification, "orthogonal_decomposition", lambda network, **_: identity)
    rows = check_runs(["remark3"], runs)
    gaps = [r for r in rows if r.role == "claim" and r.metric.startswith("optimality gap")]
    assert len(gaps) == 2 and {r.status for r in gaps} == {"fail"}, [(r.status, r.value, r.reason) for r in gaps]


def test_corollary6_as_displayed_is_a_rejected_control_and_misses_the_trained_limit():
    """The display drops d^{-(L-1)/2} from F z: on even data the trained limit is Theorem 4's with
    S = d^{(L-1)/2} Re F, and the displayed minimiser is percent away from it."""
    from implicit_bias.theory.claims.regression import AS_DISPLAYED

    for net in (conv(5, depth=2), conv(5, depth=3)):
        (run,) = views(even_data(5, 2, 5), net, "theorem4", [0.5], [0])
        rows = check("corollary6", run, predict("corollary6", run))
        assert rows[0].status == "pass"
        (displayed,) = [r for r in rows if r.alternative == AS_DISPLAYED]
        assert displayed.status == "rejected" and displayed.value > 1e-3, displayed.value


def test_a_remark4_sweep_still_approaching_where_it_ends_is_inconclusive_a_settled_miss_fails():
    """At d = 1000 Q's minimiser approaches the l1 end like 1/log(1/alpha): still 0.0057 at alpha = 1e-100.
    Such a sweep cannot refute Remark 4; one flat above the tolerance can."""
    from implicit_bias.theory.claims.regression import SWEEP_RELATIVE, _still_approaching

    log10_alphas = -np.linspace(1, 100, 199)
    slow = 1 / np.log(10.0**-log10_alphas)  # 4.3e-3 at the end, twice that where log(1/alpha) was half
    reason = _still_approaching("weighted l1", log10_alphas, slow)
    assert reason.startswith("Q's minimiser is still approaching the weighted l1 solution where the sweep ends")
    assert "0.00869 at alpha = 1e-50, 0.00434 at 1e-100" in reason
    assert _still_approaching("weighted l1", log10_alphas, np.full(slow.shape, 10 * SWEEP_RELATIVE)) is None  # fail
    assert _still_approaching("weighted l1", log10_alphas, slow / 100) is None  # within tolerance: pass
    assert _still_approaching("weighted l1", log10_alphas[:1], slow[:1]) is None  # one point: nothing to compare


def test_alphas_beyond_float64_are_written_by_their_exponent():
    from implicit_bias.theory.claims.regression import alpha_text

    assert [alpha_text(x) for x in (-3, 0.5, -100, 100, -10000)] == ["0.001", "3.16", "1e-100", "1e100", "1e-10000"]
    assert alpha_text(-1258.925) == "10^-1258.9"


def test_remark4_follows_q_past_float64s_alphas_to_its_l1_end_at_d_1000():
    """Woodworth's sparse regression (n = 100, d = 1000): at alpha = 1e-100, the end of float64's alphas,
    Q's minimiser is still > 1e-3 from the min-l1 interpolant (the alpha -> 0 approach goes like
    1/log(1/alpha) at first); the dual in log alpha goes on to 1e-10000, where it is cvxpy's l1 solution to
    1e-5; at alphas that float64 holds the two forms of the dual agree."""
    from implicit_bias.datasets import sparse_model
    from implicit_bias.theory import regression

    data = sparse_model("sparse_regression", n=100, d=1000, seed=0)
    S, eta = np.eye(1000), np.ones(1000)
    l1, _ = regression.weighted_norm_limits(data.X, data.y, S, eta, L=2)
    grid = np.concatenate([-np.linspace(1, 100, 199), -np.logspace(2, 4, 41)[1:]])
    reached, path = regression.theorem4_path(data.X, data.y, S, eta, log10_alphas=grid, L=2)
    assert reached[-1] == -1e4
    distance = [np.linalg.norm(rho - l1) / np.linalg.norm(l1) for rho in path]
    assert distance[198] > 2e-3 and distance[-1] < 1e-5, (distance[198], distance[-1])  # 0.0057 and 7e-7 here
    approach = [x for x in distance[150:] if x > 1e-5]  # below, cvxpy's own accuracy
    assert np.all(np.diff(approach) < 0)  # monotonically closer
    for alpha in (1e-3, 1e3):  # large alpha: z is small there, where e^{2z} - e^{-2z} would cancel
        in_alpha = regression.theorem4_rho(data.X, data.y, S, eta, alpha=alpha, L=2)
        in_exponents, _ = regression._theorem4_dual(data.X, data.y, S, eta, log_alpha=np.log(alpha), L=2)
        assert np.linalg.norm(in_alpha - in_exponents) <= 1e-12 * np.linalg.norm(in_alpha), alpha
    reached, _ = regression.theorem4_path(data.X, data.y, S, eta, log10_alphas=np.linspace(1, 100, 199), L=2)
    assert reached[-1] == 100  # and the alpha -> infinity end as far as before


def test_theorem1_on_one_data_point_replaces_the_control_that_coincides_with_u_inf():
    """With one point X^T r never moves: u at the initialisation is u_inf, and that control is right too. The check
    then rejects the lazy regime's other answer (each v_l keeps its initial direction) and passes; before, every
    such run was inconclusive."""
    from implicit_bias.theory.judging import coincides

    one = Dataset(np.array([[-0.1, 1.4, -0.7, 0.4, 0.9]]), np.array([-1.0]), "classification")
    runs = views(one, conv(5, depth=2, filters=[3]), "theorem3", [0.5], [0, 1], solver=FARTHEST)
    rows = check_runs(["theorem1"], runs)
    assert_all_pass(rows, ["theorem1"])
    controls = [r for r in rows if r.role == "control"]
    assert {r.alternative for r in controls} == {
        "v_l keep their initial directions (u frozen at the initialisation coincides)"
    }
    assert all(r.status == "rejected" and r.value > 1.0 for r in controls)
    # the control it replaced: eq. 8 with u frozen at the initialisation is within the tolerance on these runs
    early = mm.residual_direction(runs[0].beta[0], one.X, one.y)
    assert mm.singular_vector_residual(runs[0].network, runs[0].theta[runs[0].final], one.X, one.y, u=early) < 2e-3
    assert not coincides(controls[0])


@pytest.mark.parametrize("depth", [2, 3])
def test_the_min_l2_control_is_the_min_norm_interpolant_also_where_s_is_not_orthogonal(depth):
    """conv's S = d^((L-1)/2) Re F has S^T S = d^(L-1) I on even vectors: S @ beta, the control's rho before, was
    d^(L-1) times the interpolant, and the control was rejected for that reason alone."""
    from implicit_bias.theory import regression
    from implicit_bias.theory.claims.regression import _decomposition, theorem4_alternatives

    data = even_data(5, 2, 5)
    (run,) = views(data, conv(5, depth=depth), "theorem4", [0.3], [0])
    S = _decomposition(run).S
    assert not np.allclose(S.T @ S, np.eye(5))
    rho = theorem4_alternatives(run, S, np.ones(5))["min-l2 interpolant"]
    np.testing.assert_allclose(S.T @ rho, regression.min_norm_solution(data.X, data.y), rtol=1e-12, atol=1e-14)


def test_an_instance_whose_interpolant_is_unique_decides_nothing():
    """n = 3 even points in d = 5 fix the 3-dimensional even subspace the flow stays in: every limit of Theorem 4's
    family is that one interpolant, and no control could be told from the prediction (not-applicable, with why);
    two points leave a line of interpolants, and the check passes with every control rejected."""
    from implicit_bias.datasets import random_dataset

    net = conv(5, depth=2)
    three = views(random_dataset("even", n=3, d=5, seed=5), net, "theorem4", [0.5], [0])
    rows = [r for r in check_runs(["theorem4", "corollary6"], three) if r.role == "claim"]
    assert {r.status for r in rows} == {"not-applicable"}
    assert all(
        r.reason.startswith("the interpolant is unique on this instance (the n = 3 points fix all 3") for r in rows
    )
    two = views(random_dataset("even", n=2, d=5, seed=5), net, "theorem4", [0.5], [0])
    assert_all_pass(check_runs(["theorem4", "corollary6"], two), ["theorem4", "corollary6"])


def test_a_gap_applies_its_transform_by_its_form():
    """Theorem 2's gaps apply S at every level: the identity and the DFT by their forms, anything else as a
    product; each is S @ z."""
    from implicit_bias.decompositions import dft_matrix
    from implicit_bias.theory.claims.classification import _applied

    rng = np.random.default_rng(0)
    z = rng.standard_normal(12)
    for S in (
        np.eye(12),
        3 * np.eye(12),
        np.sqrt(12) * dft_matrix(12),
        2j * dft_matrix(12),
        rng.standard_normal((12, 12)),
    ):
        np.testing.assert_allclose(_applied(S)(z), S @ z, rtol=0, atol=1e-13 * np.abs(S @ z).max())
