"""One process follows the subject through decoded frames: MediaPipe Pose as the tracker's estimator, and the
raw per-frame track (before gap filling) that a single-process run or one parallel segment produces.
`track_backward` follows the subject backwards in time from a frame inside the range (`--subject-frame`).

Keypoints are pixels of the upright frame, clipped into the image: a landmark MediaPipe places outside the
picture (a foot below the bottom edge) is moved onto the border and its visibility capped at `OFF_IMAGE_VISIBILITY`.
Frames without the subject have zero keypoints and visibility. With `DetectorSettings.hands`, each frame's hands
are found from the subject's pose and the previous frame's hands (`lifting.video2d.mediapipe_hands`) and clipped
the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from lifting.progress import Cancelled
from lifting.video2d import video as videoio
from lifting.video2d.mediapipe_hands import (
    NUM_HAND_LANDMARKS,
    FrameHands,
    HandEstimator,
    MediaPipeHands,
    find_hands,
)
from lifting.video2d.mediapipe_pose import (
    DetectorSettings,
    NativeLogFilter,
    PoseResult,
    import_mediapipe,
    load_pose_model,
)
from lifting.video2d.tracking import Box, SubjectState, SubjectTracker, TrackingSettings

OFF_IMAGE_VISIBILITY = 0.1
CANCELLED = "Detection was cancelled."


class MediaPipePose:
    """MediaPipe's pose landmarker (Tasks API, `POSE_MODEL`) as a `tracking.PoseEstimator`: a video-mode
    instance (tracking from the previous frame's landmarks, with landmark smoothing) and an image-mode instance
    for single images; landmarks returned in pixels."""

    def __init__(self, settings: DetectorSettings) -> None:
        if settings.model_complexity != 1:
            raise MocapError("Only the full pose model (model_complexity=1) ships with the detector; use 1.")
        self._settings = settings
        self._mp = import_mediapipe()
        self._model = load_pose_model()
        self._logs = NativeLogFilter()
        self._tracking: Any = None
        self._last_ms = -1
        try:
            self._single = self._landmarker(video=False)
        except BaseException:
            self._logs.close()
            raise

    def _landmarker(self, video: bool) -> Any:
        vision = self._mp.tasks.vision
        s = self._settings
        options = vision.PoseLandmarkerOptions(
            base_options=self._mp.tasks.BaseOptions(model_asset_buffer=self._model),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_poses=1,
            min_pose_detection_confidence=s.min_detection_confidence,
            min_pose_presence_confidence=s.min_tracking_confidence if video else s.min_detection_confidence,
            min_tracking_confidence=s.min_tracking_confidence,
        )
        return vision.PoseLandmarker.create_from_options(options)

    def _image(self, rgb: npt.NDArray[np.uint8]) -> Any:
        return self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))

    @staticmethod
    def _pixels(result: Any, width: int, height: int, x0: int = 0, y0: int = 0) -> PoseResult | None:
        if not result.pose_landmarks:
            return None
        lm = result.pose_landmarks[0]
        xy = np.array([[p.x * width + x0, p.y * height + y0] for p in lm], dtype=np.float64)
        vis = np.clip(np.array([p.visibility or 0.0 for p in lm], dtype=np.float64), 0.0, 1.0)
        world = None
        if result.pose_world_landmarks:  # the same result's 3D: metres, hip-centred, independent of the crop
            world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks[0]], dtype=np.float64)
        return PoseResult(xy, vis, world)

    def track(self, rgb: npt.NDArray[np.uint8], time: float) -> PoseResult | None:
        if self._tracking is None:
            self._tracking = self._landmarker(video=True)
            self._last_ms = -1
        # The video mode needs strictly increasing whole milliseconds.
        ms = max(round(time * 1000.0), self._last_ms + 1)
        self._last_ms = ms
        h, w = rgb.shape[:2]
        return self._pixels(self._tracking.detect_for_video(self._image(rgb), ms), w, h)

    def detect(self, rgb: npt.NDArray[np.uint8], window: Box) -> PoseResult | None:
        x0, y0, x1, y1 = window
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        crop = rgb[y0:y1, x0:x1]
        return self._pixels(self._single.detect(self._image(crop)), x1 - x0, y1 - y0, x0, y0)

    def reset_tracking(self) -> None:
        # The Tasks API has no reset: a new video-mode landmarker (about 0.1 s) starts at the next frame.
        if self._tracking is not None:
            self._tracking.close()
            self._tracking = None

    def close(self) -> None:
        self.reset_tracking()
        self._single.close()
        self._logs.close()


@dataclass
class RawHands:
    """Per-frame hands (index 0 left, 1 right): pixels (T, 2, 21, 2), visibility (T, 2, 21) (1 where found,
    `OFF_IMAGE_VISIBILITY` for landmarks clipped onto the border, 0 where not found), world (T, 2, 21, 3) metres,
    score (T, 2) the handedness agreement (`mediapipe_hands.FrameHands.score`)."""

    pixels: npt.NDArray[np.float64]
    visibility: npt.NDArray[np.float64]
    world: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]

    @classmethod
    def zeros(cls, n: int) -> RawHands:
        k = NUM_HAND_LANDMARKS
        return cls(np.zeros((n, 2, k, 2)), np.zeros((n, 2, k)), np.zeros((n, 2, k, 3)), np.zeros((n, 2)))

    @classmethod
    def stack(cls, frames: list[FrameHands], image_size: tuple[int, int]) -> RawHands:
        """One frame per row; landmarks outside the picture are moved onto its border with low visibility."""
        if not frames:
            return cls.zeros(0)
        w, h = image_size
        pixels = np.stack([f.pixels for f in frames])
        found = np.stack([f.found for f in frames])
        outside = (pixels[..., 0] < 0) | (pixels[..., 0] > w) | (pixels[..., 1] < 0) | (pixels[..., 1] > h)
        pixels[..., 0] = np.clip(pixels[..., 0], 0, w)
        pixels[..., 1] = np.clip(pixels[..., 1], 0, h)
        visibility = np.where(outside, OFF_IMAGE_VISIBILITY, 1.0) * found[..., None]
        return cls(
            pixels, visibility, np.stack([f.world for f in frames]), np.stack([f.score for f in frames])
        )

    def take(self, rows: slice | npt.NDArray[np.int64]) -> RawHands:
        return RawHands(self.pixels[rows], self.visibility[rows], self.world[rows], self.score[rows])

    @staticmethod
    def concat(parts: list[RawHands]) -> RawHands:
        return RawHands(
            np.concatenate([p.pixels for p in parts]),
            np.concatenate([p.visibility for p in parts]),
            np.concatenate([p.world for p in parts]),
            np.concatenate([p.score for p in parts]),
        )


@dataclass
class RawTrack:
    """Per-frame tracker output before gap filling: keypoints (T, 33, 2) px, visibility (T, 33), detected
    (T,), frame_index (T,), timestamps (T,) s; `final` is the subject state after the last frame and `seed`
    the subject's appearance once enrolled (both None when nobody was chosen); `hands` when asked for; `world`
    (T, 33, 3) the pose world landmarks (`PoseResult.world`, zeros where not found), None when the estimator
    gives none."""

    keypoints: npt.NDArray[np.float64]
    visibility: npt.NDArray[np.float64]
    detected: npt.NDArray[np.bool_]
    frame_index: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.float64]
    final: SubjectState | None = None
    seed: npt.NDArray[np.float32] | None = None
    hands: RawHands | None = None
    world: npt.NDArray[np.float64] | None = None

    @classmethod
    def empty(cls) -> RawTrack:
        return cls(
            np.zeros((0, 33, 2)), np.zeros((0, 33)), np.zeros(0, bool), np.zeros(0, np.int64), np.zeros(0)
        )

    def __len__(self) -> int:
        return len(self.detected)

    def slice(self, a: int, b: int | None = None) -> RawTrack:
        s = slice(a, b)
        return RawTrack(
            self.keypoints[s],
            self.visibility[s],
            self.detected[s],
            self.frame_index[s],
            self.timestamps[s],
            self.final,
            self.seed,
            None if self.hands is None else self.hands.take(s),
            None if self.world is None else self.world[s],
        )

    @staticmethod
    def concat(parts: list[RawTrack]) -> RawTrack:
        hands = None
        if any(p.hands is not None for p in parts):
            hands = RawHands.concat(
                [p.hands if p.hands is not None else RawHands.zeros(len(p)) for p in parts]
            )
        world = None
        if any(p.world is not None for p in parts):
            world = np.concatenate(
                [p.world if p.world is not None else np.zeros((len(p), 33, 3)) for p in parts]
            )
        return RawTrack(
            np.concatenate([p.keypoints for p in parts]),
            np.concatenate([p.visibility for p in parts]),
            np.concatenate([p.detected for p in parts]),
            np.concatenate([p.frame_index for p in parts]),
            np.concatenate([p.timestamps for p in parts]),
            parts[-1].final,
            parts[0].seed,
            hands,
            world,
        )


def track_frames(
    frames: Iterable[videoio.Frame],
    image_size: tuple[int, int],
    settings: DetectorSettings,
    tracking: TrackingSettings,
    *,
    seed: SubjectState | npt.NDArray[np.float32] | None = None,
    estimator: Any = None,
    hand_estimator: HandEstimator | None = None,
    on_frame: Callable[[int, SubjectTracker], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RawTrack:
    """Run the subject tracker over decoded frames (one process). `on_frame(n_done, tracker)` is called after
    each frame; `cancel()` before each, raising Cancelled. `estimator` defaults to a new MediaPipePose; with
    `settings.hands`, `hand_estimator` to a new MediaPipeHands."""
    own = estimator is None
    est = MediaPipePose(settings) if own else estimator
    own_hands = settings.hands and hand_estimator is None
    hand_est: Any = None
    if settings.hands:
        try:
            hand_est = MediaPipeHands() if own_hands else hand_estimator
        except BaseException:
            if own:
                est.close()
            raise
    hands: list[FrameHands] = []
    tracker = SubjectTracker(est, tracking, image_size, seed)
    w, h = image_size
    kps: list[npt.NDArray[np.float64]] = []
    vis: list[npt.NDArray[np.float64]] = []
    world: list[npt.NDArray[np.float64] | None] = []
    det: list[bool] = []
    indices: list[int] = []
    times: list[float] = []
    try:
        for frame in frames:
            if cancel is not None and cancel():
                raise Cancelled(CANCELLED)
            found = tracker.process(frame.image, frame.time)
            world.append(None if found is None else found.world)
            if found is None:
                kps.append(np.zeros((33, 2)))
                vis.append(np.zeros(33))
            else:
                xy = found.keypoints.copy()
                v = found.visibility.copy()
                outside = (xy[:, 0] < 0) | (xy[:, 0] > w) | (xy[:, 1] < 0) | (xy[:, 1] > h)
                xy[:, 0] = np.clip(xy[:, 0], 0, w)
                xy[:, 1] = np.clip(xy[:, 1], 0, h)
                v[outside] = np.minimum(v[outside], OFF_IMAGE_VISIBILITY)
                kps.append(xy)
                vis.append(v)
            if hand_est is not None:
                previous = hands[-1] if hands else None  # tracked from the frame before
                hands.append(
                    FrameHands.none()
                    if found is None
                    else find_hands(frame.image, found.keypoints, found.visibility, hand_est, previous)
                )
            det.append(found is not None)
            indices.append(frame.index)
            times.append(frame.time)
            if on_frame is not None:
                on_frame(len(indices), tracker)
        if cancel is not None and cancel():
            raise Cancelled(CANCELLED)
    finally:
        if own_hands:
            hand_est.close()
        if own:
            est.close()  # last: it puts stderr back (the hand model's native log lines go to the log too)
    if not indices:
        return RawTrack.empty()
    state = tracker.snapshot()
    return RawTrack(
        np.stack(kps),
        np.stack(vis),
        np.array(det, dtype=bool),
        np.asarray(indices, dtype=np.int64),
        np.asarray(times, dtype=np.float64),
        state,
        tracker.seed,
        RawHands.stack(hands, image_size) if hand_est is not None else None,
        None
        if all(w is None for w in world)
        else np.stack([np.zeros((33, 3)) if w is None else w for w in world]),
    )


def track_backward(
    path: Path,
    info: videoio.VideoInfo,
    first: int,
    pivot: int,
    stride: int,
    settings: DetectorSettings,
    tracking: TrackingSettings,
    *,
    chunk: int | None = None,
    on_frame: Callable[[int, SubjectTracker], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RawTrack:
    """Follow the subject backwards in time: video frames `pivot, pivot − stride, …` down to `first` (`pivot`
    on that grid), decoded last first (`videoio.frames_reversed`). The tracker is a fresh one, as a forward run
    starting at `pivot` has: on frame `pivot` it chooses the same person (the same frame, point and
    single-image passes) and reaches the same state, then goes on backwards. It sees a mirrored clock
    (t_pivot + (t_pivot − t), increasing, so speeds, gates and MediaPipe's video mode work as forwards); its
    tracking-mode state is its own. Returns the track in increasing frame order with the real timestamps,
    frame `pivot` included (last)."""
    real: list[float] = []

    def mirrored() -> Iterator[videoio.Frame]:
        pivot_time: float | None = None
        for frame in videoio.frames_reversed(
            path, first, pivot + 1, stride, chunk=chunk, info=info, cancel=cancel
        ):
            if pivot_time is None:
                pivot_time = frame.time
            real.append(frame.time)
            yield videoio.Frame(frame.index, 2.0 * pivot_time - frame.time, frame.image)

    raw = track_frames(
        mirrored(), (info.width, info.height), settings, tracking, on_frame=on_frame, cancel=cancel
    )
    if len(raw) == 0:
        return raw
    return RawTrack(
        raw.keypoints[::-1].copy(),
        raw.visibility[::-1].copy(),
        raw.detected[::-1].copy(),
        raw.frame_index[::-1].copy(),
        np.asarray(real[::-1], dtype=np.float64),
        None,  # the state after the backward run is at the range's start: nothing to hand on
        raw.seed,
        None if raw.hands is None else raw.hands.take(slice(None, None, -1)),
        None if raw.world is None else raw.world[::-1].copy(),
    )
