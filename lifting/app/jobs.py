"""Videos to animation files, as a Python API (the `video-mocap` command line is a thin shell over it).

`plan(args)` turns the arguments of a conversion (an argparse.Namespace from `lifting.app.cli`) into `Job`s and
`ConvertOptions`, checking everything that can be checked before any heavy work: the videos exist (folders
give their videos, `VIDEO_SUFFIXES`, not recursive), the output format (from the suffix of the output
file, or `--format` for a folder), the output and preview folders (created), Blender's module for .fbx and
.blend, the rig file (opened in Blender by `lifting.app.via_blender.check_rig`), --frames, the weights, the
device... A problem raises `UsageError`, one sentence; nothing is written but folders.

`convert_one(job, options)` then runs detect → lift → retarget → write (→ preview) for one video and
returns a short summary (frames, detection rate, motion, the files written). .bvh onto our armature and .npz
(the Motion3D before retargeting) are written here, numpy only; .fbx, .blend and .bvh onto a .blend rig
through Blender (`lifting.app.via_blender`); the preview video by `lifting.app.preview`. Each stage reports its
progress through a `Stages` runner (the command line draws one bar per stage).
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from lifting.app import api
from lifting.app.options import (
    DEFAULT_FORMAT,
    ConvertOptions,
    UsageError,
    check_folder,
    check_smooth,
    check_workers,
    parse_frames,
    parse_point,
    parse_subject_frame,
)
from lifting.app.quality import planted_fraction, root_travel, standing_height
from lifting.app.via_blender import blender_problem, check_rig, write_with_blender
from lifting.camera import check_focal_px, check_fov_deg
from lifting.errors import MocapError
from lifting.lift.checkpoint import check_checkpoint, weights_stem
from lifting.lift.device import resolve_device
from lifting.lift.lift import default_weights
from lifting.progress import Progress
from lifting.video2d import video as videoio
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.video import expand_videos
from retarget import pipeline
from retarget.motion3d import Motion3D
from retarget.pipeline import RetargetConfig, RetargetResult
from retarget.presets import preset_names
from retarget.rest_skeleton import RestSkeleton

if TYPE_CHECKING:
    from lifting.app.preview import PreviewReport

# format -> file suffix in folder mode; output suffix -> format.
FORMAT_SUFFIX = {"fbx": ".fbx", "blend": ".blend", "bvh": ".bvh", "npz": ".motion.npz"}
SUFFIX_FORMAT = {".fbx": "fbx", ".blend": "blend", ".bvh": "bvh", ".npz": "npz"}
BLENDER_FORMATS = ("fbx", "blend")

T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One video to convert: the output file, the preview video (or None), the kept keypoints (or None)."""

    video: Path
    out: Path
    preview: Path | None = None
    keypoints: Path | None = None


class Stages(Protocol):
    """Runs one stage of a conversion: `stages(name, work)` calls `work(progress)` and returns its result;
    `progress(fraction 0..1, message)` reports on the stage (the command line draws a bar per stage)."""

    def __call__(self, name: str, work: Callable[[Progress], T], /) -> T: ...


def quiet_stages(name: str, work: Callable[[Progress], T], /) -> T:
    """The `Stages` runner that reports nothing."""
    return work(_ignore_progress)


def _ignore_progress(*_: Any) -> None:
    pass


# -- plan and checks (before any heavy work) -----------------------------------------------------------------
def output_format(path: Path) -> str | None:
    """The format an output file's suffix names (.fbx .blend .bvh .npz, any case), or None."""
    return SUFFIX_FORMAT.get(path.suffix.lower())


def find_videos(inputs: Sequence[str]) -> tuple[list[Path], bool]:
    """The videos named on the command line (folders give their videos, sorted, not recursive), and whether
    this is a batch (a folder or several videos)."""
    try:
        videos = expand_videos(inputs)
    except MocapError as exc:
        raise UsageError(str(exc)) from None
    batch = len(inputs) > 1 or any(Path(text).is_dir() for text in inputs)
    return videos, batch


def preview_problem() -> str | None:
    """Why no preview can be rendered (None when it can)."""
    if importlib.util.find_spec("lifting.app.preview") is None:
        return "--preview needs lifting/app/preview.py, which this version does not have yet."
    return None


def check_weights(stem: str | None) -> str | None:
    """The checkpoint a run will use (`stem`, or the shipped one for None) resolved and validated without
    loading its tensors (`lifting.lift.checkpoint.check_checkpoint`), before any work; a UsageError otherwise.
    Returns the stem to pass on (None for the shipped weights)."""
    try:
        resolved = weights_stem(stem)
        check_checkpoint(resolved if resolved is not None else default_weights())
    except MocapError as exc:
        raise UsageError(str(exc)) from None
    return resolved


