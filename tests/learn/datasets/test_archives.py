"""The real motion-capture archives (../shared/data/mocap): units, sides, frame rates, splits, cache.

Slow: the session fixture parses every archive once into a temporary cache (about 40 s on one core).
Skipped when the shared data folder is absent (set VIDEO_MOCAP_SHARED to point at it).
"""

from __future__ import annotations

import csv
import io
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lifting.learn.datasets import cmu_joints20 as j20
from lifting.learn.datasets import dataset as ds
from lifting.learn.datasets import splits
from lifting.learn.datasets.bvh import parse_bvh
from lifting.learn.datasets.landmarks import virtual_landmarks
from lifting.learn.datasets.mapping import CC_FOOT_AXES, Y_UP_TO_Z_UP, body_from_bvh, foot_axes
from lifting.skeleton import BLAZEPOSE, OUTPUT
from tests.support.paths import SHARED

MOCAP = SHARED / "data" / "mocap"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MOCAP.exists(), reason=f"no shared mocap data at {MOCAP}"),
]


@pytest.fixture(scope="session")
def clips() -> Iterator[list[ds.MocapClip]]:
    # A temporary cache removed at the end (about 0.6 GB: pytest's own tmp_path would keep three of them).
    with tempfile.TemporaryDirectory(prefix="mocap-cache-") as tmp:
        yield _parse_all(Path(tmp))


def _parse_all(cache: Path) -> list[ds.MocapClip]:
    out: list[ds.MocapClip] = []
    for source in ds.SOURCES:
        out.extend(ds.load_source(SHARED, source, cache))
    # A second load comes from the cache and is identical.
    again = ds.load_source(SHARED, "cmu_bvh", cache)
    first = [c for c in out if c.source == "cmu_bvh"]
    assert [c.name for c in again] == [c.name for c in first]
    for a, b in zip(again, first, strict=True):
        np.testing.assert_array_equal(a.landmarks, b.landmarks)
    assert len(list(cache.glob("*.npz"))) == len(ds.SOURCES)
    return out


def _member(archive: str, suffix: str) -> bytes:
    with tarfile.open(MOCAP / archive) as tar:
        for m in tar:
            if m.name.endswith(suffix):
                f = tar.extractfile(m)
                assert f is not None
                return f.read()
    raise FileNotFoundError(suffix)


def test_every_source_loads_with_sane_arrays(clips: list[ds.MocapClip]) -> None:
    by_source = defaultdict(list)
    for c in clips:
        by_source[c.source].append(c)
        assert c.fps == ds.MODEL_FPS and c.num_frames >= ds.MIN_DURATION_S * ds.MODEL_FPS
        assert np.isfinite(c.joints).all() and np.isfinite(c.landmarks).all()
    counts = {s: len(v) for s, v in by_source.items()}
    assert counts["cmu_bvh"] == 61 and counts["cmu_dance"] == 43
    assert 250 <= counts["hdm05"] <= 287 and 1650 <= counts["cmu_joints20"] <= 1800
    assert {c.source_fps for c in by_source["cmu_bvh"]} == {60.0}
    assert {c.source_fps for c in by_source["hdm05"]} == {120.0}
    dance = {c.name.split("/")[1].split("_")[0]: c.source_fps for c in by_source["cmu_dance"]}
    assert dance == {"indian": 120.0, "martial": 120.0, "salsa": 60.0}
    assert {c.source_fps for c in by_source["cmu_joints20"]} == {12.0}


def test_every_person_has_a_plausible_height(clips: list[ds.MocapClip]) -> None:
    by_subject = defaultdict(list)
    for c in clips:
        by_subject[c.subject].append(c)
    heights = {s: ds.estimate_stature(v) for s, v in by_subject.items()}
    assert len(heights) > 80
    bad = {s: round(h, 2) for s, h in heights.items() if not 1.4 <= h <= 2.0}
    assert not bad, f"implausible heights (m): {bad}"


def test_left_is_left_in_every_source(clips: list[ds.MocapClip]) -> None:
    """On upright frames with the feet flat: (l_hip - r_hip) · (up × forward) > 0, forward = ankle → toe."""
    i = OUTPUT.index
    for source in ds.SOURCES:
        scores = []
        for c in (c for c in clips if c.source == source):
            j = c.joints.astype(np.float64)
            trunk = j[:, i["neck"]] - j[:, i["pelvis"]]
            fwd = j[:, i["l_toe"]] - j[:, i["l_ankle"]] + j[:, i["r_toe"]] - j[:, i["r_ankle"]]
            keep = (trunk[:, 2] > 0.8 * np.linalg.norm(trunk, axis=-1)) & (
                np.abs(fwd[:, 2]) < 0.5 * np.linalg.norm(fwd, axis=-1)
            )
            if keep.sum() < 5:
                continue
            left = np.cross([0.0, 0.0, 1.0], fwd[keep])
            scores.append(np.mean(np.sign(np.sum((j[keep, i["l_hip"]] - j[keep, i["r_hip"]]) * left, -1))))
        scores_a = np.array(scores)
        assert len(scores_a) > 20, source
        assert (scores_a > 0).all(), f"{source}: a clip with left and right swapped"
        assert (scores_a > 0.5).mean() > 0.98, source


def test_joints20_chain_at_index_12_is_the_left_leg() -> None:
    with np.load(MOCAP / "cmu_a2m_joints20_int16.npz") as arrays:
        scores = [j20.left_chain_score(arrays[k]) for k in arrays.files]
    decided = np.array([s for s in scores if s is not None])
    assert len(decided) > 2300
    assert (decided > 0).all() and (decided > 0.5).mean() > 0.99
    assert j20.LEFT_CHAINS_FIRST


