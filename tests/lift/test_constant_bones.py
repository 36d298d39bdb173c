"""Constant bone lengths: the clip's lengths, the projection onto them, and what it keeps."""

from __future__ import annotations

import numpy as np
import pytest

from lifting.lift.constant_bones import (
    bone_pairs,
    clip_bone_lengths,
    constant_bone_lengths,
    constrain_bone_lengths,
)
from lifting.metrics import bone_length_std, bone_lengths, mpjpe
from lifting.skeleton import OUTPUT, mirror_points
from tests.lift.test_refine import walking_truth


def _walker(frames: int = 40) -> np.ndarray:
    """(T, 21, 3) root-relative joints of a walking person with constant bones (metres)."""
    return walking_truth(frames).joints.astype(np.float64)


def _stretched(rel: np.ndarray, seed: int = 0, spread: float = 0.08) -> np.ndarray:
    """Each bone of each frame scaled by its own random factor in 1 ± spread, the children following along."""
    rng = np.random.default_rng(seed)
    parent, child = bone_pairs(OUTPUT.parents)
    vectors = rel[:, child] - rel[:, parent]
    vectors *= rng.uniform(1.0 - spread, 1.0 + spread, vectors.shape[:2])[..., None]
    out = np.zeros_like(rel)
    for b, c in enumerate(child):  # parents come before their children in OUTPUT
        out[:, c] = out[:, parent[b]] + vectors[:, b]
    return out


def test_bone_pairs_list_each_non_root_joint_with_its_parent() -> None:
    parent, child = bone_pairs((-1, 0, 1, 0))
    assert parent.tolist() == [0, 1, 0] and child.tolist() == [1, 2, 3]


def test_bone_lengths_are_a_percentile_over_the_clip_with_left_and_right_averaged() -> None:
    rel = _walker(10)
    lengths = clip_bone_lengths(rel, OUTPUT.names, OUTPUT.parents)
    expected = np.median(bone_lengths(rel, OUTPUT.parents), axis=0)
    np.testing.assert_allclose(lengths, expected, atol=1e-6)  # the walker is symmetric
    lopsided = rel.copy()
    i = OUTPUT.index
    lopsided[:, i["l_hand"]] = rel[:, i["l_wrist"]] + 2.0 * (rel[:, i["l_hand"]] - rel[:, i["l_wrist"]])
    both = clip_bone_lengths(lopsided, OUTPUT.names, OUTPUT.parents)
    _, child = bone_pairs(OUTPUT.parents)
    left, right = list(child).index(i["l_hand"]), list(child).index(i["r_hand"])
    assert both[left] == pytest.approx(both[right]) == pytest.approx(1.5 * expected[right], rel=1e-6)
    # A percentile of a bone whose length grows linearly over 11 frames, 1.0 → 2.0: percentile 60 is 1.6.
    chain = np.zeros((11, 2, 3))
    chain[:, 1, 0] = np.linspace(1.0, 2.0, 11)
    assert clip_bone_lengths(chain, ("a", "b"), (-1, 0), percentile=60.0)[0] == pytest.approx(1.6)


def test_constraint_reaches_the_lengths_and_moves_the_joints_towards_the_truth() -> None:
    rel = _walker()
    truth_lengths = bone_lengths(rel[:1], OUTPUT.parents)[0]
    noisy = _stretched(rel)
    fixed = constrain_bone_lengths(noisy, OUTPUT.parents, truth_lengths)
    np.testing.assert_allclose(
        bone_lengths(fixed, OUTPUT.parents), np.broadcast_to(truth_lengths, (40, 20)), atol=1e-4
    )
    # The joints are nearer the truth than before (after aligning the centroids, which the constraint may move);
    # only the lengths are corrected, the direction errors that the stretching put along each chain stay.
    centred = fixed - fixed.mean(axis=1, keepdims=True)
    truth_centred = rel - rel.mean(axis=1, keepdims=True)
    noisy_centred = noisy - noisy.mean(axis=1, keepdims=True)
    assert mpjpe(centred, truth_centred) < 0.85 * mpjpe(noisy_centred, truth_centred)


def test_a_pose_that_has_the_lengths_is_left_alone() -> None:
    rel = _walker(5)
    lengths = bone_lengths(rel[:1], OUTPUT.parents)[0]
    # (float32 storage makes the other frames' lengths differ from the first's by about 1e-8 m)
    np.testing.assert_allclose(constrain_bone_lengths(rel, OUTPUT.parents, lengths), rel, atol=1e-7)


def test_a_bone_of_zero_length_moves_nothing() -> None:
    # Joint 1 sits on joint 0: the bone's direction is unknown, so it keeps zero length instead of becoming nan.
    joints = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]])
    out = constrain_bone_lengths(joints, (-1, 0, 1), [1.0, 1.0])
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out[0, 2] - out[0, 1]), 1.0, atol=1e-6)


def test_constant_bone_lengths_is_root_relative_and_mirror_equivariant() -> None:
    noisy = _stretched(_walker(), seed=3)
    out = constant_bone_lengths(noisy, OUTPUT.names, OUTPUT.parents)
    np.testing.assert_array_equal(out[:, 0], 0.0)
    assert bone_length_std(noisy, OUTPUT.parents) > 0.005 and bone_length_std(out, OUTPUT.parents) < 1e-4
    lengths = bone_lengths(out[0], OUTPUT.parents)
    np.testing.assert_allclose(
        lengths, clip_bone_lengths(noisy, OUTPUT.names, OUTPUT.parents, 60.0), atol=1e-4
    )
    mirrored = constant_bone_lengths(mirror_points(noisy, OUTPUT, axis=0), OUTPUT.names, OUTPUT.parents)
    np.testing.assert_allclose(mirrored, mirror_points(out, OUTPUT, axis=0), atol=1e-12)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"expected joints \(T, 21, 3\)"):
        constrain_bone_lengths(np.zeros((5, 20, 3)), OUTPUT.parents, np.ones(20))
    with pytest.raises(ValueError, match="expected 20 bone lengths"):
        constrain_bone_lengths(np.zeros((5, 21, 3)), OUTPUT.parents, np.ones(19))
