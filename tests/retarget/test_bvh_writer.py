"""BVH reader (lifting.learn.datasets.bvh) on known files, its errors, and BVH writer -> reader round trips."""

from pathlib import Path

import numpy as np
import pytest

from lifting.errors import MocapError
from lifting.learn.datasets.bvh import parse_bvh, read_bvh
from retarget import mocap21
from retarget.animation import pose_matrices
from retarget.bvh_writer import bvh_text, write_bvh
from retarget.presets import bone_map_for
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import axis_angle_matrix
from retarget.solve import build_plan
from tests.support.paths import RIGS
from tests.support.synthetic import observable_animation

SIMPLE = """HIERARCHY
ROOT Hips
{
  OFFSET 1.0 2.0 3.0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Knee
  {
    OFFSET 0 -10 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 -5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
0 0 0 0 0 0 0 0 0
10 20 30 90 0 0 0 0 90
"""


def test_simple_file_forward_kinematics() -> None:
    bvh = parse_bvh(SIMPLE)
    assert bvh.names == ("Hips", "Knee", "Knee_end")
    assert bvh.parents == (-1, 0, 1)
    assert bvh.fps == pytest.approx(25.0) and bvh.num_frames == 2
    pos = bvh.positions()
    # Frame 0: position channels replace the root OFFSET; no rotation.
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [0, -10, 0], [0, -15, 0]], atol=1e-12)
    # Frame 1: root at (10, 20, 30) turned 90 deg about Z: -Y becomes +X; the knee then turns 90 deg about Z.
    np.testing.assert_allclose(pos[1, 1], [20, 20, 30], atol=1e-9)
    np.testing.assert_allclose(pos[1, 2], [20, 25, 30], atol=1e-9)
    np.testing.assert_allclose(bvh.positions(scale=0.01)[1, 2], [0.2, 0.25, 0.3], atol=1e-12)
    assert bvh.positions(include_end_sites=False).shape == (2, 2, 3)


def test_channel_order_is_respected() -> None:
    text = SIMPLE.replace("Xrotation Yrotation Zrotation", "Yrotation Xrotation Zrotation")
    rot = parse_bvh(text.replace("0 0 90\n", "30 40 50\n"))
    _, world = rot.forward_kinematics()
    a, b, c = np.radians([30.0, 40.0, 50.0])
    expected = (
        axis_angle_matrix([0, 0, 1.0], np.pi / 2)
        @ axis_angle_matrix([0, 1.0, 0], a)
        @ axis_angle_matrix([1.0, 0, 0], b)
        @ axis_angle_matrix([0, 0, 1.0], c)
    )
    np.testing.assert_allclose(world[1, 1], expected, atol=1e-9)


def test_position_channels_on_a_child_and_several_roots() -> None:
    text = """HIERARCHY
ROOT A
{
OFFSET 0 0 0
CHANNELS 3 Zposition Xposition Yposition
JOINT B
{
OFFSET 1 0 0
CHANNELS 4 Xposition Yposition Zposition Xrotation
End Site
{
OFFSET 1 0 0
}
}
}
ROOT C
{
OFFSET 5 5 5
CHANNELS 0
}
MOTION
Frames: 1
Frame Time: 0.0333333
3 1 2 0 0.5 0 90
"""
    bvh = parse_bvh(text)
    pos = bvh.positions()
    np.testing.assert_allclose(pos[0, 0], [1, 2, 3])
    np.testing.assert_allclose(pos[0, 1], [1, 2.5, 3])
    np.testing.assert_allclose(pos[0, 2], [2, 2.5, 3])
    np.testing.assert_allclose(pos[0, 3], [5, 5, 5])
    assert bvh.parents == (-1, 0, 1, -1)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("", "does not start with HIERARCHY"),
        (SIMPLE.replace("Zrotation Xrotation", "Zrotation Wrotation"), "unknown channel 'Wrotation'"),
        (SIMPLE.replace("Frames: 2", "Frames: 3"), "declares 3 frames of 9 channels but holds 18 values"),
        (SIMPLE.replace("10 20 30", "10 abc 30"), "non-numeric"),
        (SIMPLE.replace("Frame Time: 0.04", "Frame Time: 0"), "Frame Time positive"),
        (SIMPLE.replace("MOTION", "}\nMOTION"), "unbalanced"),
        (SIMPLE.replace("    }\n  }\n}", "    }\n  }"), "unclosed braces"),
        (SIMPLE.split("MOTION")[0], "ends inside the HIERARCHY"),
        (SIMPLE.replace("OFFSET 0 -10 0", "OFFSET 0 x 0"), "non-numeric OFFSET"),
        (SIMPLE.replace("JOINT Knee", "JOINT Hips"), "appears twice"),
        (SIMPLE.replace("Frames: 2", "Frame: 2"), "must start with 'Frames: N'"),
    ],
)
def test_malformed_files_raise_clear_errors(broken: str, message: str) -> None:
    with pytest.raises(MocapError, match=message):
        parse_bvh(broken, source="'clip.bvh'")


