"""The MediaPipe world-landmark cue of refinement (`RefineConfig.world_weight`, `lifting.lift.refine.world_cue`):
on a synthetic clip whose network lift has a forearm and a shin at the wrong depth, world landmarks made from the
truth (in axes tilted off the camera's, as MediaPipe's are) put them back; their axes are recovered from the 2D;
without world landmarks, or at weight 0, refinement is exactly what it was."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from lifting.errors import MocapError
from lifting.learn.datasets.landmarks import virtual_landmarks
from lifting.lift.refine import WORLD_CUE_BONES, RefineConfig, refine_motion, world_cue
from lifting.skeleton import BLAZEPOSE, OUTPUT
from lifting.video2d.keypoints2d import Keypoints2D
from retarget.motion3d import Motion3D
from tests.lift.test_refine import body_in_camera, keypoints_for, walking_truth

CUE = RefineConfig(world_weight=2.0, world_robust_scale=0.2)
# The bones the lift gets wrong in depth: (from, to).
WRONG = (("l_elbow", "l_wrist"), ("r_knee", "r_ankle"))


def tilt(degrees: float) -> np.ndarray:
    """Rotation (3, 3) about the camera's x axis, for row vectors (points @ R)."""
    a = np.radians(degrees)
    return np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), np.sin(a)], [0.0, -np.sin(a), np.cos(a)]])


def world_landmarks(truth: Motion3D, degrees: float = 12.0) -> np.ndarray:
    """(T, 33, 3) the truth's landmarks about their hip centre, in axes tilted `degrees` off the camera's."""
    cam = virtual_landmarks(body_in_camera(truth))
    hips = cam[:, BLAZEPOSE.indices(["left_hip", "right_hip"])].mean(axis=1, keepdims=True)
    return np.asarray((cam - hips) @ tilt(degrees))


def with_world(keypoints: Keypoints2D, world: np.ndarray | None) -> Keypoints2D:
    return dataclasses.replace(keypoints, pose_world=None if world is None else world.astype(np.float32))


def flattened(truth: Motion3D) -> Motion3D:
    """The truth with the `WRONG` bones turned into the image plane's depth mirror: each bone's offset along the
    camera's z negated (the 2D barely changes; only its depth ordering is wrong), the joints below it following."""
    rel = truth.joints.astype(np.float64).copy()
    i = OUTPUT.index
    for a, b in WRONG:
        bone = rel[:, i[b]] - rel[:, i[a]]
        moved = bone * np.array([1.0, 1.0, -1.0]) - bone
        below = [j for j in range(len(OUTPUT.names)) if j == i[b] or _descends(j, i[b])]
        rel[:, below] += moved[:, None]
    return dataclasses.replace(truth, joints=rel.astype(np.float32))


def _descends(joint: int, ancestor: int) -> bool:
    while OUTPUT.parents[joint] >= 0:
        joint = OUTPUT.parents[joint]
        if joint == ancestor:
            return True
    return False


def depth_error(motion: Motion3D, truth: Motion3D) -> float:
    """Mean error (metres) of the `WRONG` bones' extent along the camera's z."""
    i = OUTPUT.index
    errs = [
        (m.joints[:, i[b], 2].astype(np.float64) - m.joints[:, i[a], 2] for m in (motion, truth))
        for a, b in WRONG
    ]
    return float(np.mean([np.abs(x - y).mean() for x, y in errs]))


@pytest.fixture(scope="module")
def scene() -> tuple[Motion3D, Keypoints2D, Motion3D]:
    truth = walking_truth(60)
    return truth, keypoints_for(truth), flattened(truth)


def test_the_cue_puts_bones_back_at_their_depth(scene: tuple[Motion3D, Keypoints2D, Motion3D]) -> None:
    truth, keypoints, start = scene
    cued = with_world(keypoints, world_landmarks(truth))
    without, _ = refine_motion(start, keypoints, CUE)
    refined, report = refine_motion(start, cued, CUE)
    # Measured: 0.287 m at the start, 0.275 refined without the cue, 0.165 with it (0.258 with a robust scale
    # of 0.05 m, where MediaPipe this far off counts as wrong and is hardly followed).
    assert depth_error(start, truth) > 0.2
    assert depth_error(without, truth) > 0.9 * depth_error(start, truth)
    assert depth_error(refined, truth) < 0.7 * depth_error(without, truth)
    assert report.reprojection_px_after < 3.0  # and the 2D is still met
    strict, _ = refine_motion(start, cued, dataclasses.replace(CUE, world_robust_scale=0.05))
    assert depth_error(strict, truth) > 0.85 * depth_error(without, truth)


