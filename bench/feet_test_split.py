"""Issue 22's feet targets on the synthetic test split: foot skate while planted and root drift while both feet are planted.

    .venv/bin/python bench/feet_test_split.py --markdown docs/feet_test_split.md
    .venv/bin/python bench/feet_test_split.py --split validation --max-clips 100 \
        --setting probability_on=0.5 --setting min_contact=0.2   # for choosing settings: one row each

Clips and 2D input as `lifting.learn.evaluate` makes them (`python -m lifting evaluate` with the same
`--max-clips`): the split's clips (an evenly spaced subset with --max-clips), each seen through one random
virtual camera with detector-like noise (seed `EVAL_SEED`). Each clip is lifted as the add-on and the command
line lift it: `lifting.app.api.lift` (the shipped lifter `lifting/weights/mocap`, mirror test-time
augmentation, one length per bone, the shipped contact model `lifting/weights/contacts`; the clip's true focal
length, CPU) with refinement as `ConvertOptions.refine` says (on by default: `lifting.lift.refine`), then
retargeted onto our armature (`retarget.pipeline.retarget_onto_ours`, numpy, no Blender, no smoothing) and the
rig posed from its keys (forward kinematics). Rows:

- before: the pipeline without issue 22's machinery or refinement: lifted without refinement, no contact
  probabilities (the retargeter's height and speed rule on the lifted feet), no root solve
  (`GroundConfig.solve_root=False`: the lifted root as is), no foot lock (`RetargetConfig.foot_lock=False`);
- after, not refined: the shipped retargeting (default settings, the contact model's probabilities) on the
  clip lifted without refinement (what shipped before refinement was on by default);
- after: the shipped pipeline, as users get it (lifted with `ConvertOptions.refine`, default settings, the
  contact model's probabilities);
- after, true contacts: as after, given the true contacts as probabilities (0 or 1), to separate contact
  errors from the rest;
- motion capture: the same measures on the clip's true joints (the floor: labels and capture are not exact);
- after, NAME=VALUE,...: one row per `--setting`, as after with these settings changed: fields of
  `retarget.contacts.ContactConfig` (the contact decision: `probability_on`, `probability_off`,
  `min_contact`, `min_gap`), of `retarget.foot_lock.FootLockConfig` (`blend`, `heading` 0 or 1) and, as
  `root.FIELD`, of `retarget.ground.RootSolveConfig` (the root solve: `root.image`, `root.smooth`, ...).

Measures, all with the true contacts (`lifting.learn.datasets.contact_labels` on the motion capture: per heel
and toe, so the rows share them), horizontal = normal to each motion's own up axis (world Z):

- foot skate: per contact (a run of frames where a heel or toe is labelled planted), the mean over its frames
  of the planted point's horizontal distance from its mean horizontal position over the contact
  (`lifting.metrics.contact_slip`), mm; the point is the rig's toe site for a toe contact and its ankle site
  for a heel contact (the lifter has no heel joint; on the motion capture the same joints). Mean over
  contacts (the target: <= 10 mm), and weighted by contact length;
- root drift: horizontal speed of the pelvis over the steps t -> t+1 whose two frames have both feet planted
  (a foot is planted when its heel or toe is; `lifting.metrics.planted_root_speed`), mm/s, mean over steps,
  (a) over every such step (the issue's target: <= 20 mm/s) and (b) over the standing ones only: inside a
  double-support run lasting at least `STANDING_S` seconds (a step's double support lasts about 0.1-0.2 s, and
  the pelvis rightly moves through it at walking speed);
- root drift vs truth over standing windows (the drift the issue means, free of frame-to-frame jitter): over
  each window of continuous double support in the motion capture lasting at least `STANDING_S` seconds,
  |horizontal displacement of our pelvis from the window's first to its last frame - the motion capture's
  pelvis displacement over the same frames| / the window's duration, mm/s, mean over windows
  (`window_drift`; the targets also give it weighted by the windows' durations). Measured in the output's world (after placement, its Z up; the rig's posed pelvis site):
  the motion capture's pelvis is carried into it through the true virtual camera of each frame (capture world
  -> camera) and the row's placement (camera -> output world, `to_output_world`), so both share one frame and
  one horizontal plane. On the motion capture row: its own pelvis displacement over the windows (how far from
  still the truth stands). The step-wise columns (a), (b) above count frame-to-frame jitter: 5 mm per frame
  reads as 150 mm/s while the root goes nowhere;
- root velocity error: over the same steps as (a), the norm of the difference between the pelvis's
  horizontal velocity and the truth's, both in the motion capture's world (the output mapped back to camera
  space through its placement and into the world through the true virtual camera), mm/s; it includes the
  lifter's errors in the trajectory's scale and direction, which the feet cannot fix;
- planted feet, recall and precision: the rows' planted feet (`RetargetResult.contacts`, per foot and frame)
  against the true ones (a foot is planted when its heel or toe is), %. Foot skate and root drift are measured
  on the true contacts only, so planting a foot that swings costs them nothing: precision says what it costs.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from lifting.app import api
from lifting.app.options import ConvertOptions
from lifting.learn.datasets.contact_labels import clip_contact_labels
from lifting.learn.datasets.dataset import evenly_spaced, load_split
from lifting.learn.datasets.splits import SPLIT_VERSION
from lifting.learn.datasets.views import CameraTrack
from lifting.learn.evaluate import EVAL_SEED, test_views
from lifting.metrics import contact_slip, planted_root_speed
from lifting.skeleton import MODEL_FPS, OUTPUT
from retarget.animation import pose_matrices, posed_points
from retarget.contacts import ContactConfig, runs
from retarget.foot_lock import FootLockConfig
from retarget.ground import GroundConfig, RootSolveConfig
from retarget.motion3d import Motion3D
from retarget.pipeline import RetargetConfig, RetargetResult, retarget_onto_ours
from retarget.placement import PlacementConfig, WorldPlacement
from retarget.rest_skeleton import RestSkeleton
from retarget.solve import build_plan

ROOT = Path(__file__).resolve().parent.parent
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# Measured points: pelvis, then per contact column (l_heel, l_toe, r_heel, r_toe) the joint standing for it.
POINTS = ("pelvis", "l_ankle", "l_toe", "r_ankle", "r_toe")
STANDING_S = 0.5
ROWS = ("before", "after, not refined", "after", "after, true contacts", "motion capture")
BEFORE = RetargetConfig(
    foot_lock=False, placement=PlacementConfig(ground=replace(GroundConfig(), solve_root=False))
)


@dataclass
class Sums:
    """One row's values gathered over clips (metres, metres per second)."""

    slips: list[FloatArray] = field(default_factory=list)
    lengths: list[npt.NDArray[np.int64]] = field(default_factory=list)
    drift: list[FloatArray] = field(default_factory=list)
    standing: list[FloatArray] = field(default_factory=list)
    window_drift: list[FloatArray] = field(default_factory=list)
    window_seconds: list[FloatArray] = field(default_factory=list)
    velocity_error: list[FloatArray] = field(default_factory=list)
    # planted foot-frames: the row's that are true, the row's, the true ones
    planted: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(3, dtype=np.int64))


