"""MediaPipe's pose world landmarks in the keypoints (`Keypoints2D.pose_world`): the file keeps them or does
without, the left/right repair moves them with the 2D, detection fills them from the landmarker's own result (one
process and parallel segments), the cache key names their version, and on a calibrated real take their axes are
the camera's (x right, y down, z away)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lifting.skeleton import BLAZEPOSE, BLAZEPOSE_SWAP_GROUPS, swap_pairs
from lifting.video2d import parallel
from lifting.video2d.detect import detect_video
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.mediapipe_pose import POSE_VERSION, DetectorSettings
from lifting.video2d.swaps import repair_swaps
from lifting.video2d.track import RawTrack
from lifting.video2d.tracking import TrackingSettings
from tests.support.paths import EXCERPT, POSE2SIM_CALIBRATION, POSE2SIM_SINGLE
from tests.video2d.test_swaps import keypoints_of, walking

GROUPS = list(BLAZEPOSE_SWAP_GROUPS.values())


def world_of(pixels: np.ndarray) -> np.ndarray:
    """(T, 33, 3) metres: the pixels about the hips at 1/200 m per pixel, and a depth that differs left from
    right (left 0.1 m nearer), so a left/right exchange shows in every coordinate."""
    hips = pixels[:, BLAZEPOSE.indices(["left_hip", "right_hip"])].mean(axis=1, keepdims=True)
    world = np.zeros((len(pixels), 33, 3))
    world[..., :2] = (pixels - hips) / 200.0
    for left, right in BLAZEPOSE.mirror_pairs:
        world[:, left, 2] -= 0.05
        world[:, right, 2] += 0.05
    return world


def test_the_file_keeps_the_world_landmarks_or_does_without(tmp_path: Path) -> None:
    pixels = walking(12)
    with_world = keypoints_of(pixels, world_of(pixels))
    back = Keypoints2D.load(with_world.save(tmp_path / "w.keypoints.npz"))
    assert back.pose_world is not None and back.pose_world.dtype == np.float32
    np.testing.assert_array_equal(back.pose_world, with_world.pose_world)
    plain = keypoints_of(pixels, None)
    plain_back = Keypoints2D.load(plain.save(tmp_path / "p.keypoints.npz"))
    assert plain_back.pose_world is None
    with np.load(tmp_path / "p.keypoints.npz") as data:
        assert "pose_world" not in data.files  # the file a detection cached before the landmarks were kept
    np.testing.assert_array_equal(plain_back.keypoints, plain.keypoints)
    # Slicing frames slices them too.
    assert back.frames(3, 7).pose_world.shape == (4, 33, 3)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="pose_world"):
        keypoints_of(pixels, world_of(pixels)[:, :17])


def test_the_repair_exchanges_the_world_landmarks_with_the_2d() -> None:
    truth = walking(60)
    seen, world = truth.copy(), world_of(truth)
    seen_world = world.copy()
    for pairs in GROUPS:  # the whole body exchanged on frames 20-39, in 2D and in 3D alike
        seen[20:40] = swap_pairs(seen[20:40], pairs)
        seen_world[20:40] = swap_pairs(seen_world[20:40], pairs)
    fixed, exchanged = repair_swaps(keypoints_of(seen, seen_world))
    assert exchanged[20:40].all() and not exchanged[:20].any() and not exchanged[40:].any()
    np.testing.assert_allclose(fixed.keypoints, truth, atol=1e-4)
    assert fixed.pose_world is not None
    np.testing.assert_allclose(fixed.pose_world, world, atol=1e-6)
    # Without world landmarks the repair still works and adds none.
    assert repair_swaps(keypoints_of(seen, None))[0].pose_world is None


def test_the_cache_key_names_the_pose_version() -> None:
    assert DetectorSettings().to_dict()["pose"] == {"version": POSE_VERSION} and POSE_VERSION >= 2
    assert DetectorSettings(hands=True).to_dict()["pose"] == {"version": POSE_VERSION}


def test_raw_tracks_keep_the_world_through_slices_and_joins() -> None:
    n = 6
    world = np.arange(n * 33 * 3, dtype=np.float64).reshape(n, 33, 3)
    idx = np.arange(n)
    with_world = RawTrack(
        np.zeros((n, 33, 2)), np.ones((n, 33)), np.ones(n, bool), idx, idx / 30.0, world=world
    )
    without = RawTrack(np.zeros((2, 33, 2)), np.ones((2, 33)), np.ones(2, bool), idx[:2], idx[:2] / 30.0)
    joined = RawTrack.concat([with_world.slice(1, 4), without])
    assert joined.world is not None
    np.testing.assert_array_equal(joined.world[:3], world[1:4])
    assert (joined.world[3:] == 0).all()
    assert RawTrack.concat([without, without]).world is None


def check_world(d: Keypoints2D) -> None:
    """The world landmarks of a real detection: float32, zeros where not found, metres about the hips, y down."""
    assert d.pose_world is not None and d.pose_world.shape == (d.num_frames, 33, 3)
    assert d.pose_world.dtype == np.float32
    assert (d.pose_world[~d.found] == 0).all()
    seen = d.pose_world[d.found].astype(np.float64)
    hips = seen[:, BLAZEPOSE.indices(["left_hip", "right_hip"])].mean(axis=1)
    assert np.abs(hips).max() < 0.05  # origin between the hips
    nose_y = seen[:, BLAZEPOSE.index["nose"], 1]
    ankles_y = seen[:, BLAZEPOSE.indices(["left_ankle", "right_ankle"]), 1].max(axis=1)
    assert ((ankles_y - nose_y > 0.8) & (ankles_y - nose_y < 2.2)).all()  # y down, a person's height


def test_detection_fills_them_in_one_process_and_in_parallel_segments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    single = detect_video(EXCERPT, stop=40, workers=1)
    check_world(single)
    monkeypatch.setattr(parallel, "MIN_SEGMENT_FRAMES", 15)
    split = detect_video(EXCERPT, stop=40, workers=2)
    assert split.meta["workers"] == 2
    check_world(split)
    first = parallel.plan_segments(40, 2)[0]
    assert single.pose_world is not None and split.pose_world is not None
    np.testing.assert_array_equal(split.pose_world[: first.stop - 1], single.pose_world[: first.stop - 1])


@pytest.mark.slow
def test_on_a_calibrated_take_the_axes_are_the_cameras() -> None:
    """MediaPipe's world landmarks of each Pose2Sim camera against the other cameras' triangulation in that
    camera's frame: each axis correlates positively (z: away from the camera, the nearer the smaller)."""
    from lifting.app import api
    from lifting.app.pseudo_truth import references
    from lifting.multiview import read_calibration

    cameras = read_calibration(POSE2SIM_CALIBRATION)
    tracks = [api.detect(v, repair_lr=False) for v in POSE2SIM_SINGLE]
    _, worlds = references(cameras, tracks)
    hips = BLAZEPOSE.indices(["left_hip", "right_hip"])
    for camera, d, world in zip(cameras, tracks, worlds, strict=True):
        ref = camera.to_camera(world)
        ok = d.found & np.isfinite(ref).all(axis=(1, 2))
        assert d.pose_world is not None and ok.sum() >= 50
        r = ref[ok] - ref[ok][:, hips].mean(axis=1, keepdims=True)
        p = d.pose_world[ok].astype(np.float64)
        corr = [np.corrcoef(r[..., a].ravel(), p[..., a].ravel())[0, 1] for a in range(3)]
        # Measured 2026-12-08: x 0.73-0.99, y 0.88-0.99, z 0.65-0.89 over the four cameras.
        assert min(corr) > 0.5, corr


def test_a_later_subject_frame_keeps_them_on_the_frames_run_backwards() -> None:
    single = detect_video(EXCERPT, stop=40, workers=1)
    hips = BLAZEPOSE.indices(["left_hip", "right_hip"])
    point = tuple(float(v) for v in single.keypoints[25, hips].mean(axis=0))
    both = detect_video(
        EXCERPT, stop=40, workers=1, tracking=TrackingSettings(subject=point), subject_frame=25
    )
    check_world(both)
    assert both.pose_world is not None and single.pose_world is not None
    # The frames before the pivot were run backwards: their world landmarks come back in frame order, near the
    # forward run's (measured: median 0.08 m per landmark, MediaPipe's 3D varying between runs mostly in depth;
    # 0.23 m against the forward run's frames in reverse order).
    found = both.found[:25] & single.found[:25]
    gap = np.median(np.linalg.norm(both.pose_world[:25] - single.pose_world[:25], axis=-1)[found])
    reversed_gap = np.median(
        np.linalg.norm(both.pose_world[:25][::-1] - single.pose_world[:25], axis=-1)[found]
    )
    assert found.sum() >= 20 and gap < 0.5 * reversed_gap and gap < 0.15, (gap, reversed_gap)
