"""Issue 26: fingers from the hand landmarks onto rigs, measured on real footage -> docs/fingers.md.

The hands clips are the four cameras of Pose2Sim's single-person take (`tests/data/pose2sim/single_person/`,
hands 40-90 px; tests/data/README.md). Each camera is detected with hands (cached), lifted as users get it (shipped
weights, refined, finger angles from `lifting.lift.fingers`) and retargeted onto our armature (numpy); then:

- **curl**: per finger and frame, the total flexion (flex1 + flex2 + flex3, `retarget.hand_model.total_flexion`)
  the posed rig's finger bones show (`retarget.solve.rig_finger_angles` on the keys' rotations) against the total
  flexion of the raw landmarks of that frame (`retarget.hand_model.hand_angles` on `hands_world`, no smoothing,
  no limits), on the frames where the hand is seen (`lifting.lift.fingers.hands_seen`). Nothing in the finger
  model, its limits or its smoothing (`FingerConfig`) was tuned on cameras 2-4: they are the held-out set; camera 1
  is reported apart (looked at while writing); one rule changed after a first run (docs/fingers.md says which);
- **steps**: each finger bone's turn between consecutive keys (the angle of its local rotation's change); a step
  over 30 degrees counts as a jump unless the raw landmarks' angle of that joint changed by more than 30 degrees
  between the same two frames (both seen), or the hand came into or went out of view;
- **rigs**: the same motions onto Mixamo (T-pose), Mesh2Motion (rest skeletons in tests/data/rigs/) and, when
  `bpy` can be imported, Rigify's human metarig and a rig generated from it (its FK finger controls): the largest
  curl range any finger goes through on each. That the deform bones follow the keys in Blender is
  tests/blender/test_fingers.py.

    .venv/bin/python bench/fingers.py [--out docs/fingers.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lifting.app.api import detect, lift  # noqa: E402
from lifting.lift.fingers import clamp, hands_seen  # noqa: E402
from retarget.animation import pose_matrices  # noqa: E402
from retarget.hand_model import FINGERS, hand_angles, total_flexion  # noqa: E402
from retarget.motion3d import Motion3D  # noqa: E402
from retarget.pipeline import retarget, retarget_onto_ours  # noqa: E402
from retarget.rest_skeleton import RestSkeleton  # noqa: E402
from retarget.solve import build_plan, rig_finger_angles  # noqa: E402

CLIPS = ROOT / "tests" / "data" / "pose2sim" / "single_person"
CACHE = ROOT / "out" / "bench_fingers_cache"
RIGS = ROOT / "tests" / "data" / "rigs"
HELD_OUT = ("cam02", "cam03", "cam04")
CURL_TARGET_DEG = 15.0
STEP_DEG = 30.0


def rig_angles(rest: RestSkeleton, result: object, motion: Motion3D) -> np.ndarray:
    """Finger angles (T, 2, 5, 4) degrees that the keyed rig shows (NaN where it has no such finger)."""
    anim = result.animation  # type: ignore[attr-defined]
    plan = build_plan(rest, result.bone_map, motion.joint_names, with_fingers=True)  # type: ignore[attr-defined]
    pose = pose_matrices(rest, anim)
    deltas = {i: pose[:, i, :3, :3] @ rest.rotations[i].T for i in plan.relevant}
    return np.asarray(np.degrees(rig_finger_angles(plan, deltas)))


def local_steps(result: object, rest: RestSkeleton) -> dict[str, np.ndarray]:
    """Each keyed finger bone's turn (T-1,) degrees between consecutive keys."""
    anim = result.animation  # type: ignore[attr-defined]
    out = {}
    for bones in result.bone_map.fingers.values():  # type: ignore[attr-defined]
        for b in bones:
            q = anim.rotations[:, anim.bone_names.index(b)]
            dot = np.abs(np.sum(q[1:] * q[:-1], axis=-1))
            out[b] = np.degrees(2.0 * np.arccos(np.clip(dot, 0.0, 1.0)))
    return out


