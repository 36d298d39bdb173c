"""Semi-supervised fine-tuning: back-projection on unlabeled clips, the bone-length term, clip preparation,
provenance, the command line's errors and events."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lifting.errors import MocapError
from lifting.learn.finetune import (
    FinetuneTrainer,
    SemiSupervisedConfig,
    UnlabeledClip,
    clip_diagnostics,
    expand_clips,
    labeled_source,
    main,
    parse_args,
    prepare_clip,
)
from lifting.learn.generators import ChunkedGenerator
from lifting.learn.sources import SyntheticSource
from lifting.learn.train import TrainConfig, Trainer
from lifting.lift.checkpoint import load_checkpoint, load_config
from lifting.lift.lift import LiftOptions, default_weights, run_models
from lifting.metrics import bone_lengths
from lifting.skeleton import BLAZEPOSE, OUTPUT, observation_matrix
from lifting.video2d.keypoints2d import Keypoints2D


def _cfg(out: Path, epochs: int, **kw: object) -> TrainConfig:
    options: dict[str, object] = {
        "out": out, "epochs": epochs, "batch_size": 32, "channels": 48, "filter_widths": (3, 3),
        "chunk_length": 8, "max_batches_per_epoch": 15, "device": "cpu", "seed": 3,
        "bn_recalibration_batches": 0,
    }  # fmt: skip
    options.update(kw)
    return TrainConfig(**options)  # type: ignore[arg-type]


def _labeled() -> SyntheticSource:
    return SyntheticSource(
        clips_per_epoch=16,
        frames_per_clip=40,
        validation_clips=3,
        validation_frames=30,
        normalisation="camera",
    )


def _unlabeled(count: int = 4, frames: int = 60) -> list[UnlabeledClip]:
    """2D-only clips (camera rays of the 21 joints): other motion than the labeled epochs draw."""
    views = SyntheticSource(
        clips_per_epoch=count, frames_per_clip=frames, noise_px=0.5, normalisation="camera"
    ).epoch(999, 77)
    return [
        UnlabeledClip(f"clip{i}", x, np.ones(x.shape[:2], np.float32), 1000.0, {"name": f"clip{i}"})
        for i, x in enumerate(views.inputs)
    ]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small supervised model on the synthetic source (camera rays), the starting point of fine-tuning."""
    stem = tmp_path_factory.mktemp("base") / "base"
    Trainer(_cfg(stem, 6, lr=1e-2, max_batches_per_epoch=30), _labeled()).run(show_progress=False)
    return stem


def test_backprojection_fits_the_unlabeled_clips_better_than_supervised_training_alone(
    base: Path, tmp_path: Path
) -> None:
    clips = _unlabeled()
    semi = FinetuneTrainer(
        _cfg(tmp_path / "semi", 4, lr=5e-4), _labeled(), clips,
        SemiSupervisedConfig(warmup_epochs=1, backprojection_weight=20.0, lr_warmup_steps=5), base=base,
    )  # fmt: skip
    history = semi.run(show_progress=False)
    # The same run without unlabeled clips: the supervised loss alone, same seed, steps and labeled batches.
    alone = FinetuneTrainer(
        _cfg(tmp_path / "alone", 4, lr=5e-4),
        _labeled(),
        [],
        SemiSupervisedConfig(warmup_epochs=1, lr_warmup_steps=5),
        base=base,
    )
    alone.run(show_progress=False)
    with_clips = clip_diagnostics(semi.eval_models(), semi.checkpoint_config, clips, semi.device)
    without = clip_diagnostics(alone.eval_models(), alone.checkpoint_config, clips, alone.device)
    # Epoch 1 is the supervised warm-up: no unlabeled term is recorded.
    assert "train_backprojection" not in history[0].extra
    losses = [r.extra["train_backprojection"] for r in history[1:]]
    assert losses[-1] < losses[0], losses
    assert with_clips["reprojection_px"] < 0.9 * without["reprojection_px"], (with_clips, without)
    assert history[-1].extra["clips_reprojection_px"] == pytest.approx(
        with_clips["reprojection_px"], rel=1e-3
    )


