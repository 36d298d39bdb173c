"""Preset detection from bone names, custom mappings, and mapping errors."""

import json

import pytest

from retarget import mocap21
from retarget.errors import RetargetError
from retarget.mapping import BoneMap
from retarget.our_rig import build_rest_skeleton
from retarget.presets import bone_map_for, detect_preset, preset_data, preset_names
from retarget.rest_skeleton import RestSkeleton
from retarget.solve import build_plan
from tests.support.paths import RIGS
from tests.support.synthetic import walking_joints


@pytest.mark.parametrize(
    ("rig", "expected"),
    [
        ("mesh2motion_human.json", "mesh2motion"),
        ("kenney_human.json", "mixamo"),
        ("rigify_metarig_tpose.json", "rigify_metarig"),
        ("rigify_metarig_apose.json", "rigify_metarig"),
        ("rigify_generated.json", "rigify_generated"),
        ("mixamo_tpose.json", "mixamo"),
        ("mixamo_apose.json", "mixamo"),
    ],
)
def test_detects_each_shipped_rig(rig: str, expected: str) -> None:
    names = RestSkeleton.load_json(RIGS / rig).names
    assert detect_preset(names) == expected
    assert bone_map_for(names).preset == expected


def test_detects_our_armature_and_mixamo_without_prefix() -> None:
    world, _ = walking_joints(60)
    assert detect_preset(build_rest_skeleton(world, mocap21.NAMES).names) == "ours"
    mixamo = RestSkeleton.load_json(RIGS / "mixamo_tpose.json").names
    bare = [n.split(":", 1)[1] for n in mixamo]
    assert detect_preset(bare) == "mixamo"
    assert bone_map_for(bare).drive["l_hip"] == "LeftUpLeg"
    assert bone_map_for(mixamo).drive["l_hip"] == "mixamorig:LeftUpLeg"
    other_ns = [n.replace("mixamorig:", "Character1:") for n in mixamo]
    assert detect_preset(other_ns) == "mixamo"


def test_generated_rigify_can_key_def_bones_instead() -> None:
    names = RestSkeleton.load_json(RIGS / "rigify_generated.json").names
    assert bone_map_for(names, "rigify_generated_def").drive["l_knee"] == "DEF-shin.L"
    assert bone_map_for(names).drive["l_knee"] == "shin_fk.L"


def test_unknown_rig_is_not_detected() -> None:
    names = ["Bone", "Bone.001", "Bone.002", "thigh.L"]
    assert detect_preset(names) is None
    with pytest.raises(RetargetError, match="no rig preset matches"):
        bone_map_for(names)
    with pytest.raises(RetargetError, match="unknown rig preset"):
        preset_data("nope")
    with pytest.raises(RetargetError, match="has no bone 'Hips'"):
        bone_map_for(names, "mixamo")
    assert set(preset_names()) >= {"ours", "rigify_metarig", "rigify_generated", "mixamo", "mesh2motion"}


def test_custom_mapping_round_trips_through_json_and_is_validated() -> None:
    rest = RestSkeleton.load_json(RIGS / "mesh2motion_human.json")
    bm = bone_map_for(rest.names)
    data = json.loads(json.dumps(bm.to_dict()))
    data["drive"]["spine"] = "spine_03"  # a user moves the chest bend up the spine
    custom = BoneMap.from_dict(data)
    assert custom.drive["spine"] == "spine_03" and custom.sites == bm.sites
    plan = build_plan(rest, custom, mocap21.NAMES)
    assert rest.bone("spine_03") in plan.driven and rest.bone("spine_02") not in plan.driven

    bad = dict(data, drive=dict(data["drive"], l_knee="no_such_bone"))
    with pytest.raises(RetargetError, match="no bone named 'no_such_bone'"):
        build_plan(rest, BoneMap.from_dict(bad), mocap21.NAMES)
    above = dict(data, root="spine_01")
    with pytest.raises(RetargetError, match="driven bone above it"):
        build_plan(rest, BoneMap.from_dict(above), mocap21.NAMES)
    side = dict(data, root="DRV_hips")
    with pytest.raises(RetargetError, match="not below the root bone"):
        build_plan(rest, BoneMap.from_dict(side), mocap21.NAMES)
    twice = dict(data, drive=dict(data["drive"], spine="pelvis"))
    with pytest.raises(RetargetError):
        build_plan(rest, BoneMap.from_dict(twice), mocap21.NAMES)
    with pytest.raises(RetargetError, match="malformed"):
        BoneMap.from_dict({"drive": {}})
    with pytest.raises(RetargetError, match="has no joint 'l_toe'"):
        build_plan(rest, bm, [n for n in mocap21.NAMES if n != "l_toe"])
