"""Writing through Blender: .fbx, .blend, and .bvh onto a .blend rig, by `blender_addon/headless.py` run
in a subprocess of this Python, which must have Blender's module (`bpy`); lifting/ itself never imports bpy.

`blender_problem` says before any work why this Python cannot (no `bpy`, no headless.py); `check_rig`
opens a rig in Blender (`headless.py --check`) so a bad one is refused before detection;
`write_with_blender` saves the motion to a temporary .motion.npz and runs headless.py on it
(`headless_command`, `run_headless`).

headless.py speaks the project's event protocol (`retarget.events`): its progress events are relayed to a
progress callback; a user error is one error event and exit status EXIT_USER, raised here as a MocapError with
that message; any other failure raises a MocapError quoting the last line it printed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from lifting.errors import MocapError
from retarget.events import EXIT_USER, parse_line

if TYPE_CHECKING:
    from lifting.app.options import ConvertOptions
    from lifting.progress import Progress
    from lifting.video2d.keypoints2d import Keypoints2D
    from retarget.motion3d import Motion3D

ROOT = Path(__file__).resolve().parents[2]
# blender_addon/headless.py in a repository; <add-on>/headless.py when this runs from a built add-on's engine/.
HEADLESS_CANDIDATES = (ROOT / "blender_addon" / "headless.py", ROOT.parent / "headless.py")
BPY_PIN = "bpy==5.0.1"


def headless_script() -> Path | None:
    """headless.py where this installation has it, or None."""
    return next((p for p in HEADLESS_CANDIDATES if p.is_file()), None)


def blender_problem(what: str) -> str | None:
    """Why this Python cannot write `what` through Blender (None when it can)."""
    if importlib.util.find_spec("bpy") is None:
        return (
            f"writing {what} needs Blender's Python module: `pip install {BPY_PIN}` (Python 3.11), "
            "or write .bvh or .npz."
        )
    if headless_script() is None:
        return f"writing {what} needs blender_addon/headless.py, which this installation lacks; run from a clone of the repository."
    return None


def check_rig(rig: Path, armature: str | None, preset: str | None) -> None:
    """Open the rig in Blender (headless.py --check): it has the armature and its bones map, or one-line error."""
    script = headless_script()
    if script is None:
        raise MocapError(blender_problem("onto a .blend rig") or "blender_addon/headless.py is missing.")
    cmd = [sys.executable, str(script), "--check", "--rig", str(rig.resolve())]
    cmd += ["--armature", armature] if armature is not None else []
    cmd += ["--preset", preset] if preset is not None else []
    run_headless(cmd, rig.name)


def headless_command(
    motion_path: Path, out: Path, options: ConvertOptions, video: Path, first_frame: int
) -> list[str]:
    """The argument list that runs blender_addon/headless.py in this Python."""
    script = headless_script()
    if script is None:
        raise MocapError(blender_problem(out.suffix) or "blender_addon/headless.py is missing.")
    cmd = [
        sys.executable,
        str(script),
        "--motion",
        str(motion_path),
        "--out",
        str(out.resolve()),
        "--smooth",
        repr(options.smooth),
        "--fbx-preset",
        options.fbx_preset,
        "--name",
        f"Mocap {video.stem}",
        "--video",
        str(video.resolve()),
        "--video-first-frame",
        str(first_frame),
    ]
    if not options.foot_lock:
        cmd.append("--no-foot-lock")
    if options.rig is not None:
        cmd += ["--rig", str(options.rig.resolve())]
    if options.armature is not None:
        cmd += ["--armature", options.armature]
    if options.preset is not None:
        cmd += ["--preset", options.preset]
    return cmd


def run_headless(cmd: list[str], out_name: str, progress: Progress | None = None) -> None:
    """Run headless.py, following its progress; its one-line user error becomes a MocapError."""
    tail: deque[str] = deque(maxlen=30)
    error: str | None = None
    # Blender keeps its session files in a blender_XXXXXX folder of the temporary directory and removes it only
    # when it exits normally: give it one of ours, removed whatever happens (an interrupted run included).
    with tempfile.TemporaryDirectory(prefix="video-mocap-blender-") as scratch:
        env = {**os.environ, "TMPDIR": scratch, "TEMP": scratch, "TMP": scratch}
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                event = parse_line(line)
                if event is None:
                    if line.strip():
                        tail.append(line.strip())
                elif event["event"] == "progress" and progress is not None:
                    try:
                        progress(float(event.get("fraction", 0.0)), str(event.get("message", "")))
                    except (TypeError, ValueError):
                        pass
                elif event["event"] == "error":
                    error = str(event.get("message", ""))
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if code == EXIT_USER and error:
        raise MocapError(error)
    if code != 0:
        last = tail[-1] if tail else "no output"
        raise MocapError(f"Blender failed on {out_name!r} (exit status {code}): {last}")


def write_with_blender(
    motion: Motion3D,
    out: Path,
    options: ConvertOptions,
    video: Path,
    keypoints: Keypoints2D,
    progress: Progress | None = None,
) -> None:
    """Write .fbx, .blend or .bvh (onto a .blend rig) through blender_addon/headless.py."""
    with tempfile.TemporaryDirectory(prefix="video-mocap-") as tmp:
        motion_path = Path(tmp) / "motion.npz"
        motion.save(motion_path)
        first = int(keypoints.frame_index[0]) if keypoints.num_frames else 0
        run_headless(headless_command(motion_path, out, options, video, first), out.name, progress)
