"""Issue 22's portrait check: is a foot that is off the ground in the picture off the ground in 3D?

    .venv/bin/python bench/lifted_feet.py --markdown docs/feet_portrait.md

On Pose2Sim's calibrated portrait takes (`tests/data/pose2sim/`, 1088×1920, 60 fps; the single-person take and
the two-person take's man), per camera: the reference is the other cameras' triangulation
(`lifting.app.pseudo_truth.references`); a foot's height there is the lower of its heel and toe landmarks above
the take's floor (their 5th percentile). Ours: the camera's video detected, lifted with the calibrated focal
length as the add-on and the command line lift it (refined as `ConvertOptions.refine` says; `--no-refine`: not)
and retargeted by `retarget.pipeline.retarget_onto_ours`. A foot's height in ours, above its support
(`WorldPlacement.support`): placed, the lower of its toe and its ankle minus 8 cm in the placed joints
(`RetargetResult.world_joints`, before the foot lock); rig, its toe site on our armature posed from the keys
(after the foot lock, `bench.feet.toe_clearance`, in metres). Per camera: foot-frames lifted in the reference
(> 10 cm), the share of them lifted in ours (> 3 cm) and the share that ours holds planted (`RetargetResult.contacts`:
the foot the lifter left near the floor); foot-frames grounded in the reference (< 3 cm) and the
share of them within 5 cm of the support in ours. Then, in degrees from the calibrated vertical (the calibration's
world Z in this camera's coordinates): our fitted up axis (`WorldPlacement.up_camera`), the up fit's prior (the
median pelvis -> neck direction over the frames with both feet planted, as `retarget.ground.analyse_ground` takes
it), the balance's median there (the pelvis over the middle of the two ankles: a person on both feet keeps the
pelvis, near the centre of mass, over the middle of the support) and the camera's -y (what
`PlacementConfig(up="camera")` would use).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.feet import toe_clearance  # noqa: E402
from bench.real_footage import take_tracks  # noqa: E402
from lifting.app import api  # noqa: E402
from lifting.app.options import ConvertOptions  # noqa: E402
from lifting.app.pseudo_truth import references  # noqa: E402
from lifting.multiview import read_calibration  # noqa: E402
from lifting.skeleton import BLAZEPOSE  # noqa: E402
from retarget.pipeline import retarget_onto_ours  # noqa: E402
from retarget.rotations import normalize  # noqa: E402
from tests.support.paths import POSE2SIM_CALIBRATION, POSE2SIM_TAKES  # noqa: E402

TAKES = dict(POSE2SIM_TAKES.values())  # folder -> the subject per camera
HEELS = BLAZEPOSE.indices(["left_heel", "right_heel"])
TOES = BLAZEPOSE.indices(["left_foot_index", "right_foot_index"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-refine", action="store_true", help="lift without refinement (default: as ConvertOptions.refine)"
    )
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)
    refine = ConvertOptions.refine and not args.no_refine
    cameras = read_calibration(POSE2SIM_CALIBRATION)
    lines = [
        "| take, camera | lifted in the reference | also lifted in ours, placed | also lifted in ours, rig | "
        "held planted in ours | grounded in the reference | also grounded in ours, placed | also grounded in ours, rig | "
        "up axis off the vertical, ° | its prior (trunk) off it, ° | balance off it, ° | camera's -y off it, ° |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for take, subjects in TAKES.items():
        raw, repaired = take_tracks(take, subjects)
        _, worlds = references(cameras, raw)
        for c, camera in enumerate(cameras):
            low = np.minimum(worlds[c][:, HEELS, 2], worlds[c][:, TOES, 2])  # (T, 2), world Z up
            ref = low - np.nanpercentile(low, 5)
            motion = api.lift(repaired[c], focal_px=camera.intrinsics.fx, refine=refine)
            rest, result = retarget_onto_ours(motion)
            toes = motion.require(["l_toe", "r_toe"])
            ankles = motion.require(["l_ankle", "r_ankle"])
            world = result.world_joints
            placed = np.minimum(world[:, toes, 2], world[:, ankles, 2] - 0.08) - np.asarray(
                result.placement.support
            )
            rig = toe_clearance(motion, rest, result) / result.root_scale
            vertical = normalize(
                camera.to_camera(np.array([[[0.0, 0.0, 1.0]]]))[0, 0]
                - camera.to_camera(np.zeros((1, 1, 3)))[0, 0]
            )
            trunk = (
                motion.joints[:, motion.require(["neck"])[0]]
                - motion.joints[:, motion.require(["pelvis"])[0]]
            )
            balance = motion.joints[:, motion.require(["pelvis"])[0]] - motion.joints[:, ankles].mean(axis=1)
            both = result.contacts.all(axis=1)
            prior, balanced = (
                normalize(np.median(normalize(d.astype(np.float64))[both], axis=0)) for d in (trunk, balance)
            )
            off = [
                np.degrees(np.arccos(np.clip(v @ vertical, -1.0, 1.0)))
                for v in (result.placement.up_camera, prior, balanced, np.array([0.0, -1.0, 0.0]))
            ]
            seen = np.isfinite(ref)
            lifted, grounded = seen & (ref > 0.10), seen & (ref < 0.03)
            lines.append(
                f"| {take}, cam0{c + 1} | {lifted.sum()} | {100 * (placed[lifted] > 0.03).mean():.0f} % | "
                f"{100 * (rig[lifted] > 0.03).mean():.0f} % | {100 * result.contacts[lifted].mean():.0f} % | "
                f"{grounded.sum()} | "
                f"{100 * (placed[grounded] < 0.05).mean():.0f} % | {100 * (rig[grounded] < 0.05).mean():.0f} % | "
                f"{off[0]:.1f} | {off[1]:.1f} | {off[2]:.1f} | {off[3]:.1f} |"
            )
            print(lines[-1], flush=True)
    if args.markdown:
        command = "bench/lifted_feet.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
        Path(args.markdown).write_text(
            "# A foot off the ground in the picture, off the ground in 3D (issue 22, portrait takes)\n\n"
            f"Made by `.venv/bin/python {command}`; do not edit by hand. What each column measures: "
            f"`bench/lifted_feet.py`. Lifted {'with' if refine else 'without'} refinement.\n\n"
            + "\n".join(lines)
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
