"""Datasets: the paper's (Section 6), seeded random ones, the field's (Woodworth et al.'s sparse models,
scikit-learn's digits and breast cancer), files and data given inline; stored as NetCDF.

A dataset file holds ``X`` (sample, feature), ``y`` (sample) and the attribute ``task``; for deep
matrix sensing also ``basis`` (the sensors' common eigenbasis; X then holds eigenvalues). Data with a
held-out test set also hold ``X_test`` (test_sample, feature) and ``y_test`` (never trained on), and data
made by a planted model its ``beta_star`` (feature): runs then report test error and distance to beta*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .netcdf import Record

TASKS = ("classification", "regression")
RANDOM_KINDS = ("regression", "classification", "even", "sensing", "sparse_regression", "sparse_classification")
SKLEARN_DATASETS = ("digits", "breast_cancer")
TEST_POINTS = 2000  # held-out points of the sparse models (Woodworth et al. report test error on 2000)


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
    X_test: np.ndarray | None = None  # held-out points, never trained on
    y_test: np.ndarray | None = None
    beta_star: np.ndarray | None = None  # the planted model's coefficients, where the data have one

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        X, y = np.asarray(self.X, dtype=np.float64), np.asarray(self.y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"X must be n x d and y of length n; got X {X.shape}, y {y.shape}")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        if (self.X_test is None) != (self.y_test is None):
            raise ValueError("X_test and y_test come together")
        if self.X_test is not None:
            X_test, y_test = np.asarray(self.X_test, dtype=np.float64), np.asarray(self.y_test, dtype=np.float64)
            if X_test.ndim != 2 or X_test.shape[1] != X.shape[1] or y_test.shape != (X_test.shape[0],):
                raise ValueError(
                    f"X_test must be m x {X.shape[1]} and y_test of length m; got {X_test.shape}, {y_test.shape}"
                )
            object.__setattr__(self, "X_test", X_test)
            object.__setattr__(self, "y_test", y_test)
        if self.beta_star is not None:
            beta_star = np.asarray(self.beta_star, dtype=np.float64)
            if beta_star.shape != (X.shape[1],):
                raise ValueError(f"beta_star must have length d = {X.shape[1]}, got shape {beta_star.shape}")
            object.__setattr__(self, "beta_star", beta_star)

    @property
    def content_sha256(self) -> str:
        """sha256 of the data: task, X, y, basis and any test set and beta* (not the file's bytes, which
        carry provenance). Run and predictions files record it, so that one made for other data is refused."""
        import hashlib

        digest = hashlib.sha256(self.task.encode())
        for array in (self.X, self.y, self.basis, self.X_test, self.y_test, self.beta_star):
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
        if self.X_test is not None:
            variables["X_test"] = (
                ("test_sample", "feature"),
                self.X_test,
                {"long_name": "held-out inputs", "units": "1"},
            )
            variables["y_test"] = (("test_sample",), self.y_test, {"long_name": "held-out targets", "units": "1"})
        if self.beta_star is not None:
            variables["beta_star"] = (
                ("feature",),
                self.beta_star,
                {"long_name": "planted coefficients beta* the data were made from", "units": "1"},
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
            *(record[name] if name in record else None for name in ("X_test", "y_test", "beta_star")),
        )

    def test_error(self, beta):
        """Error of the linear predictor beta (d, or d x k for k of them) on the held-out points: mean squared error (regression) or the
        fraction misclassified, a zero margin counted as an error (classification); None without a test set."""
        if self.X_test is None:
            return None
        f = self.X_test @ np.asarray(beta, dtype=np.float64)
        y = self.y_test if f.ndim == 1 else self.y_test[:, None]
        error = np.mean((f - y) ** 2, axis=0) if self.task == "regression" else np.mean(y * f <= 0, axis=0)
        return float(error) if f.ndim == 1 else error


def paper_regression() -> Dataset:
    """Section 6: one point x = [1, 2], y = 1."""
    return Dataset(np.array([[1.0, 2.0]]), np.array([1.0]), "regression", "paper_regression")


def paper_classification() -> Dataset:
    """Section 6: x_1 = [1, 2] (+1), x_2 = [0, -3] (-1)."""
    return Dataset(np.array([[1.0, 2.0], [0.0, -3.0]]), np.array([1.0, -1.0]), "classification", "paper_classification")


GENERATORS = {"paper_regression": paper_regression, "paper_classification": paper_classification}


def random_dataset(
    kind: str, *, n: int, d: int, seed: int, margin: float = 0.1, sparsity: int = 5, noise: float = 0.1
) -> Dataset:
    """Seeded random data: underdetermined regression, separable classification (with a margin),
    even regression data (Corollary 6), commuting symmetric sensors (Corollary 7), or Woodworth et al.'s
    planted sparse models (see ``sparse_model``)."""
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
        X = _with_margin(rng, n, d, w, margin)
        return Dataset(X, np.sign(X @ w), "classification", f"random_classification_{seed}")
    if kind in ("sparse_regression", "sparse_classification"):
        return sparse_model(kind, n=n, d=d, seed=seed, sparsity=sparsity, noise=noise, margin=margin)
    raise DataError("data.random.kind", f"expected one of {RANDOM_KINDS}, got {kind!r}")


def _with_margin(rng, n, d, w, margin):
    """n standard normal points at least ``margin`` from the plane w^T x = 0 (by rejection, one at a time:
    the draws, and so every seeded dataset, stay those of earlier versions)."""
    rows = []
    while len(rows) < n:
        x = rng.standard_normal(d)
        if abs(x @ w) >= margin:
            rows.append(x)
    return np.array(rows)


def sparse_model(kind, *, n, d, seed, sparsity=5, noise=0.1, margin=0.1) -> Dataset:
    """Woodworth et al.'s planted sparse model (as Azulay et al.'s notebooks build it): X standard normal,
    beta* with its first ``sparsity`` entries 1/sqrt(sparsity) and the rest 0 (unit norm), and
    - sparse_regression: y = X beta* + noise * N(0, 1);
    - sparse_classification: y = sign(x^T beta*), points at least ``margin`` from the teacher's plane.
    A held-out test set of TEST_POINTS points from the same distribution is stored with the data."""
    if not 1 <= sparsity <= d:
        raise DataError("data.random.sparsity", f"must be between 1 and d = {d}, got {sparsity}")
    rng = np.random.default_rng(seed)
    beta_star = np.zeros(d)
    beta_star[:sparsity] = 1 / np.sqrt(sparsity)
    if kind == "sparse_regression":
        X, X_test = rng.standard_normal((n, d)), rng.standard_normal((TEST_POINTS, d))
        y = X @ beta_star + noise * rng.standard_normal(n)
        y_test = X_test @ beta_star + noise * rng.standard_normal(TEST_POINTS)
        task = "regression"
    else:
        X, X_test = _with_margin(rng, n, d, beta_star, margin), _with_margin(rng, TEST_POINTS, d, beta_star, margin)
        y, y_test = np.sign(X @ beta_star), np.sign(X_test @ beta_star)
        task = "classification"
    return Dataset(X, y, task, f"{kind}_{seed}", X_test=X_test, y_test=y_test, beta_star=beta_star)


def sklearn_dataset(name: str, *, classes=(0, 1), n: int | None = None, seed: int = 0) -> Dataset:
    """Two classes of a dataset scikit-learn ships (no download), labelled +1 (the first class listed) and -1:
    ``digits`` (8 x 8 images, d = 64, pixels scaled to [0, 1]) or ``breast_cancer`` (d = 30, each feature
    standardised). With ``n``, a seeded choice of n points is trained on and the rest are the test set.
    Only rescaling is applied: the networks have no bias, so centring could make separable data inseparable."""
    from sklearn import datasets as sk

    if name not in SKLEARN_DATASETS:
        raise DataError("data.sklearn", f"expected one of {SKLEARN_DATASETS}, got {name!r}")
    X, target = getattr(sk, f"load_{name}")(return_X_y=True)
    if name == "digits":
        X = X / 16.0
    else:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    known = sorted(set(target.tolist()))
    classes = list(classes)
    if len(classes) != 2 or classes[0] == classes[1] or any(c not in known for c in classes):
        raise DataError("data.classes", f"expected two different classes of {name} among {known}, got {classes}")
    chosen = np.isin(target, classes)
    X, y = X[chosen], np.where(target[chosen] == classes[0], 1.0, -1.0)
    label = f"{name}_{classes[0]}_vs_{classes[1]}"
    if n is None:
        return Dataset(X, y, "classification", label)
    if not 1 <= n < len(y):
        raise DataError(
            "data.n", f"must be between 1 and {len(y) - 1} (classes {classes} of {name} have {len(y)} points)"
        )
    order = np.random.default_rng(seed).permutation(len(y))
    train, test = order[:n], order[n:]
    return Dataset(X[train], y[train], "classification", f"{label}_n{n}_{seed}", X_test=X[test], y_test=y[test])


def make_dataset(name: str, spec: dict) -> Dataset:
    """The dataset of experiment ``name`` from its config entry."""
    data, task = spec["data"], spec["task"]
    if "paper" in data:
        dataset = GENERATORS[data["paper"]]()
    elif "random" in data:
        r = data["random"]
        options = {key: r[key] for key in ("margin", "sparsity", "noise") if key in r}
        dataset = random_dataset(r["kind"], n=r["n"], d=r["d"], seed=r.get("seed", 0), **options)
    elif "sklearn" in data:
        dataset = sklearn_dataset(
            data["sklearn"], classes=data.get("classes", [0, 1]), n=data.get("n"), seed=data.get("seed", 0)
        )
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
    (arrays X and y) or ``.nc`` (a dataset file as ``dataset`` writes it: X (sample, feature), y (sample),
    optionally basis (feature, eigenvector), attribute task). Its SHA-256 is kept.

    Files are read as their format defines: NetCDF with its fill values as missing data (refused),
    dimensions by name, its task honoured (a file for the other task is refused) and its basis kept;
    real numbers only (complex, text or object arrays are refused); CSV numbers in decimal notation only.

    Raises DataError (key ``data.file``) naming the file, and the line or data point of a bad value.
    """
    import hashlib
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise DataError("data.file", f"{path}: no such file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    suffix = path.suffix.lower()
    basis = None
    if suffix == ".csv":
        X, y = _read_csv(path)
    elif suffix == ".npz":
        X, y = _read_npz(path)
    elif suffix == ".nc":
        stored, X, y, basis = _read_nc(path)
        if stored != task:
            raise DataError(
                "data.file", f"{path}: holds {stored} data (its attribute task), but the experiment is {task}"
            )
    else:
        raise DataError("data.file", f"{path}: expected a .csv, .npz or .nc file")
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise DataError("data.file", f"{path}: X must be n x d and y of length n; got X {X.shape}, y {y.shape}")
    bad = np.nonzero(~(np.all(np.isfinite(X), axis=1) & np.isfinite(y)))[0]
    if bad.size:
        raise DataError(
            "data.file", f"{path}: data point {int(bad[0]) + 1} has a value that is not finite (NaN or inf)"
        )
    return Dataset(X, y, task, name, basis, source_sha256=digest)


def _real(path, name: str, values) -> np.ndarray:
    """A stored array as float64, refusing what is not real numbers (complex would be cast silently)."""
    values = np.asarray(values)
    if values.dtype.kind not in "biuf":
        kind = "complex" if values.dtype.kind == "c" else f"{values.dtype} (not numbers)"
        raise DataError("data.file", f"{path}: {name} holds {kind} values; expected real numbers")
    return values.astype(np.float64)


def _read_npz(path):
    import zipfile

    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError("data.file", f"{path}: not a readable .npz archive ({error})") from None
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        raise DataError("data.file", f"{path}: one array (a .npy file), not an .npz archive of X and y (np.savez)")
    with arrays:
        missing = [a for a in ("X", "y") if a not in arrays.files]
        if missing:
            raise DataError("data.file", f"{path}: no array {' or '.join(missing)} (expected X and y)")
        try:
            X, y = arrays["X"], arrays["y"]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # a truncated member, an object array
            raise DataError("data.file", f"{path}: cannot read X and y ({error})") from None
        return _real(path, "X", X), _real(path, "y", y)


NC_DIMENSIONS = {"X": ("sample", "feature"), "y": ("sample",), "basis": ("feature", "eigenvector")}


def _read_nc(path):
    """(task, X, y, basis or None) of a dataset NetCDF file, with masking on: fill values are missing data."""
    import netCDF4

    try:
        nc = netCDF4.Dataset(path)
    except OSError as error:
        raise DataError("data.file", f"{path}: not a readable NetCDF file ({error})") from None
    with nc:
        if "task" not in nc.ncattrs():
            raise DataError("data.file", f"{path}: no attribute task (classification or regression)")
        arrays = {}
        for name, dims in NC_DIMENSIONS.items():
            if name not in nc.variables:
                if name == "basis":
                    continue
                raise DataError(
                    "data.file", f"{path}: no variable {name} (expected X (sample, feature) and y (sample))"
                )
            variable = nc.variables[name]
            if variable.dimensions != dims:
                raise DataError(
                    "data.file", f"{path}: {name} has dimensions {variable.dimensions}; expected {dims} (by name)"
                )
            if variable.dtype == str or variable.dtype.kind not in "biuf":
                raise DataError("data.file", f"{path}: {name} holds {variable.dtype} values; expected real numbers")
            variable.set_auto_mask(True)
            values = variable[...]
            if np.ma.is_masked(values):
                where = tuple(int(i) for i in np.argwhere(np.ma.getmaskarray(values))[0])
                raise DataError(
                    "data.file", f"{path}: {name} has missing values (its fill value) at index {where}; expected data"
                )
            arrays[name] = _real(path, name, np.ma.getdata(values))
        return str(nc.getncattr("task")), arrays["X"], arrays["y"], arrays.get("basis")


# a number in decimal notation (float() would also take "1_0" as 10); nan and inf are refused later as not finite
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE)


