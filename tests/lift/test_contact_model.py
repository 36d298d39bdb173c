"""The contact model: features, shapes, receptive field, checkpoint round trip and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lifting.errors import MocapError
from lifting.lift.contact_model import (
    NUM_FEATURES,
    ContactCheckpoint,
    ContactModel,
    ContactModelConfig,
    contact_features,
    load_contact_checkpoint,
    predict_contacts,
    predict_logits,
    save_contact_checkpoint,
)


def _lifted(frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pose = rng.normal(0.0, 0.3, size=(frames, 21, 3))
    pose[:, 0] = 0.0
    traj = np.stack([np.linspace(0, 1, frames), np.zeros(frames), np.full(frames, 4.0)], axis=1)
    return pose, traj


def test_features_hold_pose_and_root_velocity() -> None:
    pose, traj = _lifted(20)
    f = contact_features(pose, traj, fps=30.0)
    assert f.shape == (20, NUM_FEATURES) and f.dtype == np.float32
    np.testing.assert_allclose(f[:, :63], pose.reshape(20, -1), atol=1e-6)
    v = 30.0 / 19.0  # m/s along x
    np.testing.assert_allclose(f[:, 63:66], [[v, 0.0, 0.0]] * 20, atol=1e-5)
    np.testing.assert_allclose(f[:, 66:69], [[v / 4.0, 0.0, 0.0]] * 20, atol=1e-5)
    with pytest.raises(ValueError):
        contact_features(pose[:, :20], traj, 30.0)


def test_model_gives_one_output_per_frame_and_sees_its_receptive_field() -> None:
    cfg = ContactModelConfig(channels=8, dilations=(1, 2))
    assert cfg.receptive_field() == 3 + 2 * 3
    torch.manual_seed(0)
    model = ContactModel(cfg).eval()
    x = torch.randn(2, 30, NUM_FEATURES)
    assert model(x).shape == (2, 30 - cfg.receptive_field() + 1, 4)
    assert predict_logits(model, x).shape == (2, 30, 4)
    assert predict_logits(model, x[:, :3]).shape == (2, 3, 4)  # shorter than the receptive field
    # Output frame 15 depends on input frames 15 ± 4 only.
    y = x.clone()
    y[:, 20:] += 5.0
    y[:, :10] -= 5.0
    torch.testing.assert_close(predict_logits(model, x)[:, 15], predict_logits(model, y)[:, 15])
    pose, traj = _lifted(25)
    p = predict_contacts(model, pose, traj, 30.0)
    assert p.shape == (25, 4) and p.min() >= 0.0 and p.max() <= 1.0


def test_checkpoint_round_trip_and_mismatches(tmp_path: Path) -> None:
    torch.manual_seed(1)
    cfg = ContactModelConfig(
        channels=8, dilations=(1, 3), feature_mean=tuple(np.linspace(-1, 1, NUM_FEATURES)),
        feature_std=tuple(np.linspace(0.5, 2, NUM_FEATURES)),
    )  # fmt: skip
    model = ContactModel(cfg).eval()
    stem = tmp_path / "contacts"
    save_contact_checkpoint(stem, ContactCheckpoint(cfg, 30.0, {"command": "test"}), model)
    checkpoint, loaded = load_contact_checkpoint(stem)
    assert checkpoint.model == cfg and checkpoint.fps == 30.0 and checkpoint.training == {"command": "test"}
    x = torch.randn(1, 40, NUM_FEATURES)
    torch.testing.assert_close(predict_logits(loaded, x), predict_logits(model, x))

    config_path = stem.with_suffix(".json")
    data = json.loads(config_path.read_text())
    data["model"]["channels"] = 16
    config_path.write_text(json.dumps(data))
    with pytest.raises(MocapError, match="does not match its config"):
        load_contact_checkpoint(stem)
    data["model"]["channels"] = 8
    data["model"]["kernel"] = 5
    config_path.write_text(json.dumps(data))
    with pytest.raises(MocapError, match="does not match this version"):
        load_contact_checkpoint(stem)
    config_path.write_text(json.dumps({"format": "video-mocap-checkpoint"}))
    with pytest.raises(MocapError, match="not a contact-model config"):
        load_contact_checkpoint(stem)
    stem.with_suffix(".safetensors").unlink()
    with pytest.raises(MocapError):
        load_contact_checkpoint(stem)
