"""Left/right repair of a 2D track: exchanges bounded by jumps are undone exactly; continuous motion, legs
crossing included, is left alone."""

from __future__ import annotations

import numpy as np

from lifting.skeleton import BLAZEPOSE, BLAZEPOSE_SWAP_GROUPS, swap_pairs
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.swaps import exchanged_frames, repair_swaps

ARMS, LEGS, FACE = (list(BLAZEPOSE_SWAP_GROUPS.values())[g] for g in range(3))


def walking(frames: int) -> np.ndarray:
    """(T, 33, 2) px: a person 300 px tall walking right at 3 px/frame, left side at x - 40, right at x + 40,
    the legs swinging ±30 px."""
    t = np.arange(frames, dtype=np.float64)
    pose = np.zeros((frames, 33, 2))
    pose[:, :, 1] = np.linspace(100.0, 400.0, 33)
    pose[:, :, 0] = 300.0 + 3.0 * t[:, None]
    for left, right in BLAZEPOSE.mirror_pairs:
        pose[:, left, 0] -= 40.0
        pose[:, right, 0] += 40.0
    for left, right in LEGS[1:]:
        swing = 30.0 * np.sin(t / 5.0)
        pose[:, left, 0] += swing
        pose[:, right, 0] -= swing
    return pose


def keypoints_of(pixels: np.ndarray, world: np.ndarray | None = None) -> Keypoints2D:
    """A detected track of `pixels` (T, 33, 2), with MediaPipe world landmarks `world` (T, 33, 3) when given."""
    n = len(pixels)
    return Keypoints2D(
        keypoints=pixels.astype(np.float32),
        visibility=np.full((n, 33), 0.9, np.float32),
        detected=np.ones(n, bool),
        interpolated=np.zeros(n, bool),
        frame_index=np.arange(n),
        timestamps=np.arange(n) / 30.0,
        fps=30.0,
        image_size=(1280, 720),
        meta={"detector": {"name": "x"}},
        pose_world=None if world is None else world.astype(np.float32),
    )


def test_a_whole_body_exchange_between_two_jumps_is_undone_exactly() -> None:
    truth = walking(60)
    seen = truth.copy()
    for pairs in (ARMS, LEGS, FACE):
        seen[20:40] = swap_pairs(seen[20:40], pairs)
    fixed, exchanged = repair_swaps(keypoints_of(seen))
    expected = np.zeros((60, 3), bool)
    expected[20:40] = True
    np.testing.assert_array_equal(exchanged, expected)
    np.testing.assert_allclose(fixed.keypoints, truth, atol=1e-4)


def test_an_arm_exchanged_alone_is_undone_and_the_rest_kept() -> None:
    truth = walking(50)
    seen = truth.copy()
    seen[10:30] = swap_pairs(seen[10:30], ARMS)
    exchanged = exchanged_frames(seen, np.full((50, 33), 0.9), np.ones(50, bool))
    np.testing.assert_array_equal(np.flatnonzero(exchanged[:, 0]), np.arange(10, 30))
    assert not exchanged[:, 1:].any()


def test_continuous_motion_with_legs_crossing_is_left_alone() -> None:
    pixels = walking(90)
    # Legs swinging far enough to cross: each ankle passes the other's line twice a stride.
    for left, right in LEGS[1:]:
        swing = 60.0 * np.sin(np.arange(90) / 6.0)
        pixels[:, left, 0] += swing
        pixels[:, right, 0] -= swing
    exchanged = exchanged_frames(pixels, np.full((90, 33), 0.9), np.ones(90, bool))
    assert not exchanged.any()
    kp = keypoints_of(pixels)
    assert repair_swaps(kp)[0] is kp


def test_frames_without_the_person_restart_continuity() -> None:
    truth = walking(40)
    seen = truth.copy()
    seen[30:] = swap_pairs(seen[30:], ARMS)
    found = np.ones(40, bool)
    found[28:30] = False
    # The exchange starts after a gap: no jump is seen, so the detector's labels stand.
    assert not exchanged_frames(seen, np.full((40, 33), 0.9), found).any()
    # Without the gap the jump at frame 30 is repaired.
    exchanged = exchanged_frames(seen, np.full((40, 33), 0.9), np.ones(40, bool))
    np.testing.assert_array_equal(np.flatnonzero(exchanged[:, 0]), np.arange(30, 40))
