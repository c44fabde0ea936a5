"""Research scale: training at d = 1000, n = 100 on the structured operators, beside plain references.

    python benchmarks/scale.py [--d 1000] [--n 100] [--alpha 0.5] [--cases gd,flow,deep,theory] [--cap 60]
    python benchmarks/scale.py --cases batched [--runs 4] [--device cpu|cuda]

One line per case:
    scale case=<network>/<task>/<solver> d=… n=… alpha=… seconds=… reference_seconds=… ratio=… peak_mb=…

Every case starts from init ``random`` at scale ``--alpha`` (0.5, the issue's table; the rich regime's small alphas
cost more: diag L = 3's regression crosses saddles there).

- GD: seconds per step of ``GradientDescent`` (NumPy on the operator, and the torch backend on CPU) against
  the way the field's notebooks write it: the layers as ``torch.nn.Parameter`` vectors/matrices, autograd,
  full-batch GD at a fixed lr, float64. Over 500 steps, ours with its set-up (checks, operator, records:
  0.4-4 ms a run, which at 50 steps was most of a diag run's time), the reference without. Alternating, in
  the same process, best of three.
- Flows: ``GradientFlow`` (structured operator: DOP853, then the low-rank Radau where it turns stiff) to convergence (regression) or to
  log L = -1e6 (classification), against ``scipy.integrate.solve_ivp`` (LSODA, no Jacobian; RK45 over 5000
  parameters, where LSODA's dense work array does not fit) on the same structured velocity, stopped at ``--cap``
  seconds (reference_seconds is then ">cap").
- Deep flows (``deep``): classification to log L = -1e10, past DEEP_TAU = 1e7 on the support vectors' slow manifold
  (``training/slow_manifold``); no reference (solve_ivp does not get past -1e6 within the cap on these), so
  reference_seconds and ratio are ``na``.
- Theory (``theory``): the predict jobs' programs (l2, l1 and DFT-domain l1 max-margin; Theorem 4's limit at
  depths 2 and 3) on sparse-teacher and sparse-regression data, each unmemoised; the DFT-domain l1 program beside
  the same program with the dense S = F.
- Batched flows (``batched``, not run by default): ``backend: torch``, a batch of ``--runs`` runs on ``--device``,
  against the same runs on the default backend one after another, and how far apart their betas are.
peak_mb is the peak of Python-tracked memory (NumPy's arrays included) in a separate, untimed run of the case.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the workflow's jobs run: one BLAS thread

import numpy as np
import torch

from implicit_bias import architectures
from implicit_bias.datasets import random_dataset
from implicit_bias.inits import initialize
from implicit_bias.training.problem import Problem
from implicit_bias.training.solvers import GradientDescent, GradientFlow
from implicit_bias.training.structured import Velocity

torch.set_num_threads(1)

NETWORKS = {
    "diag_L2": {"name": "diag", "depth": 2},
    "diag_L3": {"name": "diag", "depth": 3},
    "conv_L2": {"name": "conv", "depth": 2},
    "fc_L2_w100": {"name": "fc", "depth": 2, "widths": [100]},
    "fc_L2_wd": {"name": "fc", "depth": 2},
    "fc_L3_wd": {"name": "fc", "depth": 3},  # P = 2 * 10^6: the memory target's depth-3 case
}
ALPHA = 0.5  # every case's init scale (--alpha)
REGRESSION_ONLY = {"fc_L3_wd"}  # its classification to -1e6 takes many minutes (not measured)


def _setup(label, task, d, n):
    data = random_dataset(task, n=n, d=d, seed=0)
    network = architectures.build_network(NETWORKS[label], d)
    theta = initialize("random", network, data.X, alpha=ALPHA, seed=0)
    return Problem(network, data.X, data.y, task), theta


def _torch_reference_step(problem, theta, lr):
    """One full-batch GD step as a notebook writes it: nn.Parameter layers, autograd."""
    spec = problem.network.settings
    X = torch.as_tensor(problem.X)
    y = torch.as_tensor(problem.y)
    layers = [torch.nn.Parameter(torch.as_tensor(v.copy())) for v in problem.network.unflatten(theta)]
    name, d = problem.network.name, problem.network.dim

    def model():
        if name == "diag":
            beta = layers[0]
            for v in layers[1:]:
                beta = beta * v
        elif name == "conv":
            beta = torch.fft.irfft(torch.stack([torch.fft.rfft(v, n=d) for v in layers]).prod(0), n=d)
        else:  # fc: x^T W_1 ... w_L
            dims = [d, *spec["widths"]]
            beta = layers[-1]
            for l in range(len(layers) - 2, -1, -1):
                beta = layers[l].reshape(dims[l + 1], dims[l]).T @ beta
        f = X @ beta
        return torch.exp(-y * f).sum() if problem.task == "classification" else 0.5 * ((f - y) ** 2).sum()

    def step():
        loss = model()
        grads = torch.autograd.grad(loss, layers)
        with torch.no_grad():
            for v, g in zip(layers, grads):
                v -= lr * g

    return step


def _peak_mb(fn) -> float:
    """The peak of Python-tracked memory while ``fn`` runs, in a run of its own: tracemalloc slows every
    allocation, so no timed run is traced (the references never were)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _best(fn, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gd_cases(d, n, steps=500):
    for label in ("diag_L2", "conv_L2", "fc_L2_w100", "fc_L2_wd"):
        problem, theta = _setup(label, "regression", d, n)
        lr = 1e-4
        reference = _torch_reference_step(problem, theta, lr)
        for backend in ("numba", "torch"):
            solver = GradientDescent(lr=lr, steps=steps, checkpoints=2, backend=backend)
            ours = _best(lambda s=solver, p=problem, t=theta: s.run(p, t)) / steps
            theirs = _best(lambda ref=reference: [ref() for _ in range(steps)]) / steps
            peak = _peak_mb(lambda s=solver, p=problem, t=theta: s.run(p, t))
            engine = "torch" if backend == "torch" else "operator" if problem.network.structured else "numba"
            yield f"{label}/regression/gd_{engine}", ours, f"{theirs:.3g}", ours / theirs, peak


def _reference_flow(problem, theta, target, cap):
    from scipy.integrate import solve_ivp

    velocity = Velocity(problem)
    deadline = time.perf_counter() + cap

    def rhs(t, th):
        if time.perf_counter() > deadline:
            raise TimeoutError
        return velocity(th)[0]

    start = time.perf_counter()
    try:
        solve_ivp(
            rhs, (-problem.log_loss(theta), -target), theta, method=_reference_method(theta.size), rtol=1e-7, atol=1e-12
        )
    except TimeoutError:
        return None
    return time.perf_counter() - start


def _reference_method(P: int) -> str:
    """LSODA, which allocates a dense P x P Jacobian up front (fc of width 100 at d = 1000: 75 GiB), up to
    LSODA_PARAMS parameters; RK45 beyond."""
    return "LSODA" if P <= LSODA_PARAMS else "RK45"


LSODA_PARAMS = 5000


def flow_cases(d, n, cap):
    for task, target in (("regression", None), ("classification", -1e6)):
        for label in NETWORKS:
            if task == "classification" and label in REGRESSION_ONLY:
                continue
            problem, theta = _setup(label, task, d, n)
            solver = GradientFlow(log_loss_target=target)
            start = time.perf_counter()
            (run,) = solver.run(problem, theta)
            ours = time.perf_counter() - start
            peak = _peak_mb(lambda s=solver, p=problem, t=theta: s.run(p, t))
            theirs = _reference_flow(problem, theta, solver.target(problem), cap)
            shown = f">{cap:g}" if theirs is None else f"{theirs:.3g}"
            ratio = ours / (theirs if theirs is not None else cap)
            shown += f" reference={_reference_method(theta.size)}"
            yield f"{label}/{task}/flow({run.status})", ours, shown, ratio, peak


def deep_cases(d, n, target=-1e10):
    for label in NETWORKS:
        if label in REGRESSION_ONLY:
            continue
        problem, theta = _setup(label, "classification", d, n)
        solver = GradientFlow(log_loss_target=target)
        start = time.perf_counter()
        (run,) = solver.run(problem, theta)
        ours = time.perf_counter() - start
        peak = _peak_mb(lambda s=solver, p=problem, t=theta: s.run(p, t))
        yield f"{label}/classification_to_{target:g}/flow({run.status})", ours, "na", None, peak


def batched_cases(d, n, runs, device):
    """A sweep's flows as one batch on torch (``backend: torch``: the explicit phase batched on ``device``, each run
    then on the host's Radau or slow manifold) against the same runs one after another on the default backend, with
    the largest difference of their betas over the levels, relative to beta's norm. peak_mb: the GPU's peak, na on
    the cpu (torch's tensors are not traced by tracemalloc)."""
    for task, target in (("regression", None), ("classification", -1e6)):
        for label in NETWORKS:
            if label in REGRESSION_ONLY:
                continue
            problem, _ = _setup(label, task, d, n)
            thetas = np.stack(
                [initialize("random", problem.network, problem.X, alpha=ALPHA, seed=seed) for seed in range(runs)]
            )
            solver = GradientFlow(log_loss_target=target)
            batched = GradientFlow(log_loss_target=target, backend="torch", device=device)
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            ours = batched.run(problem, thetas)
            seconds = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
            start = time.perf_counter()
            theirs = solver.run(problem, thetas)
            reference = time.perf_counter() - start
            apart = max(
                float(np.max(np.linalg.norm(a.beta - b.beta, axis=1) / np.linalg.norm(b.beta, axis=1)))
                for a, b in zip(ours, theirs)
            )
            statuses = ",".join(sorted({run.status for run in ours}))
            yield (
                f"{label}/{task}/flow_torch_{device}_x{runs}({statuses})",
                seconds,
                f"{reference:.3g} beta_apart={apart:.2g}",
                seconds / reference,
                peak,
            )


def theory_cases(d, n):
    """The predict jobs' programs at this scale, on sparse-teacher data (classification) and Woodworth's sparse
    regression: each the best of three, unmemoised. The DFT-domain l1 program beside the same program with the dense
    S = F (cvxpy/Clarabel, as it was solved before ``dft_l1_max_margin``)."""
    from implicit_bias.decompositions import dft_matrix
    from implicit_bias.theory import classification as mm
    from implicit_bias.theory import regression

    data = random_dataset("sparse_classification", n=n, d=d, seed=0)
    X, y = data.X, data.y
    programs = {
        "l2_max_margin": (lambda: mm.l2_max_margin.__wrapped__(X, y), None),
        "l1_max_margin": (lambda: mm.transformed_l1_max_margin.__wrapped__(X, y, np.eye(d)), None),
        "dft_l1_max_margin": (
            lambda: mm.dft_l1_max_margin(X, y),
            lambda: mm._transformed_l1_max_margin(X, y, dft_matrix(d)),
        ),
    }
    sparse = random_dataset("sparse_regression", n=n, d=d, seed=0)
    for L in (2, 3):
        programs[f"theorem4_rho_L{L}"] = (
            lambda L=L: regression.theorem4_rho(sparse.X, sparse.y, np.eye(d), np.ones(d), alpha=0.01, L=L),
            None,
        )
    for name, (ours, reference) in programs.items():
        seconds = _best(ours)
        theirs = None if reference is None else _best(reference, repeats=1)
        peak = _peak_mb(ours)
        yield (
            f"theory/{name}",
            seconds,
            "na" if theirs is None else f"{theirs:.3g}",
            None if theirs is None else seconds / theirs,
            peak,
        )


def main():
    global ALPHA
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=1000)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--alpha", type=float, default=ALPHA, help="init scale of every case")
    parser.add_argument("--cases", default="gd,flow,deep,theory")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds a reference flow may take")
    parser.add_argument("--runs", type=int, default=4, help="runs in a batch (batched)")
    parser.add_argument("--device", default="cpu", help="torch device of the batch (batched)")
    args = parser.parse_args()
    ALPHA = args.alpha
    groups = {
        "gd": lambda: gd_cases(args.d, args.n),
        "flow": lambda: flow_cases(args.d, args.n, args.cap),
        "deep": lambda: deep_cases(args.d, args.n),
        "theory": lambda: theory_cases(args.d, args.n),
        "batched": lambda: batched_cases(args.d, args.n, args.runs, args.device),
    }
    for name in args.cases.split(","):
        for case, seconds, reference, ratio, peak in groups[name]():
            print(
                f"scale case={case} d={args.d} n={args.n} alpha={ALPHA:g} seconds={seconds:.3g} reference_seconds={reference} "
                f"ratio={'na' if ratio is None else f'{ratio:.3g}'} peak_mb={'na' if peak is None else f'{peak:.0f}'}",
                flush=True,
            )


if __name__ == "__main__":
    main()
