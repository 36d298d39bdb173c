"""Evaluation on the held-out test split; writes the results table to docs/results.md.

    python -m lifting evaluate --weights lifting/weights/mocap --weights lifting/weights/single_frame

Every test clip (split v1: HDM05 actors mm and tr, six CMU subjects) is seen through one random virtual camera
(fixed seed, the same camera for every model) and rendered twice: with detector-like noise (the training noise
model, `lifting.learn.datasets.views.NoiseConfig`) and clean. Each checkpoint lifts both with mirror test-time augmentation
and gets one length per bone for the clip (`lifting.lift.constant_bones`), exactly as `lifting.lift.lift` does for a video
(`--free-bones` evaluates the network's raw joints instead). Metrics (numpy, `lifting.metrics`), frame-weighted over
clips: MPJPE (protocol 1), P-MPJPE (2), N-MPJPE (3), MPJVE and acceleration error (per frame at 30 fps), root
trajectory error in camera space (mean, and after one least-squares scale per clip), and the standard deviation of
the predicted bone lengths (ground truth: 0), also of the network's raw joints, before the constant lengths.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lifting.errors import MocapError
from lifting.learn.datasets.dataset import MocapClip, evenly_spaced, load_split
from lifting.learn.datasets.splits import SPLIT_VERSION
from lifting.learn.datasets.training_source import view_inputs
from lifting.learn.datasets.views import NoiseConfig, View, random_camera, render_view
from lifting.learn.train import code_version
from lifting.lift.checkpoint import CheckpointConfig, load_checkpoint
from lifting.lift.constant_bones import constant_bone_lengths
from lifting.lift.device import resolve_device
from lifting.lift.lift import run_models
from lifting.lift.model import TemporalModel
from lifting.metrics import (
    acceleration_error,
    bone_length_std,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    root_trajectory_error,
)
from retarget.atomic_write import write_text_atomic

ROOT = Path(__file__).resolve().parents[2]
METRICS = (
    "MPJPE",
    "P-MPJPE",
    "N-MPJPE",
    "MPJVE",
    "Accel",
    "Root",
    "Root (scaled)",
    "Bone std",
    "Bone std (net)",
)
EVAL_SEED = 4242
# The targets for the shipped temporal model against the single-frame model, both on noisy 2D.
TARGET_P_MPJPE_RATIO = 0.85
TARGET_ACCEL_RATIO = 0.35
TARGET_BONE_STD_MM = 10.0


@dataclass(frozen=True)
class Row:
    """One table row: a checkpoint on one input condition; metrics in millimetres (MPJVE mm/frame, Accel
    mm/frame²)."""

    model: str
    receptive_field: int
    condition: str
    values: tuple[float, ...]


# Clean input: exact projections, but visibility still as MediaPipe reports it (facing side high, far side
# lower), because the model reads visibility as a cue to which side faces the camera and a detector never
# reports all ones.
CLEAN = dataclasses.replace(NoiseConfig.none(), visibility=True)


def test_views(clips: Sequence[MocapClip], seed: int) -> tuple[list[View], list[View]]:
    """(noisy, clean) views of every clip through the same random camera per clip."""
    rng = np.random.default_rng(seed)
    noisy, clean = [], []
    for clip in clips:
        camera = random_camera(rng, clip.landmarks)
        noisy.append(render_view(clip, camera, rng, NoiseConfig()))
        clean.append(render_view(clip, camera, rng, CLEAN))
    return noisy, clean


def evaluate_views(
    models: dict[str, TemporalModel],
    config: CheckpointConfig,
    views: Iterable[View],
    device: torch.device,
    constant_bones: bool = True,
) -> tuple[float, ...]:
    """Frame-weighted means of METRICS over the views, in millimetres; the joints get one length per bone for
    each clip when `constant_bones` (as `lifting.lift.lift` does), and the last metric is always the bone-length std
    of the network's raw joints."""
    if config.normalisation != "camera" or "visibility" not in config.features:
        raise MocapError(
            "evaluate expects checkpoints trained on camera-normalised keypoints with visibility."
        )
    sums = np.zeros(len(METRICS))
    weights = np.zeros(len(METRICS))
    for view in views:
        with torch.no_grad():
            raw, traj = run_models(models, view_inputs(view), config, mirror=True, device=device)
        joint_set = config.output_joints
        pose = constant_bone_lengths(raw, joint_set.names, joint_set.parents) if constant_bones else raw
        gt = view.poses_3d.astype(np.float64)
        frames = len(gt)
        values = [
            mpjpe(pose, gt),
            p_mpjpe(pose, gt),
            n_mpjpe(pose, gt),
            mpjve(pose, gt) if frames > 1 else np.nan,
            acceleration_error(pose, gt) if frames > 2 else np.nan,
            root_trajectory_error(traj, view.trajectory) if traj is not None else np.nan,
            root_trajectory_error(traj, view.trajectory, align_scale=True) if traj is not None else np.nan,
            bone_length_std(pose, joint_set.parents),
            bone_length_std(raw, joint_set.parents),
        ]
        for i, v in enumerate(values):
            if np.isfinite(v):
                sums[i] += v * frames
                weights[i] += frames
    return tuple(float(s / w * 1000.0) if w > 0 else float("nan") for s, w in zip(sums, weights, strict=True))


