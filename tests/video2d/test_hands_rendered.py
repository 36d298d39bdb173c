"""Hands on the rendered clip (issue 26's "done when": found on >= 90 % of the frames where the hand is visible,
left and right never swap): tests/data/rendered_hands/hands.mp4, the CC0 Mesh2Motion human rendered by
tools/render_hands_clip.py, with per-frame visibility and wrist labels computed from the geometry."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.hands_found import (
    RENDERED,
    SWAP_MARGIN,
    RenderedRow,
    load_rendered_labels,
    rendered_rows,
    run_rendered,
)
from lifting.video2d import video as videoio
from lifting.video2d.keypoints2d import Keypoints2D

LABELS = load_rendered_labels(RENDERED)
VIDEO = RENDERED.with_name(RENDERED.name + ".mp4")
MIN_FOUND = 0.90  # the target


def visible(side: str) -> np.ndarray:
    return np.array(LABELS["hands"][side]["visible"], dtype=bool)


def test_the_labels_match_the_clip() -> None:
    info = videoio.probe(VIDEO)
    assert (info.width, info.height) == (LABELS["width"], LABELS["height"]) == (640, 480)
    assert info.frame_count == LABELS["frames"] == 150
    assert info.fps == pytest.approx(LABELS["fps"]) and info.fps == pytest.approx(30.0)
    for side in ("left", "right"):
        hand = LABELS["hands"][side]
        assert {len(hand[k]) for k in ("visible", "wrist", "size", "seen_points", "points")} == {
            LABELS["frames"]
        }
        points = np.array(hand["points"])  # (T, 21, 2): the wrist first, the size their box's larger side
        assert points.shape == (LABELS["frames"], 21, 2)
        assert points[:, 0] == pytest.approx(np.array(hand["wrist"]))
        assert np.ptp(points, axis=1).max(axis=-1) == pytest.approx(np.array(hand["size"]), abs=0.02)
        assert int(visible(side).sum()) == LABELS["visible_count"][side]
        # visible is the documented rule of seen points and size
        rule = LABELS["rule"]
        seen = np.array(hand["seen_points"]) >= rule["min_seen"]
        big = np.array(hand["size"]) >= rule["min_size_px"]
        assert (visible(side) == (seen & big)).all()


def test_the_labels_follow_the_motion() -> None:
    left, right = (np.array(LABELS["hands"][s]["wrist"]) for s in ("left", "right"))
    # frame 0: both hands before the chest, the person's left hand on the picture's right
    assert visible("left")[0] and visible("right")[0]
    assert left[0, 0] > LABELS["width"] / 2 > right[0, 0]
    # 3.3 s (frame 99): the hands crossed over the body's midline
    assert visible("left")[99] and visible("right")[99]
    assert left[99, 0] < LABELS["width"] / 2 < right[99, 0]
    # 4.0 s (frame 120): the right hand behind the back; 4.6 s (frame 138): the left raised out of the picture
    assert visible("left")[120] and not visible("right")[120]
    assert not visible("left")[138] and visible("right")[138] and left[138, 1] < 0
    # both hands are visible on most frames, and each is hidden on some
    for side in ("left", "right"):
        assert 0.6 * LABELS["frames"] < visible(side).sum() < LABELS["frames"]


def test_counting_on_made_up_detections() -> None:
    """rendered_rows on keypoints placed at the labelled wrists: all found, no swaps; then with the hands
    exchanged on the frames where both are visible: every such frame is a swap."""
    t = LABELS["frames"]
    wrists = np.array([LABELS["hands"][s]["wrist"] for s in ("left", "right")]).transpose(
        1, 0, 2
    )  # (T, 2, 2)
    vis = np.stack([visible("left"), visible("right")], axis=1)
    hands = np.zeros((t, 2, 21, 2), np.float32)
    hands[:, :, :, :] = wrists[:, :, None, :]
    kp = Keypoints2D(
        keypoints=np.zeros((t, 33, 2), np.float32),
        visibility=np.ones((t, 33), np.float32),
        detected=np.ones(t, bool),
        interpolated=np.zeros(t, bool),
        frame_index=np.arange(t),
        timestamps=np.arange(t) / 30.0,
        fps=30.0,
        image_size=(640, 480),
        meta={},
        hands=hands,
        hands_visibility=np.repeat(vis[:, :, None], 21, axis=2).astype(np.float32),
        hands_world=np.zeros((t, 2, 21, 3), np.float32),
        hands_score=vis.astype(np.float32),
    )
    rows = rendered_rows(kp, LABELS)
    for r, side in zip(rows, ("left", "right"), strict=True):
        assert r.found == r.visible == LABELS["visible_count"][side]
        assert r.swaps == 0 and r.false_finds == 0 and r.wrist_error_px < 1e-3  # float32 pixels
    kp = replace(kp, hands=np.ascontiguousarray(hands[:, ::-1]))
    both = int(vis.all(axis=1).sum())
    size = np.array([LABELS["hands"][s]["size"] for s in ("left", "right")]).mean(axis=0)
    far = np.linalg.norm(wrists[:, 0] - wrists[:, 1], axis=-1) > SWAP_MARGIN * size
    swapped = rendered_rows(kp, LABELS)
    assert both > 0 and all(r.swaps == int((vis.all(axis=1) & far).sum()) for r in swapped)


# Measured when this was written (bench/hands_found.py --rendered, docs/hands_rendered.md): found on 81.8 % of
# the visible hand-frames (left 85.8 %, right 77.2 %), one swapped frame (left, while the arms cross and the pose
# puts its left wrist on the right hand). The floor below keeps that from getting worse; the target
# (>= 90 %, no swap) is the strict xfail that must flip when it is met.
MIN_FOUND_NOW = 0.80
MAX_SWAPS_NOW = 1


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> list[RenderedRow]:
    rows, _, _, _ = run_rendered(RENDERED, tmp_path_factory.mktemp("rendered_hands"))
    return rows


@pytest.mark.slow
def test_hands_on_the_rendered_clip_no_worse_than_measured(detected: list[RenderedRow]) -> None:
    found, seen = sum(r.found for r in detected), sum(r.visible for r in detected)
    assert seen == sum(LABELS["visible_count"].values())
    assert found / seen >= MIN_FOUND_NOW, detected
    assert all(r.found / r.visible >= MIN_FOUND_NOW - 0.05 for r in detected), detected
    assert sum(r.swaps for r in detected) <= MAX_SWAPS_NOW, detected


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="issue 26 open: hands found on 81.8 % of visible frames and one swap (docs/hands_rendered.md)",
)
def test_hands_on_the_rendered_clip_are_found_and_never_swap(detected: list[RenderedRow]) -> None:
    for r in detected:
        assert r.found / r.visible >= MIN_FOUND, detected
        assert r.swaps == 0, detected
