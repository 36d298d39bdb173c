"""End to end: Motion3D in camera space -> placement -> solve -> keys on several rigs."""

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from retarget import mocap21
from retarget.animation import BoneAnimation, pose_matrices, posed_points
from retarget.errors import RetargetError
from retarget.our_rig import build_rest_skeleton
from retarget.pipeline import RetargetConfig, retarget, retarget_onto_ours
from retarget.placement import place
from retarget.presets import bone_map_for
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import angle_between, axis_angle_matrix
from retarget.solve import SolvePlan, build_plan
from tests.support.paths import RIGS
from tests.support.synthetic import camera_motion, walking_joints


def rig_sites(
    rest: RestSkeleton, result_anim: BoneAnimation, plan: SolvePlan
) -> dict[str, npt.NDArray[np.float64]]:
    pose = pose_matrices(rest, result_anim)
    names = list(plan.sites)
    pts = posed_points(
        pose, rest, [plan.site_bone[n] for n in names], np.stack([plan.sites[n] for n in names])
    )
    return {n: pts[:, k] for k, n in enumerate(names)}


@pytest.mark.parametrize("rig", ["mesh2motion_human.json", "mixamo_apose.json", "rigify_generated.json"])
def test_segments_follow_the_motion_and_feet_stand_on_the_floor(rig: str) -> None:
    world, _ = walking_joints(120, slide=0.0, jitter=0.0)
    motion = camera_motion(world, 30.0, pitch_deg=12.0, yaw_deg=20.0)
    rest = RestSkeleton.load_json(RIGS / rig)
    result = retarget(motion, rest, RetargetConfig(foot_lock=False))
    plan = build_plan(rest, result.bone_map, mocap21.NAMES)
    sites = rig_sites(rest, result.animation, plan)
    ix = {n: i for i, n in enumerate(mocap21.NAMES)}
    for joint, bone in result.bone_map.drive.items():
        end = mocap21.RULES[joint].end
        want = result.world_joints[:, ix[end]] - result.world_joints[:, ix[joint]]
        got = sites[end] - sites[joint]
        assert np.degrees(angle_between(got, want)).max() < 0.01, (joint, bone)
    # The pelvis follows the scaled trajectory; planted toes stand at the rig's rest toe height.
    s = result.root_scale
    np.testing.assert_allclose(
        sites["pelvis"][:, :2], s * result.world_joints[:, ix["pelvis"], :2], atol=1e-6
    )
    toes = np.minimum(sites["l_toe"][:, 2], sites["r_toe"][:, 2])
    rest_toe = 0.5 * (plan.sites["l_toe"][2] + plan.sites["r_toe"][2])
    assert abs(np.percentile(toes, 5) - rest_toe) < 0.02 * s


def test_feet_on_floor_keeps_the_rigs_toes_as_high_as_the_persons_when_lifted_legs_vary() -> None:
    """Lifted shins that stretch by +-8 % (foreshortening): the rig's lower toe still tracks the person's."""
    world, _ = walking_joints(90, slide=0.0, jitter=0.0)
    ix = {n: i for i, n in enumerate(mocap21.NAMES)}
    stretch = 1.0 + 0.08 * np.sin(np.linspace(0.0, 6.0 * np.pi, len(world)))
    for s in "lr":
        knee, ankle, toe = (ix[f"{s}_{j}"] for j in ("knee", "ankle", "toe"))
        move = (stretch[:, None] - 1.0) * (world[:, ankle] - world[:, knee])
        world[:, ankle] += move
        world[:, toe] += move
    motion = camera_motion(world, 30.0, pitch_deg=10.0)
    rest = RestSkeleton.load_json(RIGS / "mixamo_tpose.json")
    plan = build_plan(rest, bone_map_for(rest.names), mocap21.NAMES)
    rest_toe = 0.5 * (plan.sites["l_toe"][2] + plan.sites["r_toe"][2])
    lowest = {}
    for on in (True, False):
        result = retarget(motion, rest, RetargetConfig(foot_lock=False, feet_on_floor=on))
        sites = rig_sites(rest, result.animation, plan)
        rig = np.minimum(sites["l_toe"][:, 2], sites["r_toe"][:, 2])
        person = result.root_scale * result.world_joints[:, [ix["l_toe"], ix["r_toe"]], 2].min(axis=1)
        lowest[on] = (rig, person + rest_toe, sites["pelvis"][:, :2])
    rig, want, pelvis_xy = lowest[True]
    np.testing.assert_allclose(rig, want, atol=1e-9)
    assert np.abs(lowest[False][0] - want).max() > 0.02  # without it the feet sink and float with the shins
    np.testing.assert_allclose(pelvis_xy, lowest[False][2], atol=1e-12)  # only the height changes


