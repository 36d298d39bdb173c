"""Errors a user can cause: one clear sentence, never a traceback; and warnings: one sentence, the work goes on."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any


class MocapError(Exception):
    """A problem the user can fix (missing file, bad checkpoint, clip too short...).

    The message is one sentence saying what happened and what to do; command lines and the add-on show it
    as is, without a traceback.
    """


class MocapWarning(UserWarning):
    """Something the user should know while the work goes on (a cache that cannot be written, a person small in
    the picture...): one sentence; the shells print it as one `warning: ...` line."""


def warn(message: str) -> None:
    """Issue a MocapWarning (shown once per call site and message by Python's default filter)."""
    warnings.warn(MocapWarning(message), stacklevel=2)


@contextlib.contextmanager
def reporting_warnings(report: Callable[[str], None]) -> Iterator[None]:
    """While inside, every MocapWarning goes to `report(message)` (one line, each time it is issued; the
    command line prints `warning: MESSAGE`, the worker sends an event); other warnings keep Python's
    handling, and the previous warning settings come back on leaving."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", MocapWarning)
        shown = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, MocapWarning):
                report(" ".join(str(message).split()))
            else:
                shown(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield
