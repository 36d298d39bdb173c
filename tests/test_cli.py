"""The command line end to end on the committed excerpt: detect, lift, demo (BVH readable), clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lifting.checkpoint import CheckpointConfig, save_checkpoint
from lifting.cli import main, parse_frames
from lifting.errors import MocapError
from lifting.mocap.bvh import read_bvh
from lifting.model import TemporalModelConfig
from lifting.skeleton import BLAZEPOSE, OUTPUT
from retarget.motion3d import Motion3D

EXCERPT = Path(__file__).resolve().parent / "data" / "sports2d_excerpt.mp4"


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    pose = TemporalModelConfig(
        num_joints_in=33, in_features=3, num_joints_out=21, filter_widths=(3, 3), channels=16
    )
    cfg = CheckpointConfig(
        pose=pose, trajectory=pose.for_trajectory(), input_joints=BLAZEPOSE, output_joints=OUTPUT, fps=30.0,
        normalisation="camera", features=("x", "y", "visibility"),
    )  # fmt: skip
    stem = tmp_path_factory.mktemp("w") / "tiny"
    save_checkpoint(stem, cfg, cfg.build_models())
    return stem


def test_parse_frames() -> None:
    assert (
        parse_frames("10:20") == (10, 20) and parse_frames("5:") == (5, None) and parse_frames(None) is None
    )
    for bad in ("a:b", "20:10", "3"):
        with pytest.raises(MocapError):
            parse_frames(bad)


def test_detect_then_lift(tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kp = tmp_path / "clip.keypoints.npz"
    assert main(["detect", str(EXCERPT), "-o", str(kp), "--frames", "0:30"]) == 0
    assert "30 frames" in capsys.readouterr().out
    motion_path = tmp_path / "clip.motion.npz"
    assert main(["lift", str(kp), "-o", str(motion_path), "--weights", str(weights), "--device", "cpu"]) == 0
    motion = Motion3D.load(motion_path)
    assert motion.joints.shape == (30, 21, 3) and motion.fps == pytest.approx(30.0, abs=0.01)


def test_demo_writes_keypoints_motion_and_a_readable_bvh(tmp_path: Path, weights: Path) -> None:
    args = [
        "demo",
        "--video",
        str(EXCERPT),
        "--out",
        str(tmp_path),
        "--weights",
        str(weights),
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    bvh = read_bvh(tmp_path / "sports2d_excerpt.bvh")
    assert bvh.num_frames == 60 and bvh.fps == pytest.approx(30.0, abs=0.01)
    assert len(bvh.names) >= 21
    assert np.isfinite(bvh.positions(scale=1.0)).all()
    assert (tmp_path / "sports2d_excerpt.keypoints.npz").is_file() and (
        tmp_path / "sports2d_excerpt.motion.npz"
    ).is_file()


def test_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: The video") and "\n" not in err
    assert main(["lift", str(tmp_path / "nope.keypoints.npz"), "-o", str(tmp_path / "m.npz")]) == 2
    assert "run detection first" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "m.npz").exists()
