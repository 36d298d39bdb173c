"""Keying speed in Blender (the `bpy` module): the add-on's bulk writer against `keyframe_insert`.

    python bench/keying_speed.py [--frames 10000] [--bones 60] [--baseline-frames 100]

Writes `frames` x `bones` quaternion keys (plus the root's location) with armature_io.write_animation (one
`keyframe_points.add` + `foreach_set` per F-curve), then keys `baseline-frames` frames of the same data with
`PoseBone.keyframe_insert` (what most add-ons do) and extrapolates its per-key rate to the full clip. Prints a
table with seconds, keys per second and the ratio to the bulk writer, measured in the same run. Target: the bulk
writer under 2 s for 10,000 frames x 60 bones.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE = "bl_ext.user_default.video_mocap"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--bones", type=int, default=60)
    parser.add_argument("--baseline-frames", type=int, default=100)
    args = parser.parse_args()

    user = tempfile.mkdtemp(prefix="blender-bench-")
    os.environ["BLENDER_USER_RESOURCES"] = user
    import bpy
    import numpy as np

    sys.path.insert(0, str(ROOT))
    import build_addon

    zip_path = build_addon.build(ROOT, Path(user) / "dist", include_weights=False, blender_check=False)
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True
    )
    io = importlib.import_module(MODULE + ".armature_io")
    rest_mod = importlib.import_module(MODULE + ".retarget.rest_skeleton")
    anim_mod = importlib.import_module(MODULE + ".retarget.animation")

    b, t = args.bones, args.frames
    names = [f"bone_{i:03d}" for i in range(b)]
    heads = np.array([[0.0, 0.0, 0.1 * i] for i in range(b)])
    rest = rest_mod.RestSkeleton.from_head_tail_roll(
        names, [None, *names[:-1]], heads, heads + np.array([0.0, 0.0, 0.1]), np.zeros(b)
    )
    obj = io.create_armature(bpy.context, rest, "Bench")
    rng = np.random.default_rng(0)
    q = rng.normal(size=(t, b, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    anim = anim_mod.BoneAnimation(tuple(names), q, names[0], rng.normal(size=(t, 3)), 30.0)
    keys = t * (4 * b + 3)

    start = time.perf_counter()
    io.write_animation(obj, anim, frame_start=1, action_name="Bulk")
    bulk = time.perf_counter() - start

    obj.animation_data.action = None
    bpy.data.actions.new("Insert")
    n = min(args.baseline_frames, t)
    start = time.perf_counter()
    for f in range(n):
        for k, name in enumerate(names):
            pb = obj.pose.bones[name]
            pb.rotation_quaternion = q[f, k]
            pb.keyframe_insert("rotation_quaternion", frame=f + 1)
        pb0 = obj.pose.bones[names[0]]
        pb0.location = anim.root_location[f]
        pb0.keyframe_insert("location", frame=f + 1)
    insert = (time.perf_counter() - start) * t / n

    print(f"Blender {bpy.app.version_string}; {t} frames x {b} bones = {keys:,} keys")
    print(f"{'method':<34}{'seconds':>10}{'keys/s':>14}{'x bulk':>9}")
    print(f"{'bulk (add + foreach_set)':<34}{bulk:>10.3f}{keys / bulk:>14,.0f}{1.0:>9.1f}")
    label = f"keyframe_insert (from {n} frames)"
    print(f"{label:<34}{insert:>10.3f}{keys / insert:>14,.0f}{insert / bulk:>9.1f}")
    print(f"target: bulk under 2 s -> {'met' if bulk < 2.0 else 'NOT met'}")
    shutil.rmtree(user, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
