"""Video → one subject's Keypoints2D: the cache, gap filling, and the choice between one process and parallel
segments.

`detect` is what `lifting.app.api.detect` hands on to: it reuses a cached `.keypoints.npz` when the video file,
the frame range, the detector version and its settings are unchanged, and otherwise runs `detect_video`, which
decodes the clip as a stream (`lifting.video2d.video`), follows the subject with MediaPipe Pose
(`lifting.video2d.track`: MediaPipe's pose landmarker with the shipped BlazePose full model) and fills
short gaps. Long clips are cut into segments detected by separate processes (`lifting.video2d.parallel`); short
ones, or `workers=1`, run here. A subject chosen on a later frame of the range (`subject_frame`) is followed
forwards from it as above and backwards from it to the range's start in this process (`track.track_backward`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lifting.cache import cache_dir
from lifting.errors import MocapError, warn
from lifting.progress import Cancel, Progress, as_cancel
from lifting.skeleton import BLAZEPOSE
from lifting.video2d import parallel
from lifting.video2d import video as videoio
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.mediapipe_pose import DetectorSettings, fill_short_gaps, import_mediapipe
from lifting.video2d.swaps import repair_swaps
from lifting.video2d.track import RawTrack, track_backward, track_frames
from lifting.video2d.tracking import TRACKER_VERSION, SubjectTracker, TrackingSettings
from retarget.atomic_write import folder_problem

DETECTOR_NAME = "mediapipe-pose"
# MediaPipe's default detection threshold (0.5) misses small or backlit people for seconds at a time; the
# subject tracker's gates and pose checks keep the extra false detections of 0.3 out, and fewer misses also
# mean fewer second looks (a faster run).
DEFAULT_SETTINGS = DetectorSettings(min_detection_confidence=0.3)


def detector_version() -> str:
    """MediaPipe's version and our tracker's, e.g. `1.2.3+tracker4`."""
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
    subject_frame: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Keypoints2D:
    """Detect one subject's 2D keypoints in frames `start:stop:stride` of a video (stop None = to the end).

    `settings` default to `DEFAULT_SETTINGS`. `subject_frame`: the video frame on which the subject is chosen
    (`tracking.subject`, or the default choice; None: the range's first frame); it must be one of the frames
    detected (`check_subject_frame`). From a later frame, the frames from it to the end are detected forwards as
    usual, and the frames before it backwards in this process (`track.track_backward`), so the subject is
    followed over the whole range. `workers`: processes for parallel detection of the forward part (None = one
    per core; clips shorter than `parallel.MIN_SEGMENT_FRAMES` per worker run in this process). `progress(fraction,
    message)` with fraction in 0..1; `cancel` is a callable returning True or an Event, checked every frame: the
    run then raises `Cancelled`. Raises MocapError for unreadable videos, empty ranges, or when no person is found.
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
    cores = default_workers()
    n_workers = cores if workers is None else max(1, int(workers))
    if n_workers > cores:
        warn(
            f"{n_workers} detection processes asked for, {cores} used: one per core this process may run on."
        )
        n_workers = cores
    if subject_frame is not None:
        check_subject_frame(subject_frame, start, stop, stride, info)
    if subject_frame is None or subject_frame == start:
        raw, segments = _detect_forward(
            path, info, start, stop, stride, settings, tracking, n_workers, total, progress, check
        )
    else:
        raw, segments = _detect_both_ways(
            path,
            info,
            subject_frame,
            start,
            stop,
            stride,
            settings,
            tracking,
            n_workers,
            total,
            progress,
            check,
        )
    if len(raw) == 0:
        raise MocapError("The frame range selects no frames of the video; choose a range inside the clip.")
    if not raw.detected.any():
        raise MocapError(f"No person was found in {path.name}; check that one person is clearly in view.")
    keypoints, visibility, detected, interpolated = finish(raw, settings, fps)
    hands = {}
    if raw.hands is not None:  # hands are not interpolated: on filled frames they stay not found
        h = raw.hands
        hands = {
            "hands": h.pixels.astype(np.float32),
            "hands_visibility": h.visibility.astype(np.float32),
            "hands_world": h.world.astype(np.float32),
            "hands_score": h.score.astype(np.float32),
        }
    world = {}
    if raw.world is not None:  # not interpolated either: zeros on filled frames
        world = {"pose_world": np.where(raw.detected[:, None, None], raw.world, 0.0).astype(np.float32)}
    return Keypoints2D(
        keypoints=keypoints.astype(np.float32),
        visibility=visibility.astype(np.float32),
        detected=detected,
        interpolated=interpolated,
        frame_index=raw.frame_index,
        timestamps=raw.timestamps,
        fps=fps,
        image_size=(info.width, info.height),
        meta={"workers": segments},
        **hands,
        **world,
    )


def _detect_forward(
    path: Path,
    info: videoio.VideoInfo,
    start: int,
    stop: int | None,
    stride: int,
    settings: DetectorSettings,
    tracking: TrackingSettings,
    n_workers: int,
    total: int,
    progress: Progress | None,
    cancel: Callable[[], bool] | None,
) -> tuple[RawTrack, int]:
    """Frames `start:stop:stride` (`total` of them) forwards, in parallel segments when long enough; the raw
    track and the number of segments."""
    plan = parallel.plan_segments(total, n_workers)
    if len(plan) > 1:
        raw = parallel.detect_segments(
            path, info, plan, start, stride, settings, tracking, stop=stop, progress=progress, cancel=cancel
        )
        return raw, len(plan)

    def on_frame(done: int, _: SubjectTracker) -> None:
        if progress is not None:
            progress(min(done / total, 1.0), f"frame {done}/{total}")

    frames = videoio.frames(path, start, stop, stride, info=info, cancel=cancel)
    raw = track_frames(
        frames, (info.width, info.height), settings, tracking, on_frame=on_frame, cancel=cancel
    )
    return raw, 1


def _detect_both_ways(
    path: Path,
    info: videoio.VideoInfo,
    pivot: int,
    start: int,
    stop: int | None,
    stride: int,
    settings: DetectorSettings,
    tracking: TrackingSettings,
    n_workers: int,
    total: int,
    progress: Progress | None,
    cancel: Callable[[], bool] | None,
) -> tuple[RawTrack, int]:
    """The subject chosen on frame `pivot` (after `start`, on the stride's grid) and followed over the whole
    range: frames `pivot:stop` forwards (`_detect_forward`, in parallel when long enough), then frames
    `pivot` back to `start` backwards in this process (`track.track_backward`; its fresh tracker chooses the
    same person on frame `pivot` and reaches the same state as the forward run there, so both follow one
    person). The backward run's frame `pivot` is dropped (the forward run's is kept)."""
    before = (pivot - start) // stride  # frames before the pivot
    after = total - before
    steps = total + 1  # the pivot is detected twice

    def forward_progress(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction * after / steps, message)

    raw_after, segments = _detect_forward(
        path, info, pivot, stop, stride, settings, tracking, n_workers, after, forward_progress, cancel
    )
    label = f"frames {start}-{pivot - stride} before the subject frame, backwards in one process"

    def on_frame(done: int, _: SubjectTracker) -> None:
        if progress is not None:
            progress(min((after + done) / steps, 1.0), f"{label}: frame {done}/{before + 1}")

    raw_before = track_backward(
        path, info, start, pivot, stride, settings, tracking, on_frame=on_frame, cancel=cancel
    )
    if len(raw_after) == 0 or len(raw_before) == 0:
        return RawTrack.empty(), segments
    joined = RawTrack.concat([raw_before.slice(0, len(raw_before) - 1), raw_after])
    return replace(joined, seed=raw_after.seed), segments


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
    subject_frame: int | None = None,
    tracking: TrackingSettings | None = None,
    hands: bool = False,
    workers: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    repair_lr: bool = True,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Keypoints2D:
    """2D keypoints of one person in a video (frames A:B, B exclusive, None = to the end; every `stride`-th).

    `subject`: an image point (x, y) in pixels on the person to follow (default: the largest, most central
    person), on video frame `subject_frame` (default: the range's first frame; it must be one of the frames
    detected, and needs `subject`): that person is followed over the whole range, before and after it;
    `tracking` for the other subject-following settings. `hands`: also 21 landmarks per hand
    (`Keypoints2D.hands`; `settings.hands` does the same). `workers`: processes for parallel detection
    (None: one per core; short clips run in this process); the result does not depend on it. `cancel` is a
    callable returning True or an Event; a cancelled run raises `lifting.progress.Cancelled` (a MocapError).
    The result is cached as `.keypoints.npz` in `cache_dir` and reused only when the video file (size, mtime,
    first MiB), the frame range, the detector version and its settings (the subject point and frame included) are
    all unchanged. The cache holds the track as detected; `repair_lr` (default on) then undoes the detector's
    left/right exchanges (`lifting.video2d.swaps.repair_swaps`) in what is returned.
    """
    video = Path(video_path)
    settings = settings or DEFAULT_SETTINGS
    if hands:
        settings = replace(settings, hands=True)
    tracking = tracking or TrackingSettings()
    if subject is not None:
        tracking = replace(tracking, subject=(float(subject[0]), float(subject[1])))
    info = videoio.probe(video)
    if subject is not None:
        check_subject(subject, info.width, info.height)
    start, stop = frames if frames is not None else (0, None)
    if subject_frame is not None:
        if subject is None:
            raise MocapError(
                f"A subject frame ({subject_frame}) needs a subject point: the person's position on that frame."
            )
        check_subject_frame(subject_frame, start, stop, stride, info)
        if subject_frame == start:
            subject_frame = None  # the default: the same detection, the same cache
    detector_settings: dict[str, object] = {**settings.to_dict(), "tracking": tracking.to_dict()}
    if subject_frame is not None:
        detector_settings["subject_frame"] = int(subject_frame)
    meta = {
        "detector": {
            "name": DETECTOR_NAME,
            "version": detector_version(),
            "settings": detector_settings,
        },
        "source": {"path": str(video.resolve()), **videoio.video_identity(video)},
        "frames": {"start": start, "stop": stop, "stride": stride},
    }
    meta = json.loads(json.dumps(meta, sort_keys=True))
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache = cache_path(video, folder)
    if use_cache:
        problem = cache_problem(folder, cache)
        if problem is not None:
            warn(f"the keypoints cache {str(folder)!r} cannot be used ({problem}); detecting without it.")
            use_cache = False
    if use_cache and cache.is_file():
        try:
            cached = Keypoints2D.load(cache)
        except MocapError:
            cached = None  # a damaged or outdated cache is simply rebuilt
        if cached is not None and cached.meta == meta:
            if progress is not None:
                progress(1.0, "reused cached keypoints")
            return repair_swaps(cached)[0] if repair_lr else cached
    found = detect_video(
        video,
        start=start,
        stop=stop,
        stride=stride,
        settings=settings,
        tracking=tracking,
        subject_frame=subject_frame,
        workers=workers,
        progress=progress,
        cancel=cancel,
    )
    result = replace(found, meta=meta)
    for message in subject_warnings(result):
        warn(message)
    if use_cache:
        try:
            result.save(cache)
        except OSError as exc:  # an optimisation only: the run goes on
            warn(f"the keypoints could not be cached in {str(folder)!r} ({exc.strerror or exc}).")
    return repair_swaps(result)[0] if repair_lr else result


def cache_problem(folder: Path, cache: Path) -> str | None:
    """Why the keypoints cache cannot be used (None when it can): the folder cannot be made or written into
    (`retarget.atomic_write.folder_problem`), or something that is not a file sits at the cache file's path.
    Creates the folder."""
    problem = folder_problem(folder)
    if problem is None and cache.exists() and not cache.is_file():
        problem = f"{cache.name} is not a file"
    return problem


def check_subject(subject: tuple[float, float], width: int, height: int) -> None:
    """The point given on the person to follow lies in the picture; a MocapError in one sentence otherwise."""
    x, y = subject
    if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= width and 0 <= y <= height):
        raise MocapError(
            f"The subject point ({x:g}, {y:g}) is outside the {width}×{height} picture; give a point on the "
            "person in pixels of the upright frame."
        )


