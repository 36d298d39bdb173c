"""Issue 26: finger bones keyed and moving on every rig, in real Blender: our armature, the Rigify metarig, a
generated Rigify rig (its FK finger controls keyed, its DEF finger bones checked), Mixamo and the Mesh2Motion human
(deform constraints muted; skipped on Blender 4.2, which cannot open its file).

The motion is the sample clip's first 40 frames with synthetic finger angles: every joint of every finger bends
from 0 to 45 degrees and back (spread 0). From Blender's evaluated pose of the deform finger bones (each mapped finger
bone's deform carrier: the bone itself, or Rigify's DEF- bone), the finger's total flexion, read as the solver
reads a rig's fingers (`retarget.solve.finger_rests`, `retarget.hand_model.finger_angles`), follows the keyed
flex1 + flex2 + flex3.

Measured (bpy 5.0; run with -s to print): on all five rigs every finger's curl follows the keys within 0.01 degrees
and peaks at 135 degrees (3 x 45); generated Rigify's DEF finger bones move as its keyed FK controls.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from .conftest import (
    BPY_MISSING,
    addon_module,
    generated_rigify,
    load_rest,
    mute_deform_constraints,
    open_mesh2motion,
    rigify_metarig,
)
from .test_export import bvh_round_trip, fbx_round_trip
from .test_keyframes import make_armature
from .test_pipeline import channel_fcurves
from .test_rigs_on_sample import MOTION

bpy = pytest.importorskip("bpy", reason=BPY_MISSING)

FRAMES = 40
PEAK_DEG = 45.0
MOST_ERROR_DEG = 0.5


def finger_motion(tmp_path: Path) -> Any:
    ap = addon_module("apply")
    m = ap.load_motion(str(MOTION))
    wave = np.radians(PEAK_DEG) * 0.5 * (1.0 - np.cos(2.0 * np.pi * np.arange(FRAMES) / (FRAMES - 1)))
    fingers = np.zeros((FRAMES, 2, 5, 4), np.float32)
    fingers[..., 1:] = wave[:, None, None, None]
    return replace(m.frames(0, FRAMES), fingers=fingers, finger_weight=np.ones((FRAMES, 2), np.float32))


def evaluated_rotations(obj: Any, names: list[str], frames: int) -> np.ndarray:
    """Armature-space rotations (frames, len(names), 3, 3) of the evaluated pose bones."""
    out = np.empty((frames, len(names), 3, 3))
    for t in range(frames):
        bpy.context.scene.frame_set(1 + t)
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        for k, n in enumerate(names):
            m = np.array(ev.pose.bones[n].matrix, dtype=np.float64)[:3, :3]
            out[t, k] = m / np.linalg.norm(m, axis=0, keepdims=True)
    return out


def apply_fingers(obj: Any, tmp_path: Path) -> tuple[Any, Any, Any]:
    """The finger motion applied to `obj` (None: our armature): (motion, report, armature)."""
    motion = finger_motion(tmp_path)
    ap = addon_module("apply")
    report = ap.apply_motion(bpy.context, motion, obj, ap.ApplyOptions(match_camera=False))
    return motion, report, obj or bpy.data.objects[report.armature]


def check_fingers(name: str, obj: Any, tmp_path: Path) -> float:
    motion, report, obj = apply_fingers(obj, tmp_path)
    result = report.result
    fingers = result.bone_map.fingers
    assert len(fingers) == 10, sorted(fingers)
    keyed = set(result.animation.bone_names)
    assert all(b in keyed for bones in fingers.values() for b in bones)
    rc = addon_module("rig_check")
    rest = addon_module("armature_io").rest_skeleton(obj)
    # The deform bones carrying each mapped finger bone and hand (nearest rest head).
    points = {b: rest.heads[rest.bone(b)] for bones in fingers.values() for b in bones}
    for side in "lr":
        points[f"{side}_hand"] = rest.heads[rest.bone(result.bone_map.drive[f"{side}_wrist"])]
    carriers = rc.deform_carriers(obj, points)
    if name == "generated Rigify":  # keyed on the FK controls, checked on the DEF bones
        assert all(carriers[b] == f"DEF-{b}" for bones in fingers.values() for b in bones)
    # The rig's rest fingers on its deform bones, as the solver reads a rig's (retarget.solve.finger_rests).
    solve, hand_model = addon_module("retarget.solve"), addon_module("retarget.hand_model")
    deform_map = replace(
        result.bone_map, fingers={k: tuple(carriers[b] for b in v) for k, v in fingers.items()}
    )
    wrists = {f"{s}_wrist": rest.heads[rest.bone(carriers[f"{s}_hand"])] for s in "lr"}
    rests = solve.finger_rests(rest, deform_map, wrists)
    assert len(rests) == 10
    names = sorted({rest.names[b] for f in rests for b in (*f.bones, rest.parents[f.bones[0]])})
    rot = evaluated_rotations(obj, names, FRAMES)
    rest_rot = np.array([np.array(obj.data.bones[n].matrix_local, dtype=np.float64)[:3, :3] for n in names])
    delta = {rest.bone(n): rot[:, k] @ rest_rot[k].T for k, n in enumerate(names)}
    keyed_total = np.degrees(motion.fingers[..., 1:].sum(axis=-1))  # (T, 2, 5)
    worst, moved = 0.0, np.inf
    for f in rests:
        dp = delta[rest.parents[f.bones[0]]]
        segs = np.stack([delta[b] @ d for b, d in zip(f.bones, f.directions, strict=True)], axis=-2)
        shown = hand_model.finger_angles(segs, dp @ f.reference, dp @ f.curl, dp @ f.radial)
        total = np.degrees(hand_model.total_flexion(shown))
        err = float(np.abs(total - keyed_total[:, f.hand, f.finger]).max())
        worst = max(worst, err)
        moved = min(moved, float(total.max()))
    tips = rests
    print(
        f"\n{name}: fingers on {len(tips)} deform fingers, curl error worst {worst:.2f} deg, least peak {moved:.1f}"
    )
    assert moved > 2.5 * PEAK_DEG, moved
    assert worst <= MOST_ERROR_DEG, worst
    return worst


def test_fingers_on_our_armature(fresh: ModuleType, tmp_path: Path) -> None:
    check_fingers("ours", None, tmp_path)


def test_fingers_on_the_rigify_metarig(fresh: ModuleType, tmp_path: Path) -> None:
    check_fingers("Rigify metarig", rigify_metarig(full=True), tmp_path)


def test_fingers_on_generated_rigify(fresh: ModuleType, tmp_path: Path) -> None:
    check_fingers("generated Rigify", generated_rigify(full=True), tmp_path)


def test_fingers_on_mixamo(fresh: ModuleType, tmp_path: Path) -> None:
    check_fingers("Mixamo", make_armature(load_rest("mixamo_tpose.json")), tmp_path)


def test_fingers_on_mesh2motion(fresh: ModuleType, tmp_path: Path) -> None:
    rig = open_mesh2motion(tmp_path)
    mute_deform_constraints(rig)
    check_fingers("Mesh2Motion muted", rig, tmp_path)


@pytest.mark.parametrize("rig", ["ours", "generated Rigify"])
def test_bvh_and_fbx_carry_the_finger_bones(fresh: ModuleType, tmp_path: Path, rig: str) -> None:
    """The add-on's exports hold the deform finger bones, and Blender's importers read them back in place."""
    _, report, obj = apply_fingers(None if rig == "ours" else generated_rigify(full=True), tmp_path)
    fingers = [b for bones in report.result.bone_map.fingers.values() for b in bones]
    deform = [f"DEF-{b}" if rig != "ours" else b for b in fingers]
    assert len(deform) == 30 and all(obj.data.bones[b].use_deform for b in deform)
    assert bvh_round_trip(obj, tmp_path) < 1e-4
    text = (tmp_path / "rig.bvh").read_text()
    assert all(f"JOINT {b}\n" in text for b in deform)
    arm, err = fbx_round_trip(obj, tmp_path, "UNITY")
    assert err < 0.01 and all(b in arm.data.bones for b in deform)


def test_the_fingers_option_off_leaves_the_finger_bones_unkeyed(fresh: ModuleType, tmp_path: Path) -> None:
    """The panel's Fingers checkbox (on by default) reaches the retargeting: off, the rig's finger bones get no
    keys (the same motion with finger angles keys all 30 when on, test_fingers_on_our_armature)."""
    settings = bpy.context.scene.video_mocap
    tasks, ap = addon_module("tasks"), addon_module("apply")
    assert settings.fingers is True and tasks.apply_options(settings, "x").fingers is True
    settings.fingers = False
    options = tasks.apply_options(settings, "x")
    assert options.fingers is False
    motion = finger_motion(tmp_path)
    report = ap.apply_motion(bpy.context, motion, None, replace(options, match_camera=False, video_path=""))
    fingers = [b for bones in report.result.bone_map.fingers.values() for b in bones]
    assert len(fingers) == 30  # our armature has them ...
    keyed = set(report.result.animation.bone_names)
    assert not keyed & set(fingers)  # ... and they are not keyed
    obj = bpy.data.objects[report.armature]
    paths = {fc.data_path for fc in channel_fcurves(obj)}
    hands = [report.result.bone_map.drive[f"{s}_wrist"] for s in "lr"]
    assert all(any(f'pose.bones["{b}"]' in p for p in paths) for b in hands)  # the hands are keyed
    assert not any(f'pose.bones["{b}"]' in p for p in paths for b in fingers)