def test_the_bone_length_term_keeps_the_unlabeled_skeleton_from_collapsing(
    base: Path, tmp_path: Path
) -> None:
    """Back-projection cannot see scale: without the bone-length term the unlabeled skeleton shrinks toward the
    camera; with it, it grows toward the labeled people's size. (This small synthetic base already predicts the
    unlabeled clips at about half the labeled size, so the test compares directions and distances.)"""
    clips = _unlabeled()
    labeled = _labeled()
    reference = float(
        np.mean(
            [bone_lengths(p, OUTPUT.parents).mean(axis=0) for p in labeled.epoch(0, 0).poses_3d], axis=0
        ).mean()
    )

    def mean_bone(trainer: FinetuneTrainer) -> float:
        models = trainer.eval_models()
        with torch.no_grad():
            poses = [
                run_models(models, c.inputs, trainer.checkpoint_config, True, trainer.device)[0]
                for c in clips
            ]
        return float(np.mean([bone_lengths(p, OUTPUT.parents).mean() for p in poses]))

    finals = {}
    for weight in (0.0, 100.0):
        trainer = FinetuneTrainer(
            _cfg(tmp_path / f"ft{weight:g}", 3, lr=5e-4), labeled, clips,
            SemiSupervisedConfig(warmup_epochs=0, backprojection_weight=5.0, bone_weight=weight, lr_warmup_steps=5),
            base=base,
        )  # fmt: skip
        start = mean_bone(trainer)
        trainer.run(show_progress=False)
        finals[weight] = mean_bone(trainer)
    assert finals[0.0] < start  # collapse without the term
    assert finals[100.0] > 1.15 * start  # with it the skeleton grows toward the labeled size ...
    assert abs(finals[100.0] - reference) < abs(start - reference)  # ... and ends closer to it
    assert finals[100.0] < 1.1 * reference  # without overshooting


def test_the_checkpoint_records_what_it_was_tuned_on_and_loads(base: Path, tmp_path: Path) -> None:
    clips = _unlabeled(2)
    trainer = FinetuneTrainer(
        _cfg(tmp_path / "ft", 2), _labeled(), clips, SemiSupervisedConfig(warmup_epochs=1), base=base,
        argv=["--clips", "a.mp4"], provenance={"before": {"reprojection_px": 1.0}},
    )  # fmt: skip
    trainer.run(show_progress=False)
    config, models = load_checkpoint(tmp_path / "ft")
    tuned = config.training["finetune"]
    assert tuned["base"] == str(base)
    assert [c["name"] for c in tuned["clips"]] == ["clip0", "clip1"]
    assert tuned["semi_supervised"]["warmup_epochs"] == 1 and tuned["before"] == {"reprojection_px": 1.0}
    assert config.training["command"] == "python -m lifting finetune --clips a.mp4"
    assert set(models) == {"pose", "trajectory"}


def test_fine_tuning_starts_from_the_base_weights(base: Path, tmp_path: Path) -> None:
    trainer = FinetuneTrainer(
        _cfg(tmp_path / "ft", 1), _labeled(), _unlabeled(1), SemiSupervisedConfig(), base=base
    )
    _, reference = load_checkpoint(base)
    for role in ("pose", "trajectory"):
        for key, value in reference[role].state_dict().items():
            assert torch.equal(trainer.models[role].state_dict()[key], value), key


def test_a_wrong_base_architecture_is_refused(base: Path, tmp_path: Path) -> None:
    with pytest.raises(MocapError, match="architecture"):
        FinetuneTrainer(
            _cfg(tmp_path / "ft", 1, channels=64),
            _labeled(),
            _unlabeled(1),
            SemiSupervisedConfig(),
            base=base,
        )


def _keypoints(detected: np.ndarray, fps: float = 30.0) -> Keypoints2D:
    t = len(detected)
    rng = np.random.default_rng(0)
    kp = (np.array([640.0, 360.0]) + rng.normal(0, 50, (t, 33, 2))).astype(np.float32)
    vis = np.full((t, 33), 0.9, np.float32)
    return Keypoints2D(
        keypoints=kp, visibility=vis, detected=detected.astype(bool), interpolated=np.zeros(t, bool),
        frame_index=np.arange(t), timestamps=np.arange(t) / fps, fps=fps, image_size=(1280, 720), meta={},
    )  # fmt: skip


def test_prepare_clip_refuses_clips_with_too_few_detections() -> None:
    config = load_config(default_weights())
    detected = np.zeros(120, bool)
    detected[:30] = True
    with pytest.raises(MocapError, match=r"only 25% of the frames"):
        prepare_clip(_keypoints(detected), "short.mp4", config, LiftOptions())
    with pytest.raises(MocapError, match=r"visible for only 1\.0 s"):
        prepare_clip(_keypoints(np.ones(30, bool)), "tiny.mp4", config, LiftOptions())


