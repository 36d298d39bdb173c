"""The Python API: `detect(video) -> Keypoints2D` and `lift(keypoints) -> Motion3D`.

The command line (`python -m lifting`) and the add-on's worker (`python -m lifting.worker`) are thin shells over
these two functions. Progress callbacks are called as `progress(fraction, message)` with fraction in 0..1;
`cancel()` returning True stops the work with a MocapError and leaves no cache file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lifting import decode, pose2d
from lifting.errors import MocapError
from lifting.keypoints2d import Keypoints2D
from lifting.lift import LiftOptions, lift_keypoints
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
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Keypoints2D:
    """2D keypoints of one person in a video (frames A:B, B exclusive, None = to the end; every `stride`-th).

    The result is cached as `.keypoints.npz` in `cache_dir` and reused only when the video file (size, mtime,
    first MiB), the frame range, the detector version and its settings are all unchanged.
    """
    video = Path(video_path)
    settings = settings or pose2d.DetectorSettings()
    info = decode.probe(video)
    start, stop = frames if frames is not None else (0, None)
    meta = {
        "detector": {
            "name": "mediapipe-pose",
            "version": f"{pose2d.mediapipe_version()}+tracker{pose2d.TRACKER_VERSION}",
            "settings": settings.to_dict(),
        },
        "source": {"path": str(video.resolve()), **decode.video_identity(video)},
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
    fps = info.fps / stride
    last = info.frame_count if stop is None else min(stop, info.frame_count)
    total = max((last - start + stride - 1) // stride, 1)
    keypoints, visibility, detected, interpolated, indices, times = pose2d.detect_stream(
        decode.frames(video, start, stop, stride), fps, total, settings, progress, cancel
    )
    result = Keypoints2D(
        keypoints=keypoints.astype(np.float32),
        visibility=visibility.astype(np.float32),
        detected=detected,
        interpolated=interpolated,
        frame_index=np.asarray(indices, dtype=np.int64),
        timestamps=np.asarray(times, dtype=np.float64),
        fps=fps,
        image_size=(info.width, info.height),
        meta=meta,
    )
    if not result.detected.any():
        raise MocapError(f"No person was found in {video.name}; check that one person is clearly in view.")
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
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Motion3D:
    """3D motion (Motion3D, at the clip's frame times) from 2D keypoints, with the shipped or given weights."""
    options = LiftOptions(
        weights=Path(weights) if weights is not None else None,
        device=device,
        fov_deg=fov_deg,
        fov_axis=fov_axis,
        focal_px=focal_px,
        mirror=mirror,
    )

    def stage_progress(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(fraction, stage)

    return lift_keypoints(keypoints, options, progress=stage_progress, cancel=cancel)
