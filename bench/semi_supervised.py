"""The paper's semi-supervised effect on our data (→ docs/semi_supervised.md), and fine-tuning on the real
sample clip (→ docs/finetune_sample.md).

    .venv/bin/python bench/semi_supervised.py                # both (about an hour and a half on 2 CPU cores)
    .venv/bin/python bench/semi_supervised.py --skip-sample  # only the motion-capture experiment
    .venv/bin/python bench/semi_supervised.py --skip-mocap   # only the sample clip

docs/semi_supervised.md was made with `--skip-sample --labeled-clips 2 --epochs 40 --warmup 8 --unlabeled-clips
400 --lr-decay 0.95 --modes joint,aligned` (about 35 minutes on one core); its header holds the exact command.

1. Motion capture (split v1): the labeled data is a small part of the training split (`--labeled-subjects`,
   default one CMU subject, and `--labeled-clips N` of its clips; a small labeled set is repeated within each
   epoch through new random cameras, so every epoch has `--batches` steps); the unlabeled data is the 2D only
   (one fixed random camera with detector-like noise per clip) of clips of the *other* training subjects. Two models with the same architecture, seed and
   number of steps are trained from scratch: supervised only (the labeled batches), and semi-supervised
   (the same labeled batches plus, after a warm-up, the back-projection and bone-length losses on the
   unlabeled clips, `lifting.learn.finetune.FinetuneTrainer`). Both are evaluated on held-out test-split clips with
   noisy 2D (`lifting.learn.evaluate`). The paper reports N-MPJPE 80.7 → 65.2 mm on Human3.6M with 10% of S1 labeled.
2. The real sample clip: the shipped model fine-tuned on ../shared/data/video/sports2d_demo.mp4 with
   `python -m lifting finetune` (shortened by `--sample-epochs` and `--sample-batches`); the clip's 2D
   reprojection error and bone-length standard deviation before and after.
The tables are written by this script, never by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lifting.learn.datasets.dataset import evenly_spaced, load_split  # noqa: E402
from lifting.learn.datasets.training_source import MocapSource, view_inputs  # noqa: E402
from lifting.learn.datasets.views import random_view  # noqa: E402
from lifting.learn.evaluate import METRICS, evaluate_views, test_views  # noqa: E402
from lifting.learn.finetune import FinetuneTrainer, SemiSupervisedConfig, UnlabeledClip  # noqa: E402
from lifting.learn.train import TrainConfig, code_version  # noqa: E402
from lifting.lift.checkpoint import load_checkpoint  # noqa: E402

SHARED = ROOT.parent / "shared"
SAMPLE = SHARED / "data" / "video" / "sports2d_demo.mp4"
REPORTED = ("MPJPE", "P-MPJPE", "N-MPJPE", "Root", "Bone std")
MODE_NAMES = {"joint": "paper's back-projection", "aligned": "aligned back-projection"}


def unlabeled_clips(subjects_out: set[str], count: int, seed: int) -> list[UnlabeledClip]:
    """2D only of `count` training clips of subjects not in `subjects_out`, one fixed noisy view each."""
    clips = evenly_spaced([c for c in load_split(SHARED, "train") if c.subject not in subjects_out], count)
    rng = np.random.default_rng(seed)
    out = []
    for clip in clips:
        view = random_view(clip, rng)
        out.append(
            UnlabeledClip(
                clip.name,
                view_inputs(view),
                view.visibility.astype(np.float32),
                float(view.intrinsics.fx),
                {"name": clip.name, "subject": clip.subject, "frames": clip.num_frames},
            )
        )
    return out


def train(
    out: Path,
    source: MocapSource,
    unlabeled: list[UnlabeledClip],
    args: argparse.Namespace,
    mode: str = "joint",
) -> Path:
    cfg = TrainConfig(
        out=out, data="mocap", shared_dir=SHARED, epochs=args.epochs, batch_size=args.batch_size,
        chunk_length=16, lr=args.lr, lr_decay=args.lr_decay, channels=args.channels,
        filter_widths=tuple(int(w) for w in args.filter_widths.split(",")), dropout=0.25, seed=args.seed,
        device=args.device, max_batches_per_epoch=args.batches, bn_recalibration_batches=50,
    )  # fmt: skip
    semi = SemiSupervisedConfig(
        warmup_epochs=args.warmup, lr_warmup_steps=1, freeze_batchnorm=False, backprojection=mode,
        backprojection_weight=args.backprojection_weight, bone_weight=args.bone_weight,
        bone_consistency_weight=args.bone_consistency_weight,
    )  # fmt: skip
    trainer = FinetuneTrainer(cfg, source, unlabeled, semi, base=None)
    trainer.run(show_progress=True)
    return out


def mocap_experiment(args: argparse.Namespace, work: Path) -> tuple[list[str], dict[str, object]]:
    subjects = tuple(args.labeled_subjects.split(","))
    source = MocapSource(shared_dir=SHARED, max_validation_clips=20)
    labeled = evenly_spaced([c for c in source.train_clips if c.subject in subjects], args.labeled_clips)
    if not labeled:
        raise SystemExit(f"no training clip of the subjects {subjects}")
    labeled_frames = sum(c.num_frames for c in labeled)
    labeled_minutes = labeled_frames / 30.0 / 60.0
    # A small labeled set is repeated within an epoch (each copy through its own random camera), so every
    # epoch has its `--batches` steps however little is labeled.
    wanted_frames = args.batches * args.batch_size * 16
    source.train_clips = labeled * max(1, -(-wanted_frames // labeled_frames))
    unlabeled = unlabeled_clips(set(subjects), args.unlabeled_clips, args.seed + 1)
    unlabeled_minutes = sum(len(c.inputs) for c in unlabeled) / 30.0 / 60.0
    test = evenly_spaced(load_split(SHARED, "test"), args.test_clips)
    noisy, _ = test_views(test, seed=2024)
    rows = []
    runs: list[tuple[str, list[UnlabeledClip], str]] = [("supervised only", [], "joint")]
    for mode in args.modes.split(","):
        runs.append((f"semi-supervised, {MODE_NAMES[mode]}", unlabeled, mode))
    for name, clips, mode in runs:
        start = time.perf_counter()
        stem = train(work / (mode if clips else "supervised"), source, clips, args, mode)
        config, models = load_checkpoint(stem, device=args.device)
        values = evaluate_views(models, config, noisy, torch.device(args.device))
        picked = [values[METRICS.index(m)] for m in REPORTED]
        minutes = (time.perf_counter() - start) / 60.0
        rows.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in picked) + f" | {minutes:.0f} |")
        print(rows[-1], flush=True)
    info = {
        "labeled": f"{', '.join(subjects)}: {len(labeled)} clips, {labeled_minutes:.1f} min",
        "unlabeled": f"{len(unlabeled)} clips of other training subjects, {unlabeled_minutes:.1f} min (2D only)",
        "test": f"{len(test)} test-split clips, one noisy random view each (seed 2024)",
    }
    return rows, info


def sample_experiment(args: argparse.Namespace, work: Path) -> list[str]:
    out = work / "sample"
    cmd = [
        sys.executable, "-m", "lifting", "finetune", "--clips", str(SAMPLE), "--out", str(out),
        "--epochs", str(args.sample_epochs), "--max-batches-per-epoch", str(args.sample_batches),
        "--clips-per-epoch", "60", "--device", args.device, "--seed", str(args.seed),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT)
    summary = json.loads((out / "finetune-summary.json").read_text())
    b, a = summary["before"], summary["after"]
    shown = " ".join(["python -m lifting finetune", *cmd[3:]])
    shown = shown.replace(str(ROOT) + "/", "").replace(str(SHARED), "../shared")
    return [
        f"| shipped model | {b['reprojection_px']:.1f} | {b['bone_std_mm']:.1f} |",
        f"| fine-tuned on the clip | {a['reprojection_px']:.1f} | {a['bone_std_mm']:.1f} |",
        "",
        "Command: `" + shown + "`",
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--labeled-subjects", default="cmu:15")
    p.add_argument(
        "--labeled-clips", type=int, default=0, help="keep this many of their clips, evenly spread (0: all)"
    )
    p.add_argument("--unlabeled-clips", type=int, default=150)
    p.add_argument("--test-clips", type=int, default=40)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batches", type=int, default=60, help="batches per epoch")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--filter-widths", default="3,3,3")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", type=float, default=0.9)
    p.add_argument("--sample-epochs", type=int, default=3)
    p.add_argument("--sample-batches", type=int, default=40, help="batches per fine-tuning epoch")
    defaults = SemiSupervisedConfig()
    p.add_argument("--backprojection-weight", type=float, default=defaults.backprojection_weight)
    p.add_argument("--bone-weight", type=float, default=defaults.bone_weight)
    p.add_argument("--bone-consistency-weight", type=float, default=defaults.bone_consistency_weight)
    p.add_argument(
        "--modes",
        default="joint,aligned",
        help="semi-supervised rows: back-projection modes (joint, aligned)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--work", type=Path, default=ROOT / "out" / "semi_supervised")
    p.add_argument("--skip-mocap", action="store_true")
    p.add_argument("--skip-sample", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "semi_supervised.md")
    p.add_argument("--sample-out", type=Path, default=ROOT / "docs" / "finetune_sample.md")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    command = "python bench/semi_supervised.py " + " ".join(sys.argv[1:])
    header = f"Command: `{command.strip()}`; code version `{code_version()}`."
    if not args.skip_mocap:
        rows, info = mocap_experiment(args, args.work)
        lines = [
            "# Semi-supervised training on unlabeled 2D (written by `bench/semi_supervised.py`)",
            "",
            header + " Millimetres, held-out test split (split v1), noisy 2D.",
            "",
            f"Labeled: {info['labeled']}. Unlabeled: {info['unlabeled']}. Test: {info['test']}.",
            f"Model: {args.channels} channels, filter widths {args.filter_widths}, trained from scratch for "
            f"{args.epochs} epochs of {args.batches} batches of {args.batch_size} (semi-supervised terms from "
            f"epoch {args.warmup + 1}), same seed and labeled batches for both rows. The paper (Human3.6M, 10% of "
            "S1 labeled) reports N-MPJPE 80.7 → 65.2 mm.",
            "",
            "| training | " + " | ".join(REPORTED) + " | minutes |",
            "|---|" + "---:|" * (len(REPORTED) + 1),
            *rows,
            "",
        ]
        args.out.write_text("\n".join(lines), encoding="utf-8")
        print("\n".join(lines))
    if not args.skip_sample:
        lines = [
            "# Fine-tuning on the real sample clip (written by `bench/semi_supervised.py`)",
            "",
            header,
            "",
            "The shipped model fine-tuned on `sports2d_demo.mp4` (230 frames: jumping jacks, a walk along a box, a",
            "somersault) with `lifting.learn.finetune` (labeled data: ../shared/data/mocap): the clip's 2D reprojection error (pixels,",
            "visibility-weighted, the 15 joints a detection observes) and the standard deviation of each bone's",
            "length over the clip (mm, mean over bones), before and after.",
            "",
            "| model | reprojection (px) | bone std (mm) |",
            "|---|---:|---:|",
            *sample_experiment(args, args.work),
            "",
        ]
        args.sample_out.write_text("\n".join(lines), encoding="utf-8")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
