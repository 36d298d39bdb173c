"""Camera -> world placement: up axis and ground from the feet, facing, origin, height scale."""

import numpy as np
import pytest

from retarget import mocap21
from retarget.errors import RetargetError
from retarget.ground import GroundConfig, fit_up
from retarget.placement import PlacementConfig, estimate_height, place
from tests.support.synthetic import camera_motion, walking_joints


@pytest.mark.parametrize(("pitch", "roll"), [(0.0, 0.0), (20.0, 0.0), (12.0, 7.0), (-5.0, -10.0)])
def test_recovers_ground_and_heights_for_tilted_cameras(pitch: float, roll: float) -> None:
    world, _ = walking_joints(150)
    motion = camera_motion(world, 30.0, pitch_deg=pitch, roll_deg=roll, yaw_deg=25.0)
    # The walk's planted feet slide 5 cm (on purpose): the root solve would pin them, so it is off here.
    placed, _ = place(motion, PlacementConfig(ground=GroundConfig(solve_root=False)))
    # Heights above the ground are camera-independent: the fitted floor is the true floor.
    np.testing.assert_allclose(placed[..., 2], world[..., 2], atol=0.006)
    # Horizontal distances are kept (a rigid motion of the ground plane).
    d_true = np.linalg.norm(world[:, 0, :2] - world[0, 0, :2], axis=-1)
    d_placed = np.linalg.norm(placed[:, 0, :2] - placed[0, 0, :2], axis=-1)
    np.testing.assert_allclose(d_placed, d_true, atol=0.005)
    np.testing.assert_allclose(placed[0, 0, :2], 0.0, atol=1e-9)  # origin under the first pelvis


def test_facing_camera_vs_front() -> None:
    world, _ = walking_joints(100)  # walks and faces +Y, i.e. away from a camera looking along +Y
    motion = camera_motion(world, 30.0, yaw_deg=-60.0)
    kept, _ = place(motion, PlacementConfig(facing="camera"))
    front, _ = place(motion, PlacementConfig(facing="front"))
    pel = mocap21.NAMES.index("pelvis")
    heading_kept = kept[-1, pel, :2] - kept[0, pel, :2]
    heading_front = front[-1, pel, :2] - front[0, pel, :2]
    # Camera yawed -60 deg: seen from it the walk heads 60 degrees off its axis.
    assert np.degrees(np.arctan2(heading_kept[0], heading_kept[1])) == pytest.approx(-60.0, abs=1.0)
    np.testing.assert_allclose(heading_front / np.linalg.norm(heading_front), [0.0, -1.0], atol=0.02)


def test_person_height_override_scales_everything() -> None:
    world, _ = walking_joints(100)
    motion = camera_motion(world, 30.0)
    base, p0 = place(motion)
    scaled, p1 = place(motion, PlacementConfig(person_height=2.0 * p0.estimated_height))
    assert p1.scale == pytest.approx(2.0)
    np.testing.assert_allclose(scaled, 2.0 * base, atol=1e-6)
    assert estimate_height(world, mocap21.NAMES) == pytest.approx(p0.estimated_height, rel=1e-6)
    with pytest.raises(RetargetError, match="positive"):
        place(motion, PlacementConfig(person_height=-1.0))
    with pytest.raises(RetargetError, match="unknown facing"):
        place(motion, PlacementConfig(facing="left"))


def test_camera_pose_in_world() -> None:
    world, _ = walking_joints(60)
    motion = camera_motion(world, 30.0, camera_position=(0.0, -4.0, 1.2), pitch_deg=10.0)
    _, placement = place(
        motion, PlacementConfig(origin="camera", ground=GroundConfig(solve_root=False))
    )  # the walk's sliding feet would move the root solve's floor by a few centimetres
    cam = placement.camera_matrix_world()
    np.testing.assert_allclose(cam[:3, 3], [0.0, 0.0, 1.2], atol=0.01)  # 1.2 m above the floor
    forward = cam[:3, 2]
    assert np.degrees(np.arcsin(-forward[2])) == pytest.approx(10.0, abs=0.2)  # pitched 10 degrees down


def test_fit_ground_prior_fixes_unconstrained_tilt() -> None:
    rng = np.random.default_rng(0)
    line = np.stack(
        [rng.uniform(-2, 2, 200), np.zeros(200), rng.normal(0, 0.002, 200)], 1
    )  # contacts on a line
    prior = np.array([0.0, 0.2, 1.0]) / np.linalg.norm([0.0, 0.2, 1.0])
    n = fit_up(line, np.zeros(len(line), dtype=int), prior, 0.02)
    assert abs(n[0]) < 0.01  # the data fixes the tilt along the line...
    assert n @ prior > 0.999  # ...and the prior the tilt about it
