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


def _one_of(what: str, choices, text: str) -> str:
    """``text`` if it is one of ``choices``, else an argparse error with the closest match and the list."""
    import difflib

    if text in choices:
        return text
    close = difflib.get_close_matches(text, choices, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise argparse.ArgumentTypeError(f"unknown {what} {text!r}; {hint}choose from {', '.join(choices)}")


def _claim_id(text: str) -> str:
    """--claims: a claim id of the registry (imported only when the verb is given claims)."""
    from .theory.registry import CLAIM_IDS

    return _one_of("claim", CLAIM_IDS, text)


def _figure_kind(text: str) -> str:
    from .figures import FIGURES

    return _one_of("figure", FIGURES, text)


def _seed(text: str) -> int:
    """--seed: an integer in [0, 2^63), what numpy's generators and the run files' int64 attributes hold."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= seed < 2**63:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, 2^63), got {seed}")
    return seed


def _init(text: str):
    """--init: a scheme name, or a JSON object of given directions."""
    return _json(text) if text.lstrip().startswith("{") else text


def _add_dataset(verbs):
    p = verbs.add_parser(
        "dataset",
        help="write a dataset file (the paper's, or data given inline)",
        description="Write a dataset NetCDF file: X (sample, feature), y (sample), attribute task.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--paper", choices=["paper_regression", "paper_classification"], help="a dataset of Section 6")
    source.add_argument("--inline", type=_json, metavar="JSON", help='{"task": ..., "X": [[...]], "y": [...]}')
    source.add_argument(
        "--spec", type=_json, metavar="JSON", help='an experiment\'s task and data: {"task": ..., "data": {...}}'
    )
    p.add_argument("--experiment", default="inline", help="experiment name (names the dataset)")
    p.add_argument("--output", required=True, help="path of the .nc file to write")
    p.set_defaults(handler=_dataset)


def _dataset(args):
    from .datasets import GENERATORS, Dataset

    if args.paper:
        dataset = GENERATORS[args.paper]()
    elif args.spec:  # checked as when the workflow loaded: a data file may have changed since
        from .experiments import validate_data

        dataset = validate_data(args.experiment, args.spec)
    else:
        spec = args.inline
        dataset = Dataset(spec.get("X"), spec.get("y"), spec.get("task"), spec.get("name", "inline"))
    dataset.write(args.output)
    log.info("wrote %s (%s, n = %d, d = %d)", args.output, dataset.task, *dataset.X.shape)


def _add_config(verbs):
    p = verbs.add_parser(
        "config",
        help="write the merged configuration beside the results (YAML)",
        description="Write the workflow's merged configuration (given as JSON) to a YAML file.",
    )
    p.add_argument("--json", required=True, type=_json, metavar="JSON", help="the configuration")
    p.add_argument("--output", required=True, help="path of the .yaml file to write")
    p.set_defaults(handler=_config)


def _config(args):
    import yaml

    from .files import atomic_write

    def write(path):
        with open(path, "w") as handle:
            yaml.safe_dump(args.json, handle, sort_keys=False)

    atomic_write(args.output, write)
    log.info("wrote %s", args.output)


def _add_compile(verbs):
    p = verbs.add_parser(
        "compile",
        help="build the training kernels ahead of time (once, before the training jobs)",
        description=(
            "Build the training kernels into an extension module (numba.pycc) beside OUTPUT and describe it "
            "there, for train --kernels: a training job then never imports numba. Where no build can be made "
            "(no C compiler), compiles numba's kernels into its cache instead."
        ),
    )
    p.add_argument("--output", required=True, help="path of the JSON manifest to write (the module goes beside it)")
    p.set_defaults(handler=_compile)


def _compile(args):
    from pathlib import Path

    from .training import compile_kernels, compiled

    start = time.perf_counter()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    described = compiled.build(args.output, log=log.warning, say=log.info, fallback=compile_kernels)
    what = described["module"] or "numba's cache (no ahead-of-time build)"
    log.info("kernels ready in %.1f s: %s; wrote %s", time.perf_counter() - start, what, args.output)


def _add_train(verbs):
    p = verbs.add_parser(
        "train",
        help="train one (architecture, alpha, seed) and write its run file",
        description="Train one run and write a self-describing NetCDF run file (docs/results.md).",
    )
    _run_arguments(p)
    p.add_argument("--config", type=_json, metavar="JSON", help="the experiment's config, stored in the run file")
    p.add_argument(
        "--claims",
        nargs="*",
        default=[],
        help="claims the run serves: a classification flow continues, down to its log_loss_cap, while one is "
        "inconclusive or passes only by extrapolation",
    )
    p.add_argument(
        "--predictions",
        metavar="FILE",
        help="the experiment's predictions file (from predict), for --claims: spares solving the claims' "
        "programs again (default: predict here)",
    )
    p.add_argument(
        "--kernels",
        metavar="MANIFEST",
        help="the manifest `compile` wrote: train with that ahead-of-time build (default: numba's kernels)",
    )
    p.add_argument("--output", required=True, help="path of the run .nc file to write")
    p.set_defaults(handler=_train)


def _train(args):
    from .datasets import Dataset
    from .runs import train_run

    dataset = Dataset.read(args.dataset)
    decide = None
    if args.claims:  # only then does training run claim code (see sources.py)
        from .deciding import decider

        if args.predictions:
            from .predictions import run_predictions

            predicted, init = run_predictions(
                args.predictions,
                architecture=args.architecture,
                alpha=args.alpha,
                seed=args.seed,
                dataset_sha256=dataset.content_sha256,
            )
            decide = decider(args.claims, predicted, init)
        else:
            decide = decider(args.claims)
    if args.kernels:
        from .training import compiled

        built = compiled.use(args.kernels)
        log.info("kernels: %s", "ahead-of-time build" if built else "numba's (the manifest names no build)")
    log.info(
        "training %s alpha=%g seed=%d init=%s solver=%s on %s",
        args.architecture,
        args.alpha,
        args.seed,
        args.init,
        args.solver,
        args.dataset,
    )
    start = time.perf_counter()
    run = train_run(
        dataset,
        architecture=args.architecture,
        init=args.init,
        alpha=args.alpha,
        seed=args.seed,
        solver=args.solver,
        experiment=args.experiment,
        config=args.config,
        decide=decide,
        log=log.info,
    )
    run.write(args.output)
    final = run["log_loss"][-1]
    log.info(
        "%s: %s (final log L = %.6g; %s) in %.2f s; wrote %s",
        run.attrs["status"],
        run.attrs["reason"],
        final,
        run.attrs["stop_reason"],
        time.perf_counter() - start,
        args.output,
    )


def _add_predict(verbs):
    p = verbs.add_parser(
        "predict",
        help="what each claim predicts for every run of an experiment",
        description="Write an experiment's predictions file (one NetCDF group per run, named like its run file): "
        "for each claim, whether it applies and its predicted limit.",
    )
    p.add_argument("--dataset", required=True, help="the experiment's dataset .nc file")
    p.add_argument("--experiment", required=True, help="experiment name")
    p.add_argument("--spec", required=True, type=_json, metavar="JSON", help="the experiment's config entry")
    p.add_argument("--output", required=True, help="path of the predictions .nc file to write")
    p.set_defaults(handler=_predict)


def _run_arguments(p):
    p.add_argument("--dataset", required=True, help="dataset .nc file")
    p.add_argument(
        "--architecture",
        required=True,
        type=_json,
        metavar="JSON",
        help='e.g. {"name": "conv", "depth": 2, "filters": [3]}',
    )
    p.add_argument(
        "--init",
        required=True,
        type=_init,
        help="a scheme (paper, theorem2..6, corollary7, uniform, random, full_support), or given directions as JSON: "
        '{"vectors": [[...], ...]} or {"file": "v.npz"} (arrays v_1..v_L)',
    )
    p.add_argument("--alpha", required=True, type=float, help="initial scale alpha > 0")
    p.add_argument("--seed", required=True, type=_seed, help="seed of the initial directions, 0 <= seed < 2^63")
    p.add_argument(
        "--solver",
        required=True,
        type=_json,
        metavar="JSON",
        help='e.g. {"name": "gd", "lr": 1e-3, "steps": 5000} or {"name": "flow"}',
    )
    p.add_argument("--experiment", default="adhoc", help="experiment name, stored in the file")


def _predict(args):
    from .datasets import Dataset
    from .predictions import predict_experiment, write_predictions
    from .training import make_solver

    solver = make_solver(args.spec["solver"]).settings()
    predictions = predict_experiment(Dataset.read(args.dataset), args.spec, args.experiment, solver, log=log.info)
    write_predictions(predictions, args.output, args.experiment)
    log.info("wrote %s (%d runs)", args.output, len(predictions))


def _add_check(verbs):
    p = verbs.add_parser(
        "check",
        help="compare run files with their predictions; write one row per check (CSV)",
        description="Check runs against their predictions (paired by architecture label, alpha and seed).",
    )
    p.add_argument("--dataset", help="dataset .nc file (not needed for theory-only claims alone)")
    p.add_argument("--runs", nargs="*", default=[], help="run .nc files")
    p.add_argument("--predictions", help="the experiment's predictions .nc file (from predict)")
    p.add_argument(
        "--claims",
        required=True,
        nargs="+",
        type=_claim_id,
        help="claim ids (python -m implicit_bias claims lists them)",
    )
    p.add_argument(
        "--depths", nargs="*", type=int, help="depths for theory-only claims (default: the runs' depths, or 2..6)"
    )
    p.add_argument("--output", required=True, help="path of the CSV file to write")
    p.add_argument("--tails", help="path of a NetCDF file for the series behind the tail verdicts (tail_fits figure)")
    p.set_defaults(handler=_check)


def _check(args):
    from collections import Counter

    from .checking import check_files, tails_record, write_checks

    rows = check_files(
        args.claims, dataset=args.dataset, runs=args.runs, predictions=args.predictions, depths=args.depths
    )
    write_checks(rows, args.output)
    counts = Counter(r.status for r in rows)
    log.info("wrote %s: %d rows (%s)", args.output, len(rows), ", ".join(f"{k} {v}" for k, v in counts.items()))
    if args.tails:
        tails_record(rows, rows[0].experiment if rows else "none").write(args.tails)
        log.info("wrote %s", args.tails)


def _add_summarize(verbs):
    p = verbs.add_parser(
        "summarize",
        help="stack an experiment's runs and predictions into one NetCDF file",
        description="Write summary.nc with dims (architecture, alpha, seed, checkpoint, coef).",
    )
    p.add_argument("--experiment", required=True)
    p.add_argument("--dataset", required=True, help="the experiment's dataset .nc file")
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--predictions", help="the experiment's predictions .nc file (from predict)")
    p.add_argument("--config", type=_json, metavar="JSON", help="the experiment's config entry, stored in the file")
    p.add_argument("--output", required=True)
    p.set_defaults(handler=_summarize)


def _summarize(args):
    from .datasets import Dataset
    from .summaries import summarize

    summary = summarize(
        args.runs, args.predictions, experiment=args.experiment, config=args.config, dataset=Dataset.read(args.dataset)
    )
    summary.write(args.output)
    log.info("wrote %s: %s", args.output, summary.sizes())


def _add_figures(verbs):
    p = verbs.add_parser(
        "figures",
        help="draw one of an experiment's figures (PNG, PDF) from its summary",
        description="Figures: trajectories, alpha_sweep, direction_error, agreement, tail_fits, forest.",
    )
    p.add_argument("--summary", required=True)
    p.add_argument("--name", required=True, help="experiment name (in the figure's title)")
    p.add_argument(
        "--kind",
        required=True,
        type=_figure_kind,
        help="which figure: trajectories, alpha_sweep, direction_error, agreement, tail_fits or forest",
    )
    p.add_argument("--tails", help="the experiment's tails file from check (for tail_fits)")
    p.add_argument("--png", help="path of the PNG file to write")
    p.add_argument("--pdf", help="path of the PDF file to write")
    p.set_defaults(handler=_figures)


def _figures(args):
    from .figures import draw, save
    from .netcdf import read_netcdf

    paths = [path for path in (args.png, args.pdf) if path]
    if not paths:
        raise ValueError("figures: give --png and/or --pdf, the files to write")
    tails = read_netcdf(args.tails) if args.tails else None
    save(draw(read_netcdf(args.summary), args.name, args.kind, tails=tails), paths)
    log.info("wrote %s", ", ".join(paths))


def _add_report(verbs):
    p = verbs.add_parser(
        "report",
        help="the verification report: claims.csv, report.md, report.html",
        description="Collect every check into claims.csv and write the report with a verdict per claim.",
    )
    p.add_argument("--checks", nargs="+", required=True, help="checks CSV files")
    p.add_argument("--figures", nargs="*", default=[])
    p.add_argument("--benchmarks", nargs="*", default=[], help="Snakemake benchmark files of the training jobs")
    p.add_argument(
        "--summaries", nargs="*", default=[], help="the experiments' summary.nc (to list runs that did not finish)"
    )
    p.add_argument("--config", help="the merged configuration (run_config.yaml), shown in report.html")
    p.add_argument("--claims", required=True, help="path of claims.csv to write (every check and control)")
    p.add_argument("--markdown", required=True, help="path of report.md to write")
    p.add_argument("--html", required=True, help="path of report.html to write (links are relative to it)")
    p.set_defaults(handler=_report)


def _report(args):
    from .report import write_report

    counts = write_report(
        args.checks,
        args.figures,
        args.benchmarks,
        claims=args.claims,
        markdown=args.markdown,
        html=args.html,
        summary_paths=args.summaries,
        merged_config=args.config,
    )
    log.info(
        "wrote %s, %s and %s: %s (%d checks, %d failed, %d inconclusive)",
        args.claims,
        args.markdown,
        args.html,
        counts["headline"],
        counts["checks"],
        counts["failed"],
        counts["inconclusive"],
    )


def _add_claims(verbs):
    p = verbs.add_parser(
        "claims",
        help="list the claims the pipeline checks, or write the claim catalog (docs/claims.md)",
        description=(
            "Without --markdown: one line per claim (id, where in the paper, statement). With --markdown: the "
            "claim catalog page, every claim's setting, premise, metric, tolerance, controls and the experiments "
            "of the given configs that test it."
        ),
    )
    p.add_argument("--markdown", action="store_true", help="write the catalog page instead of the list")
    p.add_argument(
        "--config", action="append", default=[], metavar="YAML", help="a config whose experiments to list (repeatable)"
    )
    p.add_argument("--output", help="file to write (default: standard output)")
    p.set_defaults(handler=_claims)


def _claims(args):
    from pathlib import Path

    from .catalog import markdown
    from .files import atomic_write
    from .theory.registry import CLAIMS

    if args.markdown:
        import yaml

        configs = {}
        for path in args.config:
            try:
                configs[path] = yaml.safe_load(Path(path).read_text()) or {}
            except yaml.YAMLError as error:
                raise ValueError(f"{path}: not valid YAML ({error})") from None
        text = markdown(configs)
    else:
        text = "".join(f"{claim.id:22} {claim.where}: {claim.statement}\n" for claim in CLAIMS.values())
    if args.output is None:
        sys.stdout.write(text)
        return
    atomic_write(args.output, lambda path: Path(path).write_text(text))
    log.info("wrote %s", args.output)


def _add_gate(verbs):
    p = verbs.add_parser(
        "gate",
        help="exit non-zero when any check failed (for CI)",
        description="Read claims.csv; exit 1 if any check failed, listing them.",
    )
    p.add_argument("--claims-table", required=True)
    p.set_defaults(handler=_gate)


def _gate(args):
    from .report import gate

    failed = gate(args.claims_table)
    for line in failed:
        print(line, file=sys.stderr)
    if failed:
        raise SystemExit(1)


def parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(
        prog="python -m implicit_bias",
        description="Reproduce and verify the implicit-bias theorems of Yun, Krishnan & Mobahi (ICLR 2021).",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    _add_dataset(verbs)
    _add_config(verbs)
    _add_compile(verbs)
    _add_train(verbs)
    _add_predict(verbs)
    _add_check(verbs)
    _add_summarize(verbs)
    _add_figures(verbs)
    _add_report(verbs)
    _add_gate(verbs)
    _add_claims(verbs)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        args.handler(args)
    except (ValueError, OSError) as error:  # bad input (ConfigError is a ValueError) and files, named; bugs still raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