def measure_clip(video: Path) -> dict[str, object]:
    t0 = time.time()
    kp = detect(video, hands=True, cache_dir=CACHE)
    motion = lift(kp, refine=True, device="cpu")
    assert motion.fingers is not None
    rest, result = retarget_onto_ours(motion)
    shown = rig_angles(rest, result, motion)  # (T, 2, 5, 4)
    seen = hands_seen(kp.hands_score, kp.hands_visibility)  # (T, 2)
    raw = np.stack([np.degrees(hand_angles(kp.hands_world[:, h], s)) for h, s in enumerate("lr")], axis=1)
    seen &= np.all(np.isfinite(raw), axis=(2, 3))
    err = np.abs(total_flexion(shown) - total_flexion(raw))  # (T, 2, 5), degrees
    errors = err[seen]  # (N, 5)
    limited = np.degrees(clamp(np.radians(raw)))
    errors_limited = np.abs(total_flexion(shown) - total_flexion(limited))[seen]
    both_seen = seen[1:] & seen[:-1]
    raw_change = np.abs(np.diff(total_flexion(limited), axis=0))[both_seen]
    # Steps between keys, against the raw landmarks' own change of the same joint.
    steps = local_steps(result, rest)
    jumps, excused, worst = 0, 0, 0.0
    joint_of = {}
    for key, bones in result.bone_map.fingers.items():
        side, _, finger = key.partition("_")
        for n, b in enumerate(bones):
            joint_of[b] = ("lr".index(side), FINGERS.index(finger), n + 1)
    both = seen[1:] & seen[:-1]
    for b, step in steps.items():
        h, f, j = joint_of[b]
        raw_step = np.abs(np.diff(raw[:, h, f, j]))
        if j == 1:
            raw_step = np.maximum(raw_step, np.abs(np.diff(raw[:, h, f, 0])))
        big = step > STEP_DEG
        landmark = both[:, h] & (raw_step > STEP_DEG)
        view = seen[1:, h] != seen[:-1, h]
        jumps += int(np.sum(big & ~landmark & ~view))
        excused += int(np.sum(big & (landmark | view)))
        ok = ~(landmark | view)
        worst = max(worst, float(step[ok].max(initial=0.0)))
    # The same motion on other rigs: the curl range each goes through.
    ranges = {"ours": curl_range(shown)}
    for name, file in (("Mixamo", "mixamo_tpose.json"), ("Mesh2Motion", "mesh2motion_human.json")):
        r = RestSkeleton.load_json(RIGS / file)
        ranges[name] = curl_range(rig_angles(r, retarget(motion, r), motion))
    for name, r in blender_rigs().items():
        ranges[name] = curl_range(rig_angles(r, retarget(motion, r), motion))
    return {
        "frames": motion.num_frames,
        "seen": seen.sum(axis=0),
        "errors": errors,
        "errors_limited": errors_limited,
        "raw_change": raw_change,
        "jumps": jumps,
        "excused": excused,
        "worst_step": worst,
        "ranges": ranges,
        "seconds": time.time() - t0,
    }


def curl_range(angles_deg: np.ndarray) -> float:
    """The largest range of total flexion (degrees) any finger goes through."""
    curl = total_flexion(angles_deg)
    return float(np.nanmax(np.nanmax(curl, axis=0) - np.nanmin(curl, axis=0)))


_BLENDER: dict[str, RestSkeleton] | None = None


def blender_rigs() -> dict[str, RestSkeleton]:
    """Rigify's human metarig and a rig generated from it (its FK controls), read from bpy, when it imports."""
    global _BLENDER
    if _BLENDER is not None:
        return _BLENDER
    _BLENDER = {}
    try:
        import bpy
    except ImportError:
        return _BLENDER
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.preferences.addon_enable(module="rigify")
    bpy.ops.object.armature_human_metarig_add()
    meta = bpy.context.active_object
    _BLENDER["Rigify metarig"] = read_rest(meta)
    meta.select_set(True)
    bpy.ops.pose.rigify_generate()
    _BLENDER["generated Rigify"] = read_rest(bpy.context.active_object)
    return _BLENDER


def read_rest(obj: object) -> RestSkeleton:
    bones = [
        {
            "name": b.name,
            "parent": b.parent.name if b.parent else None,
            "head": list(b.head_local),
            "tail": list(b.tail_local),
            "matrix": np.array(b.matrix_local).tolist(),
        }
        for b in obj.data.bones  # type: ignore[attr-defined]
    ]
    return RestSkeleton.from_dict({"bones": bones})


