"""Finger angles over time from MediaPipe's hand world landmarks (`Keypoints2D.hands_world`), into
`Motion3D.fingers` (numpy only).

Per frame and hand, `retarget.hand_model.hand_angles` turns the 21 landmarks into each finger's spread and three
flexion angles in the hand's own frame (wrist, index and little finger knuckles; the thumb with its own
two-axis model, see that module). Then, per hand and angle, over time:
1. a hand counts as seen on a frame when the model is confident it is its side's hand (`hands_score` ≥
   `FingerConfig.min_score`) and its landmarks are visible (mean `hands_visibility` ≥ `min_visibility`);
2. each seen frame's angles are clamped to anatomical limits (`LIMITS_DEG`: no finger bent backwards beyond a
   few degrees, no joint flexed beyond 100°);
3. a running median over the seen frames within ±`median_s` seconds removes single-frame outliers (a curl that
   flickers for one frame), then a Gaussian over the seen frames (σ `sigma_s` seconds) smooths what is left;
4. on frames where the hand is not seen, the nearest seen frame's pose is blended with the relaxed hand
   (`RELAXED_DEG`) by the distance to that frame, reaching the relaxed hand `blend_s` seconds away, so the hand
   eases into the relaxed pose over a few frames after it leaves view and back out before it returns.
The weight of the measured pose (1 seen throughout, 0 relaxed) is `Motion3D.finger_weight`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from retarget.hand_model import ANGLES, FINGERS, hand_angles
from retarget.motion3d import Motion3D

FloatArray = npt.NDArray[np.float64]

# Anatomical limits per angle (spread, flex1, flex2, flex3), degrees; thumb: CMC spread and flexion, MCP, IP.
LIMITS_DEG: dict[str, tuple[tuple[float, float], ...]] = {
    "thumb": ((-30.0, 60.0), (-30.0, 70.0), (-10.0, 90.0), (-10.0, 90.0)),
    "index": ((-25.0, 25.0), (-10.0, 100.0), (-5.0, 100.0), (-5.0, 90.0)),
    "middle": ((-25.0, 25.0), (-10.0, 100.0), (-5.0, 100.0), (-5.0, 90.0)),
    "ring": ((-25.0, 25.0), (-10.0, 100.0), (-5.0, 100.0), (-5.0, 90.0)),
    "pinky": ((-25.0, 25.0), (-10.0, 100.0), (-5.0, 100.0), (-5.0, 90.0)),
}
# The relaxed hand where it is not seen: fingers slightly curled, more towards the little finger.
RELAXED_DEG: dict[str, tuple[float, float, float, float]] = {
    "thumb": (10.0, 10.0, 10.0, 10.0),
    "index": (0.0, 10.0, 15.0, 10.0),
    "middle": (0.0, 15.0, 20.0, 10.0),
    "ring": (0.0, 20.0, 25.0, 10.0),
    "pinky": (0.0, 25.0, 30.0, 10.0),
}


@dataclass(frozen=True)
class FingerConfig:
    """min_score / min_visibility: when a hand counts as seen; median_s, sigma_s: the running median's half
    width and the Gaussian's sigma (seconds); blend_s: how far from the nearest seen frame an unseen frame takes
    the relaxed hand entirely (seconds). Set before measuring (`bench/fingers.py`, `docs/fingers.md`)."""

    min_score: float = 0.5
    min_visibility: float = 0.5
    median_s: float = 0.05
    sigma_s: float = 0.04
    blend_s: float = 0.1


def limits() -> tuple[FloatArray, FloatArray]:
    """Lower and upper limits (5, 4), radians."""
    lim = np.radians(np.array([LIMITS_DEG[f] for f in FINGERS], dtype=np.float64))
    return lim[..., 0], lim[..., 1]


def relaxed() -> FloatArray:
    """The relaxed hand's angles (5, 4), radians."""
    return np.radians(np.array([RELAXED_DEG[f] for f in FINGERS], dtype=np.float64))


def clamp(angles: npt.ArrayLike) -> FloatArray:
    """Angles (..., 5, 4) clamped to `LIMITS_DEG`."""
    lo, hi = limits()
    return np.clip(np.asarray(angles, dtype=np.float64), lo, hi)


def _running_median(x: FloatArray, seen: npt.NDArray[np.bool_], half: int) -> FloatArray:
    """Median (T, ...) of the seen frames within ±half of each frame (the frame's own value where none)."""
    out = x.copy()
    t = len(x)
    for i in range(t):
        lo, hi = max(0, i - half), min(t, i + half + 1)
        m = seen[lo:hi]
        if m.any():
            out[i] = np.median(x[lo:hi][m], axis=0)
    return out


