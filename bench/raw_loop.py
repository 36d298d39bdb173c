"""The raw decode + MediaPipe loop that the speed benchmarks (`speed.py`, `detect_speed.py`) compare with."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def raw_mediapipe_loop(clip: Path, mp: Any, settings: Any) -> tuple[int, int]:
    """The plain loop anyone would write: `cv2.VideoCapture` decode, BGR→RGB, MediaPipe's pose landmarker in
    video mode with our model and detector settings (`lifting.video2d.mediapipe_pose.DetectorSettings`),
    landmarks to pixels; `mp` is the imported mediapipe module. Returns (frames, frames where a person was
    found)."""
    import cv2

    from lifting.video2d.mediapipe_pose import POSE_MODEL

    vision = mp.tasks.vision
    options = vision.PoseLandmarkerOptions(
        base_options=mp.tasks.BaseOptions(model_asset_path=str(POSE_MODEL)),
        running_mode=vision.RunningMode.VIDEO,
        min_pose_detection_confidence=settings.min_detection_confidence,
        min_pose_presence_confidence=settings.min_tracking_confidence,
        min_tracking_confidence=settings.min_tracking_confidence,
    )
    pose = vision.PoseLandmarker.create_from_options(options)
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    n = found = 0
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                break
            h, w = image.shape[:2]
            rgb = mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            result = pose.detect_for_video(rgb, round(n * 1000.0 / fps))
            if result.pose_landmarks:
                _ = [(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks[0]]
                found += 1
            n += 1
    finally:
        cap.release()
        pose.close()
    return n, found
