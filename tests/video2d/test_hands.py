"""Hands (issue 26): the crop placed from the pose, the left/right rules, the keypoints file with and without hands,
the cache key, and on real footage (slow) how often hands are found and that left and right never swap."""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.hands_found import LABELS, Row, count
from lifting.errors import MocapError
from lifting.skeleton import BLAZEPOSE
from lifting.video2d import mediapipe_hands as mh
from lifting.video2d.detect import DEFAULT_SETTINGS, detect
from lifting.video2d.keypoints2d import FORMAT_VERSION, Keypoints2D
from lifting.video2d.mediapipe_pose import HANDS_VERSION, DetectorSettings
from lifting.video2d.swaps import relabel_hands
from lifting.video2d.track import RawHands, RawTrack
from tests.support.paths import POSE2SIM

IDX = BLAZEPOSE.index


# -- the crop --------------------------------------------------------------------------------------------------
def test_roi_of_a_hand_pointing_up() -> None:
    # middle knuckle (2 * index + pinky) / 3 = (100, 70): box 2 * 30 = 60, fingers up (rotation 0), centre moved
    # 0.1 box towards the fingers, side 60 * ROI_SCALE
    roi = mh.hand_roi((100.0, 100.0), (100.0, 70.0), (100.0, 70.0), scale=1.6, shift=-0.1, turn=0.0)
    assert roi.centre == pytest.approx((100.0, 64.0))
    assert roi.size == pytest.approx(96.0) and roi.rotation == pytest.approx(0.0)
    # by default then turned by ROI_TURN about its centre
    turned = mh.hand_roi((100.0, 100.0), (100.0, 70.0), (100.0, 70.0), scale=1.6, shift=-0.1)
    assert turned.centre == pytest.approx(roi.centre) and turned.size == pytest.approx(roi.size)
    assert turned.rotation == pytest.approx(mh.ROI_TURN)


def test_roi_of_a_hand_pointing_right_and_down() -> None:
    right = mh.hand_roi(
        (0.0, 0.0), (30.0, -3.0), (30.0, 6.0), scale=1.6, shift=-0.1, turn=0.0
    )  # middle (30, 0)
    assert right.centre == pytest.approx((36.0, 0.0))
    assert right.size == pytest.approx(96.0) and right.rotation == pytest.approx(math.pi / 2)
    down = mh.hand_roi((0.0, 0.0), (0.0, 30.0), (0.0, 30.0), scale=2.0, shift=-0.1, turn=0.0)
    assert down.centre == pytest.approx((0.0, 36.0))
    assert down.size == pytest.approx(120.0) and abs(down.rotation) == pytest.approx(math.pi)