def check_focal_for(videos: Sequence[Path], focal_px: float | None) -> None:
    """A given focal length makes sense at each video's width (a video that does not open is left to its own
    run, which reports it and lets a batch go on)."""
    if focal_px is None:
        return
    for video in videos:
        try:
            width = videoio.probe(video).width
        except MocapError:
            continue
        try:
            check_focal_px(focal_px, width)
        except MocapError as exc:
            raise UsageError(f"{video.name}: {exc}") from None


def convert_options(args: argparse.Namespace, fmt: str) -> ConvertOptions:
    """Check every option (one-line UsageError) and gather them."""
    try:
        fov_deg = None if args.fov is None else check_fov_deg(args.fov)
        focal_px = None if args.focal is None else check_focal_px(args.focal)
    except MocapError as exc:
        raise UsageError(str(exc)) from None
    check_smooth(args.smooth)
    check_workers(args.workers)
    rig: Path | None = None
    if args.rig is not None and args.rig != "ours":
        if args.rig in preset_names():
            raise UsageError(
                f"--rig {args.rig}: only our armature ('ours') is built without a file; give that rig's .blend "
                f"with --rig RIG.blend (its preset is detected, or force it with --preset {args.rig})."
            )
        rig = Path(args.rig)
        if rig.suffix.lower() != ".blend":
            raise UsageError(f"--rig takes a .blend file or 'ours', not {args.rig!r}.")
        if not rig.is_file():
            raise UsageError(f"the rig file {args.rig!r} does not exist; check the path.")
        if fmt == "npz":
            raise UsageError(
                "an .npz output is the 3D motion before retargeting; --rig applies to fbx, blend, bvh."
            )
    if rig is None and (args.armature is not None or args.preset not in (None, "ours")):
        raise UsageError("--armature and --preset describe the armature of --rig; give --rig RIG.blend too.")
    if fmt in BLENDER_FORMATS or rig is not None:
        problem = blender_problem(f".{fmt}" if rig is None else f".{fmt} onto a .blend rig")
        if problem is not None:
            raise UsageError(problem)
    resolve_device(args.device)
    frames, subject = parse_frames(args.frames), parse_point(args.subject)
    return ConvertOptions(
        fmt=fmt,
        frames=frames,
        subject=subject,
        subject_frame=parse_subject_frame(args.subject_frame, subject, frames),
        hands=bool(args.hands),
        workers=args.workers,
        device=args.device,
        weights=check_weights(args.weights),
        fov_deg=fov_deg,
        focal_px=focal_px,
        constant_bones=not args.free_bones,
        refine=bool(args.refine),
        smooth=float(args.smooth),
        foot_lock=not args.no_foot_lock,
        rig=rig,
        armature=args.armature,
        preset=None if args.preset == "ours" and rig is None else args.preset,
        fbx_preset=args.fbx_preset,
    )


def plan(args: argparse.Namespace) -> tuple[list[Job], ConvertOptions]:
    """The jobs and options of a `convert` command line, every check done; nothing written but folders."""
    videos, batch = find_videos(args.inputs)
    out = Path(args.out)
    named = output_format(out)
    if named is not None and not out.is_dir():
        if batch:
            raise UsageError(
                f"-o {args.out!r} is a file, but there are {len(videos)} videos; give a folder and --format."
            )
        if args.format is not None and args.format != named:
            raise UsageError(f"--format {args.format} disagrees with -o {args.out!r}; drop one of them.")
        fmt, folder = named, None
    elif out.suffix and not out.is_dir():
        known = ", ".join(SUFFIX_FORMAT)
        raise UsageError(f"cannot write {out.name!r}: the output must end in {known} (or be a folder).")
    else:
        fmt, folder = args.format or DEFAULT_FORMAT, out
    options = convert_options(args, fmt)
    check_focal_for(videos, options.focal_px)
    if folder is None:
        check_folder(out.parent, "output folder")
        outs = [out]
    else:
        check_folder(folder, "output folder")
        outs = [folder / f"{v.stem}{FORMAT_SUFFIX[fmt]}" for v in videos]
        seen: dict[Path, Path] = {}
        for video, path in zip(videos, outs, strict=True):
            if path in seen:
                raise UsageError(f"{seen[path].name!r} and {video.name!r} would both write {path.name!r}.")
            seen[path] = video
    previews: list[Path | None] = [None] * len(videos)
    if args.preview is not None:
        problem = preview_problem()
        if problem is not None:
            raise UsageError(problem)
        target = Path(args.preview)
        if not batch:
            if target.suffix.lower() != ".mp4":
                raise UsageError(f"--preview writes an .mp4 video, not {target.name!r}.")
            check_folder(target.parent, "preview folder")
            previews = [target]
        else:
            if target.suffix.lower() == ".mp4":
                raise UsageError("--preview must be a folder when converting several videos.")
            check_folder(target, "preview folder")
            previews = [target / f"{v.stem}.preview.mp4" for v in videos]
    jobs = [
        Job(
            video=video,
            out=path,
            preview=preview,
            keypoints=path.with_name(_stem(path) + ".keypoints.npz") if args.keep_keypoints else None,
        )
        for video, path, preview in zip(videos, outs, previews, strict=True)
    ]
    if options.rig is not None:  # last: it starts Blender
        check_rig(options.rig, options.armature, options.preset)
    return jobs, options


