"""Real-footage accuracy benchmark (issue 24): each camera of a calibrated multi-camera take scored as a monocular
video against the pseudo-ground truth the other cameras triangulate, for our lifter and for MediaPipe's own 3D.

    .venv/bin/python bench/real_footage.py --markdown docs/real_footage.md
    .venv/bin/python bench/real_footage.py --tune-world-cue --markdown docs/real_footage_cue.md

Takes: Pose2Sim's demo takes in `tests/data/pose2sim/` (four calibrated cameras, 60 fps): the single-person take,
and the multi-person take's man (his frame-0 point given per camera). Per camera, on the frames where the
reference exists (two other views), the subject was found and every system has an answer:
- systems: MediaPipe's world landmarks (the pose landmarker in video mode, as MediaPipe add-ons key them; on
  frames where everything but our tracked subject's box is blacked out, so it sees the same person); ours with the
  shipped temporal weights (`mocap`), the same with per-clip refinement (`--refine`), and the single-frame weights
  (`single_frame`); all lifted from the left/right-repaired track with the calibrated focal length; and the
  refinement with MediaPipe's world landmarks as a cue (`RefineConfig.world_weight`, the track's own
  `pose_world` from detection), or without it when the default has it;
- P-MPJPE: mean over the observed joints (`lifting.skeleton.observation_matrix`: the landmarks each of our
  joints corresponds to; MediaPipe and the reference are both BlazePose landmarks mapped the same way) after
  per-frame similarity Procrustes, mm;
- acceleration: mean norm of the observed joints' second difference after per-frame Procrustes onto the
  reference, mm/frame² at 60 fps (the reference's own is given for scale: it is triangulated MediaPipe, so it
  jitters too).
The reference is MediaPipe 2D from the other views, so it shares MediaPipe's idea of where a joint sits: the
numbers compare systems on equal terms, they are not errors against markers.

`--tune-world-cue`: the world-landmark cue's settings (`WORLD_CUE_GRID`) scored on the single-person take only
(cameras 1-4, P-MPJPE of the refined pose), where its weight was chosen, then the chosen settings and the
refinement without the cue on the two-person take, held out.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lifting.app import api  # noqa: E402
from lifting.app.pseudo_truth import references  # noqa: E402
from lifting.lift.lift import LiftOptions, lift_keypoints  # noqa: E402
from lifting.lift.refine import WORLD_CUE_WEIGHT, RefineConfig  # noqa: E402
from lifting.metrics import procrustes_align  # noqa: E402
from lifting.multiview import CalibratedCamera, read_calibration  # noqa: E402
from lifting.skeleton import BLAZEPOSE, OUTPUT, observation_matrix  # noqa: E402
from lifting.video2d.keypoints2d import Keypoints2D  # noqa: E402
from lifting.video2d.mediapipe_pose import import_mediapipe, load_pose_model  # noqa: E402
from lifting.video2d.swaps import repair_swaps  # noqa: E402
from lifting.video2d.video import frames as video_frames  # noqa: E402
from tests.support.paths import POSE2SIM, POSE2SIM_CALIBRATION, POSE2SIM_TAKES  # noqa: E402

FloatArray = npt.NDArray[np.float64]
SINGLE_FRAME = ROOT / "lifting" / "weights" / "single_frame"
# The refinement the default is not: with the world-landmark cue when the default goes without, and the other
# way round.
DEFAULT_HAS_CUE = RefineConfig().world_weight > 0
OTHER_REFINE = RefineConfig(world_weight=0.0 if DEFAULT_HAS_CUE else WORLD_CUE_WEIGHT)
SYSTEMS = (
    "MediaPipe world landmarks",
    "ours, network alone (--no-refine)",
    "ours, refined (the default)",
    "ours, refined without MediaPipe's world landmarks (world_weight 0)"
    if DEFAULT_HAS_CUE
    else f"ours, refined with MediaPipe's world landmarks (world_weight {WORLD_CUE_WEIGHT:g})",
    "ours, single-frame weights",
)
# The cue's settings tried on the single-person take (`--tune-world-cue`): RefineConfig fields beside the weight.
WORLD_CUE_GRID: tuple[dict[str, float | str], ...] = (
    {"world_weight": 0.0},
    {"world_weight": 1.0},
    {"world_weight": 2.0},
    {"world_weight": 4.0},
    {"world_weight": 8.0},
    {"world_weight": 2.0, "world_robust_scale": 0.05},
    {"world_weight": 2.0, "world_robust_scale": 0.1},
    {"world_weight": 2.0, "world_robust_scale": 0.5},
    {"world_weight": 2.0, "world_robust": "huber"},
    {"world_weight": 2.0, "world_form": "depth"},
    {"world_weight": 4.0, "world_form": "depth"},
    {"world_weight": 2.0, "world_window_s": 0.5},
    {"world_weight": 2.0, "world_window_s": 4.0},
    {"world_weight": 2.0, "world_axes": "network"},
)


@dataclass(frozen=True)
class Score:
    """One system on one camera: P-MPJPE (mm) and acceleration (mm/frame²) over `frames` frames."""

    p_mpjpe_mm: float
    accel_mm: float
    frames: int


def mediapipe_world(video: Path, track: Keypoints2D) -> FloatArray:
    """MediaPipe's world landmarks (T, 33, 3) metres (x right, y down, z away from the camera, origin between the
    hips) per frame of `video`, NaN where the subject was not found or MediaPipe saw nobody. Video mode; each
    frame blacked out outside our subject's landmark box grown by a third of its size."""
    mp = import_mediapipe()
    vision = mp.tasks.vision
    options = vision.PoseLandmarkerOptions(
        base_options=mp.tasks.BaseOptions(model_asset_buffer=load_pose_model()),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=1,
    )
    out = np.full((track.num_frames, 33, 3), np.nan)
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for i, frame in enumerate(video_frames(video)):
            if i >= track.num_frames:
                break
            if not track.found[i]:
                continue
            pts = track.keypoints[i]
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            pad = (hi - lo) / 3.0
            x0, y0 = np.maximum((lo - pad).astype(int), 0)
            x1, y1 = (hi + pad).astype(int)
            rgb = np.zeros_like(frame.image)
            rgb[y0:y1, x0:x1] = frame.image[y0:y1, x0:x1, ::-1]
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
            result = landmarker.detect_for_video(image, round(frame.time * 1000.0))
            if result.pose_world_landmarks:
                out[i] = [[p.x, p.y, p.z] for p in result.pose_world_landmarks[0]]
    return out


