"""Per-clip self-correction: optimise a lifted clip so its projection agrees with the detected 2D keypoints.

The network's output (`lifting.lift.lift`) is smooth and plausible, but its bone lengths wobble from frame to frame
and its camera-space root trajectory is weak: the depth drifts, so the person "travels" through the scene.
With bone lengths held constant over the clip, the size of the 2D skeleton fixes the depth, and one
optimisation over the whole clip pulls the joints onto the 2D evidence (the self-correction loop of Wang et al.,
"3D Human Pose Machines with Self-supervised Learning", here as test-time optimisation of the sequence rather
than of the network).

Variables (the whole clip at once):
- the root (pelvis) trajectory in camera space, as its image position (u, v) and log depth, so the person
  slides along camera rays when only the depth is wrong;
- one direction per bone and frame (T, B, 3), normalised in the forward pass;
- bone lengths: one set for the whole clip, starting from the network's per-bone median with left and right
  averaged; their proportions may adapt to the 2D (one log-scale per left/right pair of bones, with a prior
  towards the median), but the clip's total bone length stays fixed: the global scale must not move, or
  depth becomes ambiguous.
Joints follow by forward kinematics along the tree, so every bone keeps one length over the whole clip.

Energy (each term summed over its elements and divided by the number of frames):
- reprojection: for the output joints with a MediaPipe counterpart (`lifting.landmarks.CORRESPONDENCES`, placed like the virtual
  landmarks of `lifting.learn.datasets.landmarks`: hips offset up and outwards in the pelvis frame, the head between the
  ears, the hand between the index and pinky knuckles), the distance between the projected point and the
  landmark in normalised camera units times the subject's depth (metres at the subject, so the scale does not
  depend on resolution or distance), weighted by visibility (0 on frames without a detection and on frames
  the detector only interpolated), under a robust penalty (Huber by default) against detector outliers;
- pose prior: each bone vector stays near the network's, which keeps the depth ordering the network chose
  where the 2D says nothing, and more strongly along the camera ray for the trunk's bones (the body's
  inclination in depth, which the 2D barely sees: `TRUNK_JOINTS`); a prior on the bone proportions (once per
  clip);
- smoothness: the acceleration of the root-relative joints and, separately and more strongly in depth, of the
  root (accelerations measured per 1/30 s whatever the clip's frame rate);
- MediaPipe's world landmarks (optional, `RefineConfig.world_weight`; skipped when the keypoints carry no
  `pose_world`, as synthetic tracks do): each bone of `WORLD_CUE_BONES` is pulled towards MediaPipe's direction
  of it (its far end's offset from that direction at our length, or with `world_form` "depth" only the offset's
  extent along the camera ray), under a Cauchy penalty so that where MediaPipe is far off it stops pulling,
  weighted by the landmarks' visibility. MediaPipe's 3D sees what the 2D cannot (which limb is in front,
  foreshortening), but its axes are 10-18 degrees off the camera's, so `world_cue` first rotates it, per
  second of the clip, by the weak-perspective fit of its projection onto the 2D keypoints: fitted onto the
  network's pose instead, it takes over the network's errors (refined P-MPJPE on Pose2Sim's single-person take
  91.0 mm against 87.9 at weight 2, 90.6 without the cue; docs/real_footage_cue.md).

Long clips are refined in overlapping windows of `RefineConfig.window_frames` (30 s at 30 fps), cross-faded
over `window_overlap` frames: one L-BFGS over a 5-minute clip stopped far from its minimum in the same
iterations (12 px of reprojection error where each 30-second window reaches 6.5), and the cost now grows linearly
with the clip. The bone lengths and proportions are fitted on the first window and held in the others, so every
bone keeps one length over the whole clip.

The root is first solved in closed form per frame (linear least squares on the projection equations with the
network's pose at the fixed bone lengths, reweighted towards the robust geometric error), which places the
person at the depth their 2D size implies; L-BFGS then minimises the energy. Everything runs in torch (float32,
one thread) inside `refine_motion`; its inputs and outputs are numpy arrays and `Motion3D`s, and the result is
deterministic. Settings were chosen on the validation split (`bench/refine_experiment.py`, docs/refine.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import torch

from lifting.errors import MocapError
from lifting.landmarks import CORRESPONDENCES, FACE_OFFSETS, HAND_OFFSETS, HIP_OFFSET, LandmarkTrack
from lifting.lift.constant_bones import bone_pairs, clip_bone_lengths
from lifting.progress import Cancel, Cancelled, Progress, as_cancel
from lifting.skeleton import BLAZEPOSE, MODEL_FPS
from retarget.motion3d import Motion3D
from retarget.rotations import orthonormalize  # Kabsch: the rotation nearest Σ srcᵀ dst

FloatArray = npt.NDArray[np.float64]

LENGTH_UNIT = 0.3  # metres per unit of log bone scale in the optimiser's variables (a typical bone length)

# Mean distal offset of the index and pinky knuckles, in wrist → hand lengths (their mean radial offset,
# 5% of that length, about 4 mm, is left out: the joints do not give the hand's radial axis).
HAND_EXTENSION = 0.5 * (HAND_OFFSETS["index"][0] + HAND_OFFSETS["pinky"][0])
# The ears' midpoint lies this far in front of the head centre (metres; negative: behind), along the head's
# forward axis, taken as the direction head → nose.
EARS_FORWARD = FACE_OFFSETS["left_ear"][1]
# The joints ending the trunk's bones (pelvis -> spine -> neck), whose inclination is the body's up. The 2D sees
# a bone's depth only through its foreshortening, and with one length per bone for the clip, a trunk whose 2D
# length falls short on some frames (a landing, a hunch, the detector's shoulders) was tilted in depth to fit:
# on the sample clip by 4-6 degrees more on the landings of its jumping jacks than the network had it, which
# tilted the up axis placement fits (whose prior is the trunk's median while both feet are planted) by 3 degrees.
# `RefineConfig.trunk_depth_sigma` keeps their offsets along the camera ray near the network's.
TRUNK_JOINTS = ("spine", "neck")
# The bones between joints with a MediaPipe counterpart (`CORRESPONDENCES`) whose directions the world-landmark
# cue compares (`world_cue`): the trunk's cross lines and sides, the arms, the legs and the feet.
WORLD_CUE_BONES: tuple[tuple[str, str], ...] = (
    ("l_shoulder", "r_shoulder"),
    ("l_hip", "r_hip"),
    *(
        (f"{side}_{a}", f"{side}_{b}")
        for side in "lr"
        for a, b in (
            ("shoulder", "hip"),
            ("shoulder", "elbow"),
            ("elbow", "wrist"),
            ("hip", "knee"),
            ("knee", "ankle"),
            ("ankle", "toe"),
        )
    ),
)
WORLD_FORMS = ("bones", "depth")
# The cue's weight chosen on the Pose2Sim single-person take (`bench/real_footage.py --tune-world-cue`,
# docs/real_footage_cue.md: P-MPJPE 90.6 -> 87.9 mm, every camera better); off by default
# (`RefineConfig.world_weight` 0): on the held-out two-person take its mean moved by 0.2 mm only (98.7 -> 98.5) and
# camera 3, where MediaPipe's own 3D is furthest off, got 6.3 mm worse.
WORLD_CUE_WEIGHT = 2.0
WORLD_AXES = ("image", "network")
WEAK_PERSPECTIVE_ROUNDS = 50


@dataclass(frozen=True)
class RefineConfig:
    """Settings of the optimisation; lengths in metres, accelerations in metres per (1/30 s)².

    Each term is a squared error over a sigma, so the sigmas say how large each kind of error typically is.
    iterations: L-BFGS iterations; reprojection_sigma: expected 2D error (metres at the subject's depth);
    robust / robust_scale: the penalty ("huber", "cauchy" or "geman-mcclure") and the error above which a 2D
    point counts as an outlier; pose_sigma: how far a bone's end may leave the network's; trunk_depth_sigma:
    how far the end of a trunk bone (pelvis -> spine -> neck) may leave the network's along the root's camera
    ray (see `TRUNK_JOINTS`); smooth_sigma:
    acceleration of the root-relative joints; root_smooth_sigma / root_depth_smooth_sigma: acceleration of
    the root along the camera's x and y axes / along its z axis (depth); min_visibility: landmarks below it are ignored;
    length_percentile: which percentile of the network's per-frame bone lengths to start from (50: the
    median); symmetric_bones: left and right bones share one length; length_sigma: how far (log scale) a
    bone's length may leave that start, the clip's total bone length staying fixed (0: lengths fixed);
    window_frames / window_overlap: clips longer than `window_frames` frames are refined in windows of at most
    that many frames that overlap by `window_overlap` frames (see the module docstring); history_size: how many
    past steps L-BFGS keeps to model the energy's curvature.
    world_weight: strength of the MediaPipe world-landmark cue (`world_cue`) relative to the pose prior (0: off;
    also skipped where the keypoints carry no `pose_world`); world_form: "bones" (each cue bone's whole
    direction) or "depth" (only its extent along the camera ray: which end is nearer); world_robust /
    world_robust_scale: its penalty and the bone-end offset (metres) above which MediaPipe counts as wrong;
    world_window_s: the span (seconds) over which one rotation turns MediaPipe's axes into the camera's;
    world_axes: how that rotation is fitted, "image" (onto the 2D keypoints) or "network" (onto the network's
    pose).
    """

    iterations: int = 100
    reprojection_sigma: float = 0.02
    robust: str = "huber"
    robust_scale: float = 0.05
    pose_sigma: float = 0.05
    trunk_depth_sigma: float = 0.02
    smooth_sigma: float = 0.05
    root_smooth_sigma: float = 0.01
    root_depth_smooth_sigma: float = 0.003
    min_visibility: float = 0.2
    length_percentile: float = 50.0
    symmetric_bones: bool = True
    length_sigma: float = 0.2
    window_frames: int = 900
    window_overlap: int = 60
    history_size: int = 20
    world_weight: float = 0.0
    world_form: str = "bones"
    world_robust: str = "cauchy"
    world_robust_scale: float = 0.2
    world_window_s: float = 1.0
    world_axes: str = "image"


@dataclass(frozen=True)
class RefineReport:
    """Reprojection error before and after (`reprojection_error`: pixels, and relative to the person's height
    in the image); L-BFGS iterations run and energy evaluations; wall seconds; energy before and after (at the
    closed-form root, and at the end)."""

    reprojection_px_before: float
    reprojection_px_after: float
    reprojection_rel_before: float
    reprojection_rel_after: float
    iterations: int
    evaluations: int
    seconds: float
    energy_before: float
    energy_after: float


@dataclass(frozen=True)
class _TrackWindow:
    """Frames [start, stop) of a LandmarkTrack (its `interpolated` and `pose_world` too, when it has them)."""

    keypoints: npt.NDArray[np.float32]
    visibility: npt.NDArray[np.float32]
    detected: npt.NDArray[np.bool_]
    interpolated: npt.NDArray[np.bool_] | None
    pose_world: npt.NDArray[np.float32] | None = None

    @classmethod
    def of(cls, track: LandmarkTrack, start: int, stop: int) -> _TrackWindow:
        interpolated = getattr(track, "interpolated", None)
        world = getattr(track, "pose_world", None)
        return cls(
            np.asarray(track.keypoints)[start:stop],
            np.asarray(track.visibility)[start:stop],
            np.asarray(track.detected)[start:stop],
            None if interpolated is None else np.asarray(interpolated)[start:stop],
            None if world is None else np.asarray(world)[start:stop],
        )


def windows(frames: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, stop) frame ranges covering `frames` frames, each at most `size` long, neighbours sharing exactly
    `overlap` frames, as equal as they can be; one range when the clip fits in one."""
    if size <= 2 * overlap or overlap < 0:
        raise MocapError(
            f"A refinement window of {size} frames must be longer than twice its overlap of {overlap} frames."
        )
    if frames <= size:
        return [(0, frames)]
    count = -(-(frames - overlap) // (size - overlap))  # ceil: each window adds size - overlap new frames
    bounds = np.round(np.linspace(0, frames - overlap, count + 1)).astype(int)
    return [(int(bounds[i]), int(bounds[i + 1]) + overlap) for i in range(count)]


def crossfade_weights(ranges: list[tuple[int, int]], overlap: int) -> list[FloatArray]:
    """Per range, its weight (stop - start,) on each of its frames: 1 inside, ramping linearly across each
    overlap with its neighbour so that the weights of every frame sum to 1."""
    out = []
    ramp = (np.arange(overlap) + 0.5) / overlap
    for i, (start, stop) in enumerate(ranges):
        w = np.ones(stop - start)
        if i > 0:
            w[:overlap] = ramp
        if i < len(ranges) - 1:
            w[-overlap:] = 1.0 - ramp
        out.append(w)
    return out


# ---------------------------------------------------------------------------------------------------------
# Skeleton helpers (numpy)
# ---------------------------------------------------------------------------------------------------------


def _ancestry(parents: tuple[int, ...]) -> FloatArray:
    """(J, B) matrix A with A[j, b] = 1 when bone b lies on the path from the root to joint j, so root-relative
    joints are `A @ bone_vectors`."""
    _, child = bone_pairs(parents)
    bone_of = {int(c): b for b, c in enumerate(child)}
    out = np.zeros((len(parents), len(child)))
    for j in range(len(parents)):
        k = j
        while parents[k] >= 0:
            out[j, bone_of[k]] = 1.0
            k = parents[k]
    return out


def _twin_key(name: str, symmetric: bool) -> str:
    """The name shared by a left/right pair of joints (`l_knee`, `r_knee` → `knee`) when `symmetric`."""
    return name[2:] if symmetric and name.startswith(("l_", "r_")) else name


@dataclass(frozen=True)
class _Targets:
    """Observed 2D per compared joint: normalised camera coordinates obs (T, K, 2), weights (T, K), pixels
    obs_px (T, K, 2), the joints compared (K,) and the person's height in pixels per frame (T,)."""

    joints: tuple[int, ...]
    obs: FloatArray
    obs_px: FloatArray
    weights: FloatArray
    person_px: FloatArray


def _targets(motion: Motion3D, keypoints: LandmarkTrack, config: RefineConfig) -> _Targets:
    kp = np.asarray(keypoints.keypoints, dtype=np.float64)
    vis = np.clip(np.asarray(keypoints.visibility, dtype=np.float64), 0.0, 1.0)
    det = np.asarray(keypoints.detected, dtype=bool).copy()
    frames = motion.num_frames
    if kp.shape != (frames, BLAZEPOSE.num_joints, 2) or vis.shape != (frames, BLAZEPOSE.num_joints):
        raise MocapError(
            f"The keypoints have shape {kp.shape} for a motion of {frames} frames; refine with the keypoints "
            "the motion was lifted from."
        )
    if det.shape != (frames,):
        raise MocapError(f"The keypoints mark {det.shape} detections for {frames} frames; re-run detection.")
    interpolated = getattr(keypoints, "interpolated", None)
    if interpolated is not None and np.shape(interpolated) == (frames,):
        det &= ~np.asarray(interpolated, dtype=bool)  # filled gaps carry no evidence of their own
    det &= np.all(np.isfinite(kp), axis=(1, 2))
    names = [n for n in CORRESPONDENCES if n in motion.index]
    if len(names) < 4:
        raise MocapError(
            f"The motion's joint set {motion.joint_set!r} has too few joints with a MediaPipe counterpart to refine."
        )
    k = motion.intrinsics
    obs_px = np.zeros((frames, len(names), 2))
    weights = np.zeros((frames, len(names)))
    for i, name in enumerate(names):
        idx = BLAZEPOSE.indices(list(CORRESPONDENCES[name]))
        obs_px[:, i] = np.nan_to_num(kp[:, idx].mean(axis=1))
        weights[:, i] = vis[:, idx].min(axis=1)
    weights = np.where(weights >= config.min_visibility, weights, 0.0) * det[:, None]
    obs = (obs_px - np.array([k.cx, k.cy])) / np.array([k.fx, k.fy])
    extent = np.nan_to_num(kp).max(axis=1) - np.nan_to_num(kp).min(axis=1)
    person_px = np.maximum(extent.max(axis=-1), 1.0)
    return _Targets(tuple(motion.index[n] for n in names), obs, obs_px, weights, person_px)


@dataclass(frozen=True)
class WorldCue:
    """MediaPipe's world landmarks as bone directions in the camera frame: ends (P, 2) joint indices of each
    cue bone (`WORLD_CUE_BONES`, from -> to), directions (T, P, 3) unit vectors, weights (T, P) in 0..1 (0 where
    the frame or a bone end has no evidence)."""

    ends: npt.NDArray[np.int64]
    directions: FloatArray
    weights: FloatArray


def world_cue(
    motion: Motion3D,
    keypoints: LandmarkTrack,
    network: FloatArray,
    config: RefineConfig,
    image: tuple[FloatArray, FloatArray] | None = None,
) -> WorldCue | None:
    """The world-landmark cue of a clip, or None when the keypoints carry no `pose_world` (synthetic tracks,
    detections cached before it) or nothing of it is usable.

    network (T, J, 3): the network's root-relative joints; image: the 2D keypoints at the joints as x, y metres
    at the subject's depth (T, J, 2) (normalised camera coordinates times the root's depth) and their weights
    (T, J). MediaPipe's world axes are roughly the camera's but not exactly (10-18 degrees off on the Pose2Sim
    cameras), so each frame's landmarks (each joint the mean of its `CORRESPONDENCES` landmarks, centred) are
    rotated by one rotation per span of `config.world_window_s` around the frame, visibility weighted: with
    `config.world_axes` "image" (and `image` given), the rotation and scale whose orthographic projection best
    fits the 2D (weak perspective: `WEAK_PERSPECTIVE_ROUNDS` rounds alternating the depths from the current
    rotation with a Kabsch fit, from MediaPipe's own axes); with "network", the Kabsch fit onto the network's
    joints, which takes over the network's own lean. Frames count when found (detected, not interpolated)
    with world landmarks; a bone's weight is its ends' lower visibility, 0 below `config.min_visibility`.
    """
    world = getattr(keypoints, "pose_world", None)
    frames = motion.num_frames
    if world is None:
        return None
    world = np.asarray(world, dtype=np.float64)
    if world.shape != (frames, BLAZEPOSE.num_joints, 3):
        raise MocapError(
            f"The keypoints' world landmarks have shape {world.shape} for a motion of {frames} frames; re-run "
            "detection."
        )
    vis = np.clip(np.asarray(keypoints.visibility, dtype=np.float64), 0.0, 1.0)
    found = np.asarray(keypoints.detected, dtype=bool).copy()
    interpolated = getattr(keypoints, "interpolated", None)
    if interpolated is not None and np.shape(interpolated) == (frames,):
        found &= ~np.asarray(interpolated, dtype=bool)
    found &= np.isfinite(world).all(axis=(1, 2)) & (np.abs(world).sum(axis=(1, 2)) > 0)
    bones = [(a, b) for a, b in WORLD_CUE_BONES if a in motion.index and b in motion.index]
    names = sorted({n for bone in bones for n in bone}, key=list(CORRESPONDENCES).index)
    if not found.any() or len(names) < 3:
        return None
    mp = np.zeros((frames, len(names), 3))
    weight = np.zeros((frames, len(names)))
    for i, name in enumerate(names):
        idx = BLAZEPOSE.indices(list(CORRESPONDENCES[name]))
        mp[:, i] = np.nan_to_num(world[:, idx].mean(axis=1))
        weight[:, i] = vis[:, idx].min(axis=1)
    weight = np.where(weight >= config.min_visibility, weight, 0.0) * found[:, None]
    half = max(round(config.world_window_s * motion.fps / 2.0), 0)
    lo = np.clip(np.arange(frames) - half, 0, frames)
    hi = np.clip(np.arange(frames) + half + 1, 0, frames)

    def windowed(values: FloatArray) -> FloatArray:
        summed = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
        out: FloatArray = summed[hi] - summed[lo]
        return out

    def centred(points: FloatArray, w: FloatArray) -> FloatArray:
        mean = (w[..., None] * points).sum(axis=1, keepdims=True) / np.maximum(w.sum(axis=1), 1e-9)[
            :, None, None
        ]
        out: FloatArray = points - mean
        return out

    src = centred(mp, weight)
    if image is None or config.world_axes == "network":
        net = network[:, [motion.index[n] for n in names]]
        rot = orthonormalize(windowed(np.einsum("tk,tki,tkj->tij", weight, src, centred(net, weight))))
    else:
        # Weak perspective: the rotation and scale whose projection of MediaPipe's pose best fits the image
        # points (x, y metres at the subject's depth), by alternating the depths (from the current rotation)
        # with a Kabsch fit onto the completed points; starts from MediaPipe's own axes.
        xy = image[0][:, [motion.index[n] for n in names]]
        w = weight * (image[1][:, [motion.index[n] for n in names]] > 0)
        rot = np.repeat(np.eye(3)[None], frames, axis=0)
        scale = np.ones(frames)
        norm2 = windowed((w * (src**2).sum(-1)).sum(axis=1))
        for _ in range(WEAK_PERSPECTIVE_ROUNDS):
            depth = scale[:, None] * np.einsum("tki,ti->tk", src, rot[:, :, 2])
            dst = centred(np.concatenate([xy, depth[..., None]], axis=-1), w)
            h = windowed(np.einsum("tk,tki,tkj->tij", w, src, dst))
            rot = orthonormalize(h)
            scale = np.einsum("tij,tij->t", h, rot) / np.maximum(norm2, 1e-9)
    pos = {n: i for i, n in enumerate(names)}
    a = [pos[x] for x, _ in bones]
    b = [pos[y] for _, y in bones]
    vec = np.einsum("tpi,tij->tpj", mp[:, b] - mp[:, a], rot)
    size = np.linalg.norm(vec, axis=-1, keepdims=True)
    weights = np.minimum(weight[:, a], weight[:, b]) * (size[..., 0] > 1e-6)
    if not (weights > 0).any():
        return None
    ends = np.array([(motion.index[x], motion.index[y]) for x, y in bones], dtype=np.int64)
    return WorldCue(ends, vec / np.maximum(size, 1e-9), weights)


def _compared_points(absolute: FloatArray, names: tuple[str, ...], joints: tuple[int, ...]) -> FloatArray:
    """`_compared_points_torch` for numpy joints (T, J, 3) → (T, K, 3): numpy in and out, the same torch code
    inside (no gradient), so both can never disagree."""
    t = torch.from_numpy(np.ascontiguousarray(absolute, dtype=np.float64))
    with torch.no_grad():
        out: FloatArray = _compared_points_torch(t, names, joints).numpy()
    return out


def _compared_points_torch(
    absolute: torch.Tensor, names: tuple[str, ...], joints: tuple[int, ...]
) -> torch.Tensor:
    """(T, K, 3) camera-space points compared with the landmarks, from absolute joints (T, J, 3)."""
    index = {n: i for i, n in enumerate(names)}
    # index_select, not absolute[:, list]: its backward (index_add) is faster than index_put
    pts = torch.index_select(absolute, 1, torch.tensor(joints, dtype=torch.long))
    compared = [names[j] for j in joints]
    hips = [k for k, n in enumerate(compared) if n in ("l_hip", "r_hip")]
    if hips and all(n in index for n in ("l_hip", "r_hip", "spine", "pelvis")):
        up = absolute[:, index["spine"]] - absolute[:, index["pelvis"]]
        up = up / torch.clamp(torch.linalg.vector_norm(up, dim=-1, keepdim=True), min=1e-9)
        left = absolute[:, index["l_hip"]] - absolute[:, index["r_hip"]]
        left = left - (left * up).sum(-1, keepdim=True) * up
        left = left / torch.clamp(torch.linalg.vector_norm(left, dim=-1, keepdim=True), min=1e-9)
        for k in hips:
            sign = 1.0 if compared[k] == "l_hip" else -1.0
            pts[:, k] = pts[:, k] + sign * HIP_OFFSET[0] * left + HIP_OFFSET[2] * up
    for k, n in enumerate(compared):
        if n == "head" and "nose" in index:
            forward = absolute[:, index["nose"]] - pts[:, k]
            forward = forward / torch.clamp(torch.linalg.vector_norm(forward, dim=-1, keepdim=True), min=1e-9)
            pts[:, k] = pts[:, k] + EARS_FORWARD * forward
        if n.endswith("_hand") and n[:2] + "wrist" in index:
            wrist = absolute[:, index[n[:2] + "wrist"]]
            pts[:, k] = wrist + HAND_EXTENSION * (pts[:, k] - wrist)
    return pts


def _project(points: torch.Tensor) -> torch.Tensor:
    """Camera points (..., 3) → normalised camera coordinates (..., 2), depth clamped at 1 cm."""
    return points[..., :2] / torch.clamp(points[..., 2:3], min=1e-2)


def reprojection_error(
    motion: Motion3D, keypoints: LandmarkTrack, config: RefineConfig = RefineConfig()
) -> tuple[float, float]:
    """How far the motion's joints project from the keypoints: the visibility-weighted mean distance over the
    joints with a MediaPipe counterpart (`CORRESPONDENCES`) and the detected frames, in pixels and as a
    fraction of the person's height in the image (the larger side of the landmarks' bounding box). NaN when
    nothing is visible."""
    return _reprojection_error(motion.absolute_joints(), motion, _targets(motion, keypoints, config))


def _reprojection_error(absolute: npt.ArrayLike, motion: Motion3D, targets: _Targets) -> tuple[float, float]:
    """`reprojection_error` for camera-space joints (T, J, 3) and prepared targets."""
    pts = _compared_points(np.asarray(absolute, dtype=np.float64), motion.joint_names, targets.joints)
    k = motion.intrinsics
    z = np.maximum(pts[..., 2:3], 1e-2)
    px = pts[..., :2] / z * np.array([k.fx, k.fy]) + np.array([k.cx, k.cy])
    err = np.linalg.norm(px - targets.obs_px, axis=-1)
    w = targets.weights
    total = w.sum()
    if total <= 0:
        return float("nan"), float("nan")
    return float((w * err).sum() / total), float((w * err / targets.person_px[:, None]).sum() / total)


# ---------------------------------------------------------------------------------------------------------
# Closed-form root
# ---------------------------------------------------------------------------------------------------------


def solve_root(
    relative_points: npt.ArrayLike,
    obs: npt.ArrayLike,
    weights: npt.ArrayLike,
    robust_scale: float,
    rounds: int = 3,
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Per-frame camera-space translation t (T, 3) that best places points (T, K, 3) (root-relative metres) on
    their observed normalised camera coordinates obs (T, K, 2), weights (T, K).

    Linear least squares on `(p + t)_x - u (p + t)_z = 0` (and y), reweighted `rounds - 1` times by the inverse
    squared depth (towards the geometric error) and Huber's factor min(1, c / error) with c = `robust_scale`
    (metres at the point's depth). Returns the translations and which frames were solvable (at least three
    weighted points, well conditioned, in front of the camera); others hold zeros.
    """
    p = np.asarray(relative_points, dtype=np.float64)
    o = np.asarray(obs, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).copy()
    frames = len(p)
    t = np.zeros((frames, 3))
    ok = (w > 0).sum(axis=1) >= 3
    rw = np.ones_like(w)
    for _ in range(max(rounds, 1)):
        ww = w * rw
        # Rows per point: [1, 0, -u] t = u p_z - p_x and [0, 1, -v] t = v p_z - p_y.
        a = np.zeros((frames, p.shape[1], 2, 3))
        a[..., 0, 0] = 1.0
        a[..., 1, 1] = 1.0
        a[..., 0, 2] = -o[..., 0]
        a[..., 1, 2] = -o[..., 1]
        b = np.stack([o[..., 0] * p[..., 2] - p[..., 0], o[..., 1] * p[..., 2] - p[..., 1]], axis=-1)
        ata = np.einsum("tk,tkri,tkrj->tij", ww, a, a)
        atb = np.einsum("tk,tkri,tkr->ti", ww, a, b)
        cond = np.linalg.cond(ata + np.eye(3) * 1e-12)
        good = ok & np.isfinite(cond) & (cond < 1e8)
        sol = np.zeros((frames, 3))
        sol[good] = np.linalg.solve(ata[good], atb[good][..., None])[..., 0]
        good &= sol[:, 2] > 0.2
        t = np.where(good[:, None], sol, 0.0)
        ok = good
        depth = np.maximum(p[..., 2] + t[:, None, 2], 0.2)
        proj = (p[..., :2] + t[:, None, :2]) / depth[..., None]
        err = np.linalg.norm(proj - o, axis=-1) * depth  # metres at the point's depth
        rw = np.minimum(1.0, robust_scale / np.maximum(err, 1e-12)) / depth**2
    return t, ok


def _fill(values: FloatArray, ok: npt.NDArray[np.bool_]) -> FloatArray:
    """values (T, D) with rows where `ok` is False interpolated from the good rows (ends held); needs one."""
    idx = np.flatnonzero(ok)
    frames = np.arange(len(values))
    out: FloatArray = np.stack(
        [np.interp(frames, idx, values[idx, d]) for d in range(values.shape[1])], axis=1
    )
    return out


# ---------------------------------------------------------------------------------------------------------
# Optimisation (torch)
# ---------------------------------------------------------------------------------------------------------


def _robust(err2: torch.Tensor, sigma: float, scale: float, kind: str) -> torch.Tensor:
    """Robust penalty of squared errors err² (metres²), err²/σ² for errors well below `scale` (c).

    "geman-mcclure": (err²/σ²) · c² / (c² + err²), bounded by c²/σ², so outliers stop pulling;
    "cauchy": (c²/σ²) · log(1 + err²/c²), whose pull fades slowly; "huber": quadratic up to c, then linear.
    """
    c2 = scale * scale
    if kind == "geman-mcclure":
        return (err2 / (sigma * sigma)) * (c2 / (c2 + err2))
    if kind == "cauchy":
        return (c2 / (sigma * sigma)) * torch.log1p(err2 / c2)
    if kind == "huber":
        err = torch.sqrt(torch.clamp(err2, min=c2))  # = c where quadratic, so no infinite gradient at 0
        return torch.where(err2 <= c2, err2, 2.0 * scale * err - c2) / (sigma * sigma)
    raise MocapError(f"Unknown robust penalty {kind!r}; use huber, cauchy or geman-mcclure.")


def _second_difference(x: torch.Tensor) -> torch.Tensor:
    return x[2:] - 2.0 * x[1:-1] + x[:-2]


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """Run torch on `count` threads inside the block, then restore the previous setting. The clip's tensors
    are small (thousands of elements), where thread hand-offs cost more than they save, and on a loaded
    machine they cost a hundred times more."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def refine_motion(
    motion: Motion3D,
    keypoints: LandmarkTrack,
    config: RefineConfig = RefineConfig(),
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> tuple[Motion3D, RefineReport]:
    """Refine a lifted clip against its 2D keypoints (see the module docstring).

    motion: the network's Motion3D (its intrinsics are the camera used for projection); keypoints: pixel
    keypoints (T, 33, 2), visibility (T, 33) and detected (T,) at the motion's frames (a `Keypoints2D`).
    Returns a new Motion3D (root-relative joints with constant bone lengths, camera-space root; names, fps,
    intrinsics and confidence unchanged) and a `RefineReport`. `progress(fraction, "refine")` reports it;
    a set `cancel` raises `Cancelled`. numpy at the boundary, torch inside.
    """
    with _torch_threads(1):
        ranges = windows(motion.num_frames, config.window_frames, config.window_overlap)
        if len(ranges) == 1:
            return _refine(motion, keypoints, config, progress, cancel)
        return _refine_in_windows(motion, keypoints, config, ranges, progress, cancel)


def _refine_in_windows(
    motion: Motion3D,
    keypoints: LandmarkTrack,
    config: RefineConfig,
    ranges: list[tuple[int, int]],
    progress: Progress | None,
    cancel: Cancel | None,
) -> tuple[Motion3D, RefineReport]:
    """`_refine` on each window of `ranges`, the first one fitting the bone lengths the others then keep, and
    the windows cross-faded into one clip."""
    start_time = time.perf_counter()
    targets = _targets(motion, keypoints, config)  # checks the shapes once, for the whole clip
    names, parents = motion.joint_names, motion.parents
    lengths: FloatArray | None = clip_bone_lengths(
        motion.joints.astype(np.float64) - motion.joints[:, :1],
        names,
        parents,
        config.length_percentile,
        config.symmetric_bones,
    )
    joints = np.zeros(motion.joints.shape)
    root = np.zeros(motion.root.shape)
    reports = []
    for k, ((start, stop), weight) in enumerate(
        zip(ranges, crossfade_weights(ranges, config.window_overlap), strict=True)
    ):
        window = motion.frames(start, stop)
        share = (stop - start) / sum(b - a for a, b in ranges)
        done = sum(b - a for a, b in ranges[:k]) / sum(b - a for a, b in ranges)

        def window_progress(fraction: float, stage: str, done: float = done, share: float = share) -> None:
            if progress is not None:
                progress(done + share * fraction, stage)

        refined, report = _refine(
            window,
            _TrackWindow.of(keypoints, start, stop),
            config if k == 0 else replace(config, length_sigma=0.0),
            window_progress,
            cancel,
            lengths=lengths,
        )
        if k == 0:  # the lengths it settled on, for the other windows
            rel = refined.joints.astype(np.float64)
            _, child = bone_pairs(parents)
            parent = np.asarray(parents)[child]
            lengths = np.linalg.norm(rel[0, child] - rel[0, parent], axis=-1)
        joints[start:stop] += weight[:, None, None] * refined.joints
        root[start:stop] += weight[:, None] * refined.root
        reports.append((stop - start, report))
    refined = replace(motion, joints=joints.astype(np.float32), root=root.astype(np.float32))
    before_px, before_rel = _reprojection_error(motion.absolute_joints(), motion, targets)
    after_px, after_rel = _reprojection_error(refined.absolute_joints(), motion, targets)
    total = sum(n for n, _ in reports)
    return refined, RefineReport(
        reprojection_px_before=before_px,
        reprojection_px_after=after_px,
        reprojection_rel_before=before_rel,
        reprojection_rel_after=after_rel,
        iterations=sum(r.iterations for _, r in reports),
        evaluations=sum(r.evaluations for _, r in reports),
        seconds=time.perf_counter() - start_time,
        energy_before=sum(n * r.energy_before for n, r in reports) / total,
        energy_after=sum(n * r.energy_after for n, r in reports) / total,
    )


def _refine(
    motion: Motion3D,
    keypoints: LandmarkTrack,
    config: RefineConfig,
    progress: Progress | None,
    cancel: Cancel | None,
    lengths: FloatArray | None = None,
) -> tuple[Motion3D, RefineReport]:
    """`refine_motion` on one window, without the thread setting: numpy set-up, torch optimisation, numpy out.
    `lengths` (B,): the bone lengths to start from, instead of the window's own (`clip_bone_lengths`)."""
    start = time.perf_counter()
    cancelled = as_cancel(cancel)

    def report(fraction: float) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled("Refinement was cancelled.")
        if progress is not None:
            progress(fraction, "refine")

    report(0.0)
    if config.iterations < 0:
        raise MocapError(
            f"The number of refinement iterations must not be negative, got {config.iterations}."
        )
    if config.history_size < 1:
        raise MocapError(f"The L-BFGS history must keep at least one step, got {config.history_size}.")
    if not config.trunk_depth_sigma > 0:
        raise MocapError(
            f"The trunk's depth sigma must be a positive length, got {config.trunk_depth_sigma}."
        )
    if (
        not config.world_weight >= 0
        or config.world_form not in WORLD_FORMS
        or config.world_axes not in WORLD_AXES
        or not config.world_window_s > 0
    ):
        raise MocapError(
            f"The world-landmark cue needs a weight of 0 or more, a form among {', '.join(WORLD_FORMS)}, axes "
            f"among {', '.join(WORLD_AXES)} and a positive window, got {config.world_weight}, "
            f"{config.world_form!r}, {config.world_axes!r} and {config.world_window_s} s."
        )
    targets = _targets(motion, keypoints, config)
    names, parents = motion.joint_names, motion.parents
    if parents[0] != -1 or any(p < 0 for p in parents[1:]):
        raise MocapError("Refinement needs a skeleton with a single root joint first; re-lift the clip.")
    frames = motion.num_frames
    parent, child = bone_pairs(parents)
    ancestry = _ancestry(parents)
    net_rel = motion.joints.astype(np.float64)
    net_rel = net_rel - net_rel[:, :1]
    if lengths is None:
        lengths = clip_bone_lengths(net_rel, names, parents, config.length_percentile, config.symmetric_bones)
    vec = net_rel[:, child] - net_rel[:, parent]
    dirs0 = vec / np.maximum(np.linalg.norm(vec, axis=-1, keepdims=True), 1e-9)
    rel0 = np.einsum("jb,tbc->tjc", ancestry, dirs0 * lengths[:, None])  # network pose, fixed bone lengths

    # Closed-form root per frame; frames without enough evidence are interpolated from their neighbours.
    root, ok = solve_root(
        _compared_points(rel0, names, targets.joints), targets.obs, targets.weights, config.robust_scale
    )
    if not ok.any():
        raise MocapError(
            "Too few keypoints are visible on any frame to place the person; lift the clip without refinement."
        )
    root = _fill(root, ok)
    cue = None
    if config.world_weight > 0:
        image = np.zeros((frames, len(names), 2))
        image_weights = np.zeros((frames, len(names)))
        image[:, targets.joints] = targets.obs * root[:, None, 2:3]
        image_weights[:, targets.joints] = targets.weights
        cue = world_cue(motion, keypoints, rel0, config, (image, image_weights))
    before_px, before_rel = _reprojection_error(motion.absolute_joints(), motion, targets)
    report(0.05)

    dtype = torch.float32  # as accurate here as float64 (reprojection within 0.05 px) and 2-3x faster
    a_t = torch.from_numpy(ancestry).to(dtype)
    len_t = torch.from_numpy(lengths).to(dtype)[:, None]
    dirs0_t = torch.from_numpy(dirs0).to(dtype)
    obs_t = torch.from_numpy(targets.obs).to(dtype)
    w_t = torch.from_numpy(targets.weights).to(dtype)
    depth_t = torch.from_numpy(np.ascontiguousarray(root[:, 2:3])).to(dtype)  # metres per normalised unit
    ray = root / np.linalg.norm(root, axis=-1, keepdims=True)  # (T, 3) unit, the root's camera ray
    ray_t = torch.from_numpy(ray).to(dtype)[:, None]
    # Extra weight (B,) on the trunk bones' offsets along the ray, so the trunk keeps the network's inclination.
    depth_extra = torch.zeros(len(child), dtype=dtype)
    depth_extra[[b for b, c in enumerate(child) if names[int(c)] in TRUNK_JOINTS]] = max(
        1.0 / config.trunk_depth_sigma**2 - 1.0 / config.pose_sigma**2, 0.0
    )
    rate = (motion.fps / MODEL_FPS) ** 2  # per-frame accelerations → per (1/30 s)²
    if cue is not None:
        cue_from = torch.from_numpy(cue.ends[:, 0])
        cue_to = torch.from_numpy(cue.ends[:, 1])
        cue_dirs = torch.from_numpy(cue.directions).to(dtype)
        cue_w = torch.from_numpy(cue.weights).to(dtype) * config.world_weight
    bones = len(child)
    # Bone proportions may adapt per clip (one log-scale per bone, shared by left and right twins when
    # `symmetric_bones`), with the clip's total bone length, hence its scale, held fixed.
    group_names = [_twin_key(names[int(c)], config.symmetric_bones) for c in child]
    groups = sorted(set(group_names), key=group_names.index)
    group_of = torch.tensor([groups.index(g) for g in group_names])
    free_lengths = config.length_sigma > 0
    # One flat vector of unknowns, all in metres so that one step suits them all: the root's image position
    # (u, v) and log depth, each times the initial depth, each bone direction times its length, and the log
    # proportions times LENGTH_UNIT.
    x0 = np.concatenate(
        [
            root[:, :2].ravel(),
            np.log(root[:, 2]) * root[:, 2],
            (dirs0 * lengths[:, None]).ravel(),
            np.zeros(len(groups) if free_lengths else 0),
        ]
    )
    x = torch.from_numpy(x0).to(dtype).requires_grad_(True)
    n_dirs = 3 * frames + 3 * frames * bones

    def energy() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(energy per frame, root-relative joints (T, J, 3), root (T, 3))."""
        uv = x[: 2 * frames].view(frames, 2) / depth_t
        z = torch.exp(x[2 * frames : 3 * frames].view(frames, 1) / depth_t)
        dirs = x[3 * frames : n_dirs].view(frames, bones, 3)
        d = dirs / torch.clamp(torch.linalg.vector_norm(dirs, dim=-1, keepdim=True), min=1e-9)
        length = len_t
        if free_lengths:
            log_scale = x[n_dirs:] / LENGTH_UNIT
            length = len_t * torch.exp(log_scale[group_of])[:, None]
            length = length * (len_t.sum() / length.sum())
        rel = torch.einsum("jb,tbc->tjc", a_t, d * length)
        r = torch.cat([uv * z, z], dim=-1)
        pts = _compared_points_torch(rel + r[:, None], names, targets.joints)
        err2 = ((_project(pts) - obs_t) ** 2).sum(-1) * depth_t**2
        e = (w_t * _robust(err2, config.reprojection_sigma, config.robust_scale, config.robust)).sum()
        off = (d - dirs0_t) * length
        e = e + (off**2).sum() / config.pose_sigma**2
        e = e + (((off * ray_t).sum(-1) ** 2) * depth_extra).sum()
        if cue is not None:  # MediaPipe's bone directions: each far end's offset from them at our length
            v = torch.index_select(rel, 1, cue_to) - torch.index_select(rel, 1, cue_from)
            size = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
            miss = v - size * cue_dirs
            if config.world_form == "depth":
                miss2 = (miss * ray_t).sum(-1) ** 2
            else:
                miss2 = (miss**2).sum(-1)
            e = (
                e
                + (
                    cue_w * _robust(miss2, config.pose_sigma, config.world_robust_scale, config.world_robust)
                ).sum()
            )
        if frames > 2:
            e = e + ((_second_difference(rel) * rate) ** 2).sum() / config.smooth_sigma**2
            acc_root = (_second_difference(r) * rate) ** 2
            e = e + acc_root[:, :2].sum() / config.root_smooth_sigma**2
            e = e + acc_root[:, 2].sum() / config.root_depth_smooth_sigma**2
        e = e / frames
        if free_lengths:  # one prior for the clip: the longer the clip, the more its evidence counts
            e = e + (log_scale**2).sum() / config.length_sigma**2
        return e, rel, r

    with torch.no_grad():
        energy_before = float(energy()[0])
    # L-BFGS in rounds of a few iterations, so progress and cancel are checked between them.
    rounds = min(max(config.iterations, 1), 20)
    lbfgs = torch.optim.LBFGS(
        [x],
        lr=1.0,
        max_iter=1,
        history_size=config.history_size,
        line_search_fn="strong_wolfe",
        tolerance_change=1e-12,
    )

    def closure() -> torch.Tensor:
        lbfgs.zero_grad()
        e = energy()[0]
        e.backward()  # type: ignore[no-untyped-call]
        return e

    done = 0
    for k in range(rounds):
        chunk = config.iterations * (k + 1) // rounds - done
        if chunk > 0:
            lbfgs.param_groups[0]["max_iter"] = chunk
            lbfgs.param_groups[0]["max_eval"] = chunk * 5 // 4 + 10
            lbfgs.step(closure)  # type: ignore[no-untyped-call]
            done += chunk
        report(0.05 + 0.9 * (k + 1) / rounds)
    state = lbfgs.state[x]
    with torch.no_grad():
        e, rel_t, root_t = energy()
        energy_after = float(e)
        rel_out = rel_t.numpy()
        root_out = root_t.numpy()
    if not (np.isfinite(rel_out).all() and np.isfinite(root_out).all()):
        raise MocapError("Refinement diverged on this clip; lift it without refinement.")
    refined = replace(motion, joints=rel_out.astype(np.float32), root=root_out.astype(np.float32))
    after_px, after_rel = _reprojection_error(refined.absolute_joints(), motion, targets)
    report(1.0)
    return refined, RefineReport(
        reprojection_px_before=before_px,
        reprojection_px_after=after_px,
        reprojection_rel_before=before_rel,
        reprojection_rel_after=after_rel,
        iterations=int(state.get("n_iter", 0)),
        evaluations=int(state.get("func_evals", 0)),
        seconds=time.perf_counter() - start,
        energy_before=energy_before,
        energy_after=energy_after,
    )
