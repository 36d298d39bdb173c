"""Multi-camera geometry: reading calibrations, triangulation, left/right consistency across views and
synchronisation, on synthetic views of known 3D points and on the committed Pose2Sim calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lifting import multiview
from lifting.camera import Intrinsics, look_at
from lifting.errors import MocapError
from lifting.skeleton import BLAZEPOSE_SWAP_GROUPS, swap_pairs

CALIBRATION = Path(__file__).parent / "data" / "pose2sim" / "Calib.qca.txt"
RNG = np.random.default_rng(3)


def ring_of_cameras(n: int = 4) -> list[multiview.CalibratedCamera]:
    """n cameras 4 m from the origin, 1.5 m up, looking at the origin's 1 m height, with a little distortion."""
    cams = []
    for i in range(n):
        angle = 2 * np.pi * i / n + 0.3
        position = np.array([4 * np.cos(angle), 4 * np.sin(angle), 1.5])
        k = Intrinsics(
            fx=1500, fy=1500, cx=540, cy=960, width=1080, height=1920, dist=(-0.05, 0.02, 0.001, 0, 0)
        )
        cams.append(multiview.CalibratedCamera(f"cam{i}", k, look_at(position, (0, 0, 1.0)), position))
    return cams


def walking_person(frames: int) -> np.ndarray:
    """(T, 33, 3) world points: a body-sized cloud whose left landmarks sit at +y and right at -y, walking along x."""
    base = RNG.uniform([-0.15, -0.05, 0.1], [0.15, 0.05, 1.7], (33, 3))
    for groups in BLAZEPOSE_SWAP_GROUPS.values():
        for left, right in groups:
            base[left, 1], base[right, 1] = 0.2, -0.2
            base[right, [0, 2]] = base[left, [0, 2]] + RNG.normal(0, 0.05, 2)
    t = np.arange(frames)[:, None, None]
    return base[None] + np.concatenate([0.02 * t, 0 * t, 0.03 * np.sin(t / 3.0)], axis=-1)


