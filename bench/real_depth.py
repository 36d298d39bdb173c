"""The root (pelvis) in camera space on real footage, and the person's depth when the camera is unknown (issue 24).

    .venv/bin/python bench/real_depth.py --markdown docs/real_depth.md

Takes and reference as in `bench/real_footage.py`: each camera of Pose2Sim's two calibrated takes
(`tests/data/pose2sim/`) is a monocular video; its reference is what the other three cameras triangulate
(`lifting.app.pseudo_truth.references`), moved into this camera. Per camera, on the frames where the subject was
found and the reference exists:
- the reference root: the midpoint of the triangulated hip landmarks; ours: the lifted pelvis moved up by the
  landmarks' hip offset (`lifting.landmarks.HIP_OFFSET`: MediaPipe's hips sit that far above the joint centres
  in the pelvis frame), so both name the same point;
- root error: mean distance between the two, mm; scaled: after one least-squares scale of our root per clip
  (`lifting.metrics.root_trajectory_error`), which takes out a depth that is off by one factor;
- depth: the median over frames of our root's z over the reference's, minus 1, in % (negative: too close);
- systems: the shipped temporal weights (`--no-refine`), the same refined (the default) and the single-frame
  weights, each lifted from the left/right-repaired track with the calibrated focal length, and as a user gets
  it with the camera unknown: the default camera (`lifting.lift.lift.clip_intrinsics`: a phone's 26 mm photo lens
  as its video sees it, `DEFAULT_LONG_SIDE_FOV_DEG` across the long side) and the former default (26 mm across
  the video frame's own diagonal, `FORMER_DEFAULT_DIAGONAL_FOV_DEG`).
The reference is MediaPipe 2D from the other views: its root is good to a few centimetres, not to a millimetre.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.real_footage import SINGLE_FRAME, take_tracks  # noqa: E402
from lifting.app import api  # noqa: E402
from lifting.app.pseudo_truth import references  # noqa: E402
from lifting.landmarks import HIP_OFFSET  # noqa: E402
from lifting.metrics import root_trajectory_error  # noqa: E402
from lifting.multiview import read_calibration  # noqa: E402
from lifting.skeleton import BLAZEPOSE  # noqa: E402
from retarget.motion3d import Motion3D  # noqa: E402
from tests.support.paths import POSE2SIM_CALIBRATION, POSE2SIM_TAKES  # noqa: E402

FloatArray = npt.NDArray[np.float64]
HIPS = BLAZEPOSE.indices(["left_hip", "right_hip"])
# System -> keyword arguments of `api.lift`.
SYSTEMS: dict[str, dict[str, object]] = {
    "temporal (--no-refine)": {},
    "refined (the default)": {"refine": True},
    "single-frame weights": {"weights": SINGLE_FRAME},
}
# The former default camera: 26 mm full-frame-equivalent across the video frame's diagonal (79.5 degrees).
FORMER_DEFAULT_DIAGONAL_FOV_DEG = math.degrees(2.0 * math.atan(math.hypot(36.0, 24.0) / 2.0 / 26.0))
CALIBRATED = "calibrated focal"
DEPTH_TARGET_PCT = 15.0  # issue 24: with an unknown camera, the person's depth within this
# Camera mode -> keyword arguments of `api.lift` (the calibrated focal length is added per camera).
CAMERAS: dict[str, dict[str, object]] = {
    CALIBRATED: {},
    "unknown camera, the default": {},
    "unknown camera, the former default": {
        "fov_deg": FORMER_DEFAULT_DIAGONAL_FOV_DEG,
        "fov_axis": "diagonal",
    },
}


NOTES = """What the rows say (the numbers are in the lines above and the tables below):
- The depth follows the focal length: with the camera unknown, the person's depth is off by about as much as the
  assumed focal length is, on top of its error at the calibrated one (the focal column). The default camera is
  a prior, not an estimate: a phone's 26 mm main camera as its video sees it (the 4:3 photo frame's width,
  cropped about 1.25x for stabilisation: `lifting.lift.lift.DEFAULT_LONG_SIDE_FOV_DEG`). It was derived from
  published phone measurements, not fitted to these cameras, which are not phones (1674-1682 px on 1088x1920);
  a phone that films its full photo width would see people about 25 % too far with it.
