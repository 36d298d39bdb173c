"""Hand landmarks of the tracked subject: 21 per hand (MediaPipe's hand landmark order), crops placed from the pose.

As MediaPipe's holistic graph does, each hand's crop is a rotated square placed from the subject's pose landmarks
(wrist, index, pinky; `hand_roi`), not found by a palm detector: so the left crop always holds the subject's left
hand, whoever else is in view, and identity follows the body. The crop is warped upright into a 224×224 image and
run through MediaPipe's hand landmark model (`hand_landmark_full` from the 0.10.21 wheel) by the Tasks API's
HandLandmarker, with the bundle `HAND_MODEL` made by `tools/make_hand_model.py`, whose "palm detector" always
reports that one crop (see the tool). Holistic refines the crop with a second small model (hand_recrop); instead,
the crop is tighter (`ROI_SCALE`, measured on the Pose2Sim takes of tests/data).

A hand found on the previous frame is tracked as MediaPipe Hands tracks it: this frame's first crop is placed
from the previous frame's hand landmarks (`tracked_roi`, MediaPipe's HandLandmarksToRoi), which are finer than
the pose's wrist, index and pinky; when that crop finds nothing, the pose's crop is tried (`HandSearch`: for a
small hand in the other order). The first crop whose hand is kept wins. A hand not found on the previous frame
gets the pose's crop only. Each crop tried is one run of the model, the whole cost of hands: at most two per
hand and frame, one where the hand is followed or long hidden. Two further rules are there to be asked for
(`HandSearch`; off by default, where they cost more than they find): a widened pose crop for a hand lost in the
last few frames, and keeping each hand's identity over time.

A hand is kept only when the model finds it (hand presence ≥ `MIN_PRESENCE`), its wrist lies nearer the pose's
wrist of its own side than the other's (otherwise the crop held the other hand) and within `MAX_WRIST_GAP`
palm lengths of it, and, when both crops found the same hand, only for the side whose wrist it is nearer. With
`HandSearch.memory`, a hand found for one side whose wrist lies on the other hand as last seen (within
`HandSearch.margin` of its palm lengths, nearer it than this hand's own last wrist) is not kept either, whatever
the pose says (the pose model confuses the arms while they cross, and its crop then holds the other hand). The
model's handedness is recorded (the score) but does not drop a hand: on these crops it is unreliable (a fist seen
from behind is called the other hand at 97 %), and the side is the pose's arm's, which the left/right repair
moves the hand with. Hands whose pose landmarks are barely visible (`MIN_POSE_VISIBILITY`) or whose crop is too
small to show fingers (`MIN_ROI_PX`) are not run at all: that also saves their time.
Per hand: pixels (21, 2), world landmarks (21, 3) in metres (MediaPipe's, origin near the hand's centre, turned
to the image's orientation), and the handedness score (the model's probability that it is this side's hand).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from lifting.skeleton import BLAZEPOSE
from lifting.video2d.mediapipe_pose import import_mediapipe

HAND_MODEL = Path(__file__).resolve().parent / "models" / "hand_landmarker.task"
NUM_HAND_LANDMARKS = 21
SIDES = ("left", "right")  # index 0 and 1 of the hands axis
CANVAS = 224  # px: the hand landmark model's input; crops are warped to this size (one resampling)
# The crop: centre and size from the wrist and the estimated middle-finger knuckle (holistic's
# HandDetectionsFromPoseToRectsCalculator: box = 2 × wrist-to-middle), expanded by ROI_SCALE and shifted
# ROI_SHIFT box sides along the hand (negative: towards the fingers). Holistic expands by 2.7, shifts by -0.1 and
# then refines the crop with its recrop model; without that model, on three Pose2Sim views (tests/data), scale
# 1.6 and shift +0.1 found the most hands (scale 1.3 / 2.0 / 2.7 and shift -0.3 / -0.1 / +0.3 fewer; 2.7 almost none).
ROI_SCALE = 1.6
ROI_SHIFT = 0.1
# and then turned by ROI_TURN radians (clockwise on the screen): on the four Pose2Sim views, the hand landmark
# model found more hands in crops turned -0.15 to -0.5 rad than at the pose's rotation (both hands alike; the most
# at -0.25 to -0.35, and +0.25 fewer), and more on the sample clip too (bench/hands_found.py, the sample clip).
ROI_TURN = -0.25
MIN_POSE_VISIBILITY = 0.3  # a hand whose pose wrist, index or pinky is less visible is not run
MIN_ROI_PX = 24.0  # px: a crop smaller than this shows no fingers (the hand is a few pixels long)
MIN_PRESENCE = 0.5  # the landmark model's hand presence needed (MediaPipe's default)
# The farthest a kept hand's wrist may lie from its pose wrist, in palm lengths (wrist to middle knuckle, taken as
# at least MIN_PALM_PX pixels).
MAX_WRIST_GAP = 2.0
MIN_PALM_PX = 10.0
# Tracking: the crop from the previous frame's landmarks (MediaPipe's HandLandmarksToRoi: the palm's landmarks'
# box in the hand's own orientation, × 2, shifted 0.1 box towards the fingers).
TRACK_SCALE = 2.0
TRACK_SHIFT = -0.1
_PALM = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)  # the landmarks HandLandmarksToRoi boxes


@dataclass(frozen=True)
class HandSearch:
    """Which crops are tried for a hand found on the previous frame (each crop tried costs one model run; a hand
    not found on the previous frame gets the pose's crop only).

    Pose's crop at least `track_min_px` wide: the crop tracked from the previous landmarks, then the pose's crop
    turned by each of `retry_turns` radians in order (0: as it is). Smaller: the pose's crop first, then the
    tracked one (on hands this small, the sample clip's, the tracked crop missed more often than the pose's).
    Measured on the Pose2Sim take (found, as bench/hands_found.py counts) and in model runs per frame: one further
    retry of the pose's crop turned by -0.25, -0.5 or +0.25 rad found 1.3, 0.8 or 0.4 points more hands for 4-6 %
    more runs; searching for a hand missed 3-10 frames running only on every 2nd-4th frame saved 3-22 %
    of the runs and lost 0.7-7 points.

    With `wide_scale` > 0, a hand not found in those crops but found in the last `lost_frames` frames, its pose
    crop at least `wide_min_px` wide, gets one more: the pose's crop × `wide_scale` / `ROI_SCALE` (the crop
    MediaPipe Hands would track the rendered clip's missed hands with is about 2× the pose crop's side). With
    `memory` > 0, a found hand lying on the other hand as last seen in the last `memory` frames (within `margin` of
    its palm lengths of its wrist, nearer it than this hand's own last wrist) is not kept. Measured for issue 26
    (bench/hands_found.py --rendered; the Pose2Sim take replayed over cached pose tracks; model runs per frame
    from bench/detect_speed.py --hands-only): scale 2.2, lost frames 8, minimum 38 px, memory 10 found 90.9 % of
    the rendered clip's visible hand-frames (left 90.1 %, right 91.9 %; 81.8 % without) with no swap (1 without);
    scale 2.5, lost frames 5: 90.2 % (right 88.6 %). On the Pose2Sim take scale 2.2 with lost frames 5-10 found
    75.3-75.9 % of the labelled hand-frames (74.1 % without), but the widened crop costs model runs: 2.49 per frame
    on Pose2Sim's cam04 (2.23 without), 2.14 on the sample clip (1.73 without), which puts detection with hands
    over 1.6× the time without on the sample clip (about 1.54× without the widened crop). Wider crops without the
    identity rule swapped hands at the crossing (4-6 swaps); the identity rule alone removes the rendered
    clip's one swap but loses one Pose2Sim hand-frame (534 of 722). The widened crop in place of the pose's crop
    for a tracked hand (no more runs) lost 1-2 points on the Pose2Sim take (73.0 %). A real palm search (BlazePalm
    from the 0.10.21 wheel, 2.5 pose boxes around a lost hand, then the landmark model on each palm found) found
    as many (rendered 90.2-93.2 %, Pose2Sim 73.8-77.4 %) but takes two model runs and a second graph: 1.7-2.3×.
    These are off by default."""

    retry_turns: tuple[float, ...] = (0.0,)
    track_min_px: float = 60.0
    wide_scale: float = 0.0
    wide_min_px: float = 38.0
    lost_frames: int = 8
    memory: int = 0
    margin: float = 1.0


SEARCH = HandSearch()
# Which of MediaPipe's handedness labels is the subject's right hand in an unmirrored video (measured on the
# Pose2Sim takes: the label "Right" went with the pose's right wrist).
RIGHT_LABEL = "Right"
NEVER = 1 << 30  # `FrameHands.last_age` of a hand never found

FloatArray = npt.NDArray[np.float64]
_POSE = [
    [BLAZEPOSE.index[f"{side}_{part}"] for part in ("wrist", "index", "pinky")] for side in SIDES
]  # (2, 3): wrist, index, pinky per side


@dataclass(frozen=True)
class HandRoi:
    """A hand crop: a square of side `size` px centred on `centre` (x, y) px, turned by `rotation` radians
    (clockwise on the screen, y down; 0: fingers up)."""

    centre: tuple[float, float]
    size: float
    rotation: float

    def to_image(self) -> FloatArray:
        """(2, 3) affine map from the CANVAS×CANVAS crop's pixels (u, v) to the frame's pixels (x, y)."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        k = self.size / CANVAS
        m = np.array([[c * k, -s * k, 0.0], [s * k, c * k, 0.0]])
        m[:, 2] = np.asarray(self.centre) - m[:, :2] @ np.array([CANVAS / 2, CANVAS / 2])
        return m

    def image_points(self, pixels: npt.ArrayLike) -> FloatArray:
        """Points (..., 2) in the crop's CANVAS pixels → the frame's pixels."""
        m = self.to_image()
        out: FloatArray = np.asarray(pixels, dtype=np.float64) @ m[:, :2].T + m[:, 2]
        return out


def palm_length(pixels: npt.ArrayLike) -> float:
    """A hand's palm length, wrist to middle knuckle, px, from its 21 landmarks (21, 2); at least MIN_PALM_PX."""
    p = np.asarray(pixels, dtype=np.float64)
    return max(float(np.hypot(*(p[9] - p[0]))), MIN_PALM_PX)


def hand_roi(
    wrist: npt.ArrayLike,
    index: npt.ArrayLike,
    pinky: npt.ArrayLike,
    scale: float = ROI_SCALE,
    shift: float = ROI_SHIFT,
    turn: float = ROI_TURN,
) -> HandRoi:
    """The crop for one hand from its pose landmarks (pixels), as MediaPipe's holistic graph places it: the middle
    finger's knuckle estimated as (2 · index + pinky) / 3, box side twice its distance from the wrist, rotation
    that brings the wrist-to-middle direction upright, centre on the middle knuckle moved `shift` box sides along
    the hand (negative: towards the fingers), side × `scale`, then turned by `turn` radians about its centre."""
    w = np.asarray(wrist, dtype=np.float64)
    m = (2.0 * np.asarray(index, dtype=np.float64) + np.asarray(pinky, dtype=np.float64)) / 3.0
    box = 2.0 * float(np.hypot(*(m - w)))
    rotation = math.pi / 2 - math.atan2(-(m[1] - w[1]), m[0] - w[0])
    rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
    centre = m + box * shift * np.array([-math.sin(rotation), math.cos(rotation)])
    rotation = (rotation + turn + math.pi) % (2 * math.pi) - math.pi
    return HandRoi((float(centre[0]), float(centre[1])), box * scale, rotation)


def tracked_roi(pixels: npt.ArrayLike, scale: float = TRACK_SCALE, shift: float = TRACK_SHIFT) -> HandRoi:
    """The crop for a hand from its landmarks (21, 2) px on the previous frame, as MediaPipe Hands tracks it
    (HandLandmarksToRectCalculator): rotation that brings the wrist-to-knuckles direction upright (the knuckles:
    the middle finger's averaged with the mean of the index and ring fingers'), the palm landmarks' box in that
    orientation, its longer side × `scale`, moved `shift` box heights along the hand (negative: to the fingers)."""
    p = np.asarray(pixels, dtype=np.float64)[list(_PALM)]
    wrist, knuckles = p[0], ((p[4] + p[8]) / 2.0 + p[6]) / 2.0
    rotation = math.pi / 2 - math.atan2(-(knuckles[1] - wrist[1]), knuckles[0] - wrist[0])
    rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
    c, s = math.cos(rotation), math.sin(rotation)
    # Columns: the crop's x and y (down) in the picture (`HandRoi.to_image`).
    axes = np.array([[c, -s], [s, c]])
    centre = (p.max(axis=0) + p.min(axis=0)) / 2.0
    local = (p - centre) @ axes
    lo, hi = local.min(axis=0), local.max(axis=0)
    height = float(hi[1] - lo[1])
    middle = centre + axes @ ((lo + hi) / 2.0) + shift * height * axes[:, 1]
    return HandRoi((float(middle[0]), float(middle[1])), float(np.max(hi - lo)) * scale, rotation)


def crop(bgr: npt.NDArray[np.uint8], roi: HandRoi) -> npt.NDArray[np.uint8]:
    """The RGB CANVAS×CANVAS image of the crop (black outside the frame)."""
    canvas = cv2.warpAffine(
        bgr,
        roi.to_image(),
        (CANVAS, CANVAS),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return np.asarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB), dtype=np.uint8)