def test_qualisys_calibration_gives_the_pose2sim_cameras() -> None:
    cams = multiview.read_calibration(CALIBRATION)
    assert [c.name for c in cams] == ["cam01", "cam02", "cam03", "cam04"]
    first = cams[0]
    # 1/64 px units: focalLengthU 107599.671875 / 64; the portrait 1088 x 1920 video field.
    assert first.intrinsics.fx == pytest.approx(107599.671875 / 64)
    assert (first.intrinsics.width, first.intrinsics.height) == (1088, 1920)
    np.testing.assert_allclose(first.position, [1.4602323709212087, -1.9091590482454608, 1.8965058524092062])
    for cam in cams:
        np.testing.assert_allclose(cam.rotation @ cam.rotation.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(cam.rotation) == pytest.approx(1.0)
        # Every camera looks at the capture area in the middle of the room (the force platform near the origin).
        assert cam.to_camera([0.0, 0.0, 1.0])[2] > 2.0
        assert np.all(np.abs(cam.project([0.0, 0.0, 1.0]) - [544, 960]) < [544, 960])


def test_bad_calibrations_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(MocapError, match=r"Qualisys \.qca\.txt or Pose2Sim \.toml"):
        multiview.read_calibration(tmp_path / "cams.json")
    broken = tmp_path / "broken.qca.txt"
    broken.write_text("<calibration><cameras>")
    with pytest.raises(MocapError, match="Cannot read the calibration"):
        multiview.read_calibration(broken)


def test_pose2sim_toml_round_trip(tmp_path: Path) -> None:
    cam = ring_of_cameras(1)[0]
    rvec_angle = np.arccos((np.trace(cam.rotation) - 1) / 2)
    axis = np.array(
        [
            cam.rotation[2, 1] - cam.rotation[1, 2],
            cam.rotation[0, 2] - cam.rotation[2, 0],
            cam.rotation[1, 0] - cam.rotation[0, 1],
        ]
    ) / (2 * np.sin(rvec_angle))
    rvec = axis * rvec_angle
    t = -cam.rotation @ cam.position
    k = cam.intrinsics
    (tmp_path / "calib.toml").write_text(
        '[cam_1]\nname = "side"\nsize = [1080.0, 1920.0]\n'
        f"matrix = [[{k.fx}, 0.0, {k.cx}], [0.0, {k.fy}, {k.cy}], [0.0, 0.0, 1.0]]\n"
        f"distortions = {list(k.dist[:4])}\nrotation = {rvec.tolist()}\ntranslation = {t.tolist()}\n"
        "[metadata]\nadjusted = false\n"
    )
    (back,) = multiview.read_calibration(tmp_path / "calib.toml")
    assert back.name == "side"
    np.testing.assert_allclose(back.rotation, cam.rotation, atol=1e-9)
    np.testing.assert_allclose(back.position, cam.position, atol=1e-9)


def test_triangulation_recovers_points_from_distorted_views() -> None:
    cams = ring_of_cameras()
    points = walking_person(5)
    pixels = np.stack([c.project(points) for c in cams])
    found, residual = multiview.triangulate(cams, pixels, np.ones(pixels.shape[:-1]))
    np.testing.assert_allclose(found, points, atol=1e-6)
    assert residual.max() < 1e-4
    # One view dropped (weight 0) still triangulates; a point seen by one view is NaN.
    weights = np.ones(pixels.shape[:-1])
    weights[1:, 0, 0] = 0.0
    weights[0, 1, 0] = 0.0
    found, residual = multiview.triangulate(cams, pixels, weights)
    assert np.isnan(found[0, 0]).all() and np.isnan(residual[0, 0])
    np.testing.assert_allclose(found[1, 0], points[1, 0], atol=1e-6)


def test_views_that_swap_left_and_right_are_relabelled_before_triangulating() -> None:
    cams = ring_of_cameras()
    points = walking_person(40)
    pixels = np.stack([c.project(points) for c in cams])
    arms = BLAZEPOSE_SWAP_GROUPS["arms"]
    # Camera 1 swaps the arms on frames 10-19, cameras 1 and 2 the legs on frames 20-39 (half the views: only
    # continuity with frames 0-19 tells which half is right).
    pixels[1, 10:20] = swap_pairs(pixels[1, 10:20], arms)
    for c in (1, 2):
        pixels[c, 20:] = swap_pairs(pixels[c, 20:], BLAZEPOSE_SWAP_GROUPS["legs"])
    found, _, swapped = multiview.triangulate_person(cams, pixels, np.ones(pixels.shape[:-1]))
    np.testing.assert_allclose(found, points, atol=1e-6)
    expected = np.zeros_like(swapped)
    expected[1, 10:20, 0] = True
    expected[1:3, 20:, 1] = True
    np.testing.assert_array_equal(swapped, expected)


def test_offsets_synchronise_views_shifted_in_time() -> None:
    cams = ring_of_cameras()
    points = walking_person(60)
    points[..., 2] += 0.3 * np.sin(np.arange(60) / 4.0)[:, None]  # motion that tells the frames apart
    pixels = np.stack([c.project(points) for c in cams])
    pixels[1] = multiview.shifted(pixels[1], 2)
    pixels[3] = multiview.shifted(pixels[3], -3)
    assert multiview.estimate_offsets(cams, pixels, np.ones(pixels.shape[:-1]), max_offset=5) == [0, 2, 0, -3]
    # The reference for camera 3, from the others, lands on camera 3's own (shifted) frames.
    world, _ = multiview.seen_from_others(cams, pixels, np.ones(pixels.shape[:-1]), [0, 2, 0, -3], 3)
    np.testing.assert_allclose(cams[3].project(world[10:50]), pixels[3, 10:50], atol=1e-4)
