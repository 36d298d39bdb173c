"""The one progress and cancel contract of every stage (detect, lift, refine, preview, fine-tune, convert).

`Progress`: `progress(fraction, message)`, fraction in 0..1 within the stage, message a short text ("frame
12/300", "refine"). `Cancel`: a callable returning True, or an Event (threading or multiprocessing) that is set,
when the caller wants the work stopped; the work then raises `Cancelled` (a MocapError) and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lifting.errors import MocapError

Progress = Callable[[float, str], None]


class _EventLike(Protocol):
    def is_set(self) -> bool: ...


Cancel = Callable[[], bool] | _EventLike


class Cancelled(MocapError):
    """The caller cancelled the run; nothing was written."""

    def __init__(self, message: str = "The run was cancelled; nothing was written.") -> None:
        super().__init__(message)


def as_cancel(cancel: Cancel | None) -> Callable[[], bool] | None:
    """A `cancel()` callable from a callable or a threading/multiprocessing Event (or None)."""
    if cancel is None:
        return None
    is_set = getattr(cancel, "is_set", None)
    if callable(is_set):
        return lambda: bool(is_set())
    if callable(cancel):
        return lambda: bool(cancel())
    raise TypeError("cancel must be a callable returning bool or an Event")


def report(progress: Progress | None, fraction: float, message: str = "") -> None:
    """Call `progress` when there is one."""
    if progress is not None:
        progress(fraction, message)


def scaled(progress: Progress | None, start: float, end: float) -> Progress | None:
    """A `Progress` for a part of a stage: its fractions 0..1 are reported as start..end."""
    if progress is None:
        return None

    def part(fraction: float, message: str) -> None:
        progress(start + (end - start) * fraction, message)

    return part