def test_the_cue_is_skipped_cleanly_without_world_landmarks(
    scene: tuple[Motion3D, Keypoints2D, Motion3D],
) -> None:
    truth, keypoints, start = scene
    config = RefineConfig(iterations=20)
    plain, _ = refine_motion(start, keypoints, config)
    no_world, _ = refine_motion(start, keypoints, dataclasses.replace(config, world_weight=4.0))
    off, _ = refine_motion(start, with_world(keypoints, world_landmarks(truth)), config)
    for other in (no_world, off):
        np.testing.assert_array_equal(other.joints, plain.joints)
        np.testing.assert_array_equal(other.root, plain.root)


def test_mediapipes_axes_are_recovered_from_the_2d(scene: tuple[Motion3D, Keypoints2D, Motion3D]) -> None:
    """World landmarks 15 degrees off the camera's axes: the cue's bone directions are the truth's within a
    degree on average when rotated by the 2D fit (weak perspective), even though the network is wrong."""
    truth, keypoints, start = scene
    cued = with_world(keypoints, world_landmarks(truth, 15.0))
    rel = start.joints.astype(np.float64)
    image = truth.absolute_joints()[..., :2].astype(np.float64)  # exact image positions at the joints' depth
    image = image / truth.absolute_joints()[..., 2:3] * truth.root[:, None, 2:3]
    cue = world_cue(start, cued, rel, CUE, (image, np.ones(image.shape[:2])))
    assert cue is not None and cue.directions.shape == (60, len(WORLD_CUE_BONES), 3)
    i = OUTPUT.index
    true_dirs = np.stack([truth.joints[:, i[b]] - truth.joints[:, i[a]] for a, b in WORLD_CUE_BONES], axis=1)
    true_dirs /= np.linalg.norm(true_dirs, axis=-1, keepdims=True)
    # The landmarks' hips and the joints' hips differ (HIP_OFFSET): compare the limbs, away from them.
    limbs = [k for k, (a, b) in enumerate(WORLD_CUE_BONES) if "hip" not in a and "hip" not in b]
    angle = np.degrees(np.arccos(np.clip((cue.directions * true_dirs).sum(-1)[:, limbs], -1.0, 1.0)))
    assert angle.mean() < 3.0, angle.mean()
    # Fitted onto the (wrong) network instead, the tilt and the network's errors stay in.
    from_network = world_cue(start, cued, rel, dataclasses.replace(CUE, world_axes="network"))
    assert from_network is not None
    worse = np.degrees(np.arccos(np.clip((from_network.directions * true_dirs).sum(-1)[:, limbs], -1.0, 1.0)))
    assert worse.mean() > angle.mean() + 1.0


def test_frames_without_the_subject_carry_no_cue(scene: tuple[Motion3D, Keypoints2D, Motion3D]) -> None:
    truth, keypoints, start = scene
    detected = np.ones(60, bool)
    detected[10:20] = False
    interpolated = np.zeros(60, bool)
    interpolated[30:35] = True
    world = world_landmarks(truth)
    world[40:45] = 0.0  # found, but no world landmarks (a predicted pose)
    cued = dataclasses.replace(with_world(keypoints, world), detected=detected, interpolated=interpolated)
    cue = world_cue(
        start, cued, start.joints.astype(np.float64), dataclasses.replace(CUE, world_axes="network")
    )
    assert cue is not None
    empty = np.zeros(60, bool)
    empty[10:20] = empty[30:35] = empty[40:45] = True
    assert (cue.weights[empty] == 0).all() and (cue.weights[~empty] > 0).all()


def test_bad_cue_settings_are_one_sentence(scene: tuple[Motion3D, Keypoints2D, Motion3D]) -> None:
    _, keypoints, start = scene
    for bad in (
        {"world_weight": -1.0},
        {"world_form": "angles"},
        {"world_window_s": 0.0},
        {"world_axes": "x"},
    ):
        with pytest.raises(MocapError, match="world-landmark cue"):
            refine_motion(start, keypoints, dataclasses.replace(CUE, **bad))  # type: ignore[arg-type]
    # World landmarks of another shape (a track that is not a Keypoints2D, which refuses them itself).
    short = SimpleNamespace(
        keypoints=keypoints.keypoints,
        visibility=keypoints.visibility,
        detected=keypoints.detected,
        pose_world=np.zeros((60, 17, 3), np.float32),
    )
    with pytest.raises(MocapError, match="world landmarks have shape"):
        refine_motion(start, short, CUE)
