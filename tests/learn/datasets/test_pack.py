"""The shipped labeled pack: round trip within a millimetre, training-split people only, excerpt selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lifting.errors import MocapError
from lifting.learn.datasets.dataset import MocapClip
from lifting.learn.datasets.pack import PACK_PATH, load_pack, save_pack, select_excerpts
from lifting.learn.datasets.splits import subject_split
from lifting.skeleton import MODEL_FPS


def _clip(name: str, subject: str, frames: int, seed: int, source: str = "hdm05") -> MocapClip:
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, 0.01, (frames, 1, 3)), axis=0) + np.array([3.0, -2.0, 1.0])
    joints = (walk + rng.normal(0, 0.4, (1, 21, 3))).astype(np.float32)
    landmarks = (walk + rng.normal(0, 0.4, (1, 33, 3))).astype(np.float32)
    return MocapClip(name, source, subject, "", 120.0, joints, landmarks, ("joints",))


def test_round_trip_within_a_millimetre(tmp_path: Path) -> None:
    clips = [_clip("a", "bd", 90, 1), _clip("b", "cmu:15", 75, 2, source="cmu_bvh")]
    save_pack(tmp_path / "p.npz", clips)
    back = load_pack(tmp_path / "p.npz")
    assert [(c.name, c.subject, c.source, c.num_frames, c.approximated) for c in back] == [
        ("a", "bd", "hdm05", 90, ("joints",)),
        ("b", "cmu:15", "cmu_bvh", 75, ("joints",)),
    ]
    for a, b in zip(clips, back, strict=True):
        assert np.abs(a.joints - b.joints).max() < 1e-3
        assert np.abs(a.landmarks - b.landmarks).max() < 1e-3
        assert np.array_equal(a.joints[:, 0], b.joints[:, 0])  # the pelvis path is stored exactly


def test_missing_or_foreign_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MocapError, match="missing"):
        load_pack(tmp_path / "none.npz")
    np.savez(
        tmp_path / "other.npz",
        meta=np.array('{"format": "x"}'),
        joints=np.zeros(1),
        landmarks=np.zeros(1),
        pelvis=np.zeros(1),
    )
    with pytest.raises(MocapError, match="not a labeled motion-capture pack"):
        load_pack(tmp_path / "other.npz")


def test_excerpts_cover_many_people_within_the_budget() -> None:
    clips = [
        _clip(f"{s}{i}", s, 40 * int(MODEL_FPS), 10 * i + j) for j, s in enumerate("abcd") for i in range(3)
    ]
    picked = select_excerpts(clips, minutes=1.5, excerpt_s=20.0, seed=0)
    frames = sum(c.num_frames for c in picked)
    assert frames == int(1.5 * 60 * MODEL_FPS)
    assert all(c.num_frames <= 20 * MODEL_FPS for c in picked)
    assert {c.subject for c in picked} == set(
        "abcd"
    )  # round-robin over people before a second clip of anyone
    again = select_excerpts(clips, minutes=1.5, excerpt_s=20.0, seed=0)
    assert [c.name for c in again] == [c.name for c in picked]  # seeded


def test_the_shipped_pack_holds_training_split_people_only() -> None:
    clips = load_pack(PACK_PATH)
    assert len(clips) >= 30 and len({c.subject for c in clips}) >= 30
    assert {subject_split(c.subject) for c in clips} == {"train"}
    minutes = sum(c.num_frames for c in clips) / MODEL_FPS / 60
    assert 7.5 < minutes < 8.5
    heights = [np.median(c.joints[..., 2].max(axis=1) - c.joints[..., 2].min(axis=1)) for c in clips]
    assert 1.3 < float(np.median(heights)) < 1.9  # people in metres, standing on the floor
