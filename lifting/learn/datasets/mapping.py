"""Source skeletons → our output joints (`lifting.skeleton.OUTPUT`) and the segment frames that the virtual
MediaPipe landmarks (`lifting.learn.datasets.landmarks`) are placed in.

Every source ends up as a `BodyPose` in world coordinates: metres, Z up (sources are Y up and are turned by
`Y_UP_TO_Z_UP`, x → x, y → z, z → -y, a proper rotation, so a CMU subject facing +Z faces -Y and keeps its left
side towards +X, as `lifting.learn.synthetic`'s template).

Output joints, defined the same way for every source (fractions are of the height above the floor):
- `pelvis`: midpoint of the two hip joint centres (not the mocap root, whose height differs between sources
  by ±10 cm). `l_hip`/`r_hip`: hip joint centres (femur heads).
- `spine`: a point on the spine about half way from the pelvis to the neck (0.46–0.52 of that distance in the
  rest poses of all three rigs).
- `neck`: base of the neck, about 5 cm above the shoulder joints (C7/T1).
- `head`: centre of the head, the point between the ears (mid-tragion); `nose`: tip of the nose, placed from
  the head centre in the head frame (`NOSE_OFFSET`), so it is exactly the virtual nose landmark.
- `*_shoulder`/`*_elbow`: joint centres; `*_wrist`: the wrist (radiocarpal) joint; `*_hand`: the knuckles
  (middle-finger MCP joint, the end of the Acclaim `hand` bone); `*_knee`, `*_ankle`: joint centres;
  `*_toe`: the tip of the foot (end of the Acclaim `toes` bone).

Segment frames (3×3, columns are unit axes in world coordinates, each frame origin is a joint):
- head (origin `head`): columns (left, forward, up) of the head.
- hands (origin the wrist): columns (distal: wrist → knuckles, radial: towards the thumb, palmar: out of the
  palm). The same offsets then serve both hands; mirroring maps one hand's frame onto the other's.
- feet (origin the ankle): columns (anterior, superior, lateral = outwards), with anterior horizontal and
  superior vertical when the foot stands flat.

Per source (what is exact and what is approximated):
- ASF/AMC (HDM05, CMU): every joint is a bone end; frames are the bones' rest-relative rotations W applied to
  their rest axes (the Acclaim rest pose is a T-pose facing +Z, palms down, thumbs forward, feet flat).
  `spine` = midpoint of the `lowerback` and `upperback` ends, `neck` = `lowerneck` end, `head` = `upperneck`
  end (skull base) + `ASF_HEAD_CENTRE` in the head frame (4 cm up, 1 cm forward: in the HDM05 skeletons the
  `upperneck` end sits at 0.89–0.92 of stature, 0.90 on average, and the ear canal of adults at about 0.925).
- BVH, Character Creator rig (`CC_Base_*`, the CMU subjects 1–7 files): joints at the rig's joints
  (`Spine02`, `NeckTwist01`, `Head`, `Upperarm`, `Forearm`, `Hand`, `Mid1`, `Thigh`, `Calf`, `Foot`); head
  centre = `Head` + 6.5 cm up (the rig's eye joints are 8.2 cm up and 8.2 cm forward of `Head`, the ear canal
  1.5 cm below eye level and about 8.5 cm behind the eyes); the toe tip = `ToeBase` + 5.5 cm towards
  `MidToe1`. Head and foot frames: the joints' world rotations times local axes calibrated on the rig's T-pose
  frame (frame 0 of the subject-7 files; `CC_FOOT_AXES`); hand frames from the finger joints' offsets.
  All these clips share one character's proportions (1.85 m), not the subject's.
- BVH, Poser-style rig (`hip abdomen chest neck head lShldr…`, the CMU dance/martial-arts files): rest is a
  T-pose facing +Z; `spine` = midpoint of `abdomen` and `chest`; head centre = `head` + 6.5 cm up (same
  eye-joint geometry as the CC rig); the foot has no toe joint, so the tip = ankle + 1.5 × (foot End Site -
  ankle) (the End Site sits at the ball of the foot, 2/3 of the ankle–tip length in Acclaim skeletons). The rig's
  shoulder joints sit 11.5 cm from the midline (23 cm apart; 37–47 cm in the other sources) with long upper
  arms: its proportions, kept as they are (every dance file uses this one rig, 1.6 m tall).
- 20-joint CMU position arrays (`body_from_joints20`, positions only, no rotations): see that function.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from lifting.landmarks import NOSE_OFFSET
from lifting.learn.datasets.asf_amc import AsfPose, AsfSkeleton
from lifting.learn.datasets.bvh import BvhMotion
from lifting.skeleton import OUTPUT, mirror_points

FloatArray = npt.NDArray[np.float64]

# Source (Y up) → world (Z up): x' = x, y' = -z, z' = y (a rotation of +90° about x).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_MIRROR = np.diag([-1.0, 1.0, 1.0])

# Head frame offsets (metres; x = left, y = forward, z = up; origin = head centre between the ears).
ASF_HEAD_CENTRE = (0.0, 0.01, 0.04)  # from the `upperneck` end (skull base)
RIG_HEAD_CENTRE = (0.0, 0.0, 0.065)  # from the CC / Poser `head` joint (eye joints at 8.2 cm up, 8.2 forward)

# 20-joint arrays: neck = thorax end + this × (upperneck end - thorax end). The Acclaim `lowerneck` is half of
# the neck (0.5), but 0.6 puts the neck 5–6 cm above the shoulder joints as in the other three sources.
J20_NECK_FRACTION = 0.6
# Acclaim forearm: `radius` then `wrist` (colinear, the `wrist` bone carries the forearm twist), then `hand`.
# Share of the wrist bone in wrist + hand length, mean of the five HDM05 skeletons (0.54–0.63).
WRIST_SHARE = 0.59
# Pitch of ankle → toe tip below the horizontal when standing flat, mean of the HDM05 rest poses (9–25°).
TOE_TIP_PITCH_DEG = 16.0
# Toe tip = CC `ToeBase` + this far towards `MidToe1`; Poser tip = ankle + this × (End Site - ankle).
CC_TOE_LENGTH = 0.055
POSER_TIP_SCALE = 1.5

# CC rig foot local axes (columns anterior, superior, lateral in the `Foot` joint's local frame), calibrated as
# W_foot(T-pose)ᵀ · (forward, up, outward) on frame 0 (a T-pose) of the CMU subject-7 BVH files.
CC_FOOT_AXES = {
    "L": np.array([[0.108, 0.009, -0.994], [0.969, -0.224, 0.104], [0.222, 0.975, 0.033]]),
    "R": np.array([[-0.111, -0.009, 0.994], [0.969, -0.224, 0.106], [0.221, 0.975, 0.034]]),
}


@dataclass(frozen=True)
class BodyPose:
    """Output joints plus segment frames, world coordinates (metres, Z up); see the module docstring.

    joints: (T, 21, 3) in `OUTPUT` order; head_frame: (T, 3, 3) columns (left, forward, up);
    hand_frames: (T, 2, 3, 3) [left, right], columns (distal, radial, palmar);
    foot_frames: (T, 2, 3, 3) [left, right], columns (anterior, superior, lateral);
    approximated: names of joints and frames that are estimated rather than measured for this source.
    """

    joints: FloatArray
    head_frame: FloatArray
    hand_frames: FloatArray
    foot_frames: FloatArray
    approximated: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        t = self.joints.shape[0]
        expected = {
            "joints": (t, OUTPUT.num_joints, 3),
            "head_frame": (t, 3, 3),
            "hand_frames": (t, 2, 3, 3),
            "foot_frames": (t, 2, 3, 3),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"BodyPose.{name} has shape {getattr(self, name).shape}, expected {shape}")

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    def mirrored(self) -> BodyPose:
        """The mirror image across the plane x = 0: the person's left becomes their right.

        Joints: `mirror_points`. Head frame: M·F with the `left` column negated (the mirrored person's left is
        the mirror of the original's right). Limb frames: M·F, swapped between sides (their axes are defined
        per limb, so the mirrored left hand is a right hand with the same local offsets).
        """
        head = _MIRROR @ self.head_frame @ _MIRROR
        hands = (_MIRROR @ self.hand_frames)[:, ::-1]
        feet = (_MIRROR @ self.foot_frames)[:, ::-1]
        return BodyPose(
            mirror_points(self.joints, OUTPUT, axis=0),
            head,
            np.ascontiguousarray(hands),
            np.ascontiguousarray(feet),
            self.approximated,
        )

    def transformed(self, rotation: npt.ArrayLike, translation: npt.ArrayLike = (0.0, 0.0, 0.0)) -> BodyPose:
        """Apply x → R x + t to joints and R to every frame (R a proper rotation (3, 3))."""
        r = np.asarray(rotation, dtype=np.float64)
        t = np.asarray(translation, dtype=np.float64)
        return BodyPose(
            self.joints @ r.T + t,
            r @ self.head_frame,
            r @ self.hand_frames,
            r @ self.foot_frames,
            self.approximated,
        )

    def slice(self, start: int, stop: int) -> BodyPose:
        return replace(
            self,
            joints=self.joints[start:stop],
            head_frame=self.head_frame[start:stop],
            hand_frames=self.hand_frames[start:stop],
            foot_frames=self.foot_frames[start:stop],
        )


# ---------------------------------------------------------------------------------------------------------
# Frame helpers
# ---------------------------------------------------------------------------------------------------------


def normalize(v: npt.ArrayLike, eps: float = 1e-9) -> FloatArray:
    """Unit vectors along the last axis; zero vectors stay zero."""
    a = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(a, axis=-1, keepdims=True)
    out: FloatArray = a / np.maximum(n, eps)
    return out


def orthogonalize(v: npt.ArrayLike, axis: npt.ArrayLike) -> FloatArray:
    """Unit vector along the part of v (..., 3) perpendicular to the unit vector `axis` (..., 3)."""
    a = np.asarray(v, dtype=np.float64)
    u = np.asarray(axis, dtype=np.float64)
    return normalize(a - np.sum(a * u, axis=-1, keepdims=True) * u)


def head_axes(up: npt.ArrayLike, left: npt.ArrayLike) -> FloatArray:
    """(..., 3, 3) head/body frame, columns (left, forward, up), from an up direction and a rough left one.

    left = up × forward, so forward = left × up; both inputs (..., 3), need not be unit or orthogonal.
    """
    u = normalize(up)
    lft = orthogonalize(left, u)
    fwd = np.cross(lft, u)
    return np.stack([lft, fwd, u], axis=-1)


def hand_axes(distal: npt.ArrayLike, radial: npt.ArrayLike, side: int) -> FloatArray:
    """(..., 3, 3) hand frame, columns (distal, radial, palmar); side +1 for the left hand, -1 for the right.

    palmar = side · (distal × radial): for a left hand hanging beside the thigh (distal down, thumb forward)
    the palm faces the body's right.
    """
    d = normalize(distal)
    r = orthogonalize(radial, d)
    return np.stack([d, r, side * np.cross(d, r)], axis=-1)


def foot_axes(anterior: npt.ArrayLike, superior: npt.ArrayLike, side: int) -> FloatArray:
    """(..., 3, 3) foot frame, columns (anterior, superior, lateral); side +1 left, -1 right.

    lateral = -side · (anterior × superior): outwards, towards the person's left for the left foot.
    """
    a = normalize(anterior)
    s = orthogonalize(superior, a)
    return np.stack([a, s, -side * np.cross(a, s)], axis=-1)


def _pitch_up(frame: FloatArray, degrees: float) -> FloatArray:
    """Turn a foot frame's anterior axis up towards its superior axis by `degrees` (about the lateral axis)."""
    th = np.radians(degrees)
    a, s, lat = frame[..., 0], frame[..., 1], frame[..., 2]
    a2 = np.cos(th) * a + np.sin(th) * s
    s2 = -np.sin(th) * a + np.cos(th) * s
    return np.stack([a2, s2, lat], axis=-1)


