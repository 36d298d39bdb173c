"""Following one subject with a one-person pose estimator when several people are in view.

MediaPipe Pose returns one person per frame, and in tracking mode it keeps to whoever its region of interest
slides onto. `SubjectTracker` makes that one person *our* subject:

- **Choosing** (first frames with anyone in view): every person is found by repeated single-image passes, each
  found person blacked out before the next pass, on the whole frame and on two overlapping halves (small people
  are found at twice the resolution). The subject is the one nearest a user-given image point, or by default the
  largest and most central; the others are remembered as *distractors*.
- **Following**: each frame, everything outside a search region around the subject's predicted box is blacked out
  before the tracking-mode pass, and so are distractors seen in the last half second (`RECENT_S`, moved by
  their own velocity) or, standing still beside a subject found on every frame since, in the last `KNOWN_S`
  (where they were): their whole box, except, where it overlaps the subject's predicted landmarks, the part
  of the subject's silhouette (capsules around those landmarks as wide as the subject may have moved) nearer
  the subject's skeleton than theirs (`black_out_nearer`; a refused detection that may be a mix of both keeps
  the whole silhouette, `black_out_except`). So the estimator does not see the other people, even right
  beside or behind the subject (their face, which MediaPipe's detector keys on, included), while the subject
  stays in view. The prediction carries the subject's velocity over at most `PREDICT_S`: a noisy velocity
  would otherwise lead it away while the subject is missing. The image keeps its size, so MediaPipe's own
  tracking and landmark smoothing work in full-frame coordinates as usual. Only the region is
  converted to RGB, into a frame reused from one call to the next (`RgbCanvas`): cheaper than converting the
  whole frame into a new buffer and blacking out the rest, which gives the same image.
- **Checking**: broken poses (face landmarks strewn across the picture, limbs several torso lengths long) are
  dropped. A detection is the subject only if its hip centre is within a speed gate of the prediction
  (`jump_margin + max_speed · Δt` torso lengths), not much nearer (in the same measure) where a distractor
  was seen in the last `KNOWN_S`, and its size is plausible; when the subject was missing for a while or
  someone else is near, it must also not look more like a distractor than like the subject (colour
  histograms of torso and thighs; colours change a lot with light, so the test is mostly relative). A
  rejected detection becomes a distractor (unless it mostly covers the subject or lies mostly inside its box:
  then it may be a mix of both, or part of the subject misplaced), is blacked out, and the frame is
  searched again in a crop of the search region with a single-image pass, which also finds small people the
  tracking pass's full-frame detector misses. While the subject stays missing, that second look is made
  every `SECOND_LOOK_EVERY` frames only, so the cost stays near one pass per frame.
- **Re-acquiring**: while lost, the search region grows with time; after `reacquire_after_s` the whole frame is
  searched (every `WIDE_LOOK_EVERY` frames with the halves too) and appearance decides.
- **Search budget**: every single-image pass beyond the one tracking pass per frame is paid from a budget that
  refills by `search_budget` passes per frame up to `search_burst`; when it is spent, searches wait. Footage
  where the subject keeps getting lost (or someone refused stays in view) then costs at most about
  (1 + search_budget) passes per frame, instead of several per frame for as long as it lasts. Measured on the
  5-minute looped sample clip, the subject was even found on more frames: fewer searches also meant fewer
  half-seen people remembered as distractors.

The subject chosen from a single-image pass is *provisional* until the next accepted detection, which replaces
its size instead of being averaged with it (single-image passes sometimes misplace limbs). A provisional
subject is checked like any other, with more allowance (`provisional_margin` on the speed gate, twice the
appearance margin) for landmarks and colours from one such pass: on a four-camera clip of issue 21,
accepting anything inside its box grown by a torso length made the tracker jump to the person beside the
chosen one at the first frame and follow her to the end. Weak detections (hips and shoulders barely
visible) are output but do not move the tracked position. The subject's colours are averaged over its first
`enroll_frames` detections (`seed`, handed to parallel workers) and then follow slow lighting changes.
Everything here is numpy/OpenCV; the estimator is any object with `track`, `detect` and `reset_tracking`
(`PoseEstimator`), so the logic is tested with a synthetic one. `SubjectState` is a picklable snapshot used to
hand a subject over between processes (parallel detection).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from lifting.skeleton import BLAZEPOSE
from lifting.video2d.mediapipe_pose import PoseResult

TRACKER_VERSION = 6  # part of the detection cache key: bump when results can change
SECOND_LOOK_EVERY = 3  # frames, while following: one single-image pass on the search region
WIDE_LOOK_EVERY = 6  # frames, while re-acquiring: a search of the whole frame and its halves
ADAPT_EVERY = 5  # frames between updates of the subject's colours
RECENT_S = 0.5  # s: a distractor seen this recently is blacked out (where its velocity takes it)
KNOWN_S = 3.0  # s: a distractor seen this recently is compared with detections (position, colours)
MASK_PAD = 0.3  # torso lengths blacked out around a person's landmarks (limb thickness, landmark noise)
# A detection this many times nearer (in speed-gate units) where a distractor was seen than where the subject
# should be is the distractor.
NEARER = 0.5
PREDICT_S = 0.1  # s: the subject's velocity is extrapolated this far at most past its last detection
STILL = 0.5  # torso lengths per second: a distractor slower than this is expected where last seen for KNOWN_S
NEARER_GRID = 4  # px: the grid on which `black_out_nearer` compares distances to two skeletons

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive
FloatArray = npt.NDArray[np.float64]
ImageU8 = npt.NDArray[np.uint8]

_I = BLAZEPOSE.index
HIPS = [_I["left_hip"], _I["right_hip"]]
SHOULDERS = [_I["left_shoulder"], _I["right_shoulder"]]
_KNEES = [_I["left_knee"], _I["right_knee"]]
_HIST_BINS = (6, 3)  # hue, saturation
_MIN_VALUE = 40  # darker pixels have no reliable hue
_PART_BINS = int(np.prod(_HIST_BINS))


class PoseEstimator(Protocol):
    """A one-person pose estimator working in full-frame pixel coordinates."""

    def track(self, rgb: ImageU8, time: float) -> PoseResult | None:
        """Video (tracking) mode on the whole RGB image (H, W, 3) at `time` seconds (increasing between
        resets); None when nobody is found."""

    def detect(self, rgb: ImageU8, window: Box) -> PoseResult | None:
        """Single-image mode on `rgb[y0:y1, x0:x1]`; keypoints in full-frame pixels."""

    def reset_tracking(self) -> None:
        """Forget the tracking-mode state (the next `track` detects afresh)."""


@dataclass(frozen=True)
class TrackingSettings:
    """How the subject is chosen and followed; part of the cache key.

    subject: an image point (x, y) in pixels of the upright frame on the person to follow; None picks the
    largest, most central person. Lengths are in torso lengths (shoulder centre to hip centre) of the subject.
    max_speed: fastest plausible hip-centre speed per second (a sprint is about 4; flips and falls more).
    jump_margin: allowance for landmark noise on top of the speed gate; provisional_margin: more of it while
    the subject is provisional (a single-image pass misplaced the hips by up to a torso length on the sample
    clip, and the next detection must still be accepted). search_margin: how far around the
    subject's box the next frame is searched. reacquire_after_s: after this long without the subject the
    whole frame is searched, and appearance alone decides. appearance_after_s: after this long without the
    subject (or with someone else near), a detection must also look like the subject. appearance_max: largest
    Bhattacharyya distance (0 same colours, 1 disjoint) between a detection's and the subject's histograms
    when re-acquiring (colours change a lot with light, so mostly it is *relative*: a detection closer to a
    distractor than to the subject by `appearance_margin`, twice that while the subject is provisional, is
    rejected). seed_match_max: the same, stricter, for choosing the subject from a handed-over appearance
    alone (a parallel segment's start, where a wrong choice costs a re-run). appearance_rate: how fast the
    subject's colours follow slow lighting changes after enrolment.
    min_track_visibility: mean visibility of hips and shoulders for a detection to move the tracked position.
    max_people: most people looked for when choosing the subject. enroll_frames: the subject's appearance is
    averaged over its first detections, then kept fixed (so every process compares against the same colours).
    search_budget: single-image passes (every search beyond the one tracking pass per frame) allowed per frame
    on average; search_burst: how many of them can be spent at once (the first frames, a lost subject's first
    searches). Together they bound detection time at about (1 + search_budget) passes per frame whatever the
    footage does; when the budget is spent, searches wait until it refills.
    """

    subject: tuple[float, float] | None = None
    max_speed: float = 8.0
    jump_margin: float = 0.6
    provisional_margin: float = 1.0
    search_margin: float = 2.0
    reacquire_after_s: float = 1.0
    appearance_after_s: float = 0.25
    appearance_max: float = 0.7
    seed_match_max: float = 0.4
    appearance_margin: float = 0.15
    appearance_rate: float = 0.05
    min_track_visibility: float = 0.5
    max_people: int = 3
    enroll_frames: int = 10
    search_budget: float = 0.03
    search_burst: float = 45.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["subject"] = list(self.subject) if self.subject is not None else None
        return d


@dataclass
class Distractor:
    """Someone who is not the subject: appearance histogram (None when not measured), landmarks of the last
    sighting (pixels), its time (s), and the hip centre's velocity (2,) px/s (zero until seen twice within
    `RECENT_S`, the second time within reach of the first)."""

    appearance: npt.NDArray[np.float32] | None
    pose: PoseResult
    time: float
    velocity: FloatArray = field(default_factory=lambda: np.zeros(2))

    @property
    def box(self) -> FloatArray:
        """Box (x0, y0, x1, y1) px around the last sighting's landmarks, grown by `MASK_PAD` torso lengths."""
        return landmark_box(self.pose, MASK_PAD * centre_and_scale(self.pose)[1])

    @property
    def still(self) -> bool:
        """Whether the last velocity measured (none: zero) is below `STILL` torso lengths per second."""
        return float(np.linalg.norm(self.velocity)) < STILL * centre_and_scale(self.pose)[1]

    def predicted(self, time: float) -> PoseResult:
        """Where the body is expected at `time` (s): the last landmarks moved by the velocity."""
        return moved(self.pose, self.velocity * max(0.0, time - self.time))


