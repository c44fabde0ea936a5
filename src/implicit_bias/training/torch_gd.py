"""Gradient descent on torch tensors, batched over runs, on any torch device (cpu or cuda).

The same closed-form contractions as the compiled kernel, written as gathers and index_add over
the network's entry list, so a large sweep runs as one batch on a GPU.
"""

import numpy as np
import torch


def gd_batch_torch(
    problem, thetas, lr, checkpoints, beta_rec, loss_rec, log_loss_rec, theta_rec, failed_at, device="cpu"
):
    """Same contract as ``kernels.gd_batch``: updates ``thetas`` and the record arrays in place."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"gd.device {device!r}: torch sees no CUDA GPU on this machine")
    net = problem.network
    as_tensor = lambda a, dtype=torch.float64: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=dev)  # noqa: E731
    pos = as_tensor(net.flat_index, torch.int64)
    coord = as_tensor(net.coord, torch.int64)
    weight = as_tensor(net.weight)
    X, y = as_tensor(problem.X), as_tensor(problem.y)
    theta = as_tensor(thetas).clone()
    runs, d, depth = theta.shape[0], net.dim, net.depth
    alive = torch.ones(runs, dtype=torch.bool, device=dev)
    classification = problem.task == "classification"
    record = 0
    with torch.no_grad():
        for t in range(int(checkpoints[-1]) + 1):
            factors = theta[:, pos]  # (runs, E, L)
            beta = torch.zeros(runs, d, dtype=torch.float64, device=dev).index_add_(
                1, coord, weight * factors.prod(dim=2)
            )
            f = beta @ X.T
            if classification:
                e = torch.exp(-y * f)
                r, loss = -y * e, e.sum(dim=1)
            else:
                r = f - y
                loss = 0.5 * (r * r).sum(dim=1)
            newly_failed = alive & ~torch.isfinite(loss)
            for run in torch.nonzero(newly_failed).flatten().tolist():
                failed_at[run] = t
            alive &= ~newly_failed
            if t == checkpoints[record]:
                if classification:
                    log_loss = torch.logsumexp(-y * f, dim=1)
                else:
                    log_loss = torch.log(loss)
                keep = alive.cpu().numpy()
                beta_rec[keep, record] = beta[alive].cpu().numpy()
                loss_rec[keep, record] = loss[alive].cpu().numpy()
                log_loss_rec[keep, record] = log_loss[alive].cpu().numpy()
                theta_rec[keep, record] = theta[alive].cpu().numpy()
                record += 1
                if record == len(checkpoints):
                    break
            u = (r @ X)[:, coord] * weight  # (runs, E)
            grad = torch.zeros_like(theta)
            for l in range(depth):
                others = torch.cat([factors[:, :, :l], factors[:, :, l + 1 :]], dim=2).prod(dim=2)
                grad.index_add_(1, pos[:, l], u * others)
            theta = torch.where(alive[:, None], theta - lr * grad, theta)
    thetas[:] = theta.cpu().numpy()
