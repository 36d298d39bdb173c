"""Calibrated cameras filming one scene: read their calibration, triangulate one person's 2D landmarks from several
views into 3D, with the left/right labels made consistent across the views first.

This is the pseudo-ground truth that real-footage evaluations score a monocular result against (the quality
report's multi-camera mode, the real-footage benchmark): MediaPipe's 2D seen from the other cameras, triangulated.
MediaPipe swaps left and right on some views (on Pose2Sim's takes, a front view), so a plain triangulation would
mix the two legs; `consistent_labels` picks, per frame, body part and camera, the labelling that makes the views agree.

World coordinates are the calibration's (metres); camera coordinates are OpenCV's (`lifting.camera`). numpy only.
"""

from __future__ import annotations

import itertools
import math
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lifting.camera import Intrinsics, project, unproject, world_to_camera
from lifting.errors import MocapError
from lifting.labelling import cheapest_states
from lifting.skeleton import BLAZEPOSE_SWAP_GROUPS, relabel_groups, swap_pairs

FloatArray = npt.NDArray[np.float64]

# A labelling with more views swapped must reprojection-fit better by this much (px per joint) to be chosen: ties
# (a view seeing the person exactly side-on) keep the detector's labels.
SWAP_PENALTY_PX = 2.0
# The cost, in swapped views, of each metre the group's 3D landmarks move between consecutive frames: a mirror
# labelling moves them by about a shoulder's or a pelvis' width (0.2-0.4 m), which must outweigh the views' count of swaps
# over a long stretch (a view swapped for a second).
MIRROR_STEP_COST = 200.0
# Synchronisation keeps the smallest frame shift whose fit is within this factor of the best one.
OFFSET_TOLERANCE = 1.05


@dataclass(frozen=True)
class CalibratedCamera:
    """One calibrated camera: `intrinsics` (pixels, OpenCV distortion), `rotation` (3, 3) whose rows are the
    camera's x, y, z axes in world coordinates, `position` (3,) its centre in world coordinates (metres)."""

    name: str
    intrinsics: Intrinsics
    rotation: FloatArray
    position: FloatArray

    def to_camera(self, world: npt.ArrayLike) -> FloatArray:
        """World points (..., 3) → this camera's coordinates (..., 3), metres."""
        return world_to_camera(world, self.rotation, self.position)

    def project(self, world: npt.ArrayLike) -> FloatArray:
        """World points (..., 3) → pixels (..., 2) in this camera's image."""
        return project(self.to_camera(world), self.intrinsics)


def _rotation_x_pi(rotation: FloatArray) -> FloatArray:
    """The rotation of a camera turned half a turn about its own x axis (y and z axes reversed)."""
    return np.diag([1.0, -1.0, -1.0]) @ rotation


def read_qualisys(path: str | Path) -> list[CalibratedCamera]:
    """Cameras from a Qualisys `.qca.txt` calibration (as Pose2Sim's demos ship), in the file's order.

    Qualisys stores 1/64 pixel units for the intrinsics, millimetres for positions, a camera-to-world rotation
    (columns r11 r21 r31 ... are the camera axes) and cameras that look down their −z axis; converted here to
    OpenCV's convention (Pose2Sim's `calib_qca_fun` does the same). Distortion follows Pose2Sim too: the radial
    and tangential terms are divided by 64.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise MocapError(f"Cannot read the calibration {path}: {exc}.") from None
    cameras: list[CalibratedCamera] = []
    for node in root.findall("cameras/camera"):
        fov, intr, tr = node.find("fov_video"), node.find("intrinsic"), node.find("transform")
        if fov is None or intr is None or tr is None:
            raise MocapError(
                f"{path} is not a Qualisys calibration (a camera lacks fov_video/intrinsic/transform)."
            )
        left, top = float(fov.get("left", 0)), float(fov.get("top", 0))
        width = int(float(fov.get("right", 0)) - left + 1)
        height = int(float(fov.get("bottom", 0)) - top + 1)

        def value(name: str, element: ET.Element = intr) -> float:
            return float(element.get(name, "nan"))

        intrinsics = Intrinsics(
            fx=value("focalLengthU") / 64.0,
            fy=value("focalLengthV") / 64.0,
            cx=value("centerPointU") / 64.0 - left,
            cy=value("centerPointV") / 64.0 - top,
            width=width,
            height=height,
            dist=(
                value("radialDistortion1") / 64.0,
                value("radialDistortion2") / 64.0,
                value("tangentalDistortion1") / 64.0,
                value("tangentalDistortion2") / 64.0,
                0.0,
            ),
        )
        rows = np.array([[value(f"r{i}{j}", tr) for j in (1, 2, 3)] for i in (1, 2, 3)])
        position = np.array([value(a, tr) for a in "xyz"]) / 1000.0
        cameras.append(
            CalibratedCamera(
                name=str(node.get("serial", f"cam{len(cameras) + 1}")),
                intrinsics=intrinsics,
                rotation=_rotation_x_pi(rows),
                position=position,
            )
        )
    if not cameras:
        raise MocapError(f"{path} holds no cameras.")
    return cameras


def _rodrigues(vector: Sequence[float]) -> FloatArray:
    """Rotation matrix (3, 3) of a rotation vector (axis × angle in radians), as OpenCV's Rodrigues."""
    r = np.asarray(vector, dtype=np.float64)
    angle = float(np.linalg.norm(r))
    if angle < 1e-12:
        return np.eye(3)
    k = r / angle
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    out: FloatArray = np.eye(3) + math.sin(angle) * kx + (1.0 - math.cos(angle)) * (kx @ kx)
    return out


