"""Rotation solve: joint positions (armature space) -> per-bone rotations of a target armature.

For every driven bone b the solver builds an orthonormal frame F(t) from the bone's primary direction
(joint -> end joint) and a secondary direction (retarget.mocap21.RULES), and the same frame F_rest from
where those joints sit on the rest armature (BoneMap sites). The bone's armature-space rotation is then

    D_b(t) = F(t) @ F_rest^T        (delta from rest, armature space)
    pose_b(t) = D_b(t) @ rest_b     (rotation part of PoseBone.matrix)

so T-pose / A-pose, rolls and Blender's Y-along-bone convention all come out of the rest matrices.
Bones that are not driven keep their rest pose relative to their parent (D_b = D_parent). The local
rotation written to Blender is  rest_b^T @ D_parent^T @ D_b @ rest_b.

Exactness: a bone's rotation is recovered exactly when both of its vectors are rigid to it, i.e. the
bones between its joints are at rest, limbs bend as hinges (the knee or elbow bent by more than
`hinge_full_deg`), and the neck/head/hand/foot twists follow the rule's secondary direction. Twist
that points cannot show (a straight limb's roll, forearm pronation) falls back to the rest twist carried
by the parent bone, blended in smoothly while the limb straightens.

Segment orientations (`Motion3D.orientations`, passed in armature space to `solve_deltas`) replace what
points cannot show: with a `head` orientation the head bone turns the rig's rest head frame (the rest body's
left, up, forward: a rig's head looks ahead at rest) onto the person's head frame, D = R_head @ H_rest^T, instead of
pointing at the nose, and the neck keeps its direction (neck -> head) but takes `neck_share` of the head's turn
about it away from the shoulders' line, so a turned head does not twist at one joint; with an `l_hand`/`r_hand`
orientation the hand bone points along the hand's distal axis and takes its twist from the palm: the palm normal
stands where the elbow's hinge axis stands for a neutral forearm (palm towards the body with the elbow bent),
so the rig's rest hand counts as neutral.

Fingers (`Motion3D.fingers`, the angles of `retarget.hand_model`): for a rig whose mapping names finger bones
(`BoneMap.fingers`), the plan (built `with_fingers`) reads the rig's rest hand frame from the hand bone's head
and the index and little fingers' first bones' heads (their knuckles), and per finger its reference direction
(from the wrist towards its knuckle in the palm plane; the thumb's fixed in the hand frame). Each finger bone then turns
from its parent's delta (`apply_fingers`): the first bone by the spread about its spread axis and flex1 about its
bend axis (perpendicular to the finger's reference and to its curl direction: the palm normal, tilted across the
palm for the thumb), the second and third by flex2 and flex3 about the first bone's rest bend axis, so a finger
flexes towards the palm however the rig's bones are rolled. The angles are absolute, as the landmarks' are: the
rig's rest fingers are measured in its own hand frame (a rig whose rest fingers are curled or spread is turned by
the difference), so a flat hand flattens them. Fingers the rig lacks are left alone.

Everything is vectorised over frames; the only Python loop runs over bones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from retarget import mocap21
from retarget.animation import BoneAnimation
from retarget.errors import RetargetError
from retarget.hand_model import (
    FINGERS,
    finger_angles,
    finger_basis,
    hand_frame,
    radial_axis,
    reference_and_curl,
)
from retarget.mapping import BoneMap, body_axes
from retarget.mocap21 import Hinge, Line
from retarget.quaternions import make_continuous, matrix_to_quat
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import axis_angle_matrix, frame_from_vectors, normalize, rotation_between

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SolveConfig:
    """hinge_min_deg / hinge_full_deg: below the first a limb counts as straight (its twist comes from
    the parent), above the second its bend plane alone sets the twist; smooth blend in between.
    rest_bend_min_deg / rest_bend_full_deg: a rest limb bent less than the first is treated as straight
    (its hinge axis is anatomical: elbows flex forward, knees backward); bent more than the second, its
    own rest bend plane is the hinge, as Blender's IK assumes (sign still anatomical).
    key_all_bones: also key every other bone below the root at rest (fingers, twist bones...).
    neck_share: the part of the head's turn about the neck (away from the shoulders' line) the neck bone takes
    when the motion carries a head orientation (0: none, 1: all)."""

    hinge_min_deg: float = 8.0
    hinge_full_deg: float = 20.0
    rest_bend_min_deg: float = 0.5
    rest_bend_full_deg: float = 2.0
    key_all_bones: bool = False
    neck_share: float = 0.5


@dataclass(frozen=True)
class DrivenBone:
    """One driven bone: its rest-armature index, rule, rest frame (3, 3) and rest secondary (3,)."""

    bone: int
    joint: str
    rule: mocap21.SegmentRule
    rest_frame: FloatArray
    rest_primary: FloatArray
    rest_secondary: FloatArray


@dataclass(frozen=True)
class HingeRest:
    """A limb's hinge at rest: unit upper-segment direction and unit hinge axis (armature space)."""

    upper_dir: FloatArray
    axis: FloatArray


