"""`python -m lifting quality VIDEO|KEYPOINTS...`: how good the result is on real footage, without ground truth.

For each clip: the subject's 2D track (detected, or a `.keypoints.npz` file), the 3D that `lift` makes from it and
that motion placed in the world as the retargeter places it (`retarget.pipeline.retarget_onto_ours`, default
settings). One table, a column per clip:

- subject: frames with the subject found (not interpolated), %;
- subject jumps: found frames whose hip centre is more than one torso length from the previous frame's;
- left/right repaired: frames whose arms or legs left/right repair exchanged back (`lifting.video2d.swaps`);
- left/right swaps left: frames of the repaired track where a left/right pair of limb landmarks jumps by more
  than 10 % of the person's height and exchanging left and right would bring both within half that distance of
  the previous frame;
- 2D jitter: `robust_jitter` (robust residual of a cubic Savitzky-Golay fit over 9 frames), median over the body
  landmarks (shoulders down), % of the person's height in the image (the person's height is given in pixels);
- 3D acceleration: mean norm of the joints' second difference in camera space, mm/frame²;
- reprojection: the 3D projected through the clip's camera onto its own 2D (`lift.refine.reprojection_error`),
  px and % of the person's height;
- bone-length spread: `metrics.bone_length_std` of the 3D, mm (0 with constant bone lengths, the default);
- feet planted: frames where the retargeter's contacts plant a foot, %;
- foot skate: horizontal toe speed while its foot is planted, cm/s (`metrics.foot_skate` with those contacts);
- root drift: horizontal pelvis speed while both feet are planted, cm/s;
- height: the person's standing height from the 3D, m.

Warnings say when the person is small in the picture or found on few frames (`detect.subject_warnings`).
`--markdown FILE` writes the table (with the command that made it) to a file as well.

With `--calibration FILE` the inputs are the videos of one calibrated multi-camera take (in the calibration's
camera order) and each camera is also scored against the pseudo-ground truth that the other cameras triangulate
(`lifting.app.pseudo_truth`): subject kept, left/right swapped in 2D as detected and after repair, P-MPJPE and
left/right flips of the 3D. `--subject X,Y` may then be given once per camera.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lifting.app.options import ConvertOptions
from lifting.app.pseudo_truth import CameraScore
from lifting.errors import MocapError
from lifting.skeleton import BLAZEPOSE
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.tracking import HIPS, SHOULDERS
from retarget.motion3d import Motion3D
from retarget.pipeline import RetargetResult

FloatArray = npt.NDArray[np.float64]
Pixels = npt.NDArray[np.floating[Any]]  # keypoint arrays: float32 in files, float64 in computations
BODY = np.arange(BLAZEPOSE.index["left_shoulder"], BLAZEPOSE.num_joints)
LIMB_PAIRS = tuple((a, b) for a, b in BLAZEPOSE.mirror_pairs if a in BODY)
JITTER_WINDOW = 9


def robust_jitter(pixels: Pixels, visibility: Pixels, window: int) -> tuple[FloatArray, float]:
    """Per-landmark jitter (33,) as a fraction of the person's image height, and that height (px).

    pixels (T, 33, 2) with NaN where nobody was found; visibility (T, 33). Jitter is the part of each landmark
    track that a smooth motion cannot explain: the residual of a cubic Savitzky-Golay fit over `window` frames,
    divided by sqrt(1 - h0) (h0 the filter's centre weight, so white noise of standard deviation s gives s back),
    measured robustly (1.4826 × median absolute residual, so a tracker jump does not count), on runs of frames
    with visibility ≥ 0.5. The height is the median over frames of the larger side of the landmarks' box.
    NaN for a landmark with no run as long as the window.
    """
    from scipy.signal import savgol_coeffs, savgol_filter

    h0 = savgol_coeffs(window, 3)[window // 2]
    valid = ~np.isnan(pixels[..., 0])
    detected = valid[:, 0]
    if not detected.any():
        return np.full(pixels.shape[1], np.nan), float("nan")
    box = np.max(pixels[detected].max(axis=1) - pixels[detected].min(axis=1), axis=-1)
    person = float(np.median(box))
    out = np.full(pixels.shape[1], np.nan)
    for j in range(pixels.shape[1]):
        idx = np.flatnonzero(valid[:, j] & (visibility[:, j] >= 0.5))
        runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1) if len(idx) else []
        resid = []
        for run in runs:
            if len(run) < window:
                continue
            track = pixels[run, j]
            smooth = savgol_filter(track, window, 3, axis=0)
            resid.append((track - smooth)[window // 2 : len(run) - window // 2])
        if resid:
            r = np.concatenate(resid).ravel()
            out[j] = 1.4826 * np.median(np.abs(r)) / np.sqrt(1.0 - h0) / person
    return out, person


def jitter_2d(keypoints: Keypoints2D) -> tuple[float, float]:
    """(2D jitter: `robust_jitter` over `JITTER_WINDOW` frames on the frames found, median over the body
    landmarks, % of the person's height; the person's height in the image, px). NaN where not measurable."""
    pixels = np.where(keypoints.found[:, None, None], keypoints.keypoints, np.nan)
    jitter, person = robust_jitter(pixels, keypoints.visibility, JITTER_WINDOW)
    body = jitter[BODY]
    return (100.0 * float(np.nanmedian(body)) if np.isfinite(body).any() else float("nan")), person


def swap_frames(
    pixels: Pixels,
    found: npt.NDArray[np.bool_],
    height: float,
    pairs: Sequence[tuple[int, int]] = LIMB_PAIRS,
) -> int:
    """Found frames after a found frame where some limb pair's left/right assignment flips (module docstring).
    pixels (T, J, D): the landmarks (default pairs: BlazePose's limbs), or 3D joints with their own pairs and
    height in the same unit."""
    n = 0
    for t in np.flatnonzero(found[1:] & found[:-1]) + 1:
        for a, b in pairs:
            keep = np.linalg.norm(pixels[t, [a, b]] - pixels[t - 1, [a, b]], axis=-1).max()
            swapped = np.linalg.norm(pixels[t, [b, a]] - pixels[t - 1, [a, b]], axis=-1).max()
            if keep > 0.1 * height and swapped < 0.5 * keep:
                n += 1
                break
    return n


def subject_jumps(pixels: Pixels, found: npt.NDArray[np.bool_]) -> int:
    """Found frames after a found frame whose hip centre moved more than one torso length (shoulder centre to
    hip centre, the larger of the two frames')."""
    hips = pixels[:, HIPS].mean(axis=1)
    torso = np.linalg.norm(pixels[:, SHOULDERS].mean(axis=1) - hips, axis=-1)
    t = np.flatnonzero(found[1:] & found[:-1]) + 1
    moved = np.linalg.norm(hips[t] - hips[t - 1], axis=-1)
    return int((moved > np.maximum(torso[t], torso[t - 1])).sum())


def standing_height(world_joints: FloatArray) -> float:
    """The person's height (m): the median over frames of the joints' vertical extent, world (T, J, 3) Z up."""
    return float(np.median(world_joints[..., 2].max(axis=1) - world_joints[..., 2].min(axis=1)))


def root_travel(world_joints: FloatArray) -> float:
    """Horizontal path length of the root joint (m), world (T, J, 3) Z up."""
    return float(np.linalg.norm(np.diff(world_joints[:, 0, :2], axis=0), axis=1).sum())


def planted_fraction(contacts: npt.NDArray[np.bool_]) -> float:
    """Share of frames with at least one foot planted; contacts (T, 2) left/right."""
    return float(contacts.any(axis=1).mean()) if len(contacts) else 0.0


@dataclass(frozen=True)
class QualityReport:
    """One clip's numbers (see the module docstring); NaN where a number cannot be measured."""

    name: str
    frames: int
    subject_pct: float
    subject_jumps: int
    lr_repaired: int
    lr_swaps: int
    jitter_2d_pct: float
    person_px: float
    accel_3d_mm: float
    reprojection_px: float
    reprojection_pct: float
    bone_std_mm: float
    planted_pct: float
    skate_cm_s: float
    root_drift_cm_s: float
    height_m: float
    warnings: tuple[str, ...] = ()
    truth: CameraScore | None = None


ROWS: tuple[tuple[str, str, str], ...] = (
    ("frames", "frames", "{:d}"),
    ("subject found, %", "subject_pct", "{:.1f}"),
    ("subject jumps (frames)", "subject_jumps", "{:d}"),
    ("left/right exchanges repaired (frames)", "lr_repaired", "{:d}"),
    ("left/right swaps left, 2D (frames)", "lr_swaps", "{:d}"),
    ("2D jitter, % of height", "jitter_2d_pct", "{:.2f}"),
    ("person height in the image, px", "person_px", "{:.0f}"),
    ("3D acceleration, mm/frame²", "accel_3d_mm", "{:.1f}"),
    ("reprojection, px", "reprojection_px", "{:.1f}"),
    ("reprojection, % of height", "reprojection_pct", "{:.1f}"),
    ("bone-length spread, mm", "bone_std_mm", "{:.1f}"),
    ("feet planted, % of frames", "planted_pct", "{:.0f}"),
    ("foot skate while planted, cm/s", "skate_cm_s", "{:.1f}"),
    ("root drift, both feet planted, cm/s", "root_drift_cm_s", "{:.1f}"),
    ("height, m", "height_m", "{:.2f}"),
)
# Rows of the multi-camera mode: the `CameraScore` of each camera.
TRUTH_ROWS: tuple[tuple[str, str, str], ...] = (
    ("pseudo-GT: frame offset", "offset", "{:d}"),
    ("pseudo-GT: frames with a reference", "reference_frames", "{:d}"),
    ("pseudo-GT: subject kept, %", "subject_kept_pct", "{:.1f}"),
    ("pseudo-GT: left/right swapped, 2D as detected, %", "swapped_2d_pct", "{:.1f}"),
    ("pseudo-GT: left/right swapped, 2D after repair, %", "swapped_2d_repaired_pct", "{:.1f}"),
    ("pseudo-GT: P-MPJPE, mm", "p_mpjpe_mm", "{:.1f}"),
    ("pseudo-GT: left/right flips, 3D, %", "flips_3d_pct", "{:.1f}"),
)


def measure(
    name: str,
    keypoints: Keypoints2D,
    motion: Motion3D,
    result: RetargetResult,
    repaired: npt.NDArray[np.bool_],
) -> QualityReport:
    """The report of one clip from its 2D track (after left/right repair, which exchanged the groups marked in
    repaired (T, G)), its 3D (same frames) and that 3D placed in the world."""
    from lifting.lift.refine import reprojection_error
    from lifting.metrics import bone_length_std, foot_skate
    from lifting.video2d.detect import subject_warnings

    found = keypoints.found
    jitter, person = jitter_2d(keypoints)
    absolute = motion.absolute_joints()
    accel = (
        np.linalg.norm(np.diff(absolute, n=2, axis=0), axis=-1).mean() * 1000 if len(absolute) > 2 else np.nan
    )
    repro_px, repro_frac = reprojection_error(motion, keypoints)
    world, contacts = result.world_joints, result.contacts
    names = list(motion.joint_names)
    toes = [names.index("l_toe"), names.index("r_toe")]
    both = contacts.all(axis=1)
    steps = both[1:] & both[:-1]
    speeds = np.linalg.norm(np.diff(world[:, 0, :2], axis=0), axis=-1)[steps] * motion.fps * 100
    return QualityReport(
        name=name,
        frames=len(found),
        subject_pct=100.0 * float(found.mean()) if len(found) else 0.0,
        subject_jumps=subject_jumps(keypoints.keypoints, found),
        lr_repaired=int(repaired[:, :2].any(axis=1).sum()),
        lr_swaps=swap_frames(keypoints.keypoints, found, person) if np.isfinite(person) else 0,
        jitter_2d_pct=jitter,
        person_px=person,
        accel_3d_mm=float(accel),
        reprojection_px=repro_px,
        reprojection_pct=100.0 * repro_frac,
        bone_std_mm=1000.0 * bone_length_std(absolute, motion.parents),
        planted_pct=100.0 * planted_fraction(contacts),
        skate_cm_s=100.0 * foot_skate(world, toes, up=2, fps=motion.fps, contacts=contacts)
        if len(world) > 1
        else np.nan,
        root_drift_cm_s=float(speeds.mean()) if len(speeds) else float("nan"),
        height_m=standing_height(world),
        warnings=tuple(subject_warnings(keypoints)),
    )


def table(reports: Sequence[QualityReport]) -> str:
    """The reports as one Markdown table, a column per clip, then their warnings."""
    lines = ["| | " + " | ".join(r.name for r in reports) + " |", "|---|" + "---|" * len(reports)]
    rows = [(label, field, fmt, False) for label, field, fmt in ROWS]
    if any(r.truth is not None for r in reports):
        rows += [(label, field, fmt, True) for label, field, fmt in TRUTH_ROWS]
    for label, field, fmt, of_truth in rows:
        cells = []
        for r in reports:
            value = getattr(r.truth, field, float("nan")) if of_truth else getattr(r, field)
            cells.append("–" if isinstance(value, float) and not np.isfinite(value) else fmt.format(value))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for r in reports:
        lines += [f"\nWarning ({r.name}): {w}" for w in r.warnings]
    return "\n".join(lines) + "\n"


def _track(
    source: Path,
    frames: tuple[int, int | None] | None,
    subject: tuple[float, float] | None,
    workers: int | None,
) -> tuple[str, Keypoints2D]:
    """A clip's name and its subject's 2D track as detected (cached), before left/right repair."""
    from lifting.app import api

    if source.name.endswith(".keypoints.npz"):
        return source.name.removesuffix(".keypoints.npz"), Keypoints2D.load(source)
    return source.stem, api.detect(source, frames=frames, subject=subject, workers=workers, repair_lr=False)


def lift_and_measure(
    name: str, raw: Keypoints2D, weights: str | None, refine: bool, focal_px: float | None = None
) -> tuple[QualityReport, Keypoints2D, Motion3D]:
    """The clip's detections with left/right swaps repaired, lifted (`weights`, or the shipped ones; refined or
    not; at `focal_px` or the default camera), placed as the retargeter places them and measured: the report, the
    repaired keypoints and the Motion3D."""
    from lifting.app import api
    from lifting.video2d.swaps import repair_swaps
    from retarget.pipeline import retarget_onto_ours

    keypoints, repaired = repair_swaps(raw)
    motion = api.lift(keypoints, weights=weights, focal_px=focal_px, refine=refine)
    _, result = retarget_onto_ours(motion)
    return measure(name, keypoints, motion, result, repaired), keypoints, motion


def report_clip(
    source: Path,
    *,
    frames: tuple[int, int | None] | None = None,
    subject: tuple[float, float] | None = None,
    workers: int | None = None,
    weights: str | None = None,
    refine: bool = ConvertOptions.refine,
) -> tuple[QualityReport, float]:
    """Detect (cached) or load the 2D, repair left/right, lift (refined by default, as the add-on and the
    command line do), place in the world, measure; also the seconds after detection."""
    name, raw = _track(source, frames, subject, workers)
    start = time.perf_counter()
    report, _, _ = lift_and_measure(name, raw, weights, refine)
    return report, time.perf_counter() - start


def report_take(
    calibration: Path,
    sources: Sequence[Path],
    *,
    frames: tuple[int, int | None] | None = None,
    subjects: Sequence[tuple[float, float] | None] = (),
    workers: int | None = None,
    weights: str | None = None,
    refine: bool = ConvertOptions.refine,
) -> tuple[list[QualityReport], float]:
    """The reports of one calibrated multi-camera take, sources in the calibration's camera order, each with its
    pseudo-ground-truth score (`pseudo_truth.score_cameras`), lifted with the calibrated focal length; also the
    seconds after detection."""
    from dataclasses import replace

    from lifting.app.pseudo_truth import score_cameras
    from lifting.multiview import read_calibration

    cameras = read_calibration(calibration)
    if len(cameras) != len(sources):
        raise MocapError(
            f"{calibration} holds {len(cameras)} cameras ({', '.join(c.name for c in cameras)}) but "
            f"{len(sources)} videos were given; give one video per camera, in that order."
        )
    tracks = [
        _track(source, frames, subjects[i] if i < len(subjects) else None, workers)
        for i, source in enumerate(sources)
    ]
    lengths = {len(k.keypoints) for _, k in tracks}
    if len(lengths) != 1:
        raise MocapError(
            f"The videos of one take must have the same number of frames, not {sorted(lengths)}."
        )
    start = time.perf_counter()
    measured = [
        lift_and_measure(name, raw, weights, refine, camera.intrinsics.fx)
        for (name, raw), camera in zip(tracks, cameras, strict=True)
    ]
    scores = score_cameras(
        cameras, [k for _, k in tracks], [m[1] for m in measured], [m[2] for m in measured]
    )
    reports = [replace(m[0], truth=score) for m, score in zip(measured, scores, strict=True)]
    return reports, time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    from lifting.app.options import ArgumentParser, UsageError, parse_frames, parse_point
    from lifting.errors import reporting_warnings
    from retarget.atomic_write import atomic_write

    parser = ArgumentParser(
        prog="python -m lifting quality",
        description="Measure the result on real footage without ground truth: one table, a column per clip.",
    )
    parser.add_argument("inputs", nargs="+", metavar="VIDEO|KEYPOINTS", help="videos or .keypoints.npz files")
    parser.add_argument("--frames", metavar="A:B", help="video frames A (inclusive) to B (exclusive)")
    parser.add_argument(
        "--subject",
        metavar="X,Y",
        action="append",
        help="a point on the person to follow, pixels (with --calibration: once per camera, in order)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="the inputs are one calibrated multi-camera take (Qualisys .qca.txt or Pose2Sim .toml): also score "
        "each camera against the pseudo-ground truth the others triangulate",
    )
    parser.add_argument("--workers", type=int, help="detection processes (default: one per core)")
    parser.add_argument(
        "--weights", metavar="STEM", help="checkpoint to lift with (default: the shipped one)"
    )
    parser.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=ConvertOptions.refine,
        help="refine each clip after lifting, as the add-on and the command line do by default",
    )
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the table to FILE")
    args = parser.parse_args(argv)
    try:
        frames = parse_frames(args.frames)
        subjects = [parse_point(p) for p in args.subject or []]
        if len(subjects) > 1 and (args.calibration is None or len(subjects) != len(args.inputs)):
            raise UsageError("Give --subject once, or (with --calibration) once per video.")
        for source in map(Path, args.inputs):
            if not source.is_file():
                raise UsageError(f"{source} is not a file.")
        with reporting_warnings(lambda message: print(f"warning: {message}", file=sys.stderr)):
            if args.calibration is not None:
                if len(subjects) == 1:
                    subjects = subjects * len(args.inputs)
                reports, seconds = report_take(
                    args.calibration,
                    [Path(p) for p in args.inputs],
                    frames=frames,
                    subjects=subjects,
                    workers=args.workers,
                    weights=args.weights,
                    refine=args.refine,
                )
                print(f"take measured in {seconds:.1f} s after detection", file=sys.stderr)
            else:
                reports = []
                for source in map(Path, args.inputs):
                    report, seconds = report_clip(
                        source,
                        frames=frames,
                        subject=subjects[0] if subjects else None,
                        workers=args.workers,
                        weights=args.weights,
                        refine=args.refine,
                    )
                    print(f"{source.name}: measured in {seconds:.1f} s after detection", file=sys.stderr)
                    reports.append(report)
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = table(reports)
    print(text, end="")
    if args.markdown is not None:
        command = "python -m lifting quality " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        document = (
            "# Quality on real footage\n\n"
            f"Made by `{command}`; what each row measures: `lifting/app/quality.py`.\n\n{text}"
        )
        atomic_write(args.markdown, lambda tmp: tmp.write_text(document, encoding="utf-8"))
    return 0