def test_crop_maps_to_the_frame() -> None:
    roi = mh.hand_roi((0.0, 0.0), (30.0, -3.0), (30.0, 6.0), scale=1.6, shift=-0.1, turn=0.0)  # fingers right
    m = roi.to_image()
    c = mh.CANVAS
    assert m @ [c / 2, c / 2, 1] == pytest.approx([36.0, 0.0])
    assert m @ [c / 2, 0, 1] == pytest.approx([36.0 + 48.0, 0.0])  # the crop's top: towards the fingertips
    assert m @ [c, c / 2, 1] == pytest.approx([36.0, 48.0])  # its right: below in the picture
    # the crop image holds those pixels
    bgr = np.zeros((200, 300, 3), np.uint8)
    bgr[100, 250] = (255, 0, 0)  # blue in BGR
    hand = mh.HandRoi((250.0, 100.0), float(c), 0.0)
    rgb = mh.crop(bgr, hand)
    assert rgb.shape == (c, c, 3) and tuple(rgb[c // 2, c // 2]) == (0, 0, 255)


# -- which hand is kept ------------------------------------------------------------------------------------------
class FakeHands:
    """Answers the n-th crop with a hand whose wrist is at canvas point wrists[n] (the rest of the hand above it),
    None past the list's end; keeps the crops it was given."""

    def __init__(self, wrists: list[tuple[float, float] | None], right: list[float]) -> None:
        self.wrists, self.right, self.calls = wrists, right, 0
        self.crops: list[np.ndarray] = []

    def landmarks(self, rgb: np.ndarray) -> mh.CanvasHand | None:
        assert rgb.shape == (mh.CANVAS, mh.CANVAS, 3)
        self.crops.append(rgb.copy())
        self.calls += 1
        if self.calls > len(self.wrists) or self.wrists[self.calls - 1] is None:
            return None
        wrist, right = self.wrists[self.calls - 1], self.right[self.calls - 1]
        assert wrist is not None
        pixels = np.array([[wrist[0], wrist[1] - 5.0 * k] for k in range(21)])
        world = np.zeros((21, 3))
        world[:, 0] = np.arange(21) * 0.01  # along the crop's x: turned with it
        return mh.CanvasHand(pixels, world, right)


def person(
    left_wrist: tuple[float, float] = (200.0, 300.0), right_wrist: tuple[float, float] = (600.0, 300.0)
):
    """A pose with both hands pointing up from their wrists, everything visible."""
    pose = np.zeros((33, 2))
    for side, wrist in (("left", left_wrist), ("right", right_wrist)):
        pose[IDX[f"{side}_wrist"]] = wrist
        pose[IDX[f"{side}_index"]] = (wrist[0], wrist[1] - 40.0)
        pose[IDX[f"{side}_pinky"]] = (wrist[0], wrist[1] - 40.0)
    return pose, np.ones(33)


def canvas_point(roi: mh.HandRoi, xy: tuple[float, float]) -> tuple[float, float]:
    m = roi.to_image()
    u = np.linalg.solve(m[:, :2], np.asarray(xy) - m[:, 2])
    return float(u[0]), float(u[1])


def rois(pose: np.ndarray) -> list[mh.HandRoi]:
    return [mh.hand_roi(*pose[[IDX[f"{s}_wrist"], IDX[f"{s}_index"], IDX[f"{s}_pinky"]]]) for s in mh.SIDES]


def test_hands_found_on_their_wrists_are_kept_in_the_frame() -> None:
    pose, vis = person()
    left, right = rois(pose)
    fake = FakeHands([canvas_point(left, (200, 300)), canvas_point(right, (603, 298))], [0.1, 0.8])
    hands = mh.find_hands(np.zeros((600, 800, 3), np.uint8), pose, vis, fake)
    assert hands.found.tolist() == [True, True]
    assert hands.pixels[0, 0] == pytest.approx([200.0, 300.0]) and hands.pixels[1, 0] == pytest.approx(
        [603, 298]
    )
    # the fake's fingertip 100 canvas px above its wrist, along the crop turned by ROI_TURN from upright
    r, k = mh.ROI_TURN, 100.0 * left.size / mh.CANVAS
    assert left.rotation == pytest.approx(r)
    assert hands.pixels[0, 20] == pytest.approx([200.0 + k * math.sin(r), 300.0 - k * math.cos(r)])
    assert hands.score == pytest.approx([0.9, 0.8])  # the probability of being the side's own hand
    assert hands.world[0, 20] == pytest.approx(
        [0.2 * math.cos(r), 0.2 * math.sin(r), 0.0]
    )  # turned as the crop


def test_world_landmarks_turn_with_the_crop() -> None:
    pose, vis = person()
    pose[IDX["left_index"]] = pose[IDX["left_pinky"]] = (240.0, 300.0)  # left hand pointing right
    left = rois(pose)[0]
    fake = FakeHands([canvas_point(left, (200, 300)), None], [0.0, 0.0])
    hands = mh.find_hands(np.zeros((600, 800, 3), np.uint8), pose, vis, fake)
    assert hands.found.tolist() == [True, False]
    r = math.pi / 2 + mh.ROI_TURN  # the crop's x is (nearly) the picture's y
    assert left.rotation == pytest.approx(r)
    assert hands.world[0, 20] == pytest.approx([0.2 * math.cos(r), 0.2 * math.sin(r), 0.0])


def test_the_other_hand_in_a_crop_is_refused() -> None:
    # hands close together: the left crop reaches the right wrist and its hand is found there
    pose, vis = person(left_wrist=(400.0, 300.0), right_wrist=(440.0, 300.0))
    left, right = rois(pose)
    # the left hand: the pose's crop finds the right hand (no turned tries: not found on a frame before); the
    # right: found
    answers = [canvas_point(left, (438, 300)), canvas_point(right, (440, 300))]
    fake = FakeHands(answers, [0.5] * 2)
    hands = mh.find_hands(np.zeros((600, 800, 3), np.uint8), pose, vis, fake)
    assert hands.found.tolist() == [False, True] and fake.calls == 2


def test_a_hand_the_model_calls_the_other_side_is_kept_with_its_score() -> None:
    # the side is the pose arm's (the left/right repair moves the hand with it); the score says what the model saw
    pose, vis = person()
    left, right = rois(pose)
    fake = FakeHands([canvas_point(left, (200, 300)), canvas_point(right, (600, 300))], [0.99, 0.04])
    hands = mh.find_hands(np.zeros((600, 800, 3), np.uint8), pose, vis, fake)
    assert hands.found.tolist() == [True, True] and hands.score == pytest.approx([0.01, 0.04])


def test_a_hand_far_from_its_pose_wrist_is_refused() -> None:
    pose, vis = person()
    left = rois(pose)[0]
    # the left crop's hand has its wrist 60 px above the pose's wrist (palm 5 px → at least MIN_PALM_PX = 10):
    # more than MAX_WRIST_GAP palms away
    far = canvas_point(left, (200, 240))
    fake = FakeHands([far], [0.0])
    hands = mh.find_hands(np.zeros((600, 800, 3), np.uint8), pose, vis, fake)
    assert hands.found.tolist() == [False, False]
    assert fake.calls == 2  # one try per hand: neither was found on a frame before


def test_one_hand_found_by_both_crops_stays_with_the_nearer_wrist() -> None:
    pose, vis = person(left_wrist=(400.0, 300.0), right_wrist=(460.0, 300.0))
    left, right = rois(pose)
    # both crops find one hand whose wrist is at (425, 300): nearer the left pose wrist
    fake = FakeHands([canvas_point(left, (425, 300)), canvas_point(right, (425, 301))], [0.5, 0.5])
    hands = mh.find_hands(np.zeros((600, 800, 3), np.uint8), pose, vis, fake)
    assert hands.found.tolist() == [True, False]


def test_hidden_or_tiny_hands_are_not_run() -> None:
    pose, vis = person()
    vis[IDX["right_pinky"]] = 0.1
    pose[IDX["left_index"]] = pose[IDX["left_pinky"]] = (200.0, 295.0)  # a hand 5 px long
    fake = FakeHands([], [])
    hands = mh.find_hands(np.zeros((600, 800, 3), np.uint8), pose, vis, fake)
    assert fake.calls == 0 and not hands.found.any()


# -- tracking and retries ---------------------------------------------------------------------------------------
NARROW = mh.HandSearch(wide_scale=0.0)  # no widened crop for a lost hand: the tracked and pose crops alone
WIDE = mh.HandSearch(wide_scale=2.5, lost_frames=5, memory=10)  # issue 26's widened crop and identity rule


def flat_hand(wrist: tuple[float, float], length: float, angle_deg: float) -> np.ndarray:
    """(21, 2) px: a flat hand pointing along angle_deg (0: right, 90: down in the picture), fingers side by side,
    palm (wrist to knuckles) `length` px, fingers as long again."""
    d = np.array([math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))])
    n = np.array([-d[1], d[0]])
    pts = np.zeros((21, 2))
    pts[0] = wrist
    for k in range(5):
        base = np.asarray(wrist) + length * d + (k - 2) * 0.25 * length * n
        for j in range(4):
            pts[1 + 4 * k + j] = base + j * 0.33 * length * d
    return pts


