"""Finger angles from hand landmarks (lifting.lift.fingers, retarget.hand_model)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from lifting.lift.fingers import FingerConfig, add_fingers, estimate_fingers, relaxed
from lifting.lift.lift import LiftOptions, lift_keypoints
from retarget.hand_model import FINGERS, hand_angles, hand_points, total_flexion
from retarget.rotations import axis_angle_matrix
from tests.lift.test_lift import weights  # noqa: F401 (the tiny checkpoint fixture)
from tests.retarget.test_motion3d import make_motion
from tests.support.synthetic import wobbling_keypoints

KNOWN_DEG = np.array(
    [
        [15.0, 20.0, 30.0, 25.0],  # thumb: CMC spread and flexion, MCP, IP
        [-10.0, 40.0, 60.0, 30.0],
        [0.0, 70.0, 90.0, 45.0],
        [5.0, 10.0, 20.0, 5.0],
        [12.0, 85.0, 95.0, 60.0],
    ]
)


def _world(angles_deg: np.ndarray, side: str, frames: int, seed: int = 0) -> np.ndarray:
    """MediaPipe-like hand world landmarks (frames, 21, 3), metres, the hand turned and moved at random."""
    rng = np.random.default_rng(seed)
    pts = hand_points(np.radians(angles_deg), side) * 0.19
    rot = axis_angle_matrix(rng.normal(size=(frames, 3)), rng.uniform(0.0, np.pi, frames))
    return np.asarray(pts @ np.swapaxes(rot, -1, -2) + rng.normal(scale=0.02, size=(frames, 1, 3)))


def _hands(frames: int, angles_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    world = np.stack([_world(angles_deg, "l", frames, 1), _world(angles_deg, "r", frames, 2)], axis=1)
    return world, np.ones((frames, 2)), np.ones((frames, 2, 21))


def test_known_angles_come_back_exactly_per_frame_and_within_a_degree_over_time() -> None:
    for side in "lr":
        per_frame = np.degrees(hand_angles(_world(KNOWN_DEG, side, 7), side))
        np.testing.assert_allclose(per_frame, np.broadcast_to(KNOWN_DEG, per_frame.shape), atol=1e-6)
    world, score, vis = _hands(40, KNOWN_DEG)
    angles, weight = estimate_fingers(world, score, vis, 30.0)
    # Away from the clip's ends (the blend window sees frames outside the clip there as unseen).
    inner = np.degrees(angles[4:-4])
    assert np.abs(inner - KNOWN_DEG).max() < 1.0
    assert weight[4:-4].min() == 1.0
    assert abs(np.degrees(total_flexion(angles[20, 0, 2])) - 205.0) < 1.0  # middle finger: 70 + 90 + 45


def test_a_backwards_bent_finger_is_clamped_to_a_few_degrees_of_hyperextension() -> None:
    bent = KNOWN_DEG.copy()
    bent[1, 1:] = (-40.0, -30.0, -20.0)  # index bent backwards at every joint
    bent[2, 2] = 130.0  # middle PIP flexed beyond 100 degrees
    world, score, vis = _hands(30, bent)
    assert np.degrees(hand_angles(world[0, 0], "l"))[1, 1] < -39.0  # the landmarks do say so
    angles = np.degrees(estimate_fingers(world, score, vis, 30.0)[0][15])
    np.testing.assert_allclose(angles[:, 1, 1:], [[-10.0, -5.0, -5.0]] * 2, atol=1e-6)
    np.testing.assert_allclose(angles[:, 2, 2], [100.0, 100.0], atol=1e-6)


def test_unseen_hands_take_the_relaxed_pose_blended_over_a_few_frames() -> None:
    world, score, vis = _hands(60, KNOWN_DEG)
    score[20:40, 0] = 0.1  # the left hand not seen for 20 frames
    vis[:, 1] = 0.0  # the right hand never seen
    angles, weight = estimate_fingers(world, score, vis, 30.0, FingerConfig())
    rest = relaxed()
    np.testing.assert_allclose(angles[:, 1], np.broadcast_to(rest, angles[:, 1].shape), atol=1e-12)
    assert np.all(weight[:, 1] == 0.0)
    np.testing.assert_allclose(angles[24:36, 0], np.broadcast_to(rest, (12, 5, 4)), atol=1e-9)
    np.testing.assert_allclose(np.degrees(angles[8:20, 0]), np.broadcast_to(KNOWN_DEG, (12, 5, 4)), atol=1.0)
    # Seen frames keep the measured pose; the unseen ones ease into the relaxed hand over 4 frames and back out.
    w = weight[:, 0]
    np.testing.assert_allclose(w[16:24], [1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0])
    np.testing.assert_allclose(w[36:44], [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0])
    curl = np.degrees(total_flexion(angles[:, 0, 4]))  # little finger: 240 degrees seen, 65 relaxed
    assert np.abs(np.diff(curl)).max() <= (240.0 - 65.0) / 4.0 + 1e-6


def test_curl_does_not_flicker_on_a_single_frame_outlier() -> None:
    world, score, vis = _hands(30, KNOWN_DEG)
    world[15, 0] = _world(np.zeros((5, 4)), "l", 1, 9)[0]  # one frame of a flat hand
    angles = np.degrees(estimate_fingers(world, score, vis, 30.0)[0])
    assert np.abs(angles[10:20, 0] - KNOWN_DEG).max() < 1.0


def test_add_fingers_only_when_the_keypoints_carry_hands() -> None:
    motion = make_motion()
    t = motion.num_frames
    assert add_fingers(motion, SimpleNamespace(hands_world=None)) is motion
    world, score, vis = _hands(t, KNOWN_DEG)
    out = add_fingers(motion, SimpleNamespace(hands_world=world, hands_score=score, hands_visibility=vis))
    assert out.fingers is not None and out.fingers.shape == (t, 2, len(FINGERS), 4)
    assert out.finger_weight is not None and out.finger_weight.shape == (t, 2)


def test_lift_adds_fingers_when_the_keypoints_carry_hands(weights: Path) -> None:  # noqa: F811
    clip = wobbling_keypoints(frames=30, fps=30.0)
    world, score, vis = _hands(30, KNOWN_DEG)
    with_hands = SimpleNamespace(
        **{
            k: getattr(clip, k)
            for k in ("keypoints", "visibility", "detected", "timestamps", "fps", "image_size")
        },
        hands_world=world,
        hands_score=score,
        hands_visibility=vis,
    )
    motion = lift_keypoints(with_hands, LiftOptions(weights=weights, device="cpu"))
    assert motion.fingers is not None and motion.finger_weight is not None
    assert np.abs(np.degrees(motion.fingers[10:20]) - KNOWN_DEG).max() < 1.0
    assert (
        lift_keypoints(with_hands, LiftOptions(weights=weights, device="cpu", fingers=False)).fingers is None
    )
    assert lift_keypoints(clip, LiftOptions(weights=weights, device="cpu")).fingers is None
