"""Synthetic motion with known answers, for tests, benchmarks and demos (deterministic, seeded).

- `observable_animation`: random bone animations that 21 joints can show exactly (see retarget.solve:
  hips, chest, upper limbs: any rotation; knees/elbows: hinge bends of 30-110 degrees; neck, head, hands,
  feet: any direction with the rule's twist), so a solve of their joints must give them back.
- `site_joints`: forward kinematics of an animation -> our joints on the rig (armature space).
- `walking_joints`: a person walking along +Y in world space (metres, Z up) whose planted feet slide.
- `camera_motion`: world joints seen by a pinhole camera -> Motion3D.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retarget import mocap21
from retarget.animation import BoneAnimation, pose_matrices, posed_points
from retarget.mocap21 import Line
from retarget.motion3d import Intrinsics, Motion3D
from retarget.quaternions import matrix_to_quat
from retarget.rotations import axis_angle_matrix, frame_from_vectors, normalize
from retarget.solve import SolvePlan

FloatArray = npt.NDArray[np.float64]


def _random_rotations(rng: np.random.Generator, t: int, max_deg: float) -> FloatArray:
    """Smooth random rotations (t, 3, 3) up to max_deg, varying over the clip."""
    axis = rng.normal(size=3) + 0.5 * np.sin(np.linspace(0, 3, t))[:, None] * rng.normal(size=3)
    phase = rng.uniform(0, 2 * np.pi)
    angle = np.radians(max_deg) * np.sin(np.linspace(0, 4 * np.pi, t) + phase)
    return axis_angle_matrix(axis, angle)


def observable_deltas(plan: SolvePlan, frames: int, seed: int = 0) -> dict[int, FloatArray]:
    """Armature-space delta rotations (T, 3, 3) per relevant bone, on the solver's observable set."""
    rng = np.random.default_rng(seed)
    t = frames
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    deltas: dict[int, FloatArray] = {}
    for i in plan.relevant:
        p = plan.rest.parents[i]
        dp = deltas[p] if p >= 0 else eye
        spec = plan.driven.get(i)
        if spec is None:
            deltas[i] = dp
            continue
        j = spec.joint
        sec = spec.rule.secondary
        if j == "pelvis":
            yaw = axis_angle_matrix(np.array([0.0, 0.0, 1.0]), np.linspace(0, rng.uniform(-3, 3), t))
            deltas[i] = yaw @ _random_rotations(rng, t, 35.0)
        elif j in ("spine", "l_shoulder", "r_shoulder", "l_hip", "r_hip"):
            deltas[i] = dp @ _random_rotations(rng, t, 30.0 if j == "spine" else 60.0)
        elif j in ("l_elbow", "r_elbow", "l_knee", "r_knee"):
            assert not isinstance(sec, Line)
            hr = plan.hinges[sec]
            low = normalize(plan.sites[sec.lower] - plan.sites[sec.middle])
            rest_bend = np.degrees(
                np.arctan2(np.dot(np.cross(hr.upper_dir, low), hr.axis), np.dot(hr.upper_dir, low))
            )
            bend = 70.0 + 40.0 * np.sin(np.linspace(0, 5, t) + rng.uniform(0, 6)) - rest_bend
            deltas[i] = dp @ axis_angle_matrix(np.broadcast_to(hr.axis, (t, 3)), np.radians(bend))
        else:
            prim = (dp @ _random_rotations(rng, t, 35.0)) @ spec.rest_primary
            if isinstance(sec, Line):
                held = plan.site_bone[sec.end]
                carrier = deltas[held] if held in deltas else dp
                s = carrier @ (plan.sites[sec.end] - plan.sites[sec.start])
            else:
                s = dp @ plan.hinges[sec].axis
            deltas[i] = frame_from_vectors(prim, s) @ spec.rest_frame.T
    return deltas


def animation_from_deltas(
    plan: SolvePlan, deltas: dict[int, FloatArray], root_location: npt.ArrayLike, fps: float
) -> BoneAnimation:
    """BoneAnimation of the plan's output bones from armature deltas (local = R^T Dp^T D R)."""
    rest = plan.rest
    loc = np.asarray(root_location, dtype=np.float64)
    t = loc.shape[0]
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    q = np.empty((t, len(plan.output), 4))
    for k, i in enumerate(plan.output):
        p = rest.parents[i]
        dp = deltas[p] if p >= 0 else eye
        r = rest.rotations[i]
        q[:, k] = matrix_to_quat(r.T @ np.swapaxes(dp, -1, -2) @ deltas[i] @ r)
    return BoneAnimation(tuple(rest.names[i] for i in plan.output), q, rest.names[plan.root], loc, fps)


