"""Benchmark: the whole default config through Snakemake, cold and warm, against its floor.

In a scratch copy of the repository (its own results/ and an empty NUMBA_CACHE_DIR), runs
``snakemake --cores 2`` twice from empty results: cold (numba compiles) and warm (its cache full);
then the floor: the same jobs (the shell commands a dry run prints) called one after another inside
one Python process, so that interpreter start-up, imports and kernel loading are paid once. CPU
seconds are the children's user + system time of the warm run.
Last line: ``pipeline cold_seconds=<s> warm_seconds=<s> cpu_seconds=<s> floor_seconds=<s> ratio=<warm/floor>``.
Usage: python benchmarks/pipeline.py [--cores 2] [--keep DIR]
"""

import argparse
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = (
    "dataset",
    "compile",
    "predict",
    "train",
    "check",
    "summarize",
    "figures",
    "report",
    "gate",
)  # a topological order


def copy_repository(target: Path):
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():  # profiles -> workflow/profiles
            (target / name).symlink_to((ROOT / name).readlink())
        else:
            shutil.copy2(ROOT / name, target / name)


def snakemake(workdir: Path, env: dict, *args) -> tuple[float, float, str]:
    """(wall seconds, children's CPU seconds, stdout) of one snakemake call."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(["snakemake", *args], cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def job_commands(dry_run: str) -> list[list[str]]:
    """The implicit_bias command lines of a printed dry run, as argument lists in stage order."""
    commands = []
    for line in dry_run.splitlines():
        line = line.strip()
        if "python -m implicit_bias" not in line:
            continue
        line = re.sub(r"^.*?python -m implicit_bias", "", line).split(" > ")[0]
        commands.append(shlex.split(line))
    return sorted(commands, key=lambda c: STAGES.index(c[0]) if c[0] in STAGES else len(STAGES))


def floor(workdir: Path, commands) -> float:
    """Every job's command inside this one process (results written to a fresh folder)."""
    os.chdir(workdir)
    sys.path.insert(0, str(workdir / "src"))
    from implicit_bias.cli import main

    start = time.perf_counter()
    for args in commands:
        code = main(["-q", *args])
        if code not in (0, None) and args[0] != "gate":
            sys.exit(f"in-process {' '.join(args[:2])} failed with {code}")
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="2")
    parser.add_argument("--keep", help="use and keep this folder instead of a temporary one")
    args = parser.parse_args()
    scratch = Path(args.keep or tempfile.mkdtemp(prefix="pipeline-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    copy_repository(scratch)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(scratch / "numba-cache"), "PYTHONPATH": str(scratch / "src")}
    cold, _, _ = snakemake(scratch, env, "--cores", args.cores)
    print(f"cold: {cold:.1f} s", flush=True)
    shutil.rmtree(scratch / "results")
    warm, cpu, _ = snakemake(scratch, env, "--cores", args.cores)
    print(f"warm: {warm:.1f} s wall, {cpu:.1f} CPU-s", flush=True)
    commands = job_commands(snakemake(scratch, env, "-n", "-p", "--forceall")[2])
    shutil.rmtree(scratch / "results")
    os.environ.update(env)
    seconds = floor(scratch, commands)
    print(f"floor: {len(commands)} jobs in one process in {seconds:.1f} s", flush=True)
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"pipeline cold_seconds={cold:.1f} warm_seconds={warm:.1f} cpu_seconds={cpu:.1f} "
        f"floor_seconds={seconds:.1f} ratio={warm / seconds:.2f}"
    )


if __name__ == "__main__":
    main()