@dataclass(frozen=True)
class FingerRest:
    """One finger on the rest rig, armature space: its bones (indices, hand outwards), which hand (0 left, 1 right)
    and finger (index into `retarget.hand_model.FINGERS`); its reference, curl and thumb-side directions (3,) and
    the spread and bend axes (3,) of `retarget.hand_model.finger_basis`; the bones' rest directions (3, 3); the
    rest pose's own angles (4,) and the rotation R1 (3, 3) that takes the reference onto the first bone at rest."""

    bones: tuple[int, int, int]
    hand: int
    finger: int
    reference: FloatArray
    curl: FloatArray
    radial: FloatArray
    spread_axis: FloatArray
    bend_axis: FloatArray
    directions: FloatArray
    rest_angles: FloatArray
    rest_first: FloatArray


@dataclass(frozen=True)
class SolvePlan:
    """Everything about one (armature, mapping, joint layout) that does not depend on the frames."""

    rest: RestSkeleton
    bone_map: BoneMap
    joint_index: dict[str, int]
    driven: dict[int, DrivenBone]
    relevant: tuple[int, ...]
    output: tuple[int, ...]
    root: int
    hinges: dict[Hinge, HingeRest]
    sites: dict[str, FloatArray]
    site_bone: dict[str, int]
    config: SolveConfig = field(default_factory=SolveConfig)
    head_rest: FloatArray = field(default_factory=lambda: np.eye(3))
    fingers: tuple[FingerRest, ...] = ()