@dataclass
class SubjectState:
    """Where the subject is: hip centre (2,) px, velocity (2,) px/s, torso length px, the landmarks of and
    time (s) of the last strong detection; its appearance (None until seen), how many detections the
    appearance averages, and the distractors seen so far. `provisional`: chosen from a single-image pass
    (which can misplace limbs) and not yet confirmed; the next accepted detection replaces its size and
    velocity instead of being averaged with them."""

    centre: FloatArray
    velocity: FloatArray
    scale: float
    pose: PoseResult
    time: float
    appearance: npt.NDArray[np.float32] | None = None
    enrolled: int = 0
    distractors: list[Distractor] = field(default_factory=list)
    provisional: bool = False

    @property
    def box(self) -> FloatArray:
        """Box (x0, y0, x1, y1) px around the last strong detection's landmarks."""
        return landmark_box(self.pose)


def centre_and_scale(pose: PoseResult) -> tuple[FloatArray, float]:
    """Hip centre (2,) px and torso length px (at least a quarter of the landmarks' extent, at least 1)."""
    hips = pose.keypoints[HIPS].mean(axis=0)
    shoulders = pose.keypoints[SHOULDERS].mean(axis=0)
    torso = float(np.linalg.norm(shoulders - hips))
    extent = float(np.max(pose.keypoints.max(axis=0) - pose.keypoints.min(axis=0)))
    return hips, max(torso, 0.25 * extent, 1.0)


