"""The few array functions the batched solvers need, from NumPy or from torch on a device (cpu, cuda), so that
GD (``operator_gd``) and the batched flow (``batched_flow``) are one code on both."""

from types import SimpleNamespace

import numpy as np

SHARED = ("exp", "log", "sqrt", "abs", "maximum", "isfinite", "where", "stack")  # the same name in both libraries


def array_library(device, setting: str = "device") -> SimpleNamespace:
    """NumPy (device None) or torch on ``device``; arrays are float64. ``setting`` names the device in errors."""
    if device is None:
        from scipy.special import logsumexp

        def descend(theta, step, lr, alive):
            np.multiply(step, lr, out=step)
            return np.subtract(theta, step, out=theta, where=alive[:, None])

        return SimpleNamespace(
            **{name: getattr(np, name) for name in SHARED},
            descend=descend,
            as_array=lambda a: np.array(a, dtype=np.float64),
            to_numpy=np.asarray,
            empty=lambda shape: np.empty(shape),
            amax=lambda a: a.max(axis=-1),
            logsumexp=lambda a: logsumexp(a, axis=1),
            flags=lambda a: np.array(a),
        )
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{setting} {device!r}: torch sees no CUDA GPU on this machine")

    def as_array(a):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64, device=dev)

    def descend(theta, step, lr, alive):
        return theta.sub_(step.mul_(lr).masked_fill_(~alive[:, None], 0.0))

    return SimpleNamespace(
        **{name: getattr(torch, name) for name in SHARED},
        descend=descend,
        as_array=as_array,
        to_numpy=lambda t: t.cpu().numpy(),
        empty=lambda shape: torch.empty(shape, dtype=torch.float64, device=dev),
        amax=lambda a: torch.amax(a, dim=-1),
        logsumexp=lambda a: torch.logsumexp(a, dim=1),
        flags=lambda a: torch.as_tensor(a, device=dev),
    )
