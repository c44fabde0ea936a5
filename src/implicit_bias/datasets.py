"""Datasets: the paper's (Section 6) and data given inline; stored as NetCDF.

A dataset file holds ``X`` (sample, feature), ``y`` (sample) and the attribute ``task``; for deep
matrix sensing also ``basis`` (the sensors' common eigenbasis; X then holds eigenvalues).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .netcdf import Record

TASKS = ("classification", "regression")
RANDOM_KINDS = ("regression", "classification", "even", "sensing")


class DataError(ValueError):
    """Data an experiment's config describes but that cannot be made; ``key`` is the config key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


@dataclass(frozen=True, eq=False)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    task: str
    name: str = "inline"
    basis: np.ndarray | None = None
    source_sha256: str = ""  # of the file the data came from (data: {file: ...}), else empty

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        X, y = np.asarray(self.X, dtype=np.float64), np.asarray(self.y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"X must be n x d and y of length n; got X {X.shape}, y {y.shape}")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)

    @property
    def content_sha256(self) -> str:
        """sha256 of what training and the predictions see: task, X, y and basis (not the file's bytes, which
        carry provenance). Run and predictions files record it, so that one made for other data is refused."""
        import hashlib

        digest = hashlib.sha256(self.task.encode())
        for array in (self.X, self.y, self.basis):
            if array is not None:
                array = np.ascontiguousarray(array, dtype=np.float64)
                digest.update(str(array.shape).encode() + array.tobytes())
        return digest.hexdigest()

    def record(self) -> Record:
        """The dataset file's content: X (sample, feature), y (sample)[, basis (feature, eigenvector)]."""
        variables = {
            "X": (("sample", "feature"), self.X, {"long_name": "inputs x_i", "units": "1"}),
            "y": (("sample",), self.y, {"long_name": "targets y_i", "units": "1"}),
        }
        if self.basis is not None:
            variables["basis"] = (
                ("feature", "eigenvector"),
                self.basis,
                {"long_name": "sensors' eigenbasis", "units": "1"},
            )
        return Record(variables, {"task": self.task, "name": self.name, "source_sha256": self.source_sha256})

    def write(self, path):
        return self.record().write(path)

    @classmethod
    def read(cls, path) -> Dataset:
        record = Record.read(path)
        return cls(
            record["X"],
            record["y"],
            str(record.attrs["task"]),
            str(record.attrs.get("name", "inline")),
            record["basis"] if "basis" in record else None,
            str(record.attrs.get("source_sha256", "")),
        )


def paper_regression() -> Dataset:
    """Section 6: one point x = [1, 2], y = 1."""
    return Dataset(np.array([[1.0, 2.0]]), np.array([1.0]), "regression", "paper_regression")


def paper_classification() -> Dataset:
    """Section 6: x_1 = [1, 2] (+1), x_2 = [0, -3] (-1)."""
    return Dataset(np.array([[1.0, 2.0], [0.0, -3.0]]), np.array([1.0, -1.0]), "classification", "paper_classification")


GENERATORS = {"paper_regression": paper_regression, "paper_classification": paper_classification}


def random_dataset(kind: str, *, n: int, d: int, seed: int, margin: float = 0.1) -> Dataset:
    """Seeded random data: underdetermined regression, separable classification (with a margin),
    even regression data (Corollary 6), or commuting symmetric sensors (Corollary 7)."""
    rng = np.random.default_rng(seed)
    if kind == "regression":
        return Dataset(rng.standard_normal((n, d)), rng.standard_normal(n), "regression", f"random_regression_{seed}")
    if kind == "even":
        X = rng.standard_normal((n, d))
        X = (X + np.roll(X[:, ::-1], 1, axis=1)) / 2
        return Dataset(X, rng.standard_normal(n), "regression", f"random_even_{seed}")
    if kind == "sensing":
        basis = np.linalg.qr(rng.standard_normal((d, d)))[0]
        return Dataset(
            rng.standard_normal((n, d)), rng.standard_normal(n), "regression", f"random_sensing_{seed}", basis
        )
    if kind == "classification":
        w = rng.standard_normal(d)
        w /= np.linalg.norm(w)
        rows = []
        while len(rows) < n:  # rejection keeps a margin between the classes
            x = rng.standard_normal(d)
            if abs(x @ w) >= margin:
                rows.append(x)
        X = np.array(rows)
        return Dataset(X, np.sign(X @ w), "classification", f"random_classification_{seed}")
    raise DataError("data.random.kind", f"expected one of {RANDOM_KINDS}, got {kind!r}")


def make_dataset(name: str, spec: dict) -> Dataset:
    """The dataset of experiment ``name`` from its config entry."""
    data, task = spec["data"], spec["task"]
    if "paper" in data:
        dataset = GENERATORS[data["paper"]]()
    elif "random" in data:
        r = data["random"]
        dataset = random_dataset(r["kind"], n=r["n"], d=r["d"], seed=r.get("seed", 0), margin=r.get("margin", 0.1))
    elif "file" in data:
        dataset = read_data_file(data["file"], task, name)
    else:
        basis = np.asarray(data["basis"], dtype=float) if "basis" in data else None
        dataset = Dataset(np.asarray(data["X"], dtype=float), np.asarray(data["y"], dtype=float), task, name, basis)
    if dataset.task != task:
        raise DataError("task", f"is {task!r} but the data are for {dataset.task!r}")
    return dataset


def read_data_file(path, task: str, name: str = "file") -> Dataset:
    """A researcher's data from a file: ``.csv`` (a header x1..xd, y; one row per point), ``.npz``
    (arrays X and y) or ``.nc`` (a dataset file as ``dataset`` writes it). Its SHA-256 is kept.

    Raises DataError (key ``data.file``) naming the file, and the line or data point of a bad value.
    """
    import hashlib
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise DataError("data.file", f"{path}: no such file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    suffix = path.suffix.lower()
    if suffix == ".csv":
        X, y = _read_csv(path)
    elif suffix == ".npz":
        with np.load(path) as arrays:
            missing = [a for a in ("X", "y") if a not in arrays]
            if missing:
                raise DataError("data.file", f"{path}: no array {' or '.join(missing)} (expected X and y)")
            X, y = np.asarray(arrays["X"], dtype=float), np.asarray(arrays["y"], dtype=float)
    elif suffix == ".nc":
        stored = Dataset.read(path)
        X, y = stored.X, stored.y
    else:
        raise DataError("data.file", f"{path}: expected a .csv, .npz or .nc file")
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise DataError("data.file", f"{path}: X must be n x d and y of length n; got X {X.shape}, y {y.shape}")
    bad = np.nonzero(~(np.all(np.isfinite(X), axis=1) & np.isfinite(y)))[0]
    if bad.size:
        raise DataError(
            "data.file", f"{path}: data point {int(bad[0]) + 1} has a value that is not finite (NaN or inf)"
        )
    return Dataset(X, y, task, name, source_sha256=digest)


def _read_csv(path):
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise DataError("data.file", f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    d = len(header) - 1
    if d < 1 or header != [f"x{j}" for j in range(1, d + 1)] + ["y"]:
        raise DataError("data.file", f"{path}: the header must be x1,...,xd,y; got {','.join(header)}")
    values = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != d + 1:
            raise DataError("data.file", f"{path}: line {number} has {len(row)} values, the header {d + 1}")
        try:
            values.append([float(v) for v in row])
        except ValueError:
            raise DataError("data.file", f"{path}: line {number} has a value that is not a number: {row}") from None
    if not values:
        raise DataError("data.file", f"{path}: no data rows")
    table = np.array(values)
    return table[:, :d], table[:, d]
