"""Finger angles onto finger bones (retarget.solve.apply_fingers, the presets' FINGERS, our armature's hands)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from retarget.hand_model import FINGERS
from retarget.motion3d import Motion3D
from retarget.pipeline import retarget, retarget_onto_ours
from retarget.presets import bone_map_for
from retarget.quaternions import quat_to_matrix
from retarget.rest_skeleton import RestSkeleton
from retarget.solve import apply_fingers, bone_heads, build_plan, rig_finger_angles

DATA = Path(__file__).resolve().parents[1] / "data"
RIGS = DATA / "rigs"
ANGLES_DEG = np.array(
    [
        [20.0, 15.0, 30.0, 20.0],
        [-8.0, 40.0, 60.0, 30.0],
        [0.0, 70.0, 90.0, 45.0],
        [6.0, 10.0, 25.0, 5.0],
        [12.0, 85.0, 95.0, 60.0],
    ]
)


def _motion(frames: int = 12) -> Motion3D:
    m = Motion3D.load(DATA / "sports2d_first150.motion.npz")
    m = replace(
        m,
        joints=m.joints[:frames],
        root=m.root[:frames],
        confidence=m.confidence[:frames],
        contacts=None if m.contacts is None else m.contacts[:frames],
        orientations=None if m.orientations is None else m.orientations[:frames],
    )
    ramp = np.linspace(0.0, 1.0, frames)[:, None, None, None]
    fingers = (ramp * np.radians(np.stack([ANGLES_DEG, ANGLES_DEG]))[None]).astype(np.float32)
    return replace(m, fingers=fingers, finger_weight=np.ones((frames, 2), np.float32))


def _rest_fingers(
    rest: RestSkeleton, preset: str, angles_deg: np.ndarray
) -> tuple[object, dict[int, np.ndarray]]:
    """The rig at rest but for its fingers, posed with angles_deg (5, 4) on both hands (one frame)."""
    plan = build_plan(rest, bone_map_for(rest.names, preset), [*_motion(1).joint_names], with_fingers=True)
    eye = np.eye(3)[None]
    deltas = {i: eye for i in plan.relevant}
    fingers = np.radians(np.stack([angles_deg, angles_deg]))[None]
    return plan, apply_fingers(plan, deltas, fingers)


@pytest.mark.parametrize(
    ("rig", "preset", "mapped"),
    [
        ("mixamo_tpose.json", "mixamo", 10),
        ("mixamo_apose.json", "mixamo", 10),
        ("mesh2motion_human.json", "mesh2motion", 10),
        (
            "kenney_human.json",
            "mixamo",
            0,
        ),  # index and a two-bone thumb only: no little finger, no hand frame
        ("rigify_metarig_tpose.json", "rigify_metarig", 0),  # this fixture has no finger bones
    ],
)
def test_known_angles_in_are_the_angles_the_posed_finger_bones_show(
    rig: str, preset: str, mapped: int
) -> None:
    rest = RestSkeleton.load_json(RIGS / rig)
    plan, deltas = _rest_fingers(rest, preset, ANGLES_DEG)
    assert len(plan.fingers) == mapped
    if not mapped:
        return
    shown = np.degrees(rig_finger_angles(plan, deltas))[0]
    np.testing.assert_allclose(shown, np.stack([ANGLES_DEG, ANGLES_DEG]), atol=1e-6)


def test_flexion_curls_each_finger_towards_the_palm_on_our_armature() -> None:
    rest, _ = retarget_onto_ours(_motion())
    flexed = np.zeros((5, 4))
    flexed[:, 1:] = 30.0
    plan, deltas = _rest_fingers(rest, "ours", flexed)
    heads = bone_heads(plan, deltas)
    for side in "LR":
        for finger in FINGERS:
            tip_bone = rest.bone(f"mocap_{finger}.03.{side}")
            tip = heads[tip_bone][0] + deltas[tip_bone][0] @ (rest.tails[tip_bone] - rest.heads[tip_bone])
            # Palm down in our rest T-pose: a curled finger's tip goes down (the thumb across the palm, too).
            assert tip[2] < rest.tails[tip_bone][2] - 0.01, (side, finger)


def test_the_pipeline_keys_finger_bones_with_the_motions_angles() -> None:
    motion = _motion()
    _, result = retarget_onto_ours(motion)
    anim = result.animation
    assert sum(n.startswith("mocap_") and ".0" in n for n in anim.bone_names) == 30
    # The middle finger's second bone turns by exactly flex2 about its parent on the last frame (90 degrees).
    k = anim.bone_names.index("mocap_middle.02.L")
    angle = np.degrees(2.0 * np.arccos(np.clip(np.abs(anim.rotations[:, k, 0]), 0.0, 1.0)))
    np.testing.assert_allclose(angle, np.linspace(0.0, 90.0, motion.num_frames), atol=1e-4)
    # Without finger angles (older motions, or turned off) no finger bone is keyed.
    plain = replace(motion, fingers=None, finger_weight=None)
    assert not any(".0" in n for n in retarget_onto_ours(plain)[1].animation.bone_names)
    # On Mixamo, the same local turn.
    mixamo = RestSkeleton.load_json(RIGS / "mixamo_tpose.json")
    anim = retarget(motion, mixamo).animation
    k = anim.bone_names.index("mixamorig:LeftHandMiddle2")
    local = quat_to_matrix(anim.rotations[-1, k])
    assert abs(np.degrees(np.arccos((np.trace(local) - 1.0) / 2.0)) - 90.0) < 1e-3


def test_our_bvh_carries_the_finger_bones(tmp_path: Path) -> None:
    from retarget.bvh_writer import write_bvh

    rest, result = retarget_onto_ours(_motion())
    write_bvh(tmp_path / "f.bvh", rest, result.animation)
    text = (tmp_path / "f.bvh").read_text()
    for side in "LR":
        for finger in FINGERS:
            for k in (1, 2, 3):
                assert f"JOINT mocap_{finger}.0{k}.{side}" in text
    # The middle finger's second joint: no turn on the first frame, 90 degrees on the last.
    head, _, motion = text.partition("MOTION")
    column, joint = 0, None
    for line in head.splitlines():
        words = line.split()
        if words[:1] in (["ROOT"], ["JOINT"]):
            joint = words[1]
        elif words[:1] == ["CHANNELS"]:
            if joint == "mocap_middle.02.L":
                break
            column += int(words[1])
    rows = [line.split() for line in motion.strip().splitlines()[2:]]
    first, last = (np.array(rows[k][column : column + 3], dtype=float) for k in (0, -1))
    np.testing.assert_allclose(first, 0.0, atol=1e-3)
    assert abs(np.abs(last).max() - 90.0) < 1e-2  # Euler angles in world axes: mostly about one