def test_armature_object_rotation_and_scale_are_honoured() -> None:
    """An FBX-style armature: bones in centimetres, Y up, object rotated +90 deg about X and scaled 0.01."""
    world, _ = walking_joints(60, slide=0.0, jitter=0.0)
    motion = camera_motion(world, 30.0)
    rest = RestSkeleton.load_json(RIGS / "mixamo_tpose.json")
    to_yup = np.eye(4)
    to_yup[:3, :3] = (
        axis_angle_matrix(np.array([1.0, 0.0, 0.0]), -np.pi / 2) * 100.0
    )  # metres Z up -> cm Y up
    mats = to_yup @ rest.matrices
    mats[:, :3, :3] /= 100.0
    rest_cm = RestSkeleton(rest.names, rest.parents, mats, rest.lengths * 100.0)
    obj = np.linalg.inv(to_yup)  # the object's world matrix undoes it
    a = retarget(motion, rest, RetargetConfig(foot_lock=False)).animation
    b = retarget(
        motion, rest_cm, RetargetConfig(foot_lock=False, armature_matrix=tuple(map(tuple, obj)))
    ).animation
    np.testing.assert_allclose(b.rotations, a.rotations, atol=1e-6)
    pose_a = pose_matrices(rest, a)[:, :, :3, 3]
    pose_b = pose_matrices(rest_cm, b)[:, :, :3, 3] @ obj[:3, :3].T
    np.testing.assert_allclose(pose_b, pose_a, atol=1e-6)


def test_our_armature_matches_the_clip_and_round_trips() -> None:
    world, _ = walking_joints(150, slide=0.0, jitter=0.0)
    motion = camera_motion(world, 30.0)
    rest = build_rest_skeleton(world, mocap21.NAMES)
    ix = {n: i for i, n in enumerate(mocap21.NAMES)}
    for bone, (a, b) in {
        "mocap_thigh.L": ("l_hip", "l_knee"),
        "mocap_forearm.R": ("r_elbow", "r_wrist"),
    }.items():
        median = np.median(np.linalg.norm(world[:, ix[a]] - world[:, ix[b]], axis=-1))
        assert rest.lengths[rest.bone(bone)] == pytest.approx(median, rel=1e-6)
    heads = rest.heads
    assert abs(min(rest.tails[rest.bone("mocap_foot.L")][2], rest.tails[rest.bone("mocap_foot.R")][2])) < 1e-9
    assert heads[rest.bone("mocap_upper_arm.L")][0] > 0  # left on +X, facing -Y
    result = retarget(motion, rest, RetargetConfig(foot_lock=False))
    assert result.bone_map.preset == "ours"
    assert result.root_scale == pytest.approx(1.0, rel=1e-6)


def test_retarget_onto_ours_places_once_and_equals_the_two_steps() -> None:
    world, _ = walking_joints(60, slide=0.0, jitter=0.01)
    motion = camera_motion(world, 30.0)
    placed, _ = place(motion)
    config = RetargetConfig(smoothing=0.3, preset="mixamo")  # the preset is ours whatever the config says
    want = retarget(motion, build_rest_skeleton(placed, motion.joint_names), replace(config, preset="ours"))
    rest, got = retarget_onto_ours(motion, config)
    assert rest.names == build_rest_skeleton(placed, motion.joint_names).names
    assert got.bone_map.preset == "ours" and got.root_scale == want.root_scale
    np.testing.assert_array_equal(got.animation.rotations, want.animation.rotations)
    np.testing.assert_array_equal(got.animation.root_location, want.animation.root_location)


def test_smoothing_and_lock_options_run_and_bad_config_is_reported() -> None:
    world, _ = walking_joints(90)
    motion = camera_motion(world, 30.0)
    rest = RestSkeleton.load_json(RIGS / "mesh2motion_human.json")
    r1 = retarget(motion, rest, RetargetConfig(smoothing=0.5, smoothing_method="one_euro"))
    r2 = retarget(motion, rest, RetargetConfig(smoothing=0.5, smoothing_method="one_euro"))
    np.testing.assert_array_equal(r1.animation.rotations, r2.animation.rotations)  # deterministic
    assert r1.animation.contacts is not None and r1.animation.contacts.shape == (90, 2)
    with pytest.raises(RetargetError, match="singular"):
        retarget(motion, rest, RetargetConfig(armature_matrix=((0.0,) * 4,) * 4))
    with pytest.raises(RetargetError, match="root scale"):
        retarget(motion, rest, RetargetConfig(root_scale=-1.0))