def test_tracked_roi_is_mediapipes_hand_rect() -> None:
    # a hand pointing up from (100, 200), knuckles 40 px above: the palm landmarks' box is 40 wide (the knuckles
    # side by side over ±20 px: fingers k - 2 at 0.25 · 40 px) and from the wrist to the thumb's third landmark
    # (this flat thumb's: 40 + 2 · 13.2 px) high; rotation 0, centre moved 0.1 box height towards the fingers,
    # side 2 × the longer one
    hand = flat_hand((100.0, 200.0), 40.0, -90.0)
    roi = mh.tracked_roi(hand)
    height = 40.0 + 2 * 0.33 * 40.0
    assert roi.rotation == pytest.approx(0.0, abs=1e-9)
    assert roi.size == pytest.approx(2.0 * height)
    assert roi.centre == pytest.approx((100.0, 200.0 - height / 2 - 0.1 * height))
    # turned a quarter to the right (fingers pointing right): the same box turned, rotation +90 degrees
    turned = mh.tracked_roi(flat_hand((100.0, 200.0), 40.0, 0.0))
    assert turned.rotation == pytest.approx(math.pi / 2)
    assert turned.size == pytest.approx(2.0 * height)
    assert turned.centre == pytest.approx((100.0 + height / 2 + 0.1 * height, 200.0))


