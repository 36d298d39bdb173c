"""Writing a file atomically: into a temporary file beside it, renamed over the target once complete.

A crash, an error or a cancelled run then leaves either the old file or the new one, never half of one. The one
helper for every writer of the project (numpy-only side, so the add-on and `lifting` can both use it).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path


def _create_temp(folder: Path, name: str, suffix: str) -> Path:
    """A new empty file in `folder`, created with the usual permissions (0666 minus the umask: unlike
    `tempfile.mkstemp`'s 0600, so the finished file is as readable as any other the user writes)."""
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"could not create a temporary file beside {folder / name}")


def folder_problem(folder: str | os.PathLike[str]) -> str | None:
    """Why files cannot be written into `folder` (None when they can): it is a file, it cannot be made, or a
    file cannot be created in it (permission bits alone do not tell, e.g. under /proc). Creates the folder and
    removes the file it tries."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        return "it is a file, not a folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _is_temp_of(path: Path, target: Path) -> bool:
    """Whether `path` is one of `_create_temp`'s names for `target`."""
    return path.parent == target.parent and path.name.startswith(f".{target.name}.")


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object], suffix: str = ".tmp") -> Path:
    """Create or replace `path` with what `write(tmp)` writes to the temporary path `tmp`.

    `tmp` is in the same folder (so the final rename is atomic) and ends in `suffix` (e.g. ".tmp.npz" for
    `np.savez`, which would otherwise append ".npz"). The folder is created when missing. When `write` raises,
    the temporary file is removed, the error propagates and `path` is left as it was; an OSError about the
    temporary file or the folder is raised as one about `path` (the name the user gave). Returns `path`.
    """
    target = Path(path)
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temp(target.parent, target.name, suffix)
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        # An error about the temporary file or the folder is one about the target: name the user's path.
        about = None if exc.filename is None else Path(exc.filename)
        if about is None or about in (target, target.parent) or _is_temp_of(about, target):
            raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from None
        raise
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """`atomic_write` of UTF-8 text with "\\n" line ends on every platform. Returns `path`."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)

    return atomic_write(path, write)
