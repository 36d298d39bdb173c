"""Temporal smoothing of joint trajectories with one strength knob (0 = off, 1 = strong). Deterministic.

- "savgol": zero-phase Savitzky–Golay (cubic), window from 0.05 s (strength 0) to 0.5 s (strength 1);
  the window's ends are fitted with the same polynomial (no padding artefacts).
- "one_euro": the One-Euro filter (Casiez et al. 2012), a speed-adaptive low-pass whose minimum cutoff
  falls from 8 Hz (strength 0) to 0.5 Hz (strength 1), beta 1 s/m, derivative cutoff 1 Hz; run forwards
  then backwards over the clip so it adds no lag (the causal filter alone is `one_euro`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from retarget.errors import RetargetError

FloatArray = npt.NDArray[np.float64]

METHODS = ("savgol", "one_euro")


def savgol_matrix(window: int, order: int) -> FloatArray:
    """(window, window) matrix: row k gives the polynomial-fit value at position k from the window's samples."""
    x = np.arange(window, dtype=np.float64) - (window - 1) / 2.0
    v = np.vander(x, order + 1, increasing=True)  # (W, order+1)
    return v @ np.linalg.pinv(v)


def savgol(x: npt.ArrayLike, window: int, order: int = 3) -> FloatArray:
    """Savitzky–Golay smoothing along axis 0 of x (T, ...); window odd, window > order."""
    a = np.asarray(x, dtype=np.float64)
    t = a.shape[0]
    if window % 2 == 0 or window <= order:
        raise ValueError("window must be odd and larger than the polynomial order")
    if t < window:
        window = t if t % 2 == 1 else t - 1
        if window <= order:
            return a.copy()
    m = savgol_matrix(window, order)
    half = window // 2
    flat = a.reshape(t, -1)
    out = np.empty_like(flat)
    centre = m[half]
    # Interior: correlation with the centre row, vectorised over all windows.
    windows = np.lib.stride_tricks.sliding_window_view(flat, window, axis=0)  # (T-W+1, C, W)
    out[half : t - half] = windows @ centre
    out[:half] = m[:half] @ flat[:window]
    out[t - half :] = m[half + 1 :] @ flat[t - window :]
    return out.reshape(a.shape)


def one_euro(
    x: npt.ArrayLike, fps: float, min_cutoff: float, beta: float = 0.3, d_cutoff: float = 1.0
) -> FloatArray:
    """Causal One-Euro filter along axis 0 of x (T, ...), per channel; speed is measured per channel."""
    a = np.asarray(x, dtype=np.float64)
    out = np.empty_like(a)
    if len(a) == 0:
        return out

    def alpha(cutoff: FloatArray | float) -> FloatArray:
        tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff, dtype=np.float64))
        return 1.0 / (1.0 + tau * fps)

    prev = a[0].copy()
    dprev = np.zeros_like(prev)
    out[0] = prev
    ad = alpha(d_cutoff)
    for t in range(1, len(a)):
        dx = (a[t] - prev) * fps
        dprev = dprev + ad * (dx - dprev)
        ax = alpha(min_cutoff + beta * np.abs(dprev))
        prev = prev + ax * (a[t] - prev)
        out[t] = prev
    return out


def smooth(x: npt.ArrayLike, fps: float, strength: float, method: str = "savgol") -> FloatArray:
    """Smooth trajectories x (T, ...) sampled at fps; strength in [0, 1], 0 returns a copy."""
    if not 0.0 <= strength <= 1.0:
        raise RetargetError(f"smoothing strength must be between 0 and 1, got {strength}.")
    a = np.asarray(x, dtype=np.float64)
    if strength == 0.0 or len(a) < 3:
        return a.copy()
    if method == "savgol":
        seconds = 0.05 + 0.45 * strength
        window = max(5, round(seconds * fps) | 1)
        return savgol(a, window, 3)
    if method == "one_euro":
        min_cutoff = float(np.exp(np.log(8.0) + strength * (np.log(0.5) - np.log(8.0))))
        forward = one_euro(a, fps, min_cutoff)
        return one_euro(forward[::-1], fps, min_cutoff)[::-1].copy()
    raise RetargetError(f"unknown smoothing method {method!r}; use one of {', '.join(METHODS)}.")
