"""Round trips per preset: known bone animation -> FK -> our joints -> solve -> the same rotations.

Rigs: the real Mesh2Motion human (read from its .blend), Mesh2Motion's Kenney rig (from its .glb),
synthetic Rigify metarigs in T-pose and A-pose, a generated Rigify rig (FK controls and DEF bones),
Mixamo rigs in T-pose and A-pose with arbitrary rolls, our own generated armature, and every rig again
with all bone rolls randomised.
"""

import numpy as np
import pytest

from retarget import mocap21
from retarget.animation import pose_matrices
from retarget.mapping import BoneMap
from retarget.our_rig import build_rest_skeleton
from retarget.presets import bone_map_for, preset_data
from retarget.quaternions import quat_angle
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import angle_between, axis_angle_matrix
from retarget.solve import build_plan, solve
from tests.support.paths import RIGS
from tests.support.synthetic import observable_animation, site_joints, walking_joints

CASES = [
    ("mesh2motion_human.json", None),
    ("kenney_human.json", None),
    ("rigify_metarig_tpose.json", None),
    ("rigify_metarig_apose.json", None),
    ("rigify_generated.json", "rigify_generated"),
    ("rigify_generated.json", "rigify_generated_def"),
    ("mixamo_tpose.json", None),
    ("mixamo_apose.json", None),
]


def reroll(rest: RestSkeleton, seed: int) -> RestSkeleton:
    """Same heads and tails, every bone rolled by a random angle about its own Y axis."""
    rng = np.random.default_rng(seed)
    mats = rest.matrices.copy()
    for i in range(rest.num_bones):
        mats[i, :3, :3] = mats[i, :3, :3] @ axis_angle_matrix(
            np.array([0.0, 1.0, 0.0]), rng.uniform(-np.pi, np.pi)
        )
    return RestSkeleton(rest.names, rest.parents, mats, rest.lengths)


def our_rest() -> RestSkeleton:
    world, _ = walking_joints(90)
    return build_rest_skeleton(world, mocap21.NAMES)


def check_round_trip(rest: RestSkeleton, bone_map: BoneMap, seed: int) -> None:
    plan = build_plan(rest, bone_map, mocap21.NAMES)
    truth = observable_animation(plan, 120, seed=seed)
    joints = site_joints(plan, truth, mocap21.NAMES)
    solved = solve(plan, joints, truth.fps)
    assert solved.bone_names == truth.bone_names
    err = np.degrees(quat_angle(solved.rotations, truth.rotations))
    assert err.mean() <= 0.5, err.mean()
    assert err.max() <= 1.0, err.max()
    np.testing.assert_allclose(solved.root_location, truth.root_location, atol=1e-6)
    # Limb directions (each driven bone's Y axis in armature space) within 1 degree.
    p_true, p_solved = pose_matrices(rest, truth), pose_matrices(rest, solved)
    driven = list(plan.driven)
    dir_err = np.degrees(angle_between(p_true[:, driven, :3, 1], p_solved[:, driven, :3, 1]))
    assert dir_err.max() <= 1.0
    # Consecutive keys never flip sign.
    assert np.all(np.sum(solved.rotations[1:] * solved.rotations[:-1], axis=-1) >= 0)


@pytest.mark.parametrize(("rig", "preset"), CASES)
def test_round_trip_per_preset(rig: str, preset: str | None) -> None:
    rest = RestSkeleton.load_json(RIGS / rig)
    check_round_trip(rest, bone_map_for(rest.names, preset), seed=1)


@pytest.mark.parametrize(("rig", "preset"), CASES)
def test_round_trip_with_random_rolls(rig: str, preset: str | None) -> None:
    rest = reroll(RestSkeleton.load_json(RIGS / rig), seed=5)
    check_round_trip(rest, bone_map_for(rest.names, preset), seed=2)


def test_round_trip_our_generated_armature() -> None:
    rest = our_rest()
    check_round_trip(rest, bone_map_for(rest.names), seed=3)
    check_round_trip(reroll(rest, 9), bone_map_for(rest.names), seed=4)


def test_t_pose_and_a_pose_rigs_give_the_same_world_pose() -> None:
    """The same joints drive a T-pose and an A-pose rig to the same bone directions in the world."""
    t_rest = RestSkeleton.load_json(RIGS / "rigify_metarig_tpose.json")
    a_rest = RestSkeleton.load_json(RIGS / "rigify_metarig_apose.json")
    t_plan = build_plan(t_rest, bone_map_for(t_rest.names), mocap21.NAMES)
    a_plan = build_plan(a_rest, bone_map_for(a_rest.names), mocap21.NAMES)
    joints = site_joints(t_plan, observable_animation(t_plan, 60, seed=6), mocap21.NAMES)
    pose_a = pose_matrices(a_rest, solve(a_plan, joints, 30.0))
    for joint in ("l_shoulder", "r_elbow", "l_hip", "r_knee"):
        end = mocap21.RULES[joint].end
        seg = joints[:, mocap21.NAMES.index(end)] - joints[:, mocap21.NAMES.index(joint)]
        bone = a_rest.bone(a_plan.bone_map.drive[joint])
        # In the A-pose rig the bone's own rest axis differs from the segment; compare the segment itself.
        rest_seg = a_plan.sites[end] - a_plan.sites[joint]
        delta = pose_a[:, bone, :3, :3] @ a_rest.rotations[bone].T
        np.testing.assert_allclose(angle_between(delta @ rest_seg, seg).max(), 0.0, atol=1e-6)


def test_preset_data_is_plain_data() -> None:
    data = preset_data("mixamo")
    assert isinstance(data["DRIVE"], dict) and isinstance(data["SITES"], dict)
    assert set(data["DRIVE"]) <= set(mocap21.RULES)
