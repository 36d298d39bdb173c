"""Where lift's time and memory go on a long clip (issue 24): each part of `lift_keypoints` timed (wall and CPU
seconds) with its peak resident memory above the memory it started from, in one process on one thread.

    .venv/bin/python bench/lift_profile.py [--seconds 300] [--keypoints FILE.keypoints.npz] [--no-refine]
                                           [--config '{"iterations": 70}']

The keypoints (default: the sample clip's, detected with the cache) are looped to `--seconds` seconds, as
bench/speed.py loops the video (the person jumps back to the start every loop). Parts: the checkpoint's load, the
pose and trajectory models, the contact model, refinement (and each of its windows), the head's and hands'
orientations, the fingers. Peaks are read from VmHWM, reset before each part (/proc/self/clear_refs), so each
part's row is its own peak above the resident memory when it started (Linux only). Wall time on a busy machine says
little: compare CPU time, and the load average printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import lifting.lift.lift as lift_module  # noqa: E402
import lifting.lift.refine as refine_module  # noqa: E402
from lifting.errors import MocapError  # noqa: E402
from lifting.lift.refine import RefineConfig  # noqa: E402
from lifting.video2d.keypoints2d import Keypoints2D  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
EXCERPT = ROOT / "tests" / "data" / "sports2d_excerpt.mp4"


def status_mib(key: str) -> float:
    """A memory line of /proc/self/status (VmRSS:, VmHWM:) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    raise MocapError(f"/proc/self/status has no {key} line; this bench needs Linux.")


def reset_peak() -> None:
    """Start VmHWM afresh from the current resident memory."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


@dataclass
class Row:
    """One part's call: wall and CPU seconds, resident memory at its start, its peak and after it (MiB)."""

    part: str
    wall: float
    cpu: float
    start: float
    peak: float
    after: float


def timed(rows: list[Row], part: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` wrapped to append a Row per call (parts may nest: a window inside refinement)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        start_rss = status_mib("VmRSS:")
        reset_peak()
        wall, cpu = time.perf_counter(), time.process_time()
        out = function(*args, **kwargs)
        rows.append(
            Row(
                part,
                time.perf_counter() - wall,
                time.process_time() - cpu,
                start_rss,
                status_mib("VmHWM:"),
                status_mib("VmRSS:"),
            )
        )
        return out

    return run


def looped(keypoints: Keypoints2D, frames: int) -> Keypoints2D:
    """The keypoints played over and over for `frames` frames (no hands: the loop keeps only the body)."""
    idx = np.arange(frames) % keypoints.num_frames
    return replace(
        keypoints,
        keypoints=keypoints.keypoints[idx],
        visibility=keypoints.visibility[idx],
        detected=keypoints.detected[idx],
        interpolated=keypoints.interpolated[idx],
        frame_index=np.arange(frames),
        timestamps=np.arange(frames) / keypoints.fps,
        hands=None,
        hands_visibility=None,
        hands_world=None,
        hands_score=None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=300.0, help="length of the looped clip (default 300)"
    )
    parser.add_argument(
        "--keypoints", type=Path, default=None, help="a .keypoints.npz (default: the sample's)"
    )
    parser.add_argument("--no-refine", action="store_true", help="lift without refinement")
    parser.add_argument("--config", default="{}", help="RefineConfig fields as JSON")
    args = parser.parse_args(argv)
    try:
        config = RefineConfig(**json.loads(args.config))
    except (json.JSONDecodeError, TypeError) as exc:
        print(f"error: --config must be a JSON object of RefineConfig fields ({exc}).", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    try:
        if args.keypoints is not None:
            source = Keypoints2D.load(args.keypoints)
        else:
            from lifting.app import api

            source = api.detect(SAMPLE if SAMPLE.is_file() else EXCERPT)
        keypoints = looped(source, max(1, round(args.seconds * source.fps)))
        rows: list[Row] = []
        for module, name, part in (
            (lift_module, "load_checkpoint", "load"),
            (lift_module, "run_models", "models"),
            (lift_module, "predict_contacts", "contacts"),
            (lift_module, "refine_motion", "refine"),
            (refine_module, "_refine", "  window"),
            (lift_module, "estimate_orientations", "orientations"),
            (lift_module, "add_fingers", "fingers"),
        ):
            setattr(module, name, timed(rows, part, getattr(module, name)))
        start_rss = status_mib("VmRSS:")
        wall, cpu = time.perf_counter(), time.process_time()
        options = lift_module.LiftOptions(device="cpu", refine=not args.no_refine, refine_config=config)
        lift_module.lift_keypoints(keypoints, options)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"lift of {keypoints.num_frames} frames ({args.seconds:g} s looped), refine "
        f"{'off' if args.no_refine else config}: {wall:.1f} s wall, {cpu:.1f} s CPU, resident at the start "
        f"{start_rss:.0f} MiB, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'part':14s} {'wall s':>8s} {'CPU s':>8s} {'start MiB':>10s} {'peak MiB':>9s} {'above':>7s} {'after MiB':>10s}"
    )
    for r in rows:
        print(
            f"{r.part:14s} {r.wall:8.2f} {r.cpu:8.2f} {r.start:10.1f} {r.peak:9.1f} {r.peak - r.start:7.1f} "
            f"{r.after:10.1f}"
        )
    top = max(rows, key=lambda r: r.peak)
    print(f"lift's peak resident memory: {top.peak:.0f} MiB, in {top.part.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
