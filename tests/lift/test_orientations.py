"""Head and hand orientations from landmarks (lifting.lift.orientations) on constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from lifting.lift import orientations as O
from lifting.skeleton import BLAZEPOSE
from retarget.rotations import axis_angle_matrix, rotation_angle

F = 1000.0
C = np.array([640.0, 360.0])


def _facing_camera() -> np.ndarray:
    """Head frame (columns left, up, forward) of a person facing the camera, in camera coordinates."""
    return np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]).T


def _turn(yaw: float, pitch: float, roll: float) -> np.ndarray:
    base = _facing_camera()
    r = axis_angle_matrix(base[:, 1], np.radians(yaw))
    r = r @ axis_angle_matrix(base[:, 0], np.radians(-pitch))
    return np.asarray(r @ axis_angle_matrix(base[:, 2], np.radians(roll)) @ base)


def test_a_turned_head_is_recovered_from_its_projected_face() -> None:
    """Face landmarks projected from a known head pose; the prior's frame is 20° off (and weak here); the fit
    finds the pose within a degree."""
    truth = np.stack([_turn(35.0, -20.0, 5.0), _turn(-60.0, 10.0, -8.0), _turn(0.0, -35.0, 0.0)])
    centre = np.array([[0.1, -0.3, 3.0], [-0.2, -0.1, 2.5], [0.0, 0.2, 4.0]])
    points = centre[:, None] + np.einsum("nij,kj->nki", truth, O.FACE_MODEL)
    obs = points[..., :2] / points[..., 2:]
    base = axis_angle_matrix(np.array([0.3, 1.0, 0.2]), np.radians(20.0)) @ truth
    config = O.OrientationConfig(head_prior_deg=90.0, head_pitch_prior_deg=90.0)
    candidates, costs = O.fit_head(base, centre, obs, np.ones(obs.shape[:2]), F, config)
    best = candidates[np.arange(3), np.argmin(costs, axis=1)]
    errors = np.degrees(rotation_angle(np.swapaxes(best, -1, -2) @ truth))
    assert errors.max() < 1.0, errors


def _person(frames: int) -> tuple[np.ndarray, dict[str, int]]:
    """An upright trunk facing the camera 3 m away (camera coordinates; head and nose to be filled in)."""
    names = ["pelvis", "neck", "l_hip", "r_hip", "head", "nose"]
    p = [(0.0, 0.0, 3.0), (0.0, -0.5, 3.0), (0.1, 0.0, 3.0), (-0.1, 0.0, 3.0), (0.0, -0.62, 3.0), (0, 0, 0)]
    absolute = np.broadcast_to(np.array(p), (frames, len(names), 3)).copy()
    return absolute, {n: i for i, n in enumerate(names)}


def _head_pitch(rot: np.ndarray) -> np.ndarray:
    """Degrees below the horizontal (camera y is down) of head frames' forward axes, for the upright trunk."""
    return np.degrees(np.arcsin(np.clip(rot[..., 1, 2], -1.0, 1.0)))


def test_the_neutral_head_follows_the_joints_heading_pitched_below_the_trunk() -> None:
    """The neutral frame takes the heading of the joints' head frame (here 30° to the person's left, its pitch
    60° down and its roll ignored) and the configured pitch below the trunk's forward, with no roll."""
    absolute, index = _person(1)
    joints = np.array([_turn(30.0, -60.0, 25.0)])
    neutral = O.neutral_head_frame(absolute, index, 15.0, joints)[0]
    np.testing.assert_allclose(neutral, _turn(30.0, -15.0, 0.0), atol=1e-9)
    assert np.linalg.det(neutral) > 0.999999
    # Without a frame given, the joints' frame comes from head, nose and neck (nose ahead of the head: no turn).
    absolute[0, index["nose"]] = absolute[0, index["head"]] + _facing_camera() @ O.NOSE_LOCAL
    neutral = O.neutral_head_frame(absolute, index, 0.0)[0]
    np.testing.assert_allclose(neutral, _facing_camera(), atol=1e-9)


