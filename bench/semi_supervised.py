"""The paper's semi-supervised effect on our data (→ docs/semi_supervised.md), and fine-tuning on the real
sample clip (→ docs/finetune_sample.md).

    .venv/bin/python bench/semi_supervised.py                # both (about an hour and a half on 2 CPU cores)
    .venv/bin/python bench/semi_supervised.py --skip-sample  # only the motion-capture experiment
    .venv/bin/python bench/semi_supervised.py --skip-mocap   # only the sample clip

docs/semi_supervised.md was made with `--skip-sample --labeled-minutes 5 --epochs 20 --warmup 4 --batches 60
--unlabeled-clips 400 --lr-decay 0.9 --split test --test-clips 100 --modes supervised,joint --bone-loss abs
--bone-reference chunk --bone-weight 1 --bone-consistency-weight 1 --backprojection-scale depth
--backprojection-weight 3` (its header holds the exact command); those settings were chosen with `--split
validation --test-clips 40` (one row per run: the `--backprojection-weight`, bone terms and unlabeled count
compared there), the test split measured once. `--gradients STEM` prints each term's gradient on the pose model
at a checkpoint instead.

1. Motion capture (split v1): the labeled data is a small part of the training split (`--labeled-subjects`,
   default one CMU subject, and `--labeled-minutes M` of it, an equal excerpt of each of its clips, or
   `--labeled-clips N` whole clips; a small labeled set is repeated within each epoch through new random
   cameras, so every epoch has `--batches` steps); the unlabeled data is the 2D only
   (one fixed random camera with detector-like noise per clip) of clips of the *other* training subjects. Two models with the same architecture, seed and
   number of steps are trained from scratch: supervised only (the labeled batches), and semi-supervised
   (the same labeled batches plus, after a warm-up, the back-projection and bone-length losses on the
   unlabeled clips, `lifting.learn.finetune.FinetuneTrainer`). Both are evaluated on held-out clips of `--split`
   with noisy 2D (`lifting.learn.evaluate`). The paper reports N-MPJPE 80.7 → 65.2 mm on Human3.6M with 10% of S1 labeled.
2. The real sample clip: the shipped model fine-tuned on ../shared/data/video/sports2d_demo.mp4 with
   `python -m lifting finetune` (shortened by `--sample-epochs` and `--sample-batches`); the clip's 2D
   reprojection error and bone-length standard deviation before and after.
The tables are written by this script, never by hand.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lifting.learn.datasets.dataset import MocapClip, evenly_spaced, load_split  # noqa: E402
from lifting.learn.datasets.pack import select_excerpts  # noqa: E402
from lifting.learn.datasets.training_source import MocapSource, view_inputs  # noqa: E402
from lifting.learn.datasets.views import View, random_view  # noqa: E402
from lifting.learn.evaluate import METRICS, evaluate_views, test_views  # noqa: E402
from lifting.learn.finetune import FinetuneTrainer, SemiSupervisedConfig, UnlabeledClip  # noqa: E402
from lifting.learn.train import TrainConfig, code_version  # noqa: E402
from lifting.lift.checkpoint import load_checkpoint  # noqa: E402

SHARED = ROOT.parent / "shared"
SAMPLE = SHARED / "data" / "video" / "sports2d_demo.mp4"
REPORTED = ("MPJPE", "P-MPJPE", "N-MPJPE", "Root", "Bone std (net)")
TARGET_RATIO = 0.9  # issue 25: semi-supervised P-MPJPE at most 0.9× supervised-only
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


def semi_config(args: argparse.Namespace, mode: str = "joint") -> SemiSupervisedConfig:
    return SemiSupervisedConfig(
        warmup_epochs=args.warmup, lr_warmup_steps=1, freeze_batchnorm=False, backprojection=mode,
        backprojection_weight=args.backprojection_weight, bone_weight=args.bone_weight,
        bone_consistency_weight=args.bone_consistency_weight, backprojection_scale=args.backprojection_scale,
        bone_loss=args.bone_loss, bone_reference=args.bone_reference,
    )  # fmt: skip


def train_config(args: argparse.Namespace, out: Path) -> TrainConfig:
    return TrainConfig(
        out=out, data="mocap", shared_dir=SHARED, epochs=args.epochs, batch_size=args.batch_size,
        chunk_length=16, lr=args.lr, lr_decay=args.lr_decay, channels=args.channels,
        filter_widths=tuple(int(w) for w in args.filter_widths.split(",")), dropout=0.25, seed=args.seed,
        device=args.device, max_batches_per_epoch=args.batches, bn_recalibration_batches=50,
        resume=args.resume,
    )  # fmt: skip


def gradients(args: argparse.Namespace, stem: Path) -> None:
    """Print the gradient norm of each weighted term on the pose model at checkpoint `stem` with this run's
    settings (`FinetuneTrainer.gradient_norms`): whether the unlabeled terms outweigh the pose loss."""
    data = experiment(args)
    trainer = FinetuneTrainer(train_config(args, args.work / "gradients"), data.source, data.unlabeled,
                              semi_config(args), base=stem)  # fmt: skip
    norms = trainer.gradient_norms()
    print(f"{stem}: gradient norm on the pose model, " + ", ".join(f"{k} {v:.3f}" for k, v in norms.items()))


def train(
    out: Path,
    source: MocapSource,
    unlabeled: list[UnlabeledClip],
    args: argparse.Namespace,
    mode: str = "joint",
) -> tuple[Path, float]:
    """Train one row's model from scratch (or on from its saved state with `--resume`); (stem, minutes the
    training took, its per-epoch validation included)."""
    trainer = FinetuneTrainer(train_config(args, out), source, unlabeled, semi_config(args, mode), base=None)
    if args.resume and trainer.state_paths()[0].is_file():
        trainer.load_state()  # a finished run is only measured again
    trainer.run(show_progress=True)
    return out, sum(r.seconds for r in trainer.history) / 60.0


def labeled_clips(clips: list[MocapClip], args: argparse.Namespace) -> tuple[list[MocapClip], str]:
    """The labeled clips of the chosen subjects and how they were picked: `--labeled-minutes` M > 0 takes an
    equal excerpt (a seeded random window, `pack.select_excerpts`) of every one of their clips, M minutes in all,
    so the few labeled minutes span all the motions the person recorded (as the paper's 10 % of S1 spans all its
    actions); else `--labeled-clips` whole clips, evenly spread (0: all)."""
    if args.labeled_minutes > 0:
        excerpt_s = args.labeled_minutes * 60.0 / len(clips)
        picked = select_excerpts(clips, args.labeled_minutes, excerpt_s, seed=args.seed)
        return picked, f"a {excerpt_s:.0f} s excerpt of each of their {len(clips)} clips"
    picked = evenly_spaced(clips, args.labeled_clips)
    return picked, f"{len(picked)} of their {len(clips)} clips, whole"


@dataclass
class Experiment:
    """What every row shares: the labeled source (its clips repeated to fill an epoch), the unlabeled clips, the
    views the rows are measured on, and how they were picked (for the page's header)."""

    source: MocapSource
    unlabeled: list[UnlabeledClip]
    views: list[View]
    info: dict[str, str]


def experiment(args: argparse.Namespace) -> Experiment:
    """The data of the rows, the same in every process (all of it seeded)."""
    subjects = tuple(args.labeled_subjects.split(","))
    source = MocapSource(shared_dir=SHARED, max_validation_clips=20)
    theirs = [c for c in source.train_clips if c.subject in subjects]
    if not theirs:
        raise SystemExit(f"no training clip of the subjects {subjects}")
    labeled, how = labeled_clips(theirs, args)
    labeled_frames = sum(c.num_frames for c in labeled)
    labeled_minutes = labeled_frames / 30.0 / 60.0
    # A small labeled set is repeated within an epoch (each copy through its own random camera), so every
    # epoch has its `--batches` steps however little is labeled.
    wanted_frames = args.batches * args.batch_size * 16
    source.train_clips = labeled * max(1, -(-wanted_frames // labeled_frames))
    unlabeled = unlabeled_clips(set(subjects), args.unlabeled_clips, args.seed + 1)
    unlabeled_minutes = sum(len(c.inputs) for c in unlabeled) / 30.0 / 60.0
    test = evenly_spaced(load_split(SHARED, args.split), args.test_clips)
    noisy, _ = test_views(test, seed=2024)
    info = {
        "labeled": f"{', '.join(subjects)}: {how}, {labeled_minutes:.1f} min",
        "unlabeled": f"{len(unlabeled)} clips of other training subjects, {unlabeled_minutes:.1f} min (2D only)",
        "test": f"{len(test)} {args.split}-split clips, one noisy random view each (seed 2024)",
    }
    return Experiment(source, unlabeled, noisy, info)


@dataclass(frozen=True)
class Row:
    """One trained model's line: its name, the REPORTED values (mm) and the minutes its training took."""

    name: str
    values: tuple[float, ...]
    minutes: float

    def line(self) -> str:
        return f"| {self.name} | " + " | ".join(f"{v:.1f}" for v in self.values) + f" | {self.minutes:.0f} |"


def row(args: argparse.Namespace, mode: str, data: Experiment | None = None) -> Row:
    """One row of the table: train the `mode` run ("supervised" or a back-projection mode) from scratch and
    measure it on the experiment's views. Builds the data itself when not given (a worker process)."""
    if data is None:
        torch.set_num_threads(1)
        data = experiment(args)
    if mode == "supervised":
        name, clips = "supervised only", []
    else:
        name, clips = f"semi-supervised, {MODE_NAMES[mode]}", data.unlabeled
    stem, minutes = train(
        args.work / mode, data.source, clips, args, "joint" if mode == "supervised" else mode
    )
    config, models = load_checkpoint(stem, device=args.device)
    values = evaluate_views(models, config, data.views, torch.device(args.device))
    out = Row(name, tuple(values[METRICS.index(m)] for m in REPORTED), minutes)
    print(out.line(), flush=True)
    return out


def verdict(rows: list[Row]) -> list[str]:
    """Each semi-supervised row's P-MPJPE and N-MPJPE as a share of the supervised-only row's, against issue 25's
    target (P-MPJPE at most TARGET_RATIO of supervised-only)."""
    base = next((r for r in rows if r.name == "supervised only"), None)
    if base is None:
        return []
    p, n = REPORTED.index("P-MPJPE"), REPORTED.index("N-MPJPE")
    out = []
    for r in rows:
        if r is base:
            continue
        ratio = r.values[p] / base.values[p]
        mark = "met" if ratio <= TARGET_RATIO else "not met"
        out.append(
            f"- {r.name}: P-MPJPE {ratio:.3f}× supervised-only (target ≤ {TARGET_RATIO}: {mark}), "
            f"N-MPJPE {r.values[n] / base.values[n]:.3f}×."
        )
    return [*out, ""] if out else []


def mocap_experiment(args: argparse.Namespace) -> tuple[list[Row], dict[str, str]]:
    """The rows of `--modes`, one after the other, or `--jobs` at a time in worker processes."""
    modes = args.modes.split(",")
    unknown = [m for m in modes if m != "supervised" and m not in MODE_NAMES]
    if unknown:
        raise SystemExit(f"unknown --modes {unknown}; use supervised, {', '.join(MODE_NAMES)}")
    data = experiment(args)
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = list(pool.map(functools.partial(row, args), modes))
    else:
        rows = [row(args, mode, data) for mode in modes]
    return rows, data.info


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
    p.add_argument(
        "--labeled-minutes",
        type=float,
        default=0.0,
        help="label this many minutes in all, an equal excerpt of each of their clips (0: --labeled-clips)",
    )
    p.add_argument("--unlabeled-clips", type=int, default=150)
    p.add_argument(
        "--split",
        choices=["validation", "test"],
        default="test",
        help="the clips the rows are measured on: validation to choose settings, test to report",
    )
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
        "--bone-loss",
        choices=["squared", "abs"],
        default=defaults.bone_loss,
        help="the bone-length terms: squared (m²) or abs (the paper's code, m); see SemiSupervisedConfig",
    )
    p.add_argument(
        "--bone-reference",
        choices=["batch", "chunk"],
        default=defaults.bone_reference,
        help="the mean bone lengths compared with the labeled ones: the unlabeled batch's (the paper) or each chunk's",
    )
    p.add_argument(
        "--backprojection-scale",
        choices=["rays", "depth"],
        default=defaults.backprojection_scale,
        help="the 2D error in camera-ray units, or times the predicted root depth (about metres at the subject)",
    )
    p.add_argument(
        "--modes",
        default="supervised,joint,aligned",
        help="the rows: supervised (labeled batches only), and semi-supervised with the back-projection modes "
        "joint and aligned",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue each row's run from its state in --work (a finished run is only measured)",
    )
    p.add_argument("--jobs", type=int, default=1, help="rows trained at once, one process (and thread) each")
    p.add_argument("--device", default="cpu")
    p.add_argument("--work", type=Path, default=ROOT / "out" / "semi_supervised")
    p.add_argument(
        "--gradients",
        type=Path,
        metavar="STEM",
        help="only print each term's gradient norm on the pose model at this checkpoint, with these settings",
    )
    p.add_argument("--skip-mocap", action="store_true")
    p.add_argument("--skip-sample", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "semi_supervised.md")
    p.add_argument("--sample-out", type=Path, default=ROOT / "docs" / "finetune_sample.md")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    if args.gradients is not None:
        gradients(args, args.gradients)
        return 0
    command = "python bench/semi_supervised.py " + " ".join(sys.argv[1:])
    header = f"Command: `{command.strip()}`; code version `{code_version()}`."
    if not args.skip_mocap:
        rows, info = mocap_experiment(args)
        lines = [
            "# Semi-supervised training on unlabeled 2D (written by `bench/semi_supervised.py`)",
            "",
            header + f" Millimetres, held-out {args.split} split (split v1), noisy 2D.",
            "",
            f"Labeled: {info['labeled']}. Unlabeled: {info['unlabeled']}. Test: {info['test']}.",
            f"Model: {args.channels} channels, filter widths {args.filter_widths}, trained from scratch for "
            f"{args.epochs} epochs of {args.batches} batches of {args.batch_size} (semi-supervised terms from "
            f"epoch {args.warmup + 1}), same seed and labeled batches for every row. Semi-supervised terms: "
            f"back-projection weight {args.backprojection_weight:g} ({args.backprojection_scale} units), "
            f"bone-length terms {args.bone_loss} (mean lengths of each {args.bone_reference} weight "
            f"{args.bone_weight:g}, within-chunk spread "
            f"weight {args.bone_consistency_weight:g}); see `lifting.learn.finetune.SemiSupervisedConfig`. "
            "The paper (Human3.6M, 10% of S1 labeled) reports N-MPJPE 80.7 → 65.2 mm.",
            "",
            "| training | " + " | ".join(REPORTED) + " | minutes |",
            "|---|" + "---:|" * (len(REPORTED) + 1),
            *[r.line() for r in rows],
            "",
            *verdict(rows),
            "Root: mean camera-space root trajectory error. Bone std (net): the spread of each bone's length over a "
            "clip in the network's raw joints (the rows above give every clip one length per bone, as `lift` does). "
            "Minutes: the training's wall time with its per-epoch validation, on a 2-core CPU shared with other "
            "jobs whose load changed between rows (a semi-supervised step does twice a supervised step's work).",
            "",
            "How the method is set up here (`lifting.learn.finetune.FinetuneTrainer`, `SemiSupervisedConfig`):",
            "",
            "- each step is one labeled and one unlabeled batch in a single forward pass (so BatchNorm sees both); "
            "the pose model learns MPJPE and the trajectory model the 1/depth-weighted error on the labeled "
            "batch; after the warm-up the unlabeled batch adds the back-projection of pose + predicted trajectory "
            "through the clip's camera (camera-ray inputs: the identity) against its noisy 2D, and the bone-length "
            "terms against the labeled batch's true lengths;",
            "- after training, BatchNorm's statistics are recomputed over labeled + unlabeled batches, the batches "
            "the model trained on (over labeled batches alone they describe a few minutes of one person);",
            "- the labeled minutes are an equal excerpt of each of the person's clips (`--labeled-minutes`), so "
            "they span every motion the person recorded, as the paper's 10% of S1 spans its actions;",
            "- the loss balance can be checked with `--gradients STEM` (each weighted term's gradient norm on the "
            "pose model at a checkpoint): with the fine-tuning defaults (squared bone terms, m², weights 10 and "
            "100) the bone terms outweigh the pose loss many times over on a model trained from scratch.",
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
