"""Foot contacts and foot locking on a synthetic walk whose planted feet slide."""

import numpy as np
import numpy.typing as npt

from retarget import mocap21
from retarget.animation import pose_matrices
from retarget.contacts import ContactConfig, clean, detect_contacts, hysteresis, runs
from retarget.foot_lock import FootLockConfig, pin_offsets, two_bone_ik
from retarget.pipeline import RetargetConfig, retarget
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import axis_angle_matrix
from tests.support.paths import RIGS
from tests.support.synthetic import camera_motion, walking_joints


def test_hysteresis_and_cleaning() -> None:
    on = np.array([0, 1, 0, 0, 0, 0, 1, 0], dtype=bool)
    off = np.array([0, 0, 0, 1, 0, 0, 0, 0], dtype=bool)
    np.testing.assert_array_equal(hysteresis(on, off), [0, 1, 1, 0, 0, 0, 1, 1])
    mask = np.array([1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0], dtype=bool)
    np.testing.assert_array_equal(clean(mask, min_len=2, min_gap=2), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    assert runs(np.array([0, 1, 1, 0, 1], dtype=bool)) == [(1, 3), (4, 5)]


def test_contacts_match_the_walks_stance_phases() -> None:
    world, truth = walking_joints(330, slide=0.03, jitter=0.004)
    ankles = world[:, [mocap21.NAMES.index("l_ankle"), mocap21.NAMES.index("r_ankle")]]
    found = detect_contacts(ankles, 30.0, ContactConfig())
    assert (found == truth).mean() > 0.9
    assert not (found & ~truth).any(axis=1)[truth.sum(axis=1) == 0].any()


def test_two_bone_ik_reaches_and_keeps_lengths() -> None:
    rng = np.random.default_rng(0)
    n = 50
    hip = rng.normal(size=(n, 3))
    thigh_dir = np.array([0.0, 0.0, -1.0])
    knee = hip + 0.45 * thigh_dir
    ankle = knee + 0.42 * (axis_angle_matrix(np.array([1.0, 0, 0]), -1.0) @ thigh_dir)  # reach 0.76 of 0.87
    target = ankle + rng.normal(0, 0.02, (n, 3))
    axis = np.broadcast_to([1.0, 0.0, 0.0], (n, 3))
    d_thigh, d_shin = two_bone_ik(hip, knee, ankle, target, axis)
    new_knee = hip + np.einsum("nij,nj->ni", d_thigh, knee - hip)
    new_ankle = new_knee + np.einsum("nij,nj->ni", d_shin, ankle - knee)
    np.testing.assert_allclose(new_ankle, target, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(new_ankle - new_knee, axis=-1), 0.42, atol=1e-9)
    far = hip + np.array([0.0, 0.0, -2.0])  # out of reach: the leg straightens towards it
    d_thigh, d_shin = two_bone_ik(hip, knee, ankle, far, axis)
    new_knee = hip + np.einsum("nij,nj->ni", d_thigh, knee - hip)
    new_ankle = new_knee + np.einsum("nij,nj->ni", d_shin, ankle - knee)
    np.testing.assert_allclose(new_ankle - hip, np.broadcast_to([0.0, 0.0, -0.87], (n, 3)), atol=1e-5)


def test_pin_offsets_blend_outside_contacts_only() -> None:
    ankle = np.stack([np.linspace(0, 1, 40), np.zeros(40), np.zeros(40)], 1)
    contact = np.zeros(40, dtype=bool)
    contact[10:20] = True
    off = pin_offsets(ankle, contact, blend_frames=4)
    np.testing.assert_allclose(
        (ankle + off)[10:20], np.broadcast_to(ankle[10:20].mean(0), (10, 3)), atol=1e-12
    )
    assert np.all(off[:6] == 0) and np.all(off[24:] == 0)
    assert np.all(np.abs(off[6:10, 0]) <= np.abs(off[10, 0]) + 1e-12)


def feet_and_contacts(lock: bool, frames: int = 330) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    world, _ = walking_joints(frames, slide=0.03, jitter=0.008, seed=3)
    motion = camera_motion(world, 30.0, pitch_deg=10.0)
    rest = RestSkeleton.load_json(RIGS / "mesh2motion_human.json")
    result = retarget(motion, rest, RetargetConfig(foot_lock=lock))
    pose = pose_matrices(rest, result.animation)
    feet = np.stack([pose[:, rest.bone("foot_l"), :3, 3], pose[:, rest.bone("foot_r"), :3, 3]], 1)
    return feet, result.contacts


def test_foot_locking_removes_slide_and_leaves_other_frames() -> None:
    free, contacts = feet_and_contacts(lock=False)
    locked, contacts_locked = feet_and_contacts(lock=True)
    np.testing.assert_array_equal(contacts, contacts_locked)
    blend = round(FootLockConfig().blend * 30.0)
    for f in range(2):
        before = after = 0.0
        for s, e in runs(contacts[:, f]):
            before += np.linalg.norm(np.diff(free[s:e, f], axis=0), axis=-1).sum()
            after += np.linalg.norm(np.diff(locked[s:e, f], axis=0), axis=-1).sum()
        assert after <= 0.2 * before, (before, after)  # at least 80% of the slide removed
        change = np.linalg.norm(locked[:, f] - free[:, f], axis=-1)
        off = ~contacts[:, f]
        # Frames without contact: a few millimetres on average (blend windows, toes lifted onto the floor).
        assert change[off].mean() <= 0.008
        near = np.convolve(contacts[:, f].astype(float), np.ones(2 * blend + 1), mode="same") > 0
        # Beyond the blend: untouched, or only lifted (a toe below the floor raised onto it).
        far = off & ~near
        np.testing.assert_allclose(locked[far, f, :2], free[far, f, :2], atol=2e-3)
        assert np.all(locked[far, f, 2] >= free[far, f, 2] - 1e-9)
