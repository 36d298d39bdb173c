"""Head and hand orientations (issue 23): the head's pitch and yaw against real multi-camera footage, the hands'
twist between keys on the sample clip, before and after `lifting.lift.orientations`.

    .venv/bin/python bench/orientations.py --markdown docs/orientations.md

Head, against pseudo-ground truth: Pose2Sim's calibrated four-camera takes (`tests/data/pose2sim/`, the takes and
subjects of `bench/real_footage.py`). For each camera the other cameras' MediaPipe landmarks are triangulated
(`lifting.app.pseudo_truth.references`); on each frame where the nose, both ears and at least two eyes are
triangulated, the anatomical face model (`lifting.landmarks.FACE_OFFSETS`, `FACE_POINTS`) is fitted to them
(Kabsch; frames whose fit leaves more than 4 cm RMS are dropped) and gives the person's head frame. The camera,
scored as a monocular video, is lifted with the shipped weights and its calibrated focal length; its head frame
goes to the world through the calibration. Pitch: the elevation of the head's forward axis above the world's
horizontal (positive looking up); yaw: the angle between the true and our forward axes seen from above; facing:
the median angle, seen from above, between the person's true forward and the direction to the camera (above 90°
the camera sees the back of the head, where MediaPipe still places a face, with visibility near 1). "Before" is
the head frame the joints give (head → nose, up towards neck → head: what the head bone followed), "after" the
fitted one (`Motion3D.orientations`). The reference is MediaPipe's own 2D from the other views, so it shares
MediaPipe's idea of where the face landmarks sit, and on cameras 1 and 2 two of the three other views see the
back of the head.

Choosing the head's settings (`--grid`): on the single-person take only (the two-person take is held out), every
combination of the face model (`FACE_MODEL` or the anatomical `FACE_POINTS`), `head_neutral_pitch_deg`,
`head_pitch_prior_deg` and `head_smooth_s` on a small grid; the rule: the lowest worst-camera pitch error, where
several lie within 0.5° of it (below what the reference resolves) the lowest mean yaw error. `--face-model`
prints `FACE_MODEL`: MediaPipe's landmarks triangulated on the single-person take (each camera's reference, the
frames scored above), turned into the head frame the anatomical model fits, averaged, made left/right symmetric.

Hands, on the sample clip (`../shared/data/video/sports2d_demo.mp4`): the motion retargeted (`retarget.pipeline`)
onto our armature and onto the rest skeletons of the Rigify metarig and Mesh2Motion (`tests/data/rigs/`); per
hand bone, the largest change between consecutive keys of its twist (the swing-twist angle of its local rotation
about its own Y axis, wrapped to ±180°). Head on those rigs: the median pitch of the rig's head (its rest forward,
the rest body's, turned by the head bone's posed rotation) over the frames where the person stands upright (trunk
within 15° of vertical), before and after.
"""

from __future__ import annotations

import argparse
import itertools
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.real_footage import take_tracks  # noqa: E402
from lifting.app import api  # noqa: E402
from lifting.app.pseudo_truth import references  # noqa: E402
from lifting.lift.orientations import (  # noqa: E402
    FACE_INDICES,
    FACE_MIRROR,
    FACE_MODEL,
    FACE_POINTS,
    OrientationConfig,
    head_orientation,
    joints_head_frame,
    normalised_landmarks,
)
from lifting.multiview import CalibratedCamera, read_calibration  # noqa: E402
from lifting.skeleton import BLAZEPOSE  # noqa: E402
from lifting.video2d.keypoints2d import Keypoints2D  # noqa: E402
from retarget.animation import pose_matrices  # noqa: E402
from retarget.mapping import body_axes  # noqa: E402
from retarget.motion3d import Motion3D  # noqa: E402
from retarget.pipeline import RetargetConfig, retarget, retarget_onto_ours  # noqa: E402
from retarget.quaternions import quat_to_matrix  # noqa: E402
from retarget.rest_skeleton import RestSkeleton  # noqa: E402
from retarget.solve import build_plan  # noqa: E402
from tests.support.paths import POSE2SIM_CALIBRATION, POSE2SIM_TAKES  # noqa: E402