def check_subject_frame(
    frame: int, start: int, stop: int | None, stride: int, info: videoio.VideoInfo
) -> None:
    """The frame the subject point is given on is one of the frames detected (`start:stop:stride`, inside the
    video); a MocapError in one sentence otherwise."""
    if isinstance(frame, bool) or not isinstance(frame, int | np.integer):
        raise MocapError(f"The subject frame must be a whole video frame number, not {frame!r}.")
    frame = int(frame)
    if frame >= info.frame_count:
        raise MocapError(
            f"The subject frame {frame} is past the end of {info.path.name} ({info.frame_count} frames, 0 to "
            f"{info.frame_count - 1}); give a frame inside the clip."
        )
    if frame < start or (stop is not None and frame >= stop):
        end = "the end" if stop is None else str(stop - 1)
        raise MocapError(
            f"The subject frame {frame} is outside the frames detected ({start} to {end}); give a frame inside "
            "the range."
        )
    if stride > 1 and (frame - start) % stride:
        raise MocapError(
            f"The subject frame {frame} is not one of the frames detected (one in {stride} from {start}); give "
            "one of them."
        )


# Below these the 2D is too coarse or too sparse for a good 3D (warned, not refused).
MIN_PERSON_HEIGHT_PX = 120.0
MIN_DETECTION_RATE = 0.8


def subject_warnings(keypoints: Keypoints2D) -> list[str]:
    """Warnings about the followed person, each one sentence saying what to do: found on too few frames, or
    too small in the picture (median height from the nose to the lower ankle, in pixels)."""
    messages = []
    rate = keypoints.detection_rate
    if 0.0 < rate < MIN_DETECTION_RATE:
        messages.append(
            f"the person was found on only {rate:.0%} of the frames; the animation guesses the rest, so use a "
            "clip where they stay in view (or a higher resolution)."
        )
    seen = keypoints.found
    if seen.any():
        nose = keypoints.keypoints[seen, BLAZEPOSE.index["nose"], 1]
        ankles = keypoints.keypoints[seen][:, BLAZEPOSE.indices(["left_ankle", "right_ankle"]), 1].max(axis=1)
        height = float(np.median(ankles - nose))
        if 0.0 < height < MIN_PERSON_HEIGHT_PX:
            messages.append(
                f"the person is small in the picture (about {height:.0f} px tall of {keypoints.image_size[1]}); "
                "their 3D size and pose will be less accurate, so film closer or use a higher resolution."
            )
    return messages