def _apply(frame_offset: npt.ArrayLike, frames: FloatArray) -> FloatArray:
    """Offsets (3,) or (..., 3) given in a frame's coordinates → world vectors: frames @ offset."""
    o = np.asarray(frame_offset, dtype=np.float64)
    return np.asarray(np.einsum("...ij,...j->...i", frames, np.broadcast_to(o, frames.shape[:-1])))


def _to_world(points: FloatArray, frames: dict[str, FloatArray]) -> tuple[FloatArray, dict[str, FloatArray]]:
    """Convert source (Y up) points (..., 3) and frames (..., 3, 3) to world Z up."""
    k = Y_UP_TO_Z_UP
    return points @ k.T, {n: k @ f for n, f in frames.items()}


def _assemble(
    points: dict[str, FloatArray],
    head: FloatArray,
    hands: FloatArray,
    feet: FloatArray,
    approx: tuple[str, ...],
) -> BodyPose:
    """Build a BodyPose from world points (each (T, 3)) named as in OUTPUT except `nose`, which is placed."""
    points = dict(points)
    points["nose"] = points["head"] + _apply(NOSE_OFFSET, head)
    missing = [n for n in OUTPUT.names if n not in points]
    if missing:
        raise ValueError(f"mapping is missing output joints {missing}")
    joints = np.stack([points[n] for n in OUTPUT.names], axis=1)
    return BodyPose(joints, head, hands, feet, approx)


