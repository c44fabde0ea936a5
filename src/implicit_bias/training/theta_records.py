"""Theta at a flow's levels, kept in the coordinates the flow moved in where those are fewer than theta's.

A fully-connected flow moves in far fewer coordinates than theta (``Operator.flow_coordinates``: at depth 2, width and
d 1000, n = 100, 10^4 of theta's 10^6), and theta at its 67 recorded levels took 0.5 GB, whose first writing alone
cost 1-1.5 s on the development VM (page faults; the regression flow itself takes under 1 s). ``ThetaRecords`` keeps
such a level as those coordinates and rebuilds theta when it is read; every other level as theta itself.
"""

from __future__ import annotations

import numpy as np


class ThetaRecords:
    """Theta at K levels, read like a (K, P) float64 array (``records[k]``, slices, ``np.asarray``): a level is
    recorded as theta (``records[k] = theta``) or as the coordinates ``y`` a flow moved in with the map ``theta_of``
    to theta (``record(k, theta_of, y)``: ``structured.ReducedCoordinates.theta_of``, which returns a new array).
    Levels never recorded read NaN."""

    dtype = np.dtype(np.float64)
    ndim = 2

    def __init__(self, K: int, P: int):
        self._rows: list = [None] * K
        self.shape = (K, P)

    def __len__(self) -> int:
        return self.shape[0]

    def __setitem__(self, k: int, theta):
        self._rows[k] = (None, np.array(theta, dtype=np.float64))

    def record(self, k: int, theta_of, y):
        self._rows[k] = (theta_of, np.array(y, dtype=np.float64))

    @property
    def compact(self) -> bool:
        """Whether any level is kept in fewer coordinates (else the records are as well a plain array)."""
        return any(row is not None and row[0] is not None for row in self._rows)

    def _row(self, k: int) -> np.ndarray:
        row = self._rows[k]
        if row is None:
            return np.full(self.shape[1], np.nan)
        theta_of, y = row
        return y.copy() if theta_of is None else theta_of(y)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self._row(range(len(self))[index])
        if isinstance(index, slice):
            rows = self._rows[index]
            part = ThetaRecords(len(rows), self.shape[1])
            part._rows = rows
            return part
        return np.asarray(self)[index]

    def __iter__(self):
        return (self._row(k) for k in range(len(self)))

    def __array__(self, dtype=None, copy=None):
        out = np.empty(self.shape)
        for k in range(len(self)):
            out[k] = self._row(k)
        return out if dtype is None else out.astype(dtype, copy=False)

    @classmethod
    def joined(cls, first, second) -> ThetaRecords | np.ndarray:
        """first's levels then second's (each records or an array): an array where neither keeps fewer coordinates."""
        if not any(isinstance(part, ThetaRecords) and part.compact for part in (first, second)):
            return np.concatenate([np.asarray(first), np.asarray(second)])
        joined = cls(len(first) + len(second), first.shape[1])
        joined._rows = _rows_of(first) + _rows_of(second)
        return joined


def _rows_of(part) -> list:
    return list(part._rows) if isinstance(part, ThetaRecords) else [(None, row) for row in np.asarray(part)]
