"""The sample clip's first 150 frames as a Motion3D fixture for the rig tests (issue 23).

    .venv/bin/python tools/make_motion_fixture.py [--out tests/data/sports2d_first150.motion.npz]

Detects the person on frames 0-149 of `../shared/data/video/sports2d_demo.mp4` (MediaPipe, no cache kept) and
lifts them with the shipped weights on the CPU, as `video-mocap sports2d_demo.mp4 --frames 0:150 -o X.motion.npz`
does: float32 joints, root, confidence, contacts (the shipped contact model) and head/hand orientations
(Motion3D version 3). The file records nothing about the code, so tests/data/README.md says which commit made it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lifting.app import api  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
FRAMES = (0, 150)
OUT = ROOT / "tests" / "data" / "sports2d_first150.motion.npz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SAMPLE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        keypoints = api.detect(args.video, frames=FRAMES, cache_dir=cache, workers=1)
    motion = api.lift(keypoints, device="cpu")
    if motion.num_frames != FRAMES[1] - FRAMES[0]:
        raise SystemExit(f"expected {FRAMES[1] - FRAMES[0]} frames, got {motion.num_frames}")
    if motion.contacts is None or motion.orientations is None:
        raise SystemExit("the lifted motion has no contacts or no orientations; check the shipped weights")
    motion.save(args.out)
    print(
        f"{args.out}: {motion.num_frames} frames, {len(motion.joint_names)} joints, "
        f"orientations {motion.orientation_names}, {args.out.stat().st_size} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