def test_prepare_clip_gives_model_inputs_and_zero_weight_where_nobody_was_found() -> None:
    config = load_config(default_weights())
    detected = np.ones(180, bool)
    detected[50:60] = False
    clip = prepare_clip(_keypoints(detected, fps=60.0), "ok.mp4", config, LiftOptions(fov_deg=60.0))
    assert clip.inputs.shape == (90, 33, 3) and clip.weights.shape == (90, 33)  # 3 s at 30 fps
    assert np.all(clip.weights[25:30] == 0.0)
    assert np.all(clip.weights[:25] == pytest.approx(0.9)) and np.all(clip.weights[30:] == pytest.approx(0.9))
    assert clip.focal_px == pytest.approx(640.0 / np.tan(np.radians(30.0)))
    assert clip.info["detection_rate"] == pytest.approx(170 / 180, abs=1e-4)
    # The loss sees what the model sees: the observed joints' targets are the inputs' camera rays.
    joints, matrix = observation_matrix(BLAZEPOSE, OUTPUT)
    assert len(joints) == 15 and np.allclose(matrix.sum(axis=1), 1.0)


def test_expand_clips_takes_files_and_folders_of_videos(tmp_path: Path) -> None:
    (tmp_path / "b.MP4").write_bytes(b"x")
    (tmp_path / "a.mov").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in expand_clips([tmp_path])] == ["a.mov", "b.MP4"]
    with pytest.raises(MocapError, match="does not exist"):
        expand_clips([tmp_path / "missing.mp4"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MocapError, match="holds no videos"):
        expand_clips([empty])


def test_command_line_errors_are_one_line_or_one_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--clips", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: The clip {str(tmp_path / 'nope.mp4')!r} does not exist; check the path."]
    out = io.StringIO()
    code = main(["--clips", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o"), "--events"], stdout=out)
    assert code == 2
    event = json.loads(out.getvalue().strip().splitlines()[-1])
    assert event["event"] == "error" and "does not exist" in event["message"]
    assert (
        main(["--clips", "x.mp4", "--out", str(tmp_path / "o"), "--epochs", "2", "--warmup-epochs", "2"]) == 2
    )
    assert "never used" in capsys.readouterr().err


def test_without_the_full_data_the_shipped_pack_is_the_labeled_data(tmp_path: Path) -> None:
    config = load_config(default_weights())
    source = labeled_source("auto", config, tmp_path, clips_per_epoch=10, validation_clips=4)
    assert source.describe()["source"] == "mocap (preloaded clips)"
    views = source.epoch(0, 0)
    assert len(views.inputs) == 10 and views.inputs[0].shape[1:] == (33, 3)
    assert len(source.validation().inputs) == 4
    with pytest.raises(MocapError, match="No motion-capture data was found"):
        labeled_source("mocap", config, tmp_path, clips_per_epoch=10)


def test_aligned_backprojection_mode_trains_and_is_chosen_on_the_command_line(
    base: Path, tmp_path: Path
) -> None:
    clips = _unlabeled()
    trainer = FinetuneTrainer(
        _cfg(tmp_path / "aligned", 3, lr=5e-4), _labeled(), clips,
        SemiSupervisedConfig(warmup_epochs=0, backprojection_weight=20.0, lr_warmup_steps=5, backprojection="aligned"),
        base=base,
    )  # fmt: skip
    before = clip_diagnostics(trainer.eval_models(), trainer.checkpoint_config, clips, trainer.device)
    history = trainer.run(show_progress=False)
    losses = [r.extra["train_backprojection"] for r in history if "train_backprojection" in r.extra]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    after = clip_diagnostics(trainer.eval_models(), trainer.checkpoint_config, clips, trainer.device)
    assert after["reprojection_px"] < before["reprojection_px"], (before, after)
    assert (
        load_config(tmp_path / "aligned").training["finetune"]["semi_supervised"]["backprojection"]
        == "aligned"
    )
    with pytest.raises(MocapError, match="back-projection mode"):
        SemiSupervisedConfig(backprojection="sideways")
    assert (
        parse_args(["--clips", "a.mp4", "--out", "o", "--backprojection", "aligned"]).backprojection
        == "aligned"
    )
    assert parse_args(["--clips", "a.mp4", "--out", "o"]).backprojection == "joint"


def test_batchnorm_is_recalibrated_over_the_batches_it_was_trained_on(base: Path, tmp_path: Path) -> None:
    """After the warm-up a training step normalises the labeled and the unlabeled batch together; the
    recalibration does the same (labeled batches alone before the warm-up ends, and in supervised training)."""
    clips = _unlabeled()
    trainer = FinetuneTrainer(
        _cfg(tmp_path / "recal", 2), _labeled(), clips, SemiSupervisedConfig(warmup_epochs=1), base=base
    )
    labeled = trainer.source.epoch(0, 0)
    generator = ChunkedGenerator(
        labeled.inputs, labeled.poses_3d, labeled.trajectories, input_joints=trainer.source.input_joints,
        output_joints=trainer.source.output_joints, batch_size=8, chunk_length=8, pad=trainer.pad,
    )  # fmt: skip
    batch = next(iter(generator))
    assert trainer.recalibration_inputs(batch).shape == batch.inputs.shape  # still warming up
    trainer.epoch = 1
    mixed = trainer.recalibration_inputs(batch)
    assert mixed.shape == (8 + 32, *batch.inputs.shape[1:])
    np.testing.assert_array_equal(mixed[:8], batch.inputs)
    norm = next(m for m in trainer.models["pose"].modules() if isinstance(m, torch.nn.BatchNorm1d))
    labeled_only = FinetuneTrainer(
        _cfg(tmp_path / "alone", 2), _labeled(), [], SemiSupervisedConfig(warmup_epochs=1), base=base
    )
    labeled_only.epoch = 1
    assert labeled_only.recalibration_inputs(batch) is batch.inputs
    # The unlabeled clips move the statistics: the two recalibrations differ.
    assert trainer.recalibrate_batchnorm(3) == 3 and labeled_only.recalibrate_batchnorm(3) == 3
    other = next(m for m in labeled_only.models["pose"].modules() if isinstance(m, torch.nn.BatchNorm1d))
    assert norm.running_mean is not None and other.running_mean is not None
    assert not torch.allclose(norm.running_mean, other.running_mean, atol=1e-3)


def test_the_papers_bone_terms_and_the_depth_scaled_backprojection_train(base: Path, tmp_path: Path) -> None:
    clips = _unlabeled()
    semi = SemiSupervisedConfig(
        warmup_epochs=0, lr_warmup_steps=5, bone_loss="abs", bone_weight=1.0, bone_consistency_weight=1.0,
        backprojection_scale="depth", backprojection_weight=5.0, bone_reference="chunk",
    )  # fmt: skip
    trainer = FinetuneTrainer(_cfg(tmp_path / "paper", 3, lr=5e-4), _labeled(), clips, semi, base=base)
    before = clip_diagnostics(trainer.eval_models(), trainer.checkpoint_config, clips, trainer.device)
    history = trainer.run(show_progress=False)
    after = clip_diagnostics(trainer.eval_models(), trainer.checkpoint_config, clips, trainer.device)
    losses = [r.extra["train_backprojection"] for r in history]
    assert losses[-1] < losses[0], losses
    assert 0.0 < history[0].extra["train_bone_loss"] < 0.2  # metres now, not m²
    assert after["reprojection_px"] < before["reprojection_px"], (before, after)
    recorded = load_config(tmp_path / "paper").training["finetune"]["semi_supervised"]
    assert recorded["bone_loss"] == "abs" and recorded["backprojection_scale"] == "depth"
    assert recorded["bone_reference"] == "chunk"
    with pytest.raises(MocapError, match="bone-length loss"):
        SemiSupervisedConfig(bone_loss="cubic")
    with pytest.raises(MocapError, match="back-projection scale"):
        SemiSupervisedConfig(backprojection_scale="pixels")
    with pytest.raises(MocapError, match="bone-length reference"):
        SemiSupervisedConfig(bone_reference="person")


def test_gradient_norms_measure_what_each_weighted_term_does_to_the_pose_model(
    base: Path, tmp_path: Path
) -> None:
    trainer = FinetuneTrainer(
        _cfg(tmp_path / "grad", 1), _labeled(), _unlabeled(), SemiSupervisedConfig(warmup_epochs=0), base=base
    )
    torch.manual_seed(0)
    one = trainer.gradient_norms(2)
    assert set(one) == {"pose", "trajectory", "backprojection", "bone", "bone_consistency"}
    assert one["trajectory"] == 0.0  # the trajectory model is a separate network
    assert all(one[k] > 0.0 for k in ("pose", "backprojection", "bone", "bone_consistency")), one
    trainer.semi = dataclasses.replace(trainer.semi, backprojection_weight=10.0)
    torch.manual_seed(0)
    ten = trainer.gradient_norms(2)
    assert ten["backprojection"] == pytest.approx(10.0 * one["backprojection"], rel=1e-4)
    assert ten["pose"] == pytest.approx(one["pose"], rel=1e-4)
