"""How much each bone's predicted length varies, within short windows and over whole clips.

A loss term on training chunks can only see the spread inside a chunk; the reported bone-length std is over whole
clips. This prints both, with the accuracy, for each checkpoint on an evenly spaced subset of a split (noisy 2D,
the cameras and noise of `lifting.learn.evaluate`):

    python bench/bone_spread.py --weights lifting/weights/mocap [--weights OTHER] [--clips 60] [--windows 16,81]

Millimetres, frame-weighted over clips: MPJPE, P-MPJPE, acceleration error, and the bone-length standard
deviation (mean over bones) inside consecutive windows of each length, then over the whole clip.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from lifting.errors import MocapError
from lifting.learn.datasets.dataset import evenly_spaced, load_split
from lifting.learn.datasets.training_source import view_inputs
from lifting.learn.evaluate import EVAL_SEED, test_views
from lifting.lift.checkpoint import load_checkpoint
from lifting.lift.device import resolve_device
from lifting.lift.lift import run_models
from lifting.metrics import acceleration_error, bone_lengths, mpjpe, p_mpjpe

ROOT = Path(__file__).resolve().parents[1]


def windowed_std(lengths: npt.ArrayLike, window: int) -> float:
    """Mean over bones and consecutive whole windows of the length std; (T, B) metres -> metres.
    A clip shorter than one window counts as one window."""
    x = np.asarray(lengths, dtype=np.float64)
    count = max(1, len(x) // window)
    return float(np.mean([x[i * window : (i + 1) * window].std(axis=0).mean() for i in range(count)]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--weights", action="append", type=Path, required=True, help="checkpoint stem (repeat)"
    )
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--clips", type=int, default=60, help="evenly spaced subset (0: all)")
    parser.add_argument("--windows", default="16,81", help="window lengths in frames, comma-separated")
    parser.add_argument("--shared-dir", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        windows = [int(w) for w in args.windows.split(",")]
        if any(w < 2 for w in windows):
            raise ValueError
    except ValueError:
        print("error: --windows must be frame counts of at least 2, e.g. 16,81.", file=sys.stderr)
        return 2
    try:
        device = resolve_device(args.device)
        clips = evenly_spaced(load_split(args.shared_dir, args.split), args.clips)
        views, _ = test_views(clips, EVAL_SEED)
        header = (
            ["model", "MPJPE", "P-MPJPE", "Accel"]
            + [f"Bone std, {w} frames" for w in windows]
            + ["Bone std, clip"]
        )
        lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
        for stem in args.weights:
            config, models = load_checkpoint(stem, device=device)
            parents = config.output_joints.parents
            sums = np.zeros(3 + len(windows) + 1)
            frames = 0
            for view in views:
                with torch.no_grad():
                    pose, _ = run_models(models, view_inputs(view), config, mirror=True, device=device)
                gt = view.poses_3d.astype(np.float64)
                lengths = bone_lengths(pose, parents)
                values = [
                    mpjpe(pose, gt),
                    p_mpjpe(pose, gt),
                    acceleration_error(pose, gt) if len(gt) > 2 else 0.0,
                ]
                values += [windowed_std(lengths, w) for w in windows] + [float(lengths.std(axis=0).mean())]
                sums += np.asarray(values) * len(gt)
                frames += len(gt)
            means = sums / frames * 1000.0
            lines.append(f"| {stem} | " + " | ".join(f"{v:.1f}" for v in means) + " |")
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.split} split, {len(views)} clips, noisy 2D; millimetres")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
