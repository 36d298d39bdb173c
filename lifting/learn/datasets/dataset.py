"""Training motion: every clip of the shared motion-capture archives as output joints and virtual MediaPipe
landmarks, in metres, Z up, at the model's frame rate, split by person, cached on disk.

Sources (see ../shared/data/README.md; archives are read with tarfile, never extracted):

| source | file | real rate | skeleton |
|---|---|---|---|
| `hdm05` | hdm05_amc.tar.xz | 120 Hz | ASF/AMC, one ASF per actor |
| `cmu_bvh` | cmu_subjects01-07_bvh.tar.xz | 60 Hz (Frame Time; the CSV's 120 is the capture rate, its `Frames 60fps` column matches the files) | Character Creator rig |
| `cmu_dance` | cmu_dance_bvh.tar.xz | salsa 60, Indian dance and martial arts 120 (the archive's readme.txt; every header says 120) | Poser-style rig |
| `cmu_joints20` | cmu_a2m_joints20_int16.npz | capture rate / 10: 12 fps, or 6 fps for 60 Hz captures | 20 joint positions |

Decisions:
- `MODEL_FPS` = 30. Higher rates are low-passed (zero-phase Butterworth, cutoff 0.8 × 15 Hz) and sampled at
  the new times; lower rates are upsampled with a cubic spline (`resample`).
- The 12 fps arrays are upsampled 2.5×: they carry motion up to 6 Hz, which holds most of the energy of human
  motion but flattens impacts and fast strikes; they are 93% of the training hours and 75 of its 81 people, so
  they are used, and each clip records `source_fps` so training or evaluation can weight or exclude them
  (`load_split(..., min_source_fps=24)` keeps only natively fast motion). The 6 fps arrays
  (60 Hz captures) are dropped (`MIN_SOURCE_FPS`): 5× interpolation from 3 Hz content invents the motion.
  The salsa couples are in the dance BVH set at 60 Hz anyway.
- Each CMU trial is used once: the BVH versions (subjects 1–7, dance files of subjects 94 and 135) replace the
  matching arrays, duplicated arrays are kept once, and trials of unknown capture rate are dropped (none are
  left once duplicates are removed).
- Per split (v1): train 1688 clips, 759,784 frames, 7.04 h (81 people); validation 138 clips, 50,337 frames,
  0.47 h (5); test 301 clips, 92,683 frames, 0.86 h (8), of which 0.09 h HDM05/BVH at native 60–120 Hz.
- Frames at the start of BVH files that are no motion (the T-pose the converters prepend, and 3–4 frames of
  blend into the motion in the dance files) are cut while any joint moves faster than `ARTIFACT_SPEED` relative
  to the pelvis.
- World: each clip's floor (5th percentile over frames of its lowest landmark) is moved to z = 0, and its mean
  pelvis position to x = y = 0. Clips shorter than `MIN_DURATION_S` are dropped.

`load_split(shared_dir, split)` returns `MocapClip`s; the first call parses the archives (about 35 s on one
core) and writes one cache file per source under `default_cache_dir()` (about 0.6 GB in all); later calls read
the cache (about 1 s). The cache key covers
the archive's size and modification time, `MODEL_FPS` and `CACHE_VERSION` (bump it when the mapping changes).

Command line: `python -m lifting dataset --shared ../shared` prints clips, frames and hours per split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import tarfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from scipy.interpolate import CubicSpline
from scipy.signal import butter, filtfilt

from lifting.cache import cache_dir
from lifting.errors import MocapError
from lifting.learn.datasets import cmu_joints20 as j20
from lifting.learn.datasets.asf_amc import AsfSkeleton, forward_kinematics, parse_amc, parse_asf
from lifting.learn.datasets.bvh import parse_bvh
from lifting.learn.datasets.landmarks import virtual_landmarks
from lifting.learn.datasets.mapping import BodyPose, body_from_asf, body_from_bvh, body_from_joints20
from lifting.learn.datasets.splits import SPLITS, Split, subject_split
from lifting.skeleton import MODEL_FPS, OUTPUT
from retarget.atomic_write import atomic_write

FloatArray = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]

CACHE_VERSION = 1
MIN_SOURCE_FPS = 10.0
MIN_DURATION_S = 0.5
ARTIFACT_SPEED = (
    6.0  # m/s, joint speed relative to the pelvis that marks a non-motion frame at a clip's start
)
LOWPASS_FRACTION = 0.8  # low-pass cutoff before downsampling, as a fraction of the new Nyquist rate

ARCHIVES = {
    "hdm05": "mocap/hdm05_amc.tar.xz",
    "cmu_bvh": "mocap/cmu_subjects01-07_bvh.tar.xz",
    "cmu_dance": "mocap/cmu_dance_bvh.tar.xz",
    "cmu_joints20": "mocap/cmu_a2m_joints20_int16.npz",
}
SOURCES: tuple[str, ...] = tuple(ARCHIVES)
# Which CMU subject each dance folder holds (frame counts match the 20-joint arrays of these trials).
DANCE_SUBJECTS = {"indian": 94, "martial": 135, "salsa": 60}
SALSA_PAIR_FILES = 15  # salsa/01–15 are one partner (called 60 here), 16–30 the other (61), same takes
# Dance files whose number is not the CMU trial number (matched by frame count: martial/08–10 are 135_09–11;
# 135_08 is a 3 s calibration take).
DANCE_TRIAL_NUMBERS = {("martial", 8): 9, ("martial", 9): 10, ("martial", 10): 11}


@dataclass(frozen=True)
class MocapClip:
    """One clip at `fps` (= MODEL_FPS). World coordinates: metres, Z up, floor at z = 0.

    joints: (T, 21, 3) float32 in `OUTPUT` order; landmarks: (T, 33, 3) float32 virtual MediaPipe landmarks in
    `BLAZEPOSE` order; source_fps: the rate the motion was recorded or stored at before resampling;
    trial: the CMU trial it comes from ("02_01"), or "" for HDM05; approximated: joints/frames estimated
    rather than measured for this source (see lifting.learn.datasets.mapping).
    """

    name: str
    source: str
    subject: str
    trial: str
    source_fps: float
    joints: F32
    landmarks: F32
    approximated: tuple[str, ...] = ()
    fps: float = MODEL_FPS

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    @property
    def split(self) -> Split:
        return subject_split(self.subject)


# ---------------------------------------------------------------------------------------------------------
# Resampling and per-clip processing
# ---------------------------------------------------------------------------------------------------------


def resample(x: npt.ArrayLike, src_fps: float, dst_fps: float) -> FloatArray:
    """Resample a signal (T, ...) sampled at src_fps to dst_fps over the same time span (axis 0).

    Output frame k is at time k / dst_fps from the first input frame; there are floor((T-1)·dst/src) + 1
    of them. Downsampling low-passes first (4th order Butterworth, zero phase, cutoff LOWPASS_FRACTION × the
    new Nyquist rate), then both directions interpolate with a not-a-knot cubic spline (linear below 4 frames).
    """
    a = np.asarray(x, dtype=np.float64)
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"frame rates must be positive, got {src_fps} and {dst_fps}")
    n = a.shape[0]
    if n == 0:
        return a.copy()
    n_out = int((n - 1) * dst_fps / src_fps + 1e-9) + 1
    if abs(src_fps - dst_fps) < 1e-9:
        return a.copy()
    if dst_fps < src_fps and n > 1:
        b, c = butter(4, LOWPASS_FRACTION * dst_fps / src_fps)
        pad = min(n - 1, 3 * max(len(b), len(c)))
        a = filtfilt(b, c, a, axis=0, padlen=pad)
    t_in = np.arange(n) / src_fps
    t_out = np.arange(n_out) / dst_fps
    t_out = np.minimum(t_out, t_in[-1])
    if n == 1:
        return np.repeat(a, n_out, axis=0)
    if n < 4:
        flat = a.reshape(n, -1)
        out = np.stack([np.interp(t_out, t_in, flat[:, k]) for k in range(flat.shape[1])], axis=1)
        return out.reshape((n_out, *a.shape[1:]))
    res: FloatArray = CubicSpline(t_in, a, axis=0)(t_out)
    return res


def leading_artifact_frames(joints: FloatArray, fps: float, window_s: float = 0.25) -> int:
    """Number of frames to cut at the start: past the last frame, within `window_s` of the start, where some
    joint moves faster than ARTIFACT_SPEED relative to the pelvis (T-pose frames, blends into the motion)."""
    if joints.shape[0] < 2:
        return 0
    rel = joints - joints[:, :1]
    speed = np.linalg.norm(np.diff(rel, axis=0), axis=-1).max(axis=1) * fps
    window = max(3, round(window_s * fps))
    fast = np.nonzero(speed[:window] > ARTIFACT_SPEED)[0]
    return 0 if len(fast) == 0 else int(fast[-1]) + 1


def finish_clip(
    body: BodyPose,
    *,
    name: str,
    source: str,
    subject: str,
    trial: str,
    source_fps: float,
    trim_start: bool = False,
) -> MocapClip | None:
    """Landmarks, trimming, resampling to MODEL_FPS, floor and centring; None when too short."""
    joints = body.joints
    landmarks = virtual_landmarks(body)
    if trim_start:
        k = leading_artifact_frames(joints, source_fps)
        joints, landmarks = joints[k:], landmarks[k:]
    if (joints.shape[0] - 1) / source_fps < MIN_DURATION_S:
        return None
    both = resample(np.concatenate([joints, landmarks], axis=1), source_fps, MODEL_FPS)
    floor = float(np.percentile(both[..., 2].min(axis=1), 5.0))
    centre = both[:, OUTPUT.index["pelvis"], :2].mean(axis=0)
    both -= np.array([centre[0], centre[1], floor])
    nj = OUTPUT.num_joints
    return MocapClip(
        name=name,
        source=source,
        subject=subject,
        trial=trial,
        source_fps=float(source_fps),
        joints=both[:, :nj].astype(np.float32),
        landmarks=both[:, nj:].astype(np.float32),
        approximated=body.approximated,
    )


# ---------------------------------------------------------------------------------------------------------
# Archive readers (each yields finished clips)
# ---------------------------------------------------------------------------------------------------------


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every regular file in a tar archive, in archive order."""
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                if m.isfile():
                    f = tar.extractfile(m)
                    if f is not None:
                        yield m.name, f.read()
    except (OSError, tarfile.TarError) as exc:
        raise MocapError(f"cannot read the archive {str(path)!r} ({exc}).") from None


