"""The training source for the shipped model: motion capture seen through fresh random cameras every epoch.

Inputs are the 33 virtual MediaPipe landmarks of each view, as normalised camera rays (`camera.normalize_camera`,
independent of the focal length) plus visibility; targets are the 21 output joints in camera space,
root-relative, and the camera-space root trajectory (see `lifting.learn.datasets.views`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lifting.camera import normalize_camera
from lifting.errors import MocapError
from lifting.learn.datasets.dataset import MocapClip, evenly_spaced, load_split
from lifting.learn.datasets.splits import SPLIT_VERSION
from lifting.learn.datasets.views import View, ViewConfig, epoch_views
from lifting.learn.sources import Views
from lifting.skeleton import BLAZEPOSE, MODEL_FPS, OUTPUT, JointSet

VALIDATION_SEED = 20261121


def view_inputs(view: View) -> npt.NDArray[np.float32]:
    """(T, 33, 3) float32 model input of a view: camera-normalised x, y and visibility."""
    xy = normalize_camera(view.keypoints_px, view.intrinsics)
    out: npt.NDArray[np.float32] = np.concatenate([xy, view.visibility[..., None]], axis=-1).astype(
        np.float32
    )
    return out


def to_views(views: Sequence[View]) -> Views:
    return Views([view_inputs(v) for v in views], [v.poses_3d for v in views], [v.trajectory for v in views])


@dataclass
class MocapSource:
    """Train/validation clips of split v1 from `shared_dir`; `max_*_clips` > 0 keep an evenly spaced subset
    (for quick runs and tests); `clips_per_epoch` > 0 trains each epoch on a fresh random subset of that many
    clips (shorter epochs, so the learning-rate schedule and checkpoints come more often); validation views are
    drawn once with a fixed seed."""

    shared_dir: Path
    view_config: ViewConfig = field(default_factory=ViewConfig)
    max_train_clips: int = 0
    clips_per_epoch: int = 0
    max_validation_clips: int = 60
    input_joints: JointSet = BLAZEPOSE
    output_joints: JointSet = OUTPUT
    features: tuple[str, ...] = ("x", "y", "visibility")
    normalisation: str = "camera"
    fps: float = MODEL_FPS
    # (train, validation) clips to use instead of loading split v1 from shared_dir (e.g. the shipped pack).
    preloaded: tuple[list[MocapClip], list[MocapClip]] | None = None

    def __post_init__(self) -> None:
        self._validation: Views | None = None
        if self.preloaded is not None:
            self.train_clips = evenly_spaced(list(self.preloaded[0]), self.max_train_clips)
            self.validation_clips = evenly_spaced(list(self.preloaded[1]), self.max_validation_clips)
            return
        if (
            not (Path(self.shared_dir) / "data" / "mocap").is_dir()
            and not (Path(self.shared_dir) / "mocap").is_dir()
        ):
            raise MocapError(
                f"No motion-capture data was found under {self.shared_dir}; pass --shared-dir with data/mocap in it."
            )
        self.train_clips = evenly_spaced(load_split(self.shared_dir, "train"), self.max_train_clips)
        self.validation_clips = evenly_spaced(
            load_split(self.shared_dir, "validation"), self.max_validation_clips
        )

    def describe(self) -> dict[str, object]:
        hours = sum(c.num_frames for c in self.train_clips) / self.fps / 3600.0
        return {
            "source": "mocap" if self.preloaded is None else "mocap (preloaded clips)",
            "split_version": SPLIT_VERSION,
            "train_clips": len(self.train_clips),
            "clips_per_epoch": self.clips_per_epoch or len(self.train_clips),
            "train_hours": round(hours, 3),
            "datasets": sorted({c.source for c in self.train_clips}),
            "licences": "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu, NSF EIA-0196217); HDM05 (CC BY-SA 3.0)",
        }

    def epoch(self, epoch: int, seed: int) -> Views:
        clips = self.train_clips
        if 0 < self.clips_per_epoch < len(clips):
            pick = np.random.default_rng([seed, epoch, 7]).choice(
                len(clips), self.clips_per_epoch, replace=False
            )
            clips = [clips[i] for i in np.sort(pick)]
        return to_views(epoch_views(clips, seed, epoch, self.view_config))

    def validation(self) -> Views:
        if self._validation is None:
            self._validation = to_views(
                epoch_views(self.validation_clips, VALIDATION_SEED, 0, self.view_config)
            )
        return self._validation
