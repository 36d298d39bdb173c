"""What drives the rig before keying it, and whether its deform bones followed, in real Blender (issue 23).

A Rigify rig generated here with Blender's bundled Rigify and left at its defaults (limbs on IK) is keyed on
its FK controls (the spine on `spine_fk.002`) with IK_FK, neck_follow and head_follow keyed to 1; the Mesh2Motion
human as shipped (deform bones copying `DRV_` controls, some of which take their place from other bones) is
refused in one sentence, and keyed once its deform bones' constraints are muted; a rig whose deform bones do not
follow is refused, never reported as a success. Measured (synthetic 4 s walk): Rigify pelvis, head, wrists and
feet 0.0 cm from the keys (head and wrists were 8.0 cm while the spine was keyed on the `chest` control, which
Rigify's torso passes on to the upper spine only half-way at two bones); Mesh2Motion, muted, 0.0 cm from the keys,
6.6 cm from the person's joints at the rig's scale (its proportions differ). The sample clip's numbers are in
test_rigs_on_sample.py.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.support.synthetic import camera_motion, walking_joints

from .conftest import (
    BPY_MISSING,
    addon_module,
    fingerprint,
    generated_rigify,
    mute_deform_constraints,
)

bpy = pytest.importorskip("bpy", reason=BPY_MISSING)

FRAMES = 120


def walk() -> Any:
    world, _ = walking_joints(FRAMES, fps=30.0, slide=0.0, jitter=0.0)
    return camera_motion(world, 30.0)


def apply(obj: bpy.types.Object, **options: Any) -> Any:
    ap = addon_module("apply")
    return ap.apply_motion(bpy.context, walk(), obj, ap.ApplyOptions(match_camera=False, **options))


def fcurve_paths(obj: bpy.types.Object) -> dict[str, list[float]]:
    adt = obj.animation_data
    bag = adt.action.layers[0].strips[0].channelbag(adt.action_slot) if bpy.app.version >= (4, 4, 0) else None
    curves = bag.fcurves if bag is not None else adt.action.fcurves
    return {fc.data_path: [k.co[1] for k in fc.keyframe_points] for fc in curves}


def per_joint(report: Any, which: str = "follow") -> dict[str, float]:
    err = report.check.follow if which == "follow" else report.check.target
    return {j: float(err[:, k].max() / report.check.scale) for k, j in enumerate(report.check.joints)}


def test_generated_rigify_at_defaults_is_keyed_on_fk(fresh: ModuleType) -> None:
    rig = generated_rigify()
    report = apply(rig)
    assert report.preset == "rigify_generated"
    paths = fcurve_paths(rig)
    for bone in ("thigh_parent.L", "thigh_parent.R", "upper_arm_parent.L", "upper_arm_parent.R"):
        assert paths[f'pose.bones["{bone}"]["IK_FK"]'] == [1.0, 1.0]  # keyed over the range, in this Action
    for prop in ("neck_follow", "head_follow"):
        assert paths[f'pose.bones["torso"]["{prop}"]'] == [1.0, 1.0]
    assert 'pose.bones["spine_fk.002"].rotation_quaternion' in paths
    follow = per_joint(report)
    # Measured 0.0 cm everywhere (head and wrists were 8.0 cm with the spine on the chest control).
    print(
        f"\ngenerated Rigify, synthetic walk, cm from the keys: { {j: round(100 * v, 2) for j, v in follow.items()} }"
    )
    assert max(follow.values()) < 0.01, follow
    assert report.check.carriers["l_ankle"] == "DEF-foot.L" and len(report.check.frames) == 60
    # The deform feet travel with the body (at IK they stayed at the origin).
    scene = bpy.context.scene
    feet = []
    for f in (1, FRAMES):
        scene.frame_set(f)
        ev = rig.evaluated_get(bpy.context.evaluated_depsgraph_get())
        feet.append(np.array(ev.matrix_world @ ev.pose.bones["DEF-foot.L"].head))
    assert np.linalg.norm(feet[1][:2] - feet[0][:2]) > 3.0  # a 4 s walk at 0.9 m/s
    assert "deform bones within" in report.summary() and "of the keys" in report.summary()
    assert report.warning is None


def test_rigify_deform_bones_are_refused_in_one_sentence(fresh: ModuleType) -> None:
    rig = generated_rigify()
    with pytest.raises(
        addon_module("apply").ApplyError, match=r"DEF- bones follow its controls.*'rigify_generated'"
    ):
        apply(rig, preset="rigify_generated_def")


def test_a_rig_that_does_not_follow_is_refused_and_left_as_it_was(
    fresh: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the FK switch the IK limbs ignore the keys: the run fails and changes nothing."""
    rig = generated_rigify()
    monkeypatch.setattr(addon_module("rig_check"), "RIGIFY_SWITCHES", {})
    before = fingerprint()
    ik_fk = rig.pose.bones["thigh_parent.L"]["IK_FK"]
    with pytest.raises(
        addon_module("apply").ApplyError, match=r"^The rig's deform bones (stay still|do not follow)"
    ):
        apply(rig)
    assert fingerprint() == before and not bpy.data.actions
    assert rig.pose.bones["thigh_parent.L"]["IK_FK"] == ik_fk


def test_mesh2motion_as_shipped_is_refused_then_keyed_once_muted(
    fresh: ModuleType, mesh2motion: bpy.types.Object
) -> None:
    rig = mesh2motion
    before = fingerprint()
    with pytest.raises(addon_module("apply").ApplyError) as err:
        apply(rig)
    message = str(err.value)
    assert message.startswith("The rig's deform bones follow control bones through constraints")
    assert "mute the deform bones' constraints" in message and message.count(". ") == 0
    assert fingerprint() == before
    mute_deform_constraints(rig)
    report = apply(rig)
    assert report.preset == "mesh2motion" and report.warning is None
    assert max(per_joint(report).values()) < 0.01
    target = per_joint(report, "target")
    assert max(target.values()) < 0.08, target  # measured 6.6 cm: the rig's proportions are not the person's
