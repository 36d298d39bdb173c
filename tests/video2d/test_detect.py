"""Detection end to end with the real MediaPipe Pose (lifting.video2d.detect): the Keypoints2D arrays, progress and
cancellation, rotated clips, and on the real sample clip one followed subject, single- and multi-process."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from lifting.errors import MocapError
from lifting.progress import Cancelled
from lifting.video2d import detect, parallel, track
from lifting.video2d.detect import detect_video
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.tracking import HIPS, SHOULDERS, TrackingSettings
from tests.support.paths import EXCERPT, ROTATED, SAMPLE, UPRIGHT

needs_sample = pytest.mark.skipif(
    not SAMPLE.is_file(), reason="../shared/data/video/sports2d_demo.mp4 is not beside the repo"
)


def hips_and_torso(d: Keypoints2D) -> tuple[np.ndarray, np.ndarray]:
    hips = d.keypoints[:, HIPS].mean(axis=1)
    torso = np.linalg.norm(d.keypoints[:, SHOULDERS].mean(axis=1) - hips, axis=1)
    return hips, torso


def test_excerpt_gives_the_keypoints_contract() -> None:
    d = detect_video(EXCERPT, stop=30, workers=1)
    assert d.keypoints.shape == (30, 33, 2) and d.keypoints.dtype == np.float32
    assert d.visibility.shape == (30, 33) and d.visibility.dtype == np.float32
    assert d.detected.shape == d.interpolated.shape == (30,) and d.meta["workers"] == 1
    np.testing.assert_array_equal(d.frame_index, np.arange(30))
    np.testing.assert_allclose(d.timestamps, np.arange(30) / 30.0, atol=1e-3)
    assert d.image_size == (884, 496) and d.fps == pytest.approx(30.0, abs=0.01)
    assert (d.detected & ~d.interpolated).mean() >= 0.9
    seen = d.keypoints[d.detected]
    assert (seen >= 0).all() and (seen[..., 0] <= 884).all() and (seen[..., 1] <= 496).all()
    assert ((d.visibility >= 0) & (d.visibility <= 1)).all()
    assert (d.keypoints[~d.detected] == 0).all() and (d.visibility[~d.detected] == 0).all()
    # On the box, left of centre: the only person in these frames.
    hips, _ = hips_and_torso(d)
    assert (np.abs(hips[d.detected] - [324, 140]) < [60, 60]).all()


def test_stride_and_progress() -> None:
    reports: list[float] = []
    d = detect_video(EXCERPT, start=4, stop=24, stride=5, workers=1, progress=lambda f, m: reports.append(f))
    np.testing.assert_array_equal(d.frame_index, [4, 9, 14, 19])
    assert d.fps == pytest.approx(6.0, abs=0.01)
    assert reports == sorted(reports) and reports[-1] == pytest.approx(1.0) and len(reports) == 4


def test_cancel_with_an_event_or_a_callable() -> None:
    event = threading.Event()
    seen: list[float] = []

    def progress(fraction: float, _: str) -> None:
        seen.append(fraction)
        if len(seen) == 3:
            event.set()

    with pytest.raises(Cancelled, match="cancelled"):
        detect_video(EXCERPT, workers=1, progress=progress, cancel=event)
    assert len(seen) == 3
    with pytest.raises(MocapError, match="cancelled"):
        detect_video(EXCERPT, workers=1, cancel=lambda: True)


def test_rotated_clip_comes_out_upright() -> None:
    rotated = detect_video(ROTATED, workers=1)
    upright = detect_video(UPRIGHT, workers=1)
    assert rotated.image_size == upright.image_size == (480, 510)
    both = rotated.detected & upright.detected & ~rotated.interpolated & ~upright.interpolated
    assert both.sum() >= 6
    err = np.linalg.norm(rotated.keypoints[both] - upright.keypoints[both], axis=-1)
    assert np.median(err) < 4.0, np.median(err)
    # Upright: the head above the hips, the ankles below them.
    k = rotated.keypoints[both]
    assert (k[:, 0, 1] < k[:, HIPS, 1].mean(axis=1)).all() and (
        k[:, [27, 28], 1].mean(axis=1) > k[:, HIPS, 1].mean(axis=1)
    ).all()


def test_no_person_is_a_clear_error(tmp_path: Path) -> None:
    clip = tmp_path / "empty scene.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (160, 120))
    for i in range(6):
        writer.write(np.full((120, 160, 3), 90 + 10 * i, np.uint8))
    writer.release()
    with pytest.raises(MocapError, match="No person was found"):
        detect_video(clip, workers=1)


def test_only_the_bundled_model_complexity_is_accepted() -> None:
    with pytest.raises(MocapError, match="model_complexity=1"):
        track.MediaPipePose(detect.DEFAULT_SETTINGS.__class__(model_complexity=2))


@pytest.fixture(scope="module")
def sample_single() -> Keypoints2D:
    return detect_video(SAMPLE, workers=1)


@pytest.mark.slow
@needs_sample
def test_sample_clip_follows_one_person(sample_single: Keypoints2D) -> None:
    d = sample_single
    assert len(d.detected) == 230 and d.image_size == (1768, 994)
    found = d.detected & ~d.interpolated
    assert found.mean() >= 0.9, f"subject found on {found.mean():.0%} of frames"
    seen = d.keypoints[d.detected]
    assert (seen >= 0).all() and (seen[..., 0] <= 1768).all() and (seen[..., 1] <= 994).all()
    hips, torso = hips_and_torso(d)
    # The subject is the man on the box (the only person at the start), never the woman walking past below:
    # on the box until his flip, then landing and walking off to the right.
    on_box = np.flatnonzero(d.detected[:150])
    assert (hips[on_box, 1] < 400).all() and (np.abs(hips[on_box, 0] - 700) < 150).all()
    after = np.flatnonzero(d.detected[195:226]) + 195
    assert len(after) >= 25 and (hips[after, 0] > 1000).all()
    # Between found frames the hip centre moves at most a plausible distance (no identity switch).
    idx = np.flatnonzero(found)
    for a, b in itertools.pairwise(idx):
        dt = d.timestamps[b] - d.timestamps[a]
        limit = torso[a] * (0.6 + 8.0 * dt)
        assert np.linalg.norm(hips[b] - hips[a]) <= limit, f"hip centre jumped between frames {a} and {b}"


@pytest.mark.slow
@needs_sample
def test_parallel_detection_matches_the_single_process_run(
    sample_single: Keypoints2D, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "MIN_SEGMENT_FRAMES", 60)
    reports: list[float] = []
    d = detect_video(SAMPLE, workers=2, progress=lambda f, m: reports.append(f))
    s = sample_single
    assert d.meta["workers"] == 2 and reports[-1] == pytest.approx(1.0)
    np.testing.assert_array_equal(d.frame_index, s.frame_index)
    np.testing.assert_allclose(d.timestamps, s.timestamps)
    # The first segment is detected exactly as in the single-process run.
    first = parallel.plan_segments(230, 2)[0]
    np.testing.assert_array_equal(d.keypoints[: first.stop - 1], s.keypoints[: first.stop - 1])
    # The second segment starts 12 frames before the somersault; its fresh MediaPipe tracking state loses the man
    # during the run-up and the flip (tracker 4: frames 138-156 and 167-182, 35 of 230; tracker 3: 139-163)
    # where the single run, tracking since frame 0, follows him. How many it loses there swings with any small
    # change to the tracker (blacking out 0.29 or 0.31 torso lengths around people instead of 0.3: 25 or 47).
    assert (d.detected == s.detected).mean() >= 0.8
    assert (d.detected & ~d.interpolated).mean() >= 0.8
    both = d.detected & s.detected & ~d.interpolated & ~s.interpolated  # found, not filled in
    hips_d, torso = hips_and_torso(s)
    hips_p, _ = hips_and_torso(d)
    gap = np.linalg.norm(hips_d[both] - hips_p[both], axis=1) / np.median(torso[s.detected])
    # Same person everywhere (the other one is always several torso lengths away; on the landing of the flip,
    # frame 168, the two runs place the hips a torso length apart); mostly the same numbers.
    assert (gap < 2.0).all(), (
        f"different person on frames {np.flatnonzero(both)[gap >= 1.0]}: {gap.max():.2f}"
    )
    assert np.median(gap) < 0.02


@pytest.mark.slow
@needs_sample
def test_a_point_on_the_other_person_follows_her() -> None:
    # At frame 60 the woman walks in on the right (the man is on the box at x ≈ 640).
    d = detect_video(
        SAMPLE, start=60, stop=120, workers=1, tracking=TrackingSettings(subject=(1400.0, 700.0))
    )
    hips, _ = hips_and_torso(d)
    seen = np.flatnonzero(d.detected)
    assert len(seen) >= 50 and (hips[seen, 1] > 550).all()


# Frames 150-189 of the sample clip: the jumper on the box takes off for his flip (150-168), turns in the air
# (169-182) and lands on the grass below (183-189); the passer-by walks left along the bottom of the picture.
# Hip centres from single-image passes (`SubjectTracker.find_people`): the passer-by at (542, 723) on frame 150;
# the jumper, arms up against the sun, is not found on frame 150 itself (his hip centre there is (780, 259) in
# a run tracking him from frame 0) and first on frame 151, at (748, 277). On these frames the passer-by's hip
# centre stays left of x = 560 and below y = 700, the jumper's right of x = 690 (above y = 660).
FLIP = (150, 190)
JUMPER_AT_150 = (780.0, 260.0)
PASSER_BY_AT_150 = (542.0, 723.0)


def is_jumper(hips: np.ndarray) -> np.ndarray:
    return hips[:, 0] > 650


def is_passer_by(hips: np.ndarray) -> np.ndarray:
    return (hips[:, 0] < 620) & (hips[:, 1] > 650)


@pytest.mark.slow
@needs_sample
def test_a_point_on_the_jumper_follows_him_through_the_flip() -> None:
    """Issue 21: with frames 150-189 the add-on animated the passer-by. A point on the jumper's hip on frame 150
    must give the jumper on every frame he is found, and never the passer-by."""
    d = detect_video(
        SAMPLE, start=FLIP[0], stop=FLIP[1], workers=1, tracking=TrackingSettings(subject=JUMPER_AT_150)
    )
    hips, _ = hips_and_torso(d)
    other = np.flatnonzero(d.detected & ~is_jumper(hips)) + FLIP[0]
    assert len(other) == 0, f"frames {other.tolist()} are not the jumper"
    found = d.detected & ~d.interpolated
    # Measured: 75 % (30 of 40: not frame 150, and during the turn in the air he is found on some frames only).
    assert found.mean() >= 0.6, f"the jumper was found on {found.mean():.0%} of the frames"


@pytest.mark.slow
@needs_sample
def test_a_point_on_the_passer_by_follows_her() -> None:
    d = detect_video(
        SAMPLE, start=FLIP[0], stop=FLIP[1], workers=1, tracking=TrackingSettings(subject=PASSER_BY_AT_150)
    )
    hips, _ = hips_and_torso(d)
    other = np.flatnonzero(d.detected & ~is_passer_by(hips)) + FLIP[0]
    assert len(other) == 0, f"frames {other.tolist()} are not the passer-by"
    found = d.detected & ~d.interpolated
    assert found.mean() >= 0.95, (
        f"the passer-by was found on {found.mean():.0%} of the frames (measured 100 %)"
    )
