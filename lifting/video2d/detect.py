"""Video → one subject's 2D keypoints: MediaPipe Pose, the subject tracker, gap filling, parallel segments.

`detect_video` is the body of `lifting.app.api.detect` (which adds the cache): it decodes the clip as a stream
(`lifting.video2d.video`), runs MediaPipe Pose (`mediapipe==0.10.21`, `model_complexity=1`, the only model inside the
wheel) through `tracking.SubjectTracker`, and fills short gaps. Long clips are cut into segments detected by
separate processes (`lifting.video2d.parallel`); short ones, or `workers=1`, run here.

Keypoints are pixels of the upright frame, clipped into the image: a landmark MediaPipe places outside the
picture (a foot below the bottom edge) is moved onto the border and its visibility capped at `OFF_IMAGE_VISIBILITY`.
Frames without the subject have zero keypoints and visibility.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from lifting.video2d import video as videoio
from lifting.video2d.mediapipe_pose import DetectorSettings, PoseResult, fill_short_gaps, import_mediapipe
from lifting.video2d.tracking import TRACKER_VERSION, Box, SubjectState, SubjectTracker, TrackingSettings

DETECTOR_NAME = "mediapipe-pose"
# MediaPipe's default detection threshold (0.5) misses small or backlit people for seconds at a time; the
# subject tracker's gates and pose checks keep the extra false detections of 0.3 out, and fewer misses also
# mean fewer second looks (a faster run).
DEFAULT_SETTINGS = DetectorSettings(min_detection_confidence=0.3)
OFF_IMAGE_VISIBILITY = 0.1
Progress = Callable[[float, str], None]


class Cancelled(MocapError):
    """The caller cancelled the run; nothing was written."""

    def __init__(self, message: str = "Detection was cancelled.") -> None:
        super().__init__(message)


class _EventLike(Protocol):
    def is_set(self) -> bool: ...


CancelLike = Callable[[], bool] | _EventLike


def as_cancel(cancel: CancelLike | None) -> Callable[[], bool] | None:
    """A `cancel()` callable from a callable or a threading/multiprocessing Event (or None)."""
    if cancel is None:
        return None
    is_set = getattr(cancel, "is_set", None)
    if callable(is_set):
        return lambda: bool(is_set())
    if callable(cancel):
        return lambda: bool(cancel())
    raise TypeError("cancel must be a callable returning bool or an Event")


def detector_version() -> str:
    """MediaPipe's version and our tracker's, e.g. `0.10.21+tracker3`."""
    return f"{import_mediapipe().__version__}+tracker{TRACKER_VERSION}"


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class MediaPipePose:
    """MediaPipe Pose as a `tracking.PoseEstimator`: a tracking-mode instance (with landmark smoothing) and a
    single-image instance, both `model_complexity` from the settings; landmarks returned in pixels."""

    def __init__(self, settings: DetectorSettings) -> None:
        if settings.model_complexity != 1:
            raise MocapError(
                "Only model_complexity=1 ships inside mediapipe 0.10.21 (the others download at run time); use 1."
            )
        mp = import_mediapipe()
        common = {
            "model_complexity": settings.model_complexity,
            "min_detection_confidence": settings.min_detection_confidence,
        }
        self._tracking = mp.solutions.pose.Pose(
            static_image_mode=False, min_tracking_confidence=settings.min_tracking_confidence, **common
        )
        self._single = mp.solutions.pose.Pose(static_image_mode=True, **common)

    @staticmethod
    def _pixels(result: Any, width: int, height: int, x0: int = 0, y0: int = 0) -> PoseResult | None:
        if result.pose_landmarks is None:
            return None
        lm = result.pose_landmarks.landmark
        xy = np.array([[p.x * width + x0, p.y * height + y0] for p in lm], dtype=np.float64)
        vis = np.clip(np.array([p.visibility for p in lm], dtype=np.float64), 0.0, 1.0)
        return PoseResult(xy, vis)

    def track(self, rgb: npt.NDArray[np.uint8]) -> PoseResult | None:
        h, w = rgb.shape[:2]
        return self._pixels(self._tracking.process(rgb), w, h)

    def detect(self, rgb: npt.NDArray[np.uint8], window: Box) -> PoseResult | None:
        x0, y0, x1, y1 = window
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        return self._pixels(self._single.process(crop), x1 - x0, y1 - y0, x0, y0)

    def reset_tracking(self) -> None:
        self._tracking.reset()

    def close(self) -> None:
        self._tracking.close()
        self._single.close()


@dataclass
class RawTrack:
    """Per-frame tracker output before gap filling: keypoints (T, 33, 2) px, visibility (T, 33), detected
    (T,), frame_index (T,), timestamps (T,) s; `final` is the subject state after the last frame and `seed`
    the subject's appearance once enrolled (both None when nobody was chosen)."""

    keypoints: npt.NDArray[np.float64]
    visibility: npt.NDArray[np.float64]
    detected: npt.NDArray[np.bool_]
    frame_index: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.float64]
    final: SubjectState | None = None
    seed: npt.NDArray[np.float32] | None = None

    @classmethod
    def empty(cls) -> RawTrack:
        return cls(
            np.zeros((0, 33, 2)), np.zeros((0, 33)), np.zeros(0, bool), np.zeros(0, np.int64), np.zeros(0)
        )

    def __len__(self) -> int:
        return len(self.detected)

    def slice(self, a: int, b: int | None = None) -> RawTrack:
        s = slice(a, b)
        return RawTrack(
            self.keypoints[s],
            self.visibility[s],
            self.detected[s],
            self.frame_index[s],
            self.timestamps[s],
            self.final,
            self.seed,
        )

    @staticmethod
    def concat(parts: list[RawTrack]) -> RawTrack:
        return RawTrack(
            np.concatenate([p.keypoints for p in parts]),
            np.concatenate([p.visibility for p in parts]),
            np.concatenate([p.detected for p in parts]),
            np.concatenate([p.frame_index for p in parts]),
            np.concatenate([p.timestamps for p in parts]),
            parts[-1].final,
            parts[0].seed,
        )