- Reading the focal length from the keypoints (the refinement's reprojection fit over a grid of focal lengths)
  does not work: on the synthetic validation split and on these cameras it lands far off, mostly far too short
  (docs/focal_estimation.md). The clips carry no lens metadata either: the Pose2Sim videos and the sample clip
  were re-encoded by FFmpeg (Lavf), which keeps no focal-length tag.
- The temporal network's root against the single-frame network's: after one scale per clip (its shape: lag,
  wander, bounce) it is far better; what makes its absolute error larger at the calibrated focal length is its
  depth, a few % closer than the single-frame network's. With the default camera the temporal root comes out
  ahead, but only because the default's focal length, longer than these cameras', offsets that depth bias. The
  default, refined, places the root from the bone lengths and the 2D and beats both.
"""


@dataclass(frozen=True)
class RootScore:
    """One system on one camera: root error and scaled root error (mm), depth bias (%, signed), the focal
    length used (px) and the frames scored."""

    root_mm: float
    scaled_mm: float
    depth_pct: float
    focal_px: float
    frames: int


def landmark_root(motion: Motion3D) -> FloatArray:
    """(T, 3) camera-space point between MediaPipe's hip landmarks, metres, from a lifted motion: the pelvis
    moved along the trunk's up (pelvis → spine) by HIP_OFFSET's upward part."""
    joints = motion.absolute_joints().astype(np.float64)
    pelvis, spine = joints[:, motion.index["pelvis"]], joints[:, motion.index["spine"]]
    up = spine - pelvis
    up /= np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    out: FloatArray = pelvis + HIP_OFFSET[2] * up
    return out


def root_score(pred: FloatArray, ref: FloatArray, focal_px: float) -> RootScore:
    """RootScore of our root (N, 3) against the reference's (N, 3), camera space, metres."""
    return RootScore(
        root_mm=1000.0 * root_trajectory_error(pred, ref),
        scaled_mm=1000.0 * root_trajectory_error(pred, ref, align_scale=True),
        depth_pct=100.0 * float(np.median(pred[:, 2] / ref[:, 2]) - 1.0),
        focal_px=focal_px,
        frames=len(pred),
    )


def run_take(
    folder: str, subjects: list[tuple[float, float] | None]
) -> dict[tuple[str, str], list[RootScore]]:
    """(camera mode, system) -> RootScore per camera of one take."""
    cameras = read_calibration(POSE2SIM_CALIBRATION)
    raw, repaired = take_tracks(folder, subjects)
    _, worlds = references(cameras, raw)
    out: dict[tuple[str, str], list[RootScore]] = {(m, s): [] for m in CAMERAS for s in SYSTEMS}
    for c, camera in enumerate(cameras):
        ref = camera.to_camera(worlds[c])[:, HIPS].mean(axis=1)
        rows = np.flatnonzero(raw[c].found & np.isfinite(ref).all(axis=1))
        for mode, camera_kwargs in CAMERAS.items():
            focal = camera.intrinsics.fx if mode == CALIBRATED else None
            for name, kwargs in SYSTEMS.items():
                motion = api.lift(
                    repaired[c],
                    focal_px=focal,
                    device="cpu",
                    **camera_kwargs,
                    **kwargs,  # type: ignore[arg-type]
                )
                out[mode, name].append(
                    root_score(landmark_root(motion)[rows], ref[rows], float(motion.intrinsics.fx))
                )
    return out


def table(take: str, scores: dict[tuple[str, str], list[RootScore]]) -> str:
    """One take's markdown table: per camera mode and system, root error, scaled root error and depth."""
    cams = len(next(iter(scores.values())))
    head = f"| {take} | focal (px) | " + " | ".join(f"cam0{c + 1}" for c in range(cams)) + " | mean |"
    lines = [head, "|---|---|" + "---:|" * (cams + 1)]
    for metric, unit, fmt in (
        ("root_mm", "root error, mm", "{:.0f}"),
        ("scaled_mm", "root error after scale, mm", "{:.0f}"),
        ("depth_pct", "depth, %", "{:+.1f}"),
    ):
        for (mode, name), per_cam in scores.items():
            values = [getattr(s, metric) for s in per_cam]
            focal = " / ".join(f"{s.focal_px:.0f}" for s in per_cam) if name == next(iter(SYSTEMS)) else ""
            cells = " | ".join(fmt.format(v) for v in values)
            lines.append(f"| {mode}, {name}: {unit} | {focal} | {cells} | {fmt.format(np.mean(values))} |")
    first = next(iter(scores.values()))
    lines.append(f"| frames scored | | {' | '.join(str(s.frames) for s in first)} | |")
    return "\n".join(lines) + "\n"


def summary(takes: dict[str, dict[tuple[str, str], list[RootScore]]]) -> str:
    """Lines over every camera of every take: the worst depth per camera mode and system (and whether all lie
    within DEPTH_TARGET_PCT), and the temporal against the single-frame root error."""
    keys = list(next(iter(takes.values())))
    pooled = {k: [s for scores in takes.values() for s in scores[k]] for k in keys}
    lines = [f"Over all {len(pooled[keys[0]])} cameras of both takes:", ""]
    for mode, name in keys:
        depths = np.array([s.depth_pct for s in pooled[mode, name]])
        worst = depths[np.argmax(np.abs(depths))]
        verdict = "within" if np.all(np.abs(depths) <= DEPTH_TARGET_PCT) else "not within"
        lines.append(
            f"- {mode}, {name}: depth {depths.min():+.1f} to {depths.max():+.1f} % (worst {worst:+.1f} %), "
            f"{verdict} {DEPTH_TARGET_PCT:g} % on every camera"
        )
    temporal, refined, single = SYSTEMS
    lines.append("")
    for mode in CAMERAS:
        t, r, s = pooled[mode, temporal], pooled[mode, refined], pooled[mode, single]
        lines.append(
            f"- {mode}: mean root error {temporal} {np.mean([x.root_mm for x in t]):.0f} mm, {single} "
            f"{np.mean([x.root_mm for x in s]):.0f} mm ({refined}: {np.mean([x.root_mm for x in r]):.0f}); "
            f"after one scale per clip {np.mean([x.scaled_mm for x in t]):.0f} against "
            f"{np.mean([x.scaled_mm for x in s]):.0f} mm; mean depth {np.mean([x.depth_pct for x in t]):+.1f} "
            f"against {np.mean([x.depth_pct for x in s]):+.1f} %"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    args = parser.parse_args(argv)
    takes = {}
    for take, (folder, subjects) in POSE2SIM_TAKES.items():
        takes[take] = run_take(folder, subjects)
        print(table(take, takes[take]), flush=True)
    text = summary(takes)
    print(text, flush=True)
    if args.markdown is not None:
        command = "bench/real_depth.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        args.markdown.write_text(
            "# Real footage: the root in camera space and the person's depth\n\n"
            f"Made by `.venv/bin/python {command}`; what is measured and how: `bench/real_depth.py`.\n\n"
            + text
            + "\n"
            + NOTES
            + "\n"
            + "\n".join(table(take, scores) for take, scores in takes.items()),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
