"""Issue 22's feet numbers on a lifted clip: planted frames, lean, toes below their support, root path.

    .venv/bin/python bench/feet.py ../shared/data/video/sports2d_demo.mp4 --frames 0:141 --markdown docs/feet.md

The input is a video (detected with the keypoints cache and lifted with the shipped weights, refined as
`ConvertOptions.refine` says: as the add-on and `python -m lifting` do), a `.keypoints.npz` (lifted the same way)
or a `.motion.npz` (as it is). Definitions (all on `retarget.pipeline` with default settings):

- planted: frames of the range with at least one foot planted (`RetargetResult.contacts`), %;
- lean: angle between the fitted up axis (`WorldPlacement.up_camera`) and the body's median up over the range
  (median of the unit pelvis -> neck directions in camera space, re-normalised), degrees;
- root path: horizontal path length of the pelvis in the world over the range (`quality.root_travel`), m;
- toe below support: over every frame, the lowest (rig toe site height - the support under that foot), cm,
  and the frames below -2 cm; the rig is posed from the keys (forward kinematics), the support is
  `WorldPlacement.support` at the rig's scale plus the rig's rest toe height (0 for a placement without it);
  on our armature (`retarget_onto_ours`) and on the Rigify metarig (`tests/data/rigs/rigify_metarig_*.json`).
Runs on any version of `retarget` (older placements have no support: their floor is Z = 0).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lifting.app.options import ConvertOptions
from retarget.animation import pose_matrices, posed_points
from retarget.motion3d import Motion3D
from retarget.pipeline import RetargetResult, retarget, retarget_onto_ours
from retarget.rest_skeleton import RestSkeleton
from retarget.rotations import normalize
from retarget.solve import build_plan

RIGS = Path(__file__).resolve().parent.parent / "tests" / "data" / "rigs"
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FeetNumbers:
    """One rig's numbers: planted % (range), lean degrees, root path m (range), lowest toe cm, frames < -2 cm."""

    planted_pct: float
    lean_deg: float
    root_path_m: float
    toe_min_cm: float
    toe_below_frames: int


def toe_clearance(motion: Motion3D, rest: RestSkeleton, result: RetargetResult) -> FloatArray:
    """Rig toe height above the support under it, (T, 2) metres (rig units), from the keys."""
    plan = build_plan(rest, result.bone_map, motion.joint_names)
    pose = pose_matrices(rest, result.animation)
    names = ["l_toe", "r_toe"]
    pts = posed_points(
        pose, rest, [plan.site_bone[n] for n in names], np.stack([plan.sites[n] for n in names])
    )
    rest_toe = 0.5 * (plan.sites["l_toe"][2] + plan.sites["r_toe"][2])
    support = getattr(result.placement, "support", None)
    floor = np.zeros((len(pts), 2)) if support is None else result.root_scale * np.asarray(support)
    return np.asarray(pts[..., 2] - (floor + rest_toe), dtype=np.float64)


def measure(motion: Motion3D, rest: RestSkeleton, result: RetargetResult, frames: slice) -> FeetNumbers:
    """The numbers of one retargeted clip over `frames` (toes over every frame)."""
    names = list(motion.joint_names)
    rel = motion.joints.astype(np.float64)[frames]
    body = normalize(
        np.median(normalize(rel[:, names.index("neck")] - rel[:, names.index("pelvis")]), axis=0)
    )
    lean = float(np.degrees(np.arccos(np.clip(body @ result.placement.up_camera, -1.0, 1.0))))
    pelvis = result.world_joints[frames, names.index("pelvis"), :2]
    clear = toe_clearance(motion, rest, result)
    return FeetNumbers(
        planted_pct=100.0 * float(result.contacts[frames].any(axis=1).mean()),
        lean_deg=lean,
        root_path_m=float(np.linalg.norm(np.diff(pelvis, axis=0), axis=1).sum()),
        toe_min_cm=100.0 * float(clear.min()),
        toe_below_frames=int((clear.min(axis=1) < -0.02).sum()),
    )


def load_motion(path: Path) -> Motion3D:
    """The clip's Motion3D: loaded, or lifted from keypoints, or detected (cached) and lifted from a video (lifted as
    the add-on and the command line do: refined when `ConvertOptions.refine` is on, its default)."""
    if path.name.endswith(".motion.npz"):
        return Motion3D.load(path)
    from lifting.app import api
    from lifting.video2d.keypoints2d import Keypoints2D

    keypoints = Keypoints2D.load(path) if path.name.endswith(".keypoints.npz") else api.detect(path)
    return api.lift(keypoints, refine=ConvertOptions.refine)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("motion", help="a video, a .keypoints.npz or a .motion.npz")
    parser.add_argument("--frames", default="0:141", help="A:B, the range of the planted, lean and path rows")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)
    a, b = (int(x) for x in args.frames.split(":"))
    frames = slice(a, b)
    motion = load_motion(Path(args.motion))
    ours_rest, ours = retarget_onto_ours(motion)
    rows = {"our armature": measure(motion, ours_rest, ours, frames)}
    for rig in sorted(RIGS.glob("rigify_metarig_*.json")):
        rest = RestSkeleton.load_json(rig)
        rows[f"Rigify metarig ({rig.stem.split('_')[-1]})"] = measure(
            motion, rest, retarget(motion, rest), frames
        )
    lines = [
        f"| {Path(args.motion).name}, frames {a}-{b - 1} | planted, % | lean, ° | root path, m | "
        "lowest toe above its support, cm (all frames) | frames with a toe below -2 cm |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r.planted_pct:.1f} | {r.lean_deg:.2f} | {r.root_path_m:.2f} | {r.toe_min_cm:.1f} | "
            f"{r.toe_below_frames} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        lifted = (
            "The motion file as it is."
            if args.motion.endswith(".motion.npz")
            else "Lifted as the add-on and the command line lift it: with the shipped weights and contact model, "
            f"refinement {'on' if ConvertOptions.refine else 'off'} (`ConvertOptions.refine`)."
        )
        command = "bench/feet.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
        Path(args.markdown).write_text(
            f"# Feet on the ground (issue 22)\n\nMade by `.venv/bin/python {command}`; what each column "
            f"measures: `bench/feet.py`. {lifted}\n\n{text}\nFoot skate and root drift on the synthetic test split, before and "
            "after the ground, root solve and foot lock: [feet_test_split.md](feet_test_split.md) "
            "(`bench/feet_test_split.py`); the contact and foot lock settings were chosen on the validation split: "
            "[feet_validation.md](feet_validation.md).\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
