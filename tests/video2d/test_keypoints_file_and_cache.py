"""The keypoints file, gap filling, the detect API and its cache, on real video (decode: test_video.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from lifting.app import api
from lifting.errors import MocapError
from lifting.video2d import video as videoio
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.mediapipe_pose import DetectorSettings, fill_short_gaps
from tests.support.paths import EXCERPT, SAMPLE


def test_one_frame_clip(tmp_path: Path) -> None:
    one = tmp_path / "one frame.mp4"
    frame = next(videoio.frames(EXCERPT, 5, 6)).image
    writer = cv2.VideoWriter(
        str(one), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (frame.shape[1], frame.shape[0])
    )
    writer.write(frame)
    writer.release()
    keypoints = api.detect(one, cache_dir=tmp_path / "cache")
    assert keypoints.num_frames == 1 and keypoints.detected.all()


def test_fill_short_gaps_interpolates_only_short_ones() -> None:
    k = np.zeros((10, 33, 2))
    k[:, :, 0] = np.arange(10)[:, None]
    v = np.ones((10, 33))
    det = np.array([1, 0, 0, 1, 1, 0, 0, 0, 0, 1], bool)
    k[~det] = -1.0
    filled = fill_short_gaps(k, v, det, max_gap=2, visibility_factor=0.3)
    assert filled.tolist() == [False, True, True] + [False] * 7
    assert k[1:3, 0, 0].tolist() == pytest.approx([1.0, 2.0])
    assert v[1, 0] == pytest.approx(0.3) and (k[5:9] == -1.0).all()
    assert det.tolist() == [True] * 5 + [False] * 4 + [True]


def test_keypoints_file_round_trip_and_foreign_files(tmp_path: Path) -> None:
    t = 4
    kp = Keypoints2D(
        keypoints=np.random.default_rng(0).uniform(0, 500, (t, 33, 2)).astype(np.float32),
        visibility=np.full((t, 33), 0.9, np.float32),
        detected=np.array([True, False, True, True]),
        interpolated=np.zeros(t, bool),
        frame_index=np.arange(t, dtype=np.int64) * 2,
        timestamps=np.arange(t) / 15.0,
        fps=15.0,
        image_size=(640, 480),
        meta={"detector": {"name": "x"}},
    )
    path = kp.save(tmp_path / "a.keypoints.npz")
    back = Keypoints2D.load(path)
    np.testing.assert_array_equal(back.keypoints, kp.keypoints)
    assert back.meta == kp.meta and back.image_size == (640, 480) and back.detection_rate == 0.75
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(MocapError, match=r"not a readable keypoints file|not a keypoints file"):
        Keypoints2D.load(tmp_path / "other.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(MocapError, match="not a readable keypoints file"):
        Keypoints2D.load(tmp_path / "broken.npz")


def test_cache_is_reused_and_rebuilt_when_the_file_or_settings_change(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    shutil.copy(EXCERPT, video)
    cache = tmp_path / "cache"
    first = api.detect(video, frames=(0, 20), cache_dir=cache)
    files = list(cache.iterdir())
    assert len(files) == 1 and first.num_frames == 20
    stamp = files[0].stat().st_mtime_ns
    messages: list[str] = []
    again = api.detect(video, frames=(0, 20), cache_dir=cache, progress=lambda f, m="": messages.append(m))
    assert messages == ["reused cached keypoints"] and files[0].stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.keypoints, first.keypoints)
    other = api.detect(video, frames=(0, 20), cache_dir=cache, settings=DetectorSettings(max_gap_s=0.2))
    assert other.meta["detector"]["settings"]["max_gap_s"] == 0.2 and files[0].stat().st_mtime_ns != stamp
    video.write_bytes(
        video.read_bytes() + b"\0"
    )  # a changed file (size and hash of the first MiB... size here)
    changed = api.detect(video, frames=(0, 20), cache_dir=cache)
    assert changed.meta["source"]["size"] == first.meta["source"]["size"] + 1


def test_cancel_leaves_no_cache(tmp_path: Path) -> None:
    with pytest.raises(MocapError, match="cancelled"):
        api.detect(EXCERPT, cache_dir=tmp_path, cancel=lambda: True)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.skipif(
    not SAMPLE.is_file(), reason="../shared/data/video/sports2d_demo.mp4 is not beside the repo"
)
def test_sample_clip_follows_one_person(tmp_path: Path) -> None:
    k = api.detect(SAMPLE, cache_dir=tmp_path)
    assert k.num_frames == 230 and k.image_size == (1768, 994)
    hips = k.keypoints[:, [23, 24]].mean(axis=1)
    torso = np.linalg.norm(k.keypoints[:, [11, 12]].mean(axis=1) - hips, axis=1)
    seen = np.flatnonzero(k.detected)
    assert len(seen) >= 0.7 * k.num_frames
    # No identity switch: between consecutive found frames the hips move less than one torso length.
    steps = np.linalg.norm(np.diff(hips[seen], axis=0), axis=1)
    assert (steps < torso[seen[1:]]).all(), f"hip centre jumped {steps.max():.0f} px"
