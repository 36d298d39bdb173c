"""Synthetic smooth skeleton motion and random virtual cameras (numpy).

A procedural source of labelled (2D, 3D) pairs with no dataset: a humanoid template on our output joint set,
animated by smooth random joint rotations (sums of low-frequency sinusoids) and a wandering, turning root, seen
by random perspective cameras. It is what the learning tests train on, and a sanity baseline for the real
training data (which replaces the random rotations by motion capture).

World coordinates: metres, Z up, the template faces -Y with its left side towards +X (Blender's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from lifting.camera import Intrinsics, look_at, normalize_screen, project, world_to_camera
from lifting.skeleton import OUTPUT, JointSet

FloatArray = npt.NDArray[np.float64]

# Offsets from each joint's parent in the rest pose (metres, world axes above), arms hanging in an A-pose.
_REST_OFFSETS: dict[str, tuple[float, float, float]] = {
    "pelvis": (0.0, 0.0, 0.95),
    "spine": (0.0, 0.0, 0.22),
    "neck": (0.0, 0.0, 0.28),
    "head": (0.0, 0.0, 0.15),
    "nose": (0.0, -0.10, 0.0),
    "l_hip": (0.09, 0.0, -0.05),
    "l_knee": (0.0, 0.0, -0.42),
    "l_ankle": (0.0, 0.0, -0.40),
    "l_toe": (0.0, -0.14, -0.06),
    "l_shoulder": (0.17, 0.0, -0.03),
    "l_elbow": (0.12, 0.0, -0.25),
    "l_wrist": (0.10, 0.0, -0.22),
    "l_hand": (0.04, 0.0, -0.08),
}

# Range of each joint's local rotation (rotation vector, radians, per world axis of the rest pose: x = the
# person's left, y = backwards, z = up), for the left side and the centre line. The right side mirrors it (y and
# z components negated). Knees and elbows are hinges that bend one way only and hips mostly flex forwards, so a
# 2D view has the same depth prior as real motion; without it a limb pointing towards or away from the camera is
# ambiguous and no model can learn the mapping.
_JOINT_RANGES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "pelvis": ((-0.1, -0.1, 0.0), (0.1, 0.1, 0.0)),
    "spine": ((-0.2, -0.2, -0.3), (0.5, 0.2, 0.3)),
    "neck": ((-0.2, -0.2, -0.2), (0.3, 0.2, 0.2)),
    "head": ((-0.3, -0.2, -0.6), (0.3, 0.2, 0.6)),
    "l_hip": ((-1.3, -0.2, -0.3), (0.4, 0.4, 0.3)),
    "l_knee": ((0.0, 0.0, 0.0), (1.5, 0.0, 0.0)),
    "l_ankle": ((-0.3, -0.1, -0.1), (0.5, 0.1, 0.1)),
    "l_shoulder": ((-1.2, -0.8, -0.5), (1.0, 0.6, 0.5)),
    "l_elbow": ((-1.8, 0.0, 0.0), (0.0, 0.0, 0.0)),
    "l_wrist": ((-0.4, -0.3, -0.3), (0.4, 0.3, 0.3)),
}


def joint_rotation_ranges(joints: JointSet = OUTPUT) -> tuple[FloatArray, FloatArray]:
    """(J, 3) lower and upper bounds of each joint's local rotation vector; zero for joints not listed."""
    low, high = np.zeros((joints.num_joints, 3)), np.zeros((joints.num_joints, 3))
    for i, name in enumerate(joints.names):
        if name in _JOINT_RANGES:
            low[i], high[i] = _JOINT_RANGES[name]
        elif name.startswith("r_") and "l_" + name[2:] in _JOINT_RANGES:
            lo, hi = (np.array(v) for v in _JOINT_RANGES["l_" + name[2:]])
            low[i] = (lo[0], -hi[1], -hi[2])
            high[i] = (hi[0], -lo[1], -lo[2])
    return low, high


def rest_offsets(joints: JointSet = OUTPUT) -> FloatArray:
    """(J, 3) rest offsets from each joint's parent (the root's is its rest position), right side mirrored."""
    out = np.zeros((joints.num_joints, 3))
    for i, name in enumerate(joints.names):
        if name in _REST_OFFSETS:
            out[i] = _REST_OFFSETS[name]
        elif name.startswith("r_") and "l_" + name[2:] in _REST_OFFSETS:
            x, y, z = _REST_OFFSETS["l_" + name[2:]]
            out[i] = (-x, y, z)
        else:
            raise KeyError(f"no rest offset for joint {name!r}")
    return out


def forward_kinematics(
    offsets: FloatArray, parents: tuple[int, ...], local_rotations: Rotation, root_positions: FloatArray
) -> FloatArray:
    """Joint positions from local rotations.

    offsets: (J, 3) bone vectors in the parent's rest frame; local_rotations: Rotation of shape (T, J) flattened
    to T*J in row-major order, rotating each joint's child bones; root_positions: (T, 3). Returns (T, J, 3).
    """
    frames = len(root_positions)
    num = len(parents)
    rot = local_rotations.as_matrix().reshape(frames, num, 3, 3)
    glob = np.empty_like(rot)
    pos = np.empty((frames, num, 3))
    for j, p in enumerate(parents):
        if p < 0:
            glob[:, j] = rot[:, j]
            pos[:, j] = root_positions
        else:
            glob[:, j] = glob[:, p] @ rot[:, j]
            pos[:, j] = pos[:, p] + np.einsum("tij,j->ti", glob[:, p], offsets[j])
    return pos


