"""`--subject-frame N` (issue 21): the person at a point on frame N, followed over the whole range, before N
(backwards, `track.track_backward` on `video.frames_reversed`) and after it (forwards, as a run starting at N)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lifting.app import api
from lifting.errors import MocapError
from lifting.video2d import parallel
from lifting.video2d import video as videoio
from lifting.video2d.detect import detect_video
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.tracking import TrackingSettings
from tests.support.paths import EXCERPT, SAMPLE
from tests.video2d.test_detect import (
    FLIP,
    JUMPER_AT_150,
    PASSER_BY_AT_150,
    hips_and_torso,
    is_jumper,
    is_passer_by,
    needs_sample,
)


def test_frames_reversed_are_the_forward_frames_last_first() -> None:
    """Chunked from the end (here 4 frames a chunk, so seeks into the clip), with a step: the same indices,
    timestamps and pixels as one forward decode."""
    forward = list(videoio.frames(EXCERPT, 3, 32, 2))
    backward = list(videoio.frames_reversed(EXCERPT, 3, 32, 2, chunk=4))
    assert [f.index for f in backward] == [f.index for f in reversed(forward)] == list(range(31, 2, -2))
    assert [f.time for f in backward] == [f.time for f in reversed(forward)]
    assert all(np.array_equal(b.image, f.image) for b, f in zip(backward, reversed(forward), strict=True))
    # Cancelled: the iterator just stops.
    assert list(videoio.frames_reversed(EXCERPT, 0, 20, chunk=4, cancel=lambda: True)) == []


def point_on(d: Keypoints2D, position: int) -> tuple[float, float]:
    """The hip centre of `d`'s subject at a position of the track (pixels), as a --subject point."""
    hips, _ = hips_and_torso(d)
    assert d.detected[position] and not d.interpolated[position]
    return float(hips[position, 0]), float(hips[position, 1])


def assert_same_person(d: Keypoints2D, base: Keypoints2D, within: float = 0.5) -> np.ndarray:
    """Every frame found in both has the hip centres within `within` torso lengths; the gaps (torso lengths)."""
    np.testing.assert_array_equal(d.frame_index, base.frame_index)
    np.testing.assert_array_equal(d.timestamps, base.timestamps)
    both = d.detected & base.detected & ~d.interpolated & ~base.interpolated
    hips, _ = hips_and_torso(d)
    hips_b, torso = hips_and_torso(base)
    gap = np.linalg.norm(hips[both] - hips_b[both], axis=1) / np.median(torso[base.detected])
    assert (gap < within).all(), f"other person on frames {d.frame_index[both][gap >= within].tolist()}"
    return gap


@pytest.fixture(scope="module")
def excerpt_base() -> Keypoints2D:
    return detect_video(EXCERPT, stop=40, workers=1)


def test_a_later_subject_frame_follows_the_person_before_and_after_it(excerpt_base: Keypoints2D) -> None:
    pivot = 25
    point = point_on(excerpt_base, pivot)
    reports: list[tuple[float, str]] = []
    d = detect_video(
        EXCERPT,
        stop=40,
        workers=1,
        tracking=TrackingSettings(subject=point),
        subject_frame=pivot,
        progress=lambda f, m: reports.append((f, m)),
    )
    assert d.detected.all() and d.meta["workers"] == 1
    gap = assert_same_person(d, excerpt_base)
    assert np.median(gap) < 0.1  # mostly the same numbers (MediaPipe's tracking and smoothing run backwards)
    # From the subject frame on, exactly what a run starting there gives.
    after = detect_video(EXCERPT, start=pivot, stop=40, workers=1, tracking=TrackingSettings(subject=point))
    np.testing.assert_array_equal(d.keypoints[pivot:], after.keypoints)
    np.testing.assert_array_equal(d.visibility[pivot:], after.visibility)
    # One bar: forwards first, then the frames before the pivot, backwards; it ends at 1.
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any("frames 0-24 before the subject frame, backwards in one process" in m for _, m in reports)


def test_the_first_frame_as_subject_frame_changes_nothing(excerpt_base: Keypoints2D) -> None:
    point = point_on(excerpt_base, 0)
    plain = detect_video(EXCERPT, stop=40, workers=1, tracking=TrackingSettings(subject=point))
    same = detect_video(
        EXCERPT, stop=40, workers=1, tracking=TrackingSettings(subject=point), subject_frame=0
    )
    np.testing.assert_array_equal(same.keypoints, plain.keypoints)


