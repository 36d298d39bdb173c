"""Build plausible rest skeletons for the Rigify metarig, a generated Rigify rig and Mixamo as JSON fixtures.

Usage (from the repository root): python tests/data/rigs/make_synthetic_rigs.py

These are not exports of real files: bone names and hierarchies follow the well-known conventions of each
family (Rigify human metarig; a generated Rigify rig's DEF-/ORG-/MCH- bones and FK controls; Mixamo's
`mixamorig:` skeleton with fingers), and the geometry is one human of about 1.8 m (metres, Z up, facing
-Y, left on +X) in a T-pose or an A-pose (arms 40 degrees down, elbows bent 15 degrees forward, knees
bent 5 degrees). Rigify bones get rolls as Blender's "recalculate roll" would give roughly (0 or +-90
degrees); the Mixamo bones get arbitrary fixed rolls, like an FBX import. Each JSON loads with
retarget.rest_skeleton.RestSkeleton.from_dict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from retarget.rest_skeleton import RestSkeleton  # noqa: E402
from retarget.rotations import axis_angle_matrix  # noqa: E402

Bone = tuple[str, str | None, np.ndarray, np.ndarray, float]


def landmarks(pose: str) -> dict[str, np.ndarray]:
    """Named points of one body side (left, +X) and the centre line; right side mirrored by the caller."""
    p = {
        "pelvis": [0.0, 0.0, 0.95],
        "spine1": [0.0, 0.01, 1.05],
        "spine2": [0.0, 0.015, 1.17],
        "spine3": [0.0, 0.005, 1.30],
        "neck": [0.0, 0.02, 1.47],
        "neck2": [0.0, 0.005, 1.53],
        "head": [0.0, -0.01, 1.60],
        "head_top": [0.0, -0.01, 1.80],
        "hip": [0.09, 0.0, 0.92],
        "knee": [0.09, -0.01, 0.50],
        "ankle": [0.09, 0.03, 0.08],
        "ball": [0.09, -0.10, 0.02],
        "toe": [0.09, -0.17, 0.01],
        "heel": [0.09, 0.06, 0.0],
        "clavicle": [0.03, -0.04, 1.44],
        "shoulder": [0.18, 0.02, 1.45],
        "elbow": [0.45, 0.03, 1.45],
        "wrist": [0.70, 0.0, 1.45],
        "knuckle": [0.80, 0.0, 1.45],
    }
    pts = {k: np.array(v, dtype=np.float64) for k, v in p.items()}
    if pose == "A":
        sh = pts["shoulder"]
        down = axis_angle_matrix(np.array([0.0, 1.0, 0.0]), np.radians(40.0))  # +X arm towards -Z
        for k in ("elbow", "wrist", "knuckle"):
            pts[k] = sh + down @ (pts[k] - sh)
        bend = axis_angle_matrix(np.cross(pts["elbow"] - sh, [0.0, -1.0, 0.0]), np.radians(15.0))
        for k in ("wrist", "knuckle"):
            pts[k] = pts["elbow"] + bend @ (pts[k] - pts["elbow"])
        knee_bend = axis_angle_matrix(np.array([1.0, 0.0, 0.0]), np.radians(-5.0))
        for k in ("ankle", "ball", "toe", "heel"):
            pts[k] = pts["knee"] + knee_bend @ (pts[k] - pts["knee"])
    return pts


def mirror(v: np.ndarray) -> np.ndarray:
    return v * np.array([-1.0, 1.0, 1.0])


def fingers(prefix: str, side: str, pts: dict[str, np.ndarray], sign: float, parent: str) -> list[Bone]:
    """Mixamo fingers: Thumb1-4, Index1-4, Middle1-4, Ring1-4, Pinky1-4 with arbitrary rolls."""
    out: list[Bone] = []
    wrist, knuckle = pts["wrist"], pts["knuckle"]
    along = (knuckle - wrist) / np.linalg.norm(knuckle - wrist)
    spread = {"Thumb": -0.035, "Index": -0.02, "Middle": 0.0, "Ring": 0.02, "Pinky": 0.038}
    for k, (finger, dy) in enumerate(spread.items()):
        base = (wrist + 0.3 * (knuckle - wrist) if finger == "Thumb" else knuckle) + np.array([0.0, dy, 0.0])
        prev = parent
        for seg in range(1, 5):
            h = base + along * 0.03 * (seg - 1)
            t = h + along * 0.03
            name = f"{prefix}{side}Hand{finger}{seg}"
            out.append((name, prev, h, t, 0.3 * k + 0.1 * seg * sign))
            prev = name
    return out


def rigify_metarig(pose: str) -> list[Bone]:
    p = landmarks(pose)
    bones: list[Bone] = [
        ("spine", None, p["pelvis"], p["spine1"], 0.0),
        ("spine.001", "spine", p["spine1"], p["spine2"], 0.0),
        ("spine.002", "spine.001", p["spine2"], p["spine3"], 0.0),
        ("spine.003", "spine.002", p["spine3"], p["neck"], 0.0),
        ("spine.004", "spine.003", p["neck"], p["neck2"], 0.0),
        ("spine.005", "spine.004", p["neck2"], p["head"], 0.0),
        ("spine.006", "spine.005", p["head"], p["head_top"], 0.0),
    ]
    for side, sign in (("L", 1.0), ("R", -1.0)):
        q = {k: (v if sign > 0 else mirror(v)) for k, v in p.items()}
        bones += [
            (f"pelvis.{side}", "spine", q["pelvis"], q["hip"] + np.array([0.0, -0.1, 0.1]), 0.0),
            (f"thigh.{side}", "spine", q["hip"], q["knee"], 0.0),
            (f"shin.{side}", f"thigh.{side}", q["knee"], q["ankle"], 0.0),
            (f"foot.{side}", f"shin.{side}", q["ankle"], q["ball"], 0.0),
            (f"toe.{side}", f"foot.{side}", q["ball"], q["toe"], 0.0),
            (
                f"heel.02.{side}",
                f"foot.{side}",
                q["heel"] + [0.03 * sign, 0, 0],
                q["heel"] - [0.03 * sign, 0, 0],
                0.0,
            ),
            (f"shoulder.{side}", "spine.003", q["clavicle"], q["shoulder"], 0.0),
            (f"upper_arm.{side}", f"shoulder.{side}", q["shoulder"], q["elbow"], sign * np.pi / 2),
            (f"forearm.{side}", f"upper_arm.{side}", q["elbow"], q["wrist"], sign * np.pi / 2),
            (f"hand.{side}", f"forearm.{side}", q["wrist"], q["knuckle"], sign * np.pi / 2),
            (
                f"breast.{side}",
                "spine.003",
                q["spine3"] + [0.1 * sign, -0.1, 0],
                q["spine3"] + [0.1 * sign, -0.2, 0],
                0.0,
            ),
        ]
    return bones


def rigify_generated() -> list[Bone]:
    p = landmarks("T")
    z = np.zeros(3)
    bones: list[Bone] = [
        ("root", None, z, np.array([0.0, 0.5, 0.0]), 0.0),
        ("torso", "root", p["pelvis"], p["pelvis"] + [0.0, 0.3, 0.0], 0.0),
        ("hips", "torso", p["spine1"], p["pelvis"], 0.0),
        ("chest", "torso", p["spine2"], p["spine3"], 0.0),
        ("neck", "chest", p["neck"], p["head"], 0.0),
        ("head", "neck", p["head"], p["head_top"], 0.0),
        ("ORG-spine", "root", p["pelvis"], p["spine1"], 0.0),
        ("ORG-spine.001", "ORG-spine", p["spine1"], p["spine2"], 0.0),
        ("MCH-pivot", "torso", p["spine1"], p["spine2"], 0.0),
        ("DEF-spine", "root", p["pelvis"], p["spine1"], 0.0),
        ("DEF-spine.001", "DEF-spine", p["spine1"], p["spine2"], 0.0),
        ("DEF-spine.002", "DEF-spine.001", p["spine2"], p["spine3"], 0.0),
        ("DEF-spine.003", "DEF-spine.002", p["spine3"], p["neck"], 0.0),
        ("DEF-spine.004", "DEF-spine.003", p["neck"], p["neck2"], 0.0),
        ("DEF-spine.005", "DEF-spine.004", p["neck2"], p["head"], 0.0),
        ("DEF-spine.006", "DEF-spine.005", p["head"], p["head_top"], 0.0),
    ]
    for side, sign in (("L", 1.0), ("R", -1.0)):
        q = {k: (v if sign > 0 else mirror(v)) for k, v in p.items()}
        mid_thigh = 0.5 * (q["hip"] + q["knee"])
        mid_shin = 0.5 * (q["knee"] + q["ankle"])
        mid_upper = 0.5 * (q["shoulder"] + q["elbow"])
        mid_fore = 0.5 * (q["elbow"] + q["wrist"])
        arm_roll = sign * np.pi / 2
        bones += [
            (f"MCH-thigh_parent.{side}", "hips", q["hip"], q["hip"] + [0.0, 0.0, -0.05], 0.0),
            (f"thigh_fk.{side}", f"MCH-thigh_parent.{side}", q["hip"], q["knee"], 0.0),
            (f"shin_fk.{side}", f"thigh_fk.{side}", q["knee"], q["ankle"], 0.0),
            (f"foot_fk.{side}", f"shin_fk.{side}", q["ankle"], q["ball"], 0.0),
            (f"toe_fk.{side}", f"foot_fk.{side}", q["ball"], q["toe"], 0.0),
            (f"thigh_ik.{side}", "root", q["hip"], q["knee"], 0.0),
            (f"foot_ik.{side}", "root", q["heel"], q["heel"] + [0.0, -0.2, 0.0], 0.0),
            (f"shoulder.{side}", "chest", q["clavicle"], q["shoulder"], 0.0),
            (
                f"MCH-upper_arm_parent.{side}",
                f"shoulder.{side}",
                q["shoulder"],
                q["shoulder"] + [0.0, 0.0, 0.05],
                0.0,
            ),
            (f"upper_arm_fk.{side}", f"MCH-upper_arm_parent.{side}", q["shoulder"], q["elbow"], arm_roll),
            (f"forearm_fk.{side}", f"upper_arm_fk.{side}", q["elbow"], q["wrist"], arm_roll),
            (f"hand_fk.{side}", f"forearm_fk.{side}", q["wrist"], q["knuckle"], arm_roll),
            (f"upper_arm_ik.{side}", "root", q["shoulder"], q["elbow"], arm_roll),
            (f"ORG-thigh.{side}", "ORG-spine", q["hip"], q["knee"], 0.0),
            (f"DEF-pelvis.{side}", "DEF-spine", q["pelvis"], q["hip"] + [0.0, -0.1, 0.1], 0.0),
            (f"DEF-thigh.{side}", "DEF-spine", q["hip"], mid_thigh, 0.0),
            (f"DEF-thigh.{side}.001", f"DEF-thigh.{side}", mid_thigh, q["knee"], 0.0),
            (f"DEF-shin.{side}", f"DEF-thigh.{side}.001", q["knee"], mid_shin, 0.0),
            (f"DEF-shin.{side}.001", f"DEF-shin.{side}", mid_shin, q["ankle"], 0.0),
            (f"DEF-foot.{side}", f"DEF-shin.{side}.001", q["ankle"], q["ball"], 0.0),
            (f"DEF-toe.{side}", f"DEF-foot.{side}", q["ball"], q["toe"], 0.0),
            (f"DEF-shoulder.{side}", "DEF-spine.003", q["clavicle"], q["shoulder"], 0.0),
            (f"DEF-upper_arm.{side}", f"DEF-shoulder.{side}", q["shoulder"], mid_upper, arm_roll),
            (f"DEF-upper_arm.{side}.001", f"DEF-upper_arm.{side}", mid_upper, q["elbow"], arm_roll),
            (f"DEF-forearm.{side}", f"DEF-upper_arm.{side}.001", q["elbow"], mid_fore, arm_roll),
            (f"DEF-forearm.{side}.001", f"DEF-forearm.{side}", mid_fore, q["wrist"], arm_roll),
            (f"DEF-hand.{side}", f"DEF-forearm.{side}.001", q["wrist"], q["knuckle"], arm_roll),
        ]
    return bones


def mixamo(pose: str) -> list[Bone]:
    p = landmarks(pose)
    rng = np.random.default_rng(7)
    m = "mixamorig:"
    bones: list[Bone] = [
        (f"{m}Hips", None, p["pelvis"], p["spine1"], 0.0),
        (f"{m}Spine", f"{m}Hips", p["spine1"], p["spine2"], 0.0),
        (f"{m}Spine1", f"{m}Spine", p["spine2"], p["spine3"], 0.0),
        (f"{m}Spine2", f"{m}Spine1", p["spine3"], p["neck"], 0.0),
        (f"{m}Neck", f"{m}Spine2", p["neck"], p["head"], 0.0),
        (f"{m}Head", f"{m}Neck", p["head"], p["head_top"], 0.0),
        (f"{m}HeadTop_End", f"{m}Head", p["head_top"], p["head_top"] + [0.0, 0.0, 0.05], 0.0),
    ]
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        q = {k: (v if sign > 0 else mirror(v)) for k, v in p.items()}
        bones += [
            (f"{m}{side}UpLeg", f"{m}Hips", q["hip"], q["knee"], 0.0),
            (f"{m}{side}Leg", f"{m}{side}UpLeg", q["knee"], q["ankle"], 0.0),
            (f"{m}{side}Foot", f"{m}{side}Leg", q["ankle"], q["ball"], 0.0),
            (f"{m}{side}ToeBase", f"{m}{side}Foot", q["ball"], q["toe"], 0.0),
            (f"{m}{side}Toe_End", f"{m}{side}ToeBase", q["toe"], q["toe"] + [0.0, -0.03, 0.0], 0.0),
            (f"{m}{side}Shoulder", f"{m}Spine2", q["clavicle"], q["shoulder"], 0.0),
            (f"{m}{side}Arm", f"{m}{side}Shoulder", q["shoulder"], q["elbow"], 0.0),
            (f"{m}{side}ForeArm", f"{m}{side}Arm", q["elbow"], q["wrist"], 0.0),
            (f"{m}{side}Hand", f"{m}{side}ForeArm", q["wrist"], q["knuckle"], 0.0),
        ]
        bones += fingers(m, side, q, sign, f"{m}{side}Hand")
    # Arbitrary rolls, as an FBX import leaves them.
    return [(n, par, h, t, float(rng.uniform(-np.pi, np.pi))) for n, par, h, t, _ in bones]


def write(bones: list[Bone], source: str, name: str) -> None:
    rest = RestSkeleton.from_head_tail_roll(
        [b[0] for b in bones],
        [b[1] for b in bones],
        np.array([b[2] for b in bones]),
        np.array([b[3] for b in bones]),
        np.array([b[4] for b in bones]),
    )
    out = rest.to_dict()
    out["source"] = source
    for b in out["bones"]:
        b["head"] = [round(v, 6) for v in b["head"]]
        b["tail"] = [round(v, 6) for v in b["tail"]]
        b["roll"] = round(b["roll"], 6)
        del b["matrix"]
    (HERE / name).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"{name}: {rest.num_bones} bones")


def main() -> None:
    write(rigify_metarig("T"), "synthetic Rigify human metarig, T-pose", "rigify_metarig_tpose.json")
    write(rigify_metarig("A"), "synthetic Rigify human metarig, A-pose", "rigify_metarig_apose.json")
    write(
        rigify_generated(),
        "synthetic generated Rigify rig (FK controls, DEF/ORG/MCH bones)",
        "rigify_generated.json",
    )
    write(mixamo("T"), "synthetic Mixamo rig with fingers, T-pose, arbitrary rolls", "mixamo_tpose.json")
    write(mixamo("A"), "synthetic Mixamo rig with fingers, A-pose, arbitrary rolls", "mixamo_apose.json")


if __name__ == "__main__":
    main()
