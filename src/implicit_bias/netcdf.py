"""Writing and reading self-describing NetCDF files, atomically."""

from __future__ import annotations

import json
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


def write_netcdf(ds: xr.Dataset, path) -> Path:
    """Write ``ds`` with zlib compression and provenance attributes, atomically.

    The file appears under its name only once complete (temporary file in the same folder, then
    rename), so an interrupted job never leaves a file that reads as a valid result.
    """
    ds = ds.copy()
    ds.attrs = netcdf_attrs({**ds.attrs, **provenance()})
    encoding = {name: {"zlib": True, "complevel": 4} for name in ds.data_vars}
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, encoding=encoding, engine="netcdf4"))


def read_netcdf(path) -> xr.Dataset:
    """Load a whole file into memory and close it; a missing or unreadable file is named."""
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    except FileNotFoundError:
        raise
    except (OSError, RuntimeError, ValueError) as error:  # netCDF4: "NetCDF: HDF error", "Unknown file format"
        raise OSError(f"could not read {path}: {error} (a corrupted or truncated file? delete it and rerun)") from error
