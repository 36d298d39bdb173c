"""Streaming video decode with OpenCV: frames one at a time, never the whole clip in memory.

- Timestamps come from the container (CAP_PROP_POS_MSEC, in seconds), so variable-frame-rate phone clips keep
  their real timing; where the container gives none, the nominal rate fills in.
- Rotation metadata (the MP4 display matrix phones write for portrait clips) is honoured: OpenCV's FFmpeg
  backend is told to apply it (CAP_PROP_ORIENTATION_AUTO, which is *off* by default in opencv-python 4.11), and
  where a backend cannot, the frame is turned here. Sizes are always those of the upright picture.
- A frame range with `start > 0` seeks (CAP_PROP_POS_FRAMES) and checks the landed frame's timestamp against
  the nominal rate; when they disagree (variable frame rate), it decodes from the start instead, so frame
  indices always count decoded frames.
- `frames_reversed` gives a range last frame first (following a person backwards in time from a frame inside
  the range): chunks decoded forward into memory from the end, each given out reversed.
- Every failure a user can cause is one MocapError sentence: missing file, a folder, not a video, a damaged or
  unreadable video (codec), no frames, a video that stops decoding part-way, an empty frame range.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# FFmpeg and OpenCV print their own warnings for damaged files; users should see only our one sentence.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")

import cv2
import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError

IDENTITY_BYTES = 1 << 20
# Magic bytes of video containers OpenCV's FFmpeg reads: (offset, bytes).
_CONTAINER_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4, MOV, 3GP
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"wide"),
    (4, b"free"),
    (0, b"RIFF"),  # AVI
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (0, b"OggS"),
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG-PS
    (0, b"\x00\x00\x01\xb3"),  # MPEG video
    (0, b"\x30\x26\xb2\x75"),  # ASF/WMV
)
_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds: upright size in pixels, nominal frame rate, frame count (the container's; may be an
    estimate for some formats), rotation applied (degrees clockwise), codec FourCC, first frame's time (s)."""

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int
    rotation: int = 0
    codec: str = ""
    start_time: float = 0.0


@dataclass(frozen=True)
class Frame:
    """One decoded frame: index in the video (counting decoded frames from 0), timestamp in seconds, upright
    BGR pixels (H, W, 3) uint8."""

    index: int
    time: float
    image: npt.NDArray[np.uint8]


def video_identity(path: str | os.PathLike[str]) -> dict[str, object]:
    """Size, modification time and SHA-256 of the first MiB: enough to notice a changed or replaced file.

    Stable across processes and runs (no path or inode in it: a copied file with the same content and time
    is the same video).
    """
    p = Path(path)
    stat = p.stat()
    with p.open("rb") as f:
        head = f.read(IDENTITY_BYTES)
    return {
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sha256_first_mib": hashlib.sha256(head).hexdigest(),
    }


def looks_like_video(path: Path) -> bool:
    """True if the file starts like a known video container (used only to word error messages)."""
    with path.open("rb") as f:
        head = f.read(16)
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _CONTAINER_MAGIC)


def _fourcc(cap: cv2.VideoCapture) -> str:
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else "unknown"


