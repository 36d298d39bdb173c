"""Foot contacts from ankle height and speed, with hysteresis and minimum durations. Deterministic."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retarget.errors import RetargetError

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ContactConfig:
    """Heights (metres above the ankle's planted height: its 5th percentile over the clip) and horizontal
    speeds (m/s) that switch a contact on (both below *_on) and off (either above *_off); contacts shorter
    than min_contact seconds are dropped and gaps shorter than min_gap seconds are filled."""

    height_on: float = 0.03
    height_off: float = 0.06
    speed_on: float = 0.25
    speed_off: float = 0.5
    min_contact: float = 0.08
    min_gap: float = 0.06


def hysteresis(on: BoolArray, off: BoolArray) -> BoolArray:
    """State per frame: becomes True where `on`, stays True until `off`. (T,) -> (T,)."""
    state = False
    out = np.zeros(len(on), dtype=bool)
    for t in range(len(on)):
        if state and off[t]:
            state = False
        elif not state and on[t]:
            state = True
        out[t] = state
    return out


def runs(mask: BoolArray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a (T,) mask."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def clean(mask: BoolArray, min_len: int, min_gap: int) -> BoolArray:
    """Fill False gaps shorter than min_gap between contacts, then drop True runs shorter than min_len."""
    out = np.asarray(mask, dtype=bool).copy()
    r = runs(out)
    for (_, e0), (s1, _) in itertools.pairwise(r):
        if s1 - e0 < min_gap:
            out[e0:s1] = True
    for s, e in runs(out):
        if e - s < min_len:
            out[s:e] = False
    return out


def detect_contacts(ankles: npt.ArrayLike, fps: float, config: ContactConfig | None = None) -> BoolArray:
    """Contacts (T, F) bool for F feet from ankle positions (T, F, 3) in world metres, Z up."""
    cfg = config or ContactConfig()
    a = np.asarray(ankles, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] != 3:
        raise RetargetError(f"ankle positions must have shape (frames, feet, 3), got {a.shape}.")
    t = a.shape[0]
    if t < 2:
        return np.zeros(a.shape[:2], dtype=bool)
    height = a[..., 2] - np.percentile(a[..., 2], 5, axis=0)
    speed = np.linalg.norm(np.gradient(a[..., :2], axis=0), axis=-1) * fps
    out = np.zeros((t, a.shape[1]), dtype=bool)
    min_len = max(1, round(cfg.min_contact * fps))
    min_gap = max(1, round(cfg.min_gap * fps))
    for f in range(a.shape[1]):
        on = (height[:, f] < cfg.height_on) & (speed[:, f] < cfg.speed_on)
        off = (height[:, f] > cfg.height_off) | (speed[:, f] > cfg.speed_off)
        out[:, f] = clean(hysteresis(on, off), min_len, min_gap)
    return out
