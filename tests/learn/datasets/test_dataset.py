"""Resampling, clip processing, the 20-joint array helpers and the cache, on small synthetic inputs."""

from __future__ import annotations

import numpy as np
import pytest

from lifting.errors import MocapError
from lifting.learn.datasets import cmu_joints20 as j20
from lifting.learn.datasets import dataset as ds
from lifting.learn.datasets.mapping import body_from_joints20
from lifting.skeleton import OUTPUT
from tests.learn.datasets.test_mapping import _joints20_from_motion


@pytest.mark.parametrize(("src", "freq"), [(120.0, 2.0), (60.0, 3.0), (12.0, 1.0), (30.0, 1.0), (24.0, 1.5)])
def test_resample_preserves_a_sinusoid(src: float, freq: float) -> None:
    t = np.arange(int(6 * src) + 1) / src
    x = np.stack([np.sin(2 * np.pi * freq * t), 0.5 * np.cos(2 * np.pi * freq * t + 0.3)], axis=1)
    y = ds.resample(x, src, 30.0)
    n = int(np.floor((len(t) - 1) * 30.0 / src + 1e-9)) + 1
    assert y.shape == (n, 2)
    t30 = np.arange(n) / 30.0
    ref = np.stack([np.sin(2 * np.pi * freq * t30), 0.5 * np.cos(2 * np.pi * freq * t30 + 0.3)], axis=1)
    # Away from the ends (filter and spline edge effects), the sinusoid comes through nearly unchanged.
    inner = slice(5, n - 5)
    assert np.abs(y[inner] - ref[inner]).max() < (3e-3 if src < 30 else 2e-3)


def test_resample_removes_content_above_the_new_nyquist_rate() -> None:
    t = np.arange(1201) / 120.0
    high = np.sin(2 * np.pi * 25.0 * t)  # 25 Hz would alias to 5 Hz at 30 fps without the low-pass
    y = ds.resample(high, 120.0, 30.0)
    assert np.abs(y[10:-10]).max() < 0.01


def test_resample_shapes_and_constants() -> None:
    x = np.full((121, 4, 3), 2.5)
    y = ds.resample(x, 120.0, 30.0)
    assert y.shape == (31, 4, 3)
    np.testing.assert_allclose(y, 2.5)
    assert ds.resample(x[:1], 120.0, 30.0).shape == (1, 4, 3)
    assert ds.resample(x[:3], 12.0, 30.0).shape == (6, 4, 3)
    np.testing.assert_array_equal(ds.resample(x, 30.0, 30.0), x)


def _synthetic_joints20(frames: int) -> np.ndarray:
    return _joints20_from_motion(np.random.default_rng(2), frames)


def test_leading_artifact_frames_cuts_a_prepended_tpose() -> None:
    p = _synthetic_joints20(60)
    joints = body_from_joints20(p).joints
    assert ds.leading_artifact_frames(joints, 60.0) == 0
    tpose = joints[:1].copy()
    tpose[0, OUTPUT.index["l_wrist"]] += [0.6, 0.0, 0.4]
    assert ds.leading_artifact_frames(np.concatenate([tpose, joints]), 60.0) == 1


def test_finish_clip_resamples_floors_and_centres() -> None:
    p = _synthetic_joints20(121) + np.array([3.0, -2.0, 0.7])
    clip = ds.finish_clip(
        body_from_joints20(p),
        name="x",
        source="cmu_joints20",
        subject="cmu:8",
        trial="08_01",
        source_fps=60.0,
    )
    assert clip is not None
    assert clip.num_frames == 61 and clip.fps == ds.MODEL_FPS
    assert clip.joints.dtype == np.float32 and clip.landmarks.shape == (61, 33, 3)
    lowest = clip.landmarks[..., 2].min(axis=1)
    assert np.percentile(lowest, 5) == pytest.approx(0.0, abs=1e-5)
    np.testing.assert_allclose(clip.joints[:, 0, :2].mean(axis=0), 0.0, atol=1e-5)
    assert clip.split == "train"
    too_short = body_from_joints20(p[:10])
    assert ds.finish_clip(too_short, name="y", source="s", subject="cmu:8", trial="", source_fps=60.0) is None


