"""Command line: `video-mocap` (also `python -m lifting`), thin shells over `lifting.app.jobs`, `lifting.app.api`
and `retarget`: argument parsers, one progress bar per stage, one line per error.

Convert videos to animation (detect → lift → retarget → write):

    video-mocap VIDEO -o OUT.fbx|OUT.blend|OUT.bvh|OUT.motion.npz [options]
    video-mocap VIDEO_OR_FOLDER [...] -o FOLDER [--format fbx|blend|bvh|npz] [options]

One video and `-o` ending in .fbx, .blend, .bvh or .npz: that file, its format from the suffix. A folder of
videos (.mp4 .mov .avi .mkv .webm .m4v, not recursive), several videos, or an `-o` without one of those
suffixes: `-o` is a folder (created if needed) and each video writes `FOLDER/<video name>.<format>`
(`<name>.motion.npz` for npz) in the `--format` given, bvh by default (it needs no Blender). Videos are
processed in turn; one that fails prints its one-line error and the others go on.

Formats: .fbx and .blend are written by Blender's Python module (`bpy`, in the same Python) running
`blender_addon/headless.py` in a subprocess, with the add-on's own apply and export code; .bvh and .npz need no
Blender. The motion goes onto our armature built from the person's proportions, or with `--rig RIG.blend` onto
that file's armature (`--armature NAME` when it has several; `--preset NAME` forces the bone-name preset,
detected otherwise); `--rig ours` is the default. A rig is read by Blender, so `--rig` with .bvh also needs
`bpy`; .npz is the 3D motion itself (a Motion3D file, before retargeting) and takes no rig. `--preview P.mp4`
renders the video with the detected and lifted skeleton (and `P.sheet.png`); for several videos it is a folder
of `<name>.preview.mp4`.

The steps as sub-commands (the rest of the tree, `worker`, `train`, `finetune`, `evaluate`, `dataset` and `pack`, is
routed by `lifting/__main__.py`):

    python -m lifting detect VIDEO -o OUT.keypoints.npz [--frames A:B] [--subject X,Y [--subject-frame N]]
                             [--hands] [--workers N]
    python -m lifting lift KEYPOINTS.npz -o OUT.motion.npz [--weights STEM] [--fov DEG] [--device auto|cpu|cuda]
    python -m lifting demo [--video VIDEO] [--out DIR] [--smooth 0..1]

`demo` writes the keypoints, the motion and a BVH on our armature, plus the FBX when `bpy` is installed and
the preview video. Everything that can be checked is checked before any detection (output suffix and folder,
Blender's module, the rig file, --frames, the weights, the device...). Errors a user can cause print one line
`error: ...` on stderr and exit with status 2, never a traceback.

The conversion itself, checks included, is `lifting.app.jobs` (a Python API); running Blender for .fbx and
.blend is `lifting.app.via_blender`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from lifting.app import api
from lifting.app.jobs import (
    FORMAT_SUFFIX,
    Stages,
    check_weights,
    convert_one,
    motion_summary,
    plan,
    preview_problem,
    render_preview,
    write_bvh_file,
)
from lifting.app.options import (
    DEFAULT_FORMAT,
    ArgumentParser,
    ConvertOptions,
    check_folder,
    check_output_file,
    check_smooth,
    check_workers,
    parse_frames,
    parse_point,
    parse_subject_frame,
)
from lifting.app.via_blender import BPY_PIN, blender_problem, write_with_blender
from lifting.errors import MocapError, reporting_warnings
from lifting.lift.device import resolve_device
from lifting.progress import Progress
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.video import VIDEO_SUFFIXES
from retarget import pipeline
from retarget.errors import RetargetError
from retarget.pipeline import RetargetConfig
from retarget.presets import preset_names

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CLIP = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
SAMPLE_EXCERPT = ROOT / "tests" / "data" / "sports2d_excerpt.mp4"
SUBCOMMANDS = ("detect", "lift", "demo")

T = TypeVar("T")


class _Bar:
    """A tqdm bar driven by `progress(fraction, message)` callbacks; it appears with the first report, so an
    error before any work prints only its one line."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar: Any = None

    def __call__(self, fraction: float, message: str = "", *_: Any) -> None:
        if self.bar is None:
            fmt = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}"
            self.bar = tqdm(total=100, desc=self.desc, file=sys.stderr, leave=False, bar_format=fmt)
        self.bar.n = round(min(max(fraction, 0.0), 1.0) * 100)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _with_bar(desc: str, run: Callable[[_Bar], T]) -> T:
    bar = _Bar(desc)
    try:
        return run(bar)
    finally:
        bar.close()


