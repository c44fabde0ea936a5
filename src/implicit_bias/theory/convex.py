"""cvxpy, imported without scipy.stats.

cvxpy imports scipy.stats at start-up for one function (``entropy``, in its quantum relative entropy
atom, which no program here uses); scipy.stats is 0.4 CPU-s of the 0.7 that importing cvxpy costs,
a third of a predict job. While cvxpy imports, ``scipy.stats`` is a stand-in whose ``entropy``
imports the real module and calls it: the atom computes what it did, and scipy.stats loads only if
it is called. The stand-in is gone once cvxpy is imported, so any later ``import scipy.stats`` gets
the real module.
"""

from __future__ import annotations

import sys
import types


def _entropy(*args, **kwargs):
    from scipy.stats import entropy

    return entropy(*args, **kwargs)


def cvxpy():
    """The cvxpy module (imported on first use)."""
    if "cvxpy" in sys.modules or "scipy.stats" in sys.modules:
        import cvxpy

        return cvxpy
    stand_in = types.ModuleType("scipy.stats", "stand-in while cvxpy imports (implicit_bias.theory.convex)")
    stand_in.entropy = _entropy
    sys.modules["scipy.stats"] = stand_in
    try:
        import cvxpy
    finally:
        if sys.modules.get("scipy.stats") is stand_in:
            del sys.modules["scipy.stats"]
    return cvxpy