def test_a_hand_found_before_is_tracked_from_its_landmarks_then_the_pose() -> None:
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)
    pose, vis = person()
    vis[IDX["right_wrist"]] = 0.1  # only the left hand is run
    left = rois(pose)[0]
    before = mh.FrameHands.none()
    before.found[0] = True
    before.pixels[0] = flat_hand((205.0, 298.0), 30.0, -80.0)
    tracked = mh.tracked_roi(before.pixels[0])
    # found on the tracked crop: one call, on exactly that crop
    fake = FakeHands([canvas_point(tracked, (204.0, 299.0))], [0.0])
    hands = mh.find_hands(bgr, pose, vis, fake, before, NARROW)
    assert hands.found.tolist() == [True, False] and fake.calls == 1
    np.testing.assert_array_equal(fake.crops[0], mh.crop(bgr, tracked))
    assert hands.pixels[0, 0] == pytest.approx([204.0, 299.0])
    # nothing there: the pose's crop, which finds it
    assert left.size >= mh.SEARCH.track_min_px
    fake = FakeHands([None, canvas_point(left, (201.0, 301.0))], [0.0] * 2)
    hands = mh.find_hands(bgr, pose, vis, fake, before, NARROW)
    assert fake.calls == 2 and hands.found.tolist() == [True, False]
    for got, roi in zip(fake.crops, [tracked, left], strict=True):
        np.testing.assert_array_equal(got, mh.crop(bgr, roi))
    assert hands.pixels[0, 0] == pytest.approx([201.0, 301.0])
    # found nowhere: two tries, no more; asked for, a turned retry after them
    fake = FakeHands([None] * 5, [0.0] * 5)
    assert not mh.find_hands(bgr, pose, vis, fake, before, NARROW).found.any() and fake.calls == 2
    turned = mh.HandRoi(left.centre, left.size, left.rotation - 0.5)
    fake = FakeHands([None, None, canvas_point(turned, (199.0, 302.0))], [0.0] * 3)
    hands = mh.find_hands(
        bgr, pose, vis, fake, before, mh.HandSearch(retry_turns=(0.0, -0.5), wide_scale=0.0)
    )
    assert fake.calls == 3 and hands.pixels[0, 0] == pytest.approx([199.0, 302.0])
    np.testing.assert_array_equal(fake.crops[2], mh.crop(bgr, turned))
    # without a hand on the frame before, the pose's crop only
    fake = FakeHands([canvas_point(left, (200.0, 300.0))], [0.0])
    hands = mh.find_hands(bgr, pose, vis, fake, None, NARROW)
    assert fake.calls == 1 and hands.found[0]
    fake = FakeHands([None, canvas_point(left, (200.0, 300.0))], [0.0] * 2)
    assert not mh.find_hands(bgr, pose, vis, fake, None, NARROW).found.any() and fake.calls == 1
    np.testing.assert_array_equal(fake.crops[0], mh.crop(bgr, left))


