"""Synthetic 2D views of motion-capture clips, drawn fresh on every call: a random virtual camera, perspective
projection of the virtual MediaPipe landmarks, and detector-like noise.

Camera (`CameraConfig`, one per clip): horizontal field of view 40–90° (phones to camcorders), landscape
16:9 / 4:3 or portrait 9:16 frames, the camera anywhere around the subject at 0.3–2.5 m height, the subject
filling 25–90% of the frame height (which sets the distance; pushed back until the whole clip stays in frame
when the camera is static), aimed at a point 0.3–1.6 m up the subject's path with the subject off centre,
roll up to ±8°. A share of clips (`follow_prob`) is filmed by a camera that stays put but pans to follow the
subject (the camera-space trajectory then differs from the world one, as in real tracking shots); every
camera can shake slightly (hand-held).

Noise (`NoiseConfig`), in units of the person's height in the image (MediaPipe runs on a crop around the
person, so its errors scale with the person's size):
- frame-to-frame jitter per landmark, `MEDIAPIPE_JITTER`, measured on the real sample clip with
  `bench/measure_jitter.py` (see there for the method), scaled per clip by a random factor
  (`jitter_scale`), Gaussian, independent per frame;
- slow drift, `drift` × MEDIAPIPE_JITTER per landmark (default `MEDIAPIPE_SLOW_RATIO`, measured by the same
  script), Gaussian low-passed at about 1.5 Hz: MediaPipe's temporal filter turns part of its error into slow
  wander that frame-to-frame jitter does not show;
- a per-clip constant offset per landmark (`bias`), plus a larger one on the hips (`hip_bias`), whose
  placement differs most between MediaPipe and anatomy;
- visibility: near 1 for landmarks facing the camera, about 0.75 for the far side of the body (MediaPipe's
  medians on the sample clip: 0.93–0.98 near side, 0.73–0.82 far side), low outside the image;
- dropouts: short segments where one landmark is lost (visibility < 0.4, position off by `dropout_error`);
- left/right swaps: with `swap_prob` per clip, a segment of 2–15 frames where the legs' (or the arms', or all)
  left and right landmarks trade places, as MediaPipe does in side views.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d

from lifting.camera import Intrinsics, look_at, normalize_screen, project, world_to_camera
from lifting.learn.datasets.dataset import MocapClip
from lifting.skeleton import BLAZEPOSE, BLAZEPOSE_SWAP_GROUPS, MODEL_FPS, OUTPUT
from lifting.video2d.keypoints2d import Keypoints2D

FloatArray = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

# MediaPipe Pose frame-to-frame jitter per landmark (BLAZEPOSE order), standard deviation as a fraction of the
# person's height in the image. Produced by
#   .venv/bin/python bench/measure_jitter.py --video ../shared/data/video/sports2d_demo.mp4 --window 9
# (mediapipe 0.10.21, model_complexity=1, static_image_mode=False; 230 frames 1768x994, person ~359 px).
MEDIAPIPE_JITTER: tuple[float, ...] = (
    0.00265, 0.00222, 0.00242, 0.00258, 0.00242, 0.00260, 0.00275, 0.00255, 0.00261, 0.00250, 0.00279,
    0.00357, 0.00282, 0.00462, 0.00426, 0.00670, 0.00611, 0.00664, 0.00651, 0.00727, 0.00679, 0.00686,
    0.00638, 0.00414, 0.00362, 0.00478, 0.00708, 0.00770, 0.00715, 0.01049, 0.00871, 0.01091, 0.00814,
)  # fmt: skip

# Slow (temporally correlated) part of MediaPipe's error, as a multiple of MEDIAPIPE_JITTER: the same command
# prints it (median over the face landmarks of sqrt(s13² - s5²) / s9, s_w the estimate over a w-frame window).
MEDIAPIPE_SLOW_RATIO = 1.29

FRAME_SIZES: tuple[tuple[int, int], ...] = (
    (1920, 1080),
    (1280, 720),
    (1440, 1080),
    (1080, 1920),
    (720, 1280),
)
_LANDSCAPE = (0, 1, 2)
_PORTRAIT = (3, 4)


@dataclass(frozen=True)
class CameraConfig:
    """Ranges the virtual cameras are drawn from (uniform unless stated)."""

    hfov_deg: tuple[float, float] = (40.0, 90.0)  # field of view across the frame's long side
    portrait_prob: float = 0.25
    height_m: tuple[float, float] = (0.3, 2.5)
    subject_fraction: tuple[float, float] = (0.25, 0.9)  # person height / frame height
    aim_height_m: tuple[float, float] = (0.3, 1.6)
    off_centre: float = 0.25  # max horizontal offset of the aim point, fraction of the frame width
    roll_deg: float = 8.0  # max |roll|
    follow_prob: float = 0.3
    shake_deg: float = 0.3  # std of hand-held shake (smooth, about 1 Hz)
    min_distance_m: float = 1.2
    max_distance_m: float = 25.0


@dataclass(frozen=True)
class NoiseConfig:
    """Detector-like noise; all lengths are fractions of the person's height in the image."""

    jitter_scale: tuple[float, float] = (0.6, 2.0)  # per-clip multiplier of MEDIAPIPE_JITTER
    drift: float = MEDIAPIPE_SLOW_RATIO  # × MEDIAPIPE_JITTER (and × the clip's jitter_scale draw)
    drift_hz: float = 1.5
    bias: float = 0.006
    hip_bias: float = 0.015
    dropout_rate: float = 0.01  # expected share of landmark-frames inside a dropout segment
    dropout_frames: tuple[int, int] = (2, 20)
    dropout_error: float = 0.04
    swap_prob: float = 0.1
    swap_frames: tuple[int, int] = (2, 15)
    visibility: bool = True

    @staticmethod
    def none() -> NoiseConfig:
        """No noise at all: clean projections, visibility 1 for every landmark."""
        return NoiseConfig(
            jitter_scale=(0.0, 0.0),
            drift=0.0,
            bias=0.0,
            hip_bias=0.0,
            dropout_rate=0.0,
            swap_prob=0.0,
            visibility=False,
        )