def parse_setting(text: str) -> dict[str, float | bool]:
    """'NAME=VALUE,NAME=VALUE' -> {name: value}: numbers, `heading` 0 or 1 a bool."""
    out: dict[str, float | bool] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        out[name] = bool(float(value)) if name == "heading" else float(value)
    return out


def setting_config(setting: dict[str, float | bool]) -> RetargetConfig:
    """The shipped RetargetConfig with a setting's ContactConfig, FootLockConfig and (named `root.FIELD`)
    RootSolveConfig fields changed."""
    base = RetargetConfig()
    contact_names = {f.name for f in fields(ContactConfig)}
    lock_names = {f.name for f in fields(FootLockConfig)}
    root_names = {f"root.{f.name}" for f in fields(RootSolveConfig)}
    unknown = set(setting) - contact_names - lock_names - root_names
    if unknown:
        raise SystemExit(
            f"unknown setting {sorted(unknown)}: use fields of ContactConfig or FootLockConfig, or root.FIELD "
            "for a field of RootSolveConfig"
        )
    ground = base.placement.ground
    contacts = replace(ground.contacts, **{k: v for k, v in setting.items() if k in contact_names})
    root = replace(
        ground.root,
        **{k[5:]: type(getattr(ground.root, k[5:]))(v) for k, v in setting.items() if k in root_names},
    )
    return replace(
        base,
        placement=replace(base.placement, ground=replace(ground, contacts=contacts, root=root)),
        lock=replace(base.lock, **{k: v for k, v in setting.items() if k in lock_names}),  # type: ignore[arg-type]
    )


