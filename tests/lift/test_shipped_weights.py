"""The shipped checkpoint: it loads, matches the code, and gives a plausible person on the real sample clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lifting.app import api
from lifting.lift.checkpoint import load_checkpoint
from lifting.lift.lift import default_weights
from lifting.metrics import bone_length_std
from lifting.skeleton import BLAZEPOSE, OUTPUT
from retarget.placement import estimate_height
from tests.support.paths import EXCERPT, SAMPLE

WEIGHTS_LIMIT_BYTES = 25 * 1024 * 1024


def test_shipped_checkpoint_loads_and_is_small_enough() -> None:
    stem = default_weights()
    config, models = load_checkpoint(stem)
    assert config.input_joints == BLAZEPOSE and config.output_joints == OUTPUT
    assert config.normalisation == "camera" and config.features == ("x", "y", "visibility")
    assert set(models) == {"pose", "trajectory"} and config.pose.receptive_field() > 1
    assert config.training["data"]["source"] == "mocap" and config.training["command"].startswith(
        "python -m lifting train"
    )
    size = sum(p.stat().st_size for p in stem.parent.glob(stem.name + ".*") if "train-state" not in p.name)
    assert size <= WEIGHTS_LIMIT_BYTES


@pytest.mark.slow
def test_lift_on_the_sample_clip_gives_a_plausible_person(tmp_path: Path) -> None:
    video = SAMPLE if SAMPLE.is_file() else EXCERPT
    keypoints = api.detect(video, cache_dir=tmp_path)
    motion = api.lift(keypoints, device="cpu")
    assert np.isfinite(motion.joints).all() and np.isfinite(motion.root).all()
    seen = keypoints.detected
    joints = motion.joints[seen]
    height = estimate_height(joints, motion.joint_names)
    assert 1.5 <= height <= 1.9, f"estimated height {height:.2f} m"
    # Plausible adult proportions: thigh and shin 0.3–0.55 m, upper arm 0.15–0.4 m (medians over the clip).
    index = {name: i for i, name in enumerate(motion.joint_names)}
    for (a, b), (lo, hi) in {
        ("l_hip", "l_knee"): (0.3, 0.55), ("r_hip", "r_knee"): (0.3, 0.55), ("l_knee", "l_ankle"): (0.3, 0.55),
        ("r_knee", "r_ankle"): (0.3, 0.55), ("l_shoulder", "l_elbow"): (0.15, 0.4), ("r_shoulder", "r_elbow"): (0.15, 0.4),
    }.items():  # fmt: skip
        length = float(np.median(np.linalg.norm(joints[:, index[a]] - joints[:, index[b]], axis=-1)))
        assert lo <= length <= hi, f"{a}–{b} is {length:.2f} m"
    assert bone_length_std(joints, motion.parents) < 0.06
    assert (motion.root[seen, 2] > 1.0).all(), "the person must be in front of the camera"
