"""Everyone MediaPipe can find on one frame of a video, for choosing whom to follow (the add-on's subject picker,
`python -m lifting people`): the tracker's own search (`SubjectTracker.find_people`: the whole frame, then two
overlapping halves, each person found blacked out before the next pass), then a finer one over a 3 × 3 grid of
overlapping half-size windows, which finds small or backlit people the coarse passes miss (the jumper on the
sample clip's frame 150). The point to pass as `--subject X,Y` for a person is their hip centre (`person_point`).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from lifting.video2d import video as videoio
from lifting.video2d.detect import DEFAULT_SETTINGS
from lifting.video2d.mediapipe_pose import DetectorSettings, PoseResult
from lifting.video2d.track import MediaPipePose
from lifting.video2d.tracking import (
    MASK_PAD,
    SubjectTracker,
    TrackingSettings,
    centre_and_scale,
    clip_box,
    landmark_box,
    mask_inside,
    plausible_pose,
    same_person,
)


def people_on_frame(
    video_path: str | os.PathLike[str],
    frame: int,
    settings: DetectorSettings | None = None,
    tracking: TrackingSettings | None = None,
) -> tuple[list[PoseResult], npt.NDArray[np.uint8]]:
    """Everyone found on video frame `frame` (0-based), left to right by hip centre, and that frame (H, W, 3)
    BGR uint8 as decoded (upright). MocapError when the frame is not in the video."""
    path = Path(video_path)
    info = videoio.probe(path)
    if not 0 <= frame < max(info.frame_count, 1):
        raise MocapError(
            f"Frame {frame} is not in {path.name}, whose frames are 0 to {info.frame_count - 1}."
        )
    decoded = next(iter(videoio.frames(path, frame, frame + 1, info=info)), None)
    if decoded is None:
        raise MocapError(f"Frame {frame} of {path.name} cannot be decoded; choose another frame.")
    tracking = tracking or TrackingSettings()
    estimator = MediaPipePose(settings or DEFAULT_SETTINGS)
    try:
        rgb = cv2.cvtColor(decoded.image, cv2.COLOR_BGR2RGB).astype(np.uint8, copy=False)
        people = SubjectTracker(estimator, tracking, (info.width, info.height)).find_people(rgb)
        people += _finer_search(estimator, rgb, people, tracking.max_people)
    finally:
        estimator.close()
    people.sort(key=lambda p: float(person_point(p)[0]))
    return people, decoded.image


def _finer_search(
    estimator: MediaPipePose, rgb: npt.NDArray[np.uint8], found: list[PoseResult], most: int
) -> list[PoseResult]:
    """People the coarse passes missed: single-image passes on a 3 × 3 grid of half-size windows (overlapping by
    half), everyone found so far blacked out, up to `most` people in all."""
    work = rgb.copy()
    h, w = work.shape[:2]
    people = list(found)
    for known in people:
        _, scale = centre_and_scale(known)
        mask_inside(work, clip_box(landmark_box(known, MASK_PAD * scale), w, h))
    more: list[PoseResult] = []
    for y0 in (0, h // 4, h // 2):
        for x0 in (0, w // 4, w // 2):
            if len(people) >= most:
                return more
            person: PoseResult | None = estimator.detect(work, (x0, y0, x0 + w // 2, y0 + h // 2))
            if person is None or not plausible_pose(person):
                continue
            if any(same_person(person, p) for p in people):
                continue
            _, scale = centre_and_scale(person)
            mask_inside(work, clip_box(landmark_box(person, MASK_PAD * scale), w, h))
            people.append(person)
            more.append(person)
    return more


def person_point(person: PoseResult) -> tuple[float, float]:
    """The image point (x, y) px that picks this person as the subject: the hip centre."""
    centre, _ = centre_and_scale(person)
    return float(centre[0]), float(centre[1])


def person_box(person: PoseResult) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) px around the person's landmarks, with a margin of a fifth of the torso."""
    _, scale = centre_and_scale(person)
    x0, y0, x1, y1 = (float(v) for v in landmark_box(person, 0.2 * scale))
    return x0, y0, x1, y1