def read_hdm05(path: Path) -> Iterator[MocapClip]:
    """HDM05 ASF/AMC clips at 120 Hz; the actor is the second field of `HDM_<actor>_<motion>_<n>_120.amc`."""
    asf_text: dict[str, str] = {}
    amc: list[tuple[str, bytes]] = []
    for name, raw in _members(path):
        if name.endswith(".asf"):
            asf_text[name] = _text(raw)
        elif name.endswith(".amc"):
            amc.append((name, raw))
    skeletons: dict[str, AsfSkeleton] = {}
    for name, raw in sorted(amc):
        stem = Path(name).stem
        m = re.match(r"HDM_([a-z]+)_.*_(\d+)$", stem)
        if m is None:
            raise MocapError(f"unexpected HDM05 file name {name!r}.")
        actor, rate = m.group(1), float(m.group(2))
        asf_name = str(Path(name).parent / f"HDM_{actor}.asf")
        if asf_name not in asf_text:
            raise MocapError(f"HDM05 archive has no {asf_name} for {name}.")
        if asf_name not in skeletons:
            skeletons[asf_name] = parse_asf(asf_text[asf_name], name=asf_name)
        sk = skeletons[asf_name]
        motion = parse_amc(_text(raw), sk, name=name)
        body = body_from_asf(sk, forward_kinematics(sk, motion))
        clip = finish_clip(
            body, name=f"hdm05/{stem}", source="hdm05", subject=f"hdm05:{actor}", trial="", source_fps=rate
        )
        if clip is not None:
            yield clip


