"""Camera space -> world space with Z up: ground plane fitted from the feet, person on Z = 0.

World frame (right-handed, metres): Z is the fitted up axis; +Y is the camera's viewing direction
projected onto the ground, so a person facing the camera faces -Y (Blender's front view); X = Y x Z
(the camera's right). The ground plane passes through the planted toe joints, so planted toes have
Z = 0. The XY origin is under the first frame's pelvis (or under the camera). Facing is kept as filmed
unless `facing="front"` turns the whole clip so that the person's median facing is -Y.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retarget.errors import RetargetError
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
    ground_prior: metres^2; how strongly the fitted up axis is pulled towards the prior where the foot
    contacts do not span the ground in some direction."""

    person_height: float | None = None
    up: str = "auto"
    facing: str = "camera"
    origin: str = "start"
    ground_prior: float = 0.02


@dataclass(frozen=True)
class WorldPlacement:
    """world = scale * (rotation @ p_cam) + translation, for camera-space points p_cam (metres).

    rotation (3, 3) rows are the world X, Y, Z axes in camera coordinates; up_camera (3,) is world Z in
    camera coordinates; estimated_height is the person's standing height (metres) before `scale`.
    """

    rotation: FloatArray
    translation: FloatArray
    scale: float
    up_camera: FloatArray
    estimated_height: float

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


def _foot_candidates(p: FloatArray, up: FloatArray, idx: list[int], fps: float) -> list[FloatArray]:
    """Per foot joint, the positions (N, 3) where it is low and slow: likely on the ground."""
    out = []
    for j in idx:
        h = p[:, j] @ up
        ref = np.percentile(h, 5)
        speed = np.zeros(len(h))
        if len(h) > 1:
            v = np.gradient(p[:, j], axis=0) * fps
            v = v - np.outer(v @ up, up)
            speed = np.linalg.norm(v, axis=-1)
        sel = (h < ref + 0.04) & (speed < 0.35)
        if sel.sum() < 3:
            sel = h < ref + 0.08
        out.append(p[sel, j])
    return out


def fit_ground(points_per_joint: list[FloatArray], prior_up: FloatArray, prior: float) -> FloatArray:
    """Unit up axis (3,) of a plane fitted to foot contact points, each joint with its own height.

    Minimises sum((n . (x - mean_joint))^2)/N + prior * (1 - (n . prior_up)^2) over unit n, then drops
    outliers (3 x MAD) once and refits.
    """
    up = normalize(prior_up)
    keep = [np.ones(len(p), dtype=bool) for p in points_per_joint]
    n = up
    for _ in range(2):
        centred = [
            p[k] - p[k].mean(axis=0) for p, k in zip(points_per_joint, keep, strict=True) if k.sum() >= 2
        ]
        if not centred:
            return up
        x = np.concatenate(centred)
        cov = x.T @ x / len(x) + prior * (np.eye(3) - np.outer(up, up))
        _w, v = np.linalg.eigh(cov)
        n = v[:, 0] * (1.0 if v[:, 0] @ up >= 0 else -1.0)
        new_keep = []
        for p, k in zip(points_per_joint, keep, strict=True):
            r = (p - p[k].mean(axis=0)) @ n if k.sum() else np.zeros(len(p))
            mad = np.median(np.abs(r[k] - np.median(r[k]))) if k.sum() else 0.0
            new_keep.append(np.abs(r - np.median(r[k] if k.sum() else r)) <= 3.0 * 1.4826 * mad + 0.01)
        keep = new_keep
    if np.degrees(np.arccos(np.clip(n @ up, -1.0, 1.0))) > 45.0:
        return up
    return n


def place(motion: Motion3D, config: PlacementConfig | None = None) -> tuple[FloatArray, WorldPlacement]:
    """World joints (T, J, 3) float64 metres (Z up, planted toes at Z = 0) and the placement used."""
    cfg = config or PlacementConfig()
    names = motion.joint_names
    needed = ["pelvis", "neck", "l_hip", "r_hip", "l_ankle", "r_ankle", "l_toe", "r_toe"]
    ix = dict(zip(needed, motion.require(needed), strict=True))
    p = motion.absolute_joints()
    cam_up = np.array([0.0, -1.0, 0.0])
    if cfg.up == "camera":
        prior = cam_up
    elif cfg.up == "auto":
        body = normalize(normalize(p[:, ix["neck"]] - p[:, ix["pelvis"]]).mean(axis=0))
        prior = body if body @ cam_up > np.cos(np.radians(60.0)) else cam_up
    else:
        raise RetargetError(f"unknown up-axis mode {cfg.up!r}; use 'auto' or 'camera'.")
    if cfg.up == "auto":
        feet = [ix["l_toe"], ix["r_toe"], ix["l_ankle"], ix["r_ankle"]]
        up = fit_ground(_foot_candidates(p, prior, feet, motion.fps), prior, cfg.ground_prior)
    else:
        up = prior
    fwd = np.array([0.0, 0.0, 1.0]) - up[2] * up
    if np.linalg.norm(fwd) < 1e-3:  # camera looking straight down: use its -y as forward
        fwd = cam_up - (cam_up @ up) * up
    y_axis = normalize(fwd)
    x_axis = np.cross(y_axis, up)
    rot = np.stack([x_axis, y_axis, up])
    toes = np.concatenate(_foot_candidates(p, up, [ix["l_toe"], ix["r_toe"]], motion.fps))
    ground = float(np.median(toes @ up))
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
    translation = -scale * np.array([xy[0], xy[1], ground])
    placement = WorldPlacement(rot, translation, scale, up, height)
    return placement.to_world(p), placement
