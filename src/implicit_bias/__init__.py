"""implicit_bias: reproduce and verify Yun, Krishnan & Mobahi (ICLR 2021), "A unifying view on
implicit bias in training linear neural networks".

The public names below are loaded on first use, so that a verb imports only what it runs (the
figures need no numba, training no cvxpy).
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "OrthogonalDecomposition": "decompositions",
    "orthogonal_decomposition": "decompositions",
    "single_point_svd": "decompositions",
    "ARCHITECTURES": "architectures",
    "LinearTensorNetwork": "networks",
    "build_network": "architectures",
    "SOLVERS": "training",
    "GradientDescent": "training",
    "GradientFlow": "training",
    "Problem": "training",
    "RunResult": "training",
    "make_solver": "training",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
