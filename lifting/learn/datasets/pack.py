"""A small labeled motion-capture pack that ships with the project, for fine-tuning without the full data.

Fine-tuning (`lifting.learn.finetune`) needs labeled 3D poses next to the user's unlabeled clips; the full CMU/HDM05
data (`../shared/data/mocap`, several GB) is not on a user's machine, so the add-on and the command line use
this pack instead: short excerpts of training-split clips (split v1, never validation or test subjects), the
21 output joints and the 33 virtual MediaPipe landmarks at the model's 30 fps, stored as float16 offsets from
the pelvis (under 1 mm of rounding error at body scale) plus the pelvis path in float32.

    python -m lifting pack --shared ../shared --minutes 12 --out lifting/data/labeled_pack.npz

Licences: CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu, NSF EIA-0196217; may be included in
products, not resold as data) and HDM05 (CC BY-SA 3.0, Müller et al., Tech. report CG-2007-2, Bonn 2007).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lifting.errors import MocapError
from lifting.learn.datasets.dataset import MocapClip, clip_meta, clips_from_meta, load_split
from lifting.skeleton import MODEL_FPS, OUTPUT
from retarget.atomic_write import atomic_write

FORMAT = "video-mocap-labeled-pack"
PACK_PATH = Path(__file__).resolve().parents[2] / "data" / "labeled_pack.npz"
LICENCES = (
    "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu, NSF EIA-0196217); "
    "HDM05 (CC BY-SA 3.0, Müller et al. 2007)"
)
_PELVIS = OUTPUT.index["pelvis"]


def select_excerpts(
    clips: Sequence[MocapClip], minutes: float, excerpt_s: float = 20.0, seed: int = 0
) -> list[MocapClip]:
    """Excerpts of at most `excerpt_s` seconds from clips spread over subjects and sources, `minutes` in all.

    Clips are visited round-robin over (source, subject) in a seeded order, so the pack covers as many people
    and kinds of motion as its size allows; each excerpt is a seeded random window of its clip.
    """
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, str], list[MocapClip]] = {}
    for clip in clips:
        groups.setdefault((clip.source, clip.subject), []).append(clip)
    queues = [list(rng.permutation(len(v))) for v in groups.values()]
    members = list(groups.values())
    order = rng.permutation(len(members))
    budget = int(minutes * 60 * MODEL_FPS)
    window = int(excerpt_s * MODEL_FPS)
    out: list[MocapClip] = []
    while budget > 0 and any(queues):
        for g in order:
            if not queues[g] or budget <= 0:
                continue
            clip = members[g][int(queues[g].pop())]
            length = min(window, clip.num_frames, budget)
            if length < 2 * MODEL_FPS:
                continue
            start = int(rng.integers(0, clip.num_frames - length + 1))
            out.append(
                MocapClip(
                    name=f"{clip.name}@{start}",
                    source=clip.source,
                    subject=clip.subject,
                    trial=clip.trial,
                    source_fps=clip.source_fps,
                    joints=clip.joints[start : start + length],
                    landmarks=clip.landmarks[start : start + length],
                    approximated=clip.approximated,
                )
            )
            budget -= length
    return out


def save_pack(path: Path, clips: Sequence[MocapClip]) -> None:
    """Write the pack (float16 pelvis offsets + float32 pelvis path), atomically."""
    joints = np.concatenate([c.joints for c in clips]).astype(np.float32)
    landmarks = np.concatenate([c.landmarks for c in clips]).astype(np.float32)
    pelvis = joints[:, _PELVIS]
    meta = {
        "format": FORMAT,
        "fps": MODEL_FPS,
        "licences": LICENCES,
        "clips": [clip_meta(c) for c in clips],
    }
    atomic_write(
        path,
        lambda tmp: np.savez_compressed(
            tmp,
            joints=(joints - pelvis[:, None]).astype(np.float16),
            landmarks=(landmarks - pelvis[:, None]).astype(np.float16),
            pelvis=pelvis.astype(np.float32),
            meta=np.array(json.dumps(meta)),
        ),
        suffix=".tmp.npz",
    )


def load_pack(path: Path = PACK_PATH) -> list[MocapClip]:
    """The pack's clips (world metres, Z up, 30 fps); a clear error when it is missing or not a pack."""
    if not path.is_file():
        raise MocapError(
            f"The labeled motion-capture pack {path} is missing; reinstall, or pass --shared-dir with data/mocap."
        )
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            pelvis = z["pelvis"].astype(np.float32)
            joints = z["joints"].astype(np.float32) + pelvis[:, None]
            landmarks = z["landmarks"].astype(np.float32) + pelvis[:, None]
    except (OSError, KeyError, ValueError) as exc:
        raise MocapError(f"{path} is not a readable labeled pack ({exc}).") from None
    if meta.get("format") != FORMAT:
        raise MocapError(f"{path} is not a labeled motion-capture pack.")
    return clips_from_meta(meta["clips"], joints, landmarks)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lifting pack", description=__doc__.split("\n\n")[0])
    p.add_argument("--shared", type=Path, required=True, help="folder holding data/mocap")
    p.add_argument("--minutes", type=float, default=12.0)
    p.add_argument("--excerpt-seconds", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=PACK_PATH)
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        clips = select_excerpts(
            load_split(args.shared, "train"), args.minutes, args.excerpt_seconds, args.seed
        )
        save_pack(args.out, clips)
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    frames = sum(c.num_frames for c in clips)
    subjects = len({c.subject for c in clips})
    print(
        f"{len(clips)} excerpts of {subjects} subjects, {frames / MODEL_FPS / 60:.1f} min → {args.out} "
        f"({args.out.stat().st_size / 1e6:.1f} MB)"
    )
    return 0
