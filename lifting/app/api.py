"""The Python API: `detect(video) -> Keypoints2D` and `lift(keypoints) -> Motion3D`.

The command line (`python -m lifting`) and the add-on's worker (`python -m lifting worker`) are thin shells over
these two functions. Progress callbacks are called as `progress(fraction, message)` with fraction in 0..1;
`cancel()` returning True stops the work with a MocapError and leaves no cache file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lifting.errors import MocapError
from lifting.lift.lift import LiftOptions, lift_keypoints
from lifting.video2d import detect as detect_mod
from lifting.video2d import mediapipe_pose as pose2d
from lifting.video2d import video as videoio
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.tracking import TrackingSettings
from retarget.motion3d import Motion3D

Progress = Callable[..., None]
Cancel = Callable[[], bool]


def default_cache_dir() -> Path:
    """`$VIDEO_MOCAP_CACHE/keypoints` or `~/.cache/video-mocap/keypoints`."""
    base = os.environ.get("VIDEO_MOCAP_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "video-mocap") / "keypoints"


def cache_path(video: Path, cache_dir: Path) -> Path:
    """One cache file per video path: `<name>.<hash of the absolute path>.keypoints.npz`."""
    digest = hashlib.sha256(str(video.resolve()).encode()).hexdigest()[:12]
    return cache_dir / f"{video.stem}.{digest}.keypoints.npz"


def detect(
    video_path: str | os.PathLike[str],
    *,
    frames: tuple[int, int | None] | None = None,
    stride: int = 1,
    settings: pose2d.DetectorSettings | None = None,
    subject: tuple[float, float] | None = None,
    tracking: TrackingSettings | None = None,
    workers: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
    cancel: detect_mod.CancelLike | None = None,
) -> Keypoints2D:
    """2D keypoints of one person in a video (frames A:B, B exclusive, None = to the end; every `stride`-th).

    `subject`: an image point (x, y) in pixels on the person to follow (default: the largest, most central
    person); `tracking` for the other subject-following settings. `workers`: processes for parallel detection
    (None: one per core; short clips run in this process); the result does not depend on it. `cancel` is a
    callable returning True or an Event; a cancelled run raises `detect.Cancelled` (a MocapError).
    The result is cached as `.keypoints.npz` in `cache_dir` and reused only when the video file (size, mtime,
    first MiB), the frame range, the detector version and its settings are all unchanged.
    """
    video = Path(video_path)
    settings = settings or detect_mod.DEFAULT_SETTINGS
    tracking = tracking or TrackingSettings()
    if subject is not None:
        tracking = replace(tracking, subject=(float(subject[0]), float(subject[1])))
    videoio.probe(video)
    start, stop = frames if frames is not None else (0, None)
    meta = {
        "detector": {
            "name": detect_mod.DETECTOR_NAME,
            "version": detect_mod.detector_version(),
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
    found = detect_mod.detect_video(
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
    result = Keypoints2D(
        keypoints=found.keypoints,
        visibility=found.visibility,
        detected=found.detected,
        interpolated=found.interpolated,
        frame_index=found.frame_index,
        timestamps=found.timestamps,
        fps=found.fps,
        image_size=found.image_size,
        meta=meta,
    )
    if use_cache:
        result.save(cache)
    return result


def lift(
    keypoints: Keypoints2D,
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str = "auto",
    fov_deg: float | None = None,
    fov_axis: str = "horizontal",
    focal_px: float | None = None,
    mirror: bool = True,
    constant_bones: bool = True,
    refine: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Motion3D:
    """3D motion (Motion3D, at the clip's frame times) from 2D keypoints, with the shipped or given weights.

    `constant_bones`: give every bone one length for the whole clip, moving the joints as little as possible
    (`lifting.lift.constant_bones`); off keeps the network's per-frame lengths, which drift by about 15 mm.
    `refine`: after lifting, optimise the clip so its projection agrees with the keypoints, with constant bone
    lengths and smooth motion (`lifting.lift.refine`; a few seconds on the CPU for a 30-second clip); progress then
    reports a "refine" stage.
    """
    options = LiftOptions(
        weights=Path(weights) if weights is not None else None,
        device=device,
        fov_deg=fov_deg,
        fov_axis=fov_axis,
        focal_px=focal_px,
        mirror=mirror,
        constant_bones=constant_bones,
        refine=refine,
    )

    def stage_progress(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(fraction, stage)

    return lift_keypoints(keypoints, options, progress=stage_progress, cancel=cancel)