def read_cmu_csv(path: Path) -> str:
    """The text of `CMU data.csv` from the CMU BVH archive."""
    for name, raw in _members(path):
        if name.endswith("CMU data.csv"):
            return _text(raw)
    raise MocapError(f"{str(path)!r} holds no 'CMU data.csv'.")


def _snap_rate(fps: float) -> float:
    """A BVH rate from a rounded Frame Time (0.016667 s → 59.9988): the nearest whole rate when within 0.01%."""
    whole = float(round(fps))
    return whole if abs(fps - whole) < 1e-4 * whole else fps


def read_cmu_bvh(path: Path) -> Iterator[MocapClip]:
    """CMU subjects 1–7 BVH files (`All_BVH/subjects/SSS/SSS_TT.bvh`), rate from each file's Frame Time."""
    for name, raw in _members(path):
        m = re.search(r"(\d+)_(\d+)\.bvh$", name)
        if m is None:
            continue
        subject, trial = int(m.group(1)), int(m.group(2))
        motion = parse_bvh(_text(raw), source=name)
        clip = finish_clip(
            body_from_bvh(motion, 0.01),
            name=f"cmu_bvh/{subject:02d}_{trial:02d}",
            source="cmu_bvh",
            subject=f"cmu:{subject}",
            trial=f"{subject:02d}_{trial:02d}",
            source_fps=_snap_rate(motion.fps),
            trim_start=True,
        )
        if clip is not None:
            yield clip


