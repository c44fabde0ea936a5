"""Where a result came from: package version, git commit, creation time."""

import functools
import os
import subprocess
from datetime import datetime, timezone
from pathlib import Path


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The commit of the source tree this package runs from, with ``-dirty`` appended when tracked files differ
    from it (the results then came from uncommitted code), or 'unknown' outside a git checkout."""
    if os.environ.get("IMPLICIT_BIAS_GIT_COMMIT"):
        return os.environ["IMPLICIT_BIAS_GIT_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40", "--match=NONE"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def provenance() -> dict:
    from . import __version__

    return {
        "package_version": __version__,
        "git_commit": git_commit(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
