"""implicit_bias: reproduce and verify Yun, Krishnan & Mobahi (ICLR 2021), "A unifying view on
implicit bias in training linear neural networks"."""

from .decompositions import OrthogonalDecomposition, orthogonal_decomposition, single_point_svd
from .networks import ARCHITECTURES, LinearTensorNetwork, build_network
from .training import SOLVERS, GradientDescent, GradientFlow, Problem, RunResult, make_solver

__version__ = "0.1.0"

__all__ = [
    "ARCHITECTURES", "LinearTensorNetwork", "build_network", "OrthogonalDecomposition",
    "orthogonal_decomposition", "single_point_svd", "SOLVERS", "GradientDescent", "GradientFlow",
    "Problem", "RunResult", "make_solver", "__version__",
]
