"""Writing and reading self-describing NetCDF files, atomically.

Two ways to the same files: xarray datasets (``write_netcdf``, ``read_netcdf``), and plain ``Record``s
written and read with netCDF4 alone, for the jobs that must start fast (train, dataset: importing
xarray and pandas costs them more than their computation).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .files import atomic_write
from .provenance import provenance

if TYPE_CHECKING:
    import xarray as xr


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


COMPRESSION = {"zlib": True, "complevel": 4}


def _compressed(ds: xr.Dataset) -> dict:
    return {name: dict(COMPRESSION) for name in ds.data_vars}


@dataclass
class Record:
    """A NetCDF file's content without xarray: float variables ``name -> (dims, values, attrs)`` (each
    dimension indexed 0..n-1, as xarray writes it) and global attributes."""

    variables: dict[str, tuple[tuple[str, ...], np.ndarray, dict]]
    attrs: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.variables[name][1]

    def __contains__(self, name: str) -> bool:
        return name in self.variables

    def sizes(self) -> dict[str, int]:
        sizes = {}
        for name, (dims, values, _) in self.variables.items():
            for dim, size in zip(dims, np.shape(values), strict=True):
                if sizes.setdefault(dim, size) != size:
                    raise ValueError(f"{name}: dimension {dim} has length {size}, elsewhere {sizes[dim]}")
        return sizes

    def to_xarray(self) -> xr.Dataset:
        import xarray as xr

        coords = {dim: np.arange(size) for dim, size in self.sizes().items()}
        return xr.Dataset(dict(self.variables), coords=coords, attrs=dict(self.attrs))

    def write(self, path) -> Path:
        """Write with netCDF4 alone, compressed, provenance added, atomically."""
        import netCDF4

        sizes = self.sizes()

        def write(tmp):
            with netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
                for dim, size in sizes.items():
                    nc.createDimension(dim, size)
                    nc.createVariable(dim, "i8", (dim,))[:] = np.arange(size)
                for name, (dims, values, attrs) in self.variables.items():
                    variable = nc.createVariable(name, "f8", dims, fill_value=np.nan, **COMPRESSION)
                    variable.setncatts(attrs)
                    variable[:] = np.asarray(values, dtype=np.float64)
                nc.setncatts(netcdf_attrs({**self.attrs, **provenance()}))

        return atomic_write(path, write)

    @classmethod
    def read(cls, path) -> Record:
        """The float variables and attributes of a file (written either way), with netCDF4 alone."""
        import netCDF4

        with _named_errors(path), netCDF4.Dataset(path) as nc:
            nc.set_auto_mask(False)
            variables = {
                name: (variable.dimensions, variable[...], {k: variable.getncattr(k) for k in variable.ncattrs()})
                for name, variable in nc.variables.items()
                if name not in nc.dimensions and variable.dtype.kind == "f"
            }
            return cls(variables, {k: nc.getncattr(k) for k in nc.ncattrs()})


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

    import xarray as xr

    def write(tmp):
        xr.Dataset(attrs=netcdf_attrs({**(attrs or {}), **provenance()})).to_netcdf(tmp, mode="w", engine="netcdf4")
        for name, ds in groups.items():
            ds = ds.copy()
            ds.attrs = netcdf_attrs(ds.attrs)
            ds.to_netcdf(tmp, mode="a", group=name, encoding=_compressed(ds), engine="netcdf4")

    return atomic_write(path, write)


def read_netcdf(path) -> xr.Dataset:
    """Load a whole file into memory and close it; a missing or unreadable file is named."""
    import xarray as xr

    with _named_errors(path):
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()


def read_netcdf_groups(path) -> dict[str, xr.Dataset]:
    """The groups of a file that ``write_netcdf_groups`` wrote, by name (not the root)."""
    import xarray as xr

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