def observable_animation(plan: SolvePlan, frames: int, fps: float = 30.0, seed: int = 0) -> BoneAnimation:
    """A random BoneAnimation whose joints determine it exactly; the root wanders (rig units ~ metres)."""
    rng = np.random.default_rng(seed + 1000)
    deltas = observable_deltas(plan, frames, seed)
    s = np.linspace(0, 1, frames)[:, None]
    loc = np.concatenate([np.sin(3 * s + rng.uniform(0, 6, 3)[None]) * 0.5], axis=1)
    return animation_from_deltas(plan, deltas, loc, fps)


def site_joints(plan: SolvePlan, anim: BoneAnimation, joint_names: tuple[str, ...] | list[str]) -> FloatArray:
    """Our joints (T, J, 3) in armature space from FK of `anim`; joints without a site stay at 0."""
    rest = plan.rest
    pose = pose_matrices(rest, anim)
    names = [n for n in joint_names if n in plan.sites]
    pts = posed_points(
        pose, rest, [plan.site_bone[n] for n in names], np.stack([plan.sites[n] for n in names])
    )
    out = np.zeros((anim.num_frames, len(joint_names), 3))
    for k, n in enumerate(names):
        out[:, list(joint_names).index(n)] = pts[:, k]
    return out


def _leg_ik(hip: FloatArray, ankle: FloatArray, a: float, b: float, forward: FloatArray) -> FloatArray:
    """Knee positions (T, 3) for thigh a and shin b, knee bending towards `forward`."""
    d = np.linalg.norm(ankle - hip, axis=-1)
    d = np.minimum(d, a + b - 1e-4)
    u = normalize(ankle - hip)
    w = normalize(forward - np.sum(forward * u, axis=-1, keepdims=True) * u)
    cos_a = (a * a + d * d - b * b) / (2 * a * d)
    return np.asarray(hip + a * (cos_a[:, None] * u + np.sqrt(1 - cos_a**2)[:, None] * w), dtype=np.float64)