def test_a_small_hand_found_before_gets_the_pose_crop_then_the_tracked_one() -> None:
    rng = np.random.default_rng(4)
    bgr = rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)
    pose, vis = person()
    pose[IDX["left_index"]] = pose[IDX["left_pinky"]] = (200.0, 285.0)  # box 30 px, crop 48 px
    vis[IDX["right_wrist"]] = 0.1
    left = rois(pose)[0]
    assert mh.MIN_ROI_PX <= left.size < mh.SEARCH.track_min_px
    before = mh.FrameHands.none()
    before.found[0] = True
    before.pixels[0] = flat_hand((201.0, 299.0), 12.0, -90.0)
    tracked = mh.tracked_roi(before.pixels[0])
    # the pose's crop first: found there, one call
    fake = FakeHands([canvas_point(left, (200.0, 300.0))], [0.0])
    assert mh.find_hands(bgr, pose, vis, fake, before, NARROW).found[0] and fake.calls == 1
    np.testing.assert_array_equal(fake.crops[0], mh.crop(bgr, left))
    # missed there: the tracked crop, and no turned tries after it
    fake = FakeHands([None, canvas_point(tracked, (202.0, 300.0))], [0.0] * 2)
    hands = mh.find_hands(bgr, pose, vis, fake, before, NARROW)
    assert hands.found[0] and fake.calls == 2 and hands.pixels[0, 0] == pytest.approx([202.0, 300.0])
    np.testing.assert_array_equal(fake.crops[1], mh.crop(bgr, tracked))
    fake = FakeHands([None] * 4, [0.0] * 4)
    assert not mh.find_hands(bgr, pose, vis, fake, before, NARROW).found.any() and fake.calls == 2


def test_a_hand_lost_lately_gets_a_widened_pose_crop() -> None:
    rng = np.random.default_rng(5)
    bgr = rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)
    pose, vis = person()
    vis[IDX["right_wrist"]] = 0.1
    left = rois(pose)[0]
    wide = mh.HandRoi(left.centre, left.size * WIDE.wide_scale / mh.ROI_SCALE, left.rotation)
    assert wide.size == pytest.approx(left.size * 2.5 / 1.6)
    before = mh.FrameHands.none()
    before.found[0] = True
    before.pixels[0] = flat_hand((205.0, 298.0), 30.0, -80.0)
    # tracked and pose crops miss: the widened crop, third, finds it
    fake = FakeHands([None, None, canvas_point(wide, (203.0, 297.0))], [0.0] * 3)
    hands = mh.find_hands(bgr, pose, vis, fake, previous=before, search=WIDE)
    assert fake.calls == 3 and hands.found[0] and hands.pixels[0, 0] == pytest.approx([203.0, 297.0])
    np.testing.assert_array_equal(fake.crops[2], mh.crop(bgr, wide))
    assert hands.last_age[0] == 0 and hands.last[0, 0] == pytest.approx([203.0, 297.0])
    # lost on the 4 frames since: still tried (lost_frames 5); lost on 5: the pose's crop only
    lost = mh.FrameHands.none()
    lost.last[0], lost.last_age[0] = before.pixels[0], 3  # found 4 frames before this one
    fake = FakeHands([None, canvas_point(wide, (203.0, 297.0))], [0.0] * 2)
    hands = mh.find_hands(bgr, pose, vis, fake, previous=lost, search=WIDE)
    assert fake.calls == 2 and hands.found[0]
    lost.last_age[0] = 4
    fake = FakeHands([None, canvas_point(wide, (203.0, 297.0))], [0.0] * 2)
    hands = mh.find_hands(bgr, pose, vis, fake, previous=lost, search=WIDE)
    assert fake.calls == 1 and not hands.found[0] and hands.last_age[0] == 5
    # a pose crop under wide_min_px: no widened crop
    small, small_vis = person()
    small[IDX["left_index"]] = small[IDX["left_pinky"]] = (200.0, 290.0)  # box 20 px, crop 32 px
    small_vis[IDX["right_wrist"]] = 0.1
    assert rois(small)[0].size < WIDE.wide_min_px
    fake = FakeHands([None] * 4, [0.0] * 4)
    assert (
        not mh.find_hands(bgr, small, small_vis, fake, previous=before, search=WIDE).found[0]
        and fake.calls == 2
    )


