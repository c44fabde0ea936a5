"""Gradient descent on a network's operator (``implicit_bias.operators``), batched over runs, on NumPy
arrays or on torch tensors on any device (cpu, cuda).

The compiled kernels (``kernels``) walk the entry list and are the fastest path for the paper's small
networks; this path is for networks too large to list (a circular convolution by FFT, an fc network by
its matrix chain) and for the torch backend, so that a sweep runs as one batch on a GPU.
"""

from types import SimpleNamespace

import numpy as np


def _library(device) -> SimpleNamespace:
    """The few array functions GD needs, from NumPy (device None) or from torch on ``device``."""
    if device is None:
        from scipy.special import logsumexp

        def descend(theta, step, lr, alive):
            np.multiply(step, lr, out=step)
            return np.subtract(theta, step, out=theta, where=alive[:, None])

        return SimpleNamespace(
            descend=descend,
            as_array=lambda a: np.array(a, dtype=np.float64),
            to_numpy=np.asarray,
            exp=np.exp,
            log=np.log,
            logsumexp=lambda a: logsumexp(a, axis=1),
            isfinite=np.isfinite,
            where=np.where,
            flags=lambda a: np.array(a),
        )
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"gd.device {device!r}: torch sees no CUDA GPU on this machine")

    def as_array(a):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64, device=dev)

    def descend(theta, step, lr, alive):
        return theta.sub_(step.mul_(lr).masked_fill_(~alive[:, None], 0.0))

    return SimpleNamespace(
        descend=descend,
        as_array=as_array,
        to_numpy=lambda t: t.cpu().numpy(),
        exp=torch.exp,
        log=torch.log,
        logsumexp=lambda a: torch.logsumexp(a, dim=1),
        isfinite=torch.isfinite,
        where=torch.where,
        flags=lambda a: torch.as_tensor(a, device=dev),
    )


def gd_batch_operator(
    problem, thetas, lr, checkpoints, beta_rec, loss_rec, log_loss_rec, theta_rec, failed_at, device=None
):
    """Same contract as ``kernels.gd_batch``: updates ``thetas`` (runs, P) and the record arrays in place.
    ``device`` None computes with NumPy, else with torch on that device."""
    lib = _library(device)
    X, y, theta = lib.as_array(problem.X), lib.as_array(problem.y), lib.as_array(thetas)
    classification = problem.task == "classification"
    records = (beta_rec, loss_rec, log_loss_rec, theta_rec)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is recorded as such, not warned about
        _descend(
            lib, problem.network.operator, X, y, theta, lr, checkpoints, records, failed_at, thetas, classification
        )


def _descend(lib, op, X, y, theta, lr, checkpoints, records, failed_at, thetas, classification):
    """The steps. Which runs are alive and where each failed stay on the device: the host reads them only at
    checkpoints (a read every step is a device synchronisation, and a copy back, every step)."""
    beta_rec, loss_rec, log_loss_rec, theta_rec = records
    alive = lib.flags(np.ones(theta.shape[0], dtype=bool))
    failed = lib.flags(failed_at)
    record = 0
    for t in range(int(checkpoints[-1]) + 1):
        beta = op.beta(theta)
        f = beta @ X.T
        if classification:
            e = lib.exp(-y * f)
            r, loss = -y * e, e.sum(-1)
        else:
            r = f - y
            loss = 0.5 * (r * r).sum(-1)
        finite = lib.isfinite(loss)
        failed = lib.where(alive & ~finite, t, failed)
        alive = alive & finite
        if t == checkpoints[record]:
            log_loss = lib.logsumexp(-y * f) if classification else lib.log(loss)
            keep = lib.to_numpy(alive)
            for rec, value in ((beta_rec, beta), (loss_rec, loss), (log_loss_rec, log_loss), (theta_rec, theta)):
                rec[keep, record] = lib.to_numpy(value)[keep]
            record += 1
            if record == len(checkpoints):
                break
        # in place (a pass over theta each, no temporaries: fc of width d has 10^6 parameters a run); a failed
        # run keeps the parameters it failed at
        theta = lib.descend(theta, op.pullback(r @ X, theta), lr, alive)
    thetas[:] = lib.to_numpy(theta)
    failed_at[:] = lib.to_numpy(failed)