def format_table(rows: Sequence[Row]) -> str:
    header = "| model | RF | 2D input | " + " | ".join(METRICS) + " |"
    rule = "|---|---:|---|" + "---:|" * len(METRICS)
    lines = [header, rule]
    for r in rows:
        cells = " | ".join(f"{v:.1f}" for v in r.values)
        lines.append(f"| {r.model} | {r.receptive_field} | {r.condition} | {cells} |")
    return "\n".join(lines)


def target_lines(rows: Sequence[Row]) -> list[str]:
    """The targets, one line per temporal model: its noisy-input P-MPJPE and acceleration error as ratios of the
    first single-frame (RF 1) model's, and its bone-length std in mm (with the raw network's beside it when the
    two differ), each marked met or missed; then, when that single-frame model has a clean-input row, the ratio
    it reaches with exact 2D (how much of its error the 2D noise causes). Empty without both kinds of model."""
    index = {name: i for i, name in enumerate(METRICS)}
    base = next((r for r in rows if r.receptive_field == 1 and r.condition == "noisy"), None)
    if base is None:
        return []

    def mark(ok: bool) -> str:
        return "met" if ok else "missed"

    lines = []
    for r in rows:
        if r.receptive_field == 1 or r.condition != "noisy":
            continue
        p = r.values[index["P-MPJPE"]] / base.values[index["P-MPJPE"]]
        a = r.values[index["Accel"]] / base.values[index["Accel"]]
        b = r.values[index["Bone std"]]
        b_net = r.values[index["Bone std (net)"]]
        net = f"; the network's raw joints: {b_net:.1f} mm" if abs(b_net - b) >= 0.05 else ""
        lines.append(
            f"- {r.model} vs {base.model}, noisy 2D: P-MPJPE {p:.2f}× (target ≤ {TARGET_P_MPJPE_RATIO:.2f}×, "
            f"{mark(p <= TARGET_P_MPJPE_RATIO)}), acceleration error {a:.2f}× (target ≤ {TARGET_ACCEL_RATIO:.2f}×, "
            f"{mark(a <= TARGET_ACCEL_RATIO)}), bone-length std {b:.1f} mm (target ≤ {TARGET_BONE_STD_MM:.0f} mm, "
            f"{mark(b <= TARGET_BONE_STD_MM)}{net})."
        )
    clean = next((r for r in rows if r.model == base.model and r.condition == "clean"), None)
    if lines and clean is not None:
        c = clean.values[index["P-MPJPE"]] / base.values[index["P-MPJPE"]]
        lines.append(
            f"- For scale: {base.model} with clean 2D reaches P-MPJPE {c:.2f}× its noisy-input value, so removing "
            "the 2D noise alone (what temporal smoothing can do) moves the P-MPJPE ratio only that far."
        )
    return lines


