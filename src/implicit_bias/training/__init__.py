"""Training of linear tensor networks: the paper's GD and exact gradient flow, batched over runs."""

from .problem import TASKS, Problem, RunResult
from .solvers import SOLVERS, GradientDescent, GradientFlow, compile_kernels, log_spaced_steps, make_solver

__all__ = [
    "TASKS",
    "Problem",
    "RunResult",
    "SOLVERS",
    "GradientDescent",
    "GradientFlow",
    "compile_kernels",
    "log_spaced_steps",
    "make_solver",
]
