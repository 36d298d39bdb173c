"""Foot contacts and foot locking on a synthetic walk whose planted feet slide."""

import numpy as np
import numpy.typing as npt

from retarget import mocap21
from retarget.animation import pose_matrices, posed_points
from retarget.contacts import ContactConfig, clean, detect_contacts, hysteresis, runs
from retarget.foot_lock import FootLockConfig, heading_turns, pin_offsets, two_bone_ik
from retarget.pipeline import RetargetConfig, retarget, retarget_onto_ours
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import axis_angle_matrix
from retarget.solve import build_plan
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


def test_heading_turns_hold_the_contacts_mean_heading() -> None:
    angle = np.array([0.0, 0.0, 0.1, 0.3, 0.2, 0.0, 0.0, 0.0])
    toe = np.stack([np.cos(angle), np.sin(angle), np.zeros(8)], 1)
    contact = np.zeros(8, dtype=bool)
    contact[2:5] = True
    turn = heading_turns(np.zeros((8, 3)), toe, contact, blend_frames=2)
    # In the contact: to the mean 0.2; before it the first frame's 0.1 fades (smoothstep 20/27, 7/27); after it
    # the last frame's 0.0.
    np.testing.assert_allclose(turn, [0.1 * 7 / 27, 0.1 * 20 / 27, 0.1, -0.1, 0.0, 0.0, 0.0, 0.0], atol=1e-12)
    # Across +-pi: the heading unwrapped, its mean pi.
    back = np.array([3.1, -3.1])
    toe = np.stack([np.cos(back), np.sin(back), np.zeros(2)], 1)
    turn = heading_turns(np.zeros((2, 3)), toe, np.ones(2, dtype=bool), blend_frames=0)
    np.testing.assert_allclose(turn, [np.pi - 3.1, 3.1 - np.pi], atol=1e-12)


def planted_headings(heading: bool) -> tuple[list[npt.NDArray[np.float64]], npt.NDArray[np.float64]]:
    """Per contact run, the rig's toe heading (radians, from the ankle site, seen from above), and the rig's
    ankle sites (T, 2, 3), on our armature retargeted from the jittery synthetic walk whose feet also turn
    randomly (0.05 rad) about the vertical through the ankle."""
    world, _ = walking_joints(330, slide=0.03, jitter=0.008, seed=3)
    rng = np.random.default_rng(5)
    for side in "lr":
        ankle, toe = (mocap21.NAMES.index(f"{side}_{j}") for j in ("ankle", "toe"))
        spin = axis_angle_matrix(np.array([0.0, 0.0, 1.0]), rng.normal(0.0, 0.05, len(world)))
        world[:, toe] = world[:, ankle] + np.einsum("tij,tj->ti", spin, world[:, toe] - world[:, ankle])
    motion = camera_motion(world, 30.0, pitch_deg=10.0)
    rest, result = retarget_onto_ours(motion, RetargetConfig(lock=FootLockConfig(heading=heading)))
    plan = build_plan(rest, result.bone_map, motion.joint_names)
    names = ["l_ankle", "l_toe", "r_ankle", "r_toe"]
    pts = posed_points(
        pose_matrices(rest, result.animation),
        rest,
        [plan.site_bone[n] for n in names],
        np.stack([plan.sites[n] for n in names]),
    )
    out = []
    for f in range(2):
        v = pts[:, 2 * f + 1] - pts[:, 2 * f]
        angle = np.unwrap(np.arctan2(v[:, 1], v[:, 0]))
        out += [angle[s:e] for s, e in runs(result.contacts[:, f])]
    return out, pts[:, 0::2]


def test_foot_locking_holds_a_planted_foots_heading() -> None:
    held, ankles = planted_headings(heading=True)
    free, ankles_free = planted_headings(heading=False)
    assert len(held) == len(free) >= 4
    # Held: one heading per contact (the ankle site is the foot's pivot); free: the jitter turns the foot.
    assert max(float(np.ptp(a)) for a in held) < 1e-6
    assert max(float(np.ptp(a)) for a in free) > 0.05
    # The turn is about the ankle: the ankles are where they were.
    np.testing.assert_allclose(ankles, ankles_free, atol=1e-9)