def test_read_bvh_file_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "walk.bvh"
    path.write_text(SIMPLE.replace("\n", "\r\n"), encoding="utf-8")
    assert read_bvh(path).num_frames == 2
    with pytest.raises(MocapError, match="cannot read BVH file"):
        read_bvh(tmp_path / "none.bvh")


@pytest.mark.parametrize(
    ("rig", "order", "scale"),
    [
        ("mesh2motion_human.json", "ZXY", 1.0),
        ("mixamo_tpose.json", "XYZ", 100.0),
        ("rigify_metarig_apose.json", "YZX", 1.0),
        ("kenney_human.json", "ZYX", 1.0),
    ],
)
def test_written_bvh_reads_back_to_the_same_joint_positions(
    tmp_path: Path, rig: str, order: str, scale: float
) -> None:
    rest = RestSkeleton.load_json(RIGS / rig)
    plan = build_plan(rest, bone_map_for(rest.names), mocap21.NAMES)
    anim = observable_animation(plan, 40, fps=24.0, seed=11)
    path = tmp_path / "out.bvh"
    write_bvh(path, rest, anim, rotation_order=order, scale=scale)
    bvh = read_bvh(path)
    assert bvh.fps == pytest.approx(24.0)
    pos = bvh.positions(scale=1.0 / scale)
    pos_blender = np.stack([pos[..., 0], -pos[..., 2], pos[..., 1]], axis=-1)  # Y up back to Z up
    pose = pose_matrices(rest, anim)
    names = [n.replace(" ", "_") for n in rest.names]
    for k, joint in enumerate(bvh.joints):
        if joint.is_end_site:
            bone = rest.bone(bvh.joints[joint.parent].name)
            expected = pose[:, bone, :3, 3] + pose[:, bone, :3, 1] * rest.lengths[bone]
        else:
            bone = names.index(joint.name)
            expected = pose[:, bone, :3, 3]
        err = np.linalg.norm(pos_blender[:, k] - expected, axis=-1).max()
        assert err <= 0.001, (joint.name, err)


def test_a_long_clip_is_written_piece_by_piece_with_the_same_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retarget import bvh_writer

    rest = RestSkeleton.load_json(RIGS / "mixamo_tpose.json")
    plan = build_plan(rest, bone_map_for(rest.names), mocap21.NAMES)
    anim = observable_animation(plan, 50, fps=30.0, seed=5)
    whole = bvh_text(rest, anim)
    monkeypatch.setattr(bvh_writer, "CHUNK_FRAMES", 7)
    assert len(list(bvh_writer.bvh_pieces(rest, anim))) == 1 + 8  # the hierarchy, then 8 pieces of frames
    assert bvh_text(rest, anim) == whole
    write_bvh(tmp_path / "x.bvh", rest, anim)
    assert (tmp_path / "x.bvh").read_text() == whole and read_bvh(tmp_path / "x.bvh").num_frames == 50


def test_bvh_writer_options_and_errors() -> None:
    rest = RestSkeleton.load_json(RIGS / "mixamo_tpose.json")
    plan = build_plan(rest, bone_map_for(rest.names), mocap21.NAMES)
    anim = observable_animation(plan, 3)
    text = bvh_text(rest, anim, all_bones=True)
    assert text.count("JOINT") + text.count("ROOT") == rest.num_bones
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    animated_only = bvh_text(rest, anim)
    assert "LeftHandPinky2" not in animated_only and "mixamorig:LeftHand" in animated_only
    with pytest.raises(Exception, match="permutation of XYZ"):
        bvh_text(rest, anim, rotation_order="XXY")
