"""Foot contacts, (T, 2) bool for (left, right): from the lifter's probabilities (`Motion3D.contacts`) when
it has them, else from foot height above the local support and horizontal speed; hysteresis and minimum
durations either way. Deterministic. `retarget.ground` makes the clip's one set of contacts from these."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retarget.errors import RetargetError

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ContactConfig:
    """Heights (metres above the planted height: the support under the foot when given, else the 5th
    percentile of its heights over the clip) and horizontal speeds (m/s) that switch a contact on (both below
    *_on) and off (either above *_off); contacts shorter than min_contact seconds are dropped and gaps shorter
    than min_gap seconds are filled. probability_on / probability_off: the same switch for the lifter's
    contact probabilities (on above the first, off below the second).

    The probability levels were chosen on the validation split (`bench/feet_test_split.py --split validation
    --max-clips 100`, docs/feet_validation.md): 0.55 / 0.45 -> 0.45 / 0.3 switches a foot on a little earlier
    and off later, which took the rig's foot skate from 6.0 to 4.7 mm per contact with the root's drift and
    velocity error unchanged (117-118 and 172 mm/s); planted feet's recall 96.5 -> 97.8 %, precision
    89.4 -> 88.1 % (a foot lifted a frame late). An off level of 0.2 slid less (4.5 mm) but raised the velocity
    error and lost another point of precision."""

    height_on: float = 0.03
    height_off: float = 0.06
    speed_on: float = 0.25
    speed_off: float = 0.5
    min_contact: float = 0.08
    min_gap: float = 0.06
    probability_on: float = 0.45
    probability_off: float = 0.3


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


def detect_contacts(
    ankles: npt.ArrayLike,
    fps: float,
    config: ContactConfig | None = None,
    planted_height: npt.ArrayLike | None = None,
) -> BoolArray:
    """Contacts (T, F) bool for F feet from ankle (or any foot point's) positions (T, F, 3) in world metres,
    Z up. planted_height (T, F) metres: the point's height when planted at each frame (the local support);
    None: its 5th percentile over the clip (one floor)."""
    cfg = config or ContactConfig()
    a = np.asarray(ankles, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] != 3:
        raise RetargetError(f"ankle positions must have shape (frames, feet, 3), got {a.shape}.")
    t = a.shape[0]
    if t < 2:
        return np.zeros(a.shape[:2], dtype=bool)
    if planted_height is None:
        height = a[..., 2] - np.percentile(a[..., 2], 5, axis=0)
    else:
        height = a[..., 2] - np.asarray(planted_height, dtype=np.float64)
    speed = np.linalg.norm(np.gradient(a[..., :2], axis=0), axis=-1) * fps
    out = np.zeros((t, a.shape[1]), dtype=bool)
    min_len = max(1, round(cfg.min_contact * fps))
    min_gap = max(1, round(cfg.min_gap * fps))
    for f in range(a.shape[1]):
        on = (height[:, f] < cfg.height_on) & (speed[:, f] < cfg.speed_on)
        off = (height[:, f] > cfg.height_off) | (speed[:, f] > cfg.speed_off)
        out[:, f] = clean(hysteresis(on, off), min_len, min_gap)
    return out


def contacts_from_probabilities(
    probabilities: npt.ArrayLike, fps: float, config: ContactConfig | None = None
) -> BoolArray:
    """Planted feet (T, 2) bool (left, right) from `Motion3D.contacts` (T, 4) probabilities ordered as
    `retarget.motion3d.CONTACT_NAMES` (l_heel, l_toe, r_heel, r_toe): a foot is planted when its heel or its
    toe is, switched with hysteresis (on above probability_on, off below probability_off) and cleaned to the
    minimum durations."""
    cfg = config or ContactConfig()
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 4:
        raise RetargetError(f"contact probabilities must have shape (frames, 4), got {p.shape}.")
    foot = np.maximum(p[:, 0::2], p[:, 1::2])  # (T, 2): max(heel, toe) per side
    min_len = max(1, round(cfg.min_contact * fps))
    min_gap = max(1, round(cfg.min_gap * fps))
    out = np.zeros(foot.shape, dtype=bool)
    for f in range(2):
        out[:, f] = clean(
            hysteresis(foot[:, f] > cfg.probability_on, foot[:, f] < cfg.probability_off), min_len, min_gap
        )
    return out