def test_a_hand_found_on_the_other_hand_as_last_seen_is_not_kept() -> None:
    # the arms cross: the pose's left wrist lies on the right hand, which was found 2 frames ago at (600, 300)
    bgr = np.zeros((600, 800, 3), np.uint8)
    pose, vis = person(left_wrist=(596.0, 304.0), right_wrist=(200.0, 300.0))
    vis[IDX["right_wrist"]] = 0.1  # the right hand's crop is not run
    left = rois(pose)[0]
    before = mh.FrameHands.none()
    before.last[1], before.last_age[1] = flat_hand((600.0, 300.0), 30.0, -90.0), 1
    before.last[0], before.last_age[0] = flat_hand((450.0, 300.0), 30.0, -90.0), 1  # the left hand, farther
    fake = FakeHands([canvas_point(left, (598.0, 302.0))] * 3, [0.0] * 3)
    hands = mh.find_hands(bgr, pose, vis, fake, previous=before, search=WIDE)
    assert (
        not hands.found[0] and fake.calls == 2
    )  # the pose's crop and the widened one: both found it, not kept
    # without the rule (the default) it is kept; and the rule forgets after `memory` frames
    fake = FakeHands([canvas_point(left, (598.0, 302.0))], [0.0])
    assert mh.find_hands(bgr, pose, vis, fake, before).found[0] and mh.SEARCH.memory == 0
    before.last_age[1] = WIDE.memory
    fake = FakeHands([canvas_point(left, (598.0, 302.0))], [0.0])
    assert mh.find_hands(bgr, pose, vis, fake, previous=before, search=WIDE).found[0]
    # a hand beside the other's last wrist but more than a palm length from it is kept
    before.last_age[1] = 1
    pose2, vis2 = person(left_wrist=(540.0, 300.0), right_wrist=(200.0, 300.0))
    vis2[IDX["right_wrist"]] = 0.1
    left2 = rois(pose2)[0]
    fake = FakeHands([canvas_point(left2, (540.0, 300.0))], [0.0])
    assert mh.find_hands(bgr, pose2, vis2, fake, previous=before, search=WIDE).found[0]


def test_raw_hands_clip_onto_the_picture() -> None:
    frame = mh.FrameHands.none()
    frame.found[0] = True
    frame.pixels[0] = 50.0
    frame.pixels[0, 3] = (-4.0, 20.0)
    raw = RawHands.stack([frame, mh.FrameHands.none()], (100, 80))
    assert raw.pixels.shape == (2, 2, 21, 2) and raw.pixels[0, 0, 3].tolist() == [0.0, 20.0]
    assert raw.visibility[0, 0, 3] == pytest.approx(0.1) and raw.visibility[0, 0, 0] == 1.0
    assert raw.visibility[0, 1].max() == 0.0 and raw.visibility[1].max() == 0.0
    track = RawTrack(
        np.zeros((2, 33, 2)), np.zeros((2, 33)), np.ones(2, bool), np.arange(2), np.arange(2.0), hands=raw
    )
    joined = RawTrack.concat([track.slice(1), RawTrack.empty(), track])
    assert joined.hands is not None and joined.hands.pixels.shape == (3, 2, 21, 2)
    assert joined.hands.visibility[:, 0, 0].tolist() == [0.0, 1.0, 0.0]


