"""Camera space -> world space with Z up: up axis, support levels and root from the feet (retarget.ground).

World frame (right-handed, metres): Z is the fitted up axis; +Y is the camera's viewing direction
projected onto the ground, so a person facing the camera faces -Y (Blender's front view); X = Y x Z
(the camera's right). The ground can change level (a box, then the grass): each contact stands on its
level, and Z = 0 is the floor level (the lowest one holding a fair share of the planted frames), so toes
planted on the floor have Z = 0 and toes planted on a box its height. The root is moved along its camera
ray so planted feet stay put (`ground.solve_root`). The XY origin is under the first frame's pelvis
(or under the camera). Facing is kept as filmed unless `facing="front"` turns the whole clip so that the
person's median facing is -Y.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from retarget.errors import RetargetError
from retarget.ground import FootJoints, GroundConfig, analyse_ground
from retarget.motion3d import Motion3D
from retarget.rotations import axis_angle_matrix, normalize

FloatArray = npt.NDArray[np.float64]

# Top of the head above the head joint (between the ears), and ankle above the sole, in metres: only used
# to turn bone lengths into a standing height estimate.
_HEAD_TOP = 0.12
_ANKLE_HEIGHT = 0.08


@dataclass(frozen=True)
class PlacementConfig:
    """person_height: metres, scales the whole motion so the person is this tall (None: as lifted).
    up: "auto" fits the ground from the feet (prior: the body's median up), "camera" uses the camera's -y.
    facing: "camera" keeps the filmed facing, "front" turns the clip so the person faces -Y.
    origin: "start" puts the first frame's pelvis over XY = 0, "camera" the camera.
    ground: contacts, support levels, the up fit's prior weight and the root solve (`ground.GroundConfig`)."""

    person_height: float | None = None
    up: str = "auto"
    facing: str = "camera"
    origin: str = "start"
    ground: GroundConfig = field(default_factory=GroundConfig)


@dataclass(frozen=True)
class WorldPlacement:
    """world = scale * (rotation @ p_cam) + translation, for camera-space points p_cam (metres).

    rotation (3, 3) rows are the world X, Y, Z axes in camera coordinates; up_camera (3,) is world Z in
    camera coordinates; estimated_height is the person's standing height (metres) before `scale`.
    contacts (T, 2) bool: the clip's planted feet (left, right), the one definition every later step uses;
    support (T, 2): world Z (metres, after `scale`) of the support under each foot at each frame; root_camera
    (T, 3): the camera-space root after the root solve (the world joints are `to_world` of the motion's
    joints on this root). None where the placement was built without them.
    """

    rotation: FloatArray
    translation: FloatArray
    scale: float
    up_camera: FloatArray
    estimated_height: float
    contacts: npt.NDArray[np.bool_] | None = None
    support: FloatArray | None = None
    root_camera: FloatArray | None = None

    def to_world(self, points_cam: npt.ArrayLike) -> FloatArray:
        p = np.asarray(points_cam, dtype=np.float64)
        return self.scale * (p @ self.rotation.T) + self.translation

    def camera_matrix_world(self) -> FloatArray:
        """4 x 4 pose of the camera in the world: columns are the camera's x (right), y (down), z (forward)
        axes and its position. A Blender camera (looking down -Z, +Y up) is this @ diag(1, -1, -1, 1)."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.translation
        return m


def estimate_height(joints: npt.ArrayLike, names: tuple[str, ...] | list[str]) -> float:
    """Standing height (metres) from median bone lengths: legs + trunk + neck + head allowance."""
    p = np.asarray(joints, dtype=np.float64)
    ix = {n: i for i, n in enumerate(names)}

    def seg(a: str, b: str) -> float:
        return float(np.median(np.linalg.norm(p[:, ix[a]] - p[:, ix[b]], axis=-1)))

    leg = 0.5 * sum(seg(f"{s}_hip", f"{s}_knee") + seg(f"{s}_knee", f"{s}_ankle") for s in "lr")
    trunk = seg("pelvis", "spine") + seg("spine", "neck") + seg("neck", "head")
    return leg + trunk + _HEAD_TOP + _ANKLE_HEIGHT


def place(motion: Motion3D, config: PlacementConfig | None = None) -> tuple[FloatArray, WorldPlacement]:
    """World joints (T, J, 3) float64 metres (Z up, toes planted on the floor level at Z = 0) and the
    placement used (with the clip's contacts and support heights)."""
    cfg = config or PlacementConfig()
    names = motion.joint_names
    needed = ["pelvis", "neck", "l_hip", "r_hip", "l_ankle", "r_ankle", "l_toe", "r_toe"]
    ix = dict(zip(needed, motion.require(needed), strict=True))
    cam_up = np.array([0.0, -1.0, 0.0])
    body_up = None
    if cfg.up == "camera":
        prior = cam_up
    elif cfg.up == "auto":
        rel = motion.joints.astype(np.float64)
        body_up = normalize(rel[:, ix["neck"]] - rel[:, ix["pelvis"]])
        body = normalize(np.median(body_up, axis=0))
        prior = body if body @ cam_up > np.cos(np.radians(60.0)) else cam_up
        if prior is cam_up:
            body_up = None
    else:
        raise RetargetError(f"unknown up-axis mode {cfg.up!r}; use 'auto' or 'camera'.")
    feet = FootJoints((ix["l_ankle"], ix["l_toe"]), (ix["r_ankle"], ix["r_toe"]))
    ground = analyse_ground(
        motion.joints,
        motion.root,
        feet,
        prior,
        motion.fps,
        motion.contacts,
        cfg.ground,
        fit=cfg.up == "auto",
        body_up=body_up,
    )
    up, p = ground.up, ground.joints
    fwd = np.array([0.0, 0.0, 1.0]) - up[2] * up
    if np.linalg.norm(fwd) < 1e-3:  # camera looking straight down: use its -y as forward
        fwd = cam_up - (cam_up @ up) * up
    y_axis = normalize(fwd)
    x_axis = np.cross(y_axis, up)
    rot = np.stack([x_axis, y_axis, up])
    if len(ground.levels):
        floor = ground.floor_height()
        support = ground.support()
    else:  # nothing planted: the lower toe's 5th percentile
        floor = float(np.percentile(np.minimum(p[:, ix["l_toe"]] @ up, p[:, ix["r_toe"]] @ up), 5))
        support = np.full((len(p), 2), floor)
    if cfg.facing == "front":
        left = p[:, ix["l_hip"]] - p[:, ix["r_hip"]]
        face = np.cross(left @ rot.T, np.array([0.0, 0.0, 1.0]))  # left x up, world coordinates
        face[:, 2] = 0.0
        mean_face = normalize(normalize(face).mean(axis=0))
        yaw = np.arctan2(mean_face[1], mean_face[0])
        turn = axis_angle_matrix(np.array([0.0, 0.0, 1.0]), -np.pi / 2 - yaw)
        rot = turn @ rot
    elif cfg.facing != "camera":
        raise RetargetError(f"unknown facing mode {cfg.facing!r}; use 'camera' or 'front'.")
    height = estimate_height(p, names)
    scale = 1.0 if cfg.person_height is None else float(cfg.person_height) / height
    if not np.isfinite(scale) or scale <= 0:
        raise RetargetError("the person's height must be a positive number of metres.")
    world0 = p @ rot.T
    if cfg.origin == "start":
        xy = world0[0, ix["pelvis"], :2]
    elif cfg.origin == "camera":
        xy = np.zeros(2)
    else:
        raise RetargetError(f"unknown origin mode {cfg.origin!r}; use 'start' or 'camera'.")
    translation = -scale * np.array([xy[0], xy[1], floor])
    placement = WorldPlacement(
        rot, translation, scale, up, height, ground.contacts, scale * (support - floor), ground.root
    )
    return placement.to_world(p), placement
