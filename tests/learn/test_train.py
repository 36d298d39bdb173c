"""Training loop: checkpoints that load, exact resume, clear errors, DDP under torchrun."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lifting.errors import MocapError
from lifting.learn.generators import ChunkedGenerator
from lifting.learn.sources import SyntheticSource
from lifting.learn.train import TrainConfig, Trainer, main, parse_args
from lifting.lift.checkpoint import load_checkpoint
from lifting.skeleton import OUTPUT
from tests.support.paths import ROOT


def _tiny(out: Path, epochs: int, **kw: object) -> TrainConfig:
    options: dict[str, object] = {
        "out": out, "epochs": epochs, "batch_size": 64, "channels": 32, "filter_widths": (3, 3),
        "max_batches_per_epoch": 6, "device": "cpu", "seed": 5,
    }  # fmt: skip
    options.update(kw)
    return TrainConfig(**options)  # type: ignore[arg-type]


def _source() -> SyntheticSource:
    return SyntheticSource(clips_per_epoch=12, frames_per_clip=40, validation_clips=3, validation_frames=30)


def test_training_writes_a_loadable_checkpoint_and_a_log(tmp_path: Path) -> None:
    trainer = Trainer(_tiny(tmp_path / "m", 2, bn_recalibration_batches=0), _source(), argv=["--epochs", "2"])
    history = trainer.run(show_progress=False)
    assert [r.epoch for r in history] == [1, 2]
    assert all(0 < r.val_mpjpe < 2.0 and r.val_p_mpjpe <= r.val_mpjpe + 1e-9 for r in history)
    cfg, models = load_checkpoint(tmp_path / "m")
    assert set(models) == {"pose", "trajectory"} and cfg.fps == 30.0
    assert cfg.training["epochs_done"] == 2 and cfg.training["data"]["source"] == "synthetic"
    assert cfg.training["command"] == "python -m lifting train --epochs 2"
    lines = (tmp_path / "m.log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_a_tiny_run_improves_the_validation_error(tmp_path: Path) -> None:
    history = Trainer(
        _tiny(tmp_path / "t", 4, max_batches_per_epoch=20, bn_recalibration_batches=0), _source()
    ).run(show_progress=False)
    errors = [r.val_mpjpe for r in history]
    assert errors[-1] < 0.95 * errors[0] and errors == sorted(errors, reverse=True), errors


def test_resume_continues_exactly_where_the_run_stopped(tmp_path: Path) -> None:
    straight = Trainer(_tiny(tmp_path / "a", 2, bn_recalibration_batches=0), _source())
    straight.run(show_progress=False)
    first = Trainer(_tiny(tmp_path / "b", 1, bn_recalibration_batches=0), _source())
    first.run(show_progress=False)
    resumed = Trainer(_tiny(tmp_path / "b", 2, resume=True, bn_recalibration_batches=0), _source())
    resumed.load_state()
    assert resumed.epoch == 1
    resumed.run(show_progress=False)
    for role in ("pose", "trajectory"):
        for (name, a), b in zip(
            straight.models[role].state_dict().items(),
            resumed.models[role].state_dict().values(),
            strict=True,
        ):
            torch.testing.assert_close(a, b, msg=f"{role}.{name} differs after resuming")
    assert [r.epoch for r in resumed.history] == [1, 2]


def test_batchnorm_recalibration_uses_exact_batch_statistics(tmp_path: Path) -> None:
    trainer = Trainer(_tiny(tmp_path / "r", 1, bn_recalibration_batches=0), _source())
    trainer.run(show_progress=False)
    used = trainer.recalibrate_batchnorm(3)
    assert used == 3 and trainer.bn_recalibrated
    # Recompute the first BatchNorm's input mean over the same three batches by hand.
    c = trainer.cfg
    views = trainer.source.epoch(c.epochs + 10_000, c.seed)
    gen = ChunkedGenerator(
        views.inputs, views.poses_3d, views.trajectories, input_joints=OUTPUT, output_joints=OUTPUT,
        batch_size=c.batch_size, chunk_length=c.chunk_length, pad=trainer.models["pose"].cfg.padding(),
        mirror=c.mirror, drop_last=True, seed=c.seed + 1,
    )  # fmt: skip
    model = trainer.models["pose"]
    means = []
    with torch.no_grad():
        for _, batch in zip(range(3), gen, strict=False):
            x = torch.from_numpy(batch.inputs)
            h = model.expand_conv(x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 2))
            means.append(h.mean(dim=(0, 2)))
    torch.testing.assert_close(
        model.expand_bn.running_mean, torch.stack(means).mean(dim=0), atol=1e-5, rtol=1e-4
    )
    assert not model.training


def test_a_finished_run_recalibrates_once_and_records_it(tmp_path: Path) -> None:
    history = Trainer(_tiny(tmp_path / "f", 1, bn_recalibration_batches=2), _source()).run(
        show_progress=False
    )
    assert [r.note for r in history] == ["", "BatchNorm statistics recalibrated on 2 batches"]
    again = Trainer(_tiny(tmp_path / "f", 1, resume=True, bn_recalibration_batches=2), _source())
    again.load_state()
    assert again.bn_recalibrated and len(again.run(show_progress=False)) == 2


def test_training_on_after_a_recalibration_recalibrates_again(tmp_path: Path) -> None:
    Trainer(_tiny(tmp_path / "g", 1, bn_recalibration_batches=2), _source()).run(show_progress=False)
    more = Trainer(_tiny(tmp_path / "g", 2, resume=True, bn_recalibration_batches=2), _source())
    more.load_state()
    history = more.run(show_progress=False)
    notes = [r.note for r in history]
    recalibrated = "BatchNorm statistics recalibrated on 2 batches"
    assert notes == ["", recalibrated, "", recalibrated] and more.bn_recalibrated


def test_temporal_loss_terms_change_training_and_need_chunks(tmp_path: Path) -> None:
    plain = Trainer(_tiny(tmp_path / "p", 1, chunk_length=8, bn_recalibration_batches=0), _source())
    weighted = Trainer(
        _tiny(tmp_path / "w", 1, chunk_length=8, bn_recalibration_batches=0, velocity_weight=2.0,
              bone_std_weight=1.0),
        _source(),
    )  # fmt: skip
    views = _source().epoch(0, 5)
    batch = next(iter(ChunkedGenerator(
        views.inputs, views.poses_3d, views.trajectories, input_joints=OUTPUT, output_joints=OUTPUT, batch_size=8, chunk_length=8,
        pad=plain.models["pose"].cfg.padding(), seed=5,
    )))  # fmt: skip
    for t in (plain, weighted):
        for m in t.models.values():
            m.eval()  # dropout off so the two forward passes match
    total_plain, pose_plain, _ = plain.batch_loss(batch)
    total_weighted, pose_weighted, _ = weighted.batch_loss(batch)
    assert pose_plain == pytest.approx(pose_weighted)  # same seed, same weights: same pose MPJPE
    # The extra terms add to what is minimised.
    assert float(total_weighted.detach()) > float(total_plain.detach()) + 1e-4
    cfg = parse_args(["--chunk-length", "16", "--velocity-weight", "2", "--bone-std-weight", "0.5"])
    assert (cfg.velocity_weight, cfg.bone_std_weight) == (2.0, 0.5)
    with pytest.raises(SystemExit):
        parse_args(["--velocity-weight", "2"])  # chunk length 1: no consecutive output frames


def test_resume_refuses_a_different_architecture(tmp_path: Path) -> None:
    Trainer(_tiny(tmp_path / "c", 1), _source()).run(show_progress=False)
    other = Trainer(_tiny(tmp_path / "c", 2, channels=16), _source())
    with pytest.raises(MocapError, match="channels=32"):
        other.load_state()
    with pytest.raises(MocapError, match="Nothing to resume"):
        Trainer(_tiny(tmp_path / "none", 1), _source()).load_state()


def test_command_line_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path / "x"), "--device", "tpu", "--epochs", "1"]) == 2
    assert capsys.readouterr().err.strip() == "error: Unknown device 'tpu'; use auto, cpu or cuda."
    assert main(["--out", str(tmp_path / "x"), "--filter-widths", "3,4"]) == 2
    assert "odd" in capsys.readouterr().err
    cfg = parse_args(["--filter-widths", "3,5,3", "--no-trajectory", "--chunk-length", "8"])
    assert cfg.filter_widths == (3, 5, 3) and not cfg.trajectory and cfg.chunk_length == 8


def test_chunked_training_uses_the_dilated_variant(tmp_path: Path) -> None:
    trainer = Trainer(_tiny(tmp_path / "d", 1, chunk_length=8, trajectory=False), _source())
    assert not trainer.models["pose"].strided and "trajectory" not in trainer.models
    trainer.run(show_progress=False)
    _, models = load_checkpoint(tmp_path / "d")
    assert set(models) == {"pose"}


@pytest.mark.slow
def test_torchrun_with_two_processes(tmp_path: Path) -> None:
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
        "-m", "lifting", "train", "--out", str(tmp_path / "ddp"), "--epochs", "1", "--batch-size", "64",
        "--channels", "16", "--filter-widths", "3,3", "--max-batches-per-epoch", "4", "--device", "cpu",
    ]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    cfg, _ = load_checkpoint(tmp_path / "ddp")
    assert cfg.training["epochs_done"] == 1
