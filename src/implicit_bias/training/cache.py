"""What a compiled build of the kernels is keyed on, and where builds are kept.

A build bakes in more than ``kernels.py``: the constants it imports (``codes.py``), numba's and
llvmlite's code generation, numpy's ABI, Python, the machine and the C compiler. Every cache of
compiled kernels — the ahead-of-time module (``compiled``), numba's own JIT cache and the generated GD
kernels (``specialised``) — is keyed on all of it (``build_key``), so that an edit of any of these
files or a new toolchain builds again, and one that changes nothing reuses the build. A training job
checks the module it loads against the sources (``sources_sha256``) and the module's own sha256.

numba's JIT cache keys a function on its own file's timestamp only, so it cannot see an edit of
``codes.py``: it is kept in a folder named by the key instead (``numba_cache_directory``).
"""

from __future__ import annotations

import ast
import hashlib
import os
import platform
import sys
import sysconfig
from functools import cache
from pathlib import Path

TRAINING = Path(__file__).resolve().parent
KERNELS = TRAINING / "kernels.py"


def kernel_sources() -> list[Path]:
    """kernels.py and the training modules it imports, directly or through each other (relative imports)."""
    found, todo = [], [KERNELS]
    while todo:
        path = todo.pop()
        if path in found:
            continue
        found.append(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                todo.append(TRAINING / f"{node.module.replace('.', '/')}.py")
    return sorted(found)


def _toolchain() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    compiler = sysconfig.get_config_var("CC") or "-"
    return (
        f"numba {installed('numba')} llvmlite {installed('llvmlite')} numpy {installed('numpy')} "
        f"python {sys.implementation.cache_tag} {platform.machine()} cc {compiler}"
    )


@cache
def sources_sha256() -> str:
    """sha256 of the kernels' sources (names and bytes): what a build computes. Cheap (no package metadata),
    so that a training job can check the build it loads."""
    digest = hashlib.sha256()
    for path in kernel_sources():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def build_key() -> str:
    """sha256 of the sources and the toolchain that compiles them: what a kept build is reused for."""
    return hashlib.sha256(f"{sources_sha256()} {_toolchain()}".encode()).hexdigest()


def cache_directory() -> Path:
    """Where builds are kept between runs, like numba's own cache: NUMBA_CACHE_DIR, else beside the source."""
    return Path(os.environ.get("NUMBA_CACHE_DIR") or TRAINING / "__pycache__")


def numba_cache_directory() -> Path:
    """numba's JIT cache for the kernels: a folder per build key."""
    return cache_directory() / f"numba-{build_key()[:16]}"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