@dataclass
class CanvasHand:
    """The model's answer on one crop: landmarks (21, 2) in crop pixels, world landmarks (21, 3) metres in the
    crop's orientation, and the probability that it is a right hand."""

    pixels: FloatArray
    world: FloatArray
    right: float


class HandEstimator(Protocol):
    def landmarks(self, rgb: npt.NDArray[np.uint8]) -> CanvasHand | None:
        """One hand in a CANVAS×CANVAS RGB crop, or None when the model finds none."""


@dataclass
class FrameHands:
    """One frame's hands, index 0 left, 1 right: pixels (2, 21, 2), found (2,), world (2, 21, 3) metres,
    score (2,) the model's probability that each is its side's hand; zeros where not found. `last` (2, 21, 2) px:
    each hand's landmarks where it was last found, `last_age` (2,) how many frames before this one (0: found on
    it; a large number: never)."""

    pixels: FloatArray
    found: npt.NDArray[np.bool_]
    world: FloatArray
    score: FloatArray
    last: FloatArray = dataclasses.field(default_factory=lambda: np.zeros((2, NUM_HAND_LANDMARKS, 2)))
    last_age: npt.NDArray[np.int64] = dataclasses.field(default_factory=lambda: np.full(2, NEVER))

    def last_seen(self) -> tuple[FloatArray, npt.NDArray[np.int64]]:
        """Where each hand was last found as of this frame, (2, 21, 2) px, and how many frames before this one
        (2,) (0: found on it)."""
        last = np.where(self.found[:, None, None], self.pixels, self.last)
        age: npt.NDArray[np.int64] = np.where(self.found, 0, self.last_age)
        return last, age

    @classmethod
    def none(cls) -> FrameHands:
        return cls(
            np.zeros((2, NUM_HAND_LANDMARKS, 2)),
            np.zeros(2, dtype=bool),
            np.zeros((2, NUM_HAND_LANDMARKS, 3)),
            np.zeros(2),
        )


