"""Datasets: the paper's (Section 6) and data given inline; stored as NetCDF.

A dataset file holds ``X`` (sample, feature), ``y`` (sample) and the attribute ``task``; for deep
matrix sensing also ``basis`` (the sensors' common eigenbasis; X then holds eigenvalues).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from .netcdf import read_netcdf, write_netcdf
from .training.problem import TASKS


@dataclass(frozen=True, eq=False)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    task: str
    name: str = "inline"
    basis: np.ndarray | None = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        X, y = np.asarray(self.X, dtype=np.float64), np.asarray(self.y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"X must be n x d and y of length n; got X {X.shape}, y {y.shape}")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)

    def to_xarray(self) -> xr.Dataset:
        n, d = self.X.shape
        ds = xr.Dataset(
            {
                "X": (("sample", "feature"), self.X, {"long_name": "inputs x_i", "units": "1"}),
                "y": (("sample",), self.y, {"long_name": "targets y_i", "units": "1"}),
            },
            coords={"sample": np.arange(n), "feature": np.arange(d)},
            attrs={"task": self.task, "name": self.name},
        )
        if self.basis is not None:
            ds["basis"] = (("feature", "eigenvector"), self.basis, {"long_name": "sensors' eigenbasis", "units": "1"})
            ds = ds.assign_coords(eigenvector=np.arange(d))
        return ds

    def write(self, path):
        return write_netcdf(self.to_xarray(), path)

    @classmethod
    def read(cls, path) -> "Dataset":
        ds = read_netcdf(path)
        basis = ds["basis"].values if "basis" in ds else None
        return cls(ds["X"].values, ds["y"].values, ds.attrs["task"], ds.attrs.get("name", "inline"), basis)


def paper_regression() -> Dataset:
    """Section 6: one point x = [1, 2], y = 1."""
    return Dataset(np.array([[1.0, 2.0]]), np.array([1.0]), "regression", "paper_regression")


def paper_classification() -> Dataset:
    """Section 6: x_1 = [1, 2] (+1), x_2 = [0, -3] (-1)."""
    return Dataset(np.array([[1.0, 2.0], [0.0, -3.0]]), np.array([1.0, -1.0]), "classification", "paper_classification")


GENERATORS = {"paper_regression": paper_regression, "paper_classification": paper_classification}