_FACE = list(range(11))
_LIMBS = [
    (_I[a], _I[b])
    for a, b in (
        ("left_shoulder", "left_elbow"),
        ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"),
        ("left_hip", "left_knee"),
        ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"),
        ("right_knee", "right_ankle"),
    )
]


def plausible_pose(pose: PoseResult) -> bool:
    """False for the broken poses MediaPipe sometimes returns (face landmarks strewn across the picture,
    limbs or shoulders several torso lengths long), judged against the body's own scale."""
    _, scale = centre_and_scale(pose)
    k = pose.keypoints
    face = k[_FACE]
    if float(np.linalg.norm(face - face.mean(axis=0), axis=1).max()) > 0.8 * scale:
        return False
    if float(np.linalg.norm(k[SHOULDERS[0]] - k[SHOULDERS[1]])) > 1.6 * scale:
        return False
    if float(np.linalg.norm(k[HIPS[0]] - k[HIPS[1]])) > 1.2 * scale:
        return False
    return all(float(np.linalg.norm(k[a] - k[b])) <= 2.0 * scale for a, b in _LIMBS)


def landmark_box(pose: PoseResult, pad: float = 0.0) -> FloatArray:
    """Box (x0, y0, x1, y1) px around the landmarks, grown by `pad` px on every side."""
    lo = pose.keypoints.min(axis=0) - pad
    hi = pose.keypoints.max(axis=0) + pad
    return np.array([lo[0], lo[1], hi[0], hi[1]], dtype=np.float64)


def update_velocity(
    velocity: FloatArray, step: FloatArray, dt: float, max_dt: float, limit: float
) -> FloatArray:
    """A person's velocity (2,) px/s after their hip centre moved `step` (2,) px in `dt` s: the mean of the
    old velocity and this step's, at most `limit` px/s; zero after a gap longer than `max_dt` s (too old to
    go on), unchanged when `dt` is not positive."""
    if dt <= 0.0:
        return velocity
    if dt > max_dt:
        return np.zeros(2)
    new = 0.5 * velocity + 0.5 * step / dt
    speed = float(np.linalg.norm(new))
    return new * (limit / speed) if speed > limit else new


def moved(pose: PoseResult, shift: FloatArray) -> PoseResult:
    """The same landmarks moved by `shift` (2,) px (visibility kept)."""
    return PoseResult(pose.keypoints + shift, pose.visibility)


def same_person(a: PoseResult, b: PoseResult) -> bool:
    """Whether two detections are one person: hip centres less than half the smaller torso length apart."""
    ca, sa = centre_and_scale(a)
    cb, sb = centre_and_scale(b)
    return float(np.linalg.norm(ca - cb)) < 0.5 * min(sa, sb)


def clip_box(box: FloatArray, width: int, height: int) -> Box:
    """Whole pixels (x0, y0, x1, y1) covering `box`, inside a width × height image (possibly empty)."""
    # Plain Python on four numbers: np.clip costs microseconds per call, and this runs several times a frame.
    x0 = min(max(math.floor(box[0]), 0), width)
    y0 = min(max(math.floor(box[1]), 0), height)
    x1 = min(max(math.ceil(box[2]), 0), width)
    y1 = min(max(math.ceil(box[3]), 0), height)
    return x0, y0, max(x1, x0), max(y1, y0)


def clear_outside(image: ImageU8, old: Box, new: Box) -> None:
    """Black out the part of `old` that lies outside `new`, in place (`new` itself is left alone)."""
    ox0, oy0, ox1, oy1 = old
    nx0, ny0, nx1, ny1 = new
    image[oy0 : min(oy1, ny0), ox0:ox1] = 0
    image[max(oy0, ny1) : oy1, ox0:ox1] = 0
    ry0, ry1 = max(oy0, ny0), min(oy1, ny1)
    if ry1 > ry0:
        image[ry0:ry1, ox0 : min(ox1, nx0)] = 0
        image[ry0:ry1, max(ox0, nx1) : ox1] = 0


class RgbCanvas:
    """A reused RGB frame (H, W, 3) uint8 into which each BGR frame is converted, whole or only inside a box
    with black around it. Converting only the search region gives the same image as converting the whole frame
    into a new buffer and blacking out the rest, for less memory traffic (measured: about 0.5 ms a frame less
    at 1768×994). Invariant: only pixels inside `box` can be non-zero (callers may black out more, never
    paint)."""

    def __init__(self) -> None:
        self.image: ImageU8 | None = None
        self.box: Box = (0, 0, 0, 0)

    def convert(self, bgr: ImageU8, box: Box | None = None) -> ImageU8:
        """`bgr` converted to RGB inside `box` (None: the whole frame), black elsewhere; the canvas itself."""
        h, w = bgr.shape[:2]
        if self.image is None or self.image.shape != bgr.shape:
            self.image = np.zeros_like(bgr)
            self.box = (0, 0, 0, 0)
        box = (0, 0, w, h) if box is None else box
        clear_outside(self.image, self.box, box)
        x0, y0, x1, y1 = box
        if x1 > x0 and y1 > y0:
            view = self.image[y0:y1, x0:x1]
            out = cv2.cvtColor(bgr[y0:y1, x0:x1], cv2.COLOR_BGR2RGB, dst=view)
            if out is not view and not np.shares_memory(out, view):
                view[...] = out  # OpenCV gave a new array instead of writing in place
        self.box = box
        return self.image


def mask_inside(image: ImageU8, box: Box) -> None:
    """Black out `box`, in place."""
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = 0