FloatArray = npt.NDArray[np.float64]
SAMPLE = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
RIGS = {
    "ours": None,
    "Rigify metarig": ROOT / "tests" / "data" / "rigs" / "rigify_metarig_tpose.json",
    "Mesh2Motion": ROOT / "tests" / "data" / "rigs" / "mesh2motion_human.json",
}
MAX_FIT_RMS = 0.04
UPRIGHT_DEG = 15.0


def fit_face(points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Head frames (T, 3, 3) (columns left, up, forward) fitted to triangulated face landmarks (T, K, 3) in
    `FACE_INDICES` order (NaN where missing) by Kabsch, and the fit's RMS (T,) metres (NaN where too few)."""
    rot = np.full((len(points), 3, 3), np.nan)
    rms = np.full(len(points), np.nan)
    names = [BLAZEPOSE.names[i] for i in FACE_INDICES]
    need = [names.index(n) for n in ("nose", "left_ear", "right_ear")]
    eyes = [k for k, n in enumerate(names) if "eye" in n]
    for t, p in enumerate(points):
        ok = np.isfinite(p).all(axis=1)
        if not ok[need].all() or ok[eyes].sum() < 2:
            continue
        a, b = FACE_POINTS[ok], p[ok]
        ca, cb = a.mean(axis=0), b.mean(axis=0)
        u, _, vt = np.linalg.svd((b - cb).T @ (a - ca))
        d = np.sign(np.linalg.det(u @ vt))
        r = u @ np.diag([1.0, 1.0, d]) @ vt
        rot[t] = r
        rms[t] = float(np.sqrt(((b - cb - (a - ca) @ r.T) ** 2).sum(axis=1).mean()))
    return rot, rms


def pitch_yaw(forward: FloatArray, up: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Pitch (T,) degrees of forward axes (T, 3) above the plane normal to `up`, and their heading (T,) radians
    in that plane (for yaw differences)."""
    f = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    pitch = np.degrees(np.arcsin(np.clip(f @ up, -1.0, 1.0)))
    e1 = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    return pitch, np.arctan2(f @ e2, f @ e1)


@dataclass(frozen=True)
class CameraCase:
    """One camera of a take scored as a monocular video: its calibration, what it sees (as detected and repaired),
    the lifted motion, the world's up, the reference head frames (T, 3, 3) (world) and the frames scored."""

    camera: CalibratedCamera
    raw: Keypoints2D
    repaired: Keypoints2D
    world: FloatArray
    motion: Motion3D
    up: FloatArray
    truth: FloatArray
    rows: npt.NDArray[np.int64]


def camera_cases(folder: str, subjects: list[tuple[float, float] | None]) -> list[CameraCase]:
    """Every camera of a take (folder under tests/data/pose2sim), with the other cameras' reference."""
    cameras = read_calibration(POSE2SIM_CALIBRATION)
    raw, repaired = take_tracks(folder, subjects)
    _, worlds = references(cameras, raw)
    out = []
    for c, camera in enumerate(cameras):
        world = worlds[c]
        # The world's up: the calibration axis nearest the person's median ankles → shoulders direction.
        body = np.nanmedian(
            world[:, BLAZEPOSE.indices(["left_shoulder", "right_shoulder"])].mean(axis=1)
            - world[:, BLAZEPOSE.indices(["left_ankle", "right_ankle"])].mean(axis=1),
            axis=0,
        )
        axis = int(np.argmax(np.abs(body)))
        up = np.eye(3)[axis] * np.sign(body[axis])
        truth, rms = fit_face(world[:, FACE_INDICES])
        motion = api.lift(repaired[c], focal_px=camera.intrinsics.fx)
        rows = np.flatnonzero(raw[c].found & (rms < MAX_FIT_RMS))
        out.append(CameraCase(camera, raw[c], repaired[c], world, motion, up, truth, rows))
    return out


def fitted_head(case: CameraCase, config: OrientationConfig, model: FloatArray = FACE_MODEL) -> FloatArray:
    """The head frames (T, 3, 3) in the world that `head_orientation` gives the case's lifted motion."""
    m = case.motion
    xy, vis = normalised_landmarks(m, case.repaired)
    rot, _ = head_orientation(m.absolute_joints(), m.index, xy, vis, m.fps, m.intrinsics.fx, config, model)
    out: FloatArray = case.camera.rotation.T @ rot
    return out


def head_score(case: CameraCase, heads: dict[str, FloatArray]) -> dict[str, float]:
    """Frames scored, facing, the true mean pitch, and per named head frames (T, 3, 3) (world) the mean pitch,
    mean |pitch error| and mean |yaw error| (degrees)."""
    rows = case.rows
    forward = case.truth[rows][:, :, 2]
    p_true, h_true = pitch_yaw(forward, case.up)
    head_at = case.world[rows][:, BLAZEPOSE.indices(["left_ear", "right_ear"])].mean(axis=1)
    _, h_cam = pitch_yaw(case.camera.position - head_at, case.up)
    facing = np.degrees(np.abs((h_cam - h_true + np.pi) % (2.0 * np.pi) - np.pi))
    score = {
        "frames": float(len(rows)),
        "facing": float(np.median(facing)),
        "true pitch": float(p_true.mean()),
    }
    for name, rot in heads.items():
        p, h = pitch_yaw(rot[rows][:, :, 2], case.up)
        yaw = np.degrees(np.abs((h - h_true + np.pi) % (2.0 * np.pi) - np.pi))
        score[f"pitch {name}"] = float(p.mean())
        score[f"pitch error {name}"] = float(np.abs(p - p_true).mean())
        score[f"yaw error {name}"] = float(yaw.mean())
    return score


def head_scores(cases: list[CameraCase]) -> list[dict[str, float]]:
    """Per camera: `head_score` of the joints' head frame ("before") and the shipped fit ("after")."""
    out = []
    for case in cases:
        a, ix = case.motion.absolute_joints(), case.motion.index
        before = case.camera.rotation.T @ joints_head_frame(
            a[:, ix["head"]], a[:, ix["nose"]], a[:, ix["neck"]]
        )
        head = case.motion.orientation("head")
        assert head is not None
        after = case.camera.rotation.T @ quat_to_matrix(head)
        out.append(head_score(case, {"before": before, "after": after}))
    return out


def face_model(cases: list[CameraCase]) -> FloatArray:
    """MediaPipe's face landmarks (K, 3) (`FACE_INDICES` order) in the anatomical head frame: each scored frame's
    triangulated landmarks (all K present) turned into the frame `fit_face` gave it, centred on FACE_POINTS'
    centre, averaged over the cases' frames, then left/right symmetric (x mirrored)."""
    local = []
    for case in cases:
        points = case.world[case.rows][:, FACE_INDICES]
        full = np.isfinite(points).all(axis=(1, 2))
        p, r = points[full], case.truth[case.rows][full]
        local.append(
            np.einsum("tki,tij->tkj", p - p.mean(axis=1, keepdims=True), r) + FACE_POINTS.mean(axis=0)
        )
    mean = np.concatenate(local).mean(axis=0)
    mirrored = mean[FACE_MIRROR] * np.array([-1.0, 1.0, 1.0])
    out: FloatArray = 0.5 * (mean + mirrored)
    return out


GRID_MODELS = {"MediaPipe's (FACE_MODEL)": FACE_MODEL, "anatomical (FACE_POINTS)": FACE_POINTS}
GRID_NEUTRAL_PITCH = (10.0, 15.0, 20.0, 25.0)
GRID_PITCH_PRIOR = (4.0, 6.0, 8.0)
GRID_SMOOTH = (0.1, 0.2, 0.3)
TIE_DEG = 0.5


def grid_table(cases: list[CameraCase]) -> str:
    """The settings grid on `cases` (module docstring), one row per combination, the chosen one marked."""
    rows = []
    for name, model in GRID_MODELS.items():
        for neutral, prior, smooth in itertools.product(GRID_NEUTRAL_PITCH, GRID_PITCH_PRIOR, GRID_SMOOTH):
            config = replace(
                OrientationConfig(),
                head_neutral_pitch_deg=neutral,
                head_pitch_prior_deg=prior,
                head_smooth_s=smooth,
            )
            scores = [head_score(c, {"x": fitted_head(c, config, model)}) for c in cases]
            pitch = [s["pitch error x"] for s in scores]
            rows.append(
                (name, neutral, prior, smooth, pitch, float(np.mean([s["yaw error x"] for s in scores])))
            )
            print(rows[-1], flush=True)
    best = min(max(r[4]) for r in rows)
    chosen = min((r for r in rows if max(r[4]) <= best + TIE_DEG), key=lambda r: r[5])
    shipped = OrientationConfig()
    lines = [
        "| face model | neutral pitch, ° | pitch prior, ° | smoothing, s | pitch error per camera, ° | worst | mean "
        "| yaw error, ° | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mark = "chosen" if r is chosen else ""
        if r[0].endswith("(FACE_MODEL)") and (r[1], r[2], r[3]) == (
            shipped.head_neutral_pitch_deg,
            shipped.head_pitch_prior_deg,
            shipped.head_smooth_s,
        ):
            mark = (mark + ", shipped").lstrip(", ")
        lines.append(
            f"| {r[0]} | {r[1]:.0f} | {r[2]:.0f} | {r[3]:.1f} | {' / '.join(f'{x:.1f}' for x in r[4])} | "
            f"{max(r[4]):.2f} | {np.mean(r[4]):.2f} | {r[5]:.2f} | {mark} |"
        )
    return "\n".join(lines) + "\n"


def head_table(scores: dict[str, list[dict[str, float]]]) -> str:
    lines = [
        "| take | camera | frames | facing, ° | true pitch, ° | our pitch before / after, ° "
        "| pitch error before / after, ° | yaw error before / after, ° |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def mean_row(label: str, every: list[dict[str, float]]) -> str:
        mean = {k: float(np.mean([s[k] for s in every])) for k in every[0]}
        worst = max(s["pitch error after"] for s in every)
        return (
            f"| {label} | | | | {mean['true pitch']:.1f} | {mean['pitch before']:.1f} / "
            f"{mean['pitch after']:.1f} | {mean['pitch error before']:.1f} / {mean['pitch error after']:.1f} "
            f"(worst {worst:.1f}) | {mean['yaw error before']:.1f} / {mean['yaw error after']:.1f} |"
        )

    for take, per_cam in scores.items():
        for c, s in enumerate(per_cam):
            lines.append(
                f"| {take} | cam0{c + 1} | {s['frames']:.0f} | {s['facing']:.0f} | {s['true pitch']:.1f} | "
                f"{s['pitch before']:.1f} / {s['pitch after']:.1f} | {s['pitch error before']:.1f} / "
                f"{s['pitch error after']:.1f} | {s['yaw error before']:.1f} / {s['yaw error after']:.1f} |"
            )
    for take, per_cam in scores.items():
        lines.append(mean_row(f"mean, {take}", per_cam))
    lines.append(mean_row("mean of the cameras", [s for per_cam in scores.values() for s in per_cam]))
    return "\n".join(lines) + "\n"


def twist(q: FloatArray) -> FloatArray:
    """Twist (degrees) about the bone's Y axis of local rotations (..., 4) (w, x, y, z)."""
    return np.degrees(2.0 * np.arctan2(q[..., 2], q[..., 0]))


def rig_scores(motion: Motion3D) -> dict[str, dict[str, float]]:
    """Per rig and before/after: the largest twist change between keys per hand bone, and the median head pitch
    over the upright frames."""
    out: dict[str, dict[str, float]] = {}
    plain = replace(motion, orientations=None, orientation_names=())
    for rig, path in RIGS.items():
        for label, m in (("before", plain), ("after", motion)):
            if path is None:
                rest, result = retarget_onto_ours(m, RetargetConfig())
            else:
                rest = RestSkeleton.load_json(path)
                result = retarget(m, rest, RetargetConfig())
            anim = result.animation
            row: dict[str, float] = {}
            for k, bone in enumerate(anim.bone_names):
                plan_wrists = {result.bone_map.drive[f"{s}_wrist"]: s for s in "lr"}
                if bone in plan_wrists:
                    change = np.abs((np.diff(twist(anim.rotations[:, k])) + 180.0) % 360.0 - 180.0)
                    row[f"{plan_wrists[bone]} hand twist change"] = float(change.max())
            plan = build_plan(rest, result.bone_map, m.joint_names)
            head = rest.bone(result.bone_map.drive["head"])
            pose = pose_matrices(rest, anim)[:, head, :3, :3]
            delta = pose @ rest.rotations[head].T
            _, forward, _ = body_axes(*(plan.sites[n] for n in ("pelvis", "neck", "l_hip", "r_hip")))
            pitch, _ = pitch_yaw(delta @ forward, np.array([0.0, 0.0, 1.0]))
            w, ix = result.world_joints, m.index
            trunk = w[:, ix["neck"]] - w[:, ix["pelvis"]]
            lean = np.degrees(np.arccos(trunk[:, 2] / np.linalg.norm(trunk, axis=-1)))
            upright = lean < UPRIGHT_DEG
            row["upright frames"] = float(upright.sum())
            row["head pitch upright"] = float(np.median(pitch[upright]))
            out[f"{rig}|{label}"] = row
    return out


def rig_table(scores: dict[str, dict[str, float]]) -> str:
    lines = [
        "| rig | largest left hand twist change between keys, ° (before / after) | right hand | "
        "head pitch on upright frames, median ° (before / after) | upright frames |",
        "|---|---|---|---|---|",
    ]
    for rig in RIGS:
        b, a = scores[f"{rig}|before"], scores[f"{rig}|after"]
        lines.append(
            f"| {rig} | {b['l hand twist change']:.1f} / {a['l hand twist change']:.1f} | "
            f"{b['r hand twist change']:.1f} / {a['r hand twist change']:.1f} | "
            f"{b['head pitch upright']:.1f} / {a['head pitch upright']:.1f} | {a['upright frames']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument(
        "--grid", action="store_true", help="also score the head's settings grid on the single-person take"
    )
    parser.add_argument(
        "--face-model",
        action="store_true",
        help="only print FACE_MODEL as measured on the single-person take",
    )
    args = parser.parse_args(argv)
    cases = {take: camera_cases(folder, subjects) for take, (folder, subjects) in POSE2SIM_TAKES.items()}
    chosen_on = next(iter(POSE2SIM_TAKES))
    if args.face_model:
        print(np.array2string(face_model(cases[chosen_on]).round(4), separator=", "))
        return 0
    part1 = head_table({take: head_scores(c) for take, c in cases.items()})
    print(part1, flush=True)
    grid = grid_table(cases[chosen_on]) if args.grid else ""
    print(grid, flush=True)
    motion = api.lift(api.detect(SAMPLE))
    part2 = rig_table(rig_scores(motion))
    print(part2, flush=True)
    if args.markdown is not None:
        command = "bench/orientations.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        shipped = OrientationConfig()
        settings = (
            f"The head's settings (`OrientationConfig`: neutral pitch {shipped.head_neutral_pitch_deg:g}°, pitch "
            f"prior {shipped.head_pitch_prior_deg:g}°, yaw/roll prior {shipped.head_prior_deg:g}°, smoothing "
            f"{shipped.head_smooth_s:g} s) and `FACE_MODEL` were chosen on the {chosen_on} take (grid below); the "
            "other take is held out (the same man, cameras and room: held out in frames, not in conditions).\n\n"
            "What limits the pitch: a face seen from the front shows its pitch only through the small vertical "
            "offset between MediaPipe's ears and the rest of the face, and MediaPipe places the ears differently "
            "from view to view by about as much, so a pitch fitted freely to one camera's face is mostly that "
            "camera's error. The fit therefore leans on a neutral head (the trunk's frame turned to the joints' "
            "heading, pitched down by the neutral pitch) with a pitch prior tighter than the yaw's: on exact "
            "landmarks of a frontal face 10° below the neutral, the pitch moves 1.5-5° of the way "
            "(tests/lift/test_orientations.py). On cameras 3 and 4 (facing above 90°) MediaPipe's face is a guess "
            "on the back of the head; it still carries some of the pitch (the ears are seen). Cameras 1 and 2 are "
            "scored against references that come from one other view of the face and two of the back of the head."
        )
        text = (
            "# Head and hand orientations\n\n"
            f"Made by `.venv/bin/python {command}`; what is measured and how: `bench/orientations.py`.\n\n"
            "## Head pitch and yaw against the other cameras (Pose2Sim takes)\n\n" + settings + "\n\n" + part1
        )
        if grid:
            text += (
                f"\n## Choosing the head's settings ({chosen_on} take only)\n\n"
                f"Cameras 1-4 of the {chosen_on} take; the rule: the lowest worst-camera pitch error, among the "
                f"settings within {TIE_DEG:g}° of it the lowest mean yaw error.\n\n" + grid
            )
        text += "\n## Hands' twist between keys and the head's pitch on rigs (sample clip)\n\n" + part2
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
