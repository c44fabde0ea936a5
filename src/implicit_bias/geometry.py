"""Directions: unit vectors that do not overflow, and accurate angles between vectors."""

from __future__ import annotations

import numpy as np


def unit(v) -> np.ndarray:
    """v / |v| along the last axis, without overflow for huge v (trained parameters reach 1e100 and
    beyond); a zero vector gives NaN."""
    v = np.asarray(v, dtype=np.float64)
    scale = np.max(np.abs(v), axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = v / np.where(scale > 0, scale, np.nan)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def angle_degrees(a, b) -> np.ndarray | float:
    """The angle between a and b (along the last axis), in degrees: 2 atan2(|a - b|, |a + b|) of the
    unit vectors, accurate for small angles where arccos of a cosine is not."""
    a, b = unit(a), unit(b)
    angle = np.degrees(2 * np.arctan2(np.linalg.norm(a - b, axis=-1), np.linalg.norm(a + b, axis=-1)))
    return float(angle) if np.ndim(angle) == 0 else angle