def dance_rates(readme: str) -> dict[str, float]:
    """Folder → real frame rate from the dance archive's readme.txt (lines like 'salsa  framerate 60')."""
    rates = {}
    for line in readme.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].lower() == "framerate":
            rates[parts[0].lower()] = float(parts[2])
    return rates


def dance_trial(folder: str, number: int) -> tuple[int, str]:
    """(CMU subject, trial name) of dance file `<folder>/<number>.bvh`."""
    subject = DANCE_SUBJECTS[folder]
    if folder == "salsa" and number > SALSA_PAIR_FILES:
        return subject + 1, f"{subject + 1:02d}_{number - SALSA_PAIR_FILES:02d}"
    trial = DANCE_TRIAL_NUMBERS.get((folder, number), number)
    return subject, f"{subject:02d}_{trial:02d}"


def read_cmu_dance(path: Path) -> Iterator[MocapClip]:
    """CMU dance/martial-arts BVH files; real rates from readme.txt, not the headers (salsa is 60, not 120)."""
    files: list[tuple[str, bytes]] = []
    rates: dict[str, float] = {}
    for name, raw in _members(path):
        if name.endswith("readme.txt"):
            rates = dance_rates(_text(raw))
        elif name.endswith(".bvh"):
            files.append((name, raw))
    for name, raw in sorted(files):
        parts = Path(name).parts
        folder = parts[-2].lower()
        if folder not in DANCE_SUBJECTS:
            continue  # standard.bvh: the rig's T-pose
        if folder not in rates:
            raise MocapError(f"the dance archive's readme.txt gives no frame rate for {folder}.")
        number = int(Path(name).stem)
        subject, trial = dance_trial(folder, number)
        motion = parse_bvh(_text(raw), source=name)
        clip = finish_clip(
            body_from_bvh(motion, 0.01),
            name=f"cmu_dance/{folder}_{number:02d}",
            source="cmu_dance",
            subject=f"cmu:{subject}",
            trial=trial,
            source_fps=rates[folder],
            trim_start=True,
        )
        if clip is not None:
            yield clip


def _covered_trials(shared: Path) -> set[str]:
    """CMU trials that the BVH archives provide (their arrays are skipped)."""
    names: set[str] = set()
    for name, _ in _tar_names(shared / ARCHIVES["cmu_bvh"]):
        m = re.search(r"(\d+)_(\d+)\.bvh$", name)
        if m:
            names.add(f"{int(m.group(1)):02d}_{int(m.group(2)):02d}")
    for name, _ in _tar_names(shared / ARCHIVES["cmu_dance"]):
        p = Path(name)
        if p.suffix == ".bvh" and p.parent.name in DANCE_SUBJECTS:
            names.add(dance_trial(p.parent.name, int(p.stem))[1])
    return names


def _tar_names(path: Path) -> Iterator[tuple[str, int]]:
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar.getmembers():
                yield m.name, m.size
    except (OSError, tarfile.TarError) as exc:
        raise MocapError(f"cannot read the archive {str(path)!r} ({exc}).") from None


def joints20_plan(
    arrays: dict[str, npt.NDArray[np.int16]] | np.lib.npyio.NpzFile,
    rates: dict[tuple[int, int], float],
    covered: set[str],
) -> tuple[list[tuple[str, float]], dict[str, str]]:
    """Which arrays to use: [(key, fps)] and, for every skipped key, why (duplicate/covered/rate/unknown)."""
    skipped: dict[str, str] = {}
    duplicate_of: dict[str, str] = {}
    for group in j20.duplicate_groups(arrays):
        # Keep the copy whose subject CMU data.csv describes (else the lowest subject number).
        keep = min(group, key=lambda k: (rates.get(j20.parse_key(k)) is None, j20.parse_key(k)))
        for k in group:
            if k != keep:
                duplicate_of[k] = keep
    plan: list[tuple[str, float]] = []
    for key in sorted(arrays.keys() if isinstance(arrays, dict) else arrays.files, key=j20.parse_key):
        fps = j20.array_fps(key, rates)
        if key in duplicate_of:
            skipped[key] = f"duplicate of {duplicate_of[key]}"
        elif key in covered:
            skipped[key] = "in a BVH archive"
        elif fps is None:
            skipped[key] = "capture rate unknown"
        elif fps < MIN_SOURCE_FPS:
            skipped[key] = f"{fps:g} fps"
        else:
            plan.append((key, fps))
    return plan, skipped