class _Capture:
    """An opened cv2.VideoCapture that turns frames upright (by the backend or here)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        if not path.exists():
            raise MocapError(f"The video {path} does not exist; check the path.")
        if path.is_dir():
            raise MocapError(f"{path} is a folder, not a video file; choose a video file.")
        if path.stat().st_size == 0:
            raise MocapError(f"{path} is empty (0 bytes); choose a video file.")
        params: list[int] = []
        if threads is not None:
            params = [cv2.CAP_PROP_N_THREADS, int(threads)]
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            if looks_like_video(path):
                raise MocapError(
                    f"{path} could not be read as a video: the file is damaged, truncated or has no video "
                    "track; re-export or re-download it (H.264 MP4 works everywhere)."
                )
            raise MocapError(
                f"{path} is not a video file (unknown content); choose an MP4, MOV, MKV, AVI or WebM video."
            )
        self.cap = cap
        self.path = path
        self.rotation = round(cap.get(cv2.CAP_PROP_ORIENTATION_META)) % 360
        if self.rotation not in _ROTATE:
            self.rotation = 0
        auto = bool(cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)) and cap.get(cv2.CAP_PROP_ORIENTATION_AUTO) > 0
        self.turn_here = self.rotation != 0 and not auto

    def read(self) -> npt.NDArray[np.uint8] | None:
        ok, image = self.cap.read()
        if not ok or image is None:
            return None
        if self.turn_here:
            image = cv2.rotate(image, _ROTATE[self.rotation])
        return np.asarray(image, dtype=np.uint8)

    def grab(self) -> bool:
        return bool(self.cap.grab())

    def retrieve(self) -> npt.NDArray[np.uint8] | None:
        ok, image = self.cap.retrieve()
        if not ok or image is None:
            return None
        if self.turn_here:
            image = cv2.rotate(image, _ROTATE[self.rotation])
        return np.asarray(image, dtype=np.uint8)

    def msec(self) -> float:
        return float(self.cap.get(cv2.CAP_PROP_POS_MSEC))

    def release(self) -> None:
        self.cap.release()


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Read the container's description and check that the first frame decodes; MocapError otherwise."""
    p = Path(path)
    cap = _Capture(p)
    try:
        fps = float(cap.cap.get(cv2.CAP_PROP_FPS))
        count = int(cap.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        codec = _fourcc(cap.cap)
        image = cap.read()
        if image is None:
            if count <= 0:
                raise MocapError(f"{p} contains no video frames; choose a video with at least one frame.")
            raise MocapError(
                f"The video stream of {p} could not be decoded (codec {codec}, or damaged data); "
                "convert it to H.264 MP4."
            )
        start_ms = cap.msec()
        height, width = image.shape[:2]
    finally:
        cap.release()
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 30.0  # some containers carry no rate; timestamps still come from the stream
    start_time = start_ms / 1000.0 if np.isfinite(start_ms) and start_ms >= 0 else 0.0
    return VideoInfo(p, int(width), int(height), fps, max(count, 1), cap.rotation, codec, start_time)


def frames(
    path: str | os.PathLike[str],
    start: int = 0,
    stop: int | None = None,
    step: int = 1,
    *,
    seek: bool = True,
    threads: int | None = None,
    info: VideoInfo | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[Frame]:
    """Decode frames `start, start + step, …` before `stop` (video frame indices; None = to the end).

    Frames between the wanted ones are grabbed without conversion. With `seek`, a start past frame 0 is reached
    by seeking when the clip's timestamps say it is safe (see the module docstring). `threads` limits FFmpeg's
    decoding threads (None: FFmpeg's default). `cancel()` is checked before each decoded frame; the iterator
    simply stops when it returns True (the caller raises). Raises MocapError for an invalid range, a range past
    the end, or a video that stops decoding well before the frame count its container announces.
    """
    if start < 0 or step < 1 or (stop is not None and stop <= start):
        raise MocapError(
            f"The frame range {start}:{'' if stop is None else stop} (step {step}) is empty or invalid; "
            "use A:B with 0 <= A < B."
        )
    p = Path(path)
    info = info or probe(p)
    if start >= info.frame_count and info.frame_count > 1:
        raise MocapError(
            f"The frame range starts at frame {start} but {p.name} has {info.frame_count} frames; "
            "choose a range inside the clip."
        )
    cap = _Capture(p, threads)
    try:
        index = 0
        if seek and start > 0:
            index = _seek(cap, start, info)
            if index != start:
                cap.release()
                cap = _Capture(p, threads)
                index = 0
        last_time = -np.inf
        decoded = 0
        while stop is None or index < stop:
            wanted = index >= start and (index - start) % step == 0
            if wanted and cancel is not None and cancel():
                return
            if not cap.grab():
                break
            msec = cap.msec()
            time = msec / 1000.0 if np.isfinite(msec) and msec / 1000.0 > last_time else index / info.fps
            if time <= last_time:
                time = last_time + 1.0 / info.fps
            last_time = time
            if wanted:
                image = cap.retrieve()
                if image is None:
                    raise MocapError(f"Frame {index} of {p} could not be decoded; the file may be damaged.")
                decoded += 1
                yield Frame(index, time, image)
            index += 1
        expected_end = info.frame_count if stop is None else min(stop, info.frame_count)
        missing = expected_end - index
        if missing > max(3, round(0.05 * info.frame_count)):
            raise MocapError(
                f"{p} is damaged: decoding stopped after frame {index} of {info.frame_count}; "
                "re-export or re-download it."
            )
        if decoded == 0:
            raise MocapError(
                f"The frame range {start}:{'' if stop is None else stop} selects no frames of {p.name} "
                f"({index} frames); choose a range inside the clip."
            )
    finally:
        cap.release()


REVERSED_CHUNK_BYTES = 256 << 20  # decoded frames held in memory at once by `frames_reversed`


def frames_reversed(
    path: str | os.PathLike[str],
    start: int,
    stop: int,
    step: int = 1,
    *,
    chunk: int | None = None,
    info: VideoInfo | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[Frame]:
    """The frames `frames(path, start, stop, step)` would give, last first, with the same indices, timestamps
    and pixels. Decoded in chunks of `chunk` frames (default: `REVERSED_CHUNK_BYTES` of pixels) from the end:
    each chunk is read forward into memory (`frames`, which seeks to it where the clip allows, see the module
    docstring) and given out reversed. `stop` must lie inside the video. `cancel()` as in `frames`: the iterator
    stops."""
    p = Path(path)
    info = info or probe(p)
    wanted = range(start, stop, step)
    if len(wanted) == 0 or start < 0:
        raise MocapError(
            f"The frame range {start}:{stop} (step {step}) is empty or invalid; use A:B with 0 <= A < B."
        )
    if chunk is None:
        chunk = max(1, REVERSED_CHUNK_BYTES // max(1, 3 * info.width * info.height))
    end = len(wanted)
    while end > 0:
        begin = max(0, end - chunk)
        first, last = wanted[begin], wanted[end - 1]
        decoded = list(frames(p, first, last + 1, step, info=info, cancel=cancel))
        if len(decoded) < end - begin:
            if cancel is not None and cancel():
                return
            raise MocapError(
                f"Frame {first + len(decoded) * step} of {p} could not be decoded; the file may be damaged."
            )
        yield from reversed(decoded)
        end = begin


def _seek(cap: _Capture, start: int, info: VideoInfo) -> int:
    """Seek so that the next grab returns frame `start`; returns `start` on success, 0 when it gave up.

    Success needs the frame before `start` to carry the timestamp the nominal rate predicts (within a third
    of a frame): true for constant-rate clips, false for most variable-rate ones, which are then decoded from
    the start.
    """
    target = start - 1
    if not cap.cap.set(cv2.CAP_PROP_POS_FRAMES, target):
        return 0
    if not cap.grab():
        return 0
    expected = info.start_time + target / info.fps
    landed = cap.msec() / 1000.0
    if not np.isfinite(landed) or abs(landed - expected) > 1.0 / (3.0 * info.fps):
        return 0
    return start


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def videos_in(folder: Path) -> list[Path]:
    """The videos directly in `folder` (by suffix, `VIDEO_SUFFIXES`), sorted by name; possibly none."""
    return sorted(p for p in folder.iterdir() if p.is_file() and is_video(p))


def expand_videos(inputs: Sequence[str | os.PathLike[str]], what: str = "video") -> list[Path]:
    """Files and folders → files: a folder gives its videos (`videos_in`), a file stays as it is (`what` names it
    in the error). A MocapError when a path does not exist or a folder holds no video."""
    out: list[Path] = []
    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = videos_in(path)
            if not found:
                suffixes = " ".join(sorted(VIDEO_SUFFIXES))
                raise MocapError(f"The folder {str(path)!r} holds no videos ({suffixes}).")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise MocapError(f"The {what} {str(path)!r} does not exist; check the path.")
    return out