@dataclass(frozen=True)
class CameraTrack:
    """A camera over a clip: fixed intrinsics, per-frame pose. rotations: (T, 3, 3) world → camera (rows are
    the camera axes, OpenCV: x right, y down, z forward); positions: (T, 3) camera centres, world metres."""

    intrinsics: Intrinsics
    rotations: FloatArray
    positions: FloatArray

    def to_camera(self, points: npt.ArrayLike) -> FloatArray:
        """World points (T, N, 3) → camera coordinates (T, N, 3)."""
        p = np.asarray(points, dtype=np.float64)
        return world_to_camera(p, self.rotations[:, None], self.positions[:, None])


@dataclass(frozen=True)
class View:
    """One synthetic view of a clip (T frames at MODEL_FPS).

    keypoints_px: (T, 33, 2) noisy landmark pixels (BLAZEPOSE order, pixel convention of lifting.camera);
    keypoints: the same in normalised screen units (`normalize_screen`); visibility: (T, 33) in 0..1;
    clean_px: (T, 33, 2) noise-free projections; poses_3d: (T, 21, 3) OUTPUT joints in camera coordinates,
    root-relative (pelvis at 0), metres; trajectory: (T, 3) camera-space pelvis, metres; camera: the track.
    """

    keypoints_px: F32
    keypoints: F32
    visibility: F32
    clean_px: F32
    poses_3d: F32
    trajectory: F32
    camera: CameraTrack
    clip_name: str = ""
    fps: float = MODEL_FPS

    @property
    def intrinsics(self) -> Intrinsics:
        return self.camera.intrinsics

    def inputs(self, with_visibility: bool = False) -> F32:
        """(T, 33, 2) normalised keypoints, or (T, 33, 3) with visibility as a third channel."""
        if not with_visibility:
            return self.keypoints
        out: F32 = np.concatenate([self.keypoints, self.visibility[..., None]], axis=-1).astype(np.float32)
        return out

    def keypoints2d(self, pixels: npt.ArrayLike | None = None) -> Keypoints2D:
        """The view as a detection would give it: a Keypoints2D of its noisy pixels (or `pixels`, (T, 33, 2)),
        every frame detected, none interpolated."""
        frames = len(self.keypoints_px)
        k = self.intrinsics
        return Keypoints2D(
            keypoints=np.asarray(self.keypoints_px if pixels is None else pixels, dtype=np.float32),
            visibility=self.visibility.astype(np.float32),
            detected=np.ones(frames, dtype=bool),
            interpolated=np.zeros(frames, dtype=bool),
            frame_index=np.arange(frames, dtype=np.int64),
            timestamps=np.arange(frames, dtype=np.float64) / self.fps,
            fps=float(self.fps),
            image_size=(k.width, k.height),
            meta={},
        )


