"""Benchmark: the Figure 3 runs (3 architectures x 3 alphas x 4 directions) by the exact flow, then
a stiff run (several support vectors) followed deep.

Each Figure 3 run follows the gradient-flow path to log L = -1e6 on the Section 6 classification
data (one support vector: explicit steps suffice). The stiff run is a 2-layer convolution with a
short filter on 4 random separable points, where the flow hands over to Radau; it is timed to
log L = -1e8 and -1e10, and beside it the same run with Radau at the explicit part's tolerance
(1e-10), where its Newton iterations keep failing (the baseline; -1e7 only, deeper takes minutes).
Then a flow deep past -1e10 (diag L = 2 on 6 random points, three support vectors): to -1e11 and -1e12 with
Newton started on the support vectors' slow manifold and Radau's tolerance above the velocity's rounding
(``training/implicit.py``), and to -1e11 beside it with scipy's own start and tolerance (the baseline, whose
steps per decade grow: about 10 s to -1e11, over 300 s to -1e12).
Last lines: ``flow seconds_per_run=<s>``, ``flow_stiff seconds_to_1e8=<s> seconds_to_1e10=<s> ratio_1e7=<x>`` and
``flow_deep seconds_to_1e11=<s> seconds_to_1e12=<s> baseline_seconds_to_1e11=<s> ratio_1e11=<x>
slow_manifold_seconds_to_1e12=<s>`` (the first four with Radau all the way: DEEP_TAU out of reach; the last as the
flow runs by default, on the slow manifold past DEEP_TAU).
Usage: python benchmarks/flow.py [--log-loss-target X]
"""

import argparse
import time

import numpy as np

from implicit_bias.architectures import conv, diag, fc
from implicit_bias.datasets import paper_classification, random_dataset
from implicit_bias.inits import initialize
from implicit_bias.training import GradientFlow, Problem

ALPHAS = (0.01, 0.5, 1.0)
SEEDS = (0, 1, 2, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-loss-target", type=float, default=-1e6)
    args = parser.parse_args()
    data = paper_classification()
    problems = [Problem(net, data.X, data.y, data.task) for net in (fc(2, depth=2), diag(2, depth=2), conv(2, depth=2))]
    batches = [
        np.stack([initialize("paper", p.network, data.X, alpha=a, seed=s) for a in ALPHAS for s in SEEDS])
        for p in problems
    ]
    solver = GradientFlow(log_loss_target=args.log_loss_target)
    for problem, thetas in zip(problems, batches):  # compile (or load the cache) outside the timing
        GradientFlow(log_loss_target=-1.0).run(problem, thetas[:1])
    start = time.perf_counter()
    results = [r for problem, thetas in zip(problems, batches) for r in solver.run(problem, thetas)]
    seconds = time.perf_counter() - start
    statuses = sorted({r.status for r in results})
    steps = [r.steps for r in results]
    print(
        f"{len(results)} runs to log L = {args.log_loss_target:g} in {seconds:.3f} s; statuses {statuses}; "
        f"integrator steps per run {min(steps)}..{max(steps)}"
    )
    print(f"flow seconds_per_run={seconds / len(results):.5f}")
    stiff()
    deep()


def stiff():
    data = random_dataset("classification", n=4, d=3, seed=1)
    problem = Problem(conv(3, depth=2, filters=[2]), data.X, data.y, data.task)
    theta = initialize("random", problem.network, data.X, alpha=0.5, seed=0)[None, :]

    def seconds_to(target, **settings):
        start = time.perf_counter()
        (result,) = GradientFlow(log_loss_target=target, **settings).run(problem, theta)
        assert result.status == "converged", result.reason
        return time.perf_counter() - start

    baseline, ours = seconds_to(-1e7, stiff_rtol=1e-10), seconds_to(-1e7)
    print(f"stiff run to log L = -1e7: {ours:.2f} s (Radau at rtol 1e-10: {baseline:.2f} s)")
    print(
        f"flow_stiff seconds_to_1e8={seconds_to(-1e8):.2f} seconds_to_1e10={seconds_to(-1e10):.2f} "
        f"ratio_1e7={baseline / ours:.1f}"
    )


def deep():
    from implicit_bias import limit_weights
    from implicit_bias.training import implicit

    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 6))
    y = np.sign(X @ rng.standard_normal(6))
    problem = Problem(diag(6, depth=2), X, y, "classification")
    theta = initialize("random", problem.network, X, alpha=0.2, seed=4)[None, :]

    def seconds_to(target):
        start = time.perf_counter()
        (result,) = GradientFlow(log_loss_target=target).run(problem, theta)
        assert result.status == "converged", result.reason
        return time.perf_counter() - start

    on_manifold = seconds_to(-1e12)
    # Radau's own deep phase (its Newton start on the slow manifold, against scipy's): the slow-manifold phase, which
    # takes over past DEEP_TAU by default, is moved out of reach
    deep_tau, limit_weights.DEEP_TAU = limit_weights.DEEP_TAU, np.inf
    try:
        ours = seconds_to(-1e11), seconds_to(-1e12)
        scipy_start, rounding = implicit.SlowManifoldStart, implicit.ROUNDING
        implicit.SlowManifoldStart, implicit.ROUNDING = lambda problem: None, 0.0  # scipy's start and rtol
        try:
            baseline = seconds_to(-1e11)
        finally:
            implicit.SlowManifoldStart, implicit.ROUNDING = scipy_start, rounding
    finally:
        limit_weights.DEEP_TAU = deep_tau
    print(
        f"flow_deep seconds_to_1e11={ours[0]:.2f} seconds_to_1e12={ours[1]:.2f} "
        f"baseline_seconds_to_1e11={baseline:.2f} ratio_1e11={baseline / ours[0]:.1f} "
        f"slow_manifold_seconds_to_1e12={on_manifold:.2f}"
    )


if __name__ == "__main__":
    main()
