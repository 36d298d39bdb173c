"""Make tests/data/sports2d_excerpt.mp4: the first 60 frames of the shared sample clip at half size.

    .venv/bin/python tests/data/make_excerpt.py

Source: ../shared/data/video/sports2d_demo.mp4 (from the PyPI package sports2d==0.8.34, Sports2D/Demo/demo.mp4,
BSD-3-Clause, © David Pagnon; licence in LICENSE_sports2d.txt beside this script).
"""

from __future__ import annotations

from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[1].parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
FRAMES = 60


def main() -> None:
    cap = cv2.VideoCapture(str(SOURCE))
    fps = cap.get(cv2.CAP_PROP_FPS)
    out = None
    for _ in range(FRAMES):
        ok, frame = cap.read()
        if not ok:
            break
        small = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
        if out is None:
            size = (small.shape[1], small.shape[0])
            out = cv2.VideoWriter(
                str(HERE / "sports2d_excerpt.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps, size
            )
        out.write(small)
    cap.release()
    if out is not None:
        out.release()


if __name__ == "__main__":
    main()
