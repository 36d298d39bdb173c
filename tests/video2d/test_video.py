"""Streaming decode (lifting.video2d.video) on the committed excerpt and generated clips: ranges, seeking, timestamps,
rotation metadata, identity, and one clear error per kind of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from lifting.errors import MocapError
from lifting.video2d import video
from tests.support.paths import EXCERPT, ROTATED, UPRIGHT


def test_probe_the_excerpt() -> None:
    info = video.probe(EXCERPT)
    assert (info.width, info.height, info.frame_count, info.rotation) == (884, 496, 60, 0)
    assert info.fps == pytest.approx(30.0, abs=0.01) and info.start_time == 0.0


def test_range_stride_and_timestamps() -> None:
    picked = list(video.frames(EXCERPT, 10, 20, 3))
    assert [f.index for f in picked] == [10, 13, 16, 19]
    assert [f.time for f in picked] == pytest.approx([i / 30.0 for i in (10, 13, 16, 19)], abs=1e-3)
    assert picked[0].image.shape == (496, 884, 3) and picked[0].image.dtype == np.uint8
    assert [f.index for f in video.frames(EXCERPT, 55)] == list(range(55, 60))


def test_seeking_gives_the_same_frames_as_decoding_from_the_start() -> None:
    sequential = {f.index: f for f in video.frames(EXCERPT, seek=False)}
    for start in (1, 23, 59):
        for f in video.frames(EXCERPT, start, start + 2, seek=True):
            np.testing.assert_array_equal(f.image, sequential[f.index].image)
            assert f.time == pytest.approx(sequential[f.index].time, abs=1e-9)


def test_rotation_metadata_gives_upright_frames() -> None:
    info = video.probe(ROTATED)
    assert info.rotation == 90 and (info.width, info.height) == (480, 510)
    assert video.probe(UPRIGHT).rotation == 0
    upright = [f.image for f in video.frames(UPRIGHT)]
    for f, reference in zip(video.frames(ROTATED), upright, strict=True):
        assert f.image.shape == reference.shape
        err = np.abs(f.image.astype(int) - reference).mean()
        wrong_way = np.abs(cv2.rotate(f.image, cv2.ROTATE_180).astype(int) - reference).mean()
        assert err < 8 and wrong_way > 4 * err, (err, wrong_way)
    # Seeking a rotated clip keeps it upright too.
    assert next(video.frames(ROTATED, 5, 6)).image.shape == (510, 480, 3)


def test_identity_is_stable_and_notices_changes(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(EXCERPT.read_bytes())
    os.utime(clip, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    first = video.video_identity(clip)
    assert first == video.video_identity(clip) and first["size"] == EXCERPT.stat().st_size
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clip.read_bytes())
    os.utime(copy, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert video.video_identity(copy) == first  # content and time, not the path
    os.utime(clip, ns=(1_700_000_001_000_000_000, 1_700_000_001_000_000_000))
    assert video.video_identity(clip)["mtime_ns"] != first["mtime_ns"]
    data = bytearray(clip.read_bytes())
    data[100] ^= 0xFF
    clip.write_bytes(bytes(data))
    assert video.video_identity(clip)["sha256_first_mib"] != first["sha256_first_mib"]


def test_one_frame_clip(tmp_path: Path) -> None:
    one = tmp_path / "one.mp4"
    frame = next(video.frames(EXCERPT, 5, 6)).image
    writer = cv2.VideoWriter(
        str(one), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (frame.shape[1], frame.shape[0])
    )
    writer.write(frame)
    writer.release()
    assert video.probe(one).frame_count == 1
    assert [f.index for f in video.frames(one)] == [0]


def test_each_kind_of_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MocapError, match="does not exist"):
        video.probe(tmp_path / "missing.mp4")
    with pytest.raises(MocapError, match="is a folder"):
        video.probe(tmp_path)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MocapError, match=r"is empty \(0 bytes\)"):
        video.probe(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(MocapError, match="is not a video file"):
        video.probe(text)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(EXCERPT.read_bytes()[:-3000])  # the index (moov) at the end is cut off
    with pytest.raises(MocapError, match="damaged, truncated or has no video track"):
        video.probe(truncated)
    zero = tmp_path / "zero.avi"
    writer = cv2.VideoWriter(str(zero), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    writer.release()
    with pytest.raises(MocapError, match="contains no video frames"):
        video.probe(zero)
    damaged = tmp_path / "damaged.mp4"
    data = bytearray(EXCERPT.read_bytes())
    data[50_000:400_000] = np.random.default_rng(0).integers(0, 256, 350_000, dtype=np.uint8).tobytes()
    damaged.write_bytes(bytes(data))
    with pytest.raises(MocapError, match="is damaged: decoding stopped"):
        list(video.frames(damaged))
    with pytest.raises(MocapError, match="empty or invalid"):
        list(video.frames(EXCERPT, 5, 5))
    with pytest.raises(MocapError, match="has 60 frames") as caught:
        list(video.frames(EXCERPT, 60))
    assert "\n" not in str(caught.value)