# The bones a silhouette is drawn around: arms and legs, the shoulder and hip lines, hands and feet.
_BONES = [
    *_LIMBS,
    (SHOULDERS[0], SHOULDERS[1]),
    (HIPS[0], HIPS[1]),
    *[
        (_I[f"{side}_{a}"], _I[f"{side}_{b}"])
        for side in ("left", "right")
        for a, b in (("wrist", "index"), ("wrist", "pinky"), ("ankle", "heel"), ("ankle", "foot_index"))
    ],
]


def _head(keypoints: FloatArray) -> tuple[FloatArray, float]:
    """Centre (2,) px of the face landmarks and their largest distance from it, px."""
    face = keypoints[_FACE]
    centre = face.mean(axis=0)
    return centre, float(np.linalg.norm(face - centre, axis=1).max())


def draw_body(mask: ImageU8, keypoints: FloatArray, radius: float, value: int, origin: Box) -> None:
    """Draw a silhouette into a one-channel mask (H, W) uint8, in place, with `value`: the torso
    quadrilateral, capsules of `radius` px around every bone (arms, legs, shoulder and hip lines, hands, feet)
    and a disc over the head (the face landmarks' spread plus `radius`). `keypoints` (33, 2) are pixels of
    the image in which the mask covers `origin` (x0, y0, x1, y1)."""
    k = keypoints - np.array(origin[:2], dtype=np.float64)
    pts = np.round(k).astype(np.int32)
    r = max(round(radius), 1)
    torso = pts[[SHOULDERS[0], SHOULDERS[1], HIPS[1], HIPS[0]]]
    cv2.fillPoly(mask, [torso], (value,))
    for a, b in _BONES:
        cv2.line(
            mask, (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1])), (value,), 2 * r + 1
        )
    centre, spread = _head(k)
    cv2.circle(mask, (round(centre[0]), round(centre[1])), max(round(spread + radius), 1), (value,), -1)


def black_out_except(image: ImageU8, box: Box, keep: PoseResult, keep_radius: float) -> None:
    """Black out `box` (x0, y0, x1, y1) px in `image` (H, W, C), in place, except inside the silhouette of
    `keep` (`draw_body` with `keep_radius` px)."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    draw_body(mask, keep.keypoints, keep_radius, 255, box)
    _keep_only(image[y0:y1, x0:x1], mask)


def _skeleton_distance(pose: PoseResult, box: Box, step: int) -> npt.NDArray[np.float32]:
    """Distance, in `pose`'s torso lengths, from every cell of a grid of `step` px over `box` (x0, y0, x1, y1)
    to `pose`'s skeleton (`draw_body` with no radius: torso, bones, head), shape (⌈h / step⌉, ⌈w / step⌉)."""
    x0, y0, x1, y1 = box
    rows, cols = -(-(y1 - y0) // step), -(-(x1 - x0) // step)
    mask = np.full((rows, cols), 255, dtype=np.uint8)
    draw_body(
        mask, (pose.keypoints - np.array([x0, y0], dtype=np.float64)) / step, 0.0, 0, (0, 0, cols, rows)
    )
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    return np.asarray(dist * (step / centre_and_scale(pose)[1]), dtype=np.float32)


def _keep_only(view: ImageU8, mask: ImageU8) -> None:
    """Black out `view` (h, w, C) in place wherever the one-channel `mask` (h, w) is 0."""
    channels = cv2.merge([mask] * view.shape[2]) if view.ndim == 3 else mask
    out = cv2.bitwise_and(view, channels, dst=view)
    if out is not view and not np.shares_memory(out, view):
        view[...] = out  # OpenCV gave a new array instead of writing in place


def black_out_nearer(
    image: ImageU8, box: Box, hide: PoseResult, keep: PoseResult, keep_radius: float
) -> None:
    """Black out `box` (x0, y0, x1, y1) px in `image` (H, W, C), in place, except inside the silhouette of
    `keep` (`draw_body` with `keep_radius` px) where it is nearer `keep`'s skeleton than `hide`'s, distances in
    each one's torso lengths (on a grid of `NEARER_GRID` px). Where two people overlap, each pixel goes to the
    nearer body: `black_out_except` would leave all of `hide` that lies within `keep_radius` of the subject in
    view (issue 21: the face of the woman the subject walked past, which MediaPipe then followed)."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return
    kept = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    draw_body(kept, keep.keypoints, keep_radius, 255, box)
    g = NEARER_GRID
    nearer: ImageU8 = np.where(
        _skeleton_distance(keep, box, g) <= _skeleton_distance(hide, box, g), 255, 0
    ).astype(np.uint8)
    full = cv2.resize(nearer, (nearer.shape[1] * g, nearer.shape[0] * g), interpolation=cv2.INTER_NEAREST)
    cv2.bitwise_and(kept, full[: y1 - y0, : x1 - x0], dst=kept)
    _keep_only(image[y0:y1, x0:x1], kept)


def _area(box: FloatArray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def _intersection(a: FloatArray, b: FloatArray) -> float:
    """Area px² shared by two boxes (x0, y0, x1, y1)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return float(iw * ih)


def box_iou(a: FloatArray, b: FloatArray) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    inter = _intersection(a, b)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def box_inside(a: FloatArray, b: FloatArray) -> float:
    """The fraction of box `a`'s area that lies inside box `b` (x0, y0, x1, y1 each)."""
    area = _area(a)
    return _intersection(a, b) / area if area > 0 else 0.0


def boxes_overlap(a: FloatArray, b: FloatArray) -> bool:
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def appearance(bgr: ImageU8, pose: PoseResult) -> npt.NDArray[np.float32] | None:
    """Colour description of a person: hue-saturation histograms (6×3 bins each, normalised, dark pixels left
    out) of the torso quadrilateral (shoulders, hips) and of the two thighs (hip to knee, as wide as half the
    torso). Shape (2 · 18,) float32;
    a part too small to measure is all zeros; None when both are."""
    h, w = bgr.shape[:2]
    k = pose.keypoints
    _, scale = centre_and_scale(pose)
    torso = np.array([k[SHOULDERS[0]], k[SHOULDERS[1]], k[HIPS[1]], k[HIPS[0]]])
    thighs = []
    for hip, knee in zip(HIPS, _KNEES, strict=True):
        axis = k[knee] - k[hip]
        length = float(np.linalg.norm(axis))
        if length < 1.0:
            continue
        normal = np.array([-axis[1], axis[0]]) / length * 0.25 * scale
        thighs.append(np.array([k[hip] + normal, k[knee] + normal, k[knee] - normal, k[hip] - normal]))
    parts = [[torso], thighs]
    out = np.zeros(2 * _PART_BINS, dtype=np.float32)
    any_part = False
    for i, polygons in enumerate(parts):
        if not polygons:
            continue
        pts = np.concatenate(polygons)
        x0, y0, x1, y1 = clip_box(np.concatenate([pts.min(axis=0), pts.max(axis=0)]), w, h)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        crop = bgr[y0:y1, x0:x1]
        mask = np.zeros(crop.shape[:2], dtype=np.uint8)
        for poly in polygons:
            cv2.fillPoly(mask, [np.round(poly - [x0, y0]).astype(np.int32)], (255,))
        if int(np.count_nonzero(mask)) < 20:
            continue
        hsv = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_BGR2HSV)
        mask[hsv[..., 2] < _MIN_VALUE] = 0
        hist = cv2.calcHist([hsv], [0, 1], mask, list(_HIST_BINS), [0, 180, 0, 256]).ravel()
        total = float(hist.sum())
        if total > 0:
            out[i * _PART_BINS : (i + 1) * _PART_BINS] = hist / total
            any_part = True
    return out if any_part else None


