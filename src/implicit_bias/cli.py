"""Command line: ``python -m implicit_bias <verb> ...``; every verb has ``--help``.

Rules of the Snakemake workflow call these verbs; everything they do also runs by hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

log = logging.getLogger("implicit_bias")


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error.msg}): {text!r}") from None


def _add_dataset(verbs):
    p = verbs.add_parser(
        "dataset",
        help="write a dataset file (the paper's, or data given inline)",
        description="Write a dataset NetCDF file: X (sample, feature), y (sample), attribute task.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--paper", choices=["paper_regression", "paper_classification"], help="a dataset of Section 6")
    source.add_argument("--inline", type=_json, metavar="JSON", help='{"task": ..., "X": [[...]], "y": [...]}')
    p.add_argument("--output", required=True, help="path of the .nc file to write")
    p.set_defaults(handler=_dataset)


def _dataset(args):
    from .datasets import GENERATORS, Dataset

    if args.paper:
        dataset = GENERATORS[args.paper]()
    else:
        spec = args.inline
        dataset = Dataset(spec.get("X"), spec.get("y"), spec.get("task"), spec.get("name", "inline"))
    dataset.write(args.output)
    log.info("wrote %s (%s, n = %d, d = %d)", args.output, dataset.task, *dataset.X.shape)


def _add_train(verbs):
    p = verbs.add_parser(
        "train",
        help="train one (architecture, alpha, seed) and write its run file",
        description="Train one run and write a self-describing NetCDF run file (docs/results.md).",
    )
    p.add_argument("--dataset", required=True, help="dataset .nc file (see the dataset verb)")
    p.add_argument("--architecture", required=True, type=_json, metavar="JSON", help='e.g. {"name": "conv", "depth": 2, "filters": [3]}')
    p.add_argument("--init", required=True, help="init scheme: paper, theorem2..6, corollary7, random")
    p.add_argument("--alpha", required=True, type=float, help="initial scale alpha > 0")
    p.add_argument("--seed", required=True, type=int, help="seed of the initial directions")
    p.add_argument("--solver", required=True, type=_json, metavar="JSON", help='e.g. {"name": "gd", "lr": 1e-3, "steps": 5000} or {"name": "flow"}')
    p.add_argument("--experiment", default="adhoc", help="experiment name, stored in the run file")
    p.add_argument("--config", type=_json, metavar="JSON", help="the experiment's config, stored in the run file")
    p.add_argument("--output", required=True, help="path of the run .nc file to write")
    p.set_defaults(handler=_train)


def _train(args):
    from .datasets import Dataset
    from .netcdf import write_netcdf
    from .runs import train_run

    dataset = Dataset.read(args.dataset)
    log.info("training %s alpha=%g seed=%d init=%s solver=%s on %s", args.architecture, args.alpha, args.seed, args.init, args.solver, args.dataset)
    start = time.perf_counter()
    run = train_run(
        dataset, architecture=args.architecture, init=args.init, alpha=args.alpha, seed=args.seed,
        solver=args.solver, experiment=args.experiment, config=args.config,
    )
    write_netcdf(run, args.output)
    final = run["log_loss"].values[-1]
    log.info("%s: %s (final log L = %.6g) in %.2f s; wrote %s", run.attrs["status"], run.attrs["reason"], final, time.perf_counter() - start, args.output)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m implicit_bias",
        description="Reproduce and verify the implicit-bias theorems of Yun, Krishnan & Mobahi (ICLR 2021).",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    _add_dataset(verbs)
    _add_train(verbs)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        args.handler(args)
    except (ValueError, KeyError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
