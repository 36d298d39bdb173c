"""MediaPipe Pose on a video stream, following one subject, with short gaps filled.

MediaPipe's pose solution (`mediapipe==0.10.21`, `model_complexity=1`, tracking mode: the only model that ships
inside the wheel) returns one person per frame. With several people in view its tracker can jump to another
person; `SubjectTracker` rejects a detection whose hip centre moved implausibly far from where the subject was
(relative to the subject's size and the time since it was last seen) and then looks for the subject again in a
crop around its last position with a second, single-image Pose instance, so the result keeps following the same
person and re-acquires them after a loss. Frames without the subject are marked; gaps up to `max_gap_s` are
filled by linear interpolation with low visibility, longer gaps stay marked.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from lifting.skeleton import BLAZEPOSE

TRACKER_VERSION = 1
_HIPS = [BLAZEPOSE.index["left_hip"], BLAZEPOSE.index["right_hip"]]
_SHOULDERS = [BLAZEPOSE.index["left_shoulder"], BLAZEPOSE.index["right_shoulder"]]


@dataclass(frozen=True)
class DetectorSettings:
    """Everything that changes the detector's output; part of the cache key.

    max_jump: largest plausible hip-centre move per second, in torso lengths (shoulder centre to hip centre);
    a sprinter covers about 4 torso lengths a second, walkers about 1.5. min_track_visibility: mean visibility of
    hips and shoulders needed for a detection to update where the subject is (weak, partial detections are kept
    but do not move the tracked position, so they cannot drag it onto another person). max_reacquire: after a
    loss, the subject is looked for at most this many torso lengths from where it was last seen.
    max_gap_s: gaps up to this long are interpolated. interpolated_visibility: visibility factor on filled frames.
    """

    model_complexity: int = 1
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    max_jump: float = 5.0
    max_reacquire: float = 3.0
    min_track_visibility: float = 0.5
    max_gap_s: float = 0.5
    interpolated_visibility: float = 0.3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PoseResult:
    """One frame's detection: keypoints (33, 2) pixels and visibility (33,), or None when nothing was found."""

    keypoints: npt.NDArray[np.float64]
    visibility: npt.NDArray[np.float64]


def _import_mediapipe() -> Any:
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


def mediapipe_version() -> str:
    return str(_import_mediapipe().__version__)


def _landmarks(result: Any, width: int, height: int, x0: float = 0.0, y0: float = 0.0) -> PoseResult | None:
    if result.pose_landmarks is None:
        return None
    lm = result.pose_landmarks.landmark
    xy = np.array([[p.x * width + x0, p.y * height + y0] for p in lm], dtype=np.float64)
    vis = np.array([p.visibility for p in lm], dtype=np.float64)
    return PoseResult(xy, np.clip(vis, 0.0, 1.0))


def _centre_and_size(pose: PoseResult) -> tuple[npt.NDArray[np.float64], float]:
    hips = pose.keypoints[_HIPS].mean(axis=0)
    shoulders = pose.keypoints[_SHOULDERS].mean(axis=0)
    return hips, max(float(np.linalg.norm(shoulders - hips)), 1.0)


