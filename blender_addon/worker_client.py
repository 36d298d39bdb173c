"""Run an engine process without freezing Blender: argument list, JSON-lines events, cancel = kill.

No bpy here (the operators poll a job from a timer). A `WorkerJob` starts one process with an argument list
(never a shell, so paths with spaces, quotes or any characters pass through as they are), reads its stdout on a
thread and turns each line into an event dict: the worker's JSON objects as they are, any other line as
`{"event": "log", "line": ...}`. stderr and the log lines go to a log file. `cancel()` kills the process and
its children. `outcome()` says how it ended: done (with the result path), error (one sentence) or cancelled.
`JobSequence` runs several such steps one after another (the engine installer); a step's plain output lines can
be read into its progress by a `LineProgress` (pip's byte counts, say).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .retarget.events import parse_line

LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class Outcome:
    """status: "done", "error" or "cancelled"; result: the done event's result; message: one sentence."""

    status: str
    result: str | None = None
    message: str = ""
    returncode: int | None = None


class LineProgress(Protocol):
    """How far a step got, read from its plain output lines (not the worker's JSON events): an immutable state
    whose `feed` returns the state after one more line, or None when the line says nothing about progress."""

    @property
    def fraction(self) -> float:
        """Share of the step done, 0..1."""
        ...

    @property
    def message(self) -> str:
        """What the step is doing now, for the progress text ('' when nothing is known yet)."""
        ...

    def feed(self, line: str) -> LineProgress | None:
        """The state after `line`; None when the line says nothing about progress."""
        ...


@dataclass(frozen=True)
class Step:
    """One process of a sequence: a label for the progress text, its argument list and environment, its share
    of the sequence's progress bar (`weight`, relative to the other steps') and, optionally, the initial state of
    a reader of its output lines (`progress`)."""

    label: str
    argv: tuple[str, ...]
    env: dict[str, str] | None = None
    weight: float = 1.0
    progress: LineProgress | None = None