def standing_runs(both: BoolArray, fps: float) -> list[tuple[int, int]]:
    """The runs [start, end) of `both` (T,) lasting at least STANDING_S seconds."""
    return [(s, e) for s, e in runs(both) if e - s >= round(STANDING_S * fps)]


def standing_frames(both: BoolArray, fps: float) -> BoolArray:
    """Frames (T,) inside a run of `both` (T,) lasting at least STANDING_S seconds."""
    out = np.zeros(len(both), dtype=bool)
    for s, e in standing_runs(both, fps):
        out[s:e] = True
    return out


def window_drift(
    ours: FloatArray, truth: FloatArray, both: BoolArray, fps: float
) -> tuple[FloatArray, FloatArray]:
    """Root drift per standing window, m/s, and the windows' durations, s: over each run of `both` (T,) lasting
    at least STANDING_S seconds, |horizontal displacement of `ours` (T, 3) from its first to its last frame -
    that of `truth` (T, 3)| / the window's duration (frames - 1) / fps; both in one Z-up world. (W,) each."""
    rates, durations = [], []
    for s, e in standing_runs(both, fps):
        gap = (ours[e - 1, :2] - ours[s, :2]) - (truth[e - 1, :2] - truth[s, :2])
        durations.append((e - 1 - s) / fps)
        rates.append(float(np.linalg.norm(gap)) / durations[-1])
    return np.asarray(rates, dtype=np.float64), np.asarray(durations, dtype=np.float64)


def to_output_world(points: FloatArray, placement: WorldPlacement, camera: CameraTrack) -> FloatArray:
    """The motion capture's world points (T, 3) -> the true virtual camera at each frame -> the output's world
    through its placement (the inverse of `to_capture_world`)."""
    cam = np.einsum("tij,tj->ti", camera.rotations, points - camera.positions)
    return placement.to_world(cam)


def rig_points(motion: Motion3D, result: RetargetResult, rest: RestSkeleton) -> FloatArray:
    """(T, 5, 3) world metres of the rig's POINTS sites, posed from the keys (rig units / root scale)."""
    plan = build_plan(rest, result.bone_map, motion.joint_names)
    pose = pose_matrices(rest, result.animation)
    pts = posed_points(
        pose, rest, [plan.site_bone[n] for n in POINTS], np.stack([plan.sites[n] for n in POINTS])
    )
    return np.asarray(pts / result.root_scale, dtype=np.float64)


def to_capture_world(points: FloatArray, placement: WorldPlacement, camera: CameraTrack) -> FloatArray:
    """Output world points (T, 3) -> camera space (inverse placement) -> the motion capture's world."""
    cam = ((points - placement.translation) / placement.scale) @ placement.rotation
    return np.asarray(np.einsum("tji,tj->ti", camera.rotations, cam) + camera.positions, dtype=np.float64)


def add(
    sums: Sums,
    points: FloatArray,
    world_pelvis: FloatArray,
    truth: FloatArray,
    labels: BoolArray,
    truth_pelvis: FloatArray,
    planted: BoolArray | None = None,
) -> None:
    """Add one clip's measures: points (T, 5, 3) in the row's own world, world_pelvis (T, 3) in the capture's
    world, truth (T, 5, 3) the capture's, labels (T, 4) the true contacts, truth_pelvis (T, 3) the capture's
    pelvis in the row's own world (`to_output_world`; for the motion capture row a still point, so its windows
    measure how far the true pelvis moves), planted (T, 2) the row's planted feet (None: not counted)."""
    slips, lengths = contact_slip(points[:, 1:], labels)
    sums.slips.append(slips)
    sums.lengths.append(lengths)
    feet = labels[:, 0::2] | labels[:, 1::2]
    both = feet.all(axis=1)
    if planted is not None:
        sums.planted += [int((planted & feet).sum()), int(planted.sum()), int(feet.sum())]
    sums.drift.append(planted_root_speed(points[:, 0], both, MODEL_FPS))
    sums.standing.append(planted_root_speed(points[:, 0], standing_frames(both, MODEL_FPS), MODEL_FPS))
    rates, seconds = window_drift(points[:, 0], truth_pelvis, both, MODEL_FPS)
    sums.window_drift.append(rates)
    sums.window_seconds.append(seconds)
    step = both[1:] & both[:-1]
    err = np.diff(world_pelvis[:, :2], axis=0) - np.diff(truth[:, 0, :2], axis=0)
    sums.velocity_error.append(np.linalg.norm(err, axis=-1)[step] * MODEL_FPS)


