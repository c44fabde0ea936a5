"""Writing and reading self-describing NetCDF files, atomically."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

from .files import atomic_write
from .provenance import provenance


def netcdf_attrs(attrs: dict) -> dict:
    """NetCDF attributes cannot be bool, None, dict or list: store flags as 0/1, the rest as JSON."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, bool):
            out[key] = int(value)
        elif value is None:
            out[key] = "none"
        elif isinstance(value, (dict, list, tuple)):
            out[key] = json.dumps(value, sort_keys=True)
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out


def _compressed(ds: xr.Dataset) -> dict:
    return {name: {"zlib": True, "complevel": 4} for name in ds.data_vars}


def write_netcdf(ds: xr.Dataset, path) -> Path:
    """Write ``ds`` with zlib compression and provenance attributes, atomically.

    The file appears under its name only once complete (temporary file in the same folder, then
    rename), so an interrupted job never leaves a file that reads as a valid result.
    """
    ds = ds.copy()
    ds.attrs = netcdf_attrs({**ds.attrs, **provenance()})
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, encoding=_compressed(ds), engine="netcdf4"))


def write_netcdf_groups(groups: dict[str, xr.Dataset], path, attrs: dict | None = None) -> Path:
    """Write one NetCDF group per dataset (datasets of different shapes in one file), atomically;
    ``attrs`` and provenance go on the root."""

    def write(tmp):
        xr.Dataset(attrs=netcdf_attrs({**(attrs or {}), **provenance()})).to_netcdf(tmp, mode="w", engine="netcdf4")
        for name, ds in groups.items():
            ds = ds.copy()
            ds.attrs = netcdf_attrs(ds.attrs)
            ds.to_netcdf(tmp, mode="a", group=name, encoding=_compressed(ds), engine="netcdf4")

    return atomic_write(path, write)


def read_netcdf(path) -> xr.Dataset:
    """Load a whole file into memory and close it; a missing or unreadable file is named."""
    with _named_errors(path):
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()


def read_netcdf_groups(path) -> dict[str, xr.Dataset]:
    """The groups of a file that ``write_netcdf_groups`` wrote, by name (not the root)."""
    with _named_errors(path):
        groups = xr.open_groups(path, engine="netcdf4")
        try:
            return {name.strip("/"): ds.load() for name, ds in groups.items() if name != "/"}
        finally:
            for ds in groups.values():
                ds.close()


@contextmanager
def _named_errors(path):
    try:
        yield
    except FileNotFoundError:
        raise
    except (OSError, RuntimeError, ValueError) as error:  # netCDF4: "NetCDF: HDF error", "Unknown file format"
        raise OSError(f"could not read {path}: {error} (a corrupted or truncated file? delete it and rerun)") from error