def appearance_distance(a: npt.NDArray[np.float32] | None, b: npt.NDArray[np.float32] | None) -> float:
    """Mean Bhattacharyya distance over the parts measured in both: 0 identical colours, 1 disjoint; 1 when
    nothing can be compared."""
    if a is None or b is None:
        return 1.0
    dists = []
    for i in range(2):
        pa = a[i * _PART_BINS : (i + 1) * _PART_BINS].astype(np.float64)
        pb = b[i * _PART_BINS : (i + 1) * _PART_BINS].astype(np.float64)
        if pa.sum() <= 0 or pb.sum() <= 0:
            continue
        bc = float(np.sqrt(pa * pb).sum())
        dists.append(math.sqrt(max(0.0, 1.0 - min(bc, 1.0))))
    return float(np.mean(dists)) if dists else 1.0


def choose_subject(
    people: list[PoseResult],
    image_size: tuple[int, int],
    point: tuple[float, float] | None,
) -> int | None:
    """Index of the subject among `people`: the one whose box (grown by half a torso) holds `point`, nearest
    hip centre first; without a point, the largest and most central (score = extent / image diagonal ×
    (1 − ½ · distance to the image centre / half diagonal)). None when no one holds the point."""
    if not people:
        return None
    w, h = image_size
    diag = math.hypot(w, h)
    if point is not None:
        best, best_d = None, math.inf
        p = np.asarray(point, dtype=np.float64)
        for i, person in enumerate(people):
            c, s = centre_and_scale(person)
            box = landmark_box(person, 0.5 * s)
            if box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]:
                d = float(np.linalg.norm(c - p))
                if d < best_d:
                    best, best_d = i, d
        return best
    scores = []
    for person in people:
        c, _ = centre_and_scale(person)
        lo, hi = person.keypoints.min(axis=0), person.keypoints.max(axis=0)
        extent = float(np.linalg.norm(hi - lo)) / diag
        off = float(np.linalg.norm(c - [w / 2, h / 2])) / (diag / 2)
        scores.append(extent * (1.0 - 0.5 * min(off, 1.0)))
    return int(np.argmax(scores))


