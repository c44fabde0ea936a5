"""Writing and reading self-describing NetCDF files, atomically.

Two ways to the same files: xarray datasets (``write_netcdf``, ``read_netcdf``; the figures read the
summaries so), and plain ``Record``s written and read with netCDF4 alone (``write_records``,
``read_records`` for groups), for the jobs that must start fast (all the others: importing xarray and
pandas cost them more than their computation).
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
    """A NetCDF file's (or group's) content without xarray: variables ``name -> (dims, values, attrs)`` —
    floats, integers or strings — and global attributes. A dimension is indexed 0..n-1 (as xarray
    writes it) unless a variable of its own name labels it (e.g. ``claim``, strings)."""

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

        coords = {dim: np.arange(size) for dim, size in self.sizes().items() if dim not in self.variables}
        return xr.Dataset(dict(self.variables), coords=coords, attrs=dict(self.attrs))

    def write(self, path) -> Path:
        """Write with netCDF4 alone, compressed, provenance added, atomically."""
        return write_records({}, path, root=self)

    def _define_in(self, group) -> list:
        """Define this record's dimensions and variables in ``group``; returns the (variable, values)
        to write once every group is defined (see write_records)."""
        writes = []
        for dim, size in self.sizes().items():
            group.createDimension(dim, size)
            if dim not in self.variables:
                writes.append((group.createVariable(dim, "i8", (dim,)), np.arange(size)))
        for name, (dims, values, attrs) in self.variables.items():
            values = np.asarray(values)
            if values.dtype.kind in "OUS":  # variable-length strings: netCDF cannot compress them
                variable = group.createVariable(name, str, dims)
                values = values.astype(object)
            elif values.dtype.kind in "iub":
                variable = group.createVariable(
                    name, values.dtype if values.dtype.kind != "b" else "i1", dims, **COMPRESSION
                )
            else:
                variable = group.createVariable(name, "f8", dims, fill_value=np.nan, **COMPRESSION)
                values = values.astype(np.float64)
            variable.setncatts(netcdf_attrs(attrs))
            writes.append((variable, values))
        group.setncatts(netcdf_attrs(self.attrs))
        return writes

    @classmethod
    def read(cls, path) -> Record:
        """A file's variables and attributes (written either way), with netCDF4 alone."""
        import netCDF4

        with _named_errors(path), netCDF4.Dataset(path) as nc:
            return cls._read_from(nc)

    @classmethod
    def _read_from(cls, group) -> Record:
        group.set_auto_mask(False)
        variables = {}
        for name, variable in group.variables.items():
            if name in group.dimensions and variable.dtype != str and variable.dtype.kind in "iu":
                continue  # the 0..n-1 index of a dimension
            values = variable[...]
            if variable.dtype == str:
                values = np.asarray(values, dtype=object).reshape(variable.shape)
            variables[name] = (variable.dimensions, values, {k: variable.getncattr(k) for k in variable.ncattrs()})
        return cls(variables, {k: group.getncattr(k) for k in group.ncattrs()})


def write_records(groups: dict[str, Record], path, attrs: dict | None = None, *, root: Record | None = None) -> Path:
    """Write ``root`` (or an empty root with ``attrs``) and one NetCDF group per record, with netCDF4 alone,
    compressed, provenance on the root, atomically."""
    import netCDF4

    root = root if root is not None else Record({}, dict(attrs or {}))

    def write(tmp):
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
            # Define everything, then write: a write after a definition makes netCDF flush the
            # file's metadata, so interleaving them costs a flush per variable (4x the time for a
            # predictions file's 36 groups).
            writes = root._define_in(nc)
            nc.setncatts(netcdf_attrs(provenance()))
            for name, record in groups.items():
                writes += record._define_in(nc.createGroup(name))
            for variable, values in writes:
                variable[...] = values

    return atomic_write(path, write)


def read_records(path, names=None) -> dict[str, Record]:
    """The groups of a file (``write_records``, or xarray, wrote it) by name — all, or those
    of ``names`` the file has — with netCDF4 alone."""
    import netCDF4

    with _named_errors(path), netCDF4.Dataset(path) as nc:
        wanted = nc.groups if names is None else [name for name in names if name in nc.groups]
        return {name: Record._read_from(nc.groups[name]) for name in wanted}


def write_netcdf(ds: xr.Dataset, path) -> Path:
    """Write ``ds`` with zlib compression and provenance attributes, atomically.

    The file appears under its name only once complete (temporary file in the same folder, then
    rename), so an interrupted job never leaves a file that reads as a valid result.
    """
    ds = ds.copy()
    ds.attrs = netcdf_attrs({**ds.attrs, **provenance()})
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, encoding=_compressed(ds), engine="netcdf4"))


def read_netcdf(path) -> xr.Dataset:
    """Load a whole file into memory and close it; a missing or unreadable file is named."""
    import xarray as xr

    with _named_errors(path):
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()


@contextmanager
def _named_errors(path):
    try:
        yield
    except FileNotFoundError:
        raise
    except (OSError, RuntimeError, ValueError) as error:  # netCDF4: "NetCDF: HDF error", "Unknown file format"
        raise OSError(f"could not read {path}: {error} (a corrupted or truncated file? delete it and rerun)") from error