def find_hands(
    bgr: npt.NDArray[np.uint8],
    pose: FloatArray,
    visibility: FloatArray,
    estimator: HandEstimator,
    previous: FrameHands | None = None,
    search: HandSearch | None = None,
) -> FrameHands:
    """Both hands of the subject whose pose (33, 2) px with visibility (33,) is given, in this BGR frame;
    `previous`: the hands found on the frame before (tracked from their landmarks), None on a first frame;
    `search`: which crops to try (default `SEARCH`)."""
    search = SEARCH if search is None else search
    out = FrameHands.none()
    wrists = pose[[_POSE[0][0], _POSE[1][0]]]
    # Frames since each hand was last found, before this one (0: on the frame before; a first frame counts as 0).
    age = np.zeros(2) if previous is None else np.where(previous.found, 0, previous.last_age + 1)
    for side in (0, 1):
        joints = _POSE[side]
        if float(np.min(visibility[joints])) < MIN_POSE_VISIBILITY:
            continue
        roi = hand_roi(*pose[joints])
        if not roi.size >= MIN_ROI_PX:  # also NaN
            continue
        tries = [roi]
        if previous is not None and previous.found[side]:
            tracked = tracked_roi(previous.pixels[side])
            if roi.size >= search.track_min_px:
                tries = [tracked] + [
                    HandRoi(roi.centre, roi.size, roi.rotation + d) for d in search.retry_turns
                ]
            else:
                tries = [roi, tracked]
        if search.wide_scale > 0 and age[side] < search.lost_frames and roi.size >= search.wide_min_px:
            tries.append(HandRoi(roi.centre, roi.size * search.wide_scale / ROI_SCALE, roi.rotation))
        for attempt in tries:
            if _try_crop(bgr, attempt, side, wrists, estimator, out, previous, search):
                break
    if out.found.all() and _same_hand(out.pixels[0], out.pixels[1]):
        # Both crops found one hand: it stays with the side whose pose wrist it is nearer.
        gaps = [float(np.hypot(*(out.pixels[s, 0] - wrists[s]))) for s in (0, 1)]
        drop = int(np.argmax(gaps))
        out.pixels[drop], out.world[drop], out.score[drop], out.found[drop] = 0.0, 0.0, 0.0, False
    if previous is not None:
        out.last, age_before = previous.last_seen()
        out.last_age = age_before + 1
    for side in (0, 1):
        if out.found[side]:
            out.last[side], out.last_age[side] = out.pixels[side], 0
    return out


