"""The fine-tuning protocol: held-out split, early stopping on held-out reprojection, keep-only-if-better,
the new weights' name and what their JSON records, the before/after table, the add-on's events."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from lifting.errors import MocapError
from lifting.learn.datasets.pack import load_pack
from lifting.learn.datasets.views import random_view
from lifting.learn.finetune import (
    ClipTrack,
    FinetuneConfig,
    HeldOutTrainer,
    SemiSupervisedConfig,
    TableRow,
    clip_diagnostics,
    clip_focals,
    finetune,
    format_table,
    main,
    parse_args,
    semi_supervised_config,
    split_clips,
    split_track,
    weights_name,
)
from lifting.lift.checkpoint import checkpoint_paths, load_config
from lifting.lift.lift import default_weights
from lifting.video2d.keypoints2d import Keypoints2D
from tests.learn.test_finetune import _cfg, _labeled, _unlabeled, base  # noqa: F401 (the fixture)


def test_without_holdout_every_third_clip_is_held_out() -> None:
    clips = [Path(f"c{i}.mp4") for i in range(7)]
    train, held = split_clips(clips, [])
    assert [p.name for p in held] == ["c2.mp4", "c5.mp4"]
    assert [p.name for p in train] == ["c0.mp4", "c1.mp4", "c3.mp4", "c4.mp4", "c6.mp4"]
    assert split_clips(clips[:2], []) == ([clips[0]], [clips[1]])
    assert split_clips(clips[:1], []) == ([clips[0]], [])
    assert split_clips(clips[:3], [Path("x.mp4")]) == (clips[:3], [Path("x.mp4")])
    with pytest.raises(MocapError, match="both a fine-tuning clip and a held-out clip"):
        split_clips(clips[:3], [clips[1]])


def _track(frames: int) -> Keypoints2D:
    return Keypoints2D(
        keypoints=np.zeros((frames, 33, 2), np.float32), visibility=np.ones((frames, 33), np.float32),
        detected=np.ones(frames, bool), interpolated=np.zeros(frames, bool), frame_index=np.arange(frames),
        timestamps=np.arange(frames) / 30.0, fps=30.0, image_size=(640, 480), meta={},
    )  # fmt: skip


def test_a_single_clip_is_tuned_on_its_first_two_thirds_and_judged_on_the_rest() -> None:
    train, held = split_track(ClipTrack("walk", _track(90), 800.0))
    assert (train.name, held.name) == ("walk[0:60]", "walk[60:90]")
    assert train.keypoints.num_frames == 60 and held.keypoints.num_frames == 30
    assert held.keypoints.frame_index[0] == 60 and held.focal_px == 800.0


def test_focal_lengths_are_one_for_all_or_one_per_clip() -> None:
    assert clip_focals((), 3) == [None, None, None]
    assert clip_focals((900.0,), 2) == [900.0, 900.0]
    assert clip_focals((1.0, 2.0, 3.0), 3) == [1.0, 2.0, 3.0]
    with pytest.raises(MocapError, match="one per clip"):
        clip_focals((1.0, 2.0), 3)
    cfg = parse_args(
        ["--clips", "a.mp4", "b.mp4", "--holdout", "c.mp4", "--out", "o", "--focal", "1", "2", "3"]
    )
    assert cfg.focal_px == (1.0, 2.0, 3.0) and cfg.holdout == (Path("c.mp4"),)


def test_the_semi_supervised_terms_come_from_the_command_line() -> None:
    plain = semi_supervised_config(parse_args(["--clips", "a.mp4", "--out", "o"]))
    assert (plain.bone_loss, plain.bone_reference, plain.backprojection_scale) == ("squared", "batch", "rays")
    flags = "--bone-loss abs --bone-reference chunk --backprojection-scale depth --backprojection-weight 3"
    paper = semi_supervised_config(
        parse_args(["--clips", "a.mp4", "--out", "o", *flags.split(), "--warmup-epochs", "2"])
    )
    assert (paper.bone_loss, paper.bone_reference, paper.backprojection_scale) == ("abs", "chunk", "depth")
    assert (paper.backprojection_weight, paper.warmup_epochs, paper.bone_weight) == (3.0, 2, 10.0)
    with pytest.raises(MocapError, match="bone-length loss"):
        semi_supervised_config(
            dataclasses.replace(parse_args(["--clips", "a.mp4", "--out", "o"]), bone_loss="x")
        )


def test_the_weights_are_named_by_date_and_clips() -> None:
    when = datetime(2026, 3, 4, 5, 6)
    assert weights_name(["cam01.mp4", "my clip (2).mov"], when) == "finetuned-20260304-0506-cam01+my_clip_2"
    assert len(weights_name(["x" * 200], when)) == len("finetuned-20260304-0506-") + 60


def test_the_table_shows_before_after_and_change() -> None:
    text = format_table([TableRow("reprojection, px", 40.0, 30.0), TableRow("flips", 0.0, 0.0)], ["a", "b"])
    assert "Held-out clips (2): a, b" in text
    assert "| reprojection, px | 40.00 | 30.00 | -25 % |" in text
    assert "| flips | 0.00 | 0.00 | – |" in text


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience(
    base: Path,  # noqa: F811 (the fixture of test_finetune)
    tmp_path: Path,
) -> None:
    clips, holdout = _unlabeled(3), _unlabeled(2, frames=50)
    # A learning rate of zero: no epoch is better than the base, so training stops after warm-up + patience.
    still = HeldOutTrainer(
        _cfg(tmp_path / "still" / "last", 6, lr=0.0), _labeled(), clips, SemiSupervisedConfig(warmup_epochs=1),
        base=base, holdout=holdout, best_stem=tmp_path / "still" / "best", baseline=float("inf"), patience=2,
    )  # fmt: skip
    still.baseline = still.best = clip_diagnostics(
        still.eval_models(), still.checkpoint_config, holdout, still.device
    )["reprojection_px"]
    history = still.run(show_progress=False)
    assert len(history) == 3 and history[-1].extra["stopped_early"] == 1.0
    assert still.best_epoch == 0 and not checkpoint_paths(tmp_path / "still" / "best")[0].is_file()
    # Learning from the clips: the held-out clips (other synthetic motion) get better; the best epoch is saved.
    moving = HeldOutTrainer(
        _cfg(tmp_path / "moving" / "last", 3, lr=5e-4), _labeled(), clips,
        SemiSupervisedConfig(warmup_epochs=0, backprojection_weight=20.0, lr_warmup_steps=5),
        base=base, holdout=holdout, best_stem=tmp_path / "moving" / "best", baseline=still.baseline, patience=5,
    )  # fmt: skip
    history = moving.run(show_progress=False)
    values = [r.extra["holdout_reprojection_px"] for r in history]
    assert moving.best == pytest.approx(min(values), abs=1e-3) and moving.best < still.baseline
    assert moving.best_epoch == 1 + int(np.argmin(values))
    recorded = load_config(tmp_path / "moving" / "best").training["finetune"]
    assert recorded["best_epoch"] == moving.best_epoch


@pytest.fixture(scope="module")
def pack_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three synthetic views of the shipped pack's motion, written as `.keypoints.npz` files (1-2 s each)."""
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(5)
    out = []
    for i, clip in enumerate(load_pack()[:3]):
        view = random_view(clip, rng)
        frames = min(len(view.keypoints_px), 60)
        out.append(view.keypoints2d().frames(0, frames).save(folder / f"take{i}.keypoints.npz"))
    return out


