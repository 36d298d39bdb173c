"""The raw decode + MediaPipe loop that the speed benchmarks (`speed.py`, `detect_speed.py`) compare with."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def raw_mediapipe_loop(clip: Path, mp: Any, settings: Any) -> tuple[int, int]:
    """The plain loop anyone would write: `cv2.VideoCapture` decode, BGR→RGB, MediaPipe Pose in tracking mode
    with our detector settings (`lifting.video2d.mediapipe_pose.DetectorSettings`), landmarks to pixels; `mp` is the imported
    mediapipe module. Returns (frames, frames where a person was found)."""
    import cv2

    pose = mp.solutions.pose.Pose(
        static_image_mode=False,
        model_complexity=settings.model_complexity,
        min_detection_confidence=settings.min_detection_confidence,
        min_tracking_confidence=settings.min_tracking_confidence,
    )
    cap = cv2.VideoCapture(str(clip))
    n = found = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            h, w = image.shape[:2]
            result = pose.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            if result.pose_landmarks is not None:
                _ = [(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks.landmark]
                found += 1
            n += 1
    finally:
        cap.release()
        pose.close()
    return n, found
