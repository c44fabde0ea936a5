"""cvxpy imported without scipy.stats: programs solve as before, the stand-in leaves no trace."""

import subprocess
import sys

SCRIPT = """
import sys
import numpy as np
from implicit_bias.theory.convex import cvxpy
cp = cvxpy()
print("scipy.stats loaded:", "scipy.stats" in sys.modules)
z = cp.Variable(2)
cp.Problem(cp.Minimize(cp.norm1(z)), [z[0] + 2 * z[1] >= 1]).solve(solver=cp.CLARABEL)
print("solution:", np.round(z.value, 6).tolist())
from cvxpy.atoms.quantum_rel_entr import entropy
p = np.array([0.2, 0.3, 0.5])
import scipy.stats
print("entropy agrees:", entropy(p) == scipy.stats.entropy(p), "real module:", hasattr(scipy.stats, "norm"))
"""


def test_cvxpy_imports_without_scipy_stats_and_still_solves_and_computes_entropy():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "scipy.stats loaded: False",
        "solution: [0.0, 0.5]",  # min |z|_1 s.t. z1 + 2 z2 >= 1: all weight on the larger coefficient
        "entropy agrees: True real module: True",
    ]


def test_with_scipy_stats_already_imported_cvxpy_takes_the_real_one():
    script = (
        "import scipy.stats\n"
        "from implicit_bias.theory.convex import cvxpy\n"
        "cvxpy()\n"
        "from cvxpy.atoms.quantum_rel_entr import entropy\n"
        "print(entropy is scipy.stats.entropy)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
