"""The one event protocol of the project's subprocesses: JSON lines on stdout, and exit statuses.

Spoken by the engine's worker (`python -m lifting worker`, read by the add-on's `worker_client`), by
fine-tuning with `--events`, and by `blender_addon/headless.py` (read by `lifting.app.via_blender`). It lives
here, beside the Motion3D contract, because `retarget/` is the one package both sides import: the worker's
Python and Blender's (standard library only, like the rest of this protocol's readers need).

Each line is one JSON object with an "event" name:

    {"event": "progress", "stage": STAGE, "fraction": 0..1 within the stage, "message": str}
    {"event": "check", "protocol": PROTOCOL_VERSION, ...versions and device...}   (worker check only)
    {"event": "warning", "message": ONE SENTENCE}     (the work goes on; shown with the result)
    {"event": "done", "result": str}                  (last line on success)
    {"event": "error", "message": ONE SENTENCE}       (last line on failure)

Any other line (a library's print) is not an event: `parse_line` returns None for it and readers log it.
Exit status: EXIT_OK on success, EXIT_USER for a problem the user can fix (the error event says which),
EXIT_INTERNAL for anything else (the traceback goes to stderr).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

# 2: blender_addon/headless.py speaks these JSON lines too (version 1 used text prefixes there).
PROTOCOL_VERSION = 2
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER = 2
EVENTS = ("progress", "check", "warning", "done", "error")
# Smallest change of a stage's fraction worth a progress line (the last one, 1.0, is always sent).
PROGRESS_STEP = 0.005


def one_sentence(message: str) -> str:
    """The message on one line, ending with a full stop."""
    text = " ".join(str(message).split()) or "the process failed without a message."
    return text if text.endswith((".", "!", "?")) else text + "."


def parse_line(line: str) -> dict[str, Any] | None:
    """The event a line carries (a dict with a str "event"), or None for any other line."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("event"), str):
        return parsed
    return None


class Emitter:
    """Writes events as JSON lines on a text stream, flushing each one."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last: dict[str, float] = {}

    def event(self, name: str, **fields: Any) -> None:
        self.stream.write(json.dumps({"event": name, **fields}, ensure_ascii=False) + "\n")
        self.stream.flush()

    def progress(self, stage: str, fraction: float, message: str = "") -> None:
        """Report a stage's progress (fraction clamped to 0..1); tiny steps are dropped, 1.0 never is."""
        f = min(max(float(fraction), 0.0), 1.0)
        last = self._last.get(stage)
        if last is not None and f < 1.0 and f - last < PROGRESS_STEP:
            return
        self._last[stage] = f
        self.event("progress", stage=stage, fraction=round(f, 4), message=str(message))

    def callback(self, stage: str) -> Callable[[float, str], None]:
        """A `progress(fraction, message)` callback bound to one stage."""

        def report(fraction: float, message: str = "") -> None:
            self.progress(stage, fraction, message)

        return report

    def warning(self, message: str) -> None:
        self.event("warning", message=one_sentence(message))

    def done(self, result: str) -> None:
        self.event("done", result=result)

    def error(self, message: str) -> None:
        self.event("error", message=one_sentence(message))
