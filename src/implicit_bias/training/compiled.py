"""The compiled kernels the solvers call: numba's just-in-time dispatchers, or the same kernels built
ahead of time into an extension module.

By default the solvers call ``kernels`` through numba (compiled on first use, then cached; parallel
over the runs of a batch). Any process that calls a numba function pays numba's start-up, about
0.6 CPU-s, whatever the run costs. A workflow has one training job per run, so ``python -m
implicit_bias compile`` builds the three entry points once with ``numba.pycc`` into a standalone
extension module (it needs a C compiler and Python's headers, as numba's own build does); a
training job given its manifest (``train --kernels``) loads it in about a millisecond and never
imports numba. Built from the same source without fastmath, it computes the same bits
(tests/unit/test_compiled.py); it runs the runs of a batch one after another (no ``prange``).

A build is kept in numba's cache folder (NUMBA_CACHE_DIR, else beside the source), keyed by
everything it is made from (``cache.build_key``: the kernels' sources, codes.py included, numba,
llvmlite, numpy, Python, the machine and the compiler), so that emptying results/ does not build
again; the cached file's sha256 is kept beside it and checked before it is used (a damaged one is
built again, saying so).

Why it stays although ``numba.pycc`` is deprecated (its warning is silenced here): every training job of a
workflow pays numba's start-up without it (benchmarks/pipeline.py measures the pipeline's CPU-s). Where the
build fails, the workflow falls back to numba's cache (``build``'s ``fallback``, the solvers' warm-up, passed
in by the command line so that this module imports no solver). The generated batch kernels
(``specialised.py``) are another matter: they serve batches of runs (the library's API, Figure 3's GD
protocol: benchmarks/fig3_protocol.py), which no workflow job runs.

The manifest is a JSON file beside the module: the module's file name (a file beside the manifest,
nothing else), its sha256, the sources' sha256 and the build key it was made from, and the exported
signatures. A build from other sources, a module that does not match its sha256 or one named anywhere
else is refused.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from contextlib import contextmanager
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from ..files import atomic_write
from .cache import build_key, cache_directory, file_sha256, kernel_sources, sources_sha256

MODULE = "implicit_bias_training_kernels"
ENTRY_POINTS = ("flow_batch", "flow_velocity", "gd_batch")

_active = None  # the module the solvers call: kernels (numba) unless use() loaded a build


def kernels():
    """The kernels the solvers call now: the build use() loaded, else numba's (imported on first use)."""
    global _active
    if _active is None:
        from . import kernels as jit

        _active = jit
    return _active


def ahead_of_time() -> bool:
    """Whether the solvers call an ahead-of-time build (use() loaded one), not numba."""
    return _active is not None and _active.__name__ == MODULE


def threads() -> int:
    """How many threads a batch runs on: numba's pool, or 1 for an ahead-of-time build."""
    if ahead_of_time():
        return 1
    from numba import get_num_threads

    return get_num_threads()


def signatures():
    """The exported signatures, as numba types: the ones the solvers call (float64, C-contiguous)."""
    from numba import types

    def array(ndim, dtype=types.float64):
        return types.Array(dtype, ndim, "C")

    int_array = array(1, types.int64)
    problem = types.Tuple((array(2, types.int64), int_array, array(1), array(2), array(1), types.int64))
    pair = types.UniTuple
    return {
        "flow_batch": types.void(
            array(2),  # thetas
            problem,
            array(2),  # levels
            pair(types.float64, 2),  # (rtol, atol)
            pair(types.int64, 2),  # (max_steps, budget)
            array(3),  # beta records
            array(2),  # log-loss records
            array(2),  # reached levels
            array(3),  # theta records
            int_array,  # status
            int_array,  # steps
            array(2),  # resume
        ),
        "flow_velocity": types.Tuple((array(1), types.float64))(array(1), problem),
        "gd_batch": types.void(
            array(2),  # thetas, transposed
            problem,
            types.float64,  # lr
            int_array,  # checkpoint steps
            int_array,  # block starts
            array(3),  # beta records
            array(2),  # loss records
            array(2),  # log-loss records
            array(3),  # theta records
            int_array,  # failed at
        ),
    }


