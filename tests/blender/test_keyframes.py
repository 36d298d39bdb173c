"""armature_io against Blender itself: rest pose read-back, bulk keys on both F-curve code paths, and the
evaluated pose matching retarget's forward kinematics to within a millimetre."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from retarget import mocap21
from retarget.animation import BoneAnimation, pose_matrices
from retarget.presets import bone_map_for
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import axis_angle_matrix
from retarget.solve import build_plan
from tests.support.synthetic import observable_animation, walking_joints

from .conftest import ADDON_MODULE, BPY_MISSING, load_rest

bpy = pytest.importorskip("bpy", reason=BPY_MISSING)
from mathutils import Matrix  # noqa: E402

# Blender 4.4/4.5 have both the channelbag API and the legacy `action.fcurves`; 5.0 only channelbags;
# 4.2/4.3 only the legacy one.
PATHS = [
    p
    for p, ok in (("channelbag", bpy.app.version >= (4, 4, 0)), ("legacy", bpy.app.version < (5, 0, 0)))
    if ok
]
MM = 1e-3


def armature_io() -> Any:
    return importlib.import_module(ADDON_MODULE + ".armature_io")


def to_vendored(rest: RestSkeleton) -> Any:
    """The same rest skeleton as an instance of the add-on's vendored RestSkeleton class."""
    vendored = importlib.import_module(ADDON_MODULE + ".retarget.rest_skeleton").RestSkeleton
    return vendored(rest.names, rest.parents, rest.matrices, rest.lengths)


def to_vendored_anim(anim: BoneAnimation) -> Any:
    cls = importlib.import_module(ADDON_MODULE + ".retarget.animation").BoneAnimation
    return cls(anim.bone_names, anim.rotations, anim.root_bone, anim.root_location, anim.fps, anim.contacts)


def our_rest() -> RestSkeleton:
    from retarget.our_rig import build_rest_skeleton

    world, _ = walking_joints(60, slide=0.0, jitter=0.0)
    return build_rest_skeleton(world, mocap21.NAMES)


RIGS = {
    "ours": our_rest,
    "mixamo": lambda: load_rest("mixamo_tpose.json"),
    "rigify": lambda: load_rest("rigify_generated.json"),
}


def make_armature(rest: RestSkeleton, transform: Matrix | None = None) -> bpy.types.Object:
    obj = armature_io().create_armature(bpy.context, to_vendored(rest), "Target")
    if transform is not None:
        obj.matrix_world = transform
    return obj


def evaluated_heads_tails(obj: bpy.types.Object, names: tuple[str, ...], frames: list[int]) -> np.ndarray:
    """World-space heads and tails (T, B, 2, 3) of the evaluated pose at each frame."""
    scene = bpy.context.scene
    out = np.empty((len(frames), len(names), 2, 3))
    for k, f in enumerate(frames):
        scene.frame_set(f)
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        mw = ev.matrix_world
        for i, n in enumerate(names):
            pb = ev.pose.bones[n]
            out[k, i, 0] = mw @ pb.head
            out[k, i, 1] = mw @ pb.tail
    return out


def expected_heads_tails(rest: RestSkeleton, anim: BoneAnimation, world: np.ndarray) -> np.ndarray:
    pose = pose_matrices(rest, anim)
    heads = pose[..., :3, 3]
    tails = heads + pose[..., :3, 1] * rest.lengths[None, :, None]
    pts = np.stack([heads, tails], axis=2)
    return pts @ world[:3, :3].T + world[:3, 3]


@pytest.mark.parametrize("rig", sorted(RIGS))
def test_rest_skeleton_read_back_matches(fresh: ModuleType, rig: str) -> None:
    rest = RIGS[rig]()
    obj = make_armature(rest)
    back = armature_io().rest_skeleton(obj)
    assert sorted(back.names) == sorted(rest.names)
    order = [back.bone(n) for n in rest.names]  # Blender may store bones in another order
    parent_names = [None if p < 0 else back.names[p] for p in back.parents]
    assert [parent_names[i] for i in order] == [None if p < 0 else rest.names[p] for p in rest.parents]
    np.testing.assert_allclose(back.matrices[order], rest.matrices, atol=1e-5)
    np.testing.assert_allclose(back.lengths[order], rest.lengths, atol=1e-6)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("rig", ["ours", "mixamo"])
