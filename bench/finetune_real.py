"""Fine-tuning proved on real footage (issue 25): the held-out protocol of `python -m lifting finetune` on the
Pose2Sim calibrated takes, scored on held-out cameras against the pseudo-ground truth the other cameras triangulate.

    .venv/bin/python bench/finetune_real.py --markdown docs/finetune_real.md

Clips: each camera of Pose2Sim's two takes in `tests/data/pose2sim/` (four calibrated cameras, 100 frames at 60 fps;
the multi-person take's man picked by his frame-0 point), detected as `bench/real_footage.py` detects them and
left/right-repaired as `api.detect` returns them, each lifted with its calibrated focal length. Splits (each one
fine-tuning run from the shipped weights, `lifting.learn.finetune.finetune`, settings of `FinetuneConfig` unless
given below):
- "cameras": tune on cameras 1-2 of both takes, hold out cameras 3-4 of both takes (other viewpoints of the same
  moments: the network never sees their 2D, but it has seen the same motion from another side);
- "takes": tune on the four cameras of the single-person take, hold out the man's take (another person, other
  motion, the same room and cameras: the user's case of tuning on some clips and lifting others).
The held-out clips also decide the early stopping and whether the weights are kept, as in the user's protocol;
no setting was chosen on them (the settings are the command's defaults, chosen on the sample clip). On the
held-out clips, base weights against the best epoch's, refined (the default) and not:
- P-MPJPE against the pseudo-ground truth and left/right flips of the 3D against it
  (`lifting.app.pseudo_truth.score_cameras`, the quality report's multi-camera mode: per-frame Procrustes over the
  observed joints, mm; % of frames);
- reprojection (px), 3D jitter (mean acceleration, mm/frame²), left/right flips of the 3D from frame to frame
  (frames) and foot skate (cm/s): the fine-tuning table's quality rows (`lifting.app.finetune`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.real_footage import take_tracks  # noqa: E402
from lifting.app.finetune import Measured, measure_clip, quality_rows  # noqa: E402
from lifting.app.pseudo_truth import score_cameras  # noqa: E402
from lifting.learn.finetune import (  # noqa: E402
    BACKPROJECTION_SCALES,
    BONE_REFERENCES,
    ClipTrack,
    FinetuneConfig,
    TableRow,
    finetune,
)
from lifting.learn.losses import BONE_LOSS_KINDS  # noqa: E402
from lifting.lift.lift import default_weights  # noqa: E402
from lifting.multiview import read_calibration  # noqa: E402
from lifting.video2d.keypoints2d import Keypoints2D  # noqa: E402
from tests.support.paths import POSE2SIM_CALIBRATION, POSE2SIM_TAKES, SAMPLE  # noqa: E402

WORK = ROOT / "out" / "finetune_real"
SPLITS = {
    "cameras": "tune on cameras 1-2 of both takes, hold out cameras 3-4 of both takes",
    "takes": "tune on the single-person take (4 cameras), hold out the man's take (4 cameras)",
}


@dataclass
class Take:
    """One take's detected tracks: raw (as detected), repaired (what is lifted) and the cameras."""

    label: str
    folder: str
    raw: list[Keypoints2D]
    repaired: list[Keypoints2D]
    focals: list[float]
    files: list[Path] = field(default_factory=list)


def load_takes(work: Path) -> list[Take]:
    """Every take of `POSE2SIM_TAKES`, detected (cached) and written as repaired `.keypoints.npz` files."""
    cameras = read_calibration(POSE2SIM_CALIBRATION)
    takes = []
    for label, (folder, subjects) in POSE2SIM_TAKES.items():
        raw, repaired = take_tracks(folder, subjects)
        take = Take(label, folder, raw, repaired, [c.intrinsics.fx for c in cameras])
        for c, track in enumerate(repaired):
            take.files.append(track.save(work / "keypoints" / f"{folder}-cam0{c + 1}.keypoints.npz"))
        takes.append(take)
    return takes


def split_files(takes: list[Take], split: str) -> tuple[list[tuple[Path, float]], list[tuple[Path, float]]]:
    """(tuning clips, held-out clips) of a split, each with its focal length."""
    single, man = takes
    if split == "cameras":
        tune = [(t.files[c], t.focals[c]) for t in takes for c in (0, 1)]
        held = [(t.files[c], t.focals[c]) for t in takes for c in (2, 3)]
    else:
        tune = list(zip(single.files, single.focals, strict=True))
        held = list(zip(man.files, man.focals, strict=True))
    return tune, held


@dataclass
class Scores:
    """Per held-out clip (by name): the measured lift and its pseudo-ground-truth P-MPJPE and 3D flips."""

    measured: dict[str, Measured] = field(default_factory=dict)
    p_mpjpe: dict[str, float] = field(default_factory=dict)
    flips: dict[str, float] = field(default_factory=dict)


