"""The claim registry: every claim of the paper declared once (the catalog docs/claims.md is made from it).

A claim is its id, the paper's statement and where it stands, whether it is a theorem to verify or
an observation to report, its scope (task, architectures, depth, single point, full row rank), the
initialisation premise it relies on, what its checks measure and against what tolerance, its
controls (the plausible wrong predictions every check must reject), the figure kinds that show it,
and its functions: ``predict(run)`` and ``check(run, prediction)`` per run,
``check_group(runs, predictions)`` over an experiment, or ``check_theory(depths, experiment)`` for a
claim that needs no training.

Config validation, the report's text, the schema's enum (tested equal), the init premises, the
command line and the catalog page all read from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..architectures import orthogonal
from ..inits import premise
from .claims import classification as c4
from .claims import observations as c6
from .claims import regression as c5
from .claims.regression import SWEEP_RELATIVE
from .judging import ANGLE_DEGREES, FLOW_RELATIVE, KKT, RELATIVE_GAP, SINGULAR_RESIDUAL
from .records import Prediction, RunView

THEOREM, OBSERVATION = "theorem", "observation"
ORTHOGONAL = orthogonal()  # architectures with Assumption 1: diag, conv (full length), matrix_sensing, transform
SECTION6 = ("fc", "diag", "conv")


@dataclass(frozen=True)
class Scope:
    """The runs a claim is about."""

    task: str | None = None
    architectures: tuple[str, ...] | None = None
    depth: int | None = None
    single_point: bool = False
    full_row_rank: bool = False
    solver: str | None = None

    def why_not(self, run: RunView) -> str | None:
        """Why this run is outside the scope, or None."""
        if self.task and run.task != self.task:
            return f"the claim is about {self.task}, this experiment is {run.task}"
        if self.architectures and run.network.name not in self.architectures:
            return f"the claim is about {'/'.join(self.architectures)} networks, not {run.network.name}"
        if self.depth and run.network.depth != self.depth:
            return f"the claim is about depth {self.depth}, this network has depth {run.network.depth}"
        if self.single_point and run.X.shape[0] != 1:
            return f"the claim is about a single data point, the data have n = {run.X.shape[0]}"
        if self.full_row_rank and np.linalg.matrix_rank(run.X) < run.X.shape[0]:
            return "the claim needs X of full row rank"
        if self.solver and run.solver.get("name") != self.solver:
            return f"the claim is checked on {self.solver} runs, this run used {run.solver.get('name')}"
        return None

    def describe(self) -> str:
        """The scope in words (the catalog's setting column)."""
        parts = [self.task or "classification and regression"]
        if self.architectures:
            parts.append("/".join(self.architectures) + " networks")
        else:
            parts.append("any linear tensor network")
        if self.depth:
            parts.append(f"depth {self.depth}")
        if self.single_point:
            parts.append("one data point")
        if self.full_row_rank:
            parts.append("X of full row rank")
        if self.solver:
            parts.append(f"{self.solver} runs")
        return ", ".join(parts)

    def serves(self, architecture: dict) -> bool:
        """Whether a configured architecture can be in scope (name and depth)."""
        return (self.architectures is None or architecture.get("name") in self.architectures) and (
            self.depth is None or architecture.get("depth", 2) == self.depth
        )


@dataclass(frozen=True)
class Claim:
    id: str
    kind: str
    where: str  # section, theorem, equation
    statement: str
    scope: Scope
    metric: str = ""  # what the checks measure, and how it is judged
    tolerance: str = ""  # against what, and why
    controls: tuple[str, ...] = ()
    premise: str | dict | None = None  # the init premise (an inits.py scheme) it relies on; by task if a dict
    figures: tuple[str, ...] = ()
    predict: Callable | None = None
    check: Callable | None = None
    check_group: Callable | None = None
    check_theory: Callable | None = None

    def premise_for(self, task: str) -> str | None:
        return self.premise.get(task) if isinstance(self.premise, dict) else self.premise

    @property
    def theory_only(self) -> bool:
        """Checked without any training run (Lemma 5.1)."""
        return self.check_theory is not None


_DIRECTION = f"{ANGLE_DEGREES:g}° (a direction claim: the limit within {ANGLE_DEGREES:g}° of the prediction)"
_GAP_OR_KKT = (
    "L = 2: the relative optimality gap of the limit direction (scaled to margin 1) in the transformed ℓ1 "
    "max-margin program; L ≥ 3: the KKT stationarity residual of the ℓ_{2/L} program on the limit's support "
    "and active set; both judged on their limits as τ → ∞"
)
_GAP_OR_KKT_TOLERANCE = (
    f"L = 2: {RELATIVE_GAP:g} (the optimum need not be unique, so a gap rather than an angle to one solution); "
    f"L ≥ 3: {KKT:g} (relative norm of the projected Lagrangian gradient)"
)
_RELATIVE_ERROR = "relative error ‖β − β_pred‖/‖β_pred‖ at the end of the run (the flow converges exponentially)"
_LIMIT_TOLERANCE = (
    f"flow: {FLOW_RELATIVE:g} (its limit points agree with independent integrators to ~1e-8); "
    "GD: 10·lr (a fixed step shifts the limit by O(lr))"
)
_EXPONENTS = (
    "L ≥ 3, where the limit tells them apart (more support than active constraints, moduli that differ): "
    "exponents 1 and 2/(L+1) in place of 2/L"
)
_NONE = "none: an observation, reported with its numbers and never passed or failed"
_DIRECTION_FIGURES = ("direction_error", "tail_fits", "forest", "agreement", "limit_images")
_LIMIT_FIGURES = ("agreement",)
_CLASSIFICATION = Scope(task="classification")

_DECLARED = (
    Claim(
        "lemma5_1",
        THEOREM,
        "Section 5, Lemma 5.1",
        "h_L = p^{L-1} q of p' = p^{L-2} q, q' = p^{L-1} is odd, strictly increasing, and blows up at ±c_L",
        Scope(),
        metric="max relative error of h_L against a DOP853 solve of the ODE (rtol 1e-13); violations of oddness and "
        "strict increase on a 2001-point grid; |c_L − ∫₀^∞ (1+u²)^{−(L−1)/2} du|; 1/h_L just below c_L",
        tolerance="1e-9 (the ODE reference is good to ~1e-10); 0 violations; 1e-12 (quadrature to 1e-13); 1e-6",
        controls=("h_{L+1} and c_{L+1} in place of h_L and c_L",),
        check_theory=c6.check_theory_lemma5_1,
    ),
    Claim(
        "theorem1",
        THEOREM,
        "Section 4.1, Theorem 1, eq. (8)",
        "every v_l converges in direction to a singular vector of M(−u∞), u∞ = lim Xᵀr/‖Xᵀr‖",
        _CLASSIFICATION,
        metric="singular-vector residual of eq. (8), ‖v_l/‖v_l‖ − g_l/‖g_l‖‖, judged on its limit as τ → ∞",
        tolerance=f"{SINGULAR_RESIDUAL:g} (≈ {ANGLE_DEGREES:g}° between v_l and the singular vector)",
        controls=(
            "u frozen at the initialisation (the lazy regime); where that is right too (u never moves, or every "
            "nearby u has the same singular vectors), each v_l keeping its initial direction",
        ),
        figures=("tail_fits", "forest"),
        predict=c4.predict_theorem1,
        check=c4.check_theorem1,
    ),
    Claim(
        "corollary1",
        THEOREM,
        "Section 4.1, Corollary 1",
        "fully-connected networks: β converges in direction to the ℓ2 max-margin solution",
        Scope(task="classification", architectures=("fc",)),
        metric="angle between β and the ℓ2 max-margin direction (deg), judged on its limit as τ → ∞",
        tolerance=_DIRECTION,
        controls=("ℓ1 max-margin", "DFT-domain ℓ1 max-margin"),
        figures=_DIRECTION_FIGURES,
        predict=c4.predict_corollary1,
        check=c4.check_corollary1,
    ),
    Claim(
        "theorem2",
        THEOREM,
        "Section 4.2, Theorem 2",
        "Assumption 1 and the gap condition: β → Sᵀρ∞, ρ∞ a stationary point of min ‖ρ‖_{2/L} s.t. margins ≥ 1",
        Scope(task="classification", architectures=ORTHOGONAL),
        metric=_GAP_OR_KKT,
        tolerance=_GAP_OR_KKT_TOLERANCE,
        premise="theorem2",
        controls=("ℓ2 max-margin", "the other transform's ℓ_{2/L} max-margin", _EXPONENTS),
        figures=_DIRECTION_FIGURES,
        predict=c4.predict_theorem2,
        check=c4.check_theorem2,
    ),
    Claim(
        "corollary2",
        THEOREM,
        "Section 4.2, Corollary 2",
        "diagonal networks: a stationary point of the ℓ_{2/L} max-margin problem (L = 2: ℓ1)",
        Scope(task="classification", architectures=("diag",)),
        metric=_GAP_OR_KKT,
        tolerance=_GAP_OR_KKT_TOLERANCE,
        premise="theorem2",
        controls=("ℓ2 max-margin", "DFT-domain ℓ_{2/L} max-margin", _EXPONENTS),
        figures=_DIRECTION_FIGURES,
        predict=c4.predict_corollary2,
        check=c4.check_corollary2,
    ),
    Claim(
        "corollary3",
        THEOREM,
        "Section 4.2, Corollary 3",
        "full-length convolutions: a stationary point of the DFT-domain ℓ_{2/L} max-margin problem",
        Scope(task="classification", architectures=("conv",)),
        metric=_GAP_OR_KKT,
        tolerance=_GAP_OR_KKT_TOLERANCE,
        premise="theorem2",
        controls=("ℓ2 max-margin", "standard-basis ℓ_{2/L} max-margin", _EXPONENTS),
        figures=_DIRECTION_FIGURES,
        predict=c4.predict_corollary3,
        check=c4.check_corollary3,
    ),
    Claim(
        "theorem3",
        THEOREM,
        "Section 4.3, Theorem 3",
        "2 layers, one data point: v_1, v_2 converge to the top singular vectors U_1η_1∞, U_2η_2∞ of M(x)",
        Scope(task="classification", depth=2, single_point=True),
        metric="the larger angle of v_1, v_2 to U_1η_1∞, U_2η_2∞ (deg; both signs flipped together), limit as τ → ∞",
        tolerance=_DIRECTION,
        premise="theorem3",
        controls=("the second singular vectors", "the initial directions"),
        figures=("tail_fits", "forest"),
        predict=c4.predict_theorem3,
        check=c4.check_theorem3,
    ),
    Claim(
        "corollary4",
        THEOREM,
        "Section 4.3, Corollary 4",
        "2-layer convolutions with k_1 = 1 or 2, one point: β ∝ yx, or 2yx ± y(x← + x→) by the sign of xᵀx←",
        Scope(task="classification", architectures=("conv",), depth=2, single_point=True),
        metric="angle between β and the filtered data point (deg), judged on its limit as τ → ∞",
        tolerance=_DIRECTION,
        premise="theorem3",
        controls=("k_1 = 1: the ℓ1 max-margin", "k_1 = 2: yx and the other sign"),
        figures=_DIRECTION_FIGURES,
        predict=c4.predict_corollary4,
        check=c4.check_corollary4,
    ),
    Claim(
        "theorem4",
        THEOREM,
        "Section 5.1, Theorem 4",
        "regression, Assumption 1 with real S, v̄_l = U_l η̄, v̄_L = 0: β → Sᵀ argmin Q_{L,α,η̄}(ρ) s.t. XSᵀρ = y",
        Scope(task="regression", architectures=ORTHOGONAL, full_row_rank=True),
        metric=_RELATIVE_ERROR,
        tolerance=_LIMIT_TOLERANCE,
        premise="theorem4",
        controls=("weighted ℓ1 (α → 0)", "weighted ℓ2 (α → ∞)", "min-ℓ2 interpolant", "Theorem 4 at 2α"),
        figures=_LIMIT_FIGURES,
        predict=c5.predict_theorem4,
        check=c5.check_theorem4,
    ),
    Claim(
        "remark4",
        THEOREM,
        "Section 5.1, Remark 4",
        "Q_{L,α,η̄} interpolates the weighted ℓ1 (α → 0) and weighted ℓ2 (α → ∞) solutions",
        Scope(task="regression", architectures=ORTHOGONAL, full_row_rank=True),
        metric="distance of Q's minimiser to the weighted ℓ1 (α → 0) and weighted ℓ2 (α → ∞) solutions at the ends "
        "of Theorem 4's path (L = 2: α = 1e-10000, the dual solved in log α, and 1e100; L ≥ 3: h_L's pole)",
        tolerance=f"{SWEEP_RELATIVE:g} relative (within 0.1 % at the end of the path; a distance still shrinking "
        "there, more than 1 % closer than where log 1/α was half, is inconclusive, not refuted)",
        premise="theorem4",
        controls=("the swapped ends of the sweep", "Theorem 4's controls at each α"),
        figures=("alpha_sweep", "rich_kernel"),
        predict=c5.predict_remark4,
        check=c5.check_remark4,
        check_group=c5.check_group_remark4,
    ),
    Claim(
        "corollary5",
        THEOREM,
        "Section 5.1, Corollary 5",
        "diagonal networks: the limit is Sᵀ argmin Q with S = I",
        Scope(task="regression", architectures=("diag",), full_row_rank=True),
        metric=_RELATIVE_ERROR,
        tolerance=_LIMIT_TOLERANCE,
        premise="theorem4",
        controls=("weighted ℓ1 (α → 0)", "weighted ℓ2 (α → ∞)", "min-ℓ2 interpolant", "Theorem 4 at 2α"),
        figures=_LIMIT_FIGURES,
        predict=c5.predict_corollary5,
        check=c5.check_corollary5,
    ),
    Claim(
        "corollary6",
        THEOREM,
        "Section 5.1, Corollary 6",
        "full-length convolutions, even data and init: the limit minimises Q in the real DFT domain",
        Scope(task="regression", architectures=("conv",), full_row_rank=True),
        metric=_RELATIVE_ERROR,
        tolerance=_LIMIT_TOLERANCE,
        premise="theorem4",
        controls=(
            "weighted ℓ1 (α → 0)",
            "weighted ℓ2 (α → ∞)",
            "min-ℓ2 interpolant",
            "Theorem 4 at 2α",
            "the corollary as displayed in the paper, Q_{L,α,Fw̄}(Fz) without the factor d^{−(L−1)/2} of Fz",
        ),
        figures=_LIMIT_FIGURES,
        predict=c5.predict_corollary6,
        check=c5.check_corollary6,
    ),
    Claim(
        "corollary7",
        THEOREM,
        "Section 5.1, Corollary 7",
        "deep matrix sensing, commuting symmetric sensors: W_1⋯W_L → argmin Q_{L,α}(eig) s.t. zero loss",
        Scope(task="regression", architectures=("matrix_sensing",), full_row_rank=True),
        metric="relative error of the product W_1⋯W_L at the end of the run",
        tolerance=_LIMIT_TOLERANCE,
        premise="theorem4",
        controls=("nuclear-norm minimiser (α → 0)", "Frobenius minimiser (α → ∞)", "Theorem 4 at 2α"),
        figures=_LIMIT_FIGURES,
        predict=c5.predict_corollary7,
        check=c5.check_corollary7,
    ),
    Claim(
        "theorem5",
        THEOREM,
        "Section 5.2, Theorem 5",
        "2 layers, one data point, gap condition: closed-form limits v_1∞, v_2∞ through g⁻¹(y/α²)",
        Scope(task="regression", depth=2, single_point=True),
        metric="the largest relative error of v_1, v_2 and β at the end of the run",
        tolerance=_LIMIT_TOLERANCE,
        premise="theorem5",
        controls=("Theorem 5 at 2α", "min-ℓ2 interpolant"),
        figures=_LIMIT_FIGURES,
        predict=c5.predict_theorem5,
        check=c5.check_theorem5,
    ),
    Claim(
        "theorem6",
        THEOREM,
        "Section 5.3, Theorem 6",
        "fully-connected regression: (6.1) the loss → 0 under its init conditions; (6.2) β_α → Xᵀ(XXᵀ)⁻¹y as α → 0",
        Scope(task="regression", architectures=("fc",), full_row_rank=True),  # 6.1's premise: see its check
        metric="6.1: the final relative residual ‖Xβ − y‖/‖y‖; 6.2: the distance of β_α to the min-ℓ2 interpolant over "
        "the α sweep, fitted by a + c·α^p: the offset a is judged",
        tolerance=f"6.1: 1.5 × the flow's residual_rtol (GD: 1e-6); 6.2: {SWEEP_RELATIVE:g} relative",
        controls=("6.2: the min-ℓ1 interpolant",),
        figures=("alpha_sweep",),
        predict=c5.predict_theorem6,
        check=c5.check_theorem6,
        check_group=c5.check_group_theorem6,
    ),
    Claim(
        "remark1_xtr_direction",
        OBSERVATION,
        "Section 4.2, Remark 1",
        "does Xᵀr(t) converge in direction? Theorem 2 assumes it; the authors withdrew their proof",
        Scope(task="classification", architectures=ORTHOGONAL, solver="flow"),
        metric="angle between u = Xᵀr/‖Xᵀr‖ at successive decades of log L (deg): does it settle?",
        tolerance=_NONE,
        predict=c6.predict_remark1_xtr_direction,
        check=c6.check_remark1_xtr_direction,
    ),
    Claim(
        "remark3",
        THEOREM,
        "Section 4.2 and 5.1, Remark 3",
        "a network built by Assumption 1 from a chosen transform T is biased to solutions sparse in the T-domain",
        Scope(architectures=("transform",), depth=2),
        metric="classification: the T-domain ℓ1 optimality gap (as Theorem 2 at L = 2) and the nonzeros of Tβ; "
        "regression: the relative error of β (as Theorem 4)",
        tolerance=f"{RELATIVE_GAP:g} gap and at most n nonzeros (an ℓ1 max-margin vertex); regression as Theorem 4",
        premise={"classification": "theorem2", "regression": "theorem4"},
        controls=("ℓ2 and standard-basis ℓ1 max-margin", "sparsity in the standard basis", "Theorem 4's controls"),
        figures=_DIRECTION_FIGURES,
        predict=c6.predict_remark3,
        check=c6.check_remark3,
    ),
    Claim(
        "figure1",
        THEOREM,
        "Section 6, Figure 1 (and Figure 3, regression)",
        "GD's limit points for x = [1, 2], y = 1 are Theorem 5's, on the line of global minima",
        Scope(task="regression", architectures=SECTION6, depth=2, single_point=True),
        metric="relative error of GD's limit point against Theorem 5's",
        tolerance=_LIMIT_TOLERANCE,
        premise="theorem5",
        controls=("the other networks' α → 0 min-norm points",),
        figures=("trajectories", "agreement"),
        predict=c6.predict_figure1,
        check=c6.check_figure1,
    ),
    Claim(
        "figure3",
        OBSERVATION,
        "Section 6, Figure 3 (classification)",
        "at L ≈ 1e-5 GD's directions still depend on the initialisation (not trained to zero loss)",
        Scope(task="classification", architectures=SECTION6, depth=2),
        metric="the spread of directions across initialisations at L ≈ 1e-5 (deg)",
        tolerance=_NONE,
        figures=("trajectories", "direction_error"),
        predict=c6.predict_figure3,
        check=c6.check_figure3,
        check_group=c6.check_group_figure3,
    ),
    Claim(
        "figure3_loss_gap",
        THEOREM,
        "Section 6, Figure 3, continued by the exact flow",
        "trained to zero loss, every run reaches its network's max-margin direction and the init-dependence vanishes",
        Scope(task="classification", architectures=SECTION6, depth=2),
        metric="per run: angle to its network's max-margin direction (deg); per network: the spread of directions "
        "across initialisations (deg), both judged on their limits as τ → ∞",
        tolerance=f"{ANGLE_DEGREES:g}° per run, {2 * ANGLE_DEGREES:g}° for the spread (each run within {ANGLE_DEGREES:g}° of one direction)",
        controls=("the other networks' max-margin directions",),
        figures=("trajectories", "direction_error", "tail_fits", "forest"),
        predict=c6.predict_figure3_loss_gap,
        check=c6.check_figure3_loss_gap,
        check_group=c6.check_group_figure3_loss_gap,
    ),
)

CLAIMS: dict[str, Claim] = {claim.id: claim for claim in _DECLARED}
CLAIM_IDS = tuple(CLAIMS)


def claim(claim_id: str) -> Claim:
    if claim_id not in CLAIMS:
        raise ValueError(f"unknown claim {claim_id!r}; expected one of {list(CLAIM_IDS)}")
    return CLAIMS[claim_id]


def predict(claim_id: str, run: RunView) -> Prediction:
    """The claim's prediction for the run: not applicable outside its scope; a solver that fails gives
    a Prediction with ``error`` set (its check then fails with the solver's reason)."""
    spec = claim(claim_id)
    if spec.predict is None:
        return Prediction(claim_id, False, f"{claim_id} needs no run: it is checked on its own")
    why = spec.scope.why_not(run)
    if why:
        return Prediction(claim_id, False, why)
    scheme = spec.premise_for(run.task)
    held = premise(scheme, run.network, run.directions, run.X) if scheme else None
    if held is not None and not held.holds:
        return Prediction(claim_id, False, f"initialisation premise not met: {held.reason}")
    try:
        prediction = spec.predict(run)
    except (ValueError, ArithmeticError) as error:  # cvxpy infeasible, Newton not converging, ...
        return Prediction(claim_id, True, "the prediction applies", error=f"{type(error).__name__}: {error}")
    if held is not None and prediction.applicable:
        prediction.info.setdefault("lambda", held.lam)
    return prediction