# ---------------------------------------------------------------------------------------------------------
# ASF/AMC
# ---------------------------------------------------------------------------------------------------------

ASF_BONES = (
    "lhipjoint rhipjoint lowerback upperback lowerneck upperneck head lfemur rfemur ltibia rtibia lfoot rfoot "
    "ltoes rtoes lclavicle rclavicle lhumerus rhumerus lwrist rwrist lhand rhand lthumb rthumb"
).split()


def body_from_asf(skeleton: AsfSkeleton, pose: AsfPose) -> BodyPose:
    """Map a CMU/HDM05-style ASF skeleton's forward kinematics onto our joints (see the module docstring).

    Needs the CMU bone names (`ASF_BONES`); raises MocapError otherwise. Units: `skeleton.metres_per_unit`.
    """
    missing = [b for b in ASF_BONES if b not in skeleton.names]
    if missing:
        raise MocapError(f"ASF skeleton {skeleton.name!r} lacks the CMU bone {missing[0]!r}.")
    idx = {n: i for i, n in enumerate(skeleton.names)}
    scale = skeleton.metres_per_unit
    ends = pose.ends * scale
    rot = pose.rotations

    def end(name: str) -> FloatArray:
        return ends[:, idx[name]]

    rest = skeleton.rest_ends()
    body_rest = np.stack([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], axis=-1)  # left, forward, up
    frames: dict[str, FloatArray] = {"head": rot[:, idx["head"]] @ body_rest}
    for s, side in (("l", 1), ("r", -1)):
        distal = rest[idx[f"{s}hand"]] - rest[idx[f"{s}wrist"]]
        radial = rest[idx[f"{s}thumb"]] - rest[idx[f"{s}wrist"]]
        frames[f"{s}_hand"] = rot[:, idx[f"{s}hand"]] @ hand_axes(distal, radial, side)
        foot_rest = foot_axes([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], side)
        frames[f"{s}_foot"] = rot[:, idx[f"{s}foot"]] @ foot_rest
    pts = {
        "l_hip": end("lhipjoint"),
        "r_hip": end("rhipjoint"),
        "spine": (end("lowerback") + end("upperback")) / 2.0,
        "neck": end("lowerneck"),
        "skull_base": end("upperneck"),
    }
    for s in "lr":
        pts.update(
            {
                f"{s}_knee": end(f"{s}femur"),
                f"{s}_ankle": end(f"{s}tibia"),
                f"{s}_toe": end(f"{s}toes"),
                f"{s}_shoulder": end(f"{s}clavicle"),
                f"{s}_elbow": end(f"{s}humerus"),
                f"{s}_wrist": end(f"{s}wrist"),
                f"{s}_hand": end(f"{s}hand"),
            }
        )
    pts["pelvis"] = (pts["l_hip"] + pts["r_hip"]) / 2.0
    wpts, wframes = _to_world(np.stack(list(pts.values())), frames)
    world = dict(zip(pts.keys(), wpts, strict=True))
    world["head"] = world.pop("skull_base") + _apply(ASF_HEAD_CENTRE, wframes["head"])
    return _assemble(
        world,
        wframes["head"],
        np.stack([wframes["l_hand"], wframes["r_hand"]], axis=1),
        np.stack([wframes["l_foot"], wframes["r_foot"]], axis=1),
        ("head", "nose"),
    )


