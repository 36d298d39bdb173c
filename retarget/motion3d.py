"""The Motion3D contract (DESIGN.md): 3D joints of one person over time, as the lifting stage writes them.

Stored as `.motion.npz` (numpy arrays only, no pickle):

| key | shape / type | meaning |
|---|---|---|
| format | str | "motion3d" |
| format_version | int | FORMAT_VERSION |
| joints | (T, J, 3) float32 | metres, camera coordinates (x right, y down, z forward), relative to the root joint |
| root | (T, 3) float32 | camera-space position of the root joint (metres) |
| joint_names | (J,) str | joint names (our set is `mocap21`) |
| parents | (J,) int | parent index per joint, -1 for the root |
| joint_set | str | name of the joint set |
| fps | float | frames per second |
| intrinsics | (6,) float64 | fx, fy, cx, cy (pixels), width, height (pixels) of the camera used |
| confidence | (T, J) float32 | per-joint confidence in 0..1 |
| contacts | (T, 4) float32, optional | probability in 0..1 that each of `CONTACT_NAMES` (left heel, left toe, right heel, right toe) rests on its support; absent when the lifter predicts none (older files, checkpoints without a contact model) |
| orientations | (T, K, 4) float32, optional | unit quaternions (w, x, y, z) of the segments named by `orientation_names`: the rotation taking the segment's own frame (`ORIENTATION_FRAMES`) to camera coordinates; absent when the lifter estimated none (older files) |
| orientation_names | (K,) str, optional | which segments `orientations` holds, each one of `ORIENTATION_FRAMES`, at most once (present exactly when `orientations` is) |
| fingers | (T, 2, 5, 4) float32, optional | radians: per hand (left, right), finger (`FINGER_NAMES`: thumb, index, middle, ring, pinky) and angle (`FINGER_ANGLES`: spread, flex1, flex2, flex3) in the hand's own frame, as `retarget.hand_model` defines them (flexion positive towards the palm, 0 flat; spread positive towards the thumb); smoothed, within anatomical limits, the relaxed hand where the hand is not seen (`lifting.lift.fingers`); absent when the keypoints carry no hands |
| finger_weight | (T, 2) float32, optional | 0..1, the share of `fingers` that is the measured pose rather than the relaxed hand (present exactly when `fingers` is) |

The segment frames (right-handed, unitless axes; the rotation's columns are these axes in camera coordinates):
- `head`: x = the person's left, y = up, z = forward (where the face looks); the head frame of
  `lifting.landmarks.FACE_OFFSETS`, whose (left, forward, up) components are this frame's (x, z, y);
- `l_hand`, `r_hand`: x = distal (wrist towards the knuckles), y = palmar (out of the palm), z = x × y (towards
  the little finger on the left hand, towards the thumb on the right).

Absolute camera-space positions are `joints + root[:, None, :]`. Version 2 added `contacts`, version 3
`orientations`, version 4 `fingers` and `finger_weight`; version 1 to 3 files (without them) still load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from retarget.atomic_write import atomic_write
from retarget.errors import RetargetError
from retarget.hand_model import ANGLES, FINGERS

FORMAT = "motion3d"
FORMAT_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
# What `Motion3D.contacts` gives a probability for, in its column order.
CONTACT_NAMES: tuple[str, ...] = ("l_heel", "l_toe", "r_heel", "r_toe")
# The segments `Motion3D.orientations` may hold, and their frames' axes (module docstring).
ORIENTATION_FRAMES: dict[str, str] = {
    "head": "x left, y up, z forward",
    "l_hand": "x distal, y palmar, z = x cross y",
    "r_hand": "x distal, y palmar, z = x cross y",
}

# `Motion3D.fingers`' axes 2 and 3 (`retarget.hand_model` defines them; these are its FINGERS and ANGLES).
FINGER_NAMES: tuple[str, ...] = FINGERS
FINGER_ANGLES: tuple[str, ...] = ANGLES

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera: focal lengths and principal point in pixels, image size in pixels."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def to_array(self) -> npt.NDArray[np.float64]:
        return np.array([self.fx, self.fy, self.cx, self.cy, self.width, self.height], dtype=np.float64)

    @classmethod
    def from_array(cls, a: npt.ArrayLike) -> Intrinsics:
        v = np.asarray(a, dtype=np.float64).reshape(-1)
        if v.shape != (6,) or not np.all(np.isfinite(v)) or v[0] <= 0 or v[1] <= 0 or v[4] <= 0 or v[5] <= 0:
            raise RetargetError("camera intrinsics must be six positive finite numbers fx, fy, cx, cy, w, h.")
        return cls(float(v[0]), float(v[1]), float(v[2]), float(v[3]), round(v[4]), round(v[5]))


@dataclass(frozen=True)
class Motion3D:
    """One person's 3D motion in camera space (see the module docstring for units and frames).

    joints (T, J, 3) float32 root-relative metres; root (T, 3) float32 metres; confidence (T, J) float32;
    contacts (T, 4) float32 probabilities for `CONTACT_NAMES`, or None; orientations (T, K, 4) float32 unit
    quaternions (w, x, y, z), segment frame -> camera, for `orientation_names` (K,), or None; fingers
    (T, 2, 5, 4) float32 radians with finger_weight (T, 2) float32 in 0..1, or both None (module docstring).
    Construction validates shapes, names and values and raises RetargetError on any mismatch.
    """

    joints: F32
    root: F32
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    fps: float
    intrinsics: Intrinsics
    confidence: F32
    joint_set: str = "mocap21"
    contacts: F32 | None = None
    orientations: F32 | None = None
    orientation_names: tuple[str, ...] = ()
    fingers: F32 | None = None
    finger_weight: F32 | None = None
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        joints = np.asarray(self.joints, dtype=np.float32)
        root = np.asarray(self.root, dtype=np.float32)
        conf = np.asarray(self.confidence, dtype=np.float32)
        names = tuple(str(n) for n in self.joint_names)
        parents = tuple(int(p) for p in self.parents)
        if joints.ndim != 3 or joints.shape[2] != 3 or joints.shape[0] < 1:
            raise RetargetError(f"Motion3D joints must have shape (frames, joints, 3), got {joints.shape}.")
        t, j, _ = joints.shape
        if root.shape != (t, 3):
            raise RetargetError(f"Motion3D root must have shape ({t}, 3), got {root.shape}.")
        if conf.shape != (t, j):
            raise RetargetError(f"Motion3D confidence must have shape ({t}, {j}), got {conf.shape}.")
        if len(names) != j or len(parents) != j:
            raise RetargetError(f"Motion3D has {j} joints but {len(names)} names and {len(parents)} parents.")
        if len(set(names)) != j:
            raise RetargetError("Motion3D joint names must be unique.")
        for i, p in enumerate(parents):
            if p >= j or p < -1 or p == i:
                raise RetargetError(f"Motion3D parent index {p} of joint {names[i]!r} is out of range.")
        if not (np.all(np.isfinite(joints)) and np.all(np.isfinite(root)) and np.all(np.isfinite(conf))):
            raise RetargetError("Motion3D contains NaN or infinite values; re-run the lifting step.")
        fps = float(self.fps)
        if not np.isfinite(fps) or fps <= 0:
            raise RetargetError(f"Motion3D frame rate must be positive, got {self.fps}.")
        if not isinstance(self.intrinsics, Intrinsics):
            raise RetargetError("Motion3D intrinsics must be an Intrinsics instance.")
        if self.contacts is not None:
            contacts = np.asarray(self.contacts, dtype=np.float32)
            if contacts.shape != (t, len(CONTACT_NAMES)):
                raise RetargetError(
                    f"Motion3D contacts must have shape ({t}, {len(CONTACT_NAMES)}), got {contacts.shape}."
                )
            if not (np.all(np.isfinite(contacts)) and contacts.min() >= 0.0 and contacts.max() <= 1.0):
                raise RetargetError("Motion3D contacts must be probabilities in 0..1.")
            object.__setattr__(self, "contacts", contacts)
        self._check_orientations(t)
        self._check_fingers(t)
        object.__setattr__(self, "joints", joints)
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "joint_names", names)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "index", {n: i for i, n in enumerate(names)})

    def _check_orientations(self, frames: int) -> None:
        names = tuple(str(n) for n in self.orientation_names)
        if self.orientations is None:
            if names:
                raise RetargetError("Motion3D orientation names are given without orientations.")
            object.__setattr__(self, "orientation_names", ())
            return
        q = np.asarray(self.orientations, dtype=np.float32)
        unknown = [n for n in names if n not in ORIENTATION_FRAMES]
        if unknown or len(set(names)) != len(names):
            raise RetargetError(
                f"Motion3D orientation names must be distinct names from {', '.join(ORIENTATION_FRAMES)}, "
                f"got {names}."
            )
        if q.shape != (frames, len(names), 4):
            raise RetargetError(
                f"Motion3D orientations must have shape ({frames}, {len(names)}, 4), got {q.shape}."
            )
        if not np.all(np.isfinite(q)) or np.abs(np.linalg.norm(q, axis=-1) - 1.0).max(initial=0.0) > 1e-3:
            raise RetargetError("Motion3D orientations must be finite unit quaternions.")
        object.__setattr__(self, "orientations", q)
        object.__setattr__(self, "orientation_names", names)

    def _check_fingers(self, frames: int) -> None:
        if (self.fingers is None) != (self.finger_weight is None):
            raise RetargetError("Motion3D fingers and finger_weight come together.")
        if self.fingers is None:
            return
        f = np.asarray(self.fingers, dtype=np.float32)
        w = np.asarray(self.finger_weight, dtype=np.float32)
        shape = (frames, 2, len(FINGER_NAMES), len(FINGER_ANGLES))
        if f.shape != shape:
            raise RetargetError(f"Motion3D fingers must have shape {shape}, got {f.shape}.")
        if w.shape != (frames, 2):
            raise RetargetError(f"Motion3D finger_weight must have shape ({frames}, 2), got {w.shape}.")
        if not (np.all(np.isfinite(f)) and np.abs(f).max(initial=0.0) <= np.pi):
            raise RetargetError("Motion3D fingers must be finite angles within +-pi radians.")
        if not (np.all(np.isfinite(w)) and w.min(initial=0.0) >= 0.0 and w.max(initial=0.0) <= 1.0):
            raise RetargetError("Motion3D finger_weight must be in 0..1.")
        object.__setattr__(self, "fingers", f)
        object.__setattr__(self, "finger_weight", w)

    def orientation(self, name: str) -> F32 | None:
        """Quaternions (T, 4) (w, x, y, z) of segment `name` (frame -> camera), or None when not stored."""
        if self.orientations is None or name not in self.orientation_names:
            return None
        return self.orientations[:, self.orientation_names.index(name)]

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.joints.shape[1])

    def frames(self, start: int, stop: int) -> Motion3D:
        """Frames [start, stop) of this motion: every per-frame array sliced, everything else kept."""
        count = self.num_frames
        sliced: dict[str, Any] = {
            f.name: value[start:stop]
            for f in fields(self)
            if f.init
            and isinstance(value := getattr(self, f.name), np.ndarray)
            and value.shape[:1] == (count,)
        }
        return replace(self, **sliced)

    def absolute_joints(self) -> npt.NDArray[np.float64]:
        """Camera-space joint positions (T, J, 3) float64 metres: joints + root."""
        return self.joints.astype(np.float64) + self.root.astype(np.float64)[:, None, :]

    def require(self, names: tuple[str, ...] | list[str]) -> list[int]:
        """Indices of the given joints; a RetargetError names the first one this motion lacks."""
        missing = [n for n in names if n not in self.index]
        if missing:
            raise RetargetError(
                f"the motion has no joint {missing[0]!r} (joint set {self.joint_set!r}); "
                "re-run lifting with the standard output joints."
            )
        return [self.index[n] for n in names]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a `.motion.npz` atomically (temporary file in the same folder, then os.replace)."""

        fingers: dict[str, F32] = {}
        if self.fingers is not None and self.finger_weight is not None:
            fingers = {"fingers": self.fingers, "finger_weight": self.finger_weight}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(
                    f,
                    format=np.array(FORMAT),
                    format_version=np.array(FORMAT_VERSION, dtype=np.int64),
                    joints=self.joints,
                    root=self.root,
                    joint_names=np.array(self.joint_names, dtype=np.str_),
                    parents=np.array(self.parents, dtype=np.int64),
                    joint_set=np.array(self.joint_set),
                    fps=np.array(self.fps, dtype=np.float64),
                    intrinsics=self.intrinsics.to_array(),
                    confidence=self.confidence,
                    **({} if self.contacts is None else {"contacts": self.contacts}),
                    **(
                        {}
                        if self.orientations is None
                        else {
                            "orientations": self.orientations,
                            "orientation_names": np.array(self.orientation_names, dtype=np.str_),
                        }
                    ),
                    **fingers,
                )

        atomic_write(path, write)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Motion3D:
        """Read and validate a `.motion.npz`; any problem raises RetargetError naming the file."""
        p = Path(path)
        if not p.is_file():
            raise RetargetError(f"motion file {str(p)!r} does not exist.")
        try:
            with np.load(p, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception as exc:  # zipfile/ValueError/OSError: all mean "not a readable npz"
            raise RetargetError(f"{str(p)!r} is not a readable motion file ({exc}).") from None
        required = ("format", "format_version", "joints", "root", "joint_names", "parents", "fps")
        missing = [k for k in (*required, "intrinsics", "confidence") if k not in data]
        if missing:
            raise RetargetError(f"{str(p)!r} is not a motion file: it lacks {missing[0]!r}.")
        if str(data["format"]) != FORMAT:
            raise RetargetError(f"{str(p)!r} is a {str(data['format'])!r} file, not a motion file.")
        version = int(data["format_version"])
        if version not in READABLE_VERSIONS:
            raise RetargetError(
                f"{str(p)!r} has motion format version {version}, this version reads "
                f"{', '.join(map(str, READABLE_VERSIONS))}; re-run the lifting step."
            )
        try:
            return cls(
                joints=data["joints"],
                root=data["root"],
                joint_names=tuple(str(n) for n in data["joint_names"].reshape(-1)),
                parents=tuple(int(v) for v in data["parents"].reshape(-1)),
                fps=float(data["fps"]),
                intrinsics=Intrinsics.from_array(data["intrinsics"]),
                confidence=data["confidence"],
                joint_set=str(data["joint_set"]) if "joint_set" in data else "mocap21",
                contacts=data.get("contacts"),
                orientations=data.get("orientations"),
                orientation_names=tuple(
                    str(n) for n in data.get("orientation_names", np.array([])).reshape(-1)
                ),
                fingers=data.get("fingers"),
                finger_weight=data.get("finger_weight"),
            )
        except RetargetError as exc:
            raise RetargetError(f"{str(p)!r}: {exc}") from None