def table(results: dict[str, dict[str, object]]) -> str:
    lines = [
        "| camera | frames | hand seen (left / right) | curl error median (p90, within 15°): landmarks within the limits | raw landmarks | landmarks' own curl change between frames median (p90) | jumps > 30° (not in the landmarks) | steps > 30° with the landmarks or the view | largest other step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def row(name: str, r: dict[str, object]) -> str:
        seen = np.asarray(r["seen"])
        cells = []
        for key in ("errors_limited", "errors"):
            e = np.asarray(r[key])
            cells.append(
                f"{np.median(e):.1f}° ({np.percentile(e, 90):.0f}°, {100 * np.mean(e <= CURL_TARGET_DEG):.0f} %)"
            )
        c = np.asarray(r["raw_change"])
        return (
            f"| {name} | {r['frames']} | {seen[0]} / {seen[1]} | {cells[0]} | {cells[1]} | "
            f"{np.median(c):.1f}° ({np.percentile(c, 90):.0f}°) | {r['jumps']} | {r['excused']} | "
            f"{r['worst_step']:.1f}° |"
        )

    for name, r in results.items():
        lines.append(row(name + ("" if name in HELD_OUT else " (looked at)"), r))
    held = [results[c] for c in HELD_OUT if c in results]
    if held:
        merged = {
            "frames": sum(int(r["frames"]) for r in held),  # type: ignore[call-overload]
            "seen": sum(np.asarray(r["seen"]) for r in held),
            "errors": np.concatenate([np.asarray(r["errors"]) for r in held]),
            "errors_limited": np.concatenate([np.asarray(r["errors_limited"]) for r in held]),
            "raw_change": np.concatenate([np.asarray(r["raw_change"]) for r in held]),
            "jumps": sum(int(r["jumps"]) for r in held),  # type: ignore[call-overload]
            "excused": sum(int(r["excused"]) for r in held),  # type: ignore[call-overload]
            "worst_step": max(float(r["worst_step"]) for r in held),  # type: ignore[arg-type]
        }
        lines.append(row("**held out (2-4)**", merged))
        e = np.asarray(merged["errors_limited"])
        per_finger = ", ".join(f"{f} {np.median(e[:, k]):.1f}°" for k, f in enumerate(FINGERS))
        lines += ["", f"Held-out median curl error per finger (landmarks within the limits): {per_finger}."]
    lines += ["", "| camera | " + " | ".join(next(iter(results.values()))["ranges"]) + " |"]  # type: ignore[arg-type]
    lines.append("|---" * (1 + len(next(iter(results.values()))["ranges"])) + "|")  # type: ignore[arg-type]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.0f}°" for v in r["ranges"].values()) + " |")  # type: ignore[attr-defined]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "fingers.md")
    args = ap.parse_args()
    results = {}
    for video in sorted(CLIPS.glob("cam0*.mp4")):
        results[video.stem] = measure_clip(video)
        print(video.stem, f"{results[video.stem]['seconds']:.0f} s", flush=True)
    text = f"""# Fingers on real footage (issue 26)

Written by `.venv/bin/python bench/fingers.py` (do not edit by hand): the four cameras of Pose2Sim's single-person
take (`tests/data/pose2sim/single_person/`, 60 fps, hands 40-90 px), each detected with hands, lifted as users get
it (refined, finger angles smoothed and limited, `lifting/lift/fingers.py`) and retargeted onto our armature.

**Curl error**: per finger and frame where the hand is seen, |total flexion shown by the rig's keyed finger bones -
total flexion of that frame's hand landmarks| (flex1 + flex2 + flex3, `retarget/hand_model.py`; the landmarks
unsmoothed, each angle put within the anatomical limits of `lifting/lift/fingers.py`: a finger the landmarks bend
backwards cannot be shown; the raw landmarks' column without the limits). Median, 90th percentile and share of
finger-frames within the target, {CURL_TARGET_DEG:.0f}°. The landmarks are noisy on these small hands: their own
curl changes between consecutive frames (60 fps) by the amount in the next column, which bounds how close a curl
that does not flicker can stay to every frame. **Jumps**: a finger bone turning more than
{STEP_DEG:.0f}° between consecutive keys where the landmarks' angle of that joint did not (both frames seen) and the
hand did not come into or leave view; target: none. Cameras 2-4 are held out: no setting of the finger model, its
limits or its smoothing was chosen on them. One rule changed after the first run of this script (which saw all
four cameras): seen frames now keep the measured pose in full, where they were blended with the relaxed hand by
the share of seen frames within ±0.1 s (held-out median curl error against the raw landmarks then 11.2°, 58 % of
finger-frames within 15°).

{table(results)}

The second table is the largest curl range (degrees of total flexion) any finger goes through on each rig with the
same motion (Rigify's from Blender's human metarig and a rig generated from it, keyed on its FK finger controls,
when `bpy` imports): the finger bones move on every rig. tests/blender/test_fingers.py checks in Blender 4.2-5.3
that the deform finger bones (generated Rigify: its DEF- bones) follow the keys.
"""
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
