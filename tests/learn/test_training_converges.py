"""The model learns: a small temporal model trained briefly on synthetic motion beats the mean pose by 2×."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lifting.learn.generators import ChunkedGenerator, EvaluationGenerator
from lifting.learn.losses import mpjpe as mpjpe_loss
from lifting.learn.synthetic import random_clip
from lifting.lift.model import TemporalModel, TemporalModelConfig
from lifting.metrics import mpjpe
from lifting.skeleton import OUTPUT, merge_mirrored


def _clips(seed: int, count: int, frames: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    clips = [random_clip(rng, frames, fps=50.0, noise_px=1.0) for _ in range(count)]
    return [c.keypoints_2d for c in clips], [c.poses_3d for c in clips]


def test_synthetic_clips_are_consistent() -> None:
    clip = random_clip(np.random.default_rng(1), 40)
    assert clip.keypoints_2d.shape == (40, 21, 2) and clip.poses_3d.shape == (40, 21, 3)
    np.testing.assert_array_equal(clip.poses_3d[:, 0], 0.0)
    assert (clip.trajectory[:, 2] > 1.0).all(), "the subject must be in front of the camera"
    intr = clip.camera.intrinsics
    assert ((clip.pixels >= 0) & (clip.pixels <= [intr.width, intr.height])).all(), (
        "the subject must be in view"
    )
    # Bone lengths are constant over the clip (rigid skeleton).
    parents = np.array(OUTPUT.parents[1:])
    lengths = np.linalg.norm(clip.poses_3d[:, 1:] - clip.poses_3d[:, parents], axis=-1)
    assert lengths.std(axis=0).max() < 1e-5


@pytest.mark.slow
def test_small_temporal_model_beats_the_mean_pose_by_half() -> None:
    torch.manual_seed(0)
    # Many short clips: every clip has its own camera, and camera variety is what the model must generalise over.
    train_2d, train_3d = _clips(seed=0, count=200, frames=60)
    val_2d, val_3d = _clips(seed=1, count=12, frames=100)
    cfg = TemporalModelConfig(
        num_joints_in=21, in_features=2, num_joints_out=21, filter_widths=(3, 3), channels=256, dropout=0.1
    )
    model = TemporalModel(cfg, strided=True)
    generator = ChunkedGenerator(
        train_2d, train_3d, None, input_joints=OUTPUT, output_joints=OUTPUT,
        batch_size=256, chunk_length=1, pad=cfg.padding(), mirror=True, seed=0,
    )  # fmt: skip
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    steps, step = 600, 0
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    model.train()
    while step < steps:
        for batch in generator:
            assert batch.poses_3d is not None
            pred = model(torch.from_numpy(batch.inputs))
            loss = mpjpe_loss(pred, torch.from_numpy(batch.poses_3d))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            step += 1
            if step == steps:
                break

    evaluator = TemporalModel(cfg)
    evaluator.load_state_dict(model.state_dict())
    evaluator.eval()
    mean_pose = np.concatenate(train_3d).mean(axis=0)
    model_errors, baseline_errors = [], []
    with torch.no_grad():
        for item in EvaluationGenerator(
            val_2d, val_3d, None, input_joints=OUTPUT, output_joints=OUTPUT, pad=cfg.padding(), mirror=True
        ):
            assert item.poses_3d is not None
            pred = merge_mirrored(evaluator(torch.from_numpy(item.inputs)).numpy(), OUTPUT)
            model_errors.append(mpjpe(pred, item.poses_3d))
            baseline_errors.append(mpjpe(np.broadcast_to(mean_pose, item.poses_3d.shape), item.poses_3d))
    model_error, baseline_error = float(np.mean(model_errors)), float(np.mean(baseline_errors))
    assert baseline_error > 0.1, f"the mean-pose baseline is suspiciously good ({baseline_error:.3f} m)"
    assert model_error <= 0.5 * baseline_error, (
        f"model {model_error * 1000:.0f} mm vs mean pose {baseline_error * 1000:.0f} mm"
    )