def score(pred: FloatArray, ref: FloatArray) -> tuple[float, float]:
    """(P-MPJPE mm, acceleration mm/frame² after Procrustes) of pred (N, K, 3) against ref (N, K, 3); the
    acceleration over consecutive rows only (callers pass consecutive frames)."""
    aligned = procrustes_align(pred, ref)
    p_mpjpe = 1000.0 * float(np.linalg.norm(aligned - ref, axis=-1).mean())
    accel = 1000.0 * float(np.linalg.norm(np.diff(aligned, n=2, axis=0), axis=-1).mean())
    return p_mpjpe, accel


@dataclass(frozen=True)
class Take:
    """One take's cameras: the videos, the tracks as detected and left/right-repaired, and the reference in each
    camera's frame at the observed joints (T, K, 3) m."""

    cameras: list[CalibratedCamera]
    videos: list[Path]
    raw: list[Keypoints2D]
    repaired: list[Keypoints2D]
    references: list[FloatArray]


def take_videos(folder: str, cameras: int) -> list[Path]:
    """The videos of a Pose2Sim take (folder under tests/data/pose2sim), camera 1 first."""
    return [POSE2SIM / folder / f"cam0{c + 1}.mp4" for c in range(cameras)]


def take_tracks(
    folder: str, subjects: list[tuple[float, float] | None]
) -> tuple[list[Keypoints2D], list[Keypoints2D]]:
    """(raw, repaired) tracks of each camera of a take: detected (cached) following `subjects` (one frame-0 point
    or None per camera), as detected and with left/right swaps repaired (what `api.detect` returns by default)."""
    videos = take_videos(folder, len(subjects))
    raw = [api.detect(v, subject=s, repair_lr=False) for v, s in zip(videos, subjects, strict=True)]
    return raw, [repair_swaps(k)[0] for k in raw]


def load_take(folder: str, subjects: list[tuple[float, float] | None]) -> Take:
    cameras: list[CalibratedCamera] = read_calibration(POSE2SIM_CALIBRATION)
    videos = take_videos(folder, len(cameras))
    raw, repaired = take_tracks(folder, subjects)
    _, worlds = references(cameras, raw)
    _, matrix = observation_matrix(BLAZEPOSE, OUTPUT)
    refs = [
        np.einsum("kj,tjd->tkd", matrix, cam.to_camera(w)) for cam, w in zip(cameras, worlds, strict=True)
    ]
    return Take(cameras, videos, raw, repaired, refs)


def refined(keypoints: Keypoints2D, focal_px: float, config: RefineConfig) -> FloatArray:
    """Our refined lift with `config`, at the observed joints (T, K, 3) m."""
    observed, _ = observation_matrix(BLAZEPOSE, OUTPUT)
    options = LiftOptions(focal_px=focal_px, refine=True, refine_config=config)
    return lift_keypoints(keypoints, options).absolute_joints()[:, observed]