def _tiny(clips: list[Path], out: Path, **kw: object) -> FinetuneConfig:
    options: dict[str, object] = {
        "clips": tuple(clips), "out": out, "labeled": "pack", "shared_dir": out / "none", "epochs": 2,
        "warmup_epochs": 0, "batch_size": 4, "chunk_length": 4, "max_batches_per_epoch": 2,
        "clips_per_epoch": 4, "validation_clips": 2, "device": "cpu", "min_seconds": 0.5,
    }  # fmt: skip
    options.update(kw)
    return FinetuneConfig(**options)  # type: ignore[arg-type]


def test_weights_better_on_the_held_out_clips_are_kept_under_their_name(
    pack_clips: list[Path], tmp_path: Path
) -> None:
    seen: list[tuple[str, float]] = []
    calls = []

    def evaluate(before: Path, after: Path, clips: object, refine: bool) -> list[TableRow]:
        calls.append((before, after, [c.name for c in clips], refine))  # type: ignore[attr-defined]
        return [TableRow("quality", 2.0, 1.0)]

    # min_gain -1: "better" is any result up to twice the base's error, so this tiny run's weights are kept.
    result = finetune(
        _tiny(pack_clips, tmp_path, name="mine", min_gain=-1.0, refine=False),
        report=lambda stage, fraction, message: seen.append((stage, fraction)),
        evaluate=evaluate,
    )
    assert result.kept and result.weights == tmp_path / "mine"
    assert result.clips == ("take0", "take1") and result.holdout == ("take2",)
    config = load_config(tmp_path / "mine")
    tuned = config.training["finetune"]
    assert tuned["base"] == str(default_weights()) and [c["name"] for c in tuned["holdout"]] == ["take2"]
    assert tuned["table"][-1] == ["quality", 2.0, 1.0] and tuned["best_epoch"] == result.best_epoch >= 1
    assert calls[0][0] == default_weights() and calls[0][2] == ["take2"] and calls[0][3] is False
    assert [r.label for r in result.rows[:2]] == [
        "reprojection, network alone, px",
        "bone-length spread, network alone, mm",
    ]
    assert not (tmp_path / "training").exists()  # the run's state is cleared once it is done
    summary = json.loads((tmp_path / "finetune-summary.json").read_text())
    assert summary["kept"] and summary["weights"] == str(tmp_path / "mine")
    assert {s for s, _ in seen} == {"detect", "train", "evaluate"} and ("train", 1.0) in seen
    assert "Kept the fine-tuned weights mine" in result.verdict()


