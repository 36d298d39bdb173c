"""What the shells (command line, worker) accept before any work: one UsageError, the frame range and subject
parsers, and the options of a conversion (`ConvertOptions`). Domain values (field of view, focal length,
weights) are checked where they are defined: the camera, `LiftOptions`, the checkpoint.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from lifting.errors import MocapError
from retarget.atomic_write import folder_problem

DEFAULT_FORMAT = "bvh"


class UsageError(MocapError):
    """Bad arguments or options, found before any work starts."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one UsageError sentence (the shells print it on one line or send
    it as an error event) instead of printing the usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help).")


@dataclass(frozen=True)
class ConvertOptions:
    """Everything a conversion needs besides the video and the output path.

    frames: video frames (A, B exclusive / None); subject: (x, y) pixels on video frame subject_frame (None: the
    range's first); hands: detect 21 landmarks per hand too; fov_deg: horizontal degrees; focal_px: pixels;
    smooth: 0..1; rig: a .blend (None: our armature); preset: bone-name preset of the rig (None: detected)."""

    fmt: str = DEFAULT_FORMAT
    frames: tuple[int, int | None] | None = None
    subject: tuple[float, float] | None = None
    subject_frame: int | None = None
    hands: bool = False
    workers: int | None = None
    device: str = "auto"
    weights: str | None = None
    fov_deg: float | None = None
    focal_px: float | None = None
    constant_bones: bool = True
    refine: bool = True
    smooth: float = 0.3
    foot_lock: bool = True
    rig: Path | None = None
    armature: str | None = None
    preset: str | None = None
    fbx_preset: str = "generic"


def parse_frames(text: str | None) -> tuple[int, int | None] | None:
    """'A:B' -> (A, B) video frame indices (A inclusive, B exclusive, B None = to the end); None -> None."""
    if text is None or text.strip() in ("", ":"):
        return None
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start = int(parts[0]) if parts[0].strip() else 0
        stop = int(parts[1]) if parts[1].strip() else None
    except ValueError:
        raise UsageError(f"--frames must look like A:B (for example 0:300), got {text!r}.") from None
    if start < 0 or (stop is not None and stop <= start):
        raise UsageError(f"--frames {text!r} is empty or negative; the end must come after the start.")
    return start, stop


def parse_point(text: str | None) -> tuple[float, float] | None:
    """`X,Y` pixels → (x, y); None stays None."""
    if text is None:
        return None
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--subject takes X,Y in pixels (like 640,360), not {text!r}.") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise UsageError(f"--subject takes X,Y in pixels (like 640,360), not {text!r}.")
    return x, y


def parse_subject_frame(
    text: str | None, subject: tuple[float, float] | None, frames: tuple[int, int | None] | None
) -> int | None:
    """`--subject-frame N`: the video frame on which `--subject` points at the person (None: the range's first
    frame). It needs `--subject` and must lie inside `--frames`; whether it lies inside the video is checked
    by detection (`lifting.video2d.detect.check_subject_frame`)."""
    if text is None:
        return None
    try:
        frame = int(text.strip())
    except ValueError:
        raise UsageError(f"--subject-frame takes a video frame number (like 150), not {text!r}.") from None
    if subject is None:
        raise UsageError(
            f"--subject-frame {frame} needs --subject X,Y: the point on the person to follow on that frame."
        )
    if frame < 0:
        raise UsageError(f"--subject-frame must be a video frame, 0 or more; got {frame}.")
    start, stop = frames if frames is not None else (0, None)
    if frame < start or (stop is not None and frame >= stop):
        end = "" if stop is None else str(stop)
        raise UsageError(
            f"--subject-frame {frame} is outside --frames {start}:{end}; give a frame inside it."
        )
    return frame


def check_smooth(smooth: float) -> float:
    """`--smooth`: the smoothing strength, 0..1."""
    if not 0.0 <= smooth <= 1.0:
        raise UsageError(f"--smooth must be between 0 and 1, got {smooth:g}.")
    return float(smooth)


def check_workers(workers: int | None) -> int | None:
    """`--workers`: None (one per core) or 1 or more; more than the cores are capped, with a warning, by
    detection itself."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be 1 or more, got {workers}.")
    return workers


def check_folder(folder: Path, what: str) -> None:
    """Create `folder` if needed and prove it takes files (a file is created in it and removed: permission bits
    alone do not tell, e.g. under /proc); a UsageError naming the user's folder otherwise."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"the {what} {str(folder)!r} is a file, not a folder.")
    reason = folder_problem(folder)
    if reason is not None:
        raise UsageError(f"cannot write into the {what} {str(folder)!r} ({reason}); choose another.")


def check_output_file(path: Path, suffixes: tuple[str, ...], what: str) -> Path:
    """An output file the user named: one of `suffixes` (any case), not a folder, in a folder that takes files.
    Nothing is created but missing folders. A UsageError naming the user's path otherwise."""
    if not path.name.lower().endswith(suffixes):
        raise UsageError(f"the {what} must end in {' or '.join(suffixes)}, not {path.name!r}.")
    if path.is_dir():
        raise UsageError(f"the {what} {str(path)!r} is a folder; give a file name.")
    check_folder(path.parent, "output folder")
    return path