def _try_crop(
    bgr: npt.NDArray[np.uint8],
    roi: HandRoi,
    side: int,
    wrists: FloatArray,
    estimator: HandEstimator,
    out: FrameHands,
    previous: FrameHands | None = None,
    search: HandSearch | None = None,
) -> bool:
    """Run the model on one crop for hand `side` (0 left, 1 right; pose wrists (2, 2) px) and, when the hand it
    finds is kept (see the module docstring; `previous`: the frame before, for its hands' identity under `search`),
    write it into `out`; whether it was kept."""
    if not roi.size >= MIN_ROI_PX:
        return False
    hand = estimator.landmarks(crop(bgr, roi))
    if hand is None:
        return False
    xy = roi.image_points(hand.pixels)
    own, other = (float(np.hypot(*(xy[0] - wrists[s]))) for s in (side, 1 - side))
    if other < own or own > MAX_WRIST_GAP * palm_length(xy):
        return False
    if (
        search is not None
        and previous is not None
        and _stolen(xy, side, previous, search.memory, search.margin)
    ):
        return False
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    world = hand.world.copy()
    world[:, :2] = hand.world[:, :2] @ np.array([[c, s], [-s, c]])
    out.pixels[side], out.world[side], out.found[side] = xy, world, True
    out.score[side] = hand.right if side == 1 else 1.0 - hand.right
    return True


