"""Helpers shared by the test suites (the workflow, Slurm and browser tests)."""

import subprocess
from pathlib import Path

import numpy as np
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "workflow" / "tiny_config.yaml"


def snakemake(workdir, *args, timeout=300):
    return subprocess.run(
        ["snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def job_counts(dry_run_output: str) -> dict:
    """The 'Job stats' table of a dry run as {rule: count}."""
    counts, inside = {}, False
    for line in dry_run_output.splitlines():
        if line.startswith("job ") and "count" in line:
            inside = True
            continue
        if inside:
            parts = line.split()
            if not parts or parts[0] == "total":
                break
            if parts[0].startswith("---"):
                continue
            counts[parts[0]] = int(parts[1])
    return counts


def netcdf_files(results: Path) -> list[Path]:
    return sorted(p.relative_to(results) for p in results.rglob("*.nc"))


def assert_same_data(a: Path, b: Path):
    """Every NetCDF file under a and b, every group of each: the same data variables bit for bit;
    attributes equal but for the creation time."""
    files = netcdf_files(a)
    assert files and files == netcdf_files(b)
    for name in files:
        x_groups, y_groups = xr.open_groups(a / name), xr.open_groups(b / name)
        assert set(x_groups) == set(y_groups), name
        for group in x_groups:
            x, y, where = x_groups[group], y_groups[group], f"{name}:{group}"
            assert set(x.data_vars) == set(y.data_vars), where
            for var in x.data_vars:
                u, v = x[var].values, y[var].values
                if u.dtype.kind == "f":
                    assert np.array_equal(u, v, equal_nan=True), (where, var)
                else:
                    assert np.array_equal(u, v), (where, var)
            strip = lambda attrs: {k: v for k, v in attrs.items() if k != "created_at"}  # noqa: E731
            assert strip(x.attrs) == strip(y.attrs), where
