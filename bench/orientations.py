"""Head and hand orientations (issue 23): the head's pitch and yaw against real multi-camera footage, the hands'
twist between keys on the sample clip, before and after `lifting.lift.orientations`.

    .venv/bin/python bench/orientations.py --markdown docs/orientations.md

Head, against pseudo-ground truth: Pose2Sim's calibrated four-camera takes (`tests/data/pose2sim/`, the takes and
subjects of `bench/real_footage.py`). For each camera the other cameras' MediaPipe landmarks are triangulated
(`lifting.app.pseudo_truth.references`); on each frame where the nose, both ears and at least two eyes are
triangulated, the face model (`lifting.landmarks.FACE_OFFSETS`) is fitted to them (weighted Kabsch; frames
whose fit leaves more than 4 cm RMS are dropped) and gives the person's head frame. The camera, scored as a
monocular video, is lifted with the shipped weights and its calibrated focal length; its head frame goes to the
world through the calibration. Pitch: the elevation of the head's forward axis above the world's horizontal
(positive looking up); yaw: the angle between the true and our forward axes seen from above. "Before" is the
head frame the joints give (head → nose, up towards neck → head: what the head bone followed), "after" the
fitted one (`Motion3D.orientations`). The reference is MediaPipe's own 2D from the other views, so it shares
MediaPipe's idea of where the face landmarks sit. `OrientationConfig.head_prior_deg` and `smooth_s` were chosen
on these takes, so the head numbers are not held out.

Hands, on the sample clip (`../shared/data/video/sports2d_demo.mp4`): the motion retargeted (`retarget.pipeline`)
onto our armature and onto the rest skeletons of the Rigify metarig and Mesh2Motion (`tests/data/rigs/`); per
hand bone, the largest change between consecutive keys of its twist (the swing-twist angle of its local rotation
about its own Y axis, wrapped to ±180°). Head on those rigs: the median pitch of the rig's head (its rest forward,
the rest body's, turned by the head bone's posed rotation) over the frames where the person stands upright (trunk
within 15° of vertical), before and after.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lifting.app import api  # noqa: E402
from lifting.app.pseudo_truth import references  # noqa: E402
from lifting.lift.orientations import FACE_INDICES, FACE_POINTS, joints_head_frame  # noqa: E402
from lifting.multiview import read_calibration  # noqa: E402
from lifting.skeleton import BLAZEPOSE  # noqa: E402
from lifting.video2d.swaps import repair_swaps  # noqa: E402
from retarget.animation import pose_matrices  # noqa: E402
from retarget.mapping import body_axes  # noqa: E402
from retarget.motion3d import Motion3D  # noqa: E402
from retarget.pipeline import RetargetConfig, retarget, retarget_onto_ours  # noqa: E402
from retarget.quaternions import quat_to_matrix  # noqa: E402
from retarget.rest_skeleton import RestSkeleton  # noqa: E402
from retarget.solve import build_plan  # noqa: E402
from tests.support.paths import POSE2SIM, POSE2SIM_CALIBRATION, POSE2SIM_TAKES  # noqa: E402

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


def head_scores(folder: str, subjects: list[tuple[float, float] | None]) -> list[dict[str, float]]:
    """Per camera: frames scored, the true mean pitch, mean |pitch error| and |yaw error| before and after."""
    cameras = read_calibration(POSE2SIM_CALIBRATION)
    videos = [POSE2SIM / folder / f"cam0{c + 1}.mp4" for c in range(len(cameras))]
    raw = [api.detect(v, subject=s, repair_lr=False) for v, s in zip(videos, subjects, strict=True)]
    repaired = [repair_swaps(k)[0] for k in raw]
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
        a, ix = motion.absolute_joints(), motion.index
        to_world = camera.rotation.T
        before = to_world @ joints_head_frame(a[:, ix["head"]], a[:, ix["nose"]], a[:, ix["neck"]])
        head = motion.orientation("head")
        assert head is not None
        after = to_world @ quat_to_matrix(head)
        rows = np.flatnonzero(raw[c].found & (rms < MAX_FIT_RMS))
        p_true, h_true = pitch_yaw(truth[rows][:, :, 2], up)
        score = {"frames": float(len(rows)), "true pitch": float(p_true.mean())}
        for name, rot in (("before", before), ("after", after)):
            p, h = pitch_yaw(rot[rows][:, :, 2], up)
            yaw = np.degrees(np.abs((h - h_true + np.pi) % (2.0 * np.pi) - np.pi))
            score[f"pitch {name}"] = float(p.mean())
            score[f"pitch error {name}"] = float(np.abs(p - p_true).mean())
            score[f"yaw error {name}"] = float(yaw.mean())
        out.append(score)
    return out


def head_table(scores: dict[str, list[dict[str, float]]]) -> str:
    lines = [
        "| take | camera | frames | true pitch, ° | our pitch before / after, ° | pitch error before / after, ° "
        "| yaw error before / after, ° |",
        "|---|---|---|---|---|---|---|",
    ]
    for take, per_cam in scores.items():
        for c, s in enumerate(per_cam):
            lines.append(
                f"| {take} | cam0{c + 1} | {s['frames']:.0f} | {s['true pitch']:.1f} | {s['pitch before']:.1f} / "
                f"{s['pitch after']:.1f} | {s['pitch error before']:.1f} / {s['pitch error after']:.1f} | "
                f"{s['yaw error before']:.1f} / {s['yaw error after']:.1f} |"
            )
    every = [s for per_cam in scores.values() for s in per_cam]
    mean = {k: float(np.mean([s[k] for s in every])) for k in every[0]}
    lines.append(
        f"| mean of the cameras | | | {mean['true pitch']:.1f} | {mean['pitch before']:.1f} / "
        f"{mean['pitch after']:.1f} | {mean['pitch error before']:.1f} / {mean['pitch error after']:.1f} | "
        f"{mean['yaw error before']:.1f} / {mean['yaw error after']:.1f} |"
    )
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
    args = parser.parse_args(argv)
    heads = {take: head_scores(folder, subjects) for take, (folder, subjects) in POSE2SIM_TAKES.items()}
    part1 = head_table(heads)
    print(part1, flush=True)
    motion = api.lift(api.detect(SAMPLE))
    part2 = rig_table(rig_scores(motion))
    print(part2, flush=True)
    if args.markdown is not None:
        command = "bench/orientations.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        args.markdown.write_text(
            "# Head and hand orientations\n\n"
            f"Made by `.venv/bin/python {command}`; what is measured and how: `bench/orientations.py`.\n\n"
            "## Head pitch and yaw against the other cameras (Pose2Sim takes)\n\n"
            "The head's settings (`OrientationConfig.head_prior_deg`, `smooth_s`) were chosen on these takes: "
            "not held out.\n\n"
            + part1
            + "\n## Hands' twist between keys and the head's pitch on rigs (sample clip)\n\n"
            + part2,
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
