"""Retargeting speed: solving 10,000 frames for a 60+ bone rig should take well under a second.

Usage: python bench/retarget_speed.py [--frames 10000] [--repeats 3]

Prints a table of frames per second, with the speed-up over a per-frame loop (the same solver called one
frame at a time) measured in the same run. Rig: the synthetic Mixamo fixture with fingers (65 bones).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retarget import mocap21  # noqa: E402
from retarget.pipeline import RetargetConfig, retarget  # noqa: E402
from retarget.presets import bone_map_for  # noqa: E402
from retarget.rest_skeleton import RestSkeleton  # noqa: E402
from retarget.solve import SolveConfig, build_plan, solve  # noqa: E402
from tests.support.synthetic import camera_motion, observable_animation, site_joints, walking_joints  # noqa: E402

RIG = ROOT / "tests" / "data" / "rigs" / "mixamo_tpose.json"


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loop-frames", type=int, default=200, help="frames for the per-frame baseline")
    args = ap.parse_args()

    rest = RestSkeleton.load_json(RIG)
    bone_map = bone_map_for(rest.names)
    plan = build_plan(rest, bone_map, mocap21.NAMES)
    plan_all = build_plan(rest, bone_map, mocap21.NAMES, SolveConfig(key_all_bones=True))
    joints = site_joints(plan, observable_animation(plan, args.frames, seed=0), mocap21.NAMES)
    world, _ = walking_joints(args.frames)
    motion = camera_motion(world, 30.0)

    rows: list[tuple[str, int, int, float]] = []
    n_loop = min(args.loop_frames, args.frames)
    t_loop = best_time(lambda: [solve(plan_all, joints[i : i + 1], 30.0) for i in range(n_loop)], 1)
    rows.append(("solve, one frame at a time (baseline)", n_loop, len(plan_all.output), t_loop))
    rows.append(
        (
            "solve, vectorised, mapped bones",
            args.frames,
            len(plan.output),
            best_time(lambda: solve(plan, joints, 30.0), args.repeats),
        )
    )
    rows.append(
        (
            "solve, vectorised, all bones keyed",
            args.frames,
            len(plan_all.output),
            best_time(lambda: solve(plan_all, joints, 30.0), args.repeats),
        )
    )
    cfg = RetargetConfig(solve=SolveConfig(key_all_bones=True))
    rows.append(
        (
            "full pipeline (place, contacts, solve, foot lock)",
            args.frames,
            len(plan_all.output),
            best_time(lambda: retarget(motion, rest, cfg), args.repeats),
        )
    )
    rows.append(
        (
            "full pipeline + smoothing 0.5 (savgol)",
            args.frames,
            len(plan_all.output),
            best_time(lambda: retarget(motion, rest, replace(cfg, smoothing=0.5)), args.repeats),
        )
    )

    base_fps = rows[0][1] / rows[0][3]
    print(f"rig: {RIG.name} ({rest.num_bones} bones), numpy {np.__version__}")
    print(f"{'case':52s} {'frames':>7s} {'bones':>5s} {'seconds':>9s} {'frames/s':>11s} {'x loop':>8s}")
    for name, frames, bones, seconds in rows:
        fps = frames / seconds
        print(f"{name:52s} {frames:7d} {bones:5d} {seconds:9.3f} {fps:11.0f} {fps / base_fps:8.1f}")
    solve_all = rows[2][3] * 10_000 / args.frames
    verdict = "PASS" if solve_all < 1.0 else "FAIL"
    print(
        f"target: 10,000 frames x {len(plan_all.output)} bones solved in < 1 s -> {solve_all:.3f} s ({verdict})"
    )


if __name__ == "__main__":
    main()
