"""Motion3D -> BoneAnimation for one armature: the single entry point the add-on and the CLI call.

Steps: world placement (contacts, support levels, Z up, root consistent with the planted feet, scale) ->
optional smoothing -> into the armature's space at the rig's scale -> rotation solve (with the motion's head and
hand orientations when it carries them, turned into the armature's space the same way) -> root height from
the feet -> foot locking (planted feet pinned, no toe below its support) -> finger angles onto the rig's finger
bones (when the motion has them) -> keys.
Deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from retarget import mocap21
from retarget.animation import BoneAnimation
from retarget.contacts import detect_contacts
from retarget.errors import RetargetError
from retarget.foot_lock import FootLockConfig, lock_feet
from retarget.mapping import BoneMap
from retarget.motion3d import Motion3D
from retarget.our_rig import build_rest_skeleton
from retarget.placement import PlacementConfig, WorldPlacement, place
from retarget.presets import bone_map_for
from retarget.quaternions import quat_to_matrix
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import orthonormalize
from retarget.smoothing import smooth
from retarget.solve import (
    SolveConfig,
    SolvePlan,
    apply_fingers,
    bone_heads,
    build_plan,
    root_shift_for,
    site_positions,
    solve_deltas,
    to_animation,
)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RetargetConfig:
    """preset: rig preset name (None: detect from bone names); bone_map: a custom mapping (wins).
    root_scale: rig units per world metre for the root trajectory (None: rig leg length / person's).
    armature_matrix: the armature object's world matrix (4 x 4, only its 3 x 3 part is used: the motion
    starts at the object's origin); None means identity.
    orientations: which of the motion's segment orientations (`Motion3D.orientations`: head, hands) the solve
    uses when the motion has them (empty: the head points at the nose and the hands' twist follows the forearm).
    smoothing: 0..1 strength, smoothing_method "savgol" or "one_euro"; foot_lock on/off: planted feet
    pinned (both when both are planted) and no toe below its support (the contacts, support levels and the
    root consistent with them come from placement, `retarget.ground`).
    feet_on_floor: raise or lower the root each frame so the rig's lower toe is exactly as high above the
    floor as the person's. The rig's legs keep constant lengths while lifted legs vary from frame to frame
    (foreshortening), so a pelvis copied as is puts the rig's feet centimetres into or above the floor.
    Off: the rig's pelvis follows the person's pelvis height exactly.
    fingers: turn and key the rig's mapped finger bones by the motion's finger angles when it has them
    (`Motion3D.fingers`, `retarget.solve.apply_fingers`); off, or without them, the fingers are not keyed."""

    preset: str | None = None
    bone_map: BoneMap | None = None
    placement: PlacementConfig = field(default_factory=PlacementConfig)
    root_scale: float | None = None
    armature_matrix: tuple[tuple[float, ...], ...] | None = None
    orientations: tuple[str, ...] = ("head", "l_hand", "r_hand")
    smoothing: float = 0.0
    smoothing_method: str = "savgol"
    foot_lock: bool = True
    feet_on_floor: bool = True
    fingers: bool = True
    lock: FootLockConfig = field(default_factory=FootLockConfig)
    solve: SolveConfig = field(default_factory=SolveConfig)


@dataclass(frozen=True)
class RetargetResult:
    """animation: the keys; placement: camera -> world; world_joints (T, J, 3) metres Z up (after
    smoothing); contacts (T, 2) left/right planted, the placement's; bone_map used; root_scale applied;
    rig_joints (T, J, 3): the joints the keys aim at, world axes and units at the rig's scale, the armature
    object's origin at 0 (what a check of the posed rig compares with)."""

    animation: BoneAnimation
    placement: WorldPlacement
    world_joints: FloatArray
    contacts: npt.NDArray[np.bool_]
    bone_map: BoneMap
    root_scale: float
    rig_joints: FloatArray | None = None


def _leg_length(points: dict[str, FloatArray]) -> FloatArray:
    legs = []
    for s in "lr":
        hip, knee, ankle = (points[j] for j in mocap21.LEGS[s])
        legs.append(np.linalg.norm(knee - hip, axis=-1) + np.linalg.norm(ankle - knee, axis=-1))
    return np.asarray(0.5 * (legs[0] + legs[1]), dtype=np.float64)


def floor_correction(
    plan: SolvePlan,
    deltas: dict[int, FloatArray],
    root_shift: FloatArray,
    toes_world: FloatArray,
    linear: FloatArray,
) -> FloatArray:
    """Root shift change (T, 3), armature units, that puts the rig's lower toe at the height of the lower of
    toes_world (T, 2, 3) (world units, Z up; the rig's rest toe height already added); `linear` (3, 3) maps
    armature to world coordinates. Only the world height changes."""
    heads = bone_heads(plan, deltas, root_shift)
    toes = site_positions(plan, deltas, heads, ["l_toe", "r_toe"])
    rig_z = np.minimum(toes["l_toe"] @ linear[2], toes["r_toe"] @ linear[2])
    dz = toes_world[..., 2].min(axis=1) - rig_z
    return np.asarray(np.outer(dz, np.linalg.inv(linear)[:, 2]), dtype=np.float64)


def retarget(motion: Motion3D, rest: RestSkeleton, config: RetargetConfig | None = None) -> RetargetResult:
    """Retarget a Motion3D onto an armature at rest; see the module docstring for the steps."""
    cfg = config or RetargetConfig()
    world, placement = place(motion, cfg.placement)
    return _retarget_placed(motion, world, placement, rest, cfg)


def retarget_onto_ours(
    motion: Motion3D, config: RetargetConfig | None = None
) -> tuple[RestSkeleton, RetargetResult]:
    """Our armature built from the person's proportions, and the motion retargeted onto it (preset "ours");
    the motion is placed in the world once, for both."""
    cfg = replace(config or RetargetConfig(), preset="ours", bone_map=None)
    world, placement = place(motion, cfg.placement)
    rest = build_rest_skeleton(world, motion.joint_names)
    return rest, _retarget_placed(motion, world, placement, rest, cfg)


def _retarget_placed(
    motion: Motion3D, world: FloatArray, placement: WorldPlacement, rest: RestSkeleton, cfg: RetargetConfig
) -> RetargetResult:
    """`retarget` once the motion is placed: world (T, J, 3) Z-up metres and its placement."""
    bone_map = cfg.bone_map if cfg.bone_map is not None else bone_map_for(rest.names, cfg.preset)
    fingers = motion.fingers if cfg.fingers else None
    plan = build_plan(rest, bone_map, motion.joint_names, cfg.solve, with_fingers=fingers is not None)
    if cfg.smoothing > 0.0:
        world = smooth(world, motion.fps, cfg.smoothing, cfg.smoothing_method)
    ix = plan.joint_index
    if placement.contacts is not None:
        contacts = placement.contacts
    else:  # a placement made elsewhere without the ground analysis
        contacts = detect_contacts(world[:, [ix["l_ankle"], ix["r_ankle"]]], motion.fps)

    lin = (
        np.eye(3)
        if cfg.armature_matrix is None
        else np.asarray(cfg.armature_matrix, dtype=np.float64)[:3, :3]
    )
    if abs(np.linalg.det(lin)) < 1e-12:
        raise RetargetError("the armature object's matrix is singular (zero scale); fix its transform.")
    rest_world = {j: lin @ v for j, v in plan.sites.items()}
    if cfg.root_scale is not None:
        scale = float(cfg.root_scale)
    else:
        person = float(np.median(_leg_length({j: world[:, ix[j]] for s in "lr" for j in mocap21.LEGS[s]})))
        scale = float(_leg_length(rest_world)) / max(person, 1e-9)
    if not np.isfinite(scale) or scale <= 0:
        raise RetargetError("the root scale must be a positive number.")
    toe_height = 0.5 * (rest_world["l_toe"][2] + rest_world["r_toe"][2])
    world_rig = scale * world + np.array([0.0, 0.0, toe_height])
    joints_arm = world_rig @ np.linalg.inv(lin).T
    to_arm = np.linalg.inv(lin) @ placement.rotation
    orientations: dict[str, npt.ArrayLike] = {}
    for name in cfg.orientations:
        quats = motion.orientation(name)
        if quats is not None:
            orientations[name] = orthonormalize(to_arm @ quat_to_matrix(quats))

    deltas = solve_deltas(plan, joints_arm, orientations)
    shift = root_shift_for(plan, deltas, joints_arm[:, ix["pelvis"]])
    if cfg.feet_on_floor:
        toes = world_rig[:, [ix["l_toe"], ix["r_toe"]]]
        shift = shift + floor_correction(plan, deltas, shift, toes, lin)
    if cfg.foot_lock:
        support = None if placement.support is None else scale * placement.support + toe_height
        deltas = lock_feet(plan, deltas, shift, contacts, motion.fps, cfg.lock, support, lin)
    deltas = apply_fingers(plan, deltas, fingers)
    animation = to_animation(plan, deltas, shift, motion.fps, contacts)
    return RetargetResult(animation, placement, world, contacts, bone_map, scale, world_rig)