def _smooth_signal(
    rng: np.random.Generator, frames: int, fps: float, dims: int, terms: int = 3
) -> FloatArray:
    """(frames, dims) sum of random low-frequency sinusoids, amplitude about 1."""
    t = np.arange(frames)[:, None, None] / fps
    freq = rng.uniform(0.15, 1.2, size=(1, dims, terms))
    phase = rng.uniform(0, 2 * np.pi, size=(1, dims, terms))
    amp = rng.uniform(0.3, 1.0, size=(1, dims, terms)) / np.sqrt(terms)
    return np.asarray((amp * np.sin(2 * np.pi * freq * t + phase)).sum(axis=2))


def random_motion(
    rng: np.random.Generator, frames: int, fps: float = 50.0, joints: JointSet = OUTPUT
) -> FloatArray:
    """A smooth random motion of a randomly scaled humanoid: (frames, J, 3) world positions in metres."""
    num = joints.num_joints
    scale = rng.uniform(0.85, 1.15)
    offsets = rest_offsets(joints) * scale * rng.uniform(0.93, 1.07, size=(num, 1))
    low, high = joint_rotation_ranges(joints)
    signal = _smooth_signal(rng, frames, fps, num * 3).reshape(frames, num, 3).clip(-1.0, 1.0)
    rotvec = low + (signal + 1.0) / 2.0 * (high - low)
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(_smooth_signal(rng, frames, fps, 1)[:, 0]) * 0.8 / fps
    yaw = Rotation.from_euler("z", heading[:, None])
    local = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(frames, num, 3, 3)
    local[:, 0] = yaw.as_matrix() @ local[:, 0]
    root_xy = np.cumsum(_smooth_signal(rng, frames, fps, 2), axis=0) * 1.0 / fps
    root = np.concatenate([root_xy, np.full((frames, 1), offsets[0, 2])], axis=1)
    pos = forward_kinematics(offsets, joints.parents, Rotation.from_matrix(local.reshape(-1, 3, 3)), root)
    pos[..., 2] -= pos[..., 2].min()  # lowest point of the clip on the floor
    return pos


@dataclass(frozen=True)
class VirtualCamera:
    """A pinhole camera in the world: OpenCV axes, x_cam = rotation @ (x_world - position)."""

    intrinsics: Intrinsics
    rotation: FloatArray
    position: FloatArray


def random_camera(rng: np.random.Generator, subject_centre: FloatArray) -> VirtualCamera:
    """A camera 3–7 m from `subject_centre` (3,), 0.5–2 m high, looking at it, 45–75° horizontal field of view,
    landscape 1920×1080 or portrait 1080×1920."""
    width, height = (1920, 1080) if rng.random() < 0.7 else (1080, 1920)
    intr = Intrinsics.from_fov(width, height, rng.uniform(45.0, 75.0))
    angle = rng.uniform(0, 2 * np.pi)
    distance = rng.uniform(3.0, 7.0)
    position = subject_centre + np.array([distance * np.cos(angle), distance * np.sin(angle), 0.0])
    position[2] = rng.uniform(0.5, 2.0)
    return VirtualCamera(intr, look_at(position, subject_centre), position)


@dataclass(frozen=True)
class SyntheticClip:
    """One labelled clip. keypoints_2d: (T, J, 2) normalised screen coordinates; poses_3d: (T, J, 3) camera
    space, root-relative (pelvis at 0), metres; trajectory: (T, 3) camera-space pelvis; pixels: (T, J, 2)."""

    keypoints_2d: npt.NDArray[np.float32]
    poses_3d: npt.NDArray[np.float32]
    trajectory: npt.NDArray[np.float32]
    pixels: npt.NDArray[np.float32]
    camera: VirtualCamera


def random_clip(
    rng: np.random.Generator, frames: int, fps: float = 50.0, noise_px: float = 0.0
) -> SyntheticClip:
    """Random motion seen by a random camera, with optional Gaussian 2D noise (pixels, standard deviation)."""
    world = random_motion(rng, frames, fps)
    centre = world[:, 0].mean(axis=0)
    camera = random_camera(rng, centre)
    cam = world_to_camera(world, camera.rotation, camera.position)
    pixels = project(cam, camera.intrinsics)
    if noise_px > 0:
        pixels = pixels + rng.normal(0.0, noise_px, size=pixels.shape)
    intr = camera.intrinsics
    return SyntheticClip(
        keypoints_2d=normalize_screen(pixels, intr.width, intr.height).astype(np.float32),
        poses_3d=(cam - cam[:, :1]).astype(np.float32),
        trajectory=cam[:, 0].astype(np.float32),
        pixels=pixels.astype(np.float32),
        camera=camera,
    )