def walking_joints(
    frames: int, fps: float = 30.0, slide: float = 0.05, jitter: float = 0.006, seed: int = 0
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """World joints (T, 21, 3) of a walk along +Y (metres, Z up, toes on Z = 0) and true contacts (T, 2).

    Each stance lasts 60% of a 1.1 s gait cycle; during it the ankle slides `slide` metres forward plus
    `jitter` metres of noise (what a jittery pose estimate does). Arms hang down; the trunk is upright.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    cycle = 1.1
    step = 0.5
    speed = step * 2 / cycle
    names = mocap21.NAMES
    ix = {n: i for i, n in enumerate(names)}
    out = np.zeros((frames, len(names), 3))
    contacts = np.zeros((frames, 2), dtype=bool)
    thigh, shin, ankle_h, foot = 0.43, 0.42, 0.08, 0.17
    pelvis = np.stack(
        [np.zeros(frames), speed * t, np.full(frames, 0.88 + 0.01 * np.cos(4 * np.pi * t / cycle))], 1
    )
    fwd = np.broadcast_to(np.array([0.0, 1.0, 0.0]), (frames, 3))
    for f, (side, sign, phase0) in enumerate((("l", -1.0, 0.0), ("r", 1.0, 0.5))):
        phase = ((t / cycle) + phase0) % 1.0
        n_cycle = np.floor((t / cycle) + phase0)
        stance = phase < 0.6
        contacts[:, f] = stance
        # Planted where the pelvis passes at mid-stance; slides forward by `slide` while planted.
        plant_y = speed * cycle * (n_cycle + 0.3 - phase0) - 0.5 * slide
        y_stance = plant_y + slide * phase / 0.6
        swing_u = np.clip((phase - 0.6) / 0.4, 0, 1)
        y_swing = plant_y + slide + swing_u * (2 * step - slide)
        y = np.where(stance, y_stance, y_swing)
        z = np.where(stance, ankle_h, ankle_h + 0.12 * np.sin(np.pi * swing_u))
        x = np.full(frames, sign * 0.1)
        ankle = np.stack([x, y, z], 1) + np.where(
            stance[:, None], rng.normal(0, jitter, (frames, 3)) * [1, 1, 0.3], 0
        )
        hip = pelvis + np.array([sign * 0.1, 0.0, -0.03])
        ankle = (
            hip
            + normalize(ankle - hip)
            * np.minimum(np.linalg.norm(ankle - hip, axis=-1), thigh + shin - 0.01)[:, None]
        )
        knee = _leg_ik(hip, ankle, thigh, shin, fwd)
        toe = ankle + np.array([0.0, foot, -ankle_h])
        for n, v in (
            (f"{side}_hip", hip),
            (f"{side}_knee", knee),
            (f"{side}_ankle", ankle),
            (f"{side}_toe", toe),
        ):
            out[:, ix[n]] = v
        sh = pelvis + np.array([sign * 0.18, 0.0, 0.5])
        out[:, ix[f"{side}_shoulder"]] = sh
        out[:, ix[f"{side}_elbow"]] = sh + np.array([0.0, 0.08, -0.27])
        out[:, ix[f"{side}_wrist"]] = sh + np.array([0.0, 0.2, -0.45])
        out[:, ix[f"{side}_hand"]] = sh + np.array([0.0, 0.25, -0.53])
    out[:, ix["pelvis"]] = pelvis
    out[:, ix["spine"]] = pelvis + np.array([0.0, 0.0, 0.22])
    out[:, ix["neck"]] = pelvis + np.array([0.0, 0.01, 0.5])
    out[:, ix["head"]] = pelvis + np.array([0.0, 0.02, 0.66])
    out[:, ix["nose"]] = pelvis + np.array([0.0, 0.12, 0.65])
    return out, contacts


def camera_motion(
    world: npt.ArrayLike,
    fps: float,
    camera_position: npt.ArrayLike = (0.0, -4.0, 1.2),
    pitch_deg: float = 8.0,
    roll_deg: float = 0.0,
    yaw_deg: float = 0.0,
    intrinsics: Intrinsics | None = None,
) -> Motion3D:
    """World joints (T, 21, 3) (Z up) seen by a camera at `camera_position` looking along +Y, pitched
    down by pitch_deg, rolled and yawed -> Motion3D in that camera's OpenCV coordinates."""
    w = np.asarray(world, dtype=np.float64)
    # Camera axes in world coordinates for a level camera looking along +Y: x right (+X), y down, z forward.
    base = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # columns: cam x, y, z in world
    yaw = axis_angle_matrix(np.array([0.0, 0.0, 1.0]), np.radians(yaw_deg))
    pitch = axis_angle_matrix(np.array([1.0, 0.0, 0.0]), np.radians(-pitch_deg))
    cam_to_world = yaw @ pitch @ base @ axis_angle_matrix(np.array([0.0, 0.0, 1.0]), np.radians(roll_deg))
    cam = (w - np.asarray(camera_position, dtype=np.float64)) @ cam_to_world
    root = cam[:, 0].copy()
    intr = intrinsics or Intrinsics(1000.0, 1000.0, 640.0, 360.0, 1280, 720)
    return Motion3D(
        joints=(cam - root[:, None]).astype(np.float32),
        root=root.astype(np.float32),
        joint_names=mocap21.NAMES,
        parents=mocap21.PARENTS,
        fps=fps,
        intrinsics=intr,
        confidence=np.ones(cam.shape[:2], dtype=np.float32),
    )


@dataclass(frozen=True)
class FakeKeypoints:
    """What lifting reads from a Keypoints2D, without its file fields."""

    keypoints: np.ndarray
    visibility: np.ndarray
    detected: np.ndarray
    timestamps: np.ndarray
    fps: float
    image_size: tuple[int, int]


def wobbling_keypoints(frames: int = 40, fps: float = 25.0, seed: int = 0) -> FakeKeypoints:
    """A 2D track (frames, 33, 2) px in a 1920x1080 picture: random landmarks wobbling together, all found."""
    rng = np.random.default_rng(seed)
    base = rng.uniform([700, 300], [1200, 900], size=(1, 33, 2))
    wobble = np.sin(np.arange(frames) / 5.0)[:, None, None] * rng.normal(0, 10, size=(1, 33, 2))
    return FakeKeypoints(
        keypoints=(base + wobble).astype(np.float32),
        visibility=rng.uniform(0.5, 1.0, size=(frames, 33)).astype(np.float32),
        detected=np.ones(frames, bool),
        timestamps=np.arange(frames) / fps,
        fps=fps,
        image_size=(1920, 1080),
    )