def read_pose2sim_toml(path: str | Path) -> list[CalibratedCamera]:
    """Cameras from a Pose2Sim/Anipose-style `.toml` calibration: one table per camera with `name`, `size`,
    `matrix` (3×3), `distortions` (k1 k2 p1 p2), `rotation` (Rodrigues vector) and `translation` (metres) of the
    world-to-camera transform, OpenCV's convention."""
    try:
        with open(path, "rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MocapError(f"Cannot read the calibration {path}: {exc}.") from None
    cameras = []
    for key, table in data.items():
        if not isinstance(table, dict) or "matrix" not in table:
            continue
        k = np.asarray(table["matrix"], dtype=np.float64)
        dist = [float(d) for d in table.get("distortions", [0.0] * 4)][:5]
        rotation = _rodrigues(table["rotation"])
        translation = np.asarray(table["translation"], dtype=np.float64)
        cameras.append(
            CalibratedCamera(
                name=str(table.get("name", key)),
                intrinsics=Intrinsics(
                    fx=k[0, 0],
                    fy=k[1, 1],
                    cx=k[0, 2],
                    cy=k[1, 2],
                    width=int(table["size"][0]),
                    height=int(table["size"][1]),
                    dist=tuple(dist + [0.0] * (5 - len(dist))),  # type: ignore[arg-type]
                ),
                rotation=rotation,
                position=-rotation.T @ translation,
            )
        )
    if not cameras:
        raise MocapError(f"{path} holds no cameras (tables with a 'matrix').")
    return cameras


def read_calibration(path: str | Path) -> list[CalibratedCamera]:
    """Cameras from a calibration file: Qualisys `.qca.txt` or Pose2Sim `.toml`, by the file's name."""
    name = str(path).lower()
    if name.endswith(".toml"):
        return read_pose2sim_toml(path)
    if name.endswith(".qca.txt") or name.endswith(".qca"):
        return read_qualisys(path)
    raise MocapError(f"{path}: calibrations are read from Qualisys .qca.txt or Pose2Sim .toml files.")


def triangulate(
    cameras: Sequence[CalibratedCamera], pixels: npt.ArrayLike, weights: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Weighted linear (DLT) triangulation of points seen by several cameras.

    pixels (C, ..., 2) per camera, NaN where unseen; weights (C, ...) ≥ 0 (e.g. MediaPipe's visibility), 0 drops
    a view. Returns world points (..., 3), NaN where fewer than two views have weight, and the weighted mean
    reprojection error (...,) in pixels over the views used.
    """
    px = np.asarray(pixels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).copy()
    if px.shape[0] != len(cameras) or w.shape != px.shape[:-1]:
        raise ValueError(f"pixels {px.shape} and weights {w.shape} do not match {len(cameras)} cameras")
    w[~np.isfinite(px).all(axis=-1) | ~np.isfinite(w)] = 0.0
    rows = []
    for c, cam in enumerate(cameras):
        ray = unproject(np.nan_to_num(px[c]), 1.0, cam.intrinsics)[..., :2]  # normalised coordinates
        p = np.concatenate([cam.rotation, -(cam.rotation @ cam.position)[:, None]], axis=1)  # (3, 4)
        x, y = ray[..., 0:1], ray[..., 1:2]
        wc = w[c][..., None]
        rows.append(wc * (x * p[2] - p[0]))
        rows.append(wc * (y * p[2] - p[1]))
    a = np.stack(rows, axis=-2)  # (..., 2C, 4)
    _, _, vt = np.linalg.svd(a)
    h = vt[..., -1, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        points = h[..., :3] / h[..., 3:4]
    enough = (w > 0).sum(axis=0) >= 2
    points[~enough] = np.nan
    err = np.stack([np.linalg.norm(cam.project(points) - px[c], axis=-1) for c, cam in enumerate(cameras)])
    used = w > 0
    with np.errstate(invalid="ignore"):
        residual = np.where(used, err, 0.0).sum(axis=0) / used.sum(axis=0)
    residual[~enough] = np.nan
    return points, residual


def _best_combinations(
    cameras: Sequence[CalibratedCamera],
    px: FloatArray,
    w: FloatArray,
    joints: list[int],
    pairs: Sequence[tuple[int, int]],
) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Per frame, the views to swap (T, C) that best agree for one group, the first view never swapped, and the
    group's triangulated landmarks (T, len(joints), 3) under that labelling."""
    n_cam, n_t = px.shape[0], px.shape[1]
    best = np.full(n_t, np.inf)
    choice = np.zeros((n_t, n_cam), dtype=bool)
    points = np.full((n_t, len(joints), 3), np.nan)
    for rest in itertools.product((False, True), repeat=n_cam - 1):
        combo = (False, *rest)
        trial_px = np.stack([swap_pairs(px[c], pairs) if s else px[c] for c, s in enumerate(combo)])
        trial_w = np.stack(
            [swap_pairs(w[c][..., None], pairs)[..., 0] if s else w[c] for c, s in enumerate(combo)]
        )
        p3, residual = triangulate(cameras, trial_px[:, :, joints], trial_w[:, :, joints])
        seen = np.isfinite(residual)
        mean = np.where(seen, residual, 0.0).sum(axis=-1) / np.maximum(seen.sum(axis=-1), 1)
        swaps = sum(combo)
        cost = np.where(seen.any(axis=-1), mean, np.inf) + SWAP_PENALTY_PX * min(swaps, n_cam - swaps)
        better = cost < best
        best[better] = cost[better]
        choice[better] = combo
        points[better] = p3[better]
    return choice, points


def consistent_labels(
    cameras: Sequence[CalibratedCamera], pixels: npt.ArrayLike, weights: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Which views to relabel so the cameras agree: swapped (C, T, G) for the groups of `BLAZEPOSE_SWAP_GROUPS` in order.

    pixels (C, T, 33, 2), weights (C, T, 33). Two questions per frame and group:
    - which views disagree: every combination of swapped views is triangulated and the one with the smallest mean
      reprojection error over the group's landmarks wins (a view seen exactly side-on fits both ways: each swapped
      view costs `SWAP_PENALTY_PX`, so ties keep the detector's labels);
    - which side of the disagreement is right: a labelling and its complete mirror fit the views equally, so this
      is decided over time (`MIRROR_STEP_COST`): the 3D left and right landmarks move continuously, and over the
      clip the views' own labels are right more often than not (a dynamic programme over the two choices).
    2^(C-1) triangulations per group: meant for a handful of cameras.
    """
    px = np.asarray(pixels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    n_cam, n_t = px.shape[0], px.shape[1]
    out = np.zeros((n_cam, n_t, len(BLAZEPOSE_SWAP_GROUPS)), dtype=bool)
    for g, pairs in enumerate(BLAZEPOSE_SWAP_GROUPS.values()):
        joints = [j for pair in pairs for j in pair]
        choice, points = _best_combinations(cameras, px, w, joints, pairs)
        mirrored = points[:, [i ^ 1 for i in range(len(joints))]]  # joints are listed left, right, left, ...
        # Unary cost of each state (0: the combination as found, 1: its mirror): the views swapped.
        unary = np.stack([choice.sum(axis=1), n_cam - choice.sum(axis=1)], axis=1).astype(np.float64)
        states = np.stack([points, mirrored], axis=1)  # (T, 2, J, 3)
        # moved[t, now, before]: the group's mean 3D displacement from frame t-1 to t, metres.
        moved = np.zeros((n_t, 2, 2))
        if n_t > 1:
            diff = np.linalg.norm(states[1:, :, None] - states[:-1, None, :], axis=-1)  # (T-1, 2, 2, J)
            seen = np.isfinite(diff)
            moved[1:] = np.where(seen, diff, 0.0).sum(axis=-1) / np.maximum(seen.sum(axis=-1), 1)
        state = cheapest_states(unary, MIRROR_STEP_COST * moved)
        out[:, :, g] = (choice ^ (state[:, None] == 1)).T
    return out


def triangulate_person(
    cameras: Sequence[CalibratedCamera], pixels: npt.ArrayLike, weights: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """One person's 3D landmarks from their 2D in every view, left/right made consistent first.

    pixels (C, T, 33, 2) (NaN where a camera did not find the person), weights (C, T, 33) visibility. Returns
    world landmarks (T, 33, 3) (NaN where fewer than two views saw a landmark), the reprojection error (T, 33) px
    and the views' relabelling (C, T, G) (`consistent_labels`).
    """
    px = np.asarray(pixels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    swapped = consistent_labels(cameras, px, w)
    fixed_px = np.stack([relabel_groups(px[c], swapped[c]) for c in range(len(cameras))])
    fixed_w = np.stack([relabel_groups(w[c][..., None], swapped[c])[..., 0] for c in range(len(cameras))])
    points, residual = triangulate(cameras, fixed_px, fixed_w)
    return points, residual, swapped


def _midpoints(landmarks: FloatArray) -> FloatArray:
    """The midpoints (..., P, D) of the body's left/right pairs (arms and legs) of landmarks (..., 33, D): the same
    whichever way a detector labels left and right."""
    pairs = BLAZEPOSE_SWAP_GROUPS["arms"][:3] + BLAZEPOSE_SWAP_GROUPS["legs"][:3]
    return np.stack([(landmarks[..., a, :] + landmarks[..., b, :]) / 2.0 for a, b in pairs], axis=-2)


def shifted(frames: npt.ArrayLike, offset: int) -> FloatArray:
    """frames (T, ...) moved `offset` frames later in time: out[t] = frames[t - offset], NaN where outside."""
    a = np.asarray(frames, dtype=np.float64)
    out = np.full_like(a, np.nan)
    n = len(a)
    if offset >= 0:
        out[offset:] = a[: max(n - offset, 0)]
    else:
        out[: n + offset] = a[-offset:]
    return out


def estimate_offsets(
    cameras: Sequence[CalibratedCamera], pixels: npt.ArrayLike, weights: npt.ArrayLike, max_offset: int = 15
) -> list[int]:
    """Frame offsets (C,) that synchronise the views: camera c's frame t shows the moment of the first camera's
    frame t - offset[c]; offset[0] is 0.

    Found by coordinate descent (started from each view's offset against the first view alone) on the median
    reprojection error of the triangulated midpoints of the arms' and
    legs' left/right pairs (labels do not matter for a midpoint), each offset within ±`max_offset` frames; the
    smallest shift within `OFFSET_TOLERANCE` of the best fit wins.
    pixels (C, T, 33, 2), weights (C, T, 33).
    """
    px = np.asarray(pixels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    mid_px = _midpoints(px)
    mid_w = _midpoints(w[..., None])[..., 0]
    offsets = [0] * len(cameras)

    def cost(trial: list[int], views: Sequence[int]) -> float:
        p = np.stack([shifted(mid_px[c], -trial[c]) for c in views])
        q = np.nan_to_num(np.stack([shifted(mid_w[c], -trial[c]) for c in views]))
        _, residual = triangulate([cameras[c] for c in views], p, q)
        return float(np.nanmedian(residual)) if np.isfinite(residual).any() else math.inf

    everyone = range(len(cameras))
    # Each view against the first alone, then every view against all the others.
    for views in [None, everyone, everyone, everyone]:
        changed = False
        for c in range(1, len(cameras)):
            trials = sorted(range(-max_offset, max_offset + 1), key=abs)
            costs = [cost([*offsets[:c], o, *offsets[c + 1 :]], views or (0, c)) for o in trials]
            # The smallest shift that fits about as well as the best: a person standing still fits every shift.
            best = next(o for o, v in zip(trials, costs, strict=True) if v <= OFFSET_TOLERANCE * min(costs))
            changed |= best != offsets[c]
            offsets[c] = best
        if views is not None and not changed:
            break
    return offsets


def seen_from_others(
    cameras: Sequence[CalibratedCamera],
    pixels: npt.ArrayLike,
    weights: npt.ArrayLike,
    offsets: Sequence[int],
    camera: int,
) -> tuple[FloatArray, FloatArray]:
    """The pseudo-ground truth for one camera: the person triangulated from every OTHER camera (`triangulate_person`),
    at this camera's frames (shifted by the synchronising `offsets`, `estimate_offsets`).

    pixels (C, T, 33, 2) NaN where not found, weights (C, T, 33). Returns world landmarks (T, 33, 3), NaN where
    fewer than two other views saw a landmark at that moment, and their reprojection error (T, 33) px.
    """
    px = np.asarray(pixels, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    others = [k for k in range(len(cameras)) if k != camera]
    p = np.stack([shifted(px[k], offsets[camera] - offsets[k]) for k in others])
    q = np.nan_to_num(np.stack([shifted(w[k], offsets[camera] - offsets[k]) for k in others]))
    points, residual, _ = triangulate_person([cameras[k] for k in others], p, q)
    return points, residual
