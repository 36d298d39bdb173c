"""MediaPipe Pose settings and helpers shared by detection (`lifting.video2d.detect`) and its tracker.

MediaPipe's pose landmarker (the Tasks API of `mediapipe` 1.2, a wheel for any Python 3) runs BlazePose's full
model from the bundle that ships in this package (`POSE_MODEL`, made from the 0.10.21 wheel's models by
`tools/make_pose_model.py`; newer wheels ship no models). We ask it for one person per frame; choosing and
following one subject is `lifting.video2d.tracking`'s job. Here: the settings that change the detector's output
(part of the cache key), the lazy MediaPipe import, the model, and the filling of short gaps by linear
interpolation with low visibility (longer gaps stay marked).
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lifting.cache import cache_dir
from lifting.errors import MocapError


@dataclass(frozen=True)
class DetectorSettings:
    """Everything about MediaPipe that changes the detector's output; part of the cache key (the tracker's
    own settings are `lifting.video2d.tracking.TrackingSettings`). max_gap_s: gaps up to this long are interpolated.
    interpolated_visibility: visibility factor on filled frames. `lifting.video2d.detect.DEFAULT_SETTINGS` lowers
    min_detection_confidence to 0.3, which small, backlit people need. hands: hand landmarks too (their version,
    `HANDS_VERSION`, is part of the key then). `POSE_VERSION` is always part of the key."""

    model_complexity: int = 1  # 1: BlazePose full, the model in `POSE_MODEL`
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    max_gap_s: float = 0.5
    interpolated_visibility: float = 0.3
    hands: bool = False  # also 21 landmarks per hand (`lifting.video2d.mediapipe_hands`)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pose"] = {"version": POSE_VERSION}
        if self.hands:
            d["hands"] = {"version": HANDS_VERSION}
        else:
            del d["hands"]  # the key of every detection made before the option existed
        return d


HANDS_VERSION = 3  # part of the detection cache key with hands on: bump when hand results can change
# (2: hands tracked from the previous frame's landmarks, turned retries, no handedness rule; 3: fewer retries,
# small hands' pose crop first)
POSE_VERSION = 2  # part of every detection cache key: bump when what the pose detection stores can change
# (2: the pose world landmarks, `Keypoints2D.pose_world`; detections cached before it are run again)


@dataclass
class PoseResult:
    """One frame's detection: keypoints (33, 2) pixels and visibility (33,), or None when nothing was found;
    world (33, 3): MediaPipe's pose world landmarks of the same result (metres, origin between the hips, x to the
    image's right, y down, z away from the camera), None where the estimator gives none (a predicted pose)."""

    keypoints: npt.NDArray[np.float64]
    visibility: npt.NDArray[np.float64]
    world: npt.NDArray[np.float64] | None = None


def import_mediapipe() -> Any:
    # MediaPipe's C++ side logs warnings on stderr unless told not to; users should only see our output.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import mediapipe as mp
    except ImportError:
        raise MocapError(
            "MediaPipe is not installed in this environment; run `python3.11 dev.py setup` or install the engine."
        ) from None
    return mp


POSE_MODEL = Path(__file__).resolve().parent / "models" / "pose_landmarker_full.task"


def load_pose_model(path: Path = POSE_MODEL) -> bytes:
    """The pose model bundle's bytes (`POSE_MODEL`: BlazePose's detector and full landmark model)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MocapError(
            f"The pose model {path} cannot be read ({exc.strerror or exc}); reinstall the add-on or the package."
        ) from None


def mediapipe_version() -> str:
    return str(import_mediapipe().__version__)


def fill_short_gaps(
    keypoints: npt.NDArray[np.float64],
    visibility: npt.NDArray[np.float64],
    detected: npt.NDArray[np.bool_],
    max_gap: int,
    visibility_factor: float,
) -> npt.NDArray[np.bool_]:
    """Interpolate gaps of at most `max_gap` frames between two detections, in place; returns the filled mask.

    keypoints (T, 33, 2) and visibility (T, 33) are modified; `detected` (T,) is set True on filled frames.
    """
    filled = np.zeros(len(detected), dtype=bool)
    idx = np.flatnonzero(detected)
    for a, b in itertools.pairwise(idx):
        gap = b - a - 1
        if 0 < gap <= max_gap:
            w = (np.arange(1, gap + 1) / (gap + 1))[:, None, None]
            keypoints[a + 1 : b] = keypoints[a] * (1 - w) + keypoints[b] * w
            visibility[a + 1 : b] = np.minimum(visibility[a], visibility[b]) * visibility_factor
            filled[a + 1 : b] = True
    detected |= filled
    return filled


def native_log_path() -> Path:
    """Where MediaPipe's and TFLite's own log lines go (kept for bug reports): `lifting.cache` "logs"."""
    return cache_dir("logs") / "mediapipe.log"


class NativeLogFile:
    """The open log file for what native code writes on stderr (`native_log_path()`, or nowhere when it cannot
    be written)."""

    def __init__(self) -> None:
        try:
            path = native_log_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        except OSError:
            self.fd = os.open(os.devnull, os.O_WRONLY)

    def take_over_stderr(self) -> None:
        """Point this process's stderr (file descriptor 2) at the log for good: for a process that draws
        nothing and reports through a queue (a parallel detection segment)."""
        sys.stderr.flush()
        os.dup2(self.fd, 2)

    def close(self) -> None:
        os.close(self.fd)


# How the native libraries' log lines start: TFLite ("INFO: ...", "WARNING: ..."), absl/glog ("W0000 00:00:...").
_NATIVE_LINE = re.compile(rb"^(INFO: |WARNING: |ERROR: |[IWEF]\d{4} )")
_NATIVE_PREFIXES = (b"INFO: ", b"WARNING: ", b"ERROR: ")


class NativeLogFilter:
    """While open, the process's stderr (file descriptor 2) runs through a pipe: the native libraries' log lines
    (MediaPipe, TFLite, absl: `_NATIVE_LINE`) go to `native_log_path()`, everything else (progress bars,
    warnings, errors) to the real stderr at once. MediaPipe's graph threads log at moments of their own, so a
    redirection around each call would miss them. `close()` puts stderr back."""

    def __init__(self) -> None:
        self._logs = NativeLogFile()
        sys.stderr.flush()
        self._stderr = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self._read = read
        self._thread = threading.Thread(target=self._pump, name="native-log-filter", daemon=True)
        self._thread.start()
        self._closed = False

    def _pump(self) -> None:
        pending = b""
        while True:
            chunk = os.read(self._read, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._route(line + b"\n")
            # A partial line that cannot be a native one (a progress bar's "\r...") goes out now.
            if pending and not _could_be_native(pending):
                os.write(self._stderr, pending)
                pending = b""
        if pending:
            self._route(pending)
        os.close(self._read)

    def _route(self, line: bytes) -> None:
        os.write(self._logs.fd if _NATIVE_LINE.match(line) else self._stderr, line)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        sys.stderr.flush()
        os.dup2(self._stderr, 2)  # closes the pipe's last write end: the pump reads to the end and stops
        self._thread.join(timeout=5.0)
        os.close(self._stderr)
        self._logs.close()


def _could_be_native(partial: bytes) -> bool:
    """Whether a line still being written may turn out to be a native log line."""
    if any(p.startswith(partial) or partial.startswith(p) for p in _NATIVE_PREFIXES):
        return True
    head = partial[:5]
    return head[:1] in (b"I", b"W", b"E", b"F") and head[1:].isdigit()
