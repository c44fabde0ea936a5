"""Names of runs: file-name-safe labels of architectures and alphas, and a run's file name.

The workflow's file patterns (workflow/rules/training.smk) follow ``run_name``; summaries read a
run's labels from its file's attributes, never by parsing the name.
"""

from __future__ import annotations

from .architectures import architecture


def architecture_label(spec: dict) -> str:
    """A file-name-safe label such as conv_L2_k3, fc_L3_w4-4, diag_L2, transform_L2_dct."""
    return "_".join([spec["name"], f"L{spec.get('depth', 2)}", *architecture(spec["name"]).label(spec)])


def alpha_label(alpha: float) -> str:
    return f"{alpha:g}"


def run_name(architecture: str, alpha: str, seed) -> str:
    """The stem of a run's files: ``<architecture label>_a<alpha label>_s<seed>``."""
    return f"{architecture}_a{alpha}_s{seed}"


def run_key(attrs: dict) -> tuple[str, float, int]:
    """What pairs a run's files (run, predictions): (architecture label, exact alpha, seed) from their
    attributes — the alpha label in a file name may be rounded."""
    return str(attrs["architecture_label"]), float(attrs["alpha"]), int(attrs["seed"])
