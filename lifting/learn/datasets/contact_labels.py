"""Foot-contact labels from motion capture: which heel and toe rest on their support, per frame.

The four points, in `retarget.motion3d.CONTACT_NAMES` order (l_heel, l_toe, r_heel, r_toe): the heels are the
virtual MediaPipe heel landmarks of the clip (`left_heel` / `right_heel`: the back of the foot, lower than the
ankle joint), the toes the output joints `l_toe` / `r_toe` (the tip of the foot).

A point rests on its support at frame t when both hold:
- its horizontal speed (central differences, world XY) is below `ContactLabelConfig.speed` = 0.3 m/s. Walking
  heels and toes move at 1–5 m/s in swing and at 0–0.2 m/s in stance in this data (checked on walking, running
  and hopping clips of CMU and HDM05); 0.3 m/s is about 1 cm per frame at 30 fps, above the sliding of a pivoting
  foot and the noise of the 12 fps arrays' spline;
- its height above its *local support* is below `ContactLabelConfig.height` = 0.04 m, the local support being the
  lowest height of that point within ± `ContactLabelConfig.window_s` = 0.25 s. A short window because the level
  changes (stairs, a box, a step down): a point resting on a raised level for half a second is at the bottom of
  its own window, whatever the floor does elsewhere in the clip. It is still long enough for flight: around the
  top of a jump a ballistic foot falls g·t²/2 = 0.31 m within 0.25 s, so the apex, where the horizontal speed is
  near zero, is far above the window's minimum. 4 cm lets the heel start to rise (heel-off) before its contact
  ends, while the toe keeps pushing.

Consequences to know: a point held perfectly still in the air for more than about half a second (a foot raised
and held) counts as resting; locking a point that does not move changes nothing, so the retargeter is not misled.

Labels are computed on the training clips as `lifting.learn.datasets.dataset` stores them: world metres, Z up,
at `MODEL_FPS` (30). Native-rate motion was low-passed and resampled to 30 fps there, and most CMU motion was
stored at 12 fps in the first place, so speeds at 30 fps are what the data can give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import minimum_filter1d

from lifting.learn.datasets.dataset import MocapClip
from lifting.skeleton import BLAZEPOSE, OUTPUT
from retarget.motion3d import CONTACT_NAMES

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ContactLabelConfig:
    """speed: horizontal speed below which a point may rest (m/s); height: height above the local support below
    which it may rest (m); window_s: half-width of the window whose minimum height is the local support (s)."""

    speed: float = 0.3
    height: float = 0.04
    window_s: float = 0.25


def contact_points(clip: MocapClip) -> FloatArray:
    """(T, 4, 3) world positions (metres, Z up) of the contact points in `CONTACT_NAMES` order."""
    lm = clip.landmarks.astype(np.float64)
    j = clip.joints.astype(np.float64)
    return np.stack(
        [
            lm[:, BLAZEPOSE.index["left_heel"]],
            j[:, OUTPUT.index["l_toe"]],
            lm[:, BLAZEPOSE.index["right_heel"]],
            j[:, OUTPUT.index["r_toe"]],
        ],
        axis=1,
    )


def contact_labels(points: npt.ArrayLike, fps: float, config: ContactLabelConfig | None = None) -> BoolArray:
    """Contact per frame and point, (T, P) bool, from point positions (T, P, 3) in world metres, Z up, at `fps`
    frames per second (see the module docstring for the rule). A single frame has no speed: never in contact."""
    cfg = config or ContactLabelConfig()
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 3 or p.shape[2] != 3:
        raise ValueError(f"points must have shape (frames, points, 3), got {p.shape}")
    frames = p.shape[0]
    if frames < 2:
        return np.zeros(p.shape[:2], dtype=bool)
    speed = np.linalg.norm(np.gradient(p[..., :2], axis=0), axis=-1) * fps
    height = p[..., 2]
    half = max(1, round(cfg.window_s * fps))
    support = minimum_filter1d(height, size=2 * half + 1, axis=0, mode="nearest")
    out: BoolArray = (speed < cfg.speed) & (height - support < cfg.height)
    return out


def clip_contact_labels(clip: MocapClip, config: ContactLabelConfig | None = None) -> BoolArray:
    """(T, 4) contact labels of a training clip, columns in `CONTACT_NAMES` order."""
    labels = contact_labels(contact_points(clip), clip.fps, config)
    assert labels.shape[1] == len(CONTACT_NAMES)
    return labels
