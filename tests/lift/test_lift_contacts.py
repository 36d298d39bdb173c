"""lift_keypoints fills Motion3D.contacts from a contact model, at the video's frame times."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lifting.errors import MocapError
from lifting.lift.checkpoint import CheckpointConfig, save_checkpoint
from lifting.lift.contact_model import (
    ContactCheckpoint,
    ContactModel,
    ContactModelConfig,
    save_contact_checkpoint,
)
from lifting.lift.lift import LiftOptions, lift_keypoints
from lifting.lift.model import TemporalModelConfig
from lifting.skeleton import BLAZEPOSE, OUTPUT
from tests.support.synthetic import wobbling_keypoints


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("w")
    pose = TemporalModelConfig(num_joints_in=33, num_joints_out=21, filter_widths=(3, 3), channels=16)
    cfg = CheckpointConfig(
        pose=pose, trajectory=pose.for_trajectory(), input_joints=BLAZEPOSE, output_joints=OUTPUT, fps=30.0,
        normalisation="camera",
    )  # fmt: skip
    save_checkpoint(folder / "tiny", cfg, cfg.build_models())
    contact_cfg = ContactModelConfig(channels=8, dilations=(1, 2))
    save_contact_checkpoint(
        folder / "contacts", ContactCheckpoint(contact_cfg, 30.0), ContactModel(contact_cfg)
    )
    return folder / "tiny", folder / "contacts"


def test_lift_fills_contacts_at_the_video_frames(weights: tuple[Path, Path]) -> None:
    lifter, contacts = weights
    motion = lift_keypoints(
        wobbling_keypoints(50), LiftOptions(weights=lifter, device="cpu", contact_weights=contacts)
    )
    assert motion.contacts is not None and motion.contacts.shape == (50, 4)
    assert motion.contacts.dtype == np.float32
    assert motion.contacts.min() >= 0.0 and motion.contacts.max() <= 1.0
    assert np.ptp(motion.contacts) > 0.0  # a real prediction, not a constant fill
    off = lift_keypoints(
        wobbling_keypoints(50),
        LiftOptions(weights=lifter, device="cpu", contact_weights=contacts, contacts=False),
    )
    assert off.contacts is None
    np.testing.assert_array_equal(off.joints, motion.joints)


def test_lift_refuses_contact_weights_of_another_rate(weights: tuple[Path, Path], tmp_path: Path) -> None:
    lifter, _ = weights
    cfg = ContactModelConfig(channels=8, dilations=(1,))
    save_contact_checkpoint(tmp_path / "c50", ContactCheckpoint(cfg, 50.0), ContactModel(cfg))
    with pytest.raises(MocapError, match="fps"):
        lift_keypoints(
            wobbling_keypoints(50),
            LiftOptions(weights=lifter, device="cpu", contact_weights=tmp_path / "c50"),
        )
    with pytest.raises(MocapError):
        lift_keypoints(
            wobbling_keypoints(50),
            LiftOptions(weights=lifter, device="cpu", contact_weights=tmp_path / "missing"),
        )