def test_duplicates_are_linked_and_used_once(clips: list[ds.MocapClip]) -> None:
    with np.load(MOCAP / "cmu_a2m_joints20_int16.npz") as arrays:
        groups = j20.duplicate_groups(arrays)
    linked = {frozenset(g) for g in splits.CMU_LINKED_SUBJECTS}
    for g in groups:
        subjects = {j20.parse_key(k)[0] for k in g}
        if len(subjects) > 1:
            assert any(subjects <= s for s in linked), f"duplicate subjects {subjects} are not linked"
    trials = [c.trial for c in clips if c.trial]
    assert len(trials) == len(set(trials)), "a CMU trial is used twice"
    dup_keys = {k for g in groups for k in g}
    used = {c.trial for c in clips if c.source == "cmu_joints20"}
    assert all(sum(k in used for k in g) <= 1 for g in groups) and dup_keys & used


def test_splits_are_disjoint_and_complete(clips: list[ds.MocapClip]) -> None:
    by_split: dict[str, set[str]] = defaultdict(set)
    for c in clips:
        by_split[c.split].add(c.subject)
    assert set(by_split) == set(splits.SPLITS)
    for a in splits.SPLITS:
        for b in splits.SPLITS:
            if a < b:
                assert not (by_split[a] & by_split[b])
    assert {"hdm05:mm", "hdm05:tr"} <= by_split["test"]
    frames = {s: sum(c.num_frames for c in clips if c.split == s) for s in splits.SPLITS}
    total = sum(frames.values())
    assert 0.07 < frames["test"] / total < 0.15 and 0.03 < frames["validation"] / total < 0.1


def test_bvh_frame_counts_match_cmu_csv() -> None:
    rows = list(csv.DictReader(io.StringIO(_member("cmu_subjects01-07_bvh.tar.xz", "CMU data.csv").decode())))
    frames60 = {(int(r["Subject"]), int(r["Trial #"])): r["Frames 60fps"] for r in rows}
    with tarfile.open(MOCAP / "cmu_subjects01-07_bvh.tar.xz") as tar:
        checked = 0
        for m in tar:
            if m.name.endswith(".bvh"):
                f = tar.extractfile(m)
                assert f is not None
                head = f.read(200_000).decode("latin-1")
                n = int(head.split("Frames:")[1].split()[0])
                subject, trial = (int(x) for x in Path(m.name).stem.split("_"))
                assert frames60[(subject, trial)] == str(n)
                assert "Frame Time: 0.016667" in head
                checked += 1
    assert checked == 61


def test_dance_files_match_their_cmu_trials() -> None:
    """The dance BVH frame counts are 10× the 20-joint arrays of the trials `dance_trial` assigns."""
    with (
        np.load(MOCAP / "cmu_a2m_joints20_int16.npz") as arrays,
        tarfile.open(MOCAP / "cmu_dance_bvh.tar.xz") as tar,
    ):
        for m in tar:
            p = Path(m.name)
            if p.suffix != ".bvh" or p.parent.name not in ds.DANCE_SUBJECTS:
                continue
            f = tar.extractfile(m)
            assert f is not None
            n = int(f.read(100_000).decode("latin-1").split("Frames:")[1].split()[0])
            _, trial = ds.dance_trial(p.parent.name, int(p.stem))
            assert abs(arrays[trial].shape[0] - n / 10) <= 1, (m.name, trial)


def test_bvh_clips_start_with_motion_not_a_tpose(clips: list[ds.MocapClip]) -> None:
    """The converters' T-pose frame 0 (and the dance files' blend into the motion) is cut: from frame 0 to 1 no
    joint jumps the 0.5–1.5 m a T-pose → motion switch makes (real motion moves < 0.3 m in 1/30 s)."""
    for c in clips:
        if c.source in ("cmu_bvh", "cmu_dance"):
            rel = c.joints[:2] - c.joints[:2, :1]
            assert np.linalg.norm(rel[1] - rel[0], axis=-1).max() < 0.3, c.name


def test_cc_rig_calibration_and_eye_landmarks() -> None:
    motion = parse_bvh(_member("cmu_subjects01-07_bvh.tar.xz", "007_04.bvh").decode("latin-1"))
    _, rot = motion.forward_kinematics(0.01)
    idx = {n: i for i, n in enumerate(motion.names)}
    # Frame 0 is the T-pose: the feet's axes are forward (+Z), up (+Y) and outwards in the file's axes.
    for s, side in (("L", 1), ("R", -1)):
        world = foot_axes([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], side)
        np.testing.assert_allclose(rot[0, idx[f"CC_Base_{s}_Foot"]].T @ world, CC_FOOT_AXES[s], atol=2e-3)
    # The virtual eyes land on the rig's eye joints (both rigs carry them).
    for archive, name, eyes in (
        ("cmu_subjects01-07_bvh.tar.xz", "002_05.bvh", ("CC_Base_L_Eye", "CC_Base_R_Eye")),
        ("cmu_dance_bvh.tar.xz", "salsa/05.bvh", ("leftEye", "rightEye")),
    ):
        motion = parse_bvh(_member(archive, name).decode("latin-1"))
        lm = virtual_landmarks(body_from_bvh(motion))
        pos = motion.forward_kinematics(0.01)[0] @ Y_UP_TO_Z_UP.T
        j = {n: i for i, n in enumerate(motion.names)}
        for side, joint in zip(("left_eye", "right_eye"), eyes, strict=True):
            err = np.linalg.norm(lm[:, BLAZEPOSE.index[side]] - pos[:, j[joint]], axis=-1)
            assert err.mean() < 0.015, (name, side, err.mean())
