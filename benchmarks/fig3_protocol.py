"""Benchmark: the paper's Figure 3 protocol with the library vs a naive torch autograd loop and
batched NumPy.

3 architectures (2-layer fc, diag, full-length conv; d = 2) x 3 alphas x 4 directions, GD with
lr = 5e-4 for 2e6 steps on the Section 6 classification data. The naive baseline trains one run at
a time with torch autograd; the NumPy baseline (the strongest plain alternative) trains an
architecture's 12 runs at once with array operations on the same entry list. Both are timed for
NAIVE_STEPS steps per architecture and extrapolated.
Last line: ``fig3_protocol seconds=<library> naive_seconds=<s> ratio=<naive/library>
numpy_seconds=<s> numpy_ratio=<numpy/library>``.
Usage: python benchmarks/fig3_protocol.py [--steps N] [--naive-steps N]
"""

import argparse
import time

import numpy as np
import torch

from implicit_bias.architectures import conv, diag, fc
from implicit_bias.datasets import paper_classification
from implicit_bias.inits import initialize
from implicit_bias.training import GradientDescent, Problem

ALPHAS = (0.01, 0.5, 1.0)
SEEDS = (0, 1, 2, 3)
LR = 5e-4


def networks():
    return [fc(2, depth=2), diag(2, depth=2), conv(2, depth=2)]


def initial_batch(net, X):
    return np.stack([initialize("paper", net, X, alpha=a, seed=s) for a in ALPHAS for s in SEEDS])


def naive_seconds_per_step(net, X, y, theta, steps):
    """One run, torch autograd on the dense data tensor, one step at a time."""
    M = torch.tensor(np.stack([net.data_tensor(x) for x in X]))
    y = torch.tensor(y)
    params = [torch.tensor(v.copy(), requires_grad=True) for v in net.unflatten(theta)]
    start = time.perf_counter()
    for _ in range(steps):
        f = torch.einsum("nij,i,j->n", M, *params)
        loss = torch.exp(-y * f).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= LR * g
    return (time.perf_counter() - start) / steps


def numpy_seconds_per_step(net, X, y, thetas, steps):
    """All runs of one architecture at once (rows), NumPy on the entry list: beta_k = sum_e w_e prod_l
    v_l[i_el], the gradient by the same products with one factor left out, scattered by one-hot maps."""
    pos, w = net.flat_index, net.weight
    E, L = pos.shape
    to_beta = np.zeros((E, net.dim))
    to_beta[np.arange(E), net.coord] = 1.0
    to_param = [np.zeros((E, net.n_params)) for _ in range(L)]
    for l in range(L):
        to_param[l][np.arange(E), pos[:, l]] = 1.0
    th = thetas.copy()
    start = time.perf_counter()
    for _ in range(steps):
        factors = th[:, pos]  # (runs, E, L)
        beta = (w * factors.prod(axis=2)) @ to_beta
        r = -y * np.exp(-y * (beta @ X.T))
        weighted = w * (r @ X)[:, net.coord]  # (runs, E)
        grad = sum((weighted * np.delete(factors, l, axis=2).prod(axis=2)) @ to_param[l] for l in range(L))
        th -= LR * grad
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2_000_000)
    parser.add_argument("--naive-steps", type=int, default=50_000)
    args = parser.parse_args()
    data = paper_classification()
    torch.set_num_threads(1)
    # compile (or load the cache) outside the timing
    warm = GradientDescent(lr=LR, steps=10)
    for net in networks():
        warm.run(Problem(net, data.X, data.y, data.task), initial_batch(net, data.X))

    solver = GradientDescent(lr=LR, steps=args.steps, checkpoints=200)
    start = time.perf_counter()
    finals = []
    for net in networks():
        results = solver.run(Problem(net, data.X, data.y, data.task), initial_batch(net, data.X))
        finals += [r.loss[-1] for r in results]
        assert all(r.ok for r in results), [r.reason for r in results if not r.ok]
    seconds = time.perf_counter() - start
    runs = len(finals)
    print(
        f"library: {runs} runs x {args.steps} steps in {seconds:.3f} s "
        f"({seconds / runs / args.steps * 1e9:.1f} ns per run-step); final losses {min(finals):.2e}..{max(finals):.2e}"
    )

    naive = batched = 0.0
    for net in networks():
        per_step = naive_seconds_per_step(net, data.X, data.y, initial_batch(net, data.X)[4], args.naive_steps)
        naive += per_step * args.steps * len(ALPHAS) * len(SEEDS)
        print(f"naive {net.describe()}: {per_step * 1e6:.1f} us per step (timed over {args.naive_steps} steps)")
        per_batch_step = numpy_seconds_per_step(net, data.X, data.y, initial_batch(net, data.X), args.naive_steps)
        batched += per_batch_step * args.steps
        print(f"numpy {net.describe()}: {per_batch_step * 1e6:.1f} us per step of all 12 runs")
    print(
        f"fig3_protocol seconds={seconds:.3f} naive_seconds={naive:.1f} ratio={naive / seconds:.0f} "
        f"numpy_seconds={batched:.1f} numpy_ratio={batched / seconds:.0f}"
    )


if __name__ == "__main__":
    main()