def _stolen(xy: FloatArray, side: int, previous: FrameHands, memory: int, margin: float) -> bool:
    """Whether a hand found for `side` at `xy` (21, 2) px is the other hand as last seen (`previous`: the frame
    before): the other hand found fewer than `memory` frames before `previous`, this hand's wrist within `margin`
    of its palm lengths (wrist to middle knuckle) of the other's last wrist and nearer it than this hand's own last
    wrist (or this hand not seen in that time)."""
    if memory <= 0:
        return False
    last, age = previous.last_seen()
    other = 1 - side
    if age[other] >= memory:
        return False
    to_other = float(np.hypot(*(xy[0] - last[other, 0])))
    if to_other >= margin * palm_length(last[other]):
        return False
    return age[side] >= memory or to_other < float(np.hypot(*(xy[0] - last[side, 0])))


def _same_hand(a: FloatArray, b: FloatArray, iou: float = 0.5) -> bool:
    """Whether two hands' landmark boxes overlap by more than `iou` (intersection over union)."""
    lo, hi = np.maximum(a.min(0), b.min(0)), np.minimum(a.max(0), b.max(0))
    inter = float(np.prod(np.clip(hi - lo, 0.0, None)))
    union = float(np.prod(a.max(0) - a.min(0)) + np.prod(b.max(0) - b.min(0))) - inter
    return union > 0 and inter / union > iou


def load_hand_model(path: Path = HAND_MODEL) -> bytes:
    """The hand model bundle's bytes (`HAND_MODEL`)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MocapError(
            f"The hand model {path} cannot be read ({exc.strerror or exc}); reinstall the add-on or the package."
        ) from None


class MediaPipeHands:
    """MediaPipe's HandLandmarker (Tasks API, image mode, `HAND_MODEL`) as a `HandEstimator`."""

    def __init__(self) -> None:
        self._mp = import_mediapipe()
        vision = self._mp.tasks.vision
        options = vision.HandLandmarkerOptions(
            base_options=self._mp.tasks.BaseOptions(model_asset_buffer=load_hand_model()),
            running_mode=vision.RunningMode.IMAGE,
            num_hands=1,
            min_hand_detection_confidence=0.5,  # the fixed "palm" always passes
            min_hand_presence_confidence=MIN_PRESENCE,
        )
        self._landmarker: Any = vision.HandLandmarker.create_from_options(options)

    def landmarks(self, rgb: npt.NDArray[np.uint8]) -> CanvasHand | None:
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._landmarker.detect(image)
        if not result.hand_landmarks:
            return None
        h, w = rgb.shape[:2]
        pixels = np.array([[p.x * w, p.y * h] for p in result.hand_landmarks[0]], dtype=np.float64)
        world = np.array([[p.x, p.y, p.z] for p in result.hand_world_landmarks[0]], dtype=np.float64)
        label = result.handedness[0][0]
        right = float(label.score) if label.category_name == RIGHT_LABEL else 1.0 - float(label.score)
        return CanvasHand(pixels, world, right)

    def close(self) -> None:
        self._landmarker.close()
