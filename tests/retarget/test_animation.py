"""Pose matrices back to a BoneAnimation (what Export BVH writes), and a rig's deform bones as one tree."""

import numpy as np
import pytest

from lifting.learn.datasets.bvh import parse_bvh
from retarget import mocap21
from retarget.animation import animation_from_pose, pose_matrices
from retarget.bvh_writer import bvh_text
from retarget.errors import RetargetError
from retarget.presets import bone_map_for
from retarget.rest_skeleton import RestSkeleton
from retarget.solve import build_plan
from tests.support.paths import RIGS
from tests.support.synthetic import observable_animation


def test_animation_from_pose_inverts_forward_kinematics() -> None:
    rest = RestSkeleton.load_json(RIGS / "mixamo_tpose.json")
    anim = observable_animation(build_plan(rest, bone_map_for(rest.names), mocap21.NAMES), frames=9, seed=3)
    pose = pose_matrices(rest, anim)
    scaled = pose.copy()
    scaled[..., :3, :3] *= 1.7  # pose scale is dropped
    back = animation_from_pose(rest, scaled, 24.0)
    assert back.bone_names == rest.names and back.root_bone == rest.names[0] and back.fps == 24.0
    np.testing.assert_allclose(pose_matrices(rest, back), pose, atol=1e-9)
    with pytest.raises(RetargetError, match="pose must have shape"):
        animation_from_pose(rest, pose[:, :3], 24.0)


def test_reduced_keeps_rigify_def_bones_as_one_tree() -> None:
    """The generated Rigify rig's DEF- bones hang from ORG-/MCH- bones in 11 separate pieces."""
    rest = RestSkeleton.load_json(RIGS / "rigify_generated.json")
    deform = [n for n in rest.names if n.startswith("DEF-")]
    tree = rest.reduced(deform)
    assert sorted(tree.names) == sorted(deform)
    parent = {n: (tree.names[p] if p >= 0 else None) for n, p in zip(tree.names, tree.parents, strict=True)}
    assert [n for n, p in parent.items() if p is None] == ["DEF-spine"]  # the piece with the most bones
    assert parent["DEF-spine.001"] == "DEF-spine"  # nearest kept ancestor
    assert parent["DEF-shoulder.L"] == "DEF-spine.003" and parent["DEF-upper_arm.R"] == "DEF-shoulder.R"
    assert parent["DEF-thigh.L"] == "DEF-spine" and parent["DEF-hand.L"] == "DEF-forearm.L.001"
    for name in tree.names:  # the rest matrices are the bones' own
        np.testing.assert_allclose(tree.matrices[tree.bone(name)], rest.matrices[rest.bone(name)], atol=1e-12)
    with pytest.raises(RetargetError, match="no bone named 'nope'"):
        rest.reduced(["nope"])


def test_bvh_joints_that_travel_get_position_channels() -> None:
    """Posed heads given to the BVH writer: a bone whose head leaves its parent (here the spine, lifted 5 cm
    and more with everything above it) gets position channels, and the file's joints land on those heads."""
    rest = RestSkeleton.load_json(RIGS / "mixamo_tpose.json")
    anim = observable_animation(build_plan(rest, bone_map_for(rest.names), mocap21.NAMES), frames=6, seed=4)
    pose = pose_matrices(rest, anim)
    heads = pose[..., :3, 3].copy()
    spine = rest.bone("mixamorig:Spine")
    above = [i for i in range(rest.num_bones) if i == spine or spine in rest.ancestors(i)]
    heads[:, above] += np.linspace(0.05, 0.2, 6)[:, None, None] * np.array([0.3, 0.0, 1.0])
    text = bvh_text(rest, anim, heads=heads)
    assert text.count("CHANNELS 6") == 2  # the root and the spine
    bvh = parse_bvh(text)
    written = [i for i, n in enumerate(rest.names) if n in bvh.names]  # the animated bones, ancestors
    assert spine in written and len(written) > 10
    ix = [bvh.names.index(rest.names[i]) for i in written]
    to_blender = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # BVH's Y up back to Z up
    np.testing.assert_allclose(bvh.positions()[:, ix] @ to_blender.T, heads[:, written], atol=1e-5)
    assert bvh_text(rest, anim, heads=pose[..., :3, 3]).count("CHANNELS 6") == 1  # rigid: the root only
