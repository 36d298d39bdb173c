"""Parallel detection (lifting.video2d.parallel): segment plans, the boundary check, and cancellation across processes.
The equivalence with a single-process run on the real clip is in tests/test_detect.py."""

from __future__ import annotations

import itertools
import multiprocessing

import numpy as np
import pytest

from lifting.progress import Cancelled
from lifting.video2d import parallel
from lifting.video2d.detect import detect_video
from lifting.video2d.track import RawTrack
from lifting.video2d.tracking import TrackingSettings
from tests.support.paths import EXCERPT


def test_plan_segments() -> None:
    plan = parallel.plan_segments(900, 2, min_segment=150, overlap=12, head_start=45)
    assert [(s.start, s.stop, s.warm) for s in plan] == [(0, 472, 0), (472, 900, 460)]
    plan = parallel.plan_segments(1000, 4, min_segment=150, overlap=10, head_start=40)
    assert plan[0].start == 0 and plan[-1].stop == 1000
    assert all(a.stop == b.start and b.warm == b.start - 10 for a, b in itertools.pairwise(plan))
    lengths = [s.stop - s.start for s in plan]
    assert lengths[0] == max(lengths) and max(lengths[1:]) - min(lengths[1:]) <= 1
    # Too short for the workers asked for: fewer segments, down to one (run in the calling process).
    assert len(parallel.plan_segments(400, 8, min_segment=150)) == 2
    assert parallel.plan_segments(100, 4, min_segment=150) == [parallel.Segment(0, 0, 100, 0)]


def track(hips_x: list[float | None], start: int = 0, torso: float = 100.0) -> RawTrack:
    """A raw track whose hip centre is at (x, 500) on each frame (None: not detected), torso upright."""
    n = len(hips_x)
    k = np.zeros((n, 33, 2))
    for i, x in enumerate(hips_x):
        if x is not None:
            k[i, :, 0] = x
            k[i, :, 1] = 500.0
            k[i, [11, 12], 1] = 500.0 - torso
    det = np.array([x is not None for x in hips_x])
    idx = np.arange(start, start + n)
    return RawTrack(k, np.ones((n, 33)), det, idx, idx / 30.0)


def test_boundary_check_accepts_the_same_person_and_refuses_another() -> None:
    cfg = TrackingSettings()
    before = track([300, 302, 304, 306], start=40)
    assert parallel.same_subject(before, track([301, 303, 305, 307], start=40), cfg, 100.0)
    assert not parallel.same_subject(before, track([700, 702, 704, 706], start=40), cfg, 100.0)
    # Frames that do not line up (a seek that landed elsewhere) never pass.
    assert not parallel.same_subject(before, track([300, 302, 304, 306], start=41), cfg, 100.0)
    # No frame found in both: judged by the speed gate between the last and the first sighting.
    assert parallel.same_subject(
        track([300, 301, None, None], 40), track([None, None, 330, 332], 40), cfg, 100.0
    )
    assert not parallel.same_subject(
        track([300, 301, None, None], 40), track([None, None, 900, 902], 40), cfg, 100.0
    )
    assert parallel.same_subject(track([None] * 4, 40), track([None, 500, 501, 502], 40), cfg, 100.0)
    # The worker found nobody where the previous segment saw the subject: it has not acquired them yet.
    assert not parallel.same_subject(track([300, 301, 302, 303], 40), track([None] * 4, 40), cfg, 100.0)


def test_raw_track_slicing_and_concatenation() -> None:
    a, b = track([1.0, 2.0, None], 0), track([4.0, 5.0], 3)
    joined = RawTrack.concat([a, b.slice(1)])
    assert joined.frame_index.tolist() == [0, 1, 2, 4] and joined.detected.tolist() == [
        True,
        True,
        False,
        True,
    ]
    assert len(RawTrack.empty()) == 0


@pytest.mark.slow
def test_cancelling_a_parallel_run_stops_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SEGMENT_FRAMES", 20)
    monkeypatch.setattr(parallel, "HEAD_START_FRAMES", 0)
    reports: list[float] = []

    def cancel() -> bool:
        return len(reports) >= 2

    with pytest.raises(Cancelled):
        detect_video(EXCERPT, workers=2, progress=lambda f, m: reports.append(f), cancel=cancel)
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_a_segment_detected_again_shows_progress_and_matches_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parallel, "MIN_SEGMENT_FRAMES", 20)
    monkeypatch.setattr(parallel, "HEAD_START_FRAMES", 0)
    monkeypatch.setattr(parallel, "same_subject", lambda *args: False)  # every worker "followed someone else"
    reports: list[tuple[float, str]] = []
    again = detect_video(EXCERPT, workers=2, progress=lambda f, m: reports.append((f, m)))
    single = detect_video(EXCERPT, workers=1)
    # The same person (MediaPipe's own tracking restarts with the segment, so not bit for bit).
    both = again.detected & single.detected
    assert both.mean() > 0.9
    assert float(np.median(np.abs(again.keypoints[both] - single.keypoints[both]))) < 3.0
    redo = [(f, m) for f, m in reports if "again (its process followed someone else)" in m]
    assert redo, reports
    fractions = [f for f, _ in redo]
    assert fractions == sorted(fractions) and 0.5 < fractions[0] and fractions[-1] <= 1.0
    assert [f for f, _ in reports if f >= 1.0][:1] == [reports[-1][0]]  # 1.0 is reached only at the end
