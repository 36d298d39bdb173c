"""Training data sources: each epoch, a fresh set of (2D input, 3D target, trajectory) sequences.

A source draws new virtual views every epoch (new cameras, new noise), so training never sees the same 2D twice.
`SyntheticSource` uses the procedural motion of `lifting.learn.synthetic` (its inputs are the 21 output joints
projected, not MediaPipe landmarks): it needs no data and exercises the whole training loop in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from lifting.camera import normalize_camera
from lifting.learn.synthetic import random_clip
from lifting.skeleton import OUTPUT, JointSet

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Views:
    """Sequences for one epoch or a validation set, all lists of equal length N.

    inputs[i]: (T_i, J_in, C_in) normalised screen coordinates (+ visibility when C_in = 3);
    poses_3d[i]: (T_i, J_out, 3) camera space, root-relative, metres; trajectories[i]: (T_i, 3) camera-space
    root position, metres.
    """

    inputs: list[FloatArray]
    poses_3d: list[FloatArray]
    trajectories: list[FloatArray]

    def __post_init__(self) -> None:
        if not (len(self.inputs) == len(self.poses_3d) == len(self.trajectories)):
            raise ValueError("inputs, poses_3d and trajectories must have one entry per sequence")

    @property
    def frames(self) -> int:
        return sum(len(x) for x in self.inputs)


class Source(Protocol):
    """What the training loop needs from a data source."""

    input_joints: JointSet
    output_joints: JointSet
    features: tuple[str, ...]
    normalisation: str
    fps: float

    def describe(self) -> dict[str, object]:
        """JSON-serialisable provenance, stored in the checkpoint."""
        ...

    def epoch(self, epoch: int, seed: int) -> Views:
        """Training views for one epoch; the same (epoch, seed) gives the same views."""
        ...

    def validation(self) -> Views:
        """A fixed validation set (same every call)."""
        ...


@dataclass
class SyntheticSource:
    """Procedural random motion seen by random cameras; input joints = output joints (21), features x, y in
    screen units, or camera rays with `normalisation="camera"`."""

    clips_per_epoch: int = 200
    frames_per_clip: int = 60
    validation_clips: int = 12
    validation_frames: int = 100
    noise_px: float = 1.0
    fps: float = 30.0
    input_joints: JointSet = OUTPUT
    output_joints: JointSet = OUTPUT
    features: tuple[str, ...] = ("x", "y")
    normalisation: str = "screen"

    def describe(self) -> dict[str, object]:
        return {
            "source": "synthetic",
            "clips_per_epoch": self.clips_per_epoch,
            "frames_per_clip": self.frames_per_clip,
            "noise_px": self.noise_px,
        }

    def _views(self, rng: np.random.Generator, count: int, frames: int) -> Views:
        clips = [random_clip(rng, frames, fps=self.fps, noise_px=self.noise_px) for _ in range(count)]
        if self.normalisation == "camera":
            inputs = [normalize_camera(c.pixels, c.camera.intrinsics).astype(np.float32) for c in clips]
        else:
            inputs = [c.keypoints_2d for c in clips]
        return Views(inputs, [c.poses_3d for c in clips], [c.trajectory for c in clips])

    def epoch(self, epoch: int, seed: int) -> Views:
        return self._views(
            np.random.default_rng([seed, epoch, 1]), self.clips_per_epoch, self.frames_per_clip
        )

    def validation(self) -> Views:
        return self._views(np.random.default_rng([12345, 2]), self.validation_clips, self.validation_frames)
