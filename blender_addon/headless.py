"""Blender's side of the command line: a motion onto an armature in background Blender, saved as FBX, .blend
or BVH. Run by `lifting.app.via_blender` (for `video-mocap`) in a subprocess, with a Python that has the `bpy`
module, never imported by the add-on itself:

    python blender_addon/headless.py --motion M.motion.npz --out OUT.fbx|OUT.blend|OUT.bvh
        [--rig RIG.blend [--armature NAME] [--preset NAME]] [--smooth 0..1] [--no-foot-lock]
        [--fbx-preset generic|unity|unreal] [--name NAME] [--video VIDEO [--video-first-frame N]]
    python blender_addon/headless.py --check --rig RIG.blend [--armature NAME] [--preset NAME]

Without `--rig` the scene starts empty (`wm.read_homefile(use_empty=True)`) and the motion goes onto our own
armature built from the person's proportions; with it the .blend is opened and the motion goes onto its
armature (`--armature` picks one when there are several; `--preset` forces the bone-name preset, detected
otherwise). `--check` only opens the rig, picks the armature and maps its bones, so the command line can
refuse a bad rig before any detection. The add-on's own code does the work: `apply.apply_motion` (a new Action, scene frame range and
rate from the motion, a camera matching the video for .blend output), `export.export_fbx`,
`export.export_bvh`. The output is written to a temporary name in its folder and renamed, so a failure leaves
no half-written file.

Run as a file (`__package__` empty), it first makes the add-on importable as the package
`video_mocap_headless`: the add-on folder's `__init__.py` is loaded as that package (it has no side effects:
registration happens only in `register()`), and its `.retarget` sub-package is the repository's `retarget`
package, registered under `video_mocap_headless.retarget[.<sub>]` for every one of its modules, so classes
(errors included) are the same objects whichever name imports them. In the built add-on, where `retarget/`
is vendored inside the add-on folder, that folder's own copy is used.

Protocol: the project's event protocol (`retarget/events.py`, the add-on's vendored copy): JSON lines on stdout,
`progress` events (stage "blender") while working, then `done` with the written path (with --check:
"ARMATURE (PRESET)") and exit status 0, or one `error` event with one sentence and exit status 2 for a problem
the user can fix (bad rig, no armature, several armatures and no `--armature`, an apply or export failure).
Anything else is a bug: traceback on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

PACKAGE = "video_mocap_headless"
STAGE = "blender"
SUFFIXES = (".fbx", ".blend", ".bvh")
FBX_PRESETS = ("generic", "unity", "unreal")


class HeadlessError(Exception):
    """A problem the user can fix, in one sentence."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise HeadlessError(f"bad arguments for headless.py: {message}")


def load_addon_package(addon_dir: Path, name: str = PACKAGE) -> ModuleType:
    """Import the add-on folder as package `name` (see the module docstring); returns the package."""
    if name in sys.modules:
        return sys.modules[name]
    addon_dir = addon_dir.resolve()
    spec = importlib.util.spec_from_file_location(
        name, addon_dir / "__init__.py", submodule_search_locations=[str(addon_dir)]
    )
    if spec is None or spec.loader is None:
        raise HeadlessError(f"the add-on folder {str(addon_dir)!r} has no __init__.py.")
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
        if not (addon_dir / "retarget" / "__init__.py").is_file():
            _alias_retarget(package, addon_dir.parent)
    except BaseException:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        raise
    return package


def _alias_retarget(package: ModuleType, repository: Path) -> None:
    """Register the repository's `retarget` and every module in it as `<package>.retarget[.<sub>]`."""
    if str(repository) not in sys.path:
        sys.path.insert(0, str(repository))
    retarget = importlib.import_module("retarget")
    if Path(retarget.__file__ or "").resolve().parent != (repository / "retarget").resolve():
        raise HeadlessError(f"`retarget` is imported from {retarget.__file__}, not from {repository}.")
    for info in pkgutil.walk_packages(retarget.__path__, "retarget."):
        importlib.import_module(info.name)
    for mod_name, module in list(sys.modules.items()):
        if mod_name == "retarget" or mod_name.startswith("retarget."):
            sys.modules[f"{package.__name__}.{mod_name}"] = module
    package.retarget = retarget  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Addon:
    """The add-on modules headless uses, and the exceptions that mean a user error."""

    apply: ModuleType
    export: ModuleType
    armature_io: ModuleType
    events: ModuleType
    user_errors: tuple[type[BaseException], ...]


