"""What an architecture declares, in one place: ``Architecture``, and the helpers its constructor uses.

Each module of this package is one architecture: its constructor (the data tensor's entry list, the
reference form every network has), its structured operator where it has one, its config settings, its
run-file label, its orthogonal decomposition (Assumption 1) where the paper gives one, and an
``ARCHITECTURE`` that names them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..networks import LinearTensorNetwork


def _no_label(spec: dict) -> list[str]:
    return []


def _listed_entries(dim: int, shape, settings) -> int:
    return math.prod(shape)


@dataclass(frozen=True)
class Architecture:
    """One architecture, as a config names it.

    Attributes:
        name: the config's ``name`` (and the run files' label prefix).
        build: the constructor, ``build(dim, depth=L, **settings) -> LinearTensorNetwork``.
        description: one line for the docs and the schema.
        settings: JSON-schema properties of its own config settings (beyond ``name`` and ``depth``).
        operator: its structured operator class (``operators.Operator``), or None: the entry list serves.
        entry_count: ``(dim, shape, settings) -> int``, at most how many entries the data tensor lists,
            known without listing them (decides when the operator takes over).
        label: ``spec -> [str]``, the settings' parts of the run files' label after ``<name>_L<depth>``.
        decomposition: ``(network, even) -> OrthogonalDecomposition | None``, Assumption 1 where it holds
            (``even``: the real variant for even data and parameters, Corollary 6); None if it never does.
        from_data: settings the dataset may supply when the config leaves them out (matrix sensing's basis).
    """

    name: str
    build: Callable
    description: str
    settings: dict = field(default_factory=dict)
    operator: type | None = None
    entry_count: Callable = _listed_entries
    label: Callable = _no_label
    decomposition: Callable | None = None
    from_data: tuple[str, ...] = ()


def sizes_setting(description: str) -> dict:
    """The JSON schema of a setting that lists one positive size per layer (conv's filters, fc's widths)."""
    return {"type": "array", "items": {"type": "integer", "minimum": 1}, "description": description}


def sizes_label(prefix: str, sizes) -> list[str]:
    """A label part such as k3-3 or w16-16 for a sizes setting, none where it is left to its default."""
    return [prefix + "-".join(str(k) for k in sizes)] if sizes else []


def check_depth(depth):
    if not isinstance(depth, (int, np.integer)) or depth < 2:
        raise ValueError(f"depth must be an integer >= 2 (the paper's L >= 2), got {depth!r}")


def check_dim(dim):
    if not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"input dimension d must be a positive integer, got {dim!r}")


def make_network(architecture: Architecture, dim, shape, make_entries, settings) -> LinearTensorNetwork:
    """A network of ``architecture`` whose entry list, (coord, multi-index, weight) triples with exact zeros
    dropped, is built by ``make_entries`` when first asked for."""
    return LinearTensorNetwork(
        architecture=architecture,
        dim=int(dim),
        shape=tuple(int(k) for k in shape),
        settings=settings,
        make_entries=make_entries,
    )
