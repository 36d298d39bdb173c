"""Compare two detectors' 2D keypoints on the same clip, without ground truth: found, jitter, left/right swaps,
and how far apart the two are. Written for the switch from mediapipe 0.10.21's legacy pose solution to the
Tasks API (mediapipe 1.2.3, the same BlazePose models); docs/DESIGN.md, "The detector", quotes its output.

    # before: the commit before the switch (f69ed06), its .venv with mediapipe==0.10.21
    .venv/bin/python -m lifting CLIP -o /tmp/old/NAME.npz --keep-keypoints
    # after: this commit
    .venv/bin/python -m lifting CLIP -o /tmp/new/NAME.npz --keep-keypoints
    .venv/bin/python bench/compare_detectors.py /tmp/old/NAME.keypoints.npz /tmp/new/NAME.keypoints.npz

Both files come from the whole detector (subject tracker, gap filling), as the add-on runs it. Measures:
- found, jitter and swaps as `python -m lifting quality` measures them (`lifting.app.quality`: frames found, not
  interpolated; `robust_jitter` over 9 frames, median over the body landmarks, % of the person's height;
  `swap_frames`);
- apart: distance between the two files' landmarks on frames both found (visibility ≥ 0.5 in both), median and
  95th percentile, px.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lifting.app.quality import jitter_2d, swap_frames  # noqa: E402
from lifting.video2d.keypoints2d import Keypoints2D  # noqa: E402


def describe(kp: Keypoints2D) -> tuple[float, float, int, float]:
    """(found %, body jitter % of height, swap frames, person height px)."""
    jitter, height = jitter_2d(kp)
    return 100.0 * kp.found.mean(), jitter, swap_frames(kp.keypoints, kp.found, height), height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="keypoints file of the first detector")
    parser.add_argument("after", type=Path, help="keypoints file of the second detector, same clip")
    args = parser.parse_args(argv)
    a, b = Keypoints2D.load(args.before), Keypoints2D.load(args.after)
    if len(a.keypoints) != len(b.keypoints):
        raise SystemExit("the two files hold different frames")
    print("| detector | frames | found | body jitter (% height) | left/right swaps | person height px |")
    print("|---|---|---|---|---|---|")
    for name, kp in (
        (f"{args.before.parent.name}/{args.before.name}", a),
        (f"{args.after.parent.name}/{args.after.name}", b),
    ):
        f, j, s, h = describe(kp)
        print(f"| {name} | {len(kp.keypoints)} | {f:.1f} % | {j:.2f} | {s} | {h:.0f} |")
    both = a.found & b.found
    seen = (a.visibility[both] >= 0.5) & (b.visibility[both] >= 0.5)
    apart = np.linalg.norm(a.keypoints[both] - b.keypoints[both], axis=-1)[seen]
    print(
        f"\napart on {int(both.sum())} frames found by both: median {np.median(apart):.1f} px, "
        f"95th percentile {np.percentile(apart, 95):.1f} px"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
