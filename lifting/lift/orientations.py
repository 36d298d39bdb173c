"""Head and hand orientations from the landmarks MediaPipe sees, for `Motion3D.orientations` (numpy only).

The joints alone leave the head's pitch and the hands' twist to chance: the head joint and the nose give one
direction (the head bone used to point at the nose, which tips it forward by the nose's drop below the ears) and
the wrist and hand joints none about the forearm. The 2D landmarks say more:

- **Head**: the face landmarks (nose, eyes, ears, mouth corners) as MediaPipe places them in the head frame of
  `lifting.landmarks.FACE_OFFSETS` (`FACE_MODEL`: measured on real footage, narrower and with the ears further
  forward than the anatomical offsets). Per frame, the rotation (and a small shift across the image of the head
  centre, its depth kept) whose projection through the clip's camera fits them best, each landmark weighted by
  its visibility, is found by Gauss-Newton from a neutral head frame (`neutral_head_frame`: the trunk's frame
  turned to the joints' heading, head → nose, and pitched down by `head_neutral_pitch_deg`), from the joints'
  frame and from turned starts around the neutral (left/right and up/down, so a face seen at an angle finds its
  side). A prior towards the neutral frame, tighter in pitch than in yaw and roll, keeps the pitch where a
  monocular face says little about it (the nose's depth against the ears') and frames with few landmarks
  sensible. Frames where the face is not seen (low visibility) keep the neutral frame; the result is smoothed
  over time (`head_smooth_s`) with each frame weighted by how well its face was seen, so it passes between the
  two without a jump.
- **Hands**: the palm's plane from BlazePose's index, pinky and thumb (`HAND_OFFSETS`, hand frame). The hand's
  distal axis is the lifted wrist → hand, kept within `MAX_WRIST_BEND_DEG` of the forearm (less where the hand
  landmarks are barely seen); its twist about that axis is measured from the anatomical neutral (thumb up with
  the elbow bent, the palm facing the body: the elbow's hinge normal, as `retarget.solve` takes it), so the
  forearm's rotation is not counted. Each frame scores every twist on a grid by the landmarks' fit relative to
  the wrist landmark, beyond ±`TWIST_RANGE_DEG` (pronation/supination) a penalty rises; one dynamic programme
  over the clip (`lifting.labelling.cheapest_states`) picks the cheapest continuous path, each frame's step
  priced by its size, so the twist never flips or wraps; the path is smoothed.

Frames and units are the contract's (`retarget.motion3d.ORIENTATION_FRAMES`): rotations take the segment frame
to camera coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from lifting.labelling import cheapest_states
from lifting.landmarks import FACE_OFFSETS, HAND_OFFSETS, LandmarkTrack
from lifting.skeleton import BLAZEPOSE
from retarget.mapping import body_axes
from retarget.motion3d import Motion3D
from retarget.quaternions import make_continuous, matrix_to_quat, quat_to_matrix
from retarget.rotations import axis_angle_matrix, frame_from_vectors, normalize

FloatArray = npt.NDArray[np.float64]

# The hand may bend this far from the forearm's line (wrist flexion/extension and deviation, degrees).
MAX_WRIST_BEND_DEG = 70.0
# Pronation/supination beyond this many degrees from neutral costs more and more; the grid ends at TWIST_LIMIT_DEG.
TWIST_RANGE_DEG = 90.0
TWIST_LIMIT_DEG = 150.0
TWIST_STEP_DEG = 3.0
# Elbow bend (degrees) below which the bend plane no longer gives the hinge axis (as `retarget.solve.SolveConfig`).
HINGE_MIN_DEG, HINGE_FULL_DEG = 8.0, 20.0
# How far (metres) the head centre may move across the image from the lifted head joint for the cost of one
# landmark's typical error.
HEAD_SHIFT_SIGMA = 0.05
# How far the face's size may differ from the model's at the lifted head's depth (log scale): people's faces and
# the lifted depth both vary.
FACE_SIZE_SIGMA = 0.3
# Frames per block when fitting heads and scoring hand twists (bounds the memory on long clips).
BLOCK = 1024


@dataclass(frozen=True)
class OrientationConfig:
    """min_visibility: landmarks below it are not used; face_sigma / hand_sigma: expected landmark error (metres at
    the subject), face_pixels: the same in pixels (the larger of the two counts: small faces are noisy);
    head_prior_deg / head_pitch_prior_deg: how far the face may turn the head from the neutral frame
    (`neutral_head_frame`) in yaw and roll / in pitch before the prior costs as much as one landmark's typical
    error; head_neutral_pitch_deg: the neutral head's pitch below the trunk's forward (degrees, positive looking
    down); head_step_deg: the head's turn per 1/30 s that costs as much; face_swap_cost: the price of a frame read
    with the face's left and right labels exchanged; head_smooth_s / smooth_s: Gaussian smoothing of the head /
    of the hands' twist (seconds, standard deviation); twist_step_deg: the twist change per 1/30 s that costs as
    much as one hand's typical landmark error.

    The head's prior, neutral pitch and smoothing were chosen on Pose2Sim's single-person take (the two-person
    take held out): `bench/orientations.py --grid`, docs/orientations.md."""

    min_visibility: float = 0.5
    face_sigma: float = 0.01
    face_pixels: float = 2.0
    head_prior_deg: float = 10.0
    head_pitch_prior_deg: float = 6.0
    head_neutral_pitch_deg: float = 15.0
    head_step_deg: float = 10.0
    face_swap_cost: float = 4.0
    head_smooth_s: float = 0.2
    hand_sigma: float = 0.012
    twist_step_deg: float = 12.0
    smooth_s: float = 0.1


def _face_model() -> tuple[list[int], FloatArray]:
    """BlazePose indices of the face landmarks and their points (K, 3) in the head frame (x left, y up, z
    forward), metres from the head centre."""
    names, points = [], []
    for name, (left, forward, up) in FACE_OFFSETS.items():
        names.append(name)
        points.append((left, up, forward))
        if name.startswith("left_") or name.endswith("_left"):
            names.append(name.replace("left", "right"))
            points.append((-left, up, forward))
    return BLAZEPOSE.indices(names), np.asarray(points, dtype=np.float64)


FACE_INDICES, FACE_POINTS = _face_model()
# FACE_MIRROR[k]: the position in FACE_INDICES of landmark k's left/right twin (the nose is its own).
FACE_MIRROR = [FACE_INDICES.index(int(BLAZEPOSE.mirror_permutation()[i])) for i in FACE_INDICES]
NOSE_LOCAL = FACE_POINTS[0]
# Where MediaPipe puts the face landmarks (FACE_INDICES order) in the same head frame (x left, y up, z forward),
# metres from the head centre: the mean of MediaPipe's landmarks triangulated from three cameras on Pose2Sim's
# single-person take, each frame turned into the head frame that FACE_POINTS fits (Kabsch), left and right made
# symmetric. Printed by `bench/orientations.py --face-model`. About 0.65 of FACE_POINTS' size, and MediaPipe's
# ears sit 4 cm further forward, so FACE_POINTS fitted to a face seen from the front tilts it upwards.
FACE_MODEL = np.array(
    [
        [0.0, -0.0131, 0.0943],
        [0.014, 0.0144, 0.081],
        [-0.014, 0.0144, 0.081],
        [0.0236, 0.0148, 0.0768],
        [-0.0236, 0.0148, 0.0768],
        [0.0332, 0.0148, 0.072],
        [-0.0332, 0.0148, 0.072],
        [0.0476, -0.0016, 0.035],
        [-0.0476, -0.0016, 0.035],
        [0.0157, -0.0429, 0.0825],
        [-0.0157, -0.0429, 0.0825],
    ]
)


def normalised_landmarks(motion: Motion3D, keypoints: LandmarkTrack) -> tuple[FloatArray, FloatArray]:
    """Keypoints as normalised camera coordinates (T, 33, 2) and usable visibility (T, 33): 0 on frames without
    a detection of their own (missed or interpolated) and where not finite."""
    k = motion.intrinsics
    kp = np.asarray(keypoints.keypoints, dtype=np.float64)
    vis = np.clip(np.asarray(keypoints.visibility, dtype=np.float64), 0.0, 1.0)
    det = np.asarray(keypoints.detected, dtype=bool).copy()
    interpolated = getattr(keypoints, "interpolated", None)
    if interpolated is not None and np.shape(interpolated) == det.shape:
        det &= ~np.asarray(interpolated, dtype=bool)
    finite = np.isfinite(kp).all(axis=-1)
    vis = np.where(finite & det[:, None], vis, 0.0)
    xy = (np.nan_to_num(kp) - np.array([k.cx, k.cy])) / np.array([k.fx, k.fy])
    return xy, vis


def _smooth_rotations(rot: FloatArray, weights: FloatArray, sigma_frames: float) -> FloatArray:
    """Weighted Gaussian smoothing of rotations (T, 3, 3) over time (quaternions made sign-continuous,
    averaged, normalised); weights (T,) > 0."""
    q = make_continuous(matrix_to_quat(rot), axis=0)
    if sigma_frames <= 0 or len(q) < 2:
        return rot
    radius = max(1, int(np.ceil(3.0 * sigma_frames)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    wq = np.pad(q * weights[:, None], ((radius, radius), (0, 0)), mode="edge")
    ww = np.pad(weights, radius, mode="edge")
    num = np.stack([np.convolve(wq[:, c], kernel, mode="valid") for c in range(4)], axis=-1)
    den = np.convolve(ww, kernel, mode="valid")
    out: FloatArray = quat_to_matrix(num / np.maximum(den, 1e-12)[:, None])
    return out


def _smooth_signal(x: FloatArray, sigma_frames: float) -> FloatArray:
    if sigma_frames <= 0 or len(x) < 2:
        return x
    radius = max(1, int(np.ceil(3.0 * sigma_frames)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    kernel /= kernel.sum()
    out: FloatArray = np.convolve(np.pad(x, radius, mode="edge"), kernel, mode="valid")
    return out


# ---------------------------------------------------------------------------------------------------------
# Head
# ---------------------------------------------------------------------------------------------------------


def joints_head_frame(head: FloatArray, nose: FloatArray, neck: FloatArray) -> FloatArray:
    """The head frame (T, 3, 3) the joints give: the face's nose direction on head → nose, up towards
    neck → head (what the head bone followed before the face was used)."""
    local = frame_from_vectors(NOSE_LOCAL, np.array([0.0, 1.0, 0.0]))
    out: FloatArray = frame_from_vectors(nose - head, head - neck) @ local.T
    return out


def neutral_head_frame(
    absolute: FloatArray, index: dict[str, int], pitch_deg: float, joints_frame: FloatArray | None = None
) -> FloatArray:
    """The neutral head frames (T, 3, 3) (columns left, up, forward, camera coordinates) of camera-space joints
    (T, J, 3): the trunk's frame (`retarget.mapping.body_axes` of pelvis, neck and hips) turned about the trunk's
    up to the heading of the joints' head frame (`joints_head_frame`, or `joints_frame` when given), then pitched
    down by `pitch_deg` degrees about its left axis; no roll against the trunk."""
    left, forward, up = body_axes(*(absolute[:, index[n]] for n in ("pelvis", "neck", "l_hip", "r_hip")))
    if joints_frame is None:
        joints_frame = joints_head_frame(*(absolute[:, index[n]] for n in ("head", "nose", "neck")))
    f = joints_frame[:, :, 2]
    heading = np.arctan2(np.sum(f * left, axis=-1), np.sum(f * forward, axis=-1))
    c, s = np.cos(heading)[:, None], np.sin(heading)[:, None]
    fwd = c * forward + s * left
    lft = c * left - s * forward
    p = np.radians(pitch_deg)
    fwd_p = np.cos(p) * fwd - np.sin(p) * up
    up_p = np.cos(p) * up + np.sin(p) * fwd
    return np.stack([lft, up_p, fwd_p], axis=-1)


def _face_residuals(
    params: FloatArray,
    base: FloatArray,
    centre: FloatArray,
    obs: FloatArray,
    sqrt_w: FloatArray,
    prior: FloatArray,
    model: FloatArray,
) -> FloatArray:
    """Residuals (N, 2K + 6) of head poses: params (N, 6) = rotation vector (camera axes, applied after `base`
    (N, 3, 3)), the head centre's shift across the image (metres) and the log of the face's size relative to
    the face model `model` (K, 3) (the depth's error, which would otherwise be taken up by turning the face);
    centre (N, 3); obs (N, K, 2) normalised coordinates; sqrt_w (N, K) landmark weights over the landmark
    sigma; prior (5,): the sigmas of the rotation about base's left (pitch), up (yaw) and forward (roll) axes in
    radians, of the shift (metres) and of the log size. Landmark residuals are in metres at the head's depth."""
    angle = np.linalg.norm(params[:, :3], axis=-1)
    rot = axis_angle_matrix(np.where(angle[:, None] > 1e-12, params[:, :3], [1.0, 0.0, 0.0]), angle) @ base
    c = centre + np.concatenate([params[:, 3:5], np.zeros((len(params), 1))], axis=-1)
    pts = c[:, None, :] + np.exp(params[:, 5])[:, None, None] * (model @ np.swapaxes(rot, -1, -2))
    proj = pts[..., :2] / np.maximum(pts[..., 2:3], 1e-2)
    res = (proj - obs) * centre[:, None, 2:3] * sqrt_w[..., None]
    turn = (params[:, None, :3] @ base)[:, 0]  # the rotation vector along base's left, up, forward
    return np.concatenate(
        [
            res.reshape(len(params), -1),
            turn / prior[:3],
            params[:, 3:5] / prior[3],
            params[:, 5:] / prior[4],
        ],
        1,
    )


def _rotation_vector(rot: FloatArray) -> FloatArray:
    """Rotation vectors (N, 3) (axis times angle, radians, angle in 0..pi) of rotations (N, 3, 3)."""
    q = matrix_to_quat(rot)
    q = q * np.where(q[:, :1] < 0.0, -1.0, 1.0)
    s = np.linalg.norm(q[:, 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[:, :1])
    out: FloatArray = np.where(s > 1e-12, q[:, 1:] / np.maximum(s, 1e-12) * angle, 0.0)
    return out


def fit_head(
    base: FloatArray,
    centre: FloatArray,
    obs: FloatArray,
    weights: FloatArray,
    focal: float,
    config: OrientationConfig = OrientationConfig(),
    iterations: int = 12,
    also_from: FloatArray | None = None,
    model: FloatArray = FACE_MODEL,
) -> tuple[FloatArray, FloatArray]:
    """Candidate head rotations (N, C, 3, 3) fitting the face model `model` (K, 3) (head frame, metres) to the
    landmarks, one per start: the prior's frame `base` (N, 3, 3), starts turned ±50° left/right and ±30° up/down
    about it, and `also_from` (N, 3, 3) when given; the head centre `centre` (N, 3) (camera coordinates, metres) may shift across the image. obs
    (N, K, 2): the face landmarks (`FACE_INDICES` order) in normalised camera coordinates; weights (N, K) in 0..1;
    focal: the camera's focal length in pixels. Returns the candidates and their costs (N, C): squared landmark
    errors over the landmark sigma (`face_sigma`, or `face_pixels` at the head's depth where larger), plus the
    prior towards `base` (`head_pitch_prior_deg` about its left axis, `head_prior_deg` about the others).
    Frames are fitted independently, `BLOCK` at a time (bounds the memory on long clips)."""
    n = len(base)
    if n > BLOCK:
        parts = [
            fit_head(
                base[b : b + BLOCK],
                centre[b : b + BLOCK],
                obs[b : b + BLOCK],
                weights[b : b + BLOCK],
                focal,
                config,
                iterations,
                None if also_from is None else also_from[b : b + BLOCK],
                model,
            )
            for b in range(0, n, BLOCK)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    sigma = np.hypot(config.face_sigma, config.face_pixels * centre[:, 2] / focal)
    sqrt_w = np.sqrt(np.clip(weights, 0.0, None)) / sigma[:, None]
    prior = np.array(
        [
            np.radians(config.head_pitch_prior_deg),
            np.radians(config.head_prior_deg),
            np.radians(config.head_prior_deg),
            HEAD_SHIFT_SIGMA,
            FACE_SIZE_SIGMA,
        ]
    )
    # Starts: the prior's frame, turned about its own up (yaw) and left (pitch) axes, and the extra frame.
    starts = [np.zeros((n, 3))]
    for axis_col, deg in ((1, 50.0), (1, -50.0), (0, 30.0), (0, -30.0)):
        starts.append(base[:, :, axis_col] * np.radians(deg))
    if also_from is not None:
        starts.append(_rotation_vector(also_from @ np.swapaxes(base, -1, -2)))
    rotations, costs = [], []
    eps = 1e-5
    for start in starts:
        p = np.concatenate([start, np.zeros((n, 3))], axis=-1)
        lam = np.full(n, 1e-3)
        r = _face_residuals(p, base, centre, obs, sqrt_w, prior, model)
        cost = (r**2).sum(-1)
        for _ in range(iterations):
            jac = np.stack(
                [
                    (_face_residuals(p + eps * np.eye(6)[i], base, centre, obs, sqrt_w, prior, model) - r)
                    / eps
                    for i in range(6)
                ],
                axis=-1,
            )
            jtj = np.swapaxes(jac, -1, -2) @ jac  # (matmul: einsum is 5x slower here)
            jtr = (r[:, None, :] @ jac)[:, 0]
            step = -np.linalg.solve(jtj + lam[:, None, None] * np.eye(6), jtr[..., None])[..., 0]
            trial = p + step
            r_trial = _face_residuals(trial, base, centre, obs, sqrt_w, prior, model)
            cost_trial = (r_trial**2).sum(-1)
            better = cost_trial < cost
            p = np.where(better[:, None], trial, p)
            r = np.where(better[:, None], r_trial, r)
            cost = np.where(better, cost_trial, cost)
            lam = np.where(better, lam * 0.3, lam * 10.0)
        angle = np.linalg.norm(p[:, :3], axis=-1)
        rotations.append(
            axis_angle_matrix(np.where(angle[:, None] > 1e-12, p[:, :3], [1.0, 0.0, 0.0]), angle) @ base
        )
        costs.append(cost)
    return np.stack(rotations, axis=1), np.stack(costs, axis=1)


def head_orientation(
    absolute: FloatArray,
    index: dict[str, int],
    xy: FloatArray,
    vis: FloatArray,
    fps: float,
    focal: float,
    config: OrientationConfig = OrientationConfig(),
    model: FloatArray = FACE_MODEL,
) -> tuple[FloatArray, FloatArray]:
    """Head rotations (T, 3, 3) (head frame → camera) and how well the face was seen per frame (T,) in 0..1,
    from camera-space joints (T, J, 3) (`index`: joint name → column), landmarks xy (T, 33, 2) normalised
    camera coordinates with visibility vis (T, 33), focal length `focal` pixels. Each frame's candidates
    (`fit_head` of the face model `model`, prior towards `neutral_head_frame`, also started from the joints'
    frame) are chained by the
    cheapest path whose steps cost (angle / head_step_deg per 1/30 s)², then smoothed (`head_smooth_s`)."""
    head, nose, neck = (absolute[:, index[n]] for n in ("head", "nose", "neck"))
    joints = joints_head_frame(head, nose, neck)
    base = neutral_head_frame(absolute, index, config.head_neutral_pitch_deg, joints)
    w = vis[:, FACE_INDICES]
    w = np.where(w >= config.min_visibility, w, 0.0)
    # Seen: the nose and an ear with at least four landmarks in all (enough to fix all three angles).
    ears = w[:, [FACE_INDICES.index(BLAZEPOSE.index[n]) for n in ("left_ear", "right_ear")]].max(axis=1)
    seen = np.minimum(w[:, 0], ears) * (np.count_nonzero(w, axis=1) >= 4)
    w = w * (seen > 0)[:, None]
    obs = xy[:, FACE_INDICES]
    candidates, costs = fit_head(base, head, obs, w, focal, config, also_from=joints, model=model)
    # MediaPipe exchanges the face's left and right labels on small or turned faces: the exchanged labelling is
    # fitted too, at a price, and continuity decides.
    swapped, swapped_costs = fit_head(
        base, head, obs[:, FACE_MIRROR], w[:, FACE_MIRROR], focal, config, also_from=joints, model=model
    )
    candidates = np.concatenate([candidates, swapped], axis=1)
    costs = np.concatenate([costs, swapped_costs + config.face_swap_cost], axis=1)
    # Step costs (T, C, C), computed in place in one array (long clips): trace(R_now^T R_before) per pair of
    # candidates, without the (T - 1, C, C, 3, 3) products, then the angle over the allowed step, squared.
    step = np.zeros((len(base), costs.shape[1], costs.shape[1]))
    if len(base) > 1:
        flat = candidates.reshape(*candidates.shape[:2], 9)
        angle = step[1:]
        np.matmul(flat[1:], np.swapaxes(flat[:-1], -1, -2), out=angle)
        angle -= 1.0
        angle /= 2.0
        np.degrees(np.arccos(np.clip(angle, -1.0, 1.0, out=angle), out=angle), out=angle)
        angle /= config.head_step_deg * 30.0 / fps
        np.square(angle, out=angle)
    pick = cheapest_states(costs, step)
    rot = candidates[np.arange(len(base)), pick]
    return _smooth_rotations(rot, np.maximum(seen, 1e-3), config.head_smooth_s * fps), seen


# ---------------------------------------------------------------------------------------------------------
# Hands
# ---------------------------------------------------------------------------------------------------------


def _rotate_towards(a: FloatArray, b: FloatArray, angle: FloatArray) -> FloatArray:
    """Unit vectors a (T, 3) turned towards b (T, 3) by `angle` (T,) radians in their common plane."""
    perp = normalize(b - np.sum(b * a, axis=-1, keepdims=True) * a)
    return normalize(np.cos(angle)[:, None] * a + np.sin(angle)[:, None] * perp)


def hand_axes(
    absolute: FloatArray, index: dict[str, int], side: str, hand_confidence: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The hand's distal axis d (T, 3) (wrist → hand within `MAX_WRIST_BEND_DEG` of the forearm, scaled down
    where `hand_confidence` (T,) is below 0.8, straight below 0.3), the neutral radial axis r0 (T, 3) (thumb
    side at zero twist: the elbow's hinge normal × d) and the hand's length (T,) metres."""
    s, e, wr, h = (absolute[:, index[f"{side}_{n}"]] for n in ("shoulder", "elbow", "wrist", "hand"))
    fore = normalize(wr - e)
    hand = h - wr
    bend = np.arctan2(np.linalg.norm(np.cross(fore, hand), axis=-1), np.sum(fore * hand, axis=-1))
    trust = np.clip((hand_confidence - 0.3) / 0.5, 0.0, 1.0)
    distal = _rotate_towards(fore, normalize(hand), np.minimum(bend, np.radians(MAX_WRIST_BEND_DEG)) * trust)
    upper = normalize(e - s)
    _, forward, _ = body_axes(*(absolute[:, index[n]] for n in ("pelvis", "neck", "l_hip", "r_hip")))
    n_anat = normalize(np.cross(upper, forward))
    c = np.cross(upper, fore)
    elbow = np.degrees(np.arctan2(np.linalg.norm(c, axis=-1), np.sum(upper * fore, axis=-1)))
    n_plane = normalize(c)
    flip = (elbow < HINGE_FULL_DEG) & (np.sum(n_plane * n_anat, axis=-1) < 0.0)
    n_plane = np.where(flip[:, None], -n_plane, n_plane)
    u = np.clip((elbow - HINGE_MIN_DEG) / (HINGE_FULL_DEG - HINGE_MIN_DEG), 0.0, 1.0)
    u = u * u * (3.0 - 2.0 * u)
    hinge = normalize(u[:, None] * n_plane + (1.0 - u[:, None]) * n_anat)
    radial0 = normalize(np.cross(hinge, distal))
    length = np.linalg.norm(hand, axis=-1)
    return distal, radial0, length


def hand_frames(distal: FloatArray, radial0: FloatArray, twist: FloatArray, side: str) -> FloatArray:
    """Hand frames (T, 3, 3) (columns: distal, palmar, distal × palmar) at `twist` (T,) radians about the distal
    axis from the neutral radial axis radial0 (positive: right-handed about distal)."""
    radial = np.cos(twist)[:, None] * radial0 + np.sin(twist)[:, None] * np.cross(distal, radial0)
    # Left hand: (distal, radial, palmar) is right-handed; right hand: left-handed.
    palmar = np.cross(distal, radial) * (1.0 if side == "l" else -1.0)
    return np.stack([distal, palmar, np.cross(distal, palmar)], axis=-1)


def _hand_points(frames: FloatArray, wrist: FloatArray, length: FloatArray, side: str) -> FloatArray:
    """Index, pinky and thumb (T, ..., 3, 3) camera points for hand frames (T, ..., 3, 3)."""
    sign = 1.0 if side == "l" else -1.0
    # HAND_OFFSETS are (distal, radial, palmar); in frame columns (distal, palmar, distal × palmar) the radial
    # axis is -(distal × palmar) on the left hand and +(distal × palmar) on the right.
    local = np.array([[o[0], o[2], -sign * o[1]] for o in HAND_OFFSETS.values()])
    out: FloatArray = wrist[..., None, :] + length[..., None, None] * np.einsum(
        "...ij,kj->...ki", frames, local
    )
    return out


def hand_twist_costs(
    distal: FloatArray,
    radial0: FloatArray,
    length: FloatArray,
    wrist: FloatArray,
    obs: FloatArray,
    weights: FloatArray,
    side: str,
    grid: FloatArray,
    sigma: float,
) -> FloatArray:
    """Each frame's landmark cost (T, S) of each twist on `grid` (S,) radians: obs (T, 4, 2) holds the index,
    pinky, thumb and wrist landmarks (normalised camera coordinates), weights (T, 3) the first three's; the
    squared error of the three points' image offsets from the wrist (metres at the wrist's depth) over sigma²,
    weighted. wrist (T, 3): the lifted wrist, camera coordinates."""
    t, s = len(distal), len(grid)
    tw = np.broadcast_to(grid, (t, s)).reshape(-1)
    rep = np.repeat(np.arange(t), s)
    frames = hand_frames(distal[rep], radial0[rep], tw, side)
    pts = _hand_points(frames, wrist[rep], length[rep], side).reshape(t, s, 3, 3)
    depth = np.maximum(wrist[:, 2], 1e-2)
    proj = pts[..., :2] / np.maximum(pts[..., 2:3], 1e-2) - (wrist[:, :2] / depth[:, None])[:, None, None, :]
    seen = obs[:, None, :3] - obs[:, None, 3:4]
    err2 = ((proj - seen) ** 2).sum(-1) * depth[:, None, None] ** 2
    out: FloatArray = (weights[:, None, :] * err2).sum(-1) / sigma**2
    return out


def hand_twist(
    costs: FloatArray, grid: FloatArray, fps: float, config: OrientationConfig = OrientationConfig()
) -> FloatArray:
    """The cheapest continuous twist path (T,) radians over per-frame costs (T, S) on `grid` (S,) (radians from
    neutral): plus a soft limit beyond ±`TWIST_RANGE_DEG`, a step price (twist_step_deg per 1/30 s costs 1),
    then smoothed (smooth_s)."""
    deg = np.degrees(grid)
    limit = (np.maximum(np.abs(deg) - TWIST_RANGE_DEG, 0.0) / 15.0) ** 2 + (deg / 180.0) ** 2
    unary = costs + limit[None, :]
    step_deg = config.twist_step_deg * 30.0 / fps
    d = (deg[:, None] - deg[None, :]) / step_deg
    step = np.broadcast_to(d**2, (len(costs), len(grid), len(grid)))
    path = grid[cheapest_states(unary, step)]
    return np.clip(_smooth_signal(path, config.smooth_s * fps), grid[0], grid[-1])


def hand_orientation(
    absolute: FloatArray,
    index: dict[str, int],
    xy: FloatArray,
    vis: FloatArray,
    side: str,
    hand_confidence: FloatArray,
    fps: float,
    config: OrientationConfig = OrientationConfig(),
) -> tuple[FloatArray, FloatArray]:
    """Hand rotations (T, 3, 3) (hand frame → camera) and the twist (T,) radians from neutral, for side "l" or
    "r" (see `hand_axes`, `hand_twist_costs`, `hand_twist`)."""
    distal, radial0, length = hand_axes(absolute, index, side, hand_confidence)
    word = "left" if side == "l" else "right"
    idx = BLAZEPOSE.indices([f"{word}_{n}" for n in HAND_OFFSETS] + [f"{word}_wrist"])
    w = vis[:, idx]
    w = np.where(w >= config.min_visibility, w, 0.0)
    weights = np.minimum(w[:, :3], w[:, 3:4])
    grid = np.radians(np.arange(-TWIST_LIMIT_DEG, TWIST_LIMIT_DEG + 1e-9, TWIST_STEP_DEG))
    wrist = absolute[:, index[f"{side}_wrist"]]
    obs = xy[:, idx]
    blocks = [slice(b, b + BLOCK) for b in range(0, len(distal), BLOCK)]
    costs = np.concatenate(
        [
            hand_twist_costs(
                distal[k], radial0[k], length[k], wrist[k], obs[k], weights[k], side, grid, config.hand_sigma
            )
            for k in blocks
        ]
    )
    twist = hand_twist(costs, grid, fps, config)
    return hand_frames(distal, radial0, twist, side), twist


def estimate_orientations(
    motion: Motion3D, keypoints: LandmarkTrack, config: OrientationConfig = OrientationConfig()
) -> Motion3D:
    """The motion with `orientations` for the head and both hands (module docstring), from the keypoints it was
    lifted from (same frames)."""
    absolute = motion.absolute_joints()
    xy, vis = normalised_landmarks(motion, keypoints)
    if xy.shape != (motion.num_frames, BLAZEPOSE.num_joints, 2):
        raise ValueError(f"keypoints of shape {xy.shape} for a motion of {motion.num_frames} frames")
    index = motion.index
    head, _ = head_orientation(absolute, index, xy, vis, motion.fps, motion.intrinsics.fx, config)
    rotations = [head]
    for side in "lr":
        conf = motion.confidence[:, index[f"{side}_hand"]].astype(np.float64)
        rotations.append(hand_orientation(absolute, index, xy, vis, side, conf, motion.fps, config)[0])
    quats = make_continuous(matrix_to_quat(np.stack(rotations, axis=1)), axis=0)
    return replace(
        motion, orientations=quats.astype(np.float32), orientation_names=("head", "l_hand", "r_hand")
    )
