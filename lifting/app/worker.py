"""The engine's worker process: what the Blender add-on starts, a thin shell over `lifting.app.api`.

    python -m lifting worker run --video V --out OUT.motion.npz [--keypoints-cache DIR] [--frames A:B]
                                 [--subject X,Y [--subject-frame N]] [--fov DEG] [--weights STEM]
                                 [--device auto|cpu|cuda] [--refine] [--free-bones]
    python -m lifting worker detect --video V --keypoints-cache DIR [--frames A:B]
                                    [--subject X,Y [--subject-frame N]]
    python -m lifting worker check [--device auto|cpu|cuda]

Protocol (version PROTOCOL_VERSION): stdout carries one JSON object per line and nothing else:

    {"event": "progress", "stage": "detect" | "lift" | "save", "fraction": 0..1 within the stage, "message": str}
    {"event": "check", ...versions and device...}            (check only)
    {"event": "warning", "message": ONE SENTENCE}             (the work goes on)
    {"event": "done", "result": PATH}                         (last line on success)
    {"event": "error", "message": ONE SENTENCE}               (last line on failure)

Exit status: 0 success, 2 a problem the user can fix (`MocapError`, `RetargetError`, bad arguments), 1 anything
else (the traceback goes to stderr, which the add-on keeps in a log file). Results are written atomically
(temporary file, then rename), so a killed worker never leaves a half-written motion file. `--frames A:B` are
video frame indices, A inclusive, B exclusive (`A:` runs to the end); `--subject X,Y` is a point on the person to
follow on video frame `--subject-frame N` (default: A), who is then followed before and after it. Heavy modules
(torch, the API) are imported lazily, after the arguments have been checked.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import platform
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from lifting.app.options import (
    ArgumentParser,
    check_output_file,
    parse_frames,
    parse_point,
    parse_subject_frame,
)
from lifting.camera import check_fov_deg
from lifting.errors import MocapError, reporting_warnings
from retarget.errors import RetargetError
from retarget.events import EXIT_INTERNAL, EXIT_OK, EXIT_USER, PROTOCOL_VERSION, Emitter

DEVICES = ("auto", "cpu", "cuda")
STAGES = ("detect", "lift", "save")
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
_PACKAGES = ("numpy", "torch", "opencv-python-headless", "mediapipe", "safetensors", "scipy")
# (module, package) of everything the engine imports when it works.
_IMPORTS = (
    ("numpy", "numpy"),
    ("cv2", "opencv-python-headless"),
    ("mediapipe", "mediapipe"),
    ("safetensors", "safetensors"),
    ("scipy", "scipy"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m lifting worker", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="video -> .motion.npz (detect, then lift)")
    run.add_argument("--video", required=True)
    run.add_argument("--out", required=True, help="the .motion.npz to write")
    run.add_argument("--keypoints-cache", default=None, help="folder for the .keypoints.npz cache")
    run.add_argument("--frames", default=None, help="video frames A:B (B exclusive)")
    run.add_argument("--fov", type=float, default=None, help="horizontal field of view in degrees")
    run.add_argument(
        "--weights", default=None, help="checkpoint stem (NAME for NAME.safetensors + NAME.json)"
    )
    run.add_argument("--device", choices=DEVICES, default="auto")
    run.add_argument("--refine", action="store_true", help="per-clip self-correction after lifting")
    run.add_argument(
        "--free-bones",
        action="store_true",
        help="keep the network's per-frame bone lengths instead of one length per bone for the clip",
    )
    det = sub.add_parser("detect", help="video -> 2D keypoints cache only")
    det.add_argument("--video", required=True)
    det.add_argument("--keypoints-cache", required=True)
    det.add_argument("--frames", default=None)
    for command in (run, det):
        command.add_argument("--hands", action="store_true", help="also 21 landmarks per hand")
        command.add_argument("--subject", default=None, help="X,Y: a point on the person to follow (pixels)")
        command.add_argument(
            "--subject-frame",
            default=None,
            help="N: the video frame of --subject (default: the first of --frames)",
        )
    ppl = sub.add_parser("people", help="everyone found on one frame: numbered picture and their points")
    ppl.add_argument("--video", required=True)
    ppl.add_argument("--frame", type=int, default=0)
    ppl.add_argument("--out", required=True, help="the picture to write (.png)")
    chk = sub.add_parser("check", help="versions and the device that would be used")
    chk.add_argument("--device", choices=DEVICES, default="auto")
    return parser


def _engine(module: str) -> Any:
    """Import one of the engine's heavy modules (torch and the rest come with it), with a clear error when the
    engine lacks it or one of its packages."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (exc.name == "lifting" or module.startswith(exc.name)):
            raise MocapError(
                f"this engine has no {module} module; update the add-on and reinstall the engine."
            ) from None
        raise MocapError(
            f"the engine is missing the Python package {exc.name!r}; reinstall the engine from the add-on's preferences."
        ) from None


def _existing_video(path: str) -> Path:
    video = Path(path)
    if not video.is_file():
        raise MocapError(f"the video {str(video)!r} does not exist; choose another file.")
    return video


def _subject(args: argparse.Namespace) -> dict[str, Any]:
    """`frames`, `subject`, `hands` and, when given, `subject_frame` for `api.detect`, checked."""
    frames, subject = parse_frames(args.frames), parse_point(args.subject)
    found: dict[str, Any] = {"frames": frames, "subject": subject}
    if args.hands:
        found["hands"] = True
    subject_frame = parse_subject_frame(args.subject_frame, subject, frames)
    if subject_frame is not None:
        found["subject_frame"] = subject_frame
    return found