def write_results(
    path: Path,
    rows: Sequence[Row],
    clips: Sequence[MocapClip],
    command: str,
    split: str = "test",
    constant_bones: bool = True,
) -> None:
    """Write the results table (docs/results.md for the test split) atomically; `constant_bones` says whether
    the rows were measured with the constant bone lengths of `lifting.lift.lift`."""
    bones = (
        "Each clip's joints then get one length per bone, as `lifting.lift.lift` gives them (`lifting.lift.constant_bones`: each\n"
        "bone's 60th-percentile length over the clip, left and right averaged, reached by moving the joints as\n"
        "little as possible)."
        if constant_bones
        else "The network's raw joints are measured (`--free-bones`: without the constant bone lengths that\n"
        "`lifting.lift.lift` gives them)."
    )
    frames = sum(c.num_frames for c in clips)
    subjects = sorted({c.subject for c in clips})
    targets = target_lines(rows)
    target_text = (
        "\n## Targets\n\nRatios from the rows above (ratios of the rounded values may differ in the last digit):\n\n"
        + "\n".join(targets)
        + "\n"
        if targets
        else ""
    )
    text = f"""# Accuracy on the held-out {split} split

Written by `{command}` on {datetime.date.today().isoformat()} (code {code_version()}); do not edit by hand.

{split.capitalize()} split v{SPLIT_VERSION}: {len(clips)} clips, {frames} frames at 30 fps ({frames / 30 / 3600:.2f} h), subjects
{", ".join(subjects)}. Each clip is seen through one random virtual camera (seed {EVAL_SEED}, the same for every
model) and the virtual MediaPipe landmarks are projected either with the training noise model (jitter measured on
MediaPipe, drift, bias, dropouts, left/right swaps, visibility) or clean (exact positions; visibility still
modelled, since the model reads it). Mirror test-time augmentation is on. {bones}

Millimetres: MPJPE (protocol 1), P-MPJPE (2: after rigid alignment with scale), N-MPJPE (3: after scale only),
MPJVE (mm per frame), Accel (acceleration error, mm per frame²), Root (camera-space root trajectory error; scaled:
after one least-squares scale per clip), Bone std (standard deviation of each predicted bone's length over a
clip, averaged over bones; 0 for the ground truth), Bone std (net) (the same for the network's raw joints,
before the constant bone lengths). Most test frames come from the CMU 20-joint arrays, stored at
12 fps and upsampled, whose motion is smoother than native-rate capture: velocity and acceleration errors are
optimistic there.

{format_table(rows)}
{target_text}"""
    write_text_atomic(path, text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifting evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--weights", action="append", type=Path, required=True, help="checkpoint stem (repeat)"
    )
    parser.add_argument("--shared-dir", type=Path, default=ROOT.parent / "shared")
    parser.add_argument(
        "--split",
        choices=["test", "validation"],
        default="test",
        help="test (the reported numbers) or validation (for choosing between models without looking at test)",
    )
    parser.add_argument("--out", type=Path, default=None, help="default: docs/results.md for the test split")
    parser.add_argument(
        "--max-clips", type=int, default=0, help="evaluate an evenly spaced subset (quick runs)"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--free-bones",
        action="store_true",
        help="evaluate the network's raw joints, without the constant bone lengths that lifting.lift.lift gives them",
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        device = resolve_device(args.device)
        out = args.out
        if out is None:
            if args.split != "test":
                raise MocapError("Give --out for a validation run; docs/results.md is for the test split.")
            out = ROOT / "docs" / "results.md"
        clips = evenly_spaced(load_split(args.shared_dir, args.split), args.max_clips)
        noisy, clean = test_views(clips, EVAL_SEED)
        rows = []
        for stem in args.weights:
            config, models = load_checkpoint(stem, device=device)
            rf = config.pose.receptive_field()
            for condition, views in (("noisy", noisy), ("clean", clean)):
                progress = tqdm(views, desc=f"{stem.name} {condition}", unit="clip", file=sys.stderr)
                values = evaluate_views(models, config, progress, device, constant_bones=not args.free_bones)
                rows.append(Row(stem.name, rf, condition, values))
        command = (
            "python -m lifting evaluate "
            + " ".join(f"--weights {os.path.relpath(w, ROOT)}" for w in args.weights)
            + (f" --max-clips {args.max_clips}" if args.max_clips else "")
            + (f" --split {args.split}" if args.split != "test" else "")
            + (" --free-bones" if args.free_bones else "")
        )
        write_results(out, rows, clips, command, args.split, constant_bones=not args.free_bones)
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows))
    for line in target_lines(rows):
        print(line)
    print(f"written to {out}", file=sys.stderr)
    return 0