def summary(s: Sums) -> dict[str, float]:
    slips, lengths = np.concatenate(s.slips), np.concatenate(s.lengths)
    return {
        "skate": 1000 * float(slips.mean()),
        "skate_frames": 1000 * float(np.average(slips, weights=lengths)),
        "drift": 1000 * float(np.concatenate(s.drift).mean()),
        "standing": 1000 * float(np.concatenate(s.standing).mean()),
        "window_drift": 1000 * float(np.concatenate(s.window_drift).mean()),
        "window_drift_time": 1000
        * float(np.average(np.concatenate(s.window_drift), weights=np.concatenate(s.window_seconds))),
        "velocity_error": 1000 * float(np.concatenate(s.velocity_error).mean()),
        "recall": 100 * float(s.planted[0] / s.planted[2]) if s.planted[2] else float("nan"),
        "precision": 100 * float(s.planted[0] / s.planted[1]) if s.planted[1] else float("nan"),
    }


def run(
    split: str, max_clips: int, shared: Path, settings: list[str] | None = None
) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """The rows' summaries (ROWS, then one per setting) and the split's counts."""
    clips = evenly_spaced(load_split(shared, split), max_clips)  # type: ignore[arg-type]
    views, _ = test_views(clips, EVAL_SEED)
    extra = {f"after, {text}": setting_config(parse_setting(text)) for text in settings or []}
    sums = {r: Sums() for r in (*ROWS, *extra)}
    counts = {"clips": len(clips), "frames": 0, "contacts": 0, "double": 0, "standing": 0}
    for i, (clip, view) in enumerate(zip(clips, views, strict=True)):
        keypoints = view.keypoints2d()
        lifted = api.lift(keypoints, focal_px=view.intrinsics.fx, device="cpu", refine=False)
        motion = (
            api.lift(keypoints, focal_px=view.intrinsics.fx, device="cpu", refine=True)
            if ConvertOptions.refine
            else lifted
        )
        labels = clip_contact_labels(clip)
        truth = clip.joints.astype(np.float64)[:, [OUTPUT.index[n] for n in POINTS]]
        variants = {
            "before": (replace(lifted, contacts=None), BEFORE),
            "after, not refined": (lifted, RetargetConfig()),
            "after": (motion, RetargetConfig()),
            "after, true contacts": (replace(motion, contacts=labels.astype(np.float32)), RetargetConfig()),
            **{row: (motion, cfg) for row, cfg in extra.items()},
        }
        for row, (m, cfg) in variants.items():
            rest, result = retarget_onto_ours(m, cfg)
            pts = rig_points(m, result, rest)
            world = to_capture_world(pts[:, 0], result.placement, view.camera)
            own = to_output_world(truth[:, 0], result.placement, view.camera)
            add(sums[row], pts, world, truth, labels, own, result.contacts)
        still = np.zeros_like(truth[:, 0])
        add(sums["motion capture"], truth, truth[:, 0], truth, labels, still)
        both = (labels[:, 0::2] | labels[:, 1::2]).all(axis=1)
        counts["frames"] += len(labels)
        counts["contacts"] += sum(len(runs(labels[:, c])) for c in range(4))
        counts["double"] += int((both[1:] & both[:-1]).sum())
        stand = standing_frames(both, MODEL_FPS)
        counts["standing"] += int((stand[1:] & stand[:-1]).sum())
        print(f"\r{i + 1}/{len(clips)} clips", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return {r: summary(s) for r, s in sums.items()}, counts


def table(rows: dict[str, dict[str, float]]) -> str:
    lines = [
        "| | foot skate, mm per contact | foot skate, mm, frame-weighted | root drift, both feet planted, mm/s | "
        f"root drift, standing (≥ {STANDING_S} s), mm/s | root velocity error vs truth, both planted, mm/s | "
        f"root drift vs truth over standing windows (≥ {STANDING_S} s), mm/s | "
        "planted feet: recall, % | planted feet: precision, % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def pct(x: float) -> str:
        return "–" if np.isnan(x) else f"{x:.1f}"

    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['skate']:.1f} | {r['skate_frames']:.1f} | {r['drift']:.0f} | {r['standing']:.0f} | "
            f"{r['velocity_error']:.0f} | {r['window_drift']:.0f} | {pct(r['recall'])} | {pct(r['precision'])} |"
        )
    return "\n".join(lines)