# -- the file and the cache key ----------------------------------------------------------------------------------
def keypoints(t: int = 3, hands: bool = True) -> Keypoints2D:
    rng = np.random.default_rng(1)
    extra = {}
    if hands:
        extra = {
            "hands": rng.uniform(0, 500, (t, 2, 21, 2)).astype(np.float32),
            "hands_visibility": rng.uniform(0, 1, (t, 2, 21)).astype(np.float32),
            "hands_world": rng.normal(0, 0.05, (t, 2, 21, 3)).astype(np.float32),
            "hands_score": rng.uniform(0, 1, (t, 2)).astype(np.float32),
        }
    return Keypoints2D(
        keypoints=rng.uniform(0, 500, (t, 33, 2)).astype(np.float32),
        visibility=np.full((t, 33), 0.9, np.float32),
        detected=np.ones(t, bool),
        interpolated=np.zeros(t, bool),
        frame_index=np.arange(t, dtype=np.int64),
        timestamps=np.arange(t) / 30.0,
        fps=30.0,
        image_size=(640, 480),
        meta={"detector": {"name": "x"}},
        **extra,
    )


def test_file_round_trip_with_and_without_hands(tmp_path: Path) -> None:
    with_hands = keypoints()
    back = Keypoints2D.load(with_hands.save(tmp_path / "h.keypoints.npz"))
    assert back.has_hands
    for name in ("hands", "hands_visibility", "hands_world", "hands_score"):
        np.testing.assert_array_equal(getattr(back, name), getattr(with_hands, name))
    plain = Keypoints2D.load(keypoints(hands=False).save(tmp_path / "p.keypoints.npz"))
    assert not plain.has_hands and plain.hands is None and plain.hands_score is None
    with np.load(tmp_path / "p.keypoints.npz") as data:
        assert int(data["format_version"]) == FORMAT_VERSION == 2 and "hands" not in data.files


def test_version_1_files_still_load(tmp_path: Path) -> None:
    old = keypoints(hands=False)
    path = tmp_path / "old.keypoints.npz"
    np.savez_compressed(  # exactly what format version 1 wrote
        path,
        format=np.array("keypoints2d"),
        format_version=np.array(1),
        keypoints=old.keypoints,
        visibility=old.visibility,
        detected=old.detected,
        interpolated=old.interpolated,
        frame_index=old.frame_index,
        timestamps=old.timestamps,
        fps=np.array(30.0),
        image_size=np.array([640, 480]),
        meta=np.array(json.dumps(old.meta)),
    )
    back = Keypoints2D.load(path)
    assert not back.has_hands and back.num_frames == 3
    np.testing.assert_array_equal(back.keypoints, old.keypoints)