def _smoothstep(x: FloatArray | float, lo: float, hi: float) -> FloatArray:
    u = np.clip((np.asarray(x, dtype=np.float64) - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def hinge_rest(sites: dict[str, FloatArray], hinge: Hinge, config: SolveConfig) -> HingeRest:
    """Rest hinge axis of a limb: its rest bend plane when bent, the anatomical axis when straight."""
    u = normalize(sites[hinge.middle] - sites[hinge.upper])
    low = normalize(sites[hinge.lower] - sites[hinge.middle])
    _, fwd, _ = body_axes(sites["pelvis"], sites["neck"], sites["l_hip"], sites["r_hip"])
    bend = fwd if hinge.bend == "forward" else -fwd
    n_anat = normalize(np.cross(u, bend))
    if np.linalg.norm(n_anat) < 0.5:
        raise RetargetError(
            f"the rest {hinge.upper}->{hinge.middle} segment points along the body's forward axis."
        )
    c = np.cross(u, low)
    theta = np.arctan2(np.linalg.norm(c), float(np.dot(u, low)))
    n_bend = normalize(c)
    if np.dot(n_bend, n_anat) < 0:
        n_bend = -n_bend
    w = float(_smoothstep(np.degrees(theta), config.rest_bend_min_deg, config.rest_bend_full_deg))
    axis = w * n_bend + (1.0 - w) * n_anat
    axis = normalize(axis - np.dot(axis, u) * u)
    return HingeRest(u, axis)


def finger_rests(
    rest: RestSkeleton, bone_map: BoneMap, sites: dict[str, FloatArray]
) -> tuple[FingerRest, ...]:
    """The mapped fingers on the rest rig (module docstring), their angles measured as the landmarks' are: in the
    rig's hand frame (wrist site, index and little fingers' first heads as knuckles); a hand without both index
    and little fingers has none."""
    out = []
    for h, side in enumerate("lr"):
        index, pinky = bone_map.fingers.get(f"{side}_index"), bone_map.fingers.get(f"{side}_pinky")
        if index is None or pinky is None or f"{side}_wrist" not in sites:
            continue
        wrist = sites[f"{side}_wrist"]
        frame = hand_frame(wrist, rest.heads[rest.bone(index[0])], rest.heads[rest.bone(pinky[0])], side)
        radial = frame @ radial_axis(side)
        for k, finger in enumerate(FINGERS):
            names = bone_map.fingers.get(f"{side}_{finger}")
            if names is None:
                continue
            bones = tuple(rest.bone(b) for b in names)
            dirs = np.array([normalize(rest.tails[b] - rest.heads[b]) for b in bones])
            ref_local, curl_local = reference_and_curl(finger, side, frame.T @ (rest.heads[bones[0]] - wrist))
            ref, curl = frame @ ref_local, frame @ curl_local
            _, _, _, bend, spread = finger_basis(ref, curl, radial)
            angles = finger_angles(dirs, ref, curl, radial)
            first = axis_angle_matrix(spread, angles[0]) @ axis_angle_matrix(bend, angles[1])
            out.append(
                FingerRest(
                    (bones[0], bones[1], bones[2]), h, k, ref, curl, radial, spread, bend, dirs, angles, first
                )
            )
    return tuple(out)


def build_plan(
    rest: RestSkeleton,
    bone_map: BoneMap,
    joint_names: tuple[str, ...] | list[str],
    config: SolveConfig | None = None,
    with_fingers: bool = False,
) -> SolvePlan:
    """Check the mapping against the armature and the motion's joints, and precompute rest frames;
    `with_fingers`: the mapped finger bones are solved and keyed too (`apply_fingers`)."""
    cfg = config or SolveConfig()
    bone_map.validate(rest)
    index = {n: i for i, n in enumerate(joint_names)}
    needed = bone_map.joints_needed()
    missing = [j for j in needed if j not in index]
    if missing:
        raise RetargetError(f"the motion has no joint {missing[0]!r}, which this rig mapping needs.")
    sites = bone_map.rest_sites(rest, needed)
    site_bone = {j: rest.bone(bone_map.site(j).bone) for j in needed}
    hinges: dict[Hinge, HingeRest] = {}
    driven: dict[int, DrivenBone] = {}
    for joint, bone_name in bone_map.drive.items():
        rule = mocap21.RULES[joint]
        i = rest.bone(bone_name)
        prim = sites[rule.end] - sites[joint]
        if np.linalg.norm(prim) < 1e-6:
            raise RetargetError(f"joints {joint!r} and {rule.end!r} sit at the same place on the rest rig.")
        sec_rule = rule.secondary
        if isinstance(sec_rule, Line):
            sec = sites[sec_rule.end] - sites[sec_rule.start]
        else:
            if sec_rule not in hinges:
                hinges[sec_rule] = hinge_rest(sites, sec_rule, cfg)
            sec = hinges[sec_rule].axis
        p_u = normalize(prim)
        s_perp = sec - np.dot(sec, p_u) * p_u
        if float(np.linalg.norm(s_perp)) < 1e-3 * max(float(np.linalg.norm(sec)), 1e-9):
            raise RetargetError(
                f"on the rest rig the twist reference of joint {joint!r} is parallel to its bone."
            )
        frame = frame_from_vectors(prim, sec)
        driven[i] = DrivenBone(i, joint, rule, frame, p_u, normalize(s_perp))
    root = rest.bone(bone_map.root)
    fingers = finger_rests(rest, bone_map, sites) if with_fingers else ()
    if cfg.key_all_bones:
        output = {i for i in range(rest.num_bones) if i == root or root in rest.ancestors(i)}
    else:
        output = set()
        for i in driven:
            b = i
            while b != root and b >= 0:  # validate() guarantees the root is an ancestor
                output.add(b)
                b = rest.parents[b]
        output.add(root)
    for f in fingers:
        for b in f.bones:
            while b != root and b >= 0:
                output.add(b)
                b = rest.parents[b]
    relevant = set(output) | set(site_bone.values())
    for i in list(relevant):
        relevant.update(rest.ancestors(i))
    left, forward, up = body_axes(sites["pelvis"], sites["neck"], sites["l_hip"], sites["r_hip"])
    return SolvePlan(
        rest=rest,
        bone_map=bone_map,
        joint_index=index,
        driven=driven,
        relevant=tuple(sorted(relevant)),
        output=tuple(sorted(output)),
        root=root,
        hinges=hinges,
        sites=sites,
        site_bone=site_bone,
        config=cfg,
        head_rest=np.stack([left, up, forward], axis=-1),
        fingers=fingers,
    )


def _hinge_normal(plan: SolvePlan, hinge: Hinge, joints: FloatArray, carrier: FloatArray) -> FloatArray:
    """Per-frame hinge axis (T, 3): bend-plane normal, blended with the carried rest axis when straight."""
    ix = plan.joint_index
    up = normalize(joints[:, ix[hinge.middle]] - joints[:, ix[hinge.upper]])
    low = normalize(joints[:, ix[hinge.lower]] - joints[:, ix[hinge.middle]])
    c = np.cross(up, low)
    sin_t = np.linalg.norm(c, axis=-1)
    theta = np.degrees(np.arctan2(sin_t, np.sum(up * low, axis=-1)))
    n_plane = normalize(c)
    hr = plan.hinges[hinge]
    carried_up = carrier @ hr.upper_dir
    n_fb = rotation_between(carried_up, up) @ (carrier @ hr.axis)[..., None]
    n_fb = n_fb[..., 0]
    w = _smoothstep(theta, plan.config.hinge_min_deg, plan.config.hinge_full_deg)
    flip = (theta < plan.config.hinge_full_deg) & (np.sum(n_plane * n_fb, axis=-1) < 0.0)
    n_plane = np.where(flip[:, None], -n_plane, n_plane)
    return normalize(w[:, None] * n_plane + (1.0 - w[:, None]) * n_fb)


def _twist_towards(primary: FloatArray, start: FloatArray, goal: FloatArray, share: float) -> FloatArray:
    """`start` (T, 3) turned about `primary` (T, 3) by `share` of the signed angle that takes it to `goal` (T, 3),
    both seen perpendicular to primary."""
    p = normalize(primary)
    a = normalize(start - np.sum(start * p, axis=-1, keepdims=True) * p)
    b = normalize(goal - np.sum(goal * p, axis=-1, keepdims=True) * p)
    angle = np.arctan2(np.sum(np.cross(a, b) * p, axis=-1), np.sum(a * b, axis=-1))
    out: FloatArray = np.cos(share * angle)[:, None] * a + np.sin(share * angle)[:, None] * np.cross(p, a)
    return out


def solve_deltas(
    plan: SolvePlan, joints: npt.ArrayLike, orientations: dict[str, npt.ArrayLike] | None = None
) -> dict[int, FloatArray]:
    """Armature-space delta rotations D_b (T, 3, 3) for every relevant bone.

    joints: (T, J, 3) positions in armature space (any uniform scale), J as in the motion's joint names.
    orientations: segment name (`retarget.motion3d.ORIENTATION_FRAMES`: "head", "l_hand", "r_hand") -> (T, 3, 3)
    rotations from the segment's frame to armature space (module docstring); others are ignored.
    Bones above the root bone and undriven bones without a driven ancestor get the identity.
    """
    pts = np.asarray(joints, dtype=np.float64)
    t = pts.shape[0]
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    ix = plan.joint_index
    parents = plan.rest.parents
    seg = {k: np.asarray(v, dtype=np.float64) for k, v in (orientations or {}).items()}
    deltas: dict[int, FloatArray] = {}
    hinge_cache: dict[Hinge, FloatArray] = {}
    for i in plan.relevant:
        p = parents[i]
        dp = deltas[p] if p >= 0 else eye
        spec = plan.driven.get(i)
        if spec is None:
            deltas[i] = dp
            continue
        if spec.joint == "head" and "head" in seg:
            deltas[i] = seg["head"] @ plan.head_rest.T
            continue
        rule = spec.rule
        prim = pts[:, ix[rule.end]] - pts[:, ix[spec.joint]]
        sec_rule = rule.secondary
        if isinstance(sec_rule, Line):
            sec = pts[:, ix[sec_rule.end]] - pts[:, ix[sec_rule.start]]
        else:
            if sec_rule not in hinge_cache:
                hinge_cache[sec_rule] = _hinge_normal(plan, sec_rule, pts, dp)
            sec = hinge_cache[sec_rule]
        hand = f"{spec.joint[0]}_hand"
        if spec.joint == "neck" and "head" in seg:
            sec = _twist_towards(prim, sec, seg["head"][..., 0], plan.config.neck_share)
        elif spec.joint.endswith("_wrist") and hand in seg:
            # The hinge axis of a neutral forearm is the left palm's normal, the right palm's opposite.
            prim = seg[hand][..., 0]
            sec = seg[hand][..., 1] * (1.0 if spec.joint[0] == "l" else -1.0)
        p_u = normalize(prim)
        s_perp = sec - np.sum(sec * p_u, axis=-1, keepdims=True) * p_u
        weak = np.linalg.norm(s_perp, axis=-1) < 1e-3 * np.maximum(np.linalg.norm(sec, axis=-1), 1e-9)
        if np.any(weak):
            sec = np.where(weak[:, None], dp @ spec.rest_secondary, sec)
        frame = frame_from_vectors(prim, sec)
        deltas[i] = frame @ spec.rest_frame.T
    return deltas


def propagate(plan: SolvePlan, deltas: dict[int, FloatArray]) -> dict[int, FloatArray]:
    """Recompute undriven bones' deltas from their parents after driven ones changed (returns a new dict)."""
    out: dict[int, FloatArray] = {}
    t = next(iter(deltas.values())).shape[0]
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    for i in plan.relevant:
        p = plan.rest.parents[i]
        out[i] = deltas[i] if i in plan.driven else (out[p] if p >= 0 else eye)
    return out


def apply_fingers(
    plan: SolvePlan, deltas: dict[int, FloatArray], fingers: npt.ArrayLike | None
) -> dict[int, FloatArray]:
    """Deltas with the plan's finger bones turned by `fingers` (T, 2, 5, 4) radians (`Motion3D.fingers`) and the
    bones below them following (module docstring); `deltas` unchanged when there are none."""
    if fingers is None or not plan.fingers:
        return deltas
    ang = np.asarray(fingers, dtype=np.float64)
    local: dict[int, FloatArray] = {}
    chain: dict[int, int] = {}
    for f in plan.fingers:
        a = ang[:, f.hand, f.finger]
        # The first bone: from its rest angles to the wanted ones about the reference's axes; the others bend by
        # the difference from their rest bend about the first bone's rest bend axis.
        first = axis_angle_matrix(f.spread_axis, a[:, 0]) @ axis_angle_matrix(f.bend_axis, a[:, 1])
        local[f.bones[0]] = first @ f.rest_first.T
        axis = f.rest_first @ f.bend_axis
        local[f.bones[1]] = axis_angle_matrix(axis, a[:, 2] - f.rest_angles[2])
        local[f.bones[2]] = axis_angle_matrix(axis, a[:, 3] - f.rest_angles[3])
        chain[f.bones[1]], chain[f.bones[2]] = f.bones[0], f.bones[1]
    out: dict[int, FloatArray] = {}
    t = ang.shape[0]
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    for i in plan.relevant:
        p = plan.rest.parents[i]
        if i in local:
            # Each finger bone turns from the one before it in the finger (its parent on most rigs).
            base = out[chain[i]] if i in chain else (out[p] if p >= 0 else eye)
            out[i] = base @ local[i]
        elif i in plan.driven:
            out[i] = deltas[i]
        else:  # undriven: follows its parent, as in `propagate`
            out[i] = out[p] if p >= 0 else eye
    return out


def rig_finger_angles(plan: SolvePlan, deltas: dict[int, FloatArray]) -> FloatArray:
    """The finger angles (T, 2, 5, 4) radians (`retarget.hand_model`) that posed finger bones show, from their
    deltas (T, 3, 3) and the plan's rest fingers (their references carried by the first bone's parent); NaN for
    fingers the plan lacks. The inverse of `apply_fingers`."""
    t = next(iter(deltas.values())).shape[0]
    out = np.full((t, 2, len(FINGERS), 4), np.nan)
    for f in plan.fingers:
        dp = deltas[plan.rest.parents[f.bones[0]]]
        segs = np.stack([deltas[b] @ d for b, d in zip(f.bones, f.directions, strict=True)], axis=-2)
        out[:, f.hand, f.finger] = finger_angles(segs, dp @ f.reference, dp @ f.curl, dp @ f.radial)
    return out


def bone_heads(
    plan: SolvePlan, deltas: dict[int, FloatArray], root_shift: npt.ArrayLike | None = None
) -> dict[int, FloatArray]:
    """Posed head positions (T, 3) of relevant bones; the root bone's head moves by root_shift (T, 3)."""
    rest = plan.rest
    heads = rest.heads
    out: dict[int, FloatArray] = {}
    t = next(iter(deltas.values())).shape[0]
    shift = np.zeros((t, 3)) if root_shift is None else np.asarray(root_shift, dtype=np.float64)
    for i in plan.relevant:
        p = rest.parents[i]
        if p < 0:
            out[i] = np.broadcast_to(heads[i], (t, 3))
        else:
            out[i] = out[p] + deltas[p] @ (heads[i] - heads[p])
        if i == plan.root:
            out[i] = out[i] + shift
    return out


def site_positions(
    plan: SolvePlan, deltas: dict[int, FloatArray], heads: dict[int, FloatArray], joints: list[str]
) -> dict[str, FloatArray]:
    """Posed positions (T, 3) of the given joints' sites on the rig."""
    out = {}
    for j in joints:
        b = plan.site_bone[j]
        out[j] = heads[b] + deltas[b] @ (plan.sites[j] - plan.rest.heads[b])
    return out


def root_shift_for(
    plan: SolvePlan, deltas: dict[int, FloatArray], pelvis_target: npt.ArrayLike
) -> FloatArray:
    """Translation (T, 3) of the root bone that puts the pelvis site at pelvis_target (T, 3)."""
    heads = bone_heads(plan, deltas)
    pelvis = site_positions(plan, deltas, heads, ["pelvis"])["pelvis"]
    return np.asarray(pelvis_target, dtype=np.float64) - pelvis


def to_animation(
    plan: SolvePlan,
    deltas: dict[int, FloatArray],
    root_shift: npt.ArrayLike,
    fps: float,
    contacts: npt.NDArray[np.bool_] | None = None,
) -> BoneAnimation:
    """Local quaternions for the output bones and the root location, as Blender keys them."""
    rest = plan.rest
    rot = rest.rotations
    shift = np.asarray(root_shift, dtype=np.float64)
    t = shift.shape[0]
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    quats = np.empty((t, len(plan.output), 4))
    for k, i in enumerate(plan.output):
        p = rest.parents[i]
        dp = deltas[p] if p >= 0 else eye
        if deltas[i] is dp:
            quats[:, k] = (1.0, 0.0, 0.0, 0.0)
            continue
        local = rot[i].T @ np.swapaxes(dp, -1, -2) @ deltas[i] @ rot[i]
        quats[:, k] = matrix_to_quat(local)
    quats = make_continuous(quats, axis=0)
    # pose.t = rest.R @ loc + rest.head for a root bone whose ancestors are at rest.
    location = shift @ rot[plan.root]
    return BoneAnimation(
        bone_names=tuple(rest.names[i] for i in plan.output),
        rotations=quats,
        root_bone=rest.names[plan.root],
        root_location=location,
        fps=fps,
        contacts=contacts,
    )


def solve(
    plan: SolvePlan,
    joints: npt.ArrayLike,
    fps: float,
    orientations: dict[str, npt.ArrayLike] | None = None,
    fingers: npt.ArrayLike | None = None,
) -> BoneAnimation:
    """Joints (T, J, 3) in armature space (and optional segment orientations, `solve_deltas`, and finger angles,
    `apply_fingers`) -> BoneAnimation with the pelvis site on the pelvis joint."""
    pts = np.asarray(joints, dtype=np.float64)
    deltas = solve_deltas(plan, pts, orientations)
    shift = root_shift_for(plan, deltas, pts[:, plan.joint_index["pelvis"]])
    return to_animation(plan, apply_fingers(plan, deltas, fingers), shift, fps)
