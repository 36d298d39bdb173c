"""Measure MediaPipe Pose's frame-to-frame jitter per landmark on a real clip; prints the numbers that
`lifting.learn.datasets.views.MEDIAPIPE_JITTER` holds.

    .venv/bin/python bench/measure_jitter.py [--video ../shared/data/video/sports2d_demo.mp4] [--window 9]

Runs MediaPipe's pose landmarker in video mode (`lifting.video2d.track.MediaPipePose` with the default
`DetectorSettings`, no subject tracker) on every frame. (The numbers in `views.py` were measured with
mediapipe==0.10.21's legacy `mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1)`: the same
models; docs/DESIGN.md, "The detector", compares the two.)
Jitter is the part of each landmark track that a smooth motion cannot explain: the residual of a cubic
Savitzky–Golay fit over `--window` frames, divided by sqrt(1 - h0) (h0 = the filter's centre weight, so white
noise of standard deviation s gives s back), measured robustly (1.4826 × median absolute residual, so the
frames where the tracker jumps between the two people in the clip do not count), and expressed as a fraction
of the person's size in the image (larger side of the per-frame landmark bounding box, median over the clip:
the height of these upright people), because
MediaPipe works on a crop around the person and its noise scales with the person's size. Only frames where the
landmark's visibility is at least 0.5 are used. Also prints each landmark's median visibility and the share of
frames with a detection.

MediaPipe smooths its landmarks over time, so part of its error is slow: the estimate grows with the window
(white noise would give the same number for any window). The slow part is measured as
sqrt(s(13)² - s(5)²) / s(window) per landmark, s(w) the estimate with a w-frame window, and its median over the
face landmarks (whose true motion is smoothest, so least of it leaks into the residual) is printed as
MEDIAPIPE_SLOW_RATIO.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lifting.skeleton import BLAZEPOSE


def run_mediapipe(
    video: Path,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_], tuple[int, int]]:
    """Pixels (T, 33, 2) (NaN where nobody was found), visibility (T, 33), detected (T,), (width, height)."""
    import cv2

    from lifting.video2d import video as videoio
    from lifting.video2d.mediapipe_pose import DetectorSettings
    from lifting.video2d.track import MediaPipePose

    pts, vis, det = [], [], []
    size = (0, 0)
    pose = MediaPipePose(DetectorSettings())
    try:
        for frame in videoio.frames(video):
            h, w = frame.image.shape[:2]
            size = (w, h)
            found = pose.track(cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB), frame.time)
            if found is None:
                pts.append(np.full((33, 2), np.nan))
                vis.append(np.zeros(33))
                det.append(False)
                continue
            pts.append(found.keypoints)
            vis.append(found.visibility)
            det.append(True)
    finally:
        pose.close()
    return np.array(pts), np.array(vis), np.array(det), size


def jitter(
    pixels: npt.NDArray[np.float64], visibility: npt.NDArray[np.float64], window: int
) -> tuple[npt.NDArray[np.float64], float]:
    """Per-landmark robust jitter (33,) as a fraction of the person's image height, and that height (px):
    `lifting.app.quality.robust_jitter`."""
    from lifting.app.quality import robust_jitter

    return robust_jitter(pixels, visibility, window)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = Path(__file__).resolve().parent.parent
    parser.add_argument("--video", type=Path, default=here.parent / "shared/data/video/sports2d_demo.mp4")
    parser.add_argument("--window", type=int, default=9, help="Savitzky–Golay window (odd, frames)")
    args = parser.parse_args(argv)
    pixels, vis, det, size = run_mediapipe(args.video)
    sigma, person = jitter(pixels, vis, args.window)
    short, _ = jitter(pixels, vis, 5)
    long, _ = jitter(pixels, vis, 13)
    slow = np.sqrt(np.maximum(long**2 - short**2, 0.0)) / sigma
    print(
        f"video {args.video.name}: {len(det)} frames {size[0]}x{size[1]}, detected {det.mean():.1%}, "
        f"person height median {person:.0f} px"
    )
    print(f"{'landmark':<18} {'jitter/height':>13} {'jitter px':>9} {'median vis':>10}")
    for j, name in enumerate(BLAZEPOSE.names):
        print(f"{name:<18} {sigma[j]:13.5f} {sigma[j] * person:9.2f} {np.median(vis[det, j]):10.3f}")
    print("MEDIAPIPE_JITTER = (" + ", ".join(f"{s:.5f}" for s in sigma) + ")")
    print(
        f"window 5 / {args.window} / 13 mean jitter: {short.mean():.5f} / {sigma.mean():.5f} / {long.mean():.5f}"
    )
    print(f"MEDIAPIPE_SLOW_RATIO = {np.median(slow[:11]):.2f}  (all landmarks: {np.median(slow):.2f})")
    print("MEDIAPIPE_VISIBILITY = (" + ", ".join(f"{np.median(vis[det, j]):.3f}" for j in range(33)) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