def addon_modules() -> Addon:
    """The add-on's modules, whether this file runs as a script (see the module docstring) or as a module."""
    if __package__:
        package = __package__
    else:
        here = Path(__file__).resolve().parent
        # As a script, this folder is sys.path[0]; its modules must only be imported as the package's.
        sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != here]
        package = load_addon_package(here).__name__
    apply = importlib.import_module(f"{package}.apply")
    export = importlib.import_module(f"{package}.export")
    armature_io = importlib.import_module(f"{package}.armature_io")
    errors = importlib.import_module(f"{package}.retarget.errors")
    events = importlib.import_module(f"{package}.retarget.events")
    user_errors = (
        HeadlessError,
        apply.ApplyError,
        export.ExportError,
        armature_io.ArmatureError,
        errors.RetargetError,
    )
    return Addon(apply, export, armature_io, events, user_errors)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="headless.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--motion", help="the .motion.npz to apply")
    parser.add_argument("--out", help="the .fbx, .blend or .bvh to write")
    parser.add_argument(
        "--check", action="store_true", help="only check --rig, --armature and --preset; write nothing"
    )
    parser.add_argument("--rig", help="a .blend with the armature to animate (default: our armature)")
    parser.add_argument("--armature", help="the armature object's name in --rig")
    parser.add_argument("--preset", help="bone-name preset of the rig (default: detected)")
    parser.add_argument("--smooth", type=float, default=0.0, help="smoothing strength 0..1")
    parser.add_argument("--no-foot-lock", action="store_true", help="do not pin planted feet")
    parser.add_argument("--fbx-preset", default="generic", choices=FBX_PRESETS)
    parser.add_argument("--name", default="Mocap", help="name of the Action, armature and camera")
    parser.add_argument("--video", default="", help="the video, as the .blend camera's background")
    parser.add_argument("--video-first-frame", type=int, default=0, help="video frame of the first key")
    return parser


def open_scene(bpy: Any, rig: str | None) -> None:
    """An empty scene, or the rig's .blend file."""
    if rig is None:
        bpy.ops.wm.read_homefile(use_empty=True)
        return
    path = Path(rig)
    if not path.is_file():
        raise HeadlessError(f"the rig file {rig!r} does not exist; give the path of a .blend file.")
    try:
        bpy.ops.wm.open_mainfile(filepath=str(path.resolve()), load_ui=False)
    except RuntimeError as exc:
        reason = " ".join(str(exc).split()).removeprefix("Error: ")
        raise HeadlessError(f"cannot open the rig {rig!r} as a .blend file ({reason}).") from None


def pick_armature(bpy: Any, name: str | None, rig: str) -> Any:
    """The armature object to animate in the open file's scene: `name`, or the only one there is."""
    scene = bpy.context.scene
    armatures = sorted((o for o in scene.objects if o.type == "ARMATURE"), key=lambda o: o.name)
    names = ", ".join(repr(o.name) for o in armatures)
    if name is not None:
        obj = scene.objects.get(name)
        if obj is None or obj.type != "ARMATURE":
            found = f"its armatures are {names}" if armatures else "it has none"
            raise HeadlessError(f"the rig {rig!r} has no armature named {name!r} in its scene; {found}.")
        return obj
    if not armatures:
        raise HeadlessError(f"the rig {rig!r} has no armature in its scene; pick a .blend with one.")
    if len(armatures) > 1:
        raise HeadlessError(
            f"the rig {rig!r} has {len(armatures)} armatures ({names}); pick one with --armature."
        )
    return armatures[0]


def temporary_name(out: Path) -> Path:
    """A name in `out`'s folder with the same suffix (the exporters and Blender expect it)."""
    return out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")