def cmd_detect(args: argparse.Namespace, emit: Emitter) -> int:
    video = _existing_video(args.video)
    which = _subject(args)
    cache = Path(args.keypoints_cache)
    api = _engine("lifting.app.api")
    api.detect(video, **which, cache_dir=cache, progress=emit.callback("detect"))
    emit.progress("detect", 1.0)
    emit.done(str(cache))
    return EXIT_OK


def cmd_run(args: argparse.Namespace, emit: Emitter) -> int:
    video = _existing_video(args.video)
    which = _subject(args)
    out = check_output_file(Path(args.out), (".npz",), "motion file")
    if args.fov is not None:
        check_fov_deg(args.fov)
    weights = None
    if args.weights:
        # Validated before any detection, without loading its tensors; the shipped weights are tested.
        checkpoint = _engine("lifting.lift.checkpoint")
        weights = checkpoint.weights_stem(args.weights)
        checkpoint.check_checkpoint(weights)
    # An unusable cache folder costs a warning in detect, not the run.
    cache = None if args.keypoints_cache is None else Path(args.keypoints_cache)
    api = _engine("lifting.app.api")
    lift_options: dict[str, Any] = {
        "weights": weights,
        "device": args.device,
        "fov_deg": args.fov,
        "progress": emit.callback("lift"),
    }
    if args.free_bones:
        lift_options["constant_bones"] = False
    if args.refine:  # per-clip self-correction (lifting.lift.refine), reported as a "refine" stage of "lift"
        lift_options["refine"] = True
    keypoints = api.detect(video, **which, cache_dir=cache, progress=emit.callback("detect"))
    emit.progress("detect", 1.0)
    motion = api.lift(keypoints, **lift_options)
    emit.progress("lift", 1.0)
    emit.progress("save", 0.0, "writing the motion file")
    motion.save(out)  # Motion3D.save is atomic: temporary file in the same folder, then os.replace
    emit.progress("save", 1.0)
    emit.done(str(out))
    return EXIT_OK


def cmd_people(args: argparse.Namespace, emit: Emitter) -> int:
    """A "people" event with everyone found on the frame (number, point, box, left to right), the numbered
    picture written to --out; done with the picture's path."""
    video = _existing_video(args.video)
    out = check_output_file(Path(args.out), (".png",), "picture")
    people_module = _engine("lifting.video2d.people")
    drawing = _engine("lifting.app.people")
    emit.progress("detect", 0.0, f"looking for people on frame {args.frame}")
    people, frame = people_module.people_on_frame(video, args.frame)
    drawing.write_picture(out, drawing.draw_people(frame, people))
    found = [
        {"number": n, "point": list(people_module.person_point(p)), "box": list(people_module.person_box(p))}
        for n, p in enumerate(people, start=1)
    ]
    emit.event(
        "people", frame=args.frame, people=found, image_size=[int(frame.shape[1]), int(frame.shape[0])]
    )
    emit.progress("detect", 1.0)
    emit.done(str(out))
    return EXIT_OK


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cmd_check(args: argparse.Namespace, emit: Emitter) -> int:
    info: dict[str, Any] = {
        "protocol": PROTOCOL_VERSION,
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "lifting": importlib.import_module("lifting").__version__,
        "packages": {p: _version(p) for p in _PACKAGES},
        "weights": sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors")) if WEIGHTS_DIR.is_dir() else [],
        "api": importlib.util.find_spec("lifting.app.api") is not None,
    }
    try:
        import torch
    except ImportError:
        emit.event("check", **info, device=None)
        raise MocapError(
            "the engine has no PyTorch; install the engine again from the add-on's preferences."
        ) from None
    # Every package the engine runs is imported here, so a broken install is found by Check Engine, not by the
    # first Video to Animation.
    for module, package in _IMPORTS:
        try:
            importlib.import_module(module)
        except Exception as exc:
            emit.event("check", **info, device=None)
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            raise MocapError(
                f"the engine's {package} cannot be imported ({reason}); install the engine again from the "
                "add-on's preferences."
            ) from None
    cuda = bool(torch.cuda.is_available())
    info["torch_cuda"] = torch.version.cuda
    info["cuda_available"] = cuda
    info["gpu"] = torch.cuda.get_device_name(0) if cuda else None
    if args.device == "cuda" and not cuda:
        emit.event("check", **info, device=None)
        raise MocapError("CUDA was requested but this engine sees no NVIDIA GPU; choose Auto or CPU.")
    device = "cuda" if (args.device == "cuda" or (args.device == "auto" and cuda)) else "cpu"
    emit.event("check", **info, device=device)
    emit.done(device)
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Emitter], int]] = {
    "run": cmd_run,
    "detect": cmd_detect,
    "check": cmd_check,
    "people": cmd_people,
}


def main(argv: list[str] | None = None, stdout: TextIO | None = None) -> int:
    """Run one worker command; returns the exit status (see the module docstring)."""
    if stdout is None and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", line_buffering=True)
    emit = Emitter(stdout if stdout is not None else sys.stdout)
    try:
        args = build_parser().parse_args(argv)
        with reporting_warnings(emit.warning):
            return COMMANDS[args.command](args, emit)
    except (MocapError, RetargetError) as exc:
        emit.error(str(exc))
        return EXIT_USER
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        emit.error(f"the worker failed ({type(exc).__name__}: {exc}); the engine log has the details")
        return EXIT_INTERNAL