# ---------------------------------------------------------------------------------------------------------
# BVH (Character Creator rig of the CMU subject files, Poser-style rig of the CMU dance files)
# ---------------------------------------------------------------------------------------------------------


def bvh_rig(motion: BvhMotion) -> str:
    """ "cc" (Character Creator `CC_Base_*` names) or "poser" (`hip abdomen chest … lShldr`); MocapError else."""
    names = set(motion.names)
    if {"CC_Base_Hip", "CC_Base_Head", "CC_Base_L_Hand", "CC_Base_L_Foot"} <= names:
        return "cc"
    if {"hip", "abdomen", "chest", "neck", "head", "lShldr", "lHand", "lThigh", "lFoot"} <= names:
        return "poser"
    raise MocapError(
        f"BVH {motion.source} uses a skeleton this loader does not know "
        "(expected the Character Creator or Poser joint names)."
    )


def _bvh_hand_axes(motion: BvhMotion, hand: str, mid: str, index: str, pinky: str, side: int) -> FloatArray:
    """Hand axes in the hand joint's local frame, from its finger children's OFFSETs (local coordinates)."""
    j = {n: i for i, n in enumerate(motion.names)}
    off = motion.offsets
    for child in (mid, index, pinky):
        if motion.joints[j[child]].parent != j[hand]:
            raise MocapError(f"BVH {motion.source}: {child} is not a child of {hand}.")
    return hand_axes(off[j[mid]], off[j[index]] - off[j[pinky]], side)