def test_head_orientation_follows_the_face_and_keeps_the_neutral_frame_where_it_is_unseen() -> None:
    """The head turns from 40° right to 40° left looking 25° down (10° below the neutral pitch); the joints'
    frame looks 12° lower still (the lifted nose is too low). Seen frames follow the face's heading within 2°;
    their pitch moves from the neutral towards the face's by about a third (the tight pitch prior: real faces
    say little about it, docs/orientations.md); where the face turns out of sight the neutral frame takes over."""
    frames = 30
    yaw = np.linspace(-40.0, 40.0, frames)
    truth = np.stack([_turn(y, -25.0, 0.0) for y in yaw])
    absolute, index = _person(frames)
    head = absolute[:, index["head"]]
    absolute[:, index["nose"]] = head + np.stack([_turn(y, -37.0, 0.0) for y in yaw]) @ O.NOSE_LOCAL
    xy = np.zeros((frames, BLAZEPOSE.num_joints, 2))
    pts = head[:, None] + np.einsum("tij,kj->tki", truth, O.FACE_MODEL)
    xy[:, O.FACE_INDICES] = pts[..., :2] / pts[..., 2:]
    vis = np.zeros((frames, BLAZEPOSE.num_joints))
    vis[:, O.FACE_INDICES] = 1.0
    vis[20:, O.FACE_INDICES] = 0.0  # the face turns out of sight
    config = O.OrientationConfig(head_smooth_s=0.0)
    rot, seen = O.head_orientation(absolute, index, xy, vis, 30.0, F, config)
    assert np.all(seen[:20] == 1.0) and np.all(seen[20:] == 0.0)
    heading = np.degrees(np.arctan2(rot[:, 0, 2], -rot[:, 2, 2]))
    assert np.abs(heading[:20] - yaw[:20]).max() < 2.0, heading[:20] - yaw[:20]
    pitch = _head_pitch(rot[:20])
    assert np.all((pitch > 16.5) & (pitch < 20.0)), pitch
    neutral = O.neutral_head_frame(absolute, index, config.head_neutral_pitch_deg)
    np.testing.assert_allclose(rot[21:], neutral[21:], atol=1e-6)
    np.testing.assert_allclose(_head_pitch(rot[21:]), 15.0, atol=1e-6)


def test_the_pitch_prior_is_tighter_than_the_yaw_prior() -> None:
    """A face turned 20° in yaw and one pitched 20° from the neutral frame, seen from the front: the turn is
    followed about twice as far as the pitch (9.6° and 4.7° of the 20° with the shipped priors)."""
    base = np.stack([_turn(0.0, -15.0, 0.0)] * 2)
    truth = np.stack([_turn(20.0, -15.0, 0.0), _turn(0.0, -35.0, 0.0)])
    centre = np.array([[0.0, -0.5, 3.0]] * 2)
    points = centre[:, None] + np.einsum("nij,kj->nki", truth, O.FACE_MODEL)
    obs = points[..., :2] / points[..., 2:]
    candidates, costs = O.fit_head(base, centre, obs, np.ones(obs.shape[:2]), F)
    best = candidates[np.arange(2), np.argmin(costs, axis=1)]
    moved = np.degrees(rotation_angle(np.swapaxes(best, -1, -2) @ base))
    assert moved[0] > 8.0 and moved[0] > 1.7 * moved[1], moved


def _arm(frames: int) -> tuple[np.ndarray, dict[str, int]]:
    """A person facing the camera 3 m away (camera coordinates), the left elbow bent 90° with the forearm
    pointing at the camera."""
    names = ["pelvis", "neck", "l_hip", "r_hip", "l_shoulder", "l_elbow", "l_wrist", "l_hand"]
    p = {
        "pelvis": (0.0, 0.0, 3.0),
        "neck": (0.0, -0.5, 3.0),
        "l_hip": (0.1, 0.0, 3.0),
        "r_hip": (-0.1, 0.0, 3.0),
        "l_shoulder": (0.2, -0.45, 3.0),
        "l_elbow": (0.2, -0.15, 3.0),
        "l_wrist": (0.2, -0.15, 2.75),
        "l_hand": (0.2, -0.15, 2.66),
    }
    absolute = np.broadcast_to(np.array([p[n] for n in names]), (frames, len(names), 3)).copy()
    return absolute, {n: i for i, n in enumerate(names)}


