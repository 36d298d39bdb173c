"""By-hand check of the managed engine (issue 27) in a Python that has `bpy` (Blender as a module): install the
add-on zip into a temporary user folder, switch Allow Online Access on, then run Install Engine, Check Engine
and Video to Animation on the sample clip, as a user would press the buttons. Background bpy runs no modal
timers, so this drives the same task objects the modal operators drive (start, step until an outcome, finish).

    python3.11 build_addon.py
    BPY_PYTHON tools/try_engine_install.py dist/video_mocap-0.1.0.zip [--video CLIP] [--fake-gpu] [--keep DIR]

`--fake-gpu` puts an `nvidia-smi` that lists a GPU on PATH, so Install Engine takes torch from the package
registry (on Linux that is the CUDA build) instead of PyTorch's CPU index: use it on a machine that reaches PyPI
but not download.pytorch.org. Prints each step's message, its time, and what the engine downloaded.
"""

from __future__ import annotations

import argparse
import importlib
import os
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ADDON = "bl_ext.user_default.video_mocap"


def drive(task: Any, context: Any, what: str) -> str:
    """Run one add-on task to its end; its finish() message (raises the task's error)."""
    t = time.monotonic()
    task.start(context)
    last = ""
    while (outcome := task.step(context)) is None:
        message = getattr(task, "message", "")
        if message and message != last:
            print(f"  [{time.monotonic() - t:6.1f} s] {message}", flush=True)
            last = message
        time.sleep(0.2)
    result = str(task.finish(context, outcome))
    print(f"{what}: {result} ({time.monotonic() - t:.0f} s)", flush=True)
    return result


def fake_nvidia_smi(folder: Path) -> None:
    exe = folder / "nvidia-smi"
    exe.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA Fake (UUID: GPU-0)'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ['PATH']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zip", type=Path)
    parser.add_argument("--video", type=Path, default=ROOT.parent / "shared/data/video/sports2d_demo.mp4")
    parser.add_argument("--fake-gpu", action="store_true")
    parser.add_argument("--keep", type=Path, help="user folder to use and keep (default: a temporary one)")
    args = parser.parse_args()
    user = args.keep or Path(tempfile.mkdtemp(prefix="blender-user-"))
    os.environ["BLENDER_USER_RESOURCES"] = str(user)
    if args.fake_gpu:
        (user / "bin").mkdir(parents=True, exist_ok=True)
        fake_nvidia_smi(user / "bin")
    import bpy

    print(
        f"Blender {bpy.app.version_string}, Python {sys.version.split()[0]}, user folder {user}", flush=True
    )
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.preferences.system.use_online_access = True
    assert bpy.app.online_access
    result = bpy.ops.extensions.package_install_files(
        filepath=str(args.zip.resolve()), repo="user_default", enable_on_install=True
    )
    assert result == {"FINISHED"}, result
    tasks = importlib.import_module(ADDON + ".tasks")
    context = bpy.context
    drive(tasks.InstallTask(), context, "Install Engine")
    drive(tasks.InstallTask(), context, "Install Engine again")
    drive(tasks.CheckTask(), context, "Check Engine")
    context.scene.video_mocap.video_path = str(args.video)
    message = drive(tasks.LiftTask(apply=True), context, "Video to Animation")
    armatures = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    action = armatures[0].animation_data.action if armatures and armatures[0].animation_data else None
    print(f"armatures {[o.name for o in armatures]}, action {action.name if action else None}", flush=True)
    venv = Path(bpy.utils.extension_path_user(ADDON, create=False)) / "engine-venv"
    size = sum(p.stat().st_size for p in venv.rglob("*") if p.is_file()) / 2**20
    print(f"engine {venv}: {size:.0f} MiB on disk", flush=True)
    return 0 if action is not None and message else 1


if __name__ == "__main__":
    sys.exit(main())
