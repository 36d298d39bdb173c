"""Issue 22's portrait check: is a foot that is off the ground in the picture off the ground in 3D?

    .venv/bin/python bench/lifted_feet.py

On Pose2Sim's calibrated portrait takes (`tests/data/pose2sim/`, 1088×1920, 60 fps; the single-person take and
the two-person take's man), per camera: the reference is the other cameras' triangulation
(`lifting.app.pseudo_truth.references`); a foot's height there is the lower of its heel and toe landmarks above
the take's floor (their 5th percentile). Ours: the camera's video detected, lifted with the calibrated focal
length and placed by `retarget.pipeline.retarget_onto_ours`; a foot's height is the lower of its toe and its
ankle minus 8 cm, above its support (`WorldPlacement.support`). Printed per camera: foot-frames lifted in the
reference (> 10 cm) and the share of them lifted in ours (> 3 cm); foot-frames grounded in the reference
(< 3 cm) and the share of them within 5 cm of the support in ours.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lifting.app import api  # noqa: E402
from lifting.app.pseudo_truth import references  # noqa: E402
from lifting.multiview import read_calibration  # noqa: E402
from lifting.skeleton import BLAZEPOSE  # noqa: E402
from lifting.video2d.swaps import repair_swaps  # noqa: E402
from retarget.pipeline import retarget_onto_ours  # noqa: E402
from tests.support.paths import POSE2SIM, POSE2SIM_CALIBRATION, POSE2SIM_TAKES  # noqa: E402

TAKES = dict(POSE2SIM_TAKES.values())  # folder -> the subject per camera
HEELS = BLAZEPOSE.indices(["left_heel", "right_heel"])
TOES = BLAZEPOSE.indices(["left_foot_index", "right_foot_index"])


def main() -> int:
    cameras = read_calibration(POSE2SIM_CALIBRATION)
    print(
        "| take, camera | lifted in the reference | also lifted in ours | grounded in the reference | also grounded in ours |"
    )
    print("|---|---|---|---|---|")
    for take, subjects in TAKES.items():
        videos = [POSE2SIM / take / f"cam0{c + 1}.mp4" for c in range(len(cameras))]
        raw = [api.detect(v, subject=s, repair_lr=False) for v, s in zip(videos, subjects, strict=True)]
        _, worlds = references(cameras, raw)
        for c, camera in enumerate(cameras):
            low = np.minimum(worlds[c][:, HEELS, 2], worlds[c][:, TOES, 2])  # (T, 2), world Z up
            ref = low - np.nanpercentile(low, 5)
            motion = api.lift(repair_swaps(raw[c])[0], focal_px=camera.intrinsics.fx)
            _, result = retarget_onto_ours(motion)
            toes = motion.require(["l_toe", "r_toe"])
            ankles = motion.require(["l_ankle", "r_ankle"])
            world = result.world_joints
            ours = np.minimum(world[:, toes, 2], world[:, ankles, 2] - 0.08) - np.asarray(
                result.placement.support
            )
            seen = np.isfinite(ref)
            lifted, grounded = seen & (ref > 0.10), seen & (ref < 0.03)
            print(
                f"| {take}, cam0{c + 1} | {lifted.sum()} | {100 * (ours[lifted] > 0.03).mean():.0f} % | "
                f"{grounded.sum()} | {100 * (ours[grounded] < 0.05).mean():.0f} % |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