def read_cmu_joints20(shared: Path) -> Iterator[MocapClip]:
    """The 20-joint arrays not covered by a BVH file, one copy of each duplicate, at least MIN_SOURCE_FPS."""
    path = shared / ARCHIVES["cmu_joints20"]
    rates = j20.capture_rates(read_cmu_csv(shared / ARCHIVES["cmu_bvh"]))
    try:
        arrays = np.load(path)
    except (OSError, ValueError) as exc:
        raise MocapError(f"cannot read {str(path)!r} ({exc}).") from None
    with arrays:
        plan, _ = joints20_plan(arrays, rates, _covered_trials(shared))
        for key, fps in plan:
            subject = j20.parse_key(key)[0]
            body = body_from_joints20(j20.to_world(arrays[key]))
            clip = finish_clip(
                body,
                name=f"cmu_joints20/{key}",
                source="cmu_joints20",
                subject=f"cmu:{subject}",
                trial=key,
                source_fps=fps,
            )
            if clip is not None:
                yield clip


def read_source(shared: Path, source: str) -> list[MocapClip]:
    """Parse one source from scratch (no cache)."""
    path = shared / ARCHIVES[source]
    if not path.exists():
        raise MocapError(
            f"the motion-capture archive {str(path)!r} is missing; check the shared data folder."
        )
    if source == "hdm05":
        return list(read_hdm05(path))
    if source == "cmu_bvh":
        return list(read_cmu_bvh(path))
    if source == "cmu_dance":
        return list(read_cmu_dance(path))
    if source == "cmu_joints20":
        return list(read_cmu_joints20(shared))
    raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")


# ---------------------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """The prepared clips' cache: `lifting.cache.cache_dir("mocap")`."""
    return cache_dir("mocap")


def _cache_key(shared: Path, source: str) -> str:
    deps = [ARCHIVES[source]] + (
        [ARCHIVES["cmu_bvh"], ARCHIVES["cmu_dance"]] if source == "cmu_joints20" else []
    )
    h = hashlib.sha1()
    for rel in deps:
        st = (shared / rel).stat()
        h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns};".encode())
    h.update(f"fps={MODEL_FPS};v={CACHE_VERSION}".encode())
    return h.hexdigest()[:16]


def clip_meta(clip: MocapClip) -> dict[str, object]:
    """A clip's description without its arrays (JSON-friendly), as stored in the cache and the pack."""
    return {
        "name": clip.name,
        "source": clip.source,
        "subject": clip.subject,
        "trial": clip.trial,
        "source_fps": clip.source_fps,
        "approximated": list(clip.approximated),
        "frames": clip.num_frames,
    }


def clips_from_meta(
    meta: Sequence[dict[str, Any]], joints: npt.NDArray[np.float32], landmarks: npt.NDArray[np.float32]
) -> list[MocapClip]:
    """Clips back from their `clip_meta` descriptions and the concatenated arrays (frames in meta order):
    joints (sum of frames, 21, 3), landmarks (sum of frames, 33, 3)."""
    clips, start = [], 0
    for m in meta:
        stop = start + int(m["frames"])
        clips.append(
            MocapClip(
                name=m["name"],
                source=m["source"],
                subject=m["subject"],
                trial=m["trial"],
                source_fps=float(m["source_fps"]),
                joints=joints[start:stop],
                landmarks=landmarks[start:stop],
                approximated=tuple(m["approximated"]),
            )
        )
        start = stop
    return clips


def _save(path: Path, clips: Sequence[MocapClip]) -> None:
    meta = [clip_meta(c) for c in clips]
    atomic_write(
        path,
        lambda tmp: np.savez(
            tmp,
            joints=np.concatenate([c.joints for c in clips]) if clips else np.zeros((0, 21, 3), np.float32),
            landmarks=np.concatenate([c.landmarks for c in clips])
            if clips
            else np.zeros((0, 33, 3), np.float32),
            meta=np.array(json.dumps(meta)),
        ),
        suffix=".tmp.npz",
    )


def _load(path: Path) -> list[MocapClip]:
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        joints, landmarks = z["joints"], z["landmarks"]
    return clips_from_meta(meta, joints, landmarks)