def _read_csv(path):
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # a byte-order mark is not part of x1
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as error:
        raise DataError("data.file", f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
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
        if not all(NUMBER.fullmatch(v.strip()) for v in row):
            raise DataError("data.file", f"{path}: line {number} has a value that is not a number: {row}")
        values.append([float(v) for v in row])
    if not values:
        raise DataError("data.file", f"{path}: no data rows")
    table = np.array(values)
    return table[:, :d], table[:, d]


# --- what training and the theorems need of an experiment's data ---------------------------------------
DATA_SCALE = (1e-100, 1e100)  # magnitudes float64 training can square, exponentiate and sum safely


def _fail(key, message):
    raise DataError(key, message)


def validate_data(name: str, spec: dict) -> Dataset:
    """An experiment's data (its ``task`` and ``data`` keys): made or read, then checked for what training
    and the theorems need. Config validation and the dataset job both run it, so that a file changed after
    the workflow loaded is checked too. Returns the dataset; raises DataError naming the config key."""
    import math

    key = f"experiments.{name}"
    if spec.get("task") not in TASKS:
        _fail(f"{key}.task", f"expected one of {TASKS}, got {spec.get('task')!r}")
    data = spec.get("data", {})
    if "X" in data:
        X, y = data["X"], data.get("y")
        if not isinstance(X, list) or not X or not all(isinstance(r, list) for r in X):
            _fail(f"{key}.data.X", "expected a non-empty list of rows (lists of numbers)")
        if len({len(r) for r in X}) != 1:
            _fail(f"{key}.data.X", f"rows have different lengths {sorted({len(r) for r in X})} (ragged)")
        if not isinstance(y, list) or len(y) != len(X):
            _fail(f"{key}.data.y", f"expected one value per row of X ({len(X)}), got {y!r}")
        values = [v for r in X for v in r] + list(y)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            _fail(f"{key}.data", "X and y must be finite numbers (no NaN, inf or text)")
    cache = _validated_cache(data["file"], spec["task"]) if "file" in data else None
    if cache is not None and (kept := _read_validated(cache, spec["task"], name)) is not None:
        return kept
    try:
        dataset = make_dataset(name, spec)
    except DataError as error:
        _fail(f"{key}.{error.key}", error.message)
    except (ValueError, KeyError, TypeError) as error:
        _fail(f"{key}.data", str(error))
    _require_usable_values(key, dataset)
    if dataset.task == "classification":
        if not np.all(np.abs(dataset.y) == 1):
            _fail(f"{key}.data.y", "classification labels must be +1 or -1")
        _require_separable(key, dataset, data)
    if cache is not None:
        _keep_validated(cache, dataset)
    return dataset


LARGE_FILE = 2**20  # data files above 1 MiB are parsed and validated once per content, then read from a cache


def _validated_cache(path, task: str):
    """Where a large data file's validated arrays are kept: the user's cache folder, keyed by the file's
    content, the task and this module's source (a change of the rules validates again). None for small files."""
    import hashlib
    import os
    from pathlib import Path

    path = Path(path)
    if not path.is_file() or path.stat().st_size <= LARGE_FILE:
        return None
    digest = hashlib.sha256(path.read_bytes() + task.encode() + Path(__file__).read_bytes()).hexdigest()
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "implicit_bias" / "validated_data"
    return root / f"{digest[:32]}.npz"


def _read_validated(cache, task: str, name: str):
    """The dataset a previous validation kept, or None (absent or unreadable: validate again)."""
    try:
        with np.load(cache, allow_pickle=False) as kept:
            basis = kept["basis"] if "basis" in kept.files else None
            return Dataset(kept["X"], kept["y"], task, name, basis, source_sha256=str(kept["source_sha256"]))
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _keep_validated(cache, dataset: Dataset) -> None:
    """Keep a validated dataset (written whole, then renamed); a cache that cannot be written costs only time."""
    from .files import atomic_write

    arrays = {"X": dataset.X, "y": dataset.y, "source_sha256": np.array(dataset.source_sha256)}
    if dataset.basis is not None:
        arrays["basis"] = dataset.basis

    def write(path):
        with open(path, "wb") as handle:  # a handle: np.savez would add .npz to the temporary name
            np.savez(handle, **arrays)

    try:
        atomic_write(cache, write)
    except OSError:
        pass


def _require_usable_values(key, dataset):
    """Magnitudes training can handle, and no all-zero point (no network can use or fit it)."""
    low, high = DATA_SCALE
    values = np.abs(np.concatenate([dataset.X.ravel(), dataset.y]))
    nonzero = values[values > 0]
    if nonzero.size and (nonzero.max() > high or nonzero.min() < low):
        _fail(
            f"{key}.data",
            f"values range from {nonzero.min():.3g} to {nonzero.max():.3g} in magnitude; training "
            f"needs them within {low:g}..{high:g} (rescale X and y)",
        )
    zero_rows = np.nonzero(~np.any(dataset.X != 0, axis=1))[0]
    if zero_rows.size:
        _fail(
            f"{key}.data.X",
            f"row {int(zero_rows[0])} is all zeros: f(0) = 0 for every network, so no training "
            "can use or fit that point",
        )


def _require_separable(key, dataset, data=None):
    """Linearly separable data (through the origin: the networks have no bias): a z with y_i x_i^T z >= 1
    exists (an LP feasibility problem). A refused choice of scikit-learn classes is named."""
    from scipy.optimize import linprog

    X, y = dataset.X, dataset.y
    result = linprog(
        np.zeros(X.shape[1]), A_ub=-(y[:, None] * X), b_ub=-np.ones(len(y)), bounds=[(None, None)] * X.shape[1]
    )
    if result.status == 2:
        which = "classification data are"
        if data and "sklearn" in data:
            which = f"classes {list(data.get('classes', [0, 1]))} of {data['sklearn']} ({len(y)} points) are"
        _fail(f"{key}.data", f"{which} not linearly separable (every theorem assumes they are)")
    if result.status != 0:
        _fail(
            f"{key}.data",
            f"the separability test (a linear program) failed numerically: {result.message} "
            "(rescale the data to magnitudes near 1)",
        )