def body_from_bvh(motion: BvhMotion, scale: float = 0.01) -> BodyPose:
    """Map a CMU BVH clip (Character Creator or Poser rig, Y up, file units × `scale` = metres) onto our joints."""
    rig = bvh_rig(motion)
    pos, rot = motion.forward_kinematics(scale)
    j = {n: i for i, n in enumerate(motion.names)}

    def p(name: str) -> FloatArray:
        return pos[:, j[name]]

    def w(name: str) -> FloatArray:
        return rot[:, j[name]]

    body_rest = np.stack([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], axis=-1)
    frames: dict[str, FloatArray] = {}
    pts: dict[str, FloatArray] = {}
    if rig == "cc":
        c = "CC_Base_"
        frames["head"] = w(c + "Head") @ body_rest
        pts.update(spine=p(c + "Spine02"), neck=p(c + "NeckTwist01"), head_joint=p(c + "Head"))
        for s, side, lr in (("L", 1, "l"), ("R", -1, "r")):
            frames[f"{lr}_hand"] = w(f"{c}{s}_Hand") @ _bvh_hand_axes(
                motion, f"{c}{s}_Hand", f"{c}{s}_Mid1", f"{c}{s}_Index1", f"{c}{s}_Pinky1", side
            )
            frames[f"{lr}_foot"] = w(f"{c}{s}_Foot") @ CC_FOOT_AXES[s]
            toe_dir = normalize(p(f"{c}{s}_MidToe1") - p(f"{c}{s}_ToeBase"))
            pts.update(
                {
                    f"{lr}_hip": p(f"{c}{s}_Thigh"),
                    f"{lr}_knee": p(f"{c}{s}_Calf"),
                    f"{lr}_ankle": p(f"{c}{s}_Foot"),
                    f"{lr}_toe": p(f"{c}{s}_ToeBase") + CC_TOE_LENGTH * toe_dir,
                    f"{lr}_shoulder": p(f"{c}{s}_Upperarm"),
                    f"{lr}_elbow": p(f"{c}{s}_Forearm"),
                    f"{lr}_wrist": p(f"{c}{s}_Hand"),
                    f"{lr}_hand": p(f"{c}{s}_Mid1"),
                }
            )
        approx: tuple[str, ...] = ("head", "nose", "l_toe", "r_toe")
    else:
        frames["head"] = w("head") @ body_rest
        pts.update(spine=(p("abdomen") + p("chest")) / 2.0, neck=p("neck"), head_joint=p("head"))
        for side, lr in ((1, "l"), (-1, "r")):
            frames[f"{lr}_hand"] = w(f"{lr}Hand") @ _bvh_hand_axes(
                motion, f"{lr}Hand", f"{lr}Mid1", f"{lr}Index1", f"{lr}Pinky1", side
            )
            frames[f"{lr}_foot"] = w(f"{lr}Foot") @ foot_axes([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], side)
            ankle = p(f"{lr}Foot")
            pts.update(
                {
                    f"{lr}_hip": p(f"{lr}Thigh"),
                    f"{lr}_knee": p(f"{lr}Shin"),
                    f"{lr}_ankle": ankle,
                    f"{lr}_toe": ankle + POSER_TIP_SCALE * (p(f"{lr}Foot_end") - ankle),
                    f"{lr}_shoulder": p(f"{lr}Shldr"),
                    f"{lr}_elbow": p(f"{lr}ForeArm"),
                    f"{lr}_wrist": p(f"{lr}Hand"),
                    f"{lr}_hand": p(f"{lr}Mid1"),
                }
            )
        approx = ("head", "nose", "l_toe", "r_toe")
    pts["pelvis"] = (pts["l_hip"] + pts["r_hip"]) / 2.0
    wpts, wframes = _to_world(np.stack(list(pts.values())), frames)
    world = dict(zip(pts.keys(), wpts, strict=True))
    world["head"] = world.pop("head_joint") + _apply(RIG_HEAD_CENTRE, wframes["head"])
    return _assemble(
        world,
        wframes["head"],
        np.stack([wframes["l_hand"], wframes["r_hand"]], axis=1),
        np.stack([wframes["l_foot"], wframes["r_foot"]], axis=1),
        approx,
    )


