"""Can the focal length of an unknown camera be read from the clip's 2D keypoints? (issue 24, item 3)

    .venv/bin/python bench/focal_experiment.py --markdown docs/focal_estimation.md

The candidate tried is the refinement's reprojection fit with the focal length free (option (a) of the issue):
for each focal length of a log-spaced grid (horizontal fields of view of `FOV_GRID_DEG` across the frame's long
side), the clip is lifted by the network at that focal length and refined (`lifting.lift.refine.refine_motion`,
from the network's raw joints as `lift(..., refine=True)` does) with a fitting setting (`FITS`); the estimate is
the focal length of the smallest reprojection error (relative to the person's height in the picture), refined
by a parabola through the minimum and its neighbours in log focal length. A body's depth extent makes
perspective slightly observable: the question is whether enough.

Scored on an evenly spaced subset of the synthetic validation split (the random cameras of
`lifting.learn.evaluate`: 40-90 degrees across the long side, detector-like noise, seed `EVAL_SEED`) and on the
real benchmark's eight Pose2Sim cameras (calibrated focal 1674-1682 px); per set: the median ratio estimated /
true focal length, its spread (the 10th-90th percentiles) and the share of clips within 10 % (a depth within
about 15 % needs that: the depth scales with the focal length). The default camera's ratio (and the former default's) is given for
comparison: it is a prior, not an estimate, so its spread on the validation split is that of the split's random
cameras. Each fit lifts and refines a clip 13 times: about a minute per 10-second clip on one CPU core.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.real_depth import FORMER_DEFAULT_DIAGONAL_FOV_DEG  # noqa: E402
from bench.real_footage import take_tracks  # noqa: E402
from lifting.app import api  # noqa: E402
from lifting.camera import Intrinsics  # noqa: E402
from lifting.learn.datasets.dataset import evenly_spaced, load_split  # noqa: E402
from lifting.learn.evaluate import EVAL_SEED, test_views  # noqa: E402
from lifting.lift.lift import LiftOptions, clip_intrinsics  # noqa: E402
from lifting.lift.refine import RefineConfig, refine_motion  # noqa: E402
from lifting.multiview import read_calibration  # noqa: E402
from lifting.video2d.keypoints2d import Keypoints2D  # noqa: E402
from tests.support.paths import POSE2SIM_CALIBRATION, POSE2SIM_TAKES  # noqa: E402

FloatArray = npt.NDArray[np.float64]
# Horizontal fields of view across the frame's long side (degrees), 30 to 110: log-spaced focal lengths.
FOV_GRID_DEG = (30.0, 110.0)
GRID_SIZE = 13
# The fits compared: the default refinement, and one that holds the network's pose (only the root moves), so
# that the pose cannot absorb a wrong perspective.
FITS: dict[str, RefineConfig] = {
    "refinement (default settings)": RefineConfig(),
    "root only (pose held)": RefineConfig(pose_sigma=0.005, trunk_depth_sigma=0.005, length_sigma=0.0),
}


VERDICT = """Neither fit is usable: the reprojection error changes little with the focal length (the refinement's
pose and the network's re-run absorb most of a wrong perspective) and its minimum lies mostly far below the true
focal length, on the synthetic cameras as on the real ones. Nothing here is shipped; an unknown camera gets the
default camera (docs/real_depth.md for what that gives on real footage). Not tried: feet on the ground (the plane
through the contact points tilts with the focal length, but needs the person at several depths; the Pose2Sim
takes are 1.7 s of a person in place) and the video's metadata (our clips, re-encoded by FFmpeg, carry none).
The fixed guesses' validation rows show the spread of the split's random cameras (40-90 degrees across the long
side, uniform), which are not a model of phones' video: the default was derived from phone measurements, not
chosen on them, and there the former default sits nearer their median.
"""


def focal_grid(width: int, height: int) -> FloatArray:
    """(GRID_SIZE,) focal lengths in pixels, log-spaced over FOV_GRID_DEG across the long side."""
    half = max(width, height) / 2.0
    lo, hi = (half / math.tan(math.radians(a) / 2.0) for a in FOV_GRID_DEG[::-1])
    return np.geomspace(lo, hi, GRID_SIZE)


def parabola_minimum(x: FloatArray, y: FloatArray) -> float:
    """x of the smallest y, moved to the vertex of the parabola through it and its neighbours (an end stays)."""
    i = int(np.argmin(y))
    if i == 0 or i == len(x) - 1:
        return float(x[i])
    x0, x1, x2 = x[i - 1 : i + 2]
    y0, y1, y2 = y[i - 1 : i + 2]
    den = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den
    return float(np.clip(-b / (2.0 * a), x0, x2)) if a > 0 else float(x1)


def fit_focals(track: Keypoints2D) -> dict[str, float]:
    """Per fit of FITS, the focal length (px) whose lift and refinement reproject best (module docstring)."""
    width, height = track.image_size
    grid = focal_grid(width, height)
    errors = {name: np.zeros(len(grid)) for name in FITS}
    for i, f in enumerate(grid):
        raw = api.lift(track, focal_px=float(f), device="cpu", constant_bones=False)
        for name, config in FITS.items():
            errors[name][i] = refine_motion(raw, track, config)[1].reprojection_rel_after
    return {name: math.exp(parabola_minimum(np.log(grid), e)) for name, e in errors.items()}


@dataclass(frozen=True)
class Ratios:
    """Estimated / true focal length per clip, per estimator (the phone default included)."""

    values: dict[str, list[float]]

    def summary(self, name: str) -> str:
        r = np.asarray(self.values[name])
        lo, mid, hi = np.percentile(r, [10, 50, 90])
        within = 100.0 * float((np.abs(r - 1.0) <= 0.10).mean())
        return f"{mid:.2f} | {lo:.2f}-{hi:.2f} | {within:.0f} %"


FORMER_DEFAULT = "former default: 26 mm across the video's diagonal"
DEFAULT = "the default camera (lift.clip_intrinsics)"


def prior_focals(width: int, height: int) -> dict[str, float]:
    """The fixed guesses' focal lengths (px) for a frame of width × height pixels: the former and the current
    default camera."""
    return {
        FORMER_DEFAULT: Intrinsics.from_fov(
            width, height, FORMER_DEFAULT_DIAGONAL_FOV_DEG, axis="diagonal"
        ).fx,
        DEFAULT: clip_intrinsics(width, height, LiftOptions()).fx,
    }


def add_ratios(out: dict[str, list[float]], track: Keypoints2D, true: float) -> None:
    """Append each guess's and each fit's estimated / true focal length for one clip to `out`."""
    for name, f in {**prior_focals(*track.image_size), **fit_focals(track)}.items():
        out.setdefault(name, []).append(f / true)


def validation_ratios(shared: Path, clips: int, frames: int) -> Ratios:
    """Ratios on an evenly spaced `clips` of the validation split, each cut to its first `frames` frames."""
    views, _ = test_views(evenly_spaced(load_split(shared, "validation"), clips), EVAL_SEED)
    out: dict[str, list[float]] = {}
    for n, view in enumerate(views):
        add_ratios(out, view.keypoints2d().frames(0, frames), view.intrinsics.fx)
        line = ", ".join(f"{k} {v[-1]:.2f}" for k, v in out.items())
        print(f"{n + 1}/{len(views)} {view.clip_name}: {line}", flush=True)
    return Ratios(out)


def real_ratios() -> Ratios:
    """Ratios on the eight Pose2Sim cameras (both takes, the tracks `bench/real_depth.py` scores)."""
    cameras = read_calibration(POSE2SIM_CALIBRATION)
    out: dict[str, list[float]] = {}
    for take, (folder, subjects) in POSE2SIM_TAKES.items():
        _, repaired = take_tracks(folder, subjects)
        for c, camera in enumerate(cameras):
            add_ratios(out, repaired[c], camera.intrinsics.fx)
            line = ", ".join(f"{k} {v[-1]:.2f}" for k, v in out.items())
            print(f"{take} cam0{c + 1}: {line}", flush=True)
    return Ratios(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16, help="evenly spaced validation clips (0: all)")
    parser.add_argument(
        "--frames", type=int, default=300, help="each validation clip's first N frames (10 s)"
    )
    parser.add_argument("--shared-dir", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--no-real", action="store_true", help="skip the Pose2Sim cameras")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sets = {
        f"validation ({args.clips or 'all'} clips, first {args.frames} frames)": validation_ratios(
            args.shared_dir, args.clips, args.frames
        )
    }
    if not args.no_real:
        sets["Pose2Sim cameras (8)"] = real_ratios()
    lines = [
        "| estimator | set | median estimated / true | 10th-90th percentile | within 10 % |",
        "|---|---|---:|---:|---:|",
    ]
    for label, ratios in sets.items():
        for name in ratios.values:
            lines.append(f"| {name} | {label} | {ratios.summary(name)} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown is not None:
        command = "bench/focal_experiment.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        args.markdown.write_text(
            "# Estimating an unknown camera's focal length from the keypoints\n\n"
            f"Made by `.venv/bin/python {command}`; what is measured and how: `bench/focal_experiment.py`.\n\n"
            + text
            + "\n"
            + VERDICT,
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