@pytest.mark.slow
def test_parallel_detection_after_the_subject_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """The part from the subject frame on is cut into segments as usual; the part before it runs backwards
    in the calling process."""
    monkeypatch.setattr(parallel, "MIN_SEGMENT_FRAMES", 15)
    monkeypatch.setattr(parallel, "HEAD_START_FRAMES", 0)
    base = detect_video(EXCERPT, workers=1)
    pivot = 20
    tracking = TrackingSettings(subject=point_on(base, pivot))
    one = detect_video(EXCERPT, workers=1, tracking=tracking, subject_frame=pivot)
    two = detect_video(EXCERPT, workers=2, tracking=tracking, subject_frame=pivot)
    assert two.meta["workers"] == 2 and len(two.detected) == 60
    # Before the pivot and in the first segment, the calling process does exactly what one process does.
    first = parallel.plan_segments(60 - pivot, 2)[0]
    np.testing.assert_array_equal(
        two.keypoints[: pivot + first.stop - 1], one.keypoints[: pivot + first.stop - 1]
    )
    assert_same_person(two, base)


@needs_sample
@pytest.mark.slow
@pytest.mark.parametrize(
    ("who", "pivot", "found_after"),
    # Measured: the passer-by 100 % before and after; the jumper 100 % before (the run picking him on frame 150
    # misses frame 150 itself) and 67 % after (in the air, like the run picking him on frame 150).
    [("passer-by", 170, 0.95), ("jumper", 160, 0.6)],
)
def test_a_person_picked_later_in_the_flip_is_followed_on_every_frame(
    who: str, pivot: int, found_after: float
) -> None:
    """Frames 150-189 of the sample clip (see test_detect.py): the person picked on a later frame is the one
    followed on every frame, before and after it, as when picked on the first frame."""
    is_them = is_passer_by if who == "passer-by" else is_jumper
    first = PASSER_BY_AT_150 if who == "passer-by" else JUMPER_AT_150
    base = detect_video(
        SAMPLE, start=FLIP[0], stop=FLIP[1], workers=1, tracking=TrackingSettings(subject=first)
    )
    point = point_on(base, pivot - FLIP[0])
    d = detect_video(
        SAMPLE,
        start=FLIP[0],
        stop=FLIP[1],
        workers=1,
        tracking=TrackingSettings(subject=point),
        subject_frame=pivot,
    )
    hips, _ = hips_and_torso(d)
    other = np.flatnonzero(d.detected & ~is_them(hips)) + FLIP[0]
    assert len(other) == 0, f"frames {other.tolist()} are not the {who}"
    found = d.detected & ~d.interpolated
    before, after = found[: pivot - FLIP[0]], found[pivot - FLIP[0] :]
    assert before.mean() >= 0.95 and after.mean() >= found_after, (before.mean(), after.mean())
    assert_same_person(d, base, within=1.0)


# -- checks and the cache ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frames": (10, 30), "subject_frame": 30}, r"The subject frame 30 is outside the frames detected \(10 to 29\)"),
        ({"frames": (10, 30), "subject_frame": 5}, r"The subject frame 5 is outside the frames detected"),
        ({"subject_frame": 60}, r"The subject frame 60 is past the end of sports2d_excerpt.mp4 \(60 frames, 0 to 59\)"),
        ({"frames": (10, None), "subject_frame": 900}, r"The subject frame 900 is past the end"),
        ({"subject_frame": 2.5}, r"The subject frame must be a whole video frame number, not 2.5"),
        ({"frames": (10, 30), "stride": 4, "subject_frame": 12}, r"not one of the frames detected \(one in 4 from 10\)"),
        ({"subject": None, "subject_frame": 12}, r"A subject frame \(12\) needs a subject point"),
    ],
)  # fmt: skip
def test_a_bad_subject_frame_is_one_sentence_before_any_detection(
    kwargs: dict[str, object], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lifting.video2d import detect as detect_module

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("detection started")

    monkeypatch.setattr(detect_module, "detect_video", refuse)
    arguments = {"subject": (400.0, 300.0), "cache_dir": tmp_path, **kwargs}
    with pytest.raises(MocapError, match=message):
        api.detect(EXCERPT, **arguments)  # type: ignore[arg-type]


def test_the_subject_frame_is_part_of_the_cache_key(tmp_path: Path, excerpt_base: Keypoints2D) -> None:
    runs: list[str] = []
    point = point_on(excerpt_base, 5)  # the man on the box, who hardly moves on frames 0-7

    def detect(subject_frame: int | None) -> Keypoints2D:
        messages: list[str] = []
        d = api.detect(
            EXCERPT,
            frames=(0, 8),
            subject=point,
            subject_frame=subject_frame,
            cache_dir=tmp_path,
            workers=1,
            progress=lambda f, m: messages.append(m),
        )
        runs.append("cached" if messages == ["reused cached keypoints"] else "detected")
        return d

    later = detect(5)
    assert later.meta["detector"]["settings"]["subject_frame"] == 5
    assert detect(5) is not None and runs == ["detected", "cached"]
    first = detect(None)  # a cache made for frame 5 is not reused for the first frame
    assert "subject_frame" not in first.meta["detector"]["settings"] and runs[-1] == "detected"
    assert detect(0).meta == first.meta and runs[-1] == "cached"  # frame 0 is the range's first: the default
    assert detect(3).meta != later.meta and runs[-1] == "detected"