# ---------------------------------------------------------------------------------------------------------
# Cameras
# ---------------------------------------------------------------------------------------------------------


def _roll(rotation: FloatArray, degrees: npt.ArrayLike) -> FloatArray:
    """Roll cameras (..., 3, 3) about their own optical axis by `degrees` (...)."""
    a = np.radians(np.asarray(degrees, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    r = np.zeros((*a.shape, 3, 3))
    r[..., 0, 0], r[..., 0, 1], r[..., 1, 0], r[..., 1, 1], r[..., 2, 2] = c, s, -s, c, 1.0
    return np.asarray(r @ rotation)


def _smooth_noise(rng: np.random.Generator, frames: int, dims: tuple[int, ...], hz: float) -> FloatArray:
    """(frames, *dims) Gaussian noise low-passed at about `hz`, unit standard deviation."""
    sigma = MODEL_FPS / (2.0 * np.pi * hz)
    pad = int(3 * sigma) + 1
    raw = rng.standard_normal((frames + 2 * pad, *dims))
    sm = gaussian_filter1d(raw, sigma, axis=0, mode="wrap")[pad : pad + frames]
    std = np.sqrt(1.0 / (2.0 * np.sqrt(np.pi) * sigma))  # std of unit white noise after a Gaussian of sigma
    out: FloatArray = sm / std
    return out


def _look_at_many(position: FloatArray, targets: FloatArray) -> FloatArray:
    """`lifting.camera.look_at` (up = +Z) for one position and many targets (T, 3) → (T, 3, 3)."""
    z = targets - position
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    x = np.cross(z, np.array([0.0, 0.0, 1.0]))
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-2)


def _in_frame_share(px: FloatArray, cam: FloatArray, k: Intrinsics, margin: float) -> float:
    """Share of points (T, N) in front of the camera and inside the image shrunk by `margin` (fraction)."""
    mx, my = margin * k.width, margin * k.height
    ok = (
        (cam[..., 2] > 0.3)
        & (px[..., 0] > mx)
        & (px[..., 0] < k.width - mx)
        & (px[..., 1] > my)
        & (px[..., 1] < k.height - my)
    )
    return float(ok.mean())


def random_camera(
    rng: np.random.Generator, landmarks: npt.ArrayLike, config: CameraConfig = CameraConfig()
) -> CameraTrack:
    """A camera track for world landmarks (T, N, 3) (metres, Z up, floor at z = 0); see the module docstring."""
    pts = np.asarray(landmarks, dtype=np.float64)
    frames = pts.shape[0]
    size = FRAME_SIZES[rng.choice(_PORTRAIT if rng.random() < config.portrait_prob else _LANDSCAPE)]
    width, height = size
    fov = rng.uniform(*config.hfov_deg)
    # The field of view range is for the long side; a portrait frame is a rotated phone.
    k = Intrinsics.from_fov(width, height, fov, axis="horizontal" if width >= height else "vertical")
    centre = pts.mean(axis=(0, 1))
    person = float(np.percentile(pts[..., 2].max(axis=1) - pts[..., 2].min(axis=1), 90))
    person = max(person, 0.5)
    fraction = rng.uniform(*config.subject_fraction)
    distance = float(
        np.clip(k.fy * person / (fraction * height), config.min_distance_m, config.max_distance_m)
    )
    azimuth = rng.uniform(0.0, 2.0 * np.pi)
    cam_height = rng.uniform(*config.height_m)
    aim_height = rng.uniform(*config.aim_height_m)
    follow = rng.random() < config.follow_prob
    roll = rng.uniform(-config.roll_deg, config.roll_deg)
    off = rng.uniform(-config.off_centre, config.off_centre) * width / k.fx  # tangent of the aim offset angle
    direction = np.array([np.cos(azimuth), np.sin(azimuth), 0.0])
    shake = _smooth_noise(rng, frames, (3,), 1.0) * np.radians(config.shake_deg)

    def build(dist: float) -> CameraTrack:
        position = centre + dist * direction
        position[2] = cam_height
        if follow:  # pan after the subject's smoothed path
            targets = gaussian_filter1d(pts.mean(axis=1), MODEL_FPS * 0.5, axis=0, mode="nearest")
            targets[:, 2] = aim_height
            rots = _look_at_many(position, targets)
        else:
            target = np.array([centre[0], centre[1], aim_height])
            rots = np.repeat(look_at(position, target)[None], frames, axis=0)
        # Aim off centre: turn the camera about the world's vertical so the subject sits off the image centre.
        yaw = np.arctan(off)
        c, s = np.cos(yaw), np.sin(yaw)
        turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        rots = rots @ turn.T
        rots = _roll(rots, np.full(frames, roll))
        # Hand-held shake: small rotations about the camera axes.
        sx, sy, sz = shake[:, 0], shake[:, 1], shake[:, 2]
        small = np.zeros((frames, 3, 3))
        small[:, 0, 1], small[:, 1, 0] = -sz, sz
        small[:, 0, 2], small[:, 2, 0] = sy, -sy
        small[:, 1, 2], small[:, 2, 1] = -sx, sx
        u, _, vt = np.linalg.svd(np.eye(3) + small)
        rots = (u @ vt) @ rots
        return CameraTrack(k, rots, np.repeat(position[None], frames, axis=0))

    track = build(distance)
    for _ in range(12):
        cam = track.to_camera(pts)
        if _in_frame_share(project(cam, k), cam, k, 0.02) >= 0.98 or distance >= config.max_distance_m:
            break
        distance = min(distance * 1.2, config.max_distance_m)
        track = build(distance)
    return track


# ---------------------------------------------------------------------------------------------------------
# Noise and visibility
# ---------------------------------------------------------------------------------------------------------

_SIDES = np.array([1.0 if n.startswith("left") or n == "mouth_left" else -1.0 if n.startswith("right") or
                   n == "mouth_right" else 0.0 for n in BLAZEPOSE.names])  # fmt: skip


def _swap_indices(group: str) -> list[tuple[int, int]]:
    if group == "all":
        return list(BLAZEPOSE.mirror_pairs)
    return list(BLAZEPOSE_SWAP_GROUPS[group])


def person_height_px(clean_px: npt.ArrayLike) -> FloatArray:
    """(T,) the person's size in the image per frame: the larger side of the landmarks' bounding box (the
    height for an upright person; as measured by bench/measure_jitter.py), lightly smoothed, at least 1 px."""
    px = np.asarray(clean_px, dtype=np.float64)
    h = np.max(px.max(axis=1) - px.min(axis=1), axis=-1)
    out: FloatArray = np.maximum(gaussian_filter1d(h, 2.0, mode="nearest"), 1.0)
    return out


def _visibility(
    rng: np.random.Generator, cam_landmarks: FloatArray, clean_px: FloatArray, k: Intrinsics
) -> FloatArray:
    """(T, 33) MediaPipe-like visibility: high facing the camera, ~0.75 on the far side, low off-image."""
    li = BLAZEPOSE.index
    left_axis = cam_landmarks[:, li["left_shoulder"]] - cam_landmarks[:, li["right_shoulder"]]
    left_axis += cam_landmarks[:, li["left_hip"]] - cam_landmarks[:, li["right_hip"]]
    centre = cam_landmarks.mean(axis=1)
    to_cam = -centre / np.maximum(np.linalg.norm(centre, axis=-1, keepdims=True), 1e-9)
    facing = np.sum(
        left_axis / np.maximum(np.linalg.norm(left_axis, axis=-1, keepdims=True), 1e-9) * to_cam, -1
    )
    # facing > 0: the person's left side faces the camera. Far side: side * facing < 0.
    far = np.clip(-_SIDES[None, :] * facing[:, None], 0.0, 1.0)
    base = 1.0 - rng.exponential(0.02, size=far.shape)
    vis = base - far * rng.uniform(0.15, 0.35, size=(1, 33)) - far * rng.normal(0.0, 0.08, size=far.shape)
    outside = (
        (clean_px[..., 0] < 0)
        | (clean_px[..., 0] > k.width)
        | (clean_px[..., 1] < 0)
        | (clean_px[..., 1] > k.height)
    )
    vis = np.where(outside, rng.uniform(0.0, 0.4, size=vis.shape), vis)
    return np.clip(vis, 0.0, 1.0)


def apply_noise(
    rng: np.random.Generator,
    clean_px: npt.ArrayLike,
    cam_landmarks: npt.ArrayLike,
    intrinsics: Intrinsics,
    config: NoiseConfig = NoiseConfig(),
) -> tuple[FloatArray, FloatArray]:
    """Noisy pixels (T, 33, 2) and visibility (T, 33) from clean projections and camera-space landmarks."""
    px = np.asarray(clean_px, dtype=np.float64)
    cam = np.asarray(cam_landmarks, dtype=np.float64)
    frames = px.shape[0]
    scale = person_height_px(px)[:, None, None]  # (T, 1, 1)
    noise = np.zeros_like(px)
    lo, hi = config.jitter_scale
    sigma = np.asarray(MEDIAPIPE_JITTER)[None, :, None] * rng.uniform(lo, hi)
    if hi > 0:
        noise += rng.standard_normal(px.shape) * sigma
    if config.drift > 0:
        scale_draw = sigma if hi > 0 else np.asarray(MEDIAPIPE_JITTER)[None, :, None]
        noise += _smooth_noise(rng, frames, (33, 2), config.drift_hz) * config.drift * scale_draw
    if config.bias > 0:
        noise += rng.normal(0.0, config.bias, size=(1, 33, 2))
    if config.hip_bias > 0:
        for name in ("left_hip", "right_hip"):
            noise[:, BLAZEPOSE.index[name]] += rng.normal(0.0, config.hip_bias, size=2)
    vis = _visibility(rng, cam, px, intrinsics) if config.visibility else np.ones(px.shape[:2])
    if config.dropout_rate > 0 and frames > 1:
        mean_len = sum(config.dropout_frames) / 2.0
        count = rng.poisson(config.dropout_rate * frames * 33 / mean_len)
        for _ in range(count):
            j = int(rng.integers(33))
            n = int(rng.integers(config.dropout_frames[0], config.dropout_frames[1] + 1))
            t0 = int(rng.integers(max(frames - n, 0) + 1))
            sl = slice(t0, t0 + n)
            noise[sl, j] += rng.normal(0.0, config.dropout_error, size=2)
            vis[sl, j] = rng.uniform(0.0, 0.4, size=vis[sl, j].shape)
    out = px + noise * scale
    if config.swap_prob > 0 and rng.random() < config.swap_prob and frames > 1:
        group = str(rng.choice(["legs", "arms", "all"], p=[0.6, 0.3, 0.1]))
        n = int(rng.integers(config.swap_frames[0], config.swap_frames[1] + 1))
        t0 = int(rng.integers(max(frames - n, 0) + 1))
        for a, b in _swap_indices(group):
            out[t0 : t0 + n, [a, b]] = out[t0 : t0 + n, [b, a]]
            vis[t0 : t0 + n, [a, b]] = vis[t0 : t0 + n, [b, a]]
    return out, vis


# ---------------------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------------------


def render_view(
    clip: MocapClip,
    camera: CameraTrack,
    rng: np.random.Generator | None = None,
    noise: NoiseConfig = NoiseConfig(),
) -> View:
    """Project a clip through a given camera track; noise needs `rng` (None: noise-free, visibility 1)."""
    cam_lm = camera.to_camera(clip.landmarks)
    cam_joints = camera.to_camera(clip.joints)
    clean = project(cam_lm, camera.intrinsics)
    if rng is None:
        noisy, vis = clean, np.ones(clean.shape[:2])
    else:
        noisy, vis = apply_noise(rng, clean, cam_lm, camera.intrinsics, noise)
    k = camera.intrinsics
    root = cam_joints[:, OUTPUT.index["pelvis"]]
    return View(
        keypoints_px=noisy.astype(np.float32),
        keypoints=normalize_screen(noisy, k.width, k.height).astype(np.float32),
        visibility=vis.astype(np.float32),
        clean_px=clean.astype(np.float32),
        poses_3d=(cam_joints - root[:, None]).astype(np.float32),
        trajectory=root.astype(np.float32),
        camera=camera,
        clip_name=clip.name,
    )


@dataclass(frozen=True)
class ViewConfig:
    camera: CameraConfig = field(default_factory=CameraConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)


def random_view(clip: MocapClip, rng: np.random.Generator, config: ViewConfig = ViewConfig()) -> View:
    """A new random camera and noise draw for `clip` (see the module docstring)."""
    camera = random_camera(rng, clip.landmarks, config.camera)
    return render_view(clip, camera, rng, config.noise)


def epoch_views(
    clips: Sequence[MocapClip], seed: int, epoch: int, config: ViewConfig = ViewConfig()
) -> list[View]:
    """One fresh view of every clip, reproducible from (seed, epoch): a resumed run sees the same views."""
    rng = np.random.default_rng([seed, epoch])
    return [random_view(clip, rng, config) for clip in clips]