def verdict(rows: dict[str, dict[str, float]]) -> list[str]:
    a, t = rows["after"], rows["motion capture"]

    def mark(ok: bool) -> str:
        return "met" if ok else "missed"

    return [
        f"- Foot skate while planted ≤ 10 mm per contact: {a['skate']:.1f} mm ({mark(a['skate'] <= 10.0)}; "
        f"the motion capture's own: {t['skate']:.1f} mm).",
        f"- Root drift while both feet are planted ≤ 20 mm/s: {a['drift']:.0f} mm/s over every double-support "
        f"step ({mark(a['drift'] <= 20.0)}; the motion capture's own pelvis moves {t['drift']:.0f} mm/s there, "
        "since a step's double support is part of the walk); standing on both feet: "
        f"{a['standing']:.0f} mm/s ({mark(a['standing'] <= 20.0)}; the motion capture's own: {t['standing']:.0f} mm/s). "
        "Both are step-wise speeds, which count frame-to-frame jitter as motion.",
        f"- Root drift vs truth over standing windows (displacement over each window of ≥ {STANDING_S} s of double "
        f"support, against the motion capture's): {a['window_drift']:.0f} mm/s ({mark(a['window_drift'] <= 20.0)}; "
        f"the motion capture's pelvis itself moves {t['window_drift']:.0f} mm/s over these windows); weighted by "
        f"the windows' durations: {a['window_drift_time']:.0f} mm/s ({mark(a['window_drift_time'] <= 20.0)}; "
        f"the motion capture's own: {t['window_drift_time']:.0f} mm/s).",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--max-clips", type=int, default=0, help="an evenly spaced subset (0: every clip)")
    parser.add_argument("--shared-dir", type=Path, default=ROOT.parent / "shared")
    parser.add_argument(
        "--markdown", help="also write the table to this file (the test split's: docs/feet_test_split.md)"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE,...",
        help="one more row: the shipped pipeline with these ContactConfig / FootLockConfig / root.RootSolveConfig "
        "fields changed",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the 2-core machine is shared
    t0 = time.time()
    rows, counts = run(args.split, args.max_clips, args.shared_dir, args.setting)
    text = table(rows)
    lines = verdict(rows)
    print(text)
    print("\n".join(lines))
    print(f"{counts} in {time.time() - t0:.0f} s", file=sys.stderr)
    if args.markdown:
        command = "bench/feet_test_split.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
        tried = (
            "Rows `after, NAME=VALUE,...`: settings tried (`--setting`), each the shipped pipeline with these fields "
            "of `retarget.contacts.ContactConfig` (the contact decision), `retarget.foot_lock.FootLockConfig` or (as "
            "`root.FIELD`) `retarget.ground.RootSolveConfig` (the root solve) changed; they are chosen on the "
            "validation split, never on the test split.\n\n"
            if args.setting
            else ""
        )
        subset = (
            f"an evenly spaced {counts['clips']} of its clips"
            if args.max_clips
            else f"all {counts['clips']} clips"
        )
        Path(args.markdown).write_text(
            f"# Feet on the synthetic {args.split} split (issue 22)\n\n"
            f"Made by `.venv/bin/python {command}`; do not edit by hand. What each row and column measures: "
            f"`bench/feet_test_split.py`.\n\n"
            f"{args.split.capitalize()} split v{SPLIT_VERSION}, {subset} ({counts['frames']} frames at 30 fps), each "
            f"seen through one random virtual camera with detector-like noise (seed {EVAL_SEED}, as "
            "`python -m lifting evaluate`), lifted as the add-on and the command line lift it (`lifting.app.api.lift`: "
            f"the shipped weights and contact model, refinement {'on' if ConvertOptions.refine else 'off'} as "
            "`ConvertOptions.refine` says), retargeted onto our armature by `retarget.pipeline` (before: lifted "
            "without refinement, no contact model, no root solve, no foot lock; after, not refined: as shipped but "
            "lifted without refinement; after: as shipped) and posed from its keys. Measured with the true contacts "
            "of the motion capture: "
            f"{counts['contacts']} heel and toe contacts, {counts['double']} steps with both feet planted, "
            f"{counts['standing']} of them standing (both feet planted for at least {STANDING_S} s).\n\n"
            f"{text}\n\n{tried}## Targets\n\n" + "\n".join(lines) + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