def test_hands_come_all_together_and_with_the_right_shapes(tmp_path: Path) -> None:
    full = keypoints()
    with pytest.raises(ValueError, match="all of"):
        replace(full, hands_world=None)
    with pytest.raises(ValueError, match="hands_score must have shape"):
        replace(full, hands_score=np.zeros((3, 3), np.float32))
    # a file with part of the hands is damaged
    path = full.save(tmp_path / "h.keypoints.npz")
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist() if n != "hands_world.npy"}
    with zipfile.ZipFile(tmp_path / "part.keypoints.npz", "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    with pytest.raises(MocapError, match="not a readable keypoints file"):
        Keypoints2D.load(tmp_path / "part.keypoints.npz")


def test_hands_follow_a_repaired_arm_exchange() -> None:
    kp = keypoints()
    arms = np.array([False, True, False])
    fixed = relabel_hands(kp, arms)
    assert fixed.hands is not None and kp.hands is not None
    np.testing.assert_array_equal(fixed.hands[1, 0], kp.hands[1, 1])
    np.testing.assert_array_equal(fixed.hands[1, 1], kp.hands[1, 0])
    np.testing.assert_array_equal(fixed.hands[[0, 2]], kp.hands[[0, 2]])
    assert fixed.hands_score is not None and kp.hands_score is not None
    assert fixed.hands_score[1].tolist() == kp.hands_score[1, ::-1].tolist()
    assert relabel_hands(keypoints(hands=False), arms).hands is None


def test_the_cache_key_holds_the_hands_option() -> None:
    off = DetectorSettings().to_dict()
    assert "hands" not in off  # the key of every detection made before hands existed: old caches stay valid
    on = DetectorSettings(hands=True).to_dict()
    assert on["hands"] == {"version": HANDS_VERSION}
    assert {k: v for k, v in on.items() if k != "hands"} == off


def test_the_bundle_holds_the_fixed_palm_and_the_landmark_model() -> None:
    with zipfile.ZipFile(mh.HAND_MODEL) as bundle:
        names = {i.filename: i for i in bundle.infolist()}
    assert set(names) == {"hand_detector.tflite", "hand_landmarks_detector.tflite"}
    assert all(i.compress_type == zipfile.ZIP_STORED for i in names.values())
    assert names["hand_landmarks_detector.tflite"].file_size > 5_000_000  # hand_landmark_full


# -- real footage --------------------------------------------------------------------------------------------------
# Found on at least these shares of the frames where the hand is visible, over the four cameras of Pose2Sim's
# single-person take (small, 40-90 px, often motion-blurred hands), measured when this was written by
# bench/hands_found.py (README, "Hands"): 72 % of the frames where the pose sees the hand (wrist, index and pinky
# visibility >= 0.5; 63 % before tracking and retries), 75 % of those where it is visible by the labels of
# tests/data/pose2sim/single_person_hands_hidden.json (66 % before).
MIN_FOUND_POSE = 0.69
MIN_FOUND_LABELLED = 0.72


@pytest.mark.slow
def test_hands_on_the_pose2sim_take_are_found_and_never_swap(tmp_path: Path) -> None:
    labels = json.loads(LABELS.read_text())
    counts: list[Row] = []
    for cam in sorted((POSE2SIM / "single_person").glob("cam0*.mp4")):
        kp = detect(
            cam,
            settings=replace(DEFAULT_SETTINGS, hands=True),
            workers=1,
            cache_dir=tmp_path,
            repair_lr=False,
        )
        assert kp.has_hands and kp.hands is not None and kp.hands_visibility is not None
        counts += count(
            kp, cam.stem, labels[cam.stem]
        )  # found among the pose-visible and the labelled-visible
        found = kp.hands_visibility.max(axis=-1) > 0  # (T, 2)
        for side, name in enumerate(mh.SIDES):
            # no swaps: each found hand's wrist is near its own pose wrist, nearer than the other one
            rows = np.flatnonzero(found[:, side])
            own = kp.keypoints[rows, IDX[f"{name}_wrist"]]
            other = kp.keypoints[rows, IDX[f"{mh.SIDES[1 - side]}_wrist"]]
            wrist = kp.hands[rows, side, 0]
            size = np.linalg.norm(kp.hands[rows, side, 9] - wrist, axis=-1)  # wrist to middle knuckle
            gap = np.linalg.norm(wrist - own, axis=-1)
            assert (gap < np.linalg.norm(wrist - other, axis=-1)).all(), cam.name
            assert (gap < 2.0 * np.maximum(size, 10.0)).all(), cam.name
    assert sum(c.found_pose for c in counts) / sum(c.pose for c in counts) >= MIN_FOUND_POSE, counts
    assert sum(c.found_labelled for c in counts) / sum(c.labelled for c in counts) >= MIN_FOUND_LABELLED, (
        counts
    )
