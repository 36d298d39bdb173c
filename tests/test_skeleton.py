"""Joint sets: the BlazePose input layout, our output skeleton, mirroring."""

from __future__ import annotations

import numpy as np
import pytest

from lifting.skeleton import (
    BLAZEPOSE,
    OUTPUT,
    REQUIRED_OUTPUT_NAMES,
    JointSet,
    joint_set_by_name,
    mirror_points,
)


def test_blazepose_layout_matches_mediapipe_order() -> None:
    assert BLAZEPOSE.num_joints == 33
    # Spot checks against MediaPipe's PoseLandmark enum values.
    assert BLAZEPOSE.index["nose"] == 0
    assert BLAZEPOSE.index["left_shoulder"] == 11
    assert BLAZEPOSE.index["right_hip"] == 24
    assert BLAZEPOSE.index["right_foot_index"] == 32
    # Everything but the nose has a mirror twin: 16 pairs.
    assert len(BLAZEPOSE.mirror_pairs) == 16
    for left, right in BLAZEPOSE.mirror_pairs:
        a, b = BLAZEPOSE.names[left], BLAZEPOSE.names[right]
        assert a.replace("left", "right") == b or (a, b) == ("mouth_left", "mouth_right")


def test_blazepose_names_match_the_installed_mediapipe() -> None:
    vision = pytest.importorskip("mediapipe.tasks.python.vision")
    assert tuple(lm.name.lower() for lm in vision.PoseLandmark) == BLAZEPOSE.names


def test_output_skeleton_contains_the_contract_joints_and_is_a_tree() -> None:
    assert set(REQUIRED_OUTPUT_NAMES) <= set(OUTPUT.names)
    assert OUTPUT.parents[0] == -1 and all(p >= 0 for p in OUTPUT.parents[1:])
    assert len(OUTPUT.bones) == OUTPUT.num_joints - 1
    assert OUTPUT.names[OUTPUT.parents[OUTPUT.index["l_knee"]]] == "l_hip"
    assert OUTPUT.names[OUTPUT.parents[OUTPUT.index["r_wrist"]]] == "r_elbow"
    pairs = {(OUTPUT.names[a], OUTPUT.names[b]) for a, b in OUTPUT.mirror_pairs}
    assert ("l_toe", "r_toe") in pairs and len(pairs) == 8
    # A mirrored joint's parent is the mirror of its parent.
    perm = OUTPUT.mirror_permutation()
    for j, p in enumerate(OUTPUT.parents):
        if p >= 0:
            assert OUTPUT.parents[perm[j]] == perm[p]


@pytest.mark.parametrize("joints", [BLAZEPOSE, OUTPUT])
def test_mirroring_twice_is_the_identity(joints: JointSet) -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(4, 7, joints.num_joints, 3))
    once = mirror_points(points, joints, axis=0)
    assert not np.allclose(once, points)
    np.testing.assert_array_equal(mirror_points(once, joints, axis=0), points)


def test_mirroring_swaps_sides_and_negates_x() -> None:
    points = np.zeros((OUTPUT.num_joints, 3))
    points[OUTPUT.index["l_wrist"]] = (0.4, 1.0, 2.0)
    out = mirror_points(points, OUTPUT, axis=0)
    np.testing.assert_array_equal(out[OUTPUT.index["r_wrist"]], (-0.4, 1.0, 2.0))
    np.testing.assert_array_equal(out[OUTPUT.index["l_wrist"]], (0.0, 0.0, 0.0))
    # About a centre other than 0 (pixel coordinates of an image 100 wide: x → 100 - x).
    px = np.full((BLAZEPOSE.num_joints, 2), 10.0)
    np.testing.assert_array_equal(mirror_points(px, BLAZEPOSE, axis=0, centre=50.0)[:, 0], 90.0)


def test_joint_set_validation_and_lookup() -> None:
    with pytest.raises(ValueError, match="must come before"):
        JointSet("bad", ("a", "b"), (1, -1), ())
    with pytest.raises(ValueError, match="duplicate"):
        JointSet("bad", ("a", "a"), (-1, 0), ())
    with pytest.raises(KeyError, match="unknown joint set 'nope'"):
        joint_set_by_name("nope")
    assert joint_set_by_name("mocap21") is OUTPUT
    assert OUTPUT.indices(["pelvis", "head"]) == [0, 3]
    with pytest.raises(KeyError, match="no joint named 'tail'"):
        OUTPUT.indices(["tail"])
