"""The rotation solve with segment orientations (Motion3D.orientations): a known head or hand rotation in gives
that bone's rotation out; the neck takes its share of a turned head."""

from __future__ import annotations

import numpy as np

from retarget import mocap21
from retarget.our_rig import build_rest_skeleton
from retarget.presets import bone_map_for
from retarget.rotations import axis_angle_matrix, normalize, rotation_angle
from retarget.solve import SolveConfig, build_plan, solve_deltas
from tests.support.synthetic import walking_joints


def _plan_at_rest(frames: int = 4):  # type: ignore[no-untyped-def]
    world, _ = walking_joints(30, jitter=0.0)
    rest = build_rest_skeleton(world, mocap21.NAMES)
    plan = build_plan(rest, bone_map_for(rest.names, "ours"), mocap21.NAMES, SolveConfig(neck_share=0.5))
    joints = np.stack([plan.sites[n] if n in plan.sites else np.zeros(3) for n in mocap21.NAMES])
    return rest, plan, np.broadcast_to(joints, (frames, len(mocap21.NAMES), 3)).copy()


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(rotation_angle(np.swapaxes(a, -1, -2) @ b))


def test_a_known_head_rotation_turns_the_head_bone_and_half_of_it_the_neck() -> None:
    rest, plan, joints = _plan_at_rest()
    up = plan.head_rest[:, 1]
    turn = axis_angle_matrix(np.array([0.0, 0.0, 1.0]), np.radians([0.0, 20.0, 40.0, 60.0]))
    nod = axis_angle_matrix(plan.head_rest[:, 0], np.radians(-25.0))
    head = turn @ nod @ plan.head_rest
    deltas = solve_deltas(plan, joints, {"head": head})
    assert _angle(deltas[rest.bone("mocap_head")], turn @ nod).max() < 1e-5
    # The neck, at rest in position, takes half the head's turn about itself (the rest up is +Z here).
    assert abs(up[2] - 1.0) < 0.05
    neck = deltas[rest.bone("mocap_neck")]
    expected = axis_angle_matrix(
        normalize(plan.sites["head"] - plan.sites["neck"]), np.radians([0, 10, 20, 30])
    )
    assert _angle(neck, expected).max() < 0.5
    # Without the orientation the head follows the joints: at rest, no rotation.
    plain = solve_deltas(plan, joints)
    assert _angle(plain[rest.bone("mocap_head")], np.eye(3)).max() < 1e-5


def test_a_known_hand_rotation_gives_the_hand_bone_that_rotation() -> None:
    rest, plan, joints = _plan_at_rest()
    hands = {}
    expected = {}
    for side, sign in (("l", 1.0), ("r", -1.0)):
        distal = normalize(plan.sites[f"{side}_hand"] - plan.sites[f"{side}_wrist"])
        hinge = plan.hinges[mocap21.RULES[f"{side}_wrist"].secondary].axis  # type: ignore[index]
        palmar = sign * hinge  # neutral: the left palm's normal on the hinge axis, the right one's opposite
        neutral = np.stack([distal, palmar, np.cross(distal, palmar)], axis=-1)
        twist = axis_angle_matrix(distal, np.radians([-80.0, -30.0, 30.0, 80.0]))
        bend = axis_angle_matrix(hinge, np.radians(25.0))
        hands[f"{side}_hand"] = bend @ twist @ neutral
        expected[side] = bend @ twist
    deltas = solve_deltas(plan, joints, hands)
    for side, bone in (("l", "mocap_hand.L"), ("r", "mocap_hand.R")):
        assert _angle(deltas[rest.bone(bone)], expected[side]).max() < 1e-5
