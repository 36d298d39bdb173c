"""The 20-joint CMU position arrays (`cmu_a2m_joints20_int16.npz`): units, frame rates, sides, duplicates.

One int16 array (frames, 20, 3) per CMU trial, key `SS_TT` (subject, trial). `value / 100` is in CMU length
units (1 unit = 1/0.45 inch = 5.644 cm, `CMU_UNIT_M`), Y up. A subject's head-end joint stands about
27–29 units (1.5–1.65 m) above the toes, so the unit is confirmed by the data (tests check every subject).

Joints (Acclaim bone ends, see `lifting.learn.datasets.mapping.body_from_joints20`): 0 root, 1 thorax, 2 upperneck,
3 head; 4–7 and 8–11 the arms (clavicle end = shoulder, humerus end = elbow, radius end, hand end);
12–15 and 16–19 the legs (hip joint, knee, ankle, toe tip). Which chains are the left ones is not documented.
Geometry decides it (`left_chain_score`): on frames where the trunk is upright and the feet roughly flat,
forward = ankle → toe, left = up × forward, and the hip of the chain at index 12 lies on the left on every
clip that has such frames (score > 0 on all of them, > 0.5 on 99.8%), so `LEFT_CHAINS_FIRST` is True:
indices 4–7 and 12–15 are the left arm and leg (the CMU convention: left is +X). A test asserts it.

Frame rate: the arrays are the original captures subsampled by 10 (`SUBSAMPLE`): trials captured at 120 Hz
are 12 fps, those captured at 60 Hz (subjects 33, 34, 42, 60–62, 74, 75, 77, 79, 80, 87–89, part of 136) are
6 fps. The capture rate of each trial comes from `CMU data.csv` (inside the CMU BVH archive; checked against the
salsa BVH, 2243 frames at 60 Hz ↔ 225 array frames, and the 60 fps subject 1–7 BVH files ↔ 12 fps arrays).

Duplicates: 354 arrays are byte-identical copies filed under another subject number (e.g. every trial of
91 is also 105, 83 is 122, 70 is 73 and 123; `duplicate_groups`); the trials of 73, 84, 117, 121 and part of 63
are such copies and have no row in `CMU data.csv`. Loaders keep one copy and treat linked subject numbers as
one person (`lifting.learn.datasets.splits` keeps them in one split).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from lifting.learn.datasets.mapping import Y_UP_TO_Z_UP

FloatArray = npt.NDArray[np.float64]

CMU_UNIT_M = 0.0254 / 0.45  # metres per CMU length unit (1/0.45 inch)
RAW_SCALE = 100.0  # int16 value / RAW_SCALE = CMU units
SUBSAMPLE = 10  # the arrays keep every 10th frame of the capture
LEFT_CHAINS_FIRST = True  # indices 4–7 and 12–15 are the left arm and leg (asserted by tests from geometry)
NUM_JOINTS = 20
PARENTS = (-1, 0, 1, 2, 1, 4, 5, 6, 1, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18)
_SWAP = (0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15)


def parse_key(key: str) -> tuple[int, int]:
    """'02_01' → (2, 1); MocapError for anything else."""
    parts = key.split("_")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise MocapError(f"{key!r} is not a CMU trial name like '02_01'.")
    return int(parts[0]), int(parts[1])


def to_world(raw: npt.ArrayLike, left_first: bool = LEFT_CHAINS_FIRST) -> FloatArray:
    """int16 array (T, 20, 3) → metres, world Z up, left chains at indices 4–7 and 12–15."""
    a = np.asarray(raw)
    if a.ndim != 3 or a.shape[1:] != (NUM_JOINTS, 3):
        raise MocapError(f"a 20-joint CMU array must have shape (frames, 20, 3), got {a.shape}.")
    p = a.astype(np.float64) * (CMU_UNIT_M / RAW_SCALE)
    if not left_first:
        p = p[:, _SWAP]
    out: FloatArray = p @ Y_UP_TO_Z_UP.T
    return out


def left_chain_score(raw: npt.ArrayLike, min_frames: int = 5) -> float | None:
    """Evidence that the leg chain at index 12 is the left leg, in [-1, 1] (None when undecidable).

    Uses the frames where the trunk (root → thorax) is within ~37° of vertical and the feet are within 30° of
    horizontal: forward = mean of both ankle → toe vectors (horizontal part), left = up × forward; the score
    is the mean sign of (hip 12 - hip 16) · left. Input in the file's Y-up axes (any units).
    """
    p = np.asarray(raw, dtype=np.float64)
    trunk = p[:, 1] - p[:, 0]
    upright = trunk[:, 1] > 0.8 * np.linalg.norm(trunk, axis=-1)
    fwd = (p[:, 15] - p[:, 14]) + (p[:, 19] - p[:, 18])
    flat = np.abs(fwd[:, 1]) < 0.5 * np.linalg.norm(fwd, axis=-1)
    keep = upright & flat
    if int(keep.sum()) < min_frames:
        return None
    fwd = fwd[keep] * np.array([1.0, 0.0, 1.0])
    left = np.cross(np.array([0.0, 1.0, 0.0]), fwd)
    d = np.sum((p[keep, 12] - p[keep, 16]) * left, axis=-1)
    return float(np.mean(np.sign(d)))


def capture_rates(csv_text: str) -> dict[tuple[int, int], float]:
    """(subject, trial) → capture rate in Hz, from `CMU data.csv` (columns Subject, Trial #, framerate)."""
    reader = csv.DictReader(io.StringIO(csv_text))
    need = {"Subject", "Trial #", "framerate"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise MocapError("CMU data.csv lacks the Subject, Trial # and framerate columns.")
    rates: dict[tuple[int, int], float] = {}
    for row in reader:
        try:
            rates[(int(row["Subject"]), int(row["Trial #"]))] = float(row["framerate"])
        except ValueError:
            continue
    return rates


def array_fps(key: str, rates: Mapping[tuple[int, int], float]) -> float | None:
    """Frame rate of one array (capture rate / SUBSAMPLE), or None when `CMU data.csv` has no such trial."""
    rate = rates.get(parse_key(key))
    return None if rate is None else rate / SUBSAMPLE


def duplicate_groups(arrays: Mapping[str, npt.NDArray[np.int16]]) -> list[list[str]]:
    """Groups (sorted, each of 2+ keys) of byte-identical arrays; reads every array once."""
    by_hash: dict[str, list[str]] = defaultdict(list)
    for key in arrays:
        a = np.ascontiguousarray(arrays[key])
        h = hashlib.sha1(str(a.shape).encode() + a.tobytes()).hexdigest()
        by_hash[h].append(key)
    return sorted(sorted(v) for v in by_hash.values() if len(v) > 1)
