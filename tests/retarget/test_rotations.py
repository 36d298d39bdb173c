"""Rotation and quaternion maths: known rotations, round trips, continuity."""

import itertools

import numpy as np
import numpy.typing as npt
import pytest

from retarget.quaternions import (
    make_continuous,
    matrix_to_quat,
    quat_angle,
    quat_conjugate,
    quat_multiply,
    quat_to_matrix,
    slerp,
)
from retarget.rotations import (
    angle_between,
    axis_angle_matrix,
    euler_to_matrix,
    frame_from_vectors,
    matrix_to_euler,
    orthonormalize,
    rotation_angle,
    rotation_between,
)


def random_rotations(n: int, seed: int = 0) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    return axis_angle_matrix(rng.normal(size=(n, 3)), rng.uniform(-np.pi, np.pi, n))


def test_axis_angle_known_values() -> None:
    r = axis_angle_matrix(np.array([0.0, 0.0, 1.0]), np.pi / 2)
    np.testing.assert_allclose(r @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(rotation_angle(r), np.pi / 2, atol=1e-12)


def test_quaternion_matrix_round_trip_and_blender_order() -> None:
    r = random_rotations(500)
    q = matrix_to_quat(r)
    assert np.all(q[:, 0] >= 0)
    np.testing.assert_allclose(quat_to_matrix(q), r, atol=1e-10)
    # 90 degrees about Z is (cos 45, 0, 0, sin 45) in (w, x, y, z).
    q_z = matrix_to_quat(axis_angle_matrix(np.array([0.0, 0.0, 1.0]), np.pi / 2))
    np.testing.assert_allclose(q_z, [np.sqrt(0.5), 0, 0, np.sqrt(0.5)], atol=1e-12)


def test_quaternion_product_matches_matrix_product() -> None:
    a, b = random_rotations(50, 1), random_rotations(50, 2)
    qa, qb = matrix_to_quat(a), matrix_to_quat(b)
    np.testing.assert_allclose(quat_to_matrix(quat_multiply(qa, qb)), a @ b, atol=1e-10)
    np.testing.assert_allclose(quat_to_matrix(quat_conjugate(qa)), np.swapaxes(a, 1, 2), atol=1e-10)
    np.testing.assert_allclose(quat_angle(qa, -qa), 0.0, atol=1e-6)


def test_make_continuous_removes_sign_flips() -> None:
    angles = np.linspace(0, 4 * np.pi, 200)
    q = matrix_to_quat(axis_angle_matrix(np.array([0.3, 0.2, 1.0]), angles))  # w >= 0 forces flips
    assert np.any(np.sum(q[1:] * q[:-1], axis=-1) < 0)
    c = make_continuous(q)
    assert np.all(np.sum(c[1:] * c[:-1], axis=-1) > 0)
    np.testing.assert_allclose(quat_to_matrix(c), quat_to_matrix(q), atol=1e-12)


def test_slerp_midpoint() -> None:
    a = matrix_to_quat(np.eye(3))
    b = matrix_to_quat(axis_angle_matrix(np.array([1.0, 0.0, 0.0]), 1.0))
    np.testing.assert_allclose(rotation_angle(quat_to_matrix(slerp(a, b, 0.5))), 0.5, atol=1e-12)


@pytest.mark.parametrize("order", ["".join(p) for p in itertools.permutations("XYZ")])
def test_euler_round_trip_all_orders(order: str) -> None:
    r = random_rotations(300, 3)
    e = matrix_to_euler(r, order)
    np.testing.assert_allclose(euler_to_matrix(e, order), r, atol=1e-9)


def test_euler_known_order_and_gimbal_lock() -> None:
    a = np.radians([30.0, 40.0, 50.0])
    r = euler_to_matrix(a, "ZXY")
    expected = (
        axis_angle_matrix([0, 0, 1.0], a[0])
        @ axis_angle_matrix([1.0, 0, 0], a[1])
        @ axis_angle_matrix([0, 1.0, 0], a[2])
    )
    np.testing.assert_allclose(r, expected, atol=1e-12)
    locked = euler_to_matrix(np.radians([20.0, 90.0, 35.0]), "XYZ")
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler(locked, "XYZ"), "XYZ"), locked, atol=1e-9)


def test_frames_and_minimal_rotations() -> None:
    rng = np.random.default_rng(4)
    p, s = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    f = frame_from_vectors(p, s)
    np.testing.assert_allclose(f @ np.swapaxes(f, 1, 2), np.broadcast_to(np.eye(3), (100, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(f), 1.0, atol=1e-12)
    a, b = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    r = rotation_between(a, b)
    np.testing.assert_allclose(angle_between(np.einsum("nij,nj->ni", r, a), b), 0.0, atol=1e-7)
    np.testing.assert_allclose(rotation_angle(r), angle_between(a, b), atol=1e-9)
    opposite = rotation_between(np.array([1.0, 0, 0]), np.array([-1.0, 0, 0]))
    np.testing.assert_allclose(opposite @ [1.0, 0, 0], [-1.0, 0, 0], atol=1e-12)
    noisy = random_rotations(10) + 1e-3
    np.testing.assert_allclose(np.linalg.det(orthonormalize(noisy)), 1.0, atol=1e-12)
