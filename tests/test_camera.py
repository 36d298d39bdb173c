"""Camera maths: intrinsics, normalisation, projection against OpenCV, world↔camera, look_at."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import torch

from lifting.camera import (
    Intrinsics,
    camera_to_world,
    look_at,
    normalize_screen,
    project,
    unnormalize_screen,
    unproject,
    world_to_camera,
)
from lifting.errors import MocapError
from lifting.learn.losses import project_torch

DIST = (-0.25, 0.08, 0.001, -0.0007, -0.01)


def _distorted() -> Intrinsics:
    return Intrinsics(fx=800.0, fy=780.0, cx=640.0, cy=360.0, width=1280, height=720, dist=DIST)


def _points_in_view(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.uniform(2.0, 6.0, n)
    # Within about ±0.75 of the optical axis in normalised camera coordinates: inside a 1280×720 frame.
    xy = rng.uniform(-0.75, 0.75, (n, 2)) * np.array([1.0, 0.55])
    return np.c_[xy * z[:, None], z]


def test_from_fov_known_focal_lengths() -> None:
    k = Intrinsics.from_fov(1000, 600, 90.0)
    assert k.fx == pytest.approx(500.0) and k.fy == pytest.approx(500.0)
    assert (k.cx, k.cy) == (500.0, 300.0)
    kv = Intrinsics.from_fov(1000, 600, 90.0, axis="vertical")
    assert kv.fy == pytest.approx(300.0)
    kd = Intrinsics.from_fov(300, 400, 90.0, axis="diagonal")  # diagonal 500 → f = 250
    assert kd.fx == pytest.approx(250.0)
    k60 = Intrinsics.from_fov(1920, 1080, 60.0)
    assert k60.fx == pytest.approx(960.0 / math.tan(math.radians(30.0)))


@pytest.mark.parametrize("axis", ["horizontal", "vertical", "diagonal"])
def test_fov_round_trip(axis: str) -> None:
    k = Intrinsics.from_fov(1920, 1080, 47.5, axis=axis)  # type: ignore[arg-type]
    assert k.fov_deg(axis) == pytest.approx(47.5, abs=1e-9)  # type: ignore[arg-type]
    # Same square-pixel camera: the three fovs are consistent with one focal length.
    assert k.fov_deg("horizontal") > k.fov_deg("vertical")
    assert k.fov_deg("diagonal") > k.fov_deg("horizontal")


def test_from_fov_rejects_bad_angle() -> None:
    with pytest.raises(MocapError):
        Intrinsics.from_fov(100, 100, 180.0)
    with pytest.raises(MocapError):
        Intrinsics.from_fov(100, 100, 0.0)


def test_dict_round_trip_through_json() -> None:
    k = _distorted()
    d = json.loads(json.dumps(k.to_dict()))
    assert Intrinsics.from_dict(d) == k
    no_dist = {key: v for key, v in d.items() if key != "dist"}
    assert Intrinsics.from_dict(no_dist).dist == (0.0, 0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "bad",
    [
        [1, 2, 3],
        {"fx": 1.0, "fy": 1.0, "cx": 0.0, "cy": 0.0, "width": 10},
        {"fx": "500", "fy": 500.0, "cx": 0.0, "cy": 0.0, "width": 10, "height": 10},
        {"fx": -5.0, "fy": 500.0, "cx": 0.0, "cy": 0.0, "width": 10, "height": 10},
        {"fx": 5.0, "fy": 500.0, "cx": 0.0, "cy": 0.0, "width": 10.5, "height": 10},
        {"fx": 5.0, "fy": 500.0, "cx": 0.0, "cy": 0.0, "width": 10, "height": 0},
        {"fx": float("nan"), "fy": 500.0, "cx": 0.0, "cy": 0.0, "width": 10, "height": 10},
        {"fx": 5.0, "fy": 5.0, "cx": 0.0, "cy": 0.0, "width": 10, "height": 10, "dist": [0.1]},
        {"fx": 5.0, "fy": 5.0, "cx": 0.0, "cy": 0.0, "width": 10, "height": 10, "fX": 3},
    ],
)
def test_from_dict_rejects_bad_data_with_one_sentence(bad: object) -> None:
    with pytest.raises(MocapError) as info:
        Intrinsics.from_dict(bad)
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message


def test_as_array_layout_and_scaled() -> None:
    k = _distorted()
    a = k.as_array()
    assert a.dtype == np.float32 and a.shape == (9,)
    np.testing.assert_allclose(a, [800, 780, 640, 360, *DIST], rtol=1e-6)
    half = k.scaled(0.5)
    assert (half.width, half.height) == (640, 360)
    assert (half.fx, half.fy, half.cx, half.cy) == (400.0, 390.0, 320.0, 180.0)
    # The same 3D point lands on the same relative image position after resizing.
    pts = _points_in_view(20)
    np.testing.assert_allclose(project(pts, half), project(pts, k) * 0.5, atol=1e-9)


def test_normalize_screen_values_and_round_trip() -> None:
    w, h = 1920, 1080
    corners = np.array([[0.0, 0.0], [w, h], [w / 2, h / 2]])
    n = normalize_screen(corners, w, h)
    np.testing.assert_allclose(n, [[-1.0, -h / w], [1.0, h / w], [0.0, 0.0]], atol=1e-12)
    rng = np.random.default_rng(1)
    pts = rng.uniform(-100, 2000, (4, 7, 33, 2)).astype(np.float32)
    back = unnormalize_screen(normalize_screen(pts, w, h), w, h)
    assert back.shape == pts.shape
    np.testing.assert_allclose(back, pts, atol=1e-9)
    with pytest.raises(ValueError):
        normalize_screen(np.zeros((3, 3)), w, h)


def test_project_matches_opencv_with_distortion() -> None:
    k = _distorted()
    pts = _points_in_view(200)
    # Camera pose away from identity, to exercise cv2's rvec/tvec path the same way as ours.
    rot = look_at([0.5, -0.3, 0.2], [0.6, 1.0, 4.0], up=[0.0, -1.0, 0.0])
    pos = np.array([0.5, -0.3, 0.2])
    world = camera_to_world(pts, rot, pos)
    ours = project(world_to_camera(world, rot, pos), k)
    cam_mat = np.array([[k.fx, 0.0, k.cx], [0.0, k.fy, k.cy], [0.0, 0.0, 1.0]])
    rvec, _ = cv2.Rodrigues(rot)
    tvec = -rot @ pos
    theirs, _ = cv2.projectPoints(world, rvec, tvec, cam_mat, np.array(k.dist))
    np.testing.assert_allclose(ours, theirs[:, 0, :], atol=1e-8)
    # The distortion is not negligible here (else the comparison would prove little).
    plain = project(pts, Intrinsics(k.fx, k.fy, k.cx, k.cy, k.width, k.height))
    assert np.abs(plain - ours).max() > 10.0


def test_project_pinhole_known_value() -> None:
    k = Intrinsics.from_fov(1000, 800, 90.0)  # f = 500, centre (500, 400)
    np.testing.assert_allclose(project([[1.0, -0.5, 2.0]], k), [[750.0, 275.0]])


def test_unproject_round_trip_pinhole_and_distorted() -> None:
    pts = _points_in_view(300, seed=3)
    for k in (Intrinsics.from_fov(1280, 720, 70.0), _distorted()):
        px = project(pts, k)
        back = unproject(px, pts[:, 2], k)
        np.testing.assert_allclose(back, pts, atol=1e-9)
        assert np.abs(project(back, k) - px).max() < 1e-6


def test_unproject_broadcasts_depth() -> None:
    k = Intrinsics.from_fov(640, 480, 60.0)
    px = np.array([[[320.0, 240.0], [0.0, 0.0]]])  # (1, 2, 2)
    out = unproject(px, 3.0, k)
    assert out.shape == (1, 2, 3)
    np.testing.assert_allclose(out[0, 0], [0.0, 0.0, 3.0])
    np.testing.assert_allclose(project(out, k), px, atol=1e-9)


def test_project_torch_matches_numpy_and_is_differentiable() -> None:
    k = _distorted()
    pts = _points_in_view(50, seed=4).reshape(5, 10, 3)
    intr = torch.tensor([k.fx, k.fy, k.cx, k.cy, *k.dist], dtype=torch.float64)
    p = torch.tensor(pts, requires_grad=True)
    out = project_torch(p, intr)
    np.testing.assert_allclose(out.detach().numpy(), project(pts, k), atol=1e-9)
    out.sum().backward()
    assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # Per-sample cameras broadcast: (5, 1, 9) against (5, 10, 3).
    batch = intr.expand(5, 1, 9).clone()
    batch[2, 0, 0] = 400.0
    out_b = project_torch(torch.tensor(pts), batch)
    k2 = Intrinsics(400.0, k.fy, k.cx, k.cy, k.width, k.height, k.dist)
    np.testing.assert_allclose(out_b[2].numpy(), project(pts[2], k2), atol=1e-9)
    np.testing.assert_allclose(out_b[1].numpy(), project(pts[1], k), atol=1e-9)


def test_project_torch_normalized_intrinsics_give_normalized_points() -> None:
    k = _distorted()
    pts = _points_in_view(30, seed=5)
    out = project_torch(torch.tensor(pts), torch.tensor(k.as_normalized_array(), dtype=torch.float64))
    expected = normalize_screen(project(pts, k), k.width, k.height)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)  # float32 intrinsics


def test_project_clamps_depth_at_or_behind_camera() -> None:
    k = Intrinsics.from_fov(100, 100, 90.0)
    pts = np.array([[0.1, 0.1, 0.0], [0.1, 0.1, -2.0]])
    out_np = project(pts, k)
    assert np.isfinite(out_np).all()
    p = torch.tensor(pts, requires_grad=True)
    out = project_torch(p, torch.tensor(k.as_array(), dtype=torch.float64))
    out.sum().backward()
    assert p.grad is not None and torch.isfinite(out).all() and torch.isfinite(p.grad).all()
    np.testing.assert_allclose(out.detach().numpy(), out_np, atol=1e-6)


def test_world_camera_round_trip_and_known_transform() -> None:
    rng = np.random.default_rng(6)
    rot = look_at([2.0, -3.0, 1.6], [0.0, 0.0, 1.0])
    pos = np.array([2.0, -3.0, 1.6])
    pts = rng.normal(size=(4, 21, 3))
    cam = world_to_camera(pts, rot, pos)
    np.testing.assert_allclose(camera_to_world(cam, rot, pos), pts, atol=1e-12)
    # Distances are preserved and the camera centre maps to the origin.
    np.testing.assert_allclose(
        np.linalg.norm(cam[0, 0] - cam[0, 1]), np.linalg.norm(pts[0, 0] - pts[0, 1]), rtol=1e-12
    )
    np.testing.assert_allclose(world_to_camera(pos, rot, pos), 0.0, atol=1e-12)
    # Identity rotation: a pure translation.
    np.testing.assert_allclose(world_to_camera([1.0, 2.0, 3.0], np.eye(3), [1.0, 1.0, 1.0]), [0.0, 1.0, 2.0])


def test_look_at_target_on_axis_and_up_is_image_up() -> None:
    k = Intrinsics.from_fov(1280, 720, 60.0)
    pos = np.array([3.0, -4.0, 1.5])
    target = np.array([0.2, 0.5, 1.0])
    rot = look_at(pos, target)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    centre = project(world_to_camera(target, rot, pos), k)
    np.testing.assert_allclose(centre, [k.cx, k.cy], atol=1e-9)
    # A point above the target (world +Z) appears higher in the image: smaller pixel y.
    above = project(world_to_camera(target + np.array([0.0, 0.0, 0.5]), rot, pos), k)
    assert above[1] < k.cy - 10.0
    assert above[0] == pytest.approx(k.cx, abs=1e-6)
    # Looking along +Y with Z up, world +X is image right.
    rot_y = look_at([0.0, 0.0, 0.0], [0.0, 5.0, 0.0])
    np.testing.assert_allclose(rot_y, [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)


def test_look_at_degenerate_raises() -> None:
    with pytest.raises(ValueError):
        look_at([0.0, 0.0, 5.0], [0.0, 0.0, 0.0])  # looking straight down Z, up = Z
    with pytest.raises(ValueError):
        look_at([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])


def test_camera_normalisation_round_trips_and_ignores_the_focal_length() -> None:
    from lifting.camera import denormalize_camera, normalize_camera

    wide = Intrinsics.from_fov(1920, 1080, 80.0)
    tele = Intrinsics.from_fov(1920, 1080, 30.0)
    point = np.array([[0.3, -0.2, 4.0], [-1.0, 0.5, 6.0]])
    for intr in (wide, tele):
        np.testing.assert_allclose(
            normalize_camera(project(point, intr), intr), point[:, :2] / point[:, 2:], atol=1e-12
        )
    distorted = Intrinsics(1000.0, 1000.0, 960.0, 540.0, 1920, 1080, dist=(-0.2, 0.05, 0.001, -0.001, 0.0))
    px = np.array([[100.0, 200.0], [1800.0, 900.0], [960.0, 540.0]])
    np.testing.assert_allclose(denormalize_camera(normalize_camera(px, distorted), distorted), px, atol=1e-6)