def test_joints20_units_and_sides() -> None:
    raw = np.zeros((1, 20, 3), dtype=np.int16)
    raw[0, 3] = (0, 2870, 0)  # head end 28.7 units up
    raw[0, 12] = (100, 1500, 0)
    w = j20.to_world(raw)
    assert w[0, 3, 2] == pytest.approx(28.7 * 0.0254 / 0.45)  # about 1.62 m, Z up
    np.testing.assert_allclose(j20.to_world(raw, left_first=False)[0, 16], w[0, 12])
    with pytest.raises(MocapError):
        j20.to_world(np.zeros((3, 19, 3)))
    # Geometry decides the sides: a person facing +Z (Y up) with chain 12 at +X has it on the left.
    p = np.zeros((10, 20, 3))
    p[:, 1] = (0, 10, 0)
    p[:, 12], p[:, 16] = (1, -1, 0), (-1, -1, 0)
    p[:, 14], p[:, 15] = (1, -14, 0), (1, -14, 3)
    p[:, 18], p[:, 19] = (-1, -14, 0), (-1, -14, 3)
    assert j20.left_chain_score(p) == 1.0
    assert j20.left_chain_score(p * [-1, 1, 1]) == -1.0
    assert j20.left_chain_score(p[:2]) is None


def test_capture_rates_duplicates_and_plan() -> None:
    csv_text = 'Subject,Trial #,Motion Description,framerate\n1,1,"walk",120\n1,2,"run",60\n2,1,"jump",120\n'
    rates = j20.capture_rates(csv_text)
    assert rates == {(1, 1): 120.0, (1, 2): 60.0, (2, 1): 120.0}
    assert j20.array_fps("01_01", rates) == 12.0 and j20.array_fps("03_01", rates) is None
    a = np.arange(12, dtype=np.int16).reshape(1, 4, 3)
    arrays = {"01_01": a, "02_01": a.copy(), "09_01": a.copy(), "01_02": a + 1, "05_01": a + 2}
    assert j20.duplicate_groups(arrays) == [["01_01", "02_01", "09_01"]]
    plan, skipped = ds.joints20_plan(arrays, rates, covered={"01_01"})
    assert plan == [] and skipped["01_01"] == "in a BVH archive"  # its copies go with it
    plan, skipped = ds.joints20_plan(arrays, rates, covered=set())
    assert plan == [("01_01", 12.0)]
    assert skipped == {
        "01_02": "6 fps",
        "02_01": "duplicate of 01_01",
        "05_01": "capture rate unknown",
        "09_01": "duplicate of 01_01",
    }
    with pytest.raises(MocapError):
        j20.parse_key("x_1")


def test_dance_rates_and_trials() -> None:
    assert ds.dance_rates("indian framerate 120\nsalsa  framerate 60\nmartial framerate 120\n") == {
        "indian": 120.0,
        "salsa": 60.0,
        "martial": 120.0,
    }
    assert ds.dance_trial("indian", 4) == (94, "94_04")
    assert ds.dance_trial("salsa", 3) == (60, "60_03")
    assert ds.dance_trial("salsa", 16) == (61, "61_01")
    assert ds.dance_trial("martial", 7) == (135, "135_07")
    assert ds.dance_trial("martial", 8) == (135, "135_09")


def test_cache_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = _synthetic_joints20(90)
    clip = ds.finish_clip(
        body_from_joints20(p),
        name="a",
        source="cmu_joints20",
        subject="cmu:8",
        trial="08_01",
        source_fps=30.0,
    )
    assert clip is not None
    path = tmp_path / "c.npz"
    ds._save(path, [clip, clip])
    back = ds._load(path)
    assert [c.name for c in back] == ["a", "a"]
    np.testing.assert_array_equal(back[1].joints, clip.joints)
    np.testing.assert_array_equal(back[0].landmarks, clip.landmarks)
    assert back[0].approximated == clip.approximated and back[0].source_fps == 30.0
    assert not list(tmp_path.glob("*.tmp*"))


def test_missing_archive_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MocapError, match="not under"):
        ds.load_split(tmp_path, "train", cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError):
        ds.load_split(tmp_path, "holdout", cache_dir=tmp_path)  # type: ignore[arg-type]


def test_evenly_spaced_keeps_the_ends_and_order() -> None:
    assert ds.evenly_spaced(list(range(10)), 4) == [0, 3, 6, 9]
    assert ds.evenly_spaced("abcde", 3) == ["a", "c", "e"]
    assert ds.evenly_spaced([1, 2, 3], 0) == [1, 2, 3]
    assert ds.evenly_spaced([1, 2, 3], 5) == [1, 2, 3]
