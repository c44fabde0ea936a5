"""Benchmark: the Figure 3 runs (3 architectures x 3 alphas x 4 directions) by the exact flow.

Each run follows the gradient-flow path to log L = -1e6 on the Section 6 classification data.
Last line: ``flow seconds_per_run=<s>``.
Usage: python benchmarks/flow.py [--log-loss-target X]
"""

import argparse
import time

import numpy as np

from implicit_bias.datasets import paper_classification
from implicit_bias.inits import initialize
from implicit_bias.networks import conv, diag, fc
from implicit_bias.training import GradientFlow, Problem

ALPHAS = (0.01, 0.5, 1.0)
SEEDS = (0, 1, 2, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-loss-target", type=float, default=-1e6)
    args = parser.parse_args()
    data = paper_classification()
    problems = [Problem(net, data.X, data.y, data.task) for net in (fc(2, depth=2), diag(2, depth=2), conv(2, depth=2))]
    batches = [np.stack([initialize("paper", p.network, data.X, alpha=a, seed=s) for a in ALPHAS for s in SEEDS]) for p in problems]
    solver = GradientFlow(log_loss_target=args.log_loss_target)
    for problem, thetas in zip(problems, batches):  # compile (or load the cache) outside the timing
        GradientFlow(log_loss_target=-1.0).run(problem, thetas[:1])
    start = time.perf_counter()
    results = [r for problem, thetas in zip(problems, batches) for r in solver.run(problem, thetas)]
    seconds = time.perf_counter() - start
    statuses = sorted({r.status for r in results})
    steps = [r.steps for r in results]
    print(f"{len(results)} runs to log L = {args.log_loss_target:g} in {seconds:.3f} s; statuses {statuses}; "
          f"integrator steps per run {min(steps)}..{max(steps)}")
    print(f"flow seconds_per_run={seconds / len(results):.5f}")


if __name__ == "__main__":
    main()
