"""Command line: `python -m lifting detect|lift|demo`, thin shells over `lifting.api` and `retarget`.

    python -m lifting detect VIDEO -o OUT.keypoints.npz [--frames A:B] [--subject X,Y] [--workers N]
    python -m lifting lift KEYPOINTS.npz -o OUT.motion.npz [--weights STEM] [--fov DEG] [--device auto|cpu|cuda]
    python -m lifting demo [--video VIDEO] [--out DIR]

Errors a user can cause print one line `error: ...` on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lifting import api
from lifting.errors import MocapError
from lifting.keypoints2d import Keypoints2D
from lifting.worker import parse_frames
from retarget.errors import RetargetError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CLIP = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
SAMPLE_EXCERPT = ROOT / "tests" / "data" / "sports2d_excerpt.mp4"


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


def _with_bar(desc: str, run: Callable[[_Bar], Any]) -> Any:
    bar = _Bar(desc)
    try:
        return run(bar)
    finally:
        bar.close()


def parse_point(text: str | None) -> tuple[float, float] | None:
    """`X,Y` pixels → (x, y); None stays None."""
    if text is None:
        return None
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise MocapError(f"--subject takes X,Y in pixels (like 640,360), not {text!r}.") from None
    return x, y


def cmd_detect(args: argparse.Namespace) -> int:
    keypoints = _with_bar(
        "detect",
        lambda bar: api.detect(
            args.video,
            frames=parse_frames(args.frames),
            subject=parse_point(args.subject),
            workers=args.workers,
            progress=bar,
        ),
    )
    out = keypoints.save(args.out)
    filled = int(keypoints.interpolated.sum())
    print(
        f"{keypoints.num_frames} frames at {keypoints.fps:g} fps, person found on {keypoints.detection_rate:.0%} "
        f"of them ({filled} in short gaps filled by interpolation) → {out}"
    )
    return 0


def cmd_lift(args: argparse.Namespace) -> int:
    keypoints = Keypoints2D.load(args.keypoints)
    motion = _with_bar(
        "lift",
        lambda bar: api.lift(
            keypoints, weights=args.weights, device=args.device, fov_deg=args.fov, progress=bar
        ),
    )
    motion.save(args.out)
    print(f"{len(motion.joints)} frames of 3D motion at {motion.fps:g} fps → {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Video → keypoints → 3D motion → our armature → BVH, on the bundled sample clip."""
    from retarget.bvh_writer import write_bvh
    from retarget.our_rig import build_rest_skeleton
    from retarget.pipeline import RetargetConfig, retarget
    from retarget.placement import place

    video = Path(args.video) if args.video else SAMPLE_CLIP if SAMPLE_CLIP.is_file() else SAMPLE_EXCERPT
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"Sample clip: {video}")
    keypoints = _with_bar("detect", lambda bar: api.detect(video, cache_dir=out / "cache", progress=bar))
    kp_path = keypoints.save(out / f"{video.stem}.keypoints.npz")
    motion = _with_bar(
        "lift", lambda bar: api.lift(keypoints, weights=args.weights, device=args.device, progress=bar)
    )
    motion_path = out / f"{video.stem}.motion.npz"
    motion.save(motion_path)
    world, _ = place(motion)
    rest = build_rest_skeleton(world, motion.joint_names)
    result = retarget(motion, rest, RetargetConfig(preset="ours", smoothing=args.smooth))
    bvh_path = out / f"{video.stem}.bvh"
    write_bvh(bvh_path, rest, result.animation)
    pelvis = result.world_joints[:, 0]
    travelled = float(np.linalg.norm(np.diff(pelvis[:, :2], axis=0), axis=1).sum())
    height = float(
        np.median(result.world_joints[..., 2].max(axis=1) - result.world_joints[..., 2].min(axis=1))
    )
    print(
        f"{keypoints.num_frames} frames at {keypoints.fps:g} fps; person found on {keypoints.detection_rate:.0%};\n"
        f"3D motion: about {height:.2f} m tall, root travelled {travelled:.1f} m, "
        f"feet planted on {result.contacts.any(axis=1).mean():.0%} of frames;\n"
        f"wrote {kp_path}\n      {motion_path}\n      {bvh_path} (our armature, {len(rest.names)} bones)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lifting", description="Motion capture from video.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("detect", help="video → 2D keypoints (.keypoints.npz)")
    p.add_argument("video")
    p.add_argument("-o", "--out", required=True, help="output .keypoints.npz")
    p.add_argument("--frames", help="A:B video frames, B exclusive")
    p.add_argument("--subject", help="X,Y pixels on the person to follow (default: largest, most central)")
    p.add_argument("--workers", type=int, help="processes for detection (default: one per core)")
    p.set_defaults(run=cmd_detect)
    p = sub.add_parser("lift", help="2D keypoints → 3D motion (.motion.npz)")
    p.add_argument("keypoints")
    p.add_argument("-o", "--out", required=True, help="output .motion.npz")
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
    p.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        code: int = args.run(args)
    except (MocapError, RetargetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    return code
