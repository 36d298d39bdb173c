"""Streaming video decode with OpenCV: frames one at a time, never the whole clip in memory.

Frame timestamps come from the container (CAP_PROP_POS_MSEC), so variable-frame-rate phone clips keep their
real timing; rotation metadata is applied by OpenCV's FFmpeg backend (CAP_PROP_ORIENTATION_AUTO, on by default),
so portrait phone clips come out upright. Every failure a user can cause is one MocapError sentence.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError

IDENTITY_BYTES = 1 << 20


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: size in pixels after rotation, nominal frame rate, frame count (may be an
    estimate for some containers)."""

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int


@dataclass(frozen=True)
class Frame:
    """One decoded frame: index in the video, timestamp in seconds, BGR pixels (H, W, 3) uint8."""

    index: int
    time: float
    image: npt.NDArray[np.uint8]


def video_identity(path: str | os.PathLike[str]) -> dict[str, object]:
    """Size, modification time and SHA-256 of the first MiB: enough to notice a changed or replaced file."""
    p = Path(path)
    stat = p.stat()
    with p.open("rb") as f:
        head = f.read(IDENTITY_BYTES)
    return {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256_first_mib": hashlib.sha256(head).hexdigest(),
    }


def _open(path: Path) -> cv2.VideoCapture:
    if not path.exists():
        raise MocapError(f"The video {path} does not exist; check the path.")
    if not path.is_file():
        raise MocapError(f"{path} is not a file; choose a video file.")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise MocapError(
            f"{path} could not be opened as a video (unknown format or codec); convert it to H.264 MP4."
        )
    return cap


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read the container's description and check that at least one frame decodes."""
    p = Path(path)
    cap = _open(p)
    try:
        ok, image = cap.read()
        if not ok or image is None:
            raise MocapError(
                f"{p} contains no decodable video frames; the file may be damaged or not a video."
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        height, width = image.shape[:2]
    finally:
        cap.release()
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 30.0  # some containers carry no rate; timestamps still come from the stream
    return VideoInfo(p, int(width), int(height), fps, max(count, 1))


def frames(
    path: str | os.PathLike[str], start: int = 0, stop: int | None = None, step: int = 1
) -> Iterator[Frame]:
    """Decode frames `start, start + step, …` before `stop` (video frame indices; None = to the end).

    Skipped frames are grabbed without being decoded to images. Timestamps are the container's, in seconds;
    where it gives none (or a non-increasing one) the nominal rate fills in.
    """
    if start < 0 or step < 1 or (stop is not None and stop <= start):
        raise MocapError(
            f"The frame range {start}:{stop} (step {step}) is empty or invalid; use A:B with A < B."
        )
    p = Path(path)
    info = probe(p)
    cap = _open(p)
    try:
        index = 0
        last_time = -np.inf
        while stop is None or index < stop:
            wanted = index >= start and (index - start) % step == 0
            ok = cap.grab()
            if not ok:
                break
            msec = float(cap.get(cv2.CAP_PROP_POS_MSEC))
            time = msec / 1000.0 if np.isfinite(msec) and msec / 1000.0 > last_time else index / info.fps
            if time <= last_time:
                time = last_time + 1.0 / info.fps
            last_time = time
            if wanted:
                ok, image = cap.retrieve()
                if not ok or image is None:
                    raise MocapError(f"Frame {index} of {p} could not be decoded; the file may be damaged.")
                yield Frame(index, time, np.asarray(image, dtype=np.uint8))
            index += 1
    finally:
        cap.release()