def _bars(label: str) -> Stages:
    """A conversion's stages each under its own bar, named `<label><stage>` (label: which video, or "")."""

    def stage(name: str, work: Callable[[Progress], T], /) -> T:
        return _with_bar(label + name, work)

    return stage


# -- detect, lift, demo, convert -----------------------------------------------------------------------------
def cmd_detect(args: argparse.Namespace) -> int:
    out = check_output_file(Path(args.out), (".npz",), "keypoints file")
    frames, subject = parse_frames(args.frames), parse_point(args.subject)
    subject_frame = parse_subject_frame(args.subject_frame, subject, frames)
    workers = check_workers(args.workers)
    keypoints = _with_bar(
        "detect",
        lambda bar: api.detect(
            args.video,
            frames=frames,
            subject=subject,
            subject_frame=subject_frame,
            hands=args.hands,
            workers=workers,
            progress=bar,
        ),
    )
    keypoints.save(out)
    filled = int(keypoints.interpolated.sum())
    print(
        f"{keypoints.num_frames} frames at {keypoints.fps:g} fps, person found on {keypoints.detection_rate:.0%} "
        f"of them ({filled} in short gaps filled by interpolation) → {out}"
    )
    return 0


def cmd_lift(args: argparse.Namespace) -> int:
    out = check_output_file(Path(args.out), (".npz",), "motion file")
    weights = check_weights(args.weights)
    keypoints = Keypoints2D.load(args.keypoints)
    motion = _with_bar(
        "lift",
        lambda bar: api.lift(
            keypoints,
            weights=weights,
            device=args.device,
            fov_deg=args.fov,
            constant_bones=not args.free_bones,
            refine=args.refine,
            progress=bar,
        ),
    )
    motion.save(out)
    print(f"{len(motion.joints)} frames of 3D motion at {motion.fps:g} fps → {out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Video → keypoints → 3D motion → our armature → BVH (and FBX when Blender's module is installed, and a
    preview video when lifting.app.preview exists), on the bundled sample clip."""
    video = Path(args.video) if args.video else SAMPLE_CLIP if SAMPLE_CLIP.is_file() else SAMPLE_EXCERPT
    # Everything that can be checked, before the detection.
    check_smooth(args.smooth)
    resolve_device(args.device)
    weights = check_weights(args.weights)
    out = Path(args.out)
    check_folder(out, "output folder")
    print(f"Sample clip: {video}")
    keypoints = _with_bar(
        "detect", lambda bar: api.detect(video, cache_dir=out / "cache", hands=args.hands, progress=bar)
    )
    kp_path = keypoints.save(out / f"{video.stem}.keypoints.npz")
    motion = _with_bar(
        "lift",
        lambda bar: api.lift(
            keypoints, weights=weights, device=args.device, refine=ConvertOptions.refine, progress=bar
        ),
    )
    motion_path = out / f"{video.stem}.motion.npz"
    motion.save(motion_path)
    rest, result = pipeline.retarget_onto_ours(motion, RetargetConfig(smoothing=args.smooth))
    bvh_path = out / f"{video.stem}.bvh"
    write_bvh_file(bvh_path, rest, result)
    written = [kp_path, motion_path, f"{bvh_path} (our armature, {len(rest.names)} bones)"]
    notes = []
    if blender_problem("fbx") is None:
        fbx_path = out / f"{video.stem}.fbx"
        options = ConvertOptions(smooth=args.smooth)
        _with_bar(
            "write fbx",
            lambda bar: write_with_blender(motion, fbx_path, options, video, keypoints, progress=bar),
        )
        written.append(fbx_path)
    else:
        notes.append(f"no FBX: Blender's Python module is not installed (`pip install {BPY_PIN}`)")
    if preview_problem() is None:
        preview_path = out / f"{video.stem}.preview.mp4"
        _with_bar("preview", lambda bar: render_preview(video, keypoints, motion, result, preview_path, bar))
        written.append(preview_path)
    print(
        f"{keypoints.num_frames} frames at {keypoints.fps:g} fps; person found on {keypoints.detection_rate:.0%};\n"
        f"3D motion: {motion_summary(result)};\n"
        "wrote " + "\n      ".join(str(p) for p in written) + "".join(f"\n({n})" for n in notes)
    )
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    jobs, options = plan(args)
    failed = 0
    for i, job in enumerate(jobs):
        label = f"[{i + 1}/{len(jobs)}] {job.video.name} " if len(jobs) > 1 else ""
        try:
            print(convert_one(job, options, _bars(label)), flush=True)
        except (MocapError, RetargetError, OSError) as exc:
            if len(jobs) == 1:
                raise
            failed += 1
            print(f"error: {job.video.name}: {_one_line(exc)}", file=sys.stderr, flush=True)
    if len(jobs) > 1:
        print(
            f"{len(jobs) - failed} of {len(jobs)} videos converted"
            + (f", {failed} failed." if failed else ".")
        )
    return 2 if failed else 0


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        text = str(exc)
    return " ".join(text.split())


# -- parsers and main ----------------------------------------------------------------------------------------
def _prog() -> str:
    return "video-mocap" if Path(sys.argv[0]).name.startswith("video-mocap") else "python -m lifting"


REFINE_HELP = (
    "per-clip self-correction against the 2D keypoints (on by default: truer poses and depth on real footage, "
    "docs/real_footage.md; --no-refine skips it)"
)
SUBJECT_FRAME_HELP = (
    "video frame on which --subject points at the person, inside --frames (default: the range's first); "
    "the person is followed before and after it"
)


HANDS_HELP = "also detect 21 landmarks per hand (about 1.5x the detection time; cached with the keypoints)"


def build_parser(prog: str = "python -m lifting") -> argparse.ArgumentParser:
    """The sub-commands detect, lift and demo."""
    parser = ArgumentParser(prog=prog, description="Motion capture from video.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("detect", help="video → 2D keypoints (.keypoints.npz)")
    p.add_argument("video")
    p.add_argument("-o", "--out", required=True, help="output .keypoints.npz")
    p.add_argument("--frames", help="A:B video frames, B exclusive")
    p.add_argument("--subject", help="X,Y pixels on the person to follow (default: largest, most central)")
    p.add_argument("--subject-frame", metavar="N", help=SUBJECT_FRAME_HELP)
    p.add_argument("--hands", action="store_true", help=HANDS_HELP)
    p.add_argument("--workers", type=int, help="processes for detection (default: one per core)")
    p.set_defaults(run=cmd_detect)
    p = sub.add_parser("lift", help="2D keypoints → 3D motion (.motion.npz)")
    p.add_argument("keypoints")
    p.add_argument("-o", "--out", required=True, help="output .motion.npz")
    p.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True, help=REFINE_HELP)
    p.add_argument(
        "--free-bones",
        action="store_true",
        help="keep the network's raw joints, per-frame bone lengths and no refinement, instead of one length per bone",
    )
    p.add_argument("--weights", help="checkpoint stem (default: the shipped weights)")
    p.add_argument("--fov", type=float, help="horizontal field of view of the camera, degrees")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(run=cmd_lift)
    p = sub.add_parser("demo", help="run the pipeline on the bundled sample clip")
    p.add_argument("--video", help="another video instead of the sample clip")
    p.add_argument("--out", default="out", help="output folder (default: out/)")
    p.add_argument("--weights", help="checkpoint stem (default: the shipped weights)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--smooth", type=float, default=0.3, help="smoothing strength 0..1")
    p.add_argument("--hands", action="store_true", help=HANDS_HELP)
    p.set_defaults(run=cmd_demo)
    return parser


def build_convert_parser(prog: str = "video-mocap") -> argparse.ArgumentParser:
    """VIDEO... -o OUT: detect → lift → retarget → write."""
    parser = ArgumentParser(
        prog=prog,
        description=(
            "Motion capture from video: detect the person, lift to 3D, retarget onto an armature and write "
            "FBX, .blend, BVH or the 3D motion (.npz). FBX and .blend need Blender's Python module (bpy)."
        ),
        epilog=(
            "One video and -o ending in .fbx, .blend, .bvh or .npz writes that file. With a folder of videos "
            f"({' '.join(sorted(VIDEO_SUFFIXES))}), several videos or -o without such a suffix, -o is a "
            "folder and each video writes FOLDER/<name>.<format> (<name>.motion.npz for npz); a video that "
            "fails prints its error and the others go on (exit status 2 if any failed). "
            f"Other commands: {prog} detect|lift|demo|worker|train|finetune|evaluate|dataset|pack --help."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="VIDEO", help="video files or folders of videos")
    parser.add_argument("-o", "--out", required=True, help="output file (.fbx .blend .bvh .npz) or folder")
    parser.add_argument(
        "--format",
        choices=sorted(FORMAT_SUFFIX),
        help=f"output format when -o is a folder (default: {DEFAULT_FORMAT}, which needs no Blender)",
    )
    rig = parser.add_argument_group("armature")
    rig.add_argument(
        "--rig", help="RIG.blend whose armature gets the motion, or 'ours' (default: built from the person)"
    )
    rig.add_argument("--armature", metavar="NAME", help="the armature object in --rig when it has several")
    rig.add_argument(
        "--preset",
        choices=preset_names(),
        help="bone-name preset of --rig (default: detected from bone names)",
    )
    rig.add_argument(
        "--fbx-preset", default="generic", choices=["generic", "unity", "unreal"], help="FBX axes and options"
    )
    rig.add_argument("--smooth", type=float, default=0.3, help="smoothing strength 0..1 (default: 0.3)")
    rig.add_argument("--no-foot-lock", action="store_true", help="do not pin planted feet")
    det = parser.add_argument_group("detection")
    det.add_argument("--frames", metavar="A:B", help="video frames A:B, B exclusive (default: all)")
    det.add_argument(
        "--subject", metavar="X,Y", help="pixels on the person to follow (default: largest, central)"
    )
    det.add_argument("--subject-frame", metavar="N", help=SUBJECT_FRAME_HELP)
    det.add_argument("--hands", action="store_true", help=HANDS_HELP)
    det.add_argument(
        "--workers", type=int, metavar="N", help="processes for detection (default: one per core)"
    )
    lift = parser.add_argument_group("lifting")
    camera = lift.add_mutually_exclusive_group()
    camera.add_argument("--fov", type=float, metavar="DEG", help="horizontal field of view of the camera")
    camera.add_argument("--focal", type=float, metavar="PX", help="focal length of the camera in pixels")
    lift.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    lift.add_argument("--weights", metavar="STEM", help="checkpoint stem (default: the shipped weights)")
    lift.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True, help=REFINE_HELP)
    lift.add_argument(
        "--free-bones",
        action="store_true",
        help="keep the network's raw joints, per-frame bone lengths and no refinement, instead of one length per bone",
    )
    out = parser.add_argument_group("more output")
    out.add_argument(
        "--preview",
        metavar="PATH",
        help="PREVIEW.mp4 with the skeleton over the video (a folder for several)",
    )
    out.add_argument(
        "--keep-keypoints", action="store_true", help="also write <name>.keypoints.npz beside OUT"
    )
    parser.set_defaults(run=cmd_convert)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `video-mocap` / `python -m lifting` entry point; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    prog = _prog()
    try:
        try:
            if args_list and args_list[0] in SUBCOMMANDS:
                args = build_parser(prog).parse_args(args_list)
            else:
                args = build_convert_parser(prog).parse_args(args_list)
        except SystemExit as exc:  # --help
            return int(exc.code or 0) if not isinstance(exc.code, str) else 2
        with reporting_warnings(lambda message: tqdm.write(f"warning: {message}", file=sys.stderr)):
            code: int = args.run(args)
    except (MocapError, RetargetError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    return code