@dataclass
class Detection:
    """The finished result of `detect_video` (see `lifting.video2d.keypoints2d` for the meaning of each array):
    keypoints (T, 33, 2) float32 px, visibility (T, 33) float32, detected (T,), interpolated (T,),
    frame_index (T,), timestamps (T,) s, fps (video rate / stride), image_size (w, h), workers used."""

    keypoints: npt.NDArray[np.float32]
    visibility: npt.NDArray[np.float32]
    detected: npt.NDArray[np.bool_]
    interpolated: npt.NDArray[np.bool_]
    frame_index: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.float64]
    fps: float
    image_size: tuple[int, int]
    workers: int = 1


def track_frames(
    frames: Iterable[videoio.Frame],
    image_size: tuple[int, int],
    settings: DetectorSettings,
    tracking: TrackingSettings,
    *,
    seed: SubjectState | npt.NDArray[np.float32] | None = None,
    estimator: Any = None,
    on_frame: Callable[[int, SubjectTracker], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RawTrack:
    """Run the subject tracker over decoded frames (one process). `on_frame(n_done, tracker)` is called after
    each frame; `cancel()` before each, raising Cancelled. `estimator` defaults to a new MediaPipePose."""
    own = estimator is None
    est = MediaPipePose(settings) if own else estimator
    tracker = SubjectTracker(est, tracking, image_size, seed)
    w, h = image_size
    kps: list[npt.NDArray[np.float64]] = []
    vis: list[npt.NDArray[np.float64]] = []
    det: list[bool] = []
    indices: list[int] = []
    times: list[float] = []
    try:
        for frame in frames:
            if cancel is not None and cancel():
                raise Cancelled()
            found = tracker.process(frame.image, frame.time)
            if found is None:
                kps.append(np.zeros((33, 2)))
                vis.append(np.zeros(33))
            else:
                xy = found.keypoints.copy()
                v = found.visibility.copy()
                outside = (xy[:, 0] < 0) | (xy[:, 0] > w) | (xy[:, 1] < 0) | (xy[:, 1] > h)
                xy[:, 0] = np.clip(xy[:, 0], 0, w)
                xy[:, 1] = np.clip(xy[:, 1], 0, h)
                v[outside] = np.minimum(v[outside], OFF_IMAGE_VISIBILITY)
                kps.append(xy)
                vis.append(v)
            det.append(found is not None)
            indices.append(frame.index)
            times.append(frame.time)
            if on_frame is not None:
                on_frame(len(indices), tracker)
        if cancel is not None and cancel():
            raise Cancelled()
    finally:
        if own:
            est.close()
    if not indices:
        return RawTrack.empty()
    state = tracker.snapshot()
    return RawTrack(
        np.stack(kps),
        np.stack(vis),
        np.array(det, dtype=bool),
        np.asarray(indices, dtype=np.int64),
        np.asarray(times, dtype=np.float64),
        state,
        tracker.seed,
    )


def finish(
    raw: RawTrack, settings: DetectorSettings, fps: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Gap filling on a whole clip's raw track: keypoints, visibility, detected, interpolated."""
    keypoints = raw.keypoints.copy()
    visibility = raw.visibility.copy()
    detected = raw.detected.copy()
    interpolated = fill_short_gaps(
        keypoints, visibility, detected, round(settings.max_gap_s * fps), settings.interpolated_visibility
    )
    return keypoints, visibility, detected, interpolated


def detect_video(
    video_path: str | os.PathLike[str],
    *,
    start: int = 0,
    stop: int | None = None,
    stride: int = 1,
    settings: DetectorSettings | None = None,
    tracking: TrackingSettings | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    cancel: CancelLike | None = None,
) -> Detection:
    """Detect one subject's 2D keypoints in frames `start:stop:stride` of a video (stop None = to the end).

    `settings` default to `DEFAULT_SETTINGS`. `workers`: processes for parallel detection (None = one per core; clips shorter than
    `parallel.MIN_SEGMENT_FRAMES` per worker run in this process). `progress(fraction, message)` with fraction in
    0..1; `cancel` is a callable returning True or an Event, checked every frame: the run then raises
    `Cancelled`. Raises MocapError for unreadable videos, empty ranges, or when no person is found.
    """
    from lifting.video2d import parallel

    settings = settings or DEFAULT_SETTINGS
    tracking = tracking or TrackingSettings()
    if stride < 1:
        raise MocapError(f"The stride must be 1 or more (got {stride}).")
    path = Path(video_path)
    info = videoio.probe(path)
    check = as_cancel(cancel)
    fps = info.fps / stride
    last = info.frame_count if stop is None else min(stop, info.frame_count)
    total = max((last - start + stride - 1) // stride, 1)
    n_workers = default_workers() if workers is None else max(1, int(workers))
    plan = parallel.plan_segments(total, n_workers)
    if len(plan) > 1:
        raw = parallel.detect_segments(
            path, info, plan, start, stride, settings, tracking, stop=stop, progress=progress, cancel=check
        )
    else:

        def on_frame(done: int, _: SubjectTracker) -> None:
            if progress is not None:
                progress(min(done / total, 1.0), f"frame {done}/{total}")

        frames = videoio.frames(path, start, stop, stride, info=info, cancel=check)
        raw = track_frames(
            frames, (info.width, info.height), settings, tracking, on_frame=on_frame, cancel=check
        )
    if len(raw) == 0:
        raise MocapError("The frame range selects no frames of the video; choose a range inside the clip.")
    if not raw.detected.any():
        raise MocapError(f"No person was found in {path.name}; check that one person is clearly in view.")
    keypoints, visibility, detected, interpolated = finish(raw, settings, fps)
    return Detection(
        keypoints=keypoints.astype(np.float32),
        visibility=visibility.astype(np.float32),
        detected=detected,
        interpolated=interpolated,
        frame_index=raw.frame_index,
        timestamps=raw.timestamps,
        fps=fps,
        image_size=(info.width, info.height),
        workers=len(plan),
    )