def test_keys_evaluate_to_retarget_forward_kinematics(fresh: ModuleType, rig: str, path: str) -> None:
    rest = RIGS[rig]()
    transform = Matrix.Translation((0.4, -1.0, 0.2)) @ Matrix.Rotation(0.7, 4, "Z") @ Matrix.Scale(1.3, 4)
    obj = make_armature(rest, transform)
    plan = build_plan(rest, bone_map_for(rest.names), mocap21.NAMES)
    anim = observable_animation(plan, frames=24, seed=3)
    old = bpy.data.actions.new("Previous")
    obj.animation_data_create().action = old
    action = armature_io().write_animation(
        obj, to_vendored_anim(anim), frame_start=5, action_name="Mocap", legacy=(path == "legacy")
    )
    assert obj.animation_data.action == action and action.name == "Mocap"
    assert "Previous" in bpy.data.actions and bpy.data.actions["Previous"].use_fake_user  # kept
    fcurves = (
        action.fcurves
        if path == "legacy"
        else action.layers[0].strips[0].channelbag(obj.animation_data.action_slot).fcurves
    )
    assert len(fcurves) == 4 * len(anim.bone_names) + 3
    for fc in fcurves:
        assert len(fc.keyframe_points) == 24
        assert fc.keyframe_points[0].co[0] == 5 and fc.keyframe_points[-1].co[0] == 28
        assert fc.keyframe_points[3].interpolation == "LINEAR"
    assert all(obj.pose.bones[n].rotation_mode == "QUATERNION" for n in anim.bone_names)
    frames = list(range(5, 29, 3))
    got = evaluated_heads_tails(obj, rest.names, frames)
    want = expected_heads_tails(rest, anim, np.array(transform))[[f - 5 for f in frames]]
    err = np.abs(got - want).max()
    assert err < MM, f"max error {err * 1000:.3f} mm"
    moved = np.abs(got[:, rest.bone(anim.root_bone), 0] - got[0, rest.bone(anim.root_bone), 0]).max()
    assert moved > 0.05  # the root really travels


def test_subframe_steps_and_group_names(fresh: ModuleType) -> None:
    rest = RIGS["mixamo"]()
    obj = make_armature(rest)
    plan = build_plan(rest, bone_map_for(rest.names), mocap21.NAMES)
    anim = observable_animation(plan, frames=10, seed=1)
    action = armature_io().write_animation(obj, to_vendored_anim(anim), frame_start=1, frame_step=2.5)
    bag_or_action = (
        action if not armature_io().uses_channelbags() else action.layers[0].strips[0].channelbags[0]
    )
    fc = bag_or_action.fcurves[0]
    assert [k.co[0] for k in fc.keyframe_points][:3] == [1.0, 3.5, 6.0]
    assert fc.group is not None and fc.group.name == anim.root_bone
    assert sorted({f.group.name for f in bag_or_action.fcurves}) == sorted(anim.bone_names)


def test_sample_animation_reads_the_keys_back(fresh: ModuleType) -> None:
    rest = RIGS["ours"]()
    obj = make_armature(rest)
    plan = build_plan(rest, bone_map_for(rest.names), mocap21.NAMES)
    anim = observable_animation(plan, frames=12, seed=5)
    armature_io().write_animation(obj, to_vendored_anim(anim), frame_start=1)
    scene = bpy.context.scene
    scene.frame_current = 7
    _, sampled = armature_io().sample_animation(obj, scene, 1, 12)
    assert scene.frame_current == 7
    ix = [sampled.bone_names.index(n) for n in anim.bone_names]
    dots = np.abs(np.sum(sampled.rotations[:, ix] * anim.rotations, axis=-1))
    assert dots.min() > 1 - 1e-6
    root = rest.bone(anim.root_bone)
    assert sampled.root_bone == rest.names[0] == rest.names[root]
    np.testing.assert_allclose(sampled.root_location, anim.root_location, atol=1e-5)
    # bones without keys sample as the identity rotation
    free = [i for i, n in enumerate(sampled.bone_names) if n not in anim.bone_names]
    if free:
        np.testing.assert_allclose(np.abs(sampled.rotations[:, free, 0]), 1.0, atol=1e-6)


def test_non_armature_and_missing_bones_are_reported(fresh: ModuleType) -> None:
    io = armature_io()
    empty = bpy.data.objects.new("Empty", None)
    with pytest.raises(io.ArmatureError, match="not an armature"):
        io.rest_skeleton(empty)
    obj = make_armature(RIGS["ours"]())
    rot = np.broadcast_to(axis_angle_matrix(np.array([0.0, 0.0, 1.0]), 0.0), (2, 3, 3))
    assert rot.shape == (2, 3, 3)
    anim_cls = importlib.import_module(ADDON_MODULE + ".retarget.animation").BoneAnimation
    bad = anim_cls(("nope",), np.tile([1.0, 0, 0, 0], (2, 1, 1)), "nope", np.zeros((2, 3)), 30.0)
    with pytest.raises(io.ArmatureError, match="no bone 'nope'"):
        io.write_animation(obj, bad)
    assert len(bpy.data.actions) == 0
