"""Unit vectors and angles (geometry.py), used by the claims and the figures alike."""

import numpy as np

from implicit_bias.geometry import angle_degrees, unit


def test_small_angles_are_exact_where_arccos_is_not():
    for angle in (1e-9, 1e-6, 0.1, 45.0, 179.9):
        radians = np.radians(angle)
        a, b = np.array([1.0, 0.0]), np.array([np.cos(radians), np.sin(radians)])
        assert abs(angle_degrees(a, b) - angle) <= 1e-12 * max(angle, 1.0)
    # arccos of the cosine loses an angle of 1e-9 deg entirely
    assert np.degrees(np.arccos(np.clip(np.cos(np.radians(1e-9)), -1, 1))) == 0.0


def test_huge_vectors_do_not_overflow_and_rows_are_handled_at_once():
    a = np.array([1e300, 2e300])
    assert np.allclose(unit(a), [1 / np.sqrt(5), 2 / np.sqrt(5)])
    rows = np.array([[1.0, 0.0], [0.0, 3.0], [-2.0, 0.0]])
    np.testing.assert_allclose(angle_degrees(rows, [1.0, 0.0]), [0.0, 90.0, 180.0], atol=1e-12)
    assert np.all(np.isnan(unit(np.zeros(2))))
