"""Rest skeletons in Blender's conventions, checked against matrices Blender itself stored."""

import json

import numpy as np
import pytest

from retarget.errors import RetargetError
from retarget.rest_skeleton import RestSkeleton, bone_matrix, matrix_roll
from tests.support.paths import RIGS


def test_bone_matrix_matches_blender_arm_mat() -> None:
    """Blender wrote head, tail, roll and the resulting matrix for 141 bones of the Mesh2Motion rig."""
    data = json.loads((RIGS / "mesh2motion_human.json").read_text())
    worst = 0.0
    for b in data["bones"]:
        m = bone_matrix(b["head"], b["tail"], b["roll"])
        worst = max(worst, float(np.abs(m - np.array(b["matrix"])).max()))
        assert abs(np.angle(np.exp(1j * (matrix_roll(m) - b["roll"])))) < 1e-5
    assert worst < 1e-4


def test_y_axis_runs_along_the_bone_and_roll_turns_x() -> None:
    m0 = bone_matrix([0, 0, 0], [0, 0, 2], 0.0)
    m1 = bone_matrix([0, 0, 0], [0, 0, 2], np.pi / 2)
    np.testing.assert_allclose(m0[:3, 1], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(m0[:3, 0], [1, 0, 0], atol=1e-12)  # Blender: a bone pointing up has X = +X
    np.testing.assert_allclose(m1[:3, 0], [0, 1, 0], atol=1e-12)  # checked against Blender-written data above
    down = bone_matrix([0, 0, 0], [0, 0, -1], 0.3)
    np.testing.assert_allclose(matrix_roll(down), 0.3, atol=1e-9)
    along_minus_y = bone_matrix([0, 0, 0], [0, -1, 0], 0.0)  # the singular direction
    np.testing.assert_allclose(along_minus_y[:3, 1], [0, -1, 0], atol=1e-12)


def test_from_bones_sorts_parents_first_and_round_trips_json() -> None:
    names = ["hand", "arm", "root"]
    parents = ["arm", "root", None]
    heads = np.array([[2.0, 0, 0], [1.0, 0, 0], [0.0, 0, 0]])
    tails = heads + np.array([1.0, 0, 0])
    rest = RestSkeleton.from_head_tail_roll(names, parents, heads, tails, [0.1, 0.2, 0.3])
    assert rest.names == ("root", "arm", "hand")
    assert rest.parents == (-1, 0, 1)
    again = RestSkeleton.from_dict(json.loads(json.dumps(rest.to_dict())))
    np.testing.assert_allclose(again.matrices, rest.matrices, atol=1e-12)
    np.testing.assert_allclose(again.rolls(), [0.3, 0.2, 0.1], atol=1e-9)
    np.testing.assert_allclose(rest.tails[2], [3.0, 0, 0], atol=1e-12)


def test_errors_are_clear() -> None:
    with pytest.raises(RetargetError, match="zero length"):
        bone_matrix([0, 0, 0], [0, 0, 0], 0.0)
    with pytest.raises(RetargetError, match="cycle"):
        RestSkeleton.from_bones(["a", "b"], ["b", "a"], np.broadcast_to(np.eye(4), (2, 4, 4)), [1.0, 1.0])
    with pytest.raises(RetargetError, match="unknown parent"):
        RestSkeleton.from_bones(["a"], ["x"], np.eye(4)[None], [1.0])
    with pytest.raises(RetargetError, match="no bone named"):
        RestSkeleton.from_bones(["a"], [None], np.eye(4)[None], [1.0]).bone("b")
    with pytest.raises(RetargetError, match="scaled"):
        RestSkeleton(("a",), (-1,), np.diag([2.0, 1, 1, 1])[None], np.ones(1))
