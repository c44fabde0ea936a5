"""The architectures, one module each: what a config's ``{name: ..., depth: L, ...}`` builds.

| name | module | network |
| --- | --- | --- |
| diag | ``diagonal`` | diagonal, beta = v_1 * ... * v_L (eq. 3) |
| conv | ``convolutional`` | circular convolution, any filter sizes (eq. 4) |
| fc | ``fully_connected`` | the matrix chain W_1 ... W_(L-1) w_L (eq. 5) |
| matrix_sensing | ``sensing`` | deep matrix sensing with commuting sensors (eq. 13) |
| transform | ``transformed`` | a diagonal network on T x (Remark 3) |
| generic | ``basis_tensors`` | any network, given its basis tensors E_k (eq. 6) |

A module declares everything about its architecture in its ``ARCHITECTURE`` (``base.Architecture``):
the constructor, the structured operator, the config settings, the run files' label, the orthogonal
decomposition.
Adding one is a module here, its name in ``_MODULES``, and its test (docs/development.md).
"""

from __future__ import annotations

from . import basis_tensors, convolutional, diagonal, fully_connected, sensing, transformed
from .base import Architecture

_MODULES = (diagonal, convolutional, fully_connected, sensing, transformed, basis_tensors)
ARCHITECTURES: dict[str, Architecture] = {module.ARCHITECTURE.name: module.ARCHITECTURE for module in _MODULES}

# the constructors, by the names configs use
diag = diagonal.diag
conv = convolutional.conv
fc = fully_connected.fc
matrix_sensing = sensing.matrix_sensing
transform = transformed.transform
generic = basis_tensors.generic


def architecture(name) -> Architecture:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; expected one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def build_network(spec: dict, dim: int, *, data_settings: dict | None = None):
    """Build a network from a config entry such as ``{name: conv, depth: 2, filters: [3]}``.

    ``data_settings``: what the dataset supplies (matrix sensing's ``basis``), used for the architecture's
    ``from_data`` settings that the entry leaves out.
    """
    spec = dict(spec)
    arch = architecture(spec.pop("name", None))
    known = ["depth", *arch.settings, *arch.from_data]
    unknown = sorted(set(spec) - set(known))
    if unknown:
        raise ValueError(f"{arch.name}: unknown setting(s) {unknown}; known: {known}")
    for key in arch.from_data:
        if key not in spec and (data_settings or {}).get(key) is not None:
            spec[key] = data_settings[key]
    return arch.build(dim, **spec)


def orthogonal() -> tuple[str, ...]:
    """The architectures with an orthogonal decomposition (Assumption 1) for some of their networks."""
    return tuple(name for name, arch in ARCHITECTURES.items() if arch.decomposition is not None)


def config_schema() -> dict:
    """The JSON schema of one config entry of ``architectures``: the names and every architecture's settings."""
    properties = {
        "name": {"enum": list(ARCHITECTURES), "description": "Architecture."},
        "depth": {"type": "integer", "minimum": 2, "description": "Depth L >= 2."},
    }
    for arch in ARCHITECTURES.values():
        properties.update(arch.settings)
    return {"type": "object", "additionalProperties": False, "required": ["name", "depth"], "properties": properties}