def _gaussian(x: FloatArray, weights: FloatArray, sigma: float) -> tuple[FloatArray, FloatArray]:
    """Weighted Gaussian average (T, ...) and the weight sum (T,) at each frame."""
    t = len(x)
    half = max(1, int(np.ceil(3.0 * sigma)))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / max(sigma, 1e-6)) ** 2)
    num = np.zeros_like(x)
    den = np.zeros(t)
    for o, kw in zip(range(-half, half + 1), k, strict=True):
        lo, hi = max(0, -o), min(t, t - o)
        w = kw * weights[lo + o : hi + o]
        num[lo:hi] += w.reshape(-1, *([1] * (x.ndim - 1))) * x[lo + o : hi + o]
        den[lo:hi] += w
    avg = num / np.maximum(den, 1e-12).reshape(-1, *([1] * (x.ndim - 1)))
    return avg, den


def smooth_fingers(
    angles: npt.ArrayLike, seen: npt.ArrayLike, fps: float, config: FingerConfig | None = None
) -> tuple[FloatArray, FloatArray]:
    """One hand's angles (T, 5, 4) radians over time (only the `seen` (T,) frames count) → (clamped, smoothed
    and blended with the relaxed hand (T, 5, 4), weight of the measured pose (T,)); steps 2-4 of the module
    docstring."""
    cfg = config or FingerConfig()
    seen_b = np.asarray(seen, dtype=bool)
    x = clamp(np.nan_to_num(np.asarray(angles, dtype=np.float64)))
    t = len(x)
    rest = relaxed()
    if not seen_b.any():
        return np.broadcast_to(rest, (t, *rest.shape)).copy(), np.zeros(t)
    x = _running_median(x, seen_b, max(1, round(cfg.median_s * fps)))
    smooth, den = _gaussian(x, seen_b.astype(np.float64), cfg.sigma_s * fps)
    # Frames farther than the Gaussian reaches from any seen frame hold the nearest seen value (weight 0 there).
    idx = np.flatnonzero(seen_b)
    nearest = idx[np.clip(np.searchsorted(idx, np.arange(t)), 0, len(idx) - 1)]
    before = idx[np.clip(np.searchsorted(idx, np.arange(t)) - 1, 0, len(idx) - 1)]
    nearest = np.where(np.abs(before - np.arange(t)) < np.abs(nearest - np.arange(t)), before, nearest)
    smooth = np.where((den > 1e-9)[:, None, None], smooth, x[nearest])
    half = max(1, round(cfg.blend_s * fps))
    # Seen frames are the measured pose; unseen ones ease towards the relaxed hand with their distance (frames)
    # from the nearest seen frame, reaching it `half` + 1 frames away.
    distance = np.abs(nearest - np.arange(t)).astype(np.float64)
    weight = np.clip(1.0 - distance / (half + 1), 0.0, 1.0)
    out = weight[:, None, None] * smooth + (1.0 - weight[:, None, None]) * rest
    return clamp(out), weight


def hands_seen(
    score: npt.ArrayLike, visibility: npt.ArrayLike, config: FingerConfig | None = None
) -> npt.NDArray[np.bool_]:
    """(T, 2) whether each hand counts as seen: `hands_score` (T, 2) and `hands_visibility` (T, 2, 21)."""
    cfg = config or FingerConfig()
    vis = np.asarray(visibility, dtype=np.float64).mean(axis=-1)
    return np.asarray((np.asarray(score) >= cfg.min_score) & (vis >= cfg.min_visibility), dtype=bool)


def estimate_fingers(
    world: npt.ArrayLike,
    score: npt.ArrayLike,
    visibility: npt.ArrayLike,
    fps: float,
    config: FingerConfig | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Both hands' finger angles (T, 2, 5, 4) radians and weights (T, 2) from `hands_world` (T, 2, 21, 3),
    `hands_score` (T, 2) and `hands_visibility` (T, 2, 21) (module docstring)."""
    w = np.asarray(world, dtype=np.float64)
    seen = hands_seen(score, visibility, config)
    angles = np.zeros((len(w), 2, len(FINGERS), len(ANGLES)))
    weights = np.zeros((len(w), 2))
    for h, side in enumerate("lr"):
        with np.errstate(invalid="ignore", divide="ignore"):
            raw = hand_angles(w[:, h], side)
        ok = seen[:, h] & np.all(np.isfinite(raw), axis=(1, 2))
        angles[:, h], weights[:, h] = smooth_fingers(raw, ok, fps, config)
    return angles, weights


def add_fingers(motion: Motion3D, keypoints: Any, config: FingerConfig | None = None) -> Motion3D:
    """`motion` with `fingers` and `finger_weight` from the keypoints' hands; unchanged when they have none."""
    world = getattr(keypoints, "hands_world", None)  # Keypoints2D; lifting's other tracks have no hands
    if world is None:
        return motion
    angles, weights = estimate_fingers(
        world,
        keypoints.hands_score,
        keypoints.hands_visibility,
        motion.fps,
        config,
    )
    return replace(motion, fingers=angles.astype(np.float32), finger_weight=weights.astype(np.float32))