class SubjectTracker:
    """Per-frame subject following over an estimator; see the module docstring.

    `seed` hands over a subject: a full `SubjectState` (continue following it) or an appearance histogram
    alone (find the person who looks like this, e.g. at the start of a parallel segment). `process` returns
    the subject's PoseResult for one frame, or None.
    """

    def __init__(
        self,
        estimator: PoseEstimator,
        settings: TrackingSettings,
        image_size: tuple[int, int],
        seed: SubjectState | npt.NDArray[np.float32] | None = None,
    ) -> None:
        self.estimator = estimator
        self.settings = settings
        self.width, self.height = image_size
        self.state: SubjectState | None = None
        self.seed_appearance: npt.NDArray[np.float32] | None = None
        self.seed: npt.NDArray[np.float32] | None = None  # the enrolled appearance, fixed once enrolled
        self.last_time: float | None = None
        self.misses = 0  # consecutive frames without the subject
        self.last_miss = -math.inf  # time (s) of the last frame without the subject
        self.search_tokens = settings.search_burst  # single-image passes that may be spent now
        self.frames = 0  # frames processed
        self.canvas = RgbCanvas()
        if isinstance(seed, SubjectState):
            self.state = replace(seed, distractors=list(seed.distractors))
            self.seed = seed.appearance
        elif seed is not None:
            self.seed_appearance = np.asarray(seed, dtype=np.float32)
            self.seed = self.seed_appearance

    # -- snapshots -------------------------------------------------------------------------------------------

    @property
    def enrolled(self) -> bool:
        """True once the subject's appearance is fixed (or could not be measured for the enrolment length)."""
        return self.state is not None and self.state.enrolled >= self.settings.enroll_frames

    def snapshot(self) -> SubjectState | None:
        """A copy of the current subject state (picklable)."""
        if self.state is None:
            return None
        return replace(self.state, distractors=list(self.state.distractors))

    # -- per frame -------------------------------------------------------------------------------------------

    def process(self, bgr: ImageU8, time: float) -> PoseResult | None:
        """The subject in this BGR frame (H, W, 3) uint8 at `time` seconds, or None."""
        self.last_time = time
        self.search_tokens = min(self.settings.search_burst, self.search_tokens + self.settings.search_budget)
        if self.state is None:
            found = self._acquire(self.canvas.convert(bgr), bgr, time)
        elif time - self.state.time > self.settings.reacquire_after_s:
            found = self._reacquire(self.canvas.convert(bgr), bgr, time)
        else:
            found = self._follow(bgr, time, time - self.state.time)
        self.misses = 0 if found is not None else self.misses + 1
        if found is None:
            self.last_miss = time
        self.frames += 1
        return found

    def _second_look(self, rejected: bool, every: int = SECOND_LOOK_EVERY) -> bool:
        """Whether to search again with single-image passes after the tracking pass found nothing usable:
        always after a rejection or on the first frame missed, then every `every` missed frames (while the
        subject is away, this keeps the cost near one pass per frame)."""
        return rejected or self.misses % every == 0

    def _search(self, rgb: ImageU8, window: Box) -> PoseResult | None:
        """One single-image pass on `window`, paid from the search budget; None when the budget is spent."""
        if self.search_tokens < 1.0:
            return None
        self.search_tokens -= 1.0
        return self.estimator.detect(rgb, window)

    def _acquire(self, rgb: ImageU8, bgr: ImageU8, time: float) -> PoseResult | None:
        people = self.find_people(rgb)
        if not people:
            return None
        descs = [appearance(bgr, p) for p in people]
        if self.seed_appearance is not None:
            dists = [appearance_distance(d, self.seed_appearance) for d in descs]
            best = int(np.argmin(dists))
            chosen: int | None = best if dists[best] <= self.settings.seed_match_max else None
        else:
            chosen = choose_subject(people, (self.width, self.height), self.settings.subject)
        if chosen is None:
            return None
        subject = people[chosen]
        centre, scale = centre_and_scale(subject)
        self.state = SubjectState(
            centre=centre,
            velocity=np.zeros(2),
            scale=scale,
            pose=subject,
            time=time,
            appearance=self.seed_appearance,
            enrolled=self.settings.enroll_frames if self.seed_appearance is not None else 0,
            provisional=True,
        )
        self._enroll(descs[chosen])
        for i, person in enumerate(people):
            if i != chosen:
                self._add_distractor(person, descs[i], time)
        self.estimator.reset_tracking()
        return subject

    def find_people(self, rgb: ImageU8) -> list[PoseResult]:
        """Everyone the single-image estimator finds (up to `max_people`); see `iter_people`."""
        return list(self.iter_people(rgb))

    def iter_people(self, rgb: ImageU8) -> Iterator[PoseResult]:
        """People found by single-image passes on the whole frame, then on two overlapping halves (small
        people come out at twice the resolution), each found person blacked out before the next pass;
        broken poses are skipped. A generator: stop early once the one wanted is found."""
        work = rgb.copy()
        h, w = work.shape[:2]
        windows: list[Box] = [(0, 0, w, h)]
        if w >= 1.3 * h:
            windows += [(0, 0, int(0.6 * w), h), (int(0.4 * w), 0, w, h)]
        elif h >= 1.3 * w:
            windows += [(0, 0, w, int(0.6 * h)), (0, int(0.4 * h), w, h)]
        people: list[PoseResult] = []
        for window in windows:
            # Count passes, not people: a pass can find a person inside a box already blacked out (masking then
            # changes nothing), and a loop counting people found would never end.
            for _ in range(self.settings.max_people):
                if len(people) >= self.settings.max_people:
                    break
                found = self._search(work, window)
                if found is None:
                    break
                _, scale = centre_and_scale(found)
                mask_inside(work, clip_box(landmark_box(found, MASK_PAD * scale), w, h))
                if plausible_pose(found) and not any(same_person(found, p) for p in people):
                    people.append(found)
                    yield found

    def _region(self, lost: float) -> FloatArray:
        assert self.state is not None
        st = self.state
        shift = np.tile(self._travel(lost), 2)
        margin = st.scale * (self.settings.search_margin + self.settings.max_speed * lost)
        region: FloatArray = st.box + shift + np.array([-margin, -margin, margin, margin])
        return region

    def _travel(self, lost: float) -> FloatArray:
        """How far (2,) px the subject is expected to have moved `lost` s after its last strong detection: its
        velocity over at most `PREDICT_S` (one noisy velocity would otherwise carry the prediction away while
        the subject is missing; the speed gate grows with `lost` to cover the rest)."""
        assert self.state is not None
        return self.state.velocity * min(lost, PREDICT_S)

    def _predicted_body(self, lost: float) -> tuple[PoseResult, float]:
        """Where the subject's body may be `lost` s after its last strong detection: its landmarks moved by
        its velocity, and how far around them (px): `MASK_PAD` torso lengths plus the speed gate's reach."""
        assert self.state is not None
        st = self.state
        return moved(st.pose, self._travel(lost)), st.scale * (MASK_PAD + self.settings.max_speed * lost)

    def _hide(
        self,
        image: ImageU8,
        body: PoseResult,
        radius: float,
        keep: tuple[PoseResult, float] | None,
        known: bool = True,
    ) -> None:
        """Black out someone who is not the subject, in place: their landmarks' box grown by `radius` px; when
        it overlaps the box of the subject's predicted landmarks (`keep`: those landmarks and how far around
        them px the subject may be, see `_predicted_body`; None: no subject), all of it but the subject's
        silhouette, which stays in view: the part of it nearer the subject's skeleton than theirs when they are
        `known` (a distractor remembered, `black_out_nearer`), all of it otherwise (a detection that may be a
        mix of the subject and someone else, `black_out_except`)."""
        box = clip_box(landmark_box(body, radius), self.width, self.height)
        if keep is None or not boxes_overlap(np.array(box, dtype=np.float64), landmark_box(keep[0])):
            mask_inside(image, box)
        elif known:
            black_out_nearer(image, box, body, *keep)
        else:
            black_out_except(image, box, *keep)

    def _mask_distractors(
        self, image: ImageU8, time: float, keep: tuple[PoseResult, float] | None, still: bool = False
    ) -> None:
        """Black out the distractors seen in the last `RECENT_S` where they are expected now (`_hide`). With
        `still` (following a subject seen in the last `PREDICT_S`, whose predicted silhouette is then tight),
        also those seen in the last `KNOWN_S` that overlap the subject, where they were, if they stood still
        (slower than `STILL`; seen once counts) and the subject has been found on every frame since: someone
        standing beside the subject is seen once, when the subject is chosen, and not again while the tracking
        pass keeps finding the subject; when the subject walked in front of her (issue 21, the two-person
        Pose2Sim take, cam03), MediaPipe slid onto her face unless she was blacked out first. Not after a
        miss: the searches made then would have seen her again if she were still there, and a passer-by seen
        once and gone since would be blacked out where the subject is (the sample clip's jumper in his flip,
        on a parallel segment's fresh start)."""
        assert self.state is not None
        for d in self.state.distractors:
            age = time - d.time
            if age <= RECENT_S:
                body = d.predicted(time)
            elif (
                still
                and keep is not None
                and age <= KNOWN_S
                and d.still
                and d.time > self.last_miss
                and boxes_overlap(d.box, landmark_box(keep[0]))
            ):
                body = d.pose
            else:
                continue
            self._hide(image, body, MASK_PAD * centre_and_scale(body)[1], keep)

    def _track(self, rgb: ImageU8, time: float) -> PoseResult | None:
        """The tracking pass; a broken pose is dropped and the tracking state reset (it would persist)."""
        found = self.estimator.track(rgb, time)
        if found is not None and not plausible_pose(found):
            self.estimator.reset_tracking()
            return None
        return found

    def _tracking_pass(
        self, rgb: ImageU8, bgr: ImageU8, time: float, lost: float, keep: tuple[PoseResult, float] | None
    ) -> tuple[PoseResult | None, bool]:
        """The tracking pass on `rgb` and its check: (the subject when accepted, else None; whether someone
        was found and refused, who is then remembered as a distractor and blacked out of `rgb` (`_hide`, with
        `keep` where the subject may be, as a known person unless `_add_distractor` judged them a possible
        mix), so the searches that may follow look past them)."""
        found = self._track(rgb, time)
        if found is None:
            return None, False
        ok, desc = self._check(found, bgr, time, lost)
        if ok:
            return self._accept(found, desc, time), False
        known = self._add_distractor(found, appearance(bgr, found), time)
        _, scale = centre_and_scale(found)
        self._hide(rgb, found, MASK_PAD * scale, keep, known)
        return None, True

    def _follow(self, bgr: ImageU8, time: float, lost: float) -> PoseResult | None:
        assert self.state is not None
        keep = self._predicted_body(lost)
        region = clip_box(self._region(lost), self.width, self.height)
        rgb = self.canvas.convert(bgr, region)  # everything outside the region black
        self._mask_distractors(rgb, time, keep, still=lost <= PREDICT_S)
        subject, refused = self._tracking_pass(rgb, bgr, time, lost, keep)
        if subject is not None:
            return subject
        if not self._second_look(refused):
            return None
        found = self._search(rgb, region)
        if found is not None and plausible_pose(found):
            ok, desc = self._check(found, bgr, time, lost)
            if ok:
                return self._accept(found, desc, time)
            self._add_distractor(found, appearance(bgr, found), time)
        return None

    def _reacquire(self, rgb: ImageU8, bgr: ImageU8, time: float) -> PoseResult | None:
        """Lost for long: the tracking pass on the whole frame (recent distractors blacked out), then, every
        few frames, everyone found by `iter_people`; appearance decides."""
        assert self.state is not None
        lost = time - self.state.time
        self._mask_distractors(rgb, time, None)
        subject, refused = self._tracking_pass(rgb, bgr, time, lost, None)
        if subject is not None:
            return subject
        # A person the tracking pass finds but refuses makes the wide search worth doing, but not on every
        # frame: someone refused all along (a look-alike, or the subject after a cut that moved them) would
        # otherwise cost several full-frame passes per frame for as long as it lasts.
        if not (self.misses % (WIDE_LOOK_EVERY // 2 if refused else WIDE_LOOK_EVERY) == 0):
            return None
        for person in self.iter_people(rgb):
            ok, desc = self._check(person, bgr, time, lost)
            if ok:
                self.estimator.reset_tracking()
                return self._accept(person, desc, time)
            self._add_distractor(person, appearance(bgr, person), time)
        return None

    def _check(
        self, found: PoseResult, bgr: ImageU8, time: float, lost: float
    ) -> tuple[bool, npt.NDArray[np.float32] | None]:
        """(is `found` the subject?, its appearance histogram when it was measured, else None). A provisional
        subject is checked the same way, with more allowance on the speed gate and twice the appearance margin
        (its landmarks and colours come from one single-image pass)."""
        assert self.state is not None
        st, cfg = self.state, self.settings
        centre, scale = centre_and_scale(found)
        long_lost = lost > cfg.reacquire_after_s
        if not long_lost:
            extra = cfg.provisional_margin if st.provisional else 0.0
            to_subject = self._gate(centre, st.centre + self._travel(lost), st.scale, lost, extra)
            if to_subject > 1.0:
                return False, None
            # Much nearer where a distractor was seen (and may have gone since) is the distractor.
            for d in st.distractors:
                if time - d.time <= KNOWN_S and self._to_distractor(d, centre, time) < NEARER * to_subject:
                    return False, None
        if not 0.4 <= scale / st.scale <= 2.5:
            return False, None
        # Distractors worth comparing with: recent ones, or all of them when re-acquiring after a long loss.
        known = [
            d for d in st.distractors if d.appearance is not None and (long_lost or time - d.time <= KNOWN_S)
        ]
        reach = 4.0 * st.scale
        near = [
            d
            for d in known
            if float(np.linalg.norm((d.box[:2] + d.box[2:]) / 2 - centre))
            < reach + 0.5 * (d.box[3] - d.box[1])
        ]
        need_appearance = long_lost or lost > cfg.appearance_after_s or bool(near)
        adapt = not near and self.frames % ADAPT_EVERY == 0
        measure = need_appearance or st.enrolled < cfg.enroll_frames or adapt
        desc = appearance(bgr, found) if measure else None
        if not need_appearance or st.appearance is None:
            return True, desc
        if desc is None:
            return (not long_lost), None
        d_subject = appearance_distance(desc, st.appearance)
        if long_lost and d_subject > cfg.appearance_max:
            return False, None
        # A provisional subject's colours come from one single-image pass, which may have misplaced the torso
        # (on the sample clip, frame 124: closer to the passer-by's than the jumper's own next detection was).
        margin = cfg.appearance_margin * (2.0 if st.provisional else 1.0)
        for d in known:
            if appearance_distance(desc, d.appearance) + margin < d_subject:
                return False, None
        return True, desc

    def _gate(
        self, centre: FloatArray, predicted: FloatArray, scale: float, dt: float, extra: float = 0.0
    ) -> float:
        """Distance from `predicted` to `centre` (hip centres (2,) px) in units of the speed gate of a person
        with torso `scale` px after `dt` s: `jump_margin + extra + max_speed · dt` torso lengths. At most 1: a
        move they can make."""
        cfg = self.settings
        reach = cfg.jump_margin + extra + cfg.max_speed * dt
        return float(np.linalg.norm(centre - predicted)) / (scale * reach)

    def _to_distractor(self, d: Distractor, centre: FloatArray, time: float) -> float:
        """How far a hip centre (2,) px at `time` s is from where distractor `d` is expected then, in units of
        their speed gate (`_gate`)."""
        expected, size = centre_and_scale(d.predicted(time))
        return self._gate(centre, expected, size, max(0.0, time - d.time))

    def _accept(self, found: PoseResult, desc: npt.NDArray[np.float32] | None, time: float) -> PoseResult:
        assert self.state is not None
        st, cfg = self.state, self.settings
        strength = float(found.visibility[HIPS + SHOULDERS].mean())
        if strength < cfg.min_track_visibility:
            return found  # output, but too weak to move the tracked position
        centre, scale = centre_and_scale(found)
        if st.provisional:
            st.provisional, st.scale = False, scale
            st.velocity = np.zeros(2)
        else:
            st.velocity = update_velocity(
                st.velocity, centre - st.centre, time - st.time, 0.25, cfg.max_speed * st.scale
            )
        st.centre = centre
        st.scale = 0.8 * st.scale + 0.2 * scale
        st.pose = found
        st.time = time
        self._enroll(desc, adapt=True)
        return found

    def _enroll(self, desc: npt.NDArray[np.float32] | None, adapt: bool = False) -> None:
        """Average the first `enroll_frames` histograms into the subject's appearance (then `seed` is fixed);
        afterwards, with `adapt`, follow slow lighting changes (the live appearance only)."""
        assert self.state is not None
        st = self.state
        if st.enrolled >= self.settings.enroll_frames:
            if adapt and desc is not None and st.appearance is not None:
                rate = self.settings.appearance_rate
                st.appearance = ((1 - rate) * st.appearance + rate * desc).astype(np.float32)
            return
        if desc is not None:
            if st.appearance is None:
                st.appearance = desc.copy()
            else:
                n = st.enrolled
                st.appearance = ((st.appearance * n + desc) / (n + 1)).astype(np.float32)
        st.enrolled += 1
        if st.enrolled >= self.settings.enroll_frames and st.appearance is not None:
            self.seed = st.appearance.copy()

    def _add_distractor(self, person: PoseResult, desc: npt.NDArray[np.float32] | None, time: float) -> bool:
        """Remember a rejected detection as someone else, unless it mostly covers where the subject is or lies
        mostly inside it (then it may be a mix of the subject and someone else, or part of the subject
        misplaced: its colours would teach the tracker to reject the subject itself, and blacking it out
        would black out around the subject). Returns whether it was remembered."""
        assert self.state is not None
        st = self.state
        lost = max(0.0, time - st.time)
        predicted = st.box + np.tile(self._travel(lost), 2)
        own = landmark_box(person)
        if box_iou(own, predicted) > 0.3 or box_inside(own, predicted) > 0.5:
            return False
        centre, scale = centre_and_scale(person)
        box = landmark_box(person, MASK_PAD * scale)
        for d in self.state.distractors:
            same_look = desc is not None and appearance_distance(desc, d.appearance) < 0.2
            dt = time - d.time
            if same_look or (boxes_overlap(d.box, box) and dt < RECENT_S):
                if self._to_distractor(d, centre, time) <= 1.0:
                    step = centre - centre_and_scale(d.pose)[0]
                    limit = self.settings.max_speed * scale
                    d.velocity = update_velocity(d.velocity, step, dt, RECENT_S, limit)
                else:  # the same colours somewhere they cannot have got to: no speed to measure
                    d.velocity = np.zeros(2)
                d.pose, d.time = person, time
                if desc is not None:
                    d.appearance = (
                        desc if d.appearance is None else (0.7 * d.appearance + 0.3 * desc).astype(np.float32)
                    )
                return True
        self.state.distractors.append(Distractor(desc, person, time))
        if len(self.state.distractors) > 4:
            self.state.distractors.sort(key=lambda d: d.time)
            self.state.distractors.pop(0)
        return True