def load_source(
    shared_dir: str | os.PathLike[str],
    source: str,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> list[MocapClip]:
    """All clips of one source, from the cache when it is current, else parsed and cached."""
    shared = Path(shared_dir) / "data" if (Path(shared_dir) / "data" / "mocap").exists() else Path(shared_dir)
    if source not in ARCHIVES:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    if not (shared / ARCHIVES[source]).exists():
        raise MocapError(
            f"the motion-capture archive {ARCHIVES[source]!r} is not under {str(shared_dir)!r}; "
            "pass the shared data folder."
        )
    if not use_cache:
        return read_source(shared, source)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"{source}-v{CACHE_VERSION}-{_cache_key(shared, source)}.npz"
    if path.exists():
        try:
            return _load(path)
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: rebuild it
    clips = read_source(shared, source)
    _save(path, clips)
    return clips


def load_split(
    shared_dir: str | os.PathLike[str],
    split: Split,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    sources: Sequence[str] = SOURCES,
    min_source_fps: float = 0.0,
    use_cache: bool = True,
) -> list[MocapClip]:
    """Every clip of `split` ("train", "validation", "test") at MODEL_FPS, in a fixed order.

    shared_dir: the shared folder (holding data/mocap/) or its data/ folder. min_source_fps: drop clips stored
    below this rate (e.g. 24 to keep only natively fast motion for temporal metrics).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    out: list[MocapClip] = []
    for source in sources:
        for clip in load_source(shared_dir, source, cache_dir, use_cache):
            if clip.split == split and clip.source_fps >= min_source_fps:
                out.append(clip)
    return out


T = TypeVar("T")


def evenly_spaced(items: Sequence[T], count: int) -> list[T]:
    """`count` items spread evenly over `items` (first and last included), in order; all of them when count
    is 0 or negative or not below len(items). For quick runs on a fixed, representative subset of a split."""
    if count <= 0 or count >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def estimate_stature(clips: Sequence[MocapClip]) -> float:
    """A person's standing height (m) from segment lengths, so it does not depend on posture: median over
    frames of leg (hip → knee → ankle, mean of both sides) + trunk (pelvis → spine → neck → head centre),
    plus 8 cm ankle height and 11 cm from the head centre to the crown."""
    i = OUTPUT.index

    def seg(c: MocapClip, a: str, b: str) -> F32:
        d: F32 = np.linalg.norm(c.joints[:, i[a]] - c.joints[:, i[b]], axis=-1)
        return d

    legs, trunks = [], []
    for c in clips:
        legs.append(
            (
                seg(c, "l_hip", "l_knee")
                + seg(c, "l_knee", "l_ankle")
                + seg(c, "r_hip", "r_knee")
                + seg(c, "r_knee", "r_ankle")
            )
            / 2.0
        )
        trunks.append(seg(c, "pelvis", "spine") + seg(c, "spine", "neck") + seg(c, "neck", "head"))
    return float(np.median(np.concatenate(legs)) + np.median(np.concatenate(trunks))) + 0.08 + 0.11


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------


def statistics_table(clips: Sequence[MocapClip]) -> str:
    """Markdown table: clips, frames and hours at MODEL_FPS per split and source, and subjects per split."""
    rows = []
    for split in SPLITS:
        part = [c for c in clips if c.split == split]
        for source in (*SOURCES, "all"):
            sel = part if source == "all" else [c for c in part if c.source == source]
            if not sel:
                continue
            frames = sum(c.num_frames for c in sel)
            subjects = len({c.subject for c in sel})
            rows.append(
                f"| {split} | {source} | {len(sel)} | {subjects} | {frames} | {frames / MODEL_FPS / 3600:.2f} |"
            )
    head = "| split | source | clips | subjects | frames @30 fps | hours |\n|---|---|---|---|---|---|"
    return head + "\n" + "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default="../shared", help="shared folder holding data/mocap/")
    parser.add_argument("--cache-dir", default=None, help="cache folder (default: %(default)s → user cache)")
    parser.add_argument(
        "--no-cache", action="store_true", help="parse everything, neither read nor write cache"
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    clips: list[MocapClip] = []
    for source in SOURCES:
        t = time.perf_counter()
        part = load_source(args.shared, source, args.cache_dir, not args.no_cache)
        clips.extend(part)
        print(f"{source}: {len(part)} clips in {time.perf_counter() - t:.1f} s")
    print(statistics_table(clips))
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0