class WorkerJob:
    """One engine process (see the module docstring)."""

    def __init__(
        self,
        argv: list[str] | tuple[str, ...],
        *,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if not argv:
            raise ValueError("a worker job needs a command")
        self.argv = [str(a) for a in argv]
        self.env = env
        self.cwd = None if cwd is None else str(cwd)
        self.log_path = None if log_path is None else Path(log_path)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.last_progress: dict[str, Any] | None = None
        self.tail: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []
        self._log: Any = None
        # Both output streams go through readers that write whole lines: a child's stderr written straight into
        # the log interleaved mid-line with the stdout lines written here (print() writes the text and the
        # newline separately), which glued two of pip's lines together.
        self._log_lock = threading.Lock()
        self._cancelled = False
        self._final: dict[str, Any] | None = None

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the process; an OSError (missing or non-executable program) propagates."""
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "a", encoding="utf-8", errors="replace")
            self._log.write("$ " + " ".join(json.dumps(a, ensure_ascii=False) for a in self.argv) + "\n")
            self._log.flush()
        kwargs: dict[str, Any] = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(
                subprocess, "CREATE_NO_WINDOW", 0
            )
        else:
            kwargs["start_new_session"] = True  # its own process group: cancel kills the children too
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if self._log is not None else subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                **kwargs,
            )
        except OSError:
            self._close_log()
            raise
        self._readers = [threading.Thread(target=self._read, name="video-mocap-worker", daemon=True)]
        if self._log is not None:
            self._readers.append(
                threading.Thread(target=self._read_stderr, name="video-mocap-stderr", daemon=True)
            )
        for reader in self._readers:
            reader.start()

    def _write_log(self, line: str) -> None:
        with self._log_lock:
            if self._log is not None:  # closed already when a reader outlived the job's end
                self._log.write(line + "\n")
                self._log.flush()

    def _read_stderr(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        for raw in proc.stderr:
            self._write_log(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        proc.stderr.close()

    def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            event = parse_line(line)
            if event is None:
                event = {"event": "log", "line": line}
                self.tail = [*self.tail, line][-LOG_TAIL_LINES:]
                if self._log is not None:
                    self._write_log(line)
            self.events.put(event)
        proc.stdout.close()

    @property
    def started(self) -> bool:
        return self._proc is not None

    def running(self) -> bool:
        """True while the process runs or its output is still being read."""
        if self._proc is None:
            return False
        return self._proc.poll() is None or any(reader.is_alive() for reader in self._readers)

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def poll(self) -> list[dict[str, Any]]:
        """Events received since the last call (never blocks)."""
        out = []
        while True:
            try:
                ev = self.events.get_nowait()
            except queue.Empty:
                break
            if ev.get("event") == "progress":
                self.last_progress = ev
            elif ev.get("event") in ("done", "error"):
                self._final = ev
            out.append(ev)
        return out

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process and its output to end; returns the exit status."""
        assert self._proc is not None, "job not started"
        code = self._proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=timeout)
        self._close_log()
        return code

    def cancel(self) -> None:
        """Kill the process and its children; the job's outcome becomes "cancelled"."""
        self._cancelled = True
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            if os.name == "nt":
                subprocess.run(
                    ["taskkill", "/T", "/F", "/PID", str(proc.pid)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
            else:
                os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass
        try:
            proc.kill()
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def _close_log(self) -> None:
        with self._log_lock:
            if self._log is not None:
                try:
                    self._log.close()
                finally:
                    self._log = None

    @property
    def reported_error(self) -> bool:
        """Whether the process sent an error event (it then said itself what went wrong)."""
        return self._final is not None and self._final.get("event") == "error"

    def outcome(self) -> Outcome:
        """How the finished job ended; call after `running()` became False (it drains pending events)."""
        for reader in self._readers:
            reader.join(timeout=5)
        self.poll()
        code = self.returncode
        self._close_log()
        if self._cancelled:
            return Outcome("cancelled", message="Cancelled.", returncode=code)
        final = self._final
        if final is not None and final.get("event") == "error":
            return Outcome("error", message=_sentence(str(final.get("message", ""))), returncode=code)
        if code == 0 and final is not None and final.get("event") == "done":
            result = final.get("result")
            return Outcome("done", result=None if result is None else str(result), returncode=code)
        where = f" (log: {self.log_path})" if self.log_path is not None else ""
        if code == 0:
            return Outcome("done", result=None, returncode=code)
        last = f": {self.tail[-1]}" if self.tail else ""
        return Outcome(
            "error",
            message=_sentence(f"the engine stopped unexpectedly with exit status {code}{last}{where}"),
            returncode=code,
        )


def _sentence(text: str) -> str:
    t = " ".join(text.split()) or "the engine failed without a message"
    t = t[0].upper() + t[1:]
    return t if t.endswith((".", "!", "?")) else t + "."


@dataclass
class JobSequence:
    """Steps run one after another; stops at the first failure. Progress: the weights of the steps done plus the
    current step's weight times its fraction (from its progress events, or its `Step.progress` reader), over
    all the weights.

    `explain(output)` may name the cause of a step that stopped without an error event, from what the step
    wrote into the log (pip's output, say); the failure then reads "LABEL failed: CAUSE (log: PATH)". `events`
    keeps the last event of each other kind the steps sent (the worker check's "check" event, say)."""

    steps: list[Step]
    log_path: Path | None = None
    cwd: str | None = None
    explain: Callable[[str], str | None] | None = None
    index: int = 0
    job: WorkerJob | None = None
    message: str = ""
    finished: Outcome | None = None
    results: list[Outcome] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    reading: LineProgress | None = None
    _log_start: int = 0

    def start(self) -> None:
        self._start_current()

    def _start_current(self) -> None:
        step = self.steps[self.index]
        self.message = step.label
        self.reading = step.progress
        self._log_start = (
            self.log_path.stat().st_size if self.log_path is not None and self.log_path.exists() else 0
        )
        self.job = WorkerJob(step.argv, env=step.env, cwd=self.cwd, log_path=self.log_path)
        try:
            self.job.start()
        except OSError as exc:
            self.finished = Outcome("error", message=_sentence(f"{step.label} could not start ({exc})"))

    @property
    def fraction(self) -> float:
        """Share of the whole sequence done, 0..1 (see the class docstring)."""
        weights = [max(s.weight, 0.0) for s in self.steps]
        total = sum(weights)
        if total <= 0:
            return 1.0 if self.index >= len(self.steps) else 0.0
        inner = 0.0
        if self.index < len(self.steps):
            if self.job is not None and self.job.last_progress is not None:
                inner = float(self.job.last_progress.get("fraction", 0.0))
            elif self.reading is not None:
                inner = self.reading.fraction
        current = weights[self.index] * min(max(inner, 0.0), 1.0) if self.index < len(weights) else 0.0
        return min(1.0, (sum(weights[: self.index]) + current) / total)

    def step(self) -> Outcome | None:
        """Advance; returns the final outcome once everything ran (or something failed), else None."""
        if self.finished is not None:
            return self.finished
        job = self.job
        assert job is not None
        label = self.steps[self.index].label
        for ev in job.poll():
            kind = ev.get("event")
            if kind == "log":
                read = None if self.reading is None else self.reading.feed(str(ev["line"]))
                if read is not None:
                    self.reading = read
                self.message = f"{label}: {(ev['line'] if read is None else read.message)[:120]}"
            elif kind == "progress":
                if ev.get("message"):
                    self.message = f"{label}: {ev['message']}"
            elif isinstance(kind, str):
                self.events[kind] = ev
        if job.running():
            return None
        out = job.outcome()
        self.results.append(out)
        if out.status != "done":
            label = self.steps[self.index].label
            cause = self._explained(out)
            message = out.message if cause is None else f"{cause} (log: {self.log_path})"
            self.finished = Outcome(out.status, message=_sentence(f"{label} failed: {message}"))
            if out.status == "cancelled":
                self.finished = out
            return self.finished
        self.index += 1
        if self.index == len(self.steps):
            self.finished = Outcome("done", result=out.result)
            return self.finished
        self._start_current()
        return self.finished

    def _explained(self, out: Outcome) -> str | None:
        """`explain` applied to what the failed step wrote into the log, when it sent no error event."""
        if self.explain is None or self.log_path is None or out.status != "error" or self.job is None:
            return None
        if self.job.reported_error:  # the step said what went wrong itself
            return None
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                f.seek(self._log_start)
                # What the step wrote, without the command lines WorkerJob logs before each process.
                output = "".join(line for line in f if not line.startswith("$ "))
            return self.explain(output)
        except OSError:
            return None

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.finished = Outcome("cancelled", message="Cancelled.")