# ---------------------------------------------------------------------------------------------------------
# 20-joint CMU position arrays
# ---------------------------------------------------------------------------------------------------------

# Joint indices of the 20-joint arrays (lifting.learn.datasets.cmu_joints20) with the left chains first.
J20_PELVIS, J20_THORAX, J20_UPPERNECK, J20_HEAD_END = 0, 1, 2, 3
J20_ARM = {"l": (4, 5, 6, 7), "r": (8, 9, 10, 11)}  # shoulder, elbow, radius end (mid forearm), hand end
J20_LEG = {"l": (12, 13, 14, 15), "r": (16, 17, 18, 19)}  # hip, knee, ankle, toe tip


def body_from_joints20(positions: npt.ArrayLike) -> BodyPose:
    """Map the 20-joint CMU position arrays (T, 20, 3) (metres, world Z up, left chains at indices 4–7 and
    12–15, see `lifting.learn.datasets.cmu_joints20`) onto our joints.

    The arrays hold the Acclaim bone ends root, thorax, upperneck, head, and per side clavicle (shoulder),
    humerus (elbow), radius (a point two thirds down the forearm: the Acclaim forearm is `radius` + `wrist`),
    hand (knuckles), hip joint, femur (knee), tibia (ankle), toes (tip). Positions carry no rotations, so:
    - `spine` = midpoint of root and thorax end (the ASF rule for a straight spine); `neck` = `J20_NECK_FRACTION`
      of the way from the thorax end to the upperneck end.
    - head frame: up = upperneck → head end; left from the shoulders. Head yaw relative to the shoulders and
      head roll are not observed (looking sideways is lost); head centre and nose follow the ASF rules.
    - wrist: on the forearm line past the radius end by `WRIST_SHARE` of the radius-end → hand-end distance.
    - hand frames: distal = wrist → hand end; the thumb side is guessed from the elbow: for a bent elbow the
      thumb points away from the upper arm's side of the hinge plane (a handshake pose), for a straight arm
      forwards; forearm pronation is not observed.
    - foot frames: anterior = ankle → toe tip turned up by `TOE_TIP_PITCH_DEG`, superior from the shin (exact
      for a hinge ankle: the shin lies in the foot's sagittal plane).
    """
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (20, 3):
        raise ValueError(f"expected (T, 20, 3) positions, got {p.shape}")
    pelvis_root, thorax, upperneck, head_end = (p[:, i] for i in range(4))
    up = head_end - upperneck
    left = p[:, J20_ARM["l"][0]] - p[:, J20_ARM["r"][0]]
    head = head_axes(up, left)
    body_fwd = np.cross(normalize(left), np.array([0.0, 0.0, 1.0]))
    pts: dict[str, FloatArray] = {
        "spine": (pelvis_root + thorax) / 2.0,
        "neck": thorax + J20_NECK_FRACTION * (upperneck - thorax),
        "head": upperneck + _apply(ASF_HEAD_CENTRE, head),
    }
    hands, feet = [], []
    for s, side in (("l", 1), ("r", -1)):
        sh, el, rad, hand_end = (p[:, i] for i in J20_ARM[s])
        forearm = normalize(rad - el)
        wrist = rad + WRIST_SHARE * np.linalg.norm(hand_end - rad, axis=-1, keepdims=True) * forearm
        distal = normalize(hand_end - wrist)
        upper = el - sh
        hinge = np.cross(upper, rad - el) / np.maximum(
            np.linalg.norm(upper, axis=-1, keepdims=True) * np.linalg.norm(rad - el, axis=-1, keepdims=True),
            1e-9,
        )
        thumb = np.cross(hinge, forearm) + 0.3 * body_fwd
        hands.append(hand_axes(distal, thumb, side))
        hip, knee, ankle, toe = (p[:, i] for i in J20_LEG[s])
        feet.append(_pitch_up(foot_axes(toe - ankle, knee - ankle, side), TOE_TIP_PITCH_DEG))
        pts.update(
            {
                f"{s}_shoulder": sh,
                f"{s}_elbow": el,
                f"{s}_wrist": wrist,
                f"{s}_hand": hand_end,
                f"{s}_hip": hip,
                f"{s}_knee": knee,
                f"{s}_ankle": ankle,
                f"{s}_toe": toe,
            }
        )
    pts["pelvis"] = (pts["l_hip"] + pts["r_hip"]) / 2.0
    approx = ("spine", "neck", "head", "nose", "l_wrist", "r_wrist", "head_frame", "hand_frames")
    return _assemble(pts, head, np.stack(hands, axis=1), np.stack(feet, axis=1), approx)
