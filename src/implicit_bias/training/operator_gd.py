"""Gradient descent on a network's operator (``implicit_bias.operators``), batched over runs, on NumPy
arrays or on torch tensors on any device (cpu, cuda).

The compiled kernels (``kernels``) walk the entry list and are the fastest path for the paper's small
networks; this path is for networks too large to list (a circular convolution by FFT, an fc network by
its matrix chain) and for the torch backend, so that a sweep runs as one batch on a GPU.
"""

import numpy as np

from .array_library import array_library


def gd_batch_operator(
    problem, thetas, lr, checkpoints, beta_rec, loss_rec, log_loss_rec, theta_rec, failed_at, device=None
):
    """Same contract as ``kernels.gd_batch``: updates ``thetas`` (runs, P) and the record arrays in place.
    ``device`` None computes with NumPy, else with torch on that device."""
    lib = array_library(device, "gd.device")
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