def check_rig(args: argparse.Namespace, addon: Addon) -> str:
    """`--check`: open the rig, pick its armature and map its bones as a run would; returns a description."""
    import bpy

    if args.rig is None:
        raise HeadlessError("--check needs --rig RIG.blend.")
    open_scene(bpy, args.rig)
    target = pick_armature(bpy, args.armature, args.rig)
    rest = addon.armature_io.rest_skeleton(target)
    presets = importlib.import_module(f"{addon.apply.__package__}.retarget.presets")
    rig_check = importlib.import_module(f"{addon.apply.__package__}.rig_check")
    bone_map = presets.bone_map_for(rest.names, args.preset)
    try:
        plan = rig_check.prepare(target, rest, bone_map)
    except rig_check.RigError as exc:
        raise HeadlessError(str(exc)) from None
    notes = "".join(f"; {n}" for n in plan.notes)
    return f"{target.name} ({bone_map.preset}{notes})"


def run(
    args: argparse.Namespace,
    addon: Addon,
    progress: Callable[[float, str], None],
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Apply the motion and write the output; returns its path. User errors raise one of
    `addon.user_errors`. The rig check's summary goes out as a progress message, its warning to `warn`."""
    if args.motion is None or args.out is None:
        raise HeadlessError("headless.py needs --motion and --out (or --check).")
    out = Path(args.out).resolve()
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise HeadlessError(f"the output must end in .fbx, .blend or .bvh, not {out.name!r}.")
    if not out.parent.is_dir():
        raise HeadlessError(f"the output folder {str(out.parent)!r} does not exist.")
    if not 0.0 <= args.smooth <= 1.0:
        raise HeadlessError(f"--smooth must be between 0 and 1, got {args.smooth}.")
    if args.rig is None and (args.armature is not None or args.preset not in (None, "ours")):
        raise HeadlessError("--armature and --preset name the armature of --rig; give --rig RIG.blend too.")
    apply, export = addon.apply, addon.export
    import bpy

    progress(0.0, "reading the motion")
    motion = apply.load_motion(str(Path(args.motion).resolve()))
    open_scene(bpy, args.rig)
    target = None if args.rig is None else pick_armature(bpy, args.armature, args.rig)
    progress(0.2, "retargeting")
    options = apply.ApplyOptions(
        preset=args.preset,
        smoothing=float(args.smooth),
        foot_lock=not args.no_foot_lock,
        key_frame_start=1,
        match_fps=True,
        match_camera=suffix == ".blend",
        video_path=str(Path(args.video).resolve()) if args.video else "",
        video_first_frame=int(args.video_first_frame),
        name=args.name,
    )
    report = apply.apply_motion(bpy.context, motion, target, options)
    armature = bpy.data.objects[report.armature]
    if report.summary():
        progress(0.55, report.summary())
    if report.warning and warn is not None:
        warn(report.warning)
    progress(0.6, "writing " + out.name)
    tmp = temporary_name(out)
    try:
        if suffix == ".fbx":
            export.export_fbx(bpy.context, armature, str(tmp), args.fbx_preset.upper())
        elif suffix == ".blend":
            try:
                bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True)
            except RuntimeError as exc:
                reason = " ".join(str(exc).split()).removeprefix("Error: ")
                raise HeadlessError(f"Blender could not save {out.name!r} ({reason}).") from None
        else:
            export.export_bvh(bpy.context, armature, str(tmp))
        if not tmp.is_file():
            raise HeadlessError(f"Blender wrote nothing for {out.name!r}.")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    progress(1.0, "done")
    return out


def main(argv: list[str] | None = None) -> int:
    addon = addon_modules()
    emit = addon.events.Emitter(sys.stdout)
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
        done = (
            check_rig(args, addon)
            if args.check
            else str(run(args, addon, emit.callback(STAGE), emit.warning))
        )
    except addon.user_errors as exc:
        emit.error(str(exc))
        return int(addon.events.EXIT_USER)
    emit.done(done)
    return int(addon.events.EXIT_OK)


if __name__ == "__main__":
    sys.exit(main())