def test_weights_whose_clips_get_worse_as_lifted_are_not_kept(pack_clips: list[Path], tmp_path: Path) -> None:
    """The network's own held-out reprojection may fall while the clips as users lift them get worse: a gate row
    that rises keeps the base weights, whatever the network's reprojection did."""

    def evaluate(before: Path, after: Path, clips: object, refine: bool) -> list[TableRow]:
        return [TableRow("reprojection, px", 16.3, 18.6, gate=True), TableRow("skate", 3.0, 1.0)]

    result = finetune(
        _tiny(pack_clips, tmp_path, name="mine", min_gain=-1.0, refine=False), evaluate=evaluate
    )
    assert not result.kept and not list(tmp_path.rglob("*.safetensors"))
    assert "got worse as they are lifted (reprojection, px 16.3 → 18.6)" in result.verdict()
    assert TableRow("r", 2.0, 2.0, gate=True).worse is False and TableRow("r", 2.0, 2.1).worse is False
    assert TableRow("r", float("nan"), 2.1, gate=True).worse is False


def test_weights_not_better_on_the_held_out_clips_are_not_kept(
    pack_clips: list[Path], tmp_path: Path
) -> None:
    out = io.StringIO()
    argv = [
        "--clips", *map(str, pack_clips[:2]), "--holdout", str(pack_clips[2]), "--out", str(tmp_path),
        "--labeled", "pack", "--shared-dir", str(tmp_path / "none"), "--epochs", "2", "--warmup-epochs", "0",
        "--batch-size", "4", "--chunk-length", "4", "--max-batches-per-epoch", "2", "--clips-per-epoch", "4",
        "--validation-clips", "2", "--device", "cpu", "--min-seconds", "0.5", "--min-gain", "0.9", "--events",
    ]  # fmt: skip
    assert main(argv, stdout=out) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    report = next(e for e in events if e["event"] == "finetune")
    assert report["kept"] is False and report["weights"] is None and report["holdout"] == ["take2"]
    assert (
        report["table"][0][0] == "reprojection, network alone, px"
        and "| base | fine-tuned |" in report["text"]
    )
    assert "no new weights were kept" in report["verdict"]
    assert events[-1] == {"event": "done", "result": ""}
    assert not list(tmp_path.rglob("*.safetensors"))
