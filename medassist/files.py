"""Files on disk: the one atomic writer every artefact goes through, and where caches live.

A reader (a user, a resumed run, the web app) must never see half a file or half an adapter: each
file is written beside its destination under a temporary name and renamed over it, and a directory
is staged whole and swapped in, so a kill at any moment leaves either the old artefact or the new one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_root() -> Path:
    """Converted models, merged exports and retrieval indexes (`$MEDASSIST_CACHE`, default ~/.cache/medassist)."""
    return Path(os.environ.get("MEDASSIST_CACHE", Path.home() / ".cache" / "medassist"))


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(temporary path)` in `path`'s directory, then rename the result onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        write(Path(temp))
        os.chmod(temp, 0o644)  # mkstemp makes it private; artefacts are meant to be shared
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """`text` into `path` as UTF-8, atomically."""
    return atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))


@contextmanager
def atomic_directory(destination: str | Path) -> Iterator[Path]:
    """Yield an empty staging directory beside `destination`; on success it replaces `destination` whole.

    An existing destination is moved aside first and deleted only once the new one is in place; on any
    error the staging directory is removed and the destination is untouched.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    try:
        staging.chmod(0o755)
        yield staging
        for path in staging.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        old = None
        if destination.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{destination.name}-old-", dir=destination.parent))
            os.replace(destination, old / destination.name)
        os.replace(staging, destination)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def remove_stale_staging(destination: str | Path) -> None:
    """Delete directories half-staged for `destination` by a process that was killed while writing."""
    destination = Path(destination)
    for stale in destination.parent.glob(f".{destination.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
