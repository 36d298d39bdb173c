"""The Keypoints2D contract (DESIGN.md) and its `.keypoints.npz` file, used as a cache.

| key | shape / type | meaning |
|---|---|---|
| format, format_version | str, int | "keypoints2d", FORMAT_VERSION |
| keypoints | (T, 33, 2) float32 | pixels, BlazePose landmark order, origin at the image's top-left corner |
| visibility | (T, 33) float32 | 0..1 (MediaPipe's visibility; lowered on interpolated frames) |
| detected | (T,) bool | the subject was found on this frame (interpolated frames count as found) |
| interpolated | (T,) bool | the frame was filled by interpolation across a short gap |
| frame_index | (T,) int64 | video frame index of each row |
| timestamps | (T,) float64 | seconds, from the container |
| fps | float | the video's nominal frame rate divided by the stride |
| image_size | (2,) int | width, height in pixels (after rotation) |
| meta | str (JSON) | detector name/version/settings, source video path and identity, frame range |

Version 2 adds the hands, all four or none (detection with hands on; index 0 left, 1 right, landmarks in
MediaPipe's hand landmark order; `lifting.video2d.mediapipe_hands`); version 1 files (no hands) still load:

| key | shape / type | meaning |
|---|---|---|
| hands | (T, 2, 21, 2) float32 | pixels, like `keypoints`; zeros where the hand was not found |
| hands_visibility | (T, 2, 21) float32 | 1 where found, lowered for landmarks clipped onto the border, 0 where not found |
| hands_world | (T, 2, 21, 3) float32 | MediaPipe's hand world landmarks, metres, origin near the hand's centre, axes as the image's (x right, y down) |
| hands_score | (T, 2) float32 | the model's probability that the hand is its side's (handedness), 0 where not found |

The pose world landmarks are optional in version 2 files (detections cached before them load without them;
the detection cache key's `mediapipe_pose.POSE_VERSION` has them detected again):

| key | shape / type | meaning |
|---|---|---|
| pose_world | (T, 33, 3) float32 | MediaPipe's pose world landmarks of the same detection, metres, BlazePose order, origin between the hips, x to the image's right, y down, z away from the camera (the nearer a landmark, the smaller its z); zeros where the subject was not found and on interpolated frames |

A cache file is reused only when its `meta` equals what a new run would write (same file identity, same frame
range, same detector version and settings). Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from retarget.atomic_write import atomic_write

FORMAT = "keypoints2d"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: before hands
HAND_KEYS = ("hands", "hands_visibility", "hands_world", "hands_score")
POSE_WORLD = "pose_world"  # optional (T, 33, 3)


@dataclass(frozen=True)
class Keypoints2D:
    """2D keypoints of one subject over a clip; see the module docstring for shapes and units."""

    keypoints: npt.NDArray[np.float32]
    visibility: npt.NDArray[np.float32]
    detected: npt.NDArray[np.bool_]
    interpolated: npt.NDArray[np.bool_]
    frame_index: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.float64]
    fps: float
    image_size: tuple[int, int]
    meta: dict[str, Any]
    hands: npt.NDArray[np.float32] | None = None
    hands_visibility: npt.NDArray[np.float32] | None = None
    hands_world: npt.NDArray[np.float32] | None = None
    hands_score: npt.NDArray[np.float32] | None = None
    pose_world: npt.NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        t = len(self.keypoints)
        if self.keypoints.shape != (t, 33, 2) or self.visibility.shape != (t, 33):
            raise ValueError(
                f"keypoints {self.keypoints.shape} / visibility {self.visibility.shape} are not (T, 33, 2) / (T, 33)"
            )
        for name in ("detected", "interpolated", "frame_index", "timestamps"):
            if getattr(self, name).shape != (t,):
                raise ValueError(f"{name} must have shape ({t},)")
        given = [getattr(self, k) is not None for k in HAND_KEYS]
        if any(given) and not all(given):
            raise ValueError(f"the hands need all of {', '.join(HAND_KEYS)}, or none")
        if all(given):
            shapes = {"hands": (t, 2, 21, 2), "hands_visibility": (t, 2, 21), "hands_world": (t, 2, 21, 3)}
            shapes["hands_score"] = (t, 2)
            for name, shape in shapes.items():
                if getattr(self, name).shape != shape:
                    raise ValueError(f"{name} must have shape {shape}, not {getattr(self, name).shape}")
        if self.pose_world is not None and self.pose_world.shape != (t, 33, 3):
            raise ValueError(f"pose_world must have shape {(t, 33, 3)}, not {self.pose_world.shape}")

    @property
    def has_hands(self) -> bool:
        """Whether the hands were detected (`hands` and its companions are arrays)."""
        return self.hands is not None

    @property
    def num_frames(self) -> int:
        return len(self.keypoints)

    def frames(self, start: int, stop: int) -> Keypoints2D:
        """Rows [start, stop) of this track: every per-frame array sliced, everything else kept."""
        count = self.num_frames
        sliced: dict[str, Any] = {
            f.name: value[start:stop]
            for f in fields(self)
            if isinstance(value := getattr(self, f.name), np.ndarray) and value.shape[:1] == (count,)
        }
        return replace(self, **sliced)

    @property
    def found(self) -> npt.NDArray[np.bool_]:
        """(T,) frames where the detector found the subject itself (detected, not filled in)."""
        return np.asarray(self.detected & ~self.interpolated, dtype=bool)

    @property
    def detection_rate(self) -> float:
        """Share of frames where the subject was found (including short interpolated gaps)."""
        return float(self.detected.mean()) if self.num_frames else 0.0

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically; returns the path."""

        optional: dict[str, npt.NDArray[np.float32]] = {}
        if self.has_hands:
            optional = {k: np.asarray(getattr(self, k), dtype=np.float32) for k in HAND_KEYS}
        if self.pose_world is not None:
            optional[POSE_WORLD] = np.asarray(self.pose_world, dtype=np.float32)

        def write(tmp: Path) -> None:
            np.savez_compressed(
                tmp,
                format=np.array(FORMAT),
                format_version=np.array(FORMAT_VERSION),
                keypoints=self.keypoints.astype(np.float32),
                visibility=self.visibility.astype(np.float32),
                detected=self.detected.astype(bool),
                interpolated=self.interpolated.astype(bool),
                frame_index=self.frame_index.astype(np.int64),
                timestamps=self.timestamps.astype(np.float64),
                fps=np.array(float(self.fps)),
                image_size=np.array(self.image_size, dtype=np.int64),
                meta=np.array(json.dumps(self.meta, sort_keys=True)),
                **optional,
            )

        return atomic_write(path, write, suffix=".tmp.npz")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keypoints2D:
        """Read and validate a `.keypoints.npz`; a foreign, old or damaged file is one MocapError."""
        p = Path(path)
        if not p.is_file():
            raise MocapError(f"The keypoints file {p} does not exist; run detection first.")
        try:
            with np.load(p, allow_pickle=False) as data:
                if str(data["format"]) != FORMAT:
                    raise MocapError(
                        f"{p} is not a keypoints file; choose a .keypoints.npz written by detection."
                    )
                if int(data["format_version"]) not in READABLE_VERSIONS:
                    raise MocapError(
                        f"{p} has keypoints format version {int(data['format_version'])}; run detection again."
                    )
                w, h = (int(v) for v in data["image_size"])
                optional = {
                    k: data[k].astype(np.float32) for k in (*HAND_KEYS, POSE_WORLD) if k in data.files
                }
                return cls(
                    keypoints=data["keypoints"].astype(np.float32),
                    visibility=data["visibility"].astype(np.float32),
                    detected=data["detected"].astype(bool),
                    interpolated=data["interpolated"].astype(bool),
                    frame_index=data["frame_index"].astype(np.int64),
                    timestamps=data["timestamps"].astype(np.float64),
                    fps=float(data["fps"]),
                    image_size=(w, h),
                    meta=json.loads(str(data["meta"])),
                    **optional,
                )
        except MocapError:
            raise
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise MocapError(
                f"{p} is not a readable keypoints file ({type(exc).__name__}); run detection again."
            ) from None