def _stem(path: Path) -> str:
    """'clip' for clip.fbx and clip.motion.npz."""
    name = path.name
    return name[: -len(".motion.npz")] if name.lower().endswith(".motion.npz") else path.stem


# -- the work ------------------------------------------------------------------------------------------------
def write_bvh_file(path: Path, rest: RestSkeleton, result: RetargetResult) -> None:
    from retarget.bvh_writer import write_bvh

    write_bvh(path, rest, result.animation)


def motion_summary(result: RetargetResult) -> str:
    """'about 1.70 m tall, root travelled 0.4 m, feet planted on 52% of frames'."""
    world = result.world_joints
    travelled, height, planted = root_travel(world), standing_height(world), planted_fraction(result.contacts)
    return f"about {height:.2f} m tall, root travelled {travelled:.1f} m, feet planted on {planted:.0%} of frames"


def render_preview(
    video: Path,
    keypoints: Keypoints2D,
    motion: Motion3D,
    result: RetargetResult,
    out: Path,
    progress: Progress | None = None,
) -> PreviewReport:
    """The preview video (and `<stem>.sheet.png` beside it) through lifting.app.preview.render_preview."""
    from lifting.app.preview import render_preview as render  # imported when used: OpenCV drawing only

    sheet = out.with_name(out.stem + ".sheet.png")
    return render(
        video,
        keypoints,
        result.world_joints,
        motion.parents,
        out,
        sheet_png=sheet,
        progress=progress,
        joint_names=motion.joint_names,
    )


def convert_one(job: Job, options: ConvertOptions, stages: Stages = quiet_stages) -> str:
    """detect → lift → retarget → write (→ preview) for one video; returns its summary."""
    keypoints: Keypoints2D = stages(
        "detect",
        lambda progress: api.detect(
            job.video,
            frames=options.frames,
            subject=options.subject,
            subject_frame=options.subject_frame,
            hands=options.hands,
            workers=options.workers,
            progress=progress,
        ),
    )
    lift_options: dict[str, Any] = {
        "weights": options.weights,
        "device": options.device,
        "fov_deg": options.fov_deg,
        "focal_px": options.focal_px,
        "constant_bones": options.constant_bones,
        "refine": options.refine,
    }
    motion: Motion3D = stages("lift", lambda progress: api.lift(keypoints, progress=progress, **lift_options))
    config = RetargetConfig(smoothing=options.smooth, foot_lock=options.foot_lock)
    rest, result = pipeline.retarget_onto_ours(motion, config)

    def write(progress: Progress) -> None:
        if options.fmt == "npz":
            motion.save(job.out)
        elif options.fmt == "bvh" and options.rig is None:
            write_bvh_file(job.out, rest, result)
        else:
            write_with_blender(motion, job.out, options, job.video, keypoints, progress=progress)
        progress(1.0, "")

    stages(f"write {options.fmt}", write)
    written = [str(job.out)]
    if job.keypoints is not None:  # only once the run has succeeded: a failed run replaces no kept keypoints
        written.append(str(keypoints.save(job.keypoints)))
    if job.preview is not None:
        preview = job.preview
        report = stages(
            "preview",
            lambda progress: render_preview(job.video, keypoints, motion, result, preview, progress),
        )
        sheet = f" and {report.sheet}" if report.sheet is not None else ""
        written.append(f"{report.mp4} ({report.frames} frames){sheet}")
    onto = "our armature" if options.rig is None else f"the armature of {options.rig.name}"
    if options.fmt == "npz":
        onto = "not retargeted"
    return (
        f"{job.video.name}: {keypoints.num_frames} frames at {keypoints.fps:g} fps, person found on "
        f"{keypoints.detection_rate:.0%}; {motion_summary(result)}; {onto}\n  → " + "\n  → ".join(written)
    )