def score_weights(takes: list[Take], clips: list[ClipTrack], weights: Path, refine: bool) -> Scores:
    """Lift each held-out clip with `weights` and score it (module docstring)."""
    cameras = read_calibration(POSE2SIM_CALIBRATION)
    out = Scores()
    for clip in clips:
        out.measured[clip.name] = measure_clip(clip, weights, refine)
    for take in takes:
        names = [f.name.removesuffix(".keypoints.npz") for f in take.files]
        motions = [out.measured[n].motion if n in out.measured else None for n in names]
        if not any(m is not None for m in motions):
            continue
        for name, s in zip(names, score_cameras(cameras, take.raw, take.repaired, motions), strict=True):
            if name in out.measured:
                out.p_mpjpe[name] = s.p_mpjpe_mm
                out.flips[name] = s.flips_3d_pct
    return out


def rows_of(before: Scores, after: Scores, names: list[str], suffix: str) -> list[TableRow]:
    rows = [
        TableRow(
            "P-MPJPE against the pseudo-ground truth, mm" + suffix,
            float(np.mean([before.p_mpjpe[n] for n in names])),
            float(np.mean([after.p_mpjpe[n] for n in names])),
        ),
        TableRow(
            "left/right flips against the pseudo-ground truth, 3D, %" + suffix,
            float(np.mean([before.flips[n] for n in names])),
            float(np.mean([after.flips[n] for n in names])),
        ),
    ]
    return rows + quality_rows(
        [before.measured[n] for n in names], [after.measured[n] for n in names], suffix
    )


def run_split(takes: list[Take], split: str, args: argparse.Namespace) -> tuple[str, list[str]]:
    """One fine-tuning run and its held-out tables; returns (Markdown, per-clip lines)."""
    tune, held = split_files(takes, split)
    measured: dict[str, list[TableRow]] = {}
    per_clip: list[str] = []

    def evaluate(base: Path, tuned: Path, clips: list[ClipTrack], refine: bool) -> list[TableRow]:
        names = [c.name for c in clips]
        rows: list[TableRow] = []
        for on in (True, False):
            suffix = "" if on else " (not refined)"
            b = score_weights(takes, clips, base, on)
            a = score_weights(takes, clips, tuned, on)
            rows += rows_of(b, a, names, suffix)
            for n in names:
                per_clip.append(
                    f"| {n}{suffix} | {b.p_mpjpe[n]:.1f} → {a.p_mpjpe[n]:.1f} | "
                    f"{b.measured[n].report.reprojection_px:.1f} → {a.measured[n].report.reprojection_px:.1f} |"
                )
        measured["rows"] = rows
        return rows

    cfg = FinetuneConfig(
        clips=tuple(p for p, _ in tune), holdout=tuple(p for p, _ in held),
        focal_px=tuple(f for _, f in tune) + tuple(f for _, f in held),
        out=args.work / split, name=f"pose2sim-{split}", device=args.device, seed=args.seed,
        epochs=args.epochs, max_batches_per_epoch=args.batches, lr=args.lr, batch_size=args.batch_size,
        warmup_epochs=args.warmup_epochs, lr_warmup_steps=args.lr_warmup_steps, min_seconds=1.0,
        backprojection=args.backprojection, backprojection_weight=args.backprojection_weight,
        bone_weight=args.bone_weight, bone_consistency_weight=args.bone_consistency_weight,
        backprojection_scale=args.backprojection_scale, bone_loss=args.bone_loss, bone_reference=args.bone_reference,
    )  # fmt: skip
    start = time.perf_counter()
    result = finetune(cfg, evaluate=evaluate, report=lambda s, f, m: print(f"  {s} {f:.3f} {m}", flush=True))
    minutes = (time.perf_counter() - start) / 60.0
    table = result.table().splitlines()
    head = (
        f'## Split "{split}": {SPLITS[split]}\n\n'
        f"Tuned on: {', '.join(result.clips)}. Held out: {', '.join(result.holdout)}.\n"
        f"Best epoch {result.best_epoch} of {result.epochs_run} run; {minutes:.1f} min on {args.device}. "
        f"{result.verdict().replace(str(ROOT) + '/', '')}\n\n"
    )
    body = "\n".join(table[2:]) + "\n"
    clips = (
        "\n| held-out clip | P-MPJPE, mm | reprojection, px |\n|---|---|---|\n" + "\n".join(per_clip) + "\n"
    )
    return head + body + clips, per_clip