class SubjectTracker:
    """Runs MediaPipe on each frame and keeps to one subject (see the module docstring)."""

    def __init__(self, settings: DetectorSettings, fps: float) -> None:
        mp = _import_mediapipe()
        self.settings = settings
        self.fps = fps
        common = {
            "model_complexity": settings.model_complexity,
            "min_detection_confidence": settings.min_detection_confidence,
        }
        self.pose = mp.solutions.pose.Pose(
            static_image_mode=False, min_tracking_confidence=settings.min_tracking_confidence, **common
        )
        self.crop_pose = mp.solutions.pose.Pose(static_image_mode=True, **common)
        self.last_centre: npt.NDArray[np.float64] | None = None
        self.last_size = 1.0
        self.frames_since_seen = 0

    def close(self) -> None:
        self.pose.close()
        self.crop_pose.close()

    def _plausible(self, pose: PoseResult) -> bool:
        if self.last_centre is None:
            return True
        centre, _ = _centre_and_size(pose)
        seconds = (self.frames_since_seen + 1) / self.fps
        # Capped, so that after a loss the tracker re-acquires the subject near where it was last seen and
        # never takes over another person further away.
        limit = self.last_size * (min(self.settings.max_jump * seconds, self.settings.max_reacquire) + 0.25)
        return float(np.linalg.norm(centre - self.last_centre)) <= limit

    def _search_crop(self, rgb: npt.NDArray[np.uint8]) -> PoseResult | None:
        """Single-image detection in a square around the subject's last position."""
        assert self.last_centre is not None
        h, w = rgb.shape[:2]
        half = 4.0 * self.last_size
        x0, y0 = int(max(self.last_centre[0] - half, 0)), int(max(self.last_centre[1] - 1.5 * half, 0))
        x1, y1 = int(min(self.last_centre[0] + half, w)), int(min(self.last_centre[1] + half, h))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        return _landmarks(self.crop_pose.process(crop), x1 - x0, y1 - y0, x0, y0)

    def process(self, bgr: npt.NDArray[np.uint8]) -> PoseResult | None:
        """The subject's keypoints in this frame, or None."""
        rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        h, w = rgb.shape[:2]
        found = _landmarks(self.pose.process(rgb), w, h)
        if found is not None and not self._plausible(found):
            found = None
        if found is None and self.last_centre is not None:
            candidate = self._search_crop(rgb)
            found = candidate if candidate is not None and self._plausible(candidate) else None
        elif found is None:
            # Nobody yet: the tracking graph needs a few frames to lock on, a single-image pass does not.
            found = _landmarks(self.crop_pose.process(rgb), w, h)
        if found is None:
            self.frames_since_seen += 1
            return None
        if (
            float(found.visibility[_HIPS + _SHOULDERS].mean()) >= self.settings.min_track_visibility
            or self.last_centre is None
        ):
            self.last_centre, self.last_size = _centre_and_size(found)
            self.frames_since_seen = 0
        else:
            self.frames_since_seen += 1
        return found


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


def detect_stream(
    frames: Any,
    fps: float,
    total: int,
    settings: DetectorSettings,
    progress: Callable[[float, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.bool_],
    list[int],
    list[float],
]:
    """Run the tracker over an iterable of `decode.Frame`s.

    Returns keypoints (T, 33, 2) px, visibility (T, 33), detected (T,), interpolated (T,), frame indices and
    timestamps. `total` is the expected frame count, for progress only.
    """
    tracker = SubjectTracker(settings, fps)
    kps: list[npt.NDArray[np.float64]] = []
    vis: list[npt.NDArray[np.float64]] = []
    det: list[bool] = []
    indices: list[int] = []
    times: list[float] = []
    try:
        for frame in frames:
            if cancel is not None and cancel():
                raise MocapError("Detection was cancelled.")
            found = tracker.process(frame.image)
            kps.append(found.keypoints if found else np.zeros((33, 2)))
            vis.append(found.visibility if found else np.zeros(33))
            det.append(found is not None)
            indices.append(frame.index)
            times.append(frame.time)
            if progress is not None:
                progress(min(len(indices) / max(total, 1), 1.0), f"frame {frame.index}")
    finally:
        tracker.close()
    if not indices:
        raise MocapError("The frame range selects no frames of the video; choose a range inside the clip.")
    keypoints, visibility, detected = np.stack(kps), np.stack(vis), np.array(det)
    interpolated = fill_short_gaps(
        keypoints,
        visibility,
        detected,
        round(settings.max_gap_s * fps),
        settings.interpolated_visibility,
    )
    return keypoints, visibility, detected, interpolated, indices, times