def test_the_neutral_hand_faces_the_body() -> None:
    """Zero twist with the elbow bent: thumb up, palm towards the body (the person's right for the left hand,
    which facing the camera is the camera's -x)."""
    absolute, index = _arm(1)
    distal, radial0, _ = O.hand_axes(absolute, index, "l", np.ones(1))
    frame = O.hand_frames(distal, radial0, np.zeros(1), "l")[0]
    np.testing.assert_allclose(frame[:, 0], [0.0, 0.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(frame[:, 1], [-1.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(radial0[0], [0.0, -1.0, 0.0], atol=1e-9)  # thumb up (camera y is down)
    assert np.linalg.det(frame) > 0.999


def test_hand_twist_is_continuous_through_a_half_turn_each_way() -> None:
    """The palm turns smoothly from -170° to +170°: the twist follows within 2° inside the anatomical range,
    never steps by more than a few degrees a frame (no flip, no wrap) and stays within its limit."""
    frames = 120
    absolute, index = _arm(frames)
    truth = np.radians(np.linspace(-170.0, 170.0, frames))
    distal, radial0, length = O.hand_axes(absolute, index, "l", np.ones(frames))
    pts = O._hand_points(O.hand_frames(distal, radial0, truth, "l"), absolute[:, 6], length, "l")
    xy = np.zeros((frames, BLAZEPOSE.num_joints, 2))
    xy[:, BLAZEPOSE.indices(["left_index", "left_pinky", "left_thumb"])] = pts[..., :2] / pts[..., 2:]
    wrist = absolute[:, 6]
    xy[:, BLAZEPOSE.index["left_wrist"]] = wrist[:, :2] / wrist[:, 2:]
    vis = np.ones((frames, BLAZEPOSE.num_joints))
    _, twist = O.hand_orientation(absolute, index, xy, vis, "l", np.ones(frames), 30.0)
    steps = np.degrees(np.abs(np.diff(twist)))
    assert steps.max() < 8.0, steps.max()
    assert np.degrees(np.abs(twist)).max() <= O.TWIST_LIMIT_DEG + 1e-9
    inside = np.abs(np.degrees(truth)) < 80.0
    assert np.degrees(np.abs(twist - truth))[inside].max() < 2.0


def test_fit_head_in_blocks_gives_the_one_call_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long clips are fitted `BLOCK` frames at a time (memory); every frame's candidates and costs match the
    single call's."""
    truth = np.stack([_turn(35.0, -20.0, 5.0), _turn(-60.0, 10.0, -8.0), _turn(0.0, -35.0, 0.0)])
    centre = np.array([[0.1, -0.3, 3.0], [-0.2, -0.1, 2.5], [0.0, 0.2, 4.0]])
    points = centre[:, None] + np.einsum("nij,kj->nki", truth, O.FACE_MODEL)
    obs = points[..., :2] / points[..., 2:] + 0.002 * np.random.default_rng(0).normal(
        size=points[..., :2].shape
    )
    base = axis_angle_matrix(np.array([0.3, 1.0, 0.2]), np.radians(20.0)) @ truth
    weights = np.linspace(0.3, 1.0, obs.shape[0] * obs.shape[1]).reshape(obs.shape[:2])
    whole = O.fit_head(base, centre, obs, weights, F, also_from=truth)
    monkeypatch.setattr(O, "BLOCK", 2)
    blocks = O.fit_head(base, centre, obs, weights, F, also_from=truth)
    assert whole[0].shape == blocks[0].shape == (3, 6, 3, 3)
    np.testing.assert_allclose(blocks[0], whole[0], atol=1e-12)
    np.testing.assert_allclose(blocks[1], whole[1], rtol=1e-12)
