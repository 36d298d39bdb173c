"""Our own armature, built from a clip's median bone lengths (preset `ours`).

Rest pose: a T-pose facing -Y (Blender's front), left side on +X, straight arms along +-X, straight legs,
toes on Z = 0, metres. Trunk, hip, shoulder, foot and face offsets are the clip's medians measured in the
body frame, so the rest proportions are the person's own. Each hand has three bones per finger and thumb
(`mocap_thumb.01.L` ... `mocap_pinky.03.R`): `retarget.hand_model`'s canonical flat hand, palm down, thumb
forward, scaled so its knuckles lie at the end of the hand bone (the clip's wrist -> hand length).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from retarget.errors import RetargetError
from retarget.hand_model import FINGER_LANDMARKS, FINGERS, KNUCKLES, hand_points
from retarget.mapping import body_axes
from retarget.rest_skeleton import RestSkeleton

FloatArray = npt.NDArray[np.float64]

HEAD_TOP = 0.12  # metres from the head joint to the top of the head (the head bone's length)


def build_rest_skeleton(
    world_joints: npt.ArrayLike, joint_names: tuple[str, ...] | list[str]
) -> RestSkeleton:
    """T-pose RestSkeleton (bone names `mocap_*`) from world joints (T, J, 3) in metres, Z up."""
    p = np.asarray(world_joints, dtype=np.float64)
    ix = {n: i for i, n in enumerate(joint_names)}
    need = ["pelvis", "spine", "neck", "head", "nose"] + [
        f"{s}_{j}"
        for s in "lr"
        for j in ("hip", "knee", "ankle", "toe", "shoulder", "elbow", "wrist", "hand")
    ]
    missing = [n for n in need if n not in ix]
    if missing:
        raise RetargetError(f"cannot build our armature: the motion has no joint {missing[0]!r}.")
    j = {n: p[:, ix[n]] for n in need}
    left, fwd, up = body_axes(j["pelvis"], j["neck"], j["l_hip"], j["r_hip"])

    def body(a: str, b: str) -> FloatArray:
        """Median of b - a in body coordinates (left, forward, up)."""
        v = j[b] - j[a]
        comps = np.stack([np.sum(v * left, -1), np.sum(v * fwd, -1), np.sum(v * up, -1)], axis=-1)
        return np.asarray(np.median(comps, axis=0), dtype=np.float64)

    def mid(a: str, b: str) -> float:
        return float(np.median(np.linalg.norm(j[b] - j[a], axis=-1)))

    def length(a: str, b: str) -> float:
        """Mean of the left (given) and right median lengths."""
        return 0.5 * (mid(a, b) + mid(a.replace("l_", "r_", 1), b.replace("l_", "r_", 1)))

    # World rest axes: left = +X, forward = -Y, up = +Z.
    axes = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])

    def to_world(v: FloatArray) -> FloatArray:
        return np.asarray(v @ axes, dtype=np.float64)

    hip_l, hip_r = body("pelvis", "l_hip"), body("pelvis", "r_hip")
    hip = np.array([0.5 * (hip_l[0] - hip_r[0]), 0.5 * (hip_l[1] + hip_r[1]), 0.5 * (hip_l[2] + hip_r[2])])
    sh_l, sh_r = body("neck", "l_shoulder"), body("neck", "r_shoulder")
    sh = np.array([0.5 * (sh_l[0] - sh_r[0]), 0.5 * (sh_l[1] + sh_r[1]), 0.5 * (sh_l[2] + sh_r[2])])
    foot_l, foot_r = body("l_ankle", "l_toe"), body("r_ankle", "r_toe")
    foot = 0.5 * (foot_l + foot_r)
    foot_len = max(length("l_ankle", "l_toe"), 0.05)
    drop = min(foot[2], -0.02)
    reach = np.sqrt(max(foot_len**2 - drop**2, 1e-4))
    thigh, shin = length("l_hip", "l_knee"), length("l_knee", "l_ankle")
    upper, fore, hand = (
        length("l_shoulder", "l_elbow"),
        length("l_elbow", "l_wrist"),
        length("l_wrist", "l_hand"),
    )

    ankle_z = -drop
    hip_z = ankle_z + shin + thigh
    pelvis = np.array([0.0, 0.0, hip_z - hip[2]]) - to_world(np.array([0.0, hip[1], 0.0]))
    spine = pelvis + to_world(body("pelvis", "spine"))
    neck = spine + to_world(body("spine", "neck"))
    head = neck + to_world(body("neck", "head"))
    nose = head + to_world(body("head", "nose"))
    bones: list[tuple[str, str | None, FloatArray, FloatArray]] = [
        ("mocap_hips", None, pelvis, spine),
        ("mocap_chest", "mocap_hips", spine, neck),
        ("mocap_neck", "mocap_chest", neck, head),
        ("mocap_head", "mocap_neck", head, head + np.array([0.0, 0.0, HEAD_TOP])),
        ("mocap_nose", "mocap_head", head, nose),
    ]
    wrists: dict[str, FloatArray] = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        hip_pos = pelvis + to_world(hip * np.array([sign, 1.0, 1.0]))
        knee = hip_pos - np.array([0.0, 0.0, thigh])
        ankle = knee - np.array([0.0, 0.0, shin])
        toe = ankle + np.array([0.0, -reach, drop])
        shoulder = neck + to_world(sh * np.array([sign, 1.0, 1.0]))
        elbow = shoulder + np.array([sign * upper, 0.0, 0.0])
        wrist = elbow + np.array([sign * fore, 0.0, 0.0])
        hand_end = wrist + np.array([sign * hand, 0.0, 0.0])
        wrists[side] = wrist
        bones += [
            (f"mocap_pelvis.{side}", "mocap_hips", pelvis, hip_pos),
            (f"mocap_thigh.{side}", f"mocap_pelvis.{side}", hip_pos, knee),
            (f"mocap_shin.{side}", f"mocap_thigh.{side}", knee, ankle),
            (f"mocap_foot.{side}", f"mocap_shin.{side}", ankle, toe),
            (f"mocap_clavicle.{side}", "mocap_chest", neck, shoulder),
            (f"mocap_upper_arm.{side}", f"mocap_clavicle.{side}", shoulder, elbow),
            (f"mocap_forearm.{side}", f"mocap_upper_arm.{side}", elbow, wrist),
            (f"mocap_hand.{side}", f"mocap_forearm.{side}", wrist, hand_end),
        ]
    # The canonical hand's knuckles (between index and little finger) sit at the hand bone's tail.
    hand_scale = hand / (0.5 * (KNUCKLES["index"][0] + KNUCKLES["pinky"][0]))
    for side, sign in (("L", 1.0), ("R", -1.0)):
        # Hand frame columns (distal, palmar, distal x palmar) in world: palm down, thumb forward (-Y).
        frame = np.array([[sign, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, sign, 0.0]]).T
        pts = wrists[side] + hand_scale * hand_points(np.zeros((len(FINGERS), 4)), side.lower()) @ frame.T
        for finger in FINGERS:
            lm = FINGER_LANDMARKS[finger]
            parent = f"mocap_hand.{side}"
            for k in range(3):
                name = f"mocap_{finger}.0{k + 1}.{side}"
                bones.append((name, parent, pts[lm[k]], pts[lm[k + 1]]))
                parent = name
    for name, _, h, t in bones:
        if np.linalg.norm(t - h) < 1e-4:
            raise RetargetError(f"cannot build our armature: bone {name!r} would have zero length.")
    return RestSkeleton.from_head_tail_roll(
        [b[0] for b in bones],
        [b[1] for b in bones],
        np.array([b[2] for b in bones]),
        np.array([b[3] for b in bones]),
        np.zeros(len(bones)),
    )
