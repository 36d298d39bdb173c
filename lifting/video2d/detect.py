"""Video → one subject's Keypoints2D: the cache, gap filling, and the choice between one process and parallel
segments.

`detect` is what `lifting.app.api.detect` hands on to: it reuses a cached `.keypoints.npz` when the video file,
the frame range, the detector version and its settings are unchanged, and otherwise runs `detect_video`, which
decodes the clip as a stream (`lifting.video2d.video`), follows the subject with MediaPipe Pose
(`lifting.video2d.track`; `mediapipe==0.10.21`, `model_complexity=1`, the only model inside the wheel) and fills
short gaps. Long clips are cut into segments detected by separate processes (`lifting.video2d.parallel`); short
ones, or `workers=1`, run here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lifting.cache import cache_dir
from lifting.errors import MocapError
from lifting.progress import Cancel, Progress, as_cancel
from lifting.video2d import parallel
from lifting.video2d import video as videoio
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.mediapipe_pose import DetectorSettings, fill_short_gaps, import_mediapipe
from lifting.video2d.track import RawTrack, track_frames
from lifting.video2d.tracking import TRACKER_VERSION, SubjectTracker, TrackingSettings

DETECTOR_NAME = "mediapipe-pose"
# MediaPipe's default detection threshold (0.5) misses small or backlit people for seconds at a time; the
# subject tracker's gates and pose checks keep the extra false detections of 0.3 out, and fewer misses also
# mean fewer second looks (a faster run).
DEFAULT_SETTINGS = DetectorSettings(min_detection_confidence=0.3)


def detector_version() -> str:
    """MediaPipe's version and our tracker's, e.g. `0.10.21+tracker3`."""
    return f"{import_mediapipe().__version__}+tracker{TRACKER_VERSION}"


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


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
    cancel: Cancel | None = None,
) -> Keypoints2D:
    """Detect one subject's 2D keypoints in frames `start:stop:stride` of a video (stop None = to the end).

    `settings` default to `DEFAULT_SETTINGS`. `workers`: processes for parallel detection (None = one per core; clips shorter than
    `parallel.MIN_SEGMENT_FRAMES` per worker run in this process). `progress(fraction, message)` with fraction in
    0..1; `cancel` is a callable returning True or an Event, checked every frame: the run then raises
    `Cancelled`. Raises MocapError for unreadable videos, empty ranges, or when no person is found.
    """
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
    return Keypoints2D(
        keypoints=keypoints.astype(np.float32),
        visibility=visibility.astype(np.float32),
        detected=detected,
        interpolated=interpolated,
        frame_index=raw.frame_index,
        timestamps=raw.timestamps,
        fps=fps,
        image_size=(info.width, info.height),
        meta={"workers": len(plan)},
    )


def default_cache_dir() -> Path:
    """The keypoints cache: `lifting.cache.cache_dir("keypoints")`."""
    return cache_dir("keypoints")


def cache_path(video: Path, cache_dir: Path) -> Path:
    """One cache file per video path: `<name>.<hash of the absolute path>.keypoints.npz`."""
    digest = hashlib.sha256(str(video.resolve()).encode()).hexdigest()[:12]
    return cache_dir / f"{video.stem}.{digest}.keypoints.npz"


def detect(
    video_path: str | os.PathLike[str],
    *,
    frames: tuple[int, int | None] | None = None,
    stride: int = 1,
    settings: DetectorSettings | None = None,
    subject: tuple[float, float] | None = None,
    tracking: TrackingSettings | None = None,
    workers: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Keypoints2D:
    """2D keypoints of one person in a video (frames A:B, B exclusive, None = to the end; every `stride`-th).

    `subject`: an image point (x, y) in pixels on the person to follow (default: the largest, most central
    person); `tracking` for the other subject-following settings. `workers`: processes for parallel detection
    (None: one per core; short clips run in this process); the result does not depend on it. `cancel` is a
    callable returning True or an Event; a cancelled run raises `lifting.progress.Cancelled` (a MocapError).
    The result is cached as `.keypoints.npz` in `cache_dir` and reused only when the video file (size, mtime,
    first MiB), the frame range, the detector version and its settings are all unchanged.
    """
    video = Path(video_path)
    settings = settings or DEFAULT_SETTINGS
    tracking = tracking or TrackingSettings()
    if subject is not None:
        tracking = replace(tracking, subject=(float(subject[0]), float(subject[1])))
    videoio.probe(video)
    start, stop = frames if frames is not None else (0, None)
    meta = {
        "detector": {
            "name": DETECTOR_NAME,
            "version": detector_version(),
            "settings": {**settings.to_dict(), "tracking": tracking.to_dict()},
        },
        "source": {"path": str(video.resolve()), **videoio.video_identity(video)},
        "frames": {"start": start, "stop": stop, "stride": stride},
    }
    meta = json.loads(json.dumps(meta, sort_keys=True))
    cache = cache_path(video, Path(cache_dir) if cache_dir is not None else default_cache_dir())
    if use_cache and cache.is_file():
        try:
            cached = Keypoints2D.load(cache)
        except MocapError:
            cached = None  # a damaged or outdated cache is simply rebuilt
        if cached is not None and cached.meta == meta:
            if progress is not None:
                progress(1.0, "reused cached keypoints")
            return cached
    found = detect_video(
        video,
        start=start,
        stop=stop,
        stride=stride,
        settings=settings,
        tracking=tracking,
        workers=workers,
        progress=progress,
        cancel=cancel,
    )
    result = replace(found, meta=meta)
    if use_cache:
        result.save(cache)
    return result
