"""Ground that changes level, the up axis from all contacts, a root consistent with planted feet (issue 22)."""

import numpy as np

from retarget import mocap21
from retarget.contacts import contacts_from_probabilities, runs
from retarget.foot_lock import pin_offsets
from retarget.ground import GroundConfig
from retarget.motion3d import Motion3D
from retarget.placement import PlacementConfig, place
from tests.support.synthetic import camera_motion, walking_joints

IX = {n: i for i, n in enumerate(mocap21.NAMES)}


def stepping_down(frames: int = 240, drop: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """A walk on a box `drop` m high that steps down to the floor over 0.3 s mid-clip (world, contacts)."""
    world, contacts = walking_joints(frames, slide=0.0, jitter=0.0)
    t = np.arange(frames) / 30.0
    mid = t[frames // 2]
    lift = drop * np.clip((mid + 0.15 - t) / 0.3, 0.0, 1.0)
    world[..., 2] += lift[:, None]
    return world, contacts


def test_two_levels_give_an_exact_up_axis_and_each_segments_support() -> None:
    world, _ = stepping_down()
    motion = camera_motion(world, 30.0, pitch_deg=15.0, roll_deg=6.0, yaw_deg=20.0)
    placed, placement = place(motion)
    true_up = _camera_up(pitch=15.0, roll=6.0, yaw=20.0)
    angle = np.degrees(np.arccos(np.clip(placement.up_camera @ true_up, -1.0, 1.0)))
    assert angle < 0.5
    support = placement.support
    assert support is not None and placement.contacts is not None
    early, late = placement.contacts[:90], placement.contacts[150:]
    assert early.any() and late.any()
    np.testing.assert_allclose(support[:90][early], 0.4, atol=0.02)  # the box
    np.testing.assert_allclose(support[150:][late], 0.0, atol=0.02)  # the floor: Z = 0
    err = np.abs(placed[..., 2] - world[..., 2])
    assert np.percentile(err, 95) < 0.02 and err.max() < 0.08  # the root solve bends most around the step


def _camera_up(pitch: float, roll: float, yaw: float) -> np.ndarray:
    """World +Z in the camera coordinates of `camera_motion` with these angles."""
    pts = np.zeros((2, len(mocap21.NAMES), 3))
    pts[1, :, 2] = 1.0
    m = camera_motion(pts, 30.0, pitch_deg=pitch, roll_deg=roll, yaw_deg=yaw)
    a = m.absolute_joints()
    v = a[1, 0] - a[0, 0]
    return np.asarray(v / np.linalg.norm(v))


def test_root_solve_keeps_planted_feet_put_when_the_depth_wobbles() -> None:
    world, _ = walking_joints(180, slide=0.0, jitter=0.0)
    motion = camera_motion(world, 30.0, pitch_deg=10.0)
    ray = motion.root / np.linalg.norm(motion.root, axis=1, keepdims=True)
    wobble = 0.15 * np.sin(np.arange(180) * 2.0 * np.pi / 23.0)  # the lifter's depth guess per pose
    wobbly = Motion3D(
        joints=motion.joints,
        root=(motion.root + wobble[:, None] * ray).astype(np.float32),
        joint_names=motion.joint_names,
        parents=motion.parents,
        fps=motion.fps,
        intrinsics=motion.intrinsics,
        confidence=motion.confidence,
    )

    def worst_slide(cfg: GroundConfig) -> float:
        placed, placement = place(wobbly, PlacementConfig(ground=cfg))
        assert placement.contacts is not None
        out = 0.0
        for f, toe in enumerate((IX["l_toe"], IX["r_toe"])):
            for s, e in runs(placement.contacts[:, f]):
                p = placed[s:e, toe, :2]
                out = max(out, float(np.linalg.norm(p - p.mean(axis=0), axis=1).max()))
        return out

    assert worst_slide(GroundConfig(solve_root=False)) > 0.03
    assert worst_slide(GroundConfig()) < 0.015  # 12 mm measured against 15 cm of depth wobble


def test_contact_probabilities_plant_a_foot_by_heel_or_toe_with_hysteresis() -> None:
    p = np.zeros((30, 4))
    p[5:15, 0] = 0.9  # left heel
    p[12:20, 1] = 0.9  # left toe: the foot stays planted 5-19
    p[16, 1] = 0.5  # inside the hysteresis band: still planted
    p[22, 2] = 0.9  # right heel for one frame: shorter than min_contact (2 frames at 30 fps)
    got = contacts_from_probabilities(p, 30.0)
    assert runs(got[:, 0]) == [(5, 20)]
    assert not got[:, 1].any()


def test_given_probabilities_are_the_contacts_everything_uses() -> None:
    world, truth = walking_joints(120, slide=0.0, jitter=0.0)
    motion = camera_motion(world, 30.0)
    probs = np.repeat(truth.astype(np.float32), 2, axis=1)  # heel and toe per side
    with_probs = Motion3D(
        joints=motion.joints,
        root=motion.root,
        joint_names=motion.joint_names,
        parents=motion.parents,
        fps=motion.fps,
        intrinsics=motion.intrinsics,
        confidence=motion.confidence,
        contacts=probs,
    )
    _, placement = place(with_probs)
    assert placement.contacts is not None
    assert (placement.contacts == contacts_from_probabilities(probs, 30.0)).all()
    assert placement.contacts.all(axis=1).any()  # double support: both planted


def test_a_lifted_foot_is_not_pushed_down_by_the_blend() -> None:
    ankle = np.zeros((30, 3))
    ankle[:10, 2] = 0.3  # swinging high before the contact
    ankle[10:20, 2] = 0.05
    contact = np.zeros(30, dtype=bool)
    contact[10:20] = True
    off = pin_offsets(ankle, contact, blend_frames=4)
    assert (off[6:10, 2] < 0).any()  # the raw blend would pull it down; lock_feet clamps that to >= 0


def test_a_staircase_of_many_short_levels_still_gets_a_floor() -> None:
    # Ten steps 0.3 m apart, none holding 15 % of the contact frames: once a crash (no level qualified).
    frames = 600
    world, _ = walking_joints(frames, slide=0.0, jitter=0.0)
    world[..., 2] += 0.3 * (np.arange(frames) * 10 // frames)[:, None]
    placed, placement = place(camera_motion(world, 30.0, pitch_deg=10.0))
    assert placement.support is not None and placement.contacts is not None and placement.contacts.any()
    assert np.isfinite(placed).all()
    supports = np.unique(np.round(placement.support[placement.contacts], 1))
    assert len(supports) >= 8 and 0.0 in supports  # one support per step, Z = 0 on one of them