def build(manifest: str | Path, log=print, say=None, *, fallback) -> dict:
    """Build the kernels ahead of time into a module beside ``manifest`` and write the manifest.

    Where the build fails (no C compiler, no Python headers), ``fallback`` (``solvers.compile_kernels``,
    passed in so that this module imports no solver) compiles numba's kernels into its cache instead and the
    manifest names no module: training jobs then use those (and say so)."""
    manifest = Path(manifest)
    described = {"sources_sha256": sources_sha256(), "build_key": build_key(), "python": sys.implementation.cache_tag}
    try:
        described["module"] = _cached_build(manifest.parent, log, say or (lambda message: None))
        described["module_sha256"] = file_sha256(manifest.parent / described["module"])
        described["signatures"] = {name: str(signature) for name, signature in signatures().items()}
    except Exception as error:  # the build's errors come from distutils, the compiler and numba alike
        log(f"no ahead-of-time build ({type(error).__name__}: {error}); compiling numba's kernels into its cache")
        described.update(module=None, reason=f"{type(error).__name__}: {error}", signatures=fallback())
    manifest.write_text(json.dumps(described, indent=2) + "\n")
    return described


def _cached_build(directory: Path, log, say) -> str:
    """A build for this key: copied from the cache when its sha256 checks, else built (15-20 s) and kept there."""
    cached = cache_directory() / f"{MODULE}.{build_key()[:16]}.so"
    recorded = cached.with_name(cached.name + ".sha256")
    name = MODULE + EXTENSION_SUFFIXES[0]
    if cached.is_file():
        expected = recorded.read_text().strip() if recorded.is_file() else None
        if expected == file_sha256(cached):
            shutil.copy2(cached, directory / name)
            say(f"kept build for this key found: {cached}")
            return name
        log(f"the cached build {cached} does not match its recorded sha256 (damaged or incomplete); building again")
    say(f"no kept build for key {build_key()[:16]} in {cached.parent}: building the kernels (15-20 s, once per key)")
    with heartbeat(say, "building the kernels"):
        name = _build_module(directory)
    try:  # a read-only cache only costs the next run a build
        atomic_write(cached, lambda partial: shutil.copy2(directory / name, partial))
        atomic_write(recorded, lambda partial: Path(partial).write_text(file_sha256(directory / name) + "\n"))
    except OSError as error:
        log(f"could not keep the build in {cached.parent} ({error}); the next run builds again")
    return name


@contextmanager
def heartbeat(say, what: str, every: float = 5.0):
    """While the block runs (a compiler call that reports nothing), ``say`` "<what>: N s so far" every ``every``
    seconds, from a thread that stops with the block."""
    import threading
    import time

    done, start = threading.Event(), time.perf_counter()

    def beat():
        while not done.wait(every):
            say(f"{what}: {time.perf_counter() - start:.0f} s so far")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _build_module(directory: Path) -> str:
    """numba.pycc's build of the entry points into ``directory``; the module's file name."""
    import warnings

    from numba.core.errors import NumbaPendingDeprecationWarning

    from . import kernels as jit

    with warnings.catch_warnings():  # numba.pycc is deprecated, with no successor yet; it works
        warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)
        from numba.pycc import CC

        cc = CC(MODULE)
        cc.output_dir = str(directory)
        cc.verbose = False
        for name, signature in signatures().items():
            cc.export(name, signature)(getattr(jit, name).py_func)
        cc.compile()
    return Path(cc.output_file).name


def load(manifest: str | Path):
    """The module a manifest describes, checked against the kernels' source; errors say how to rebuild."""
    manifest = Path(manifest)
    rebuild = f"rebuild it with: python -m implicit_bias compile --output {manifest}"
    try:
        described = json.loads(manifest.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the kernels manifest {manifest}: {error}; {rebuild}") from None
    if described.get("sources_sha256") != sources_sha256():
        raise ValueError(
            f"the kernels in {manifest} were built from another version of their sources "
            f"({', '.join(p.name for p in kernel_sources())}); {rebuild}"
        )
    if described.get("python") != sys.implementation.cache_tag:
        raise ValueError(
            f"the kernels in {manifest} were built for {described.get('python')}, "
            f"this is {sys.implementation.cache_tag}; {rebuild}"
        )
    if described.get("module") is None:  # the build failed where it was made: numba's kernels
        return None
    name = described["module"]
    if not isinstance(name, str) or Path(name).name != name or not name.startswith(MODULE + "."):
        raise ValueError(f"the kernels manifest {manifest} names {name!r}, not a module file beside it; {rebuild}")
    path = manifest.parent / name
    spec = importlib.util.spec_from_file_location(MODULE, path)
    if spec is None or not path.is_file():
        raise ValueError(f"the kernels module {path} named by {manifest} is missing; {rebuild}")
    if file_sha256(path) != described.get("module_sha256"):
        raise ValueError(f"the kernels module {path} does not match the sha256 in {manifest}; {rebuild}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def use(manifest: str | Path | None) -> bool:
    """Make the solvers call the build a manifest describes (None, or a manifest without a module:
    numba's kernels). True when a build is in use."""
    global _active
    _active = None if manifest is None else load(manifest)
    return _active is not None