def run_take(folder: str, subjects: list[tuple[float, float] | None]) -> dict[str, list[Score]]:
    """Each system's score per camera of one take (plus the reference's own acceleration)."""
    take = load_take(folder, subjects)
    observed, matrix = observation_matrix(BLAZEPOSE, OUTPUT)
    raw, repaired, videos = take.raw, take.repaired, take.videos
    out: dict[str, list[Score]] = {name: [] for name in (*SYSTEMS, "reference (its own acceleration)")}
    for c, camera in enumerate(take.cameras):
        fx = camera.intrinsics.fx
        ref = take.references[c]
        preds = {
            SYSTEMS[0]: np.einsum("kj,tjd->tkd", matrix, mediapipe_world(videos[c], raw[c])),
            SYSTEMS[1]: api.lift(repaired[c], focal_px=fx).absolute_joints()[:, observed],
            SYSTEMS[2]: api.lift(repaired[c], focal_px=fx, refine=True).absolute_joints()[:, observed],
            SYSTEMS[3]: refined(repaired[c], fx, OTHER_REFINE),
            SYSTEMS[4]: api.lift(repaired[c], focal_px=fx, weights=SINGLE_FRAME).absolute_joints()[
                :, observed
            ],
        }
        ok = raw[c].found & np.isfinite(ref).all(axis=(1, 2))
        for p in preds.values():
            ok &= np.isfinite(p).all(axis=(1, 2))
        rows = np.flatnonzero(ok)
        # Acceleration over the longest run of consecutive frames.
        runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
        run = max(runs, key=len)
        for name, p in preds.items():
            p_mpjpe, _ = score(p[rows], ref[rows])
            _, accel = score(p[run], ref[run])
            out[name].append(Score(p_mpjpe, accel, len(rows)))
        own = 1000.0 * float(np.linalg.norm(np.diff(ref[run], n=2, axis=0), axis=-1).mean())
        out["reference (its own acceleration)"].append(Score(float("nan"), own, len(run)))
    return out


def table(take: str, scores: dict[str, list[Score]]) -> str:
    cams = len(next(iter(scores.values())))
    head = "| " + take + " | " + " | ".join(f"cam0{c + 1}" for c in range(cams)) + " | mean |"
    lines = [head, "|---|" + "---|" * (cams + 1)]
    for metric, unit in (("p_mpjpe_mm", "P-MPJPE, mm"), ("accel_mm", "acceleration, mm/frame²")):
        for name, per_cam in scores.items():
            values = [getattr(s, metric) for s in per_cam]
            if not np.isfinite(values).any():
                continue
            cells = " | ".join(f"{v:.1f}" for v in values)
            lines.append(f"| {name}: {unit} | {cells} | {np.nanmean(values):.1f} |")
    frames = " | ".join(str(s.frames) for s in scores[SYSTEMS[0]])
    lines.append(f"| frames scored | {frames} | |")
    return "\n".join(lines) + "\n"


def cue_scores(take: Take, configs: list[dict[str, float | str]]) -> list[list[float]]:
    """P-MPJPE (mm) per setting and camera of our refined lift with the world-landmark cue set as in each of
    `configs` (RefineConfig fields), on the frames where the reference exists and the subject was found."""
    out = []
    for fields in configs:
        config = RefineConfig(**fields)  # type: ignore[arg-type]
        row = []
        for c, camera in enumerate(take.cameras):
            pred, ref = refined(take.repaired[c], camera.intrinsics.fx, config), take.references[c]
            ok = take.raw[c].found & np.isfinite(ref).all(axis=(1, 2)) & np.isfinite(pred).all(axis=(1, 2))
            row.append(score(pred[ok], ref[ok])[0])
        out.append(row)
        print(fields, " ".join(f"{v:.1f}" for v in row), f"mean {np.mean(row):.1f}", flush=True)
    return out


def cue_table(title: str, configs: list[dict[str, float | str]], scores: list[list[float]]) -> str:
    cams = len(scores[0])
    lines = [
        f"| {title} | " + " | ".join(f"cam0{c + 1}" for c in range(cams)) + " | mean |",
        "|---|" + "---|" * (cams + 1),
    ]
    for fields, row in zip(configs, scores, strict=True):
        name = ", ".join(f"{k} {v}" for k, v in fields.items())
        lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in row) + f" | {np.mean(row):.1f} |")
    return "\n".join(lines) + "\n"


def tune_world_cue() -> list[str]:
    """`--tune-world-cue`: the grid on the single-person take, the chosen weight and none on the held-out take."""
    (tune_name, tune), (held_name, held) = list(POSE2SIM_TAKES.items())[:2]
    grid = [dict(g) for g in WORLD_CUE_GRID]
    parts = [cue_table(f"{tune_name}: refined P-MPJPE, mm", grid, cue_scores(load_take(*tune), grid))]
    chosen: list[dict[str, float | str]] = [{"world_weight": 0.0}, {"world_weight": WORLD_CUE_WEIGHT}]
    held_scores = cue_scores(load_take(*held), chosen)
    parts.append(cue_table(f"{held_name} (held out): refined P-MPJPE, mm", chosen, held_scores))
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument(
        "--tune-world-cue",
        action="store_true",
        help="score the world-landmark cue's settings (the single-person take; the two-person take held out)",
    )
    args = parser.parse_args(argv)
    parts = []
    if args.tune_world_cue:
        parts = tune_world_cue()
        title = "Real footage: the MediaPipe world-landmark cue of refinement"
    else:
        title = "Real footage: each camera against the others"
        for take, (folder, subjects) in POSE2SIM_TAKES.items():
            parts.append(table(take, run_take(folder, subjects)))
            print(parts[-1], flush=True)
    if args.markdown is not None:
        command = "bench/real_footage.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        args.markdown.write_text(
            f"# {title}\n\n"
            f"Made by `.venv/bin/python {command}`; what is measured and how: `bench/real_footage.py`.\n\n"
            + "\n".join(parts),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