def cut_sample(folder: Path, parts: int = 3) -> list[Path]:
    """The sample clip cut into `parts` consecutive videos (mp4, its frame rate), a user's short clips."""
    import cv2

    capture = cv2.VideoCapture(str(SAMPLE))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(frames), parts + 1).round().astype(int)
    out = []
    for i in range(parts):
        path = folder / f"sample-part{i + 1}.mp4"
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        for frame in frames[bounds[i] : bounds[i + 1]]:
            writer.write(frame)
        writer.release()
        out.append(path)
    return out


def user_timing(args: argparse.Namespace) -> str:
    """A user's fine-tune as the add-on runs it: `python -m lifting finetune --clips PARTS --events` on the sample
    clip cut in three, detection included (an empty keypoints cache), timed; the last table it sends."""
    clips = cut_sample(args.work / "user_clips")
    out = args.work / "user_weights"
    command = [sys.executable, "-m", "lifting", "finetune", "--clips", *map(str, clips), "--out", str(out)]
    command += ["--events", "--device", args.device]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "VIDEO_MOCAP_CACHE": cache}
        start, used = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        load = os.getloadavg()[0]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        minutes = (time.perf_counter() - start) / 60.0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime) / 60.0
        load = max(load, os.getloadavg()[0])
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    progress = [e for e in events if e["event"] == "progress"]
    report = next((e for e in events if e["event"] == "finetune"), None)
    if report is None:
        raise SystemExit(f"the fine-tune failed: {done.stderr[-2000:]}")
    stages = sorted({e["stage"] for e in progress})
    shown = " ".join(["python -m lifting finetune", *command[4:]]).replace(str(ROOT) + "/", "")
    return (
        "## A user's fine-tune: three short clips, timed\n\n"
        f"`{shown}` (the add-on's command; clips: `{SAMPLE.name}` cut in three, {len(clips)} x about "
        f"{230 // len(clips)} frames at 30 fps; detection included, from an empty cache): **{minutes:.1f} min** "
        f"wall on {os.cpu_count()} CPU cores ({args.device}) shared with other jobs (1-minute load average up to "
        f"{load:.1f}), {cpu:.1f} min of CPU time; {len(progress)} progress events over the stages "
        f"{', '.join(stages)}. {report['verdict']}\n\n" + report["text"] + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--splits", nargs="*", choices=sorted(SPLITS), default=list(SPLITS))
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=FinetuneConfig.epochs)
    parser.add_argument("--batches", type=int, default=FinetuneConfig.max_batches_per_epoch)
    parser.add_argument("--lr", type=float, default=FinetuneConfig.lr)
    parser.add_argument("--batch-size", type=int, default=FinetuneConfig.batch_size)
    parser.add_argument("--warmup-epochs", type=int, default=FinetuneConfig.warmup_epochs)
    parser.add_argument("--lr-warmup-steps", type=int, default=FinetuneConfig.lr_warmup_steps)
    parser.add_argument(
        "--backprojection", default=FinetuneConfig.backprojection, choices=["joint", "aligned"]
    )
    parser.add_argument("--backprojection-weight", type=float, default=FinetuneConfig.backprojection_weight)
    parser.add_argument("--bone-weight", type=float, default=FinetuneConfig.bone_weight)
    parser.add_argument(
        "--bone-consistency-weight", type=float, default=FinetuneConfig.bone_consistency_weight
    )
    parser.add_argument(
        "--backprojection-scale", default=FinetuneConfig.backprojection_scale, choices=BACKPROJECTION_SCALES
    )
    parser.add_argument("--bone-loss", default=FinetuneConfig.bone_loss, choices=BONE_LOSS_KINDS)
    parser.add_argument("--bone-reference", default=FinetuneConfig.bone_reference, choices=BONE_REFERENCES)
    parser.add_argument(
        "--timing",
        action="store_true",
        help="also time a user's fine-tune on three short clips (the sample clip)",
    )
    args = parser.parse_args(argv)
    takes = load_takes(args.work)
    parts = []
    if args.timing:
        parts.append(user_timing(args))
        print(parts[-1], flush=True)
    for split in args.splits:
        text, _ = run_split(takes, split, args)
        print(text, flush=True)
        parts.append(text)
    if args.markdown is not None:
        command = "bench/finetune_real.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        title = (
            "Fine-tuning on real footage: held-out cameras and takes"
            if args.splits
            else "Fine-tuning on a user's three short clips: how long it takes"
        )
        args.markdown.write_text(
            f"# {title}\n\n"
            f"Made by `.venv/bin/python {command}`; what is measured and how: `bench/finetune_real.py`. Base: "
            f"the shipped weights `{default_weights().relative_to(ROOT)}`. Each row: the mean over the held-out "
            "clips, base weights → the fine-tuning run's best epoch (whether kept or not).\n\n"
            + "\n".join(parts),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
