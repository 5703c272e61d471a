"""Atomic file and folder writing: results appear whole or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


def _temporary_name(path: Path, kind: str) -> Path:
    """A name beside ``path`` that nothing else uses (hidden, unique).

    It ends with ``path``'s own suffix, for writers that pick the format from
    the name or append a suffix that is missing.
    """
    return path.parent / f".{path.name}.{kind}-{uuid.uuid4().hex[:12]}{path.suffix}"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    The temporary file does not exist yet: the body creates it, with the
    permissions any new file gets (the process umask applies as usual). If the
    body raises (an error or Ctrl-C), the temporary file is removed and
    ``path`` is left as it was, so no half-written file is ever visible.

    Parameters
    ----------
    path : path-like
        The final file.

    Yields
    ------
    tmp : pathlib.Path
        Where to write.
    """
    path = Path(path)
    tmp = _temporary_name(path, "tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new temporary folder beside ``path``; move it to ``path`` on success.

    An existing folder at ``path`` is replaced only once the new one is
    complete. If the body raises, the temporary folder is removed and ``path``
    is left as it was.

    Parameters
    ----------
    path : path-like
        The final folder.

    Yields
    ------
    tmp : pathlib.Path
        The folder to fill.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"'{path}' exists and is not a folder")
    tmp = _temporary_name(path, "tmp")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not path.exists():
        try:
            tmp.rename(path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return
    old = _temporary_name(path, "old")
    path.rename(old)
    try:
        tmp.rename(path)
    except BaseException:
        old.rename(path)  # put the complete old folder back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
