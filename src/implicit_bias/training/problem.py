"""What a solver trains (network, data, task) and what one run gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..datasets import TASKS
from ..networks import LinearTensorNetwork


@dataclass(frozen=True, eq=False)
class Problem:
    """A network and a dataset: exponential loss (classification) or 1/2 squared loss (regression).

    The loss is summed over the n data points, L = sum_i l(f(x_i), y_i), as in eq. (7).
    """

    network: LinearTensorNetwork
    X: np.ndarray
    y: np.ndarray
    task: str

    def __post_init__(self):
        X = np.asarray(self.X, dtype=np.float64)
        y = np.asarray(self.y, dtype=np.float64)
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-d array (n samples x d features), got shape {X.shape}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have one value per row of X ({X.shape[0]}), got shape {y.shape}")
        if X.shape[1] != self.network.dim:
            raise ValueError(f"X has d = {X.shape[1]} features, the network expects d = {self.network.dim}")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise ValueError("X and y must be finite (no NaN or inf)")
        if self.task == "classification" and not np.all(np.abs(y) == 1):
            raise ValueError("classification labels y must be +1 or -1")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)

    @property
    def task_code(self) -> int:
        from .codes import CLASSIFICATION, REGRESSION

        return CLASSIFICATION if self.task == "classification" else REGRESSION

    @cached_property  # built once: the flat index is computed, and Radau asks for it at every evaluation
    def kernel_problem(self) -> tuple:
        """(entry positions, coordinates, weights, X, y, task code): the network and the data as the
        compiled kernels take them."""
        net = self.network
        return net.flat_index, net.coord, net.weight, self.X, self.y, self.task_code

    def log_loss(self, theta) -> float:
        """log L(Theta), stable at any loss level (log-sum-exp for the exponential loss)."""
        f = self.network.output(self.X, theta)
        if self.task == "classification":
            margins = -self.y * f
            top = margins.max()
            return float(top + np.log(np.sum(np.exp(margins - top))))
        return float(np.log(0.5 * np.sum((f - self.y) ** 2)))

    def flow_jacobian(self, theta) -> np.ndarray:
        """d/dtheta of the re-timed flow's velocity -g/|g|^2, g = grad log L (for implicit solvers).

        With J = d beta/d theta and H = grad g:
        classification, w = softmax(-y f), u = -X^T (w y):  H = Hess f(u) + J^T X^T diag(w) X J - g g^T;
        regression, r = f - y:  H = (Hess f(X^T r) + J^T X^T X J) / L - g g^T;
        and d(-g/|g|^2) = -(I - 2 g g^T / |g|^2) H / |g|^2.
        """
        net, X = self.network, self.X
        J = net.beta_jacobian(theta)
        XJ = X @ J
        f = X @ net.beta(theta)
        if self.task == "classification":
            margins = -self.y * f
            w = np.exp(margins - margins.max())
            w /= w.sum()
            u = -X.T @ (w * self.y)
            g = J.T @ u
            H = net.hessian(u, theta) + XJ.T @ (w[:, None] * XJ) - np.outer(g, g)
        else:
            r = f - self.y
            loss = 0.5 * r @ r
            g = J.T @ (X.T @ r) / loss
            H = (net.hessian(X.T @ r, theta) + XJ.T @ XJ) / loss - np.outer(g, g)
        g2 = g @ g
        return -(H - 2 * np.outer(g, g @ H) / g2) / g2

    def loss_gradient(self, theta) -> np.ndarray:
        """Flat gradient of L(Theta): M(X^T r) o (v_1, .., I, .., v_L), r from eq. (7)."""
        f = self.network.output(self.X, theta)
        if self.task == "classification":
            r = -self.y * np.exp(-self.y * f)
        else:
            r = f - self.y
        return self.network.gradient(self.X.T @ r, theta)


@dataclass
class RunResult:
    """One trained run, recorded at checkpoints.

    ``progress`` is the GD step for ``gd`` and the reached level -log L for ``flow``; ``theta``
    holds the flat parameters at each checkpoint: an array, or for a flow that moved in fewer coordinates than
    theta's (a fully-connected network on fewer points than inputs) ``theta_records.ThetaRecords``, which keeps
    those and reads like the array (``np.asarray`` builds it).
    ``status`` is one of: completed (gd ran its steps), converged (flow reached its target),
    diverged, target_not_reached, max_steps, stalled; ``reason`` says why in words.
    """

    progress: np.ndarray
    beta: np.ndarray
    loss: np.ndarray
    log_loss: np.ndarray
    theta: np.ndarray
    theta_init: np.ndarray
    theta_final: np.ndarray
    status: str
    reason: str = ""
    steps: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "converged")
