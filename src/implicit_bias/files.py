"""Writing result files atomically, with the permissions the user's umask allows."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write) -> Path:
    """Call ``write(temporary_path)``, then move the file to ``path`` in one step.

    The file appears under its name only once complete (temporary file in the same folder, then
    rename), so an interrupted job never leaves a file that reads as a valid result. The temporary
    file's 0600 mode is replaced by the one a new file would get (0644 under umask 022). Failures name
    the file and the cause (e.g. "No space left on device").
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as error:
        cause = os.strerror(error.errno) if error.errno else str(error)
        raise OSError(error.errno or errno.EIO, f"could not write {path}: {cause}") from error
    except RuntimeError as error:  # netCDF4 reports a full disk or an I/O fault as RuntimeError("NetCDF: HDF error")
        raise OSError(errno.EIO, f"could not write {path}: {error}{_disk_hint(path)}") from error
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _disk_hint(path: Path) -> str:
    try:
        free = os.statvfs(path.parent)
    except OSError:
        return ""
    return " (No space left on device)" if free.f_bavail * free.f_frsize < 1 << 20 else ""


def write_csv(table, path) -> Path:
    """Write a pandas DataFrame as CSV, atomically."""
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
