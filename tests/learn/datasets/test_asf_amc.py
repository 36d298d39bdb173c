"""ASF/AMC parsing and forward kinematics against hand-computed poses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lifting.errors import MocapError
from lifting.learn.datasets.asf_amc import euler_matrix, forward_kinematics, parse_amc, parse_asf

# A root and a two-bone chain. `arm`'s local frame C is the world turned 90° about z (axis 0 0 90 XYZ), so its
# dof rx rotates about C·x = world +y; `hand` continues along +x with a length dof-free bone.
ASF = """# test skeleton
:version 1.10
:name test
:units
  mass 1.0
  length 0.45
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name arm
     direction 1 0 0
     length 2.0
     axis 0 0 90 XYZ
    dof rx
    limits (-180.0 180.0)
  end
  begin
     id 2
     name hand
     direction 1 0 0
     length 1.0
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root arm
    arm hand
  end
"""

AMC = """#!OML:ASF test.asf
:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
arm 90
2
root 0 0 0 0 0 90
arm 0
"""


def test_parse_asf_reads_units_bones_and_hierarchy() -> None:
    sk = parse_asf(ASF)
    assert sk.names == ("root", "arm", "hand")
    assert sk.parents == (-1, 0, 1)
    assert sk.metres_per_unit == pytest.approx(0.0254 / 0.45)
    assert sk.bones[0].dofs == ("rx",) and sk.bones[1].dofs == ()
    assert sk.bones[0].axis == (0.0, 0.0, 90.0)
    np.testing.assert_allclose(sk.rest_ends(), [[0, 0, 0], [2, 0, 0], [3, 0, 0]])


def test_fk_of_known_frames() -> None:
    sk = parse_asf(ASF)
    motion = parse_amc(AMC, sk)
    assert motion.num_frames == 2
    pose = forward_kinematics(sk, motion)
    # Frame 1: root at (1, 2, 3); arm rotated +90° about world y (C·Rx(90)·C⁻¹ with C = Rz(90)), which takes
    # +x to -z; the hand has no dof and follows the arm.
    np.testing.assert_allclose(pose.ends[0], [[1, 2, 3], [1, 2, 1], [1, 2, 0]], atol=1e-12)
    # Frame 2: root turned +90° about z takes the rest chain along +x to +y.
    np.testing.assert_allclose(pose.ends[1], [[0, 0, 0], [0, 2, 0], [0, 3, 0]], atol=1e-12)
    np.testing.assert_allclose(
        pose.rotations[1, 2], Rotation.from_euler("z", 90, degrees=True).as_matrix(), atol=1e-12
    )


def test_euler_matrix_matches_scipy_extrinsic_order() -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(-np.pi, np.pi, size=(5, 3))
    for order in ("xyz", "zyx", "yzx"):
        expected = Rotation.from_euler(order, angles).as_matrix()  # lower case: extrinsic, first letter first
        np.testing.assert_allclose(euler_matrix(angles, order), expected, atol=1e-12)


def test_fk_preserves_bone_lengths_and_rest_for_random_motion() -> None:
    sk = parse_asf(ASF)
    rng = np.random.default_rng(1)
    lines = []
    for t in range(1, 11):
        root = rng.uniform(-90, 90, size=6)
        lines += [str(t), "root " + " ".join(f"{v:.6f}" for v in root), f"arm {rng.uniform(-170, 170):.6f}"]
    motion = parse_amc(":FULLY-SPECIFIED\n:DEGREES\n" + "\n".join(lines), sk)
    pose = forward_kinematics(sk, motion)
    for j, parent in enumerate(sk.parents):
        if parent >= 0:
            length = np.linalg.norm(pose.ends[:, j] - pose.ends[:, parent], axis=-1)
            np.testing.assert_allclose(length, sk.bones[j - 1].length, rtol=1e-12)
    det = np.linalg.det(pose.rotations)
    np.testing.assert_allclose(det, 1.0, atol=1e-12)
    zero = parse_amc("1\nroot 0 0 0 0 0 0\narm 0\n", sk)
    np.testing.assert_allclose(forward_kinematics(sk, zero).ends[0], sk.rest_ends(), atol=1e-12)


def test_amc_line_fallback_matches_vectorised_parse() -> None:
    sk = parse_asf(ASF)
    # Bones listed in another order in frame 2: the vectorised layout check fails and the line parser runs.
    text = "1\nroot 1 2 3 0 0 0\narm 90\n2\narm 0\nroot 0 0 0 0 0 90\n"
    fallback = forward_kinematics(sk, parse_amc(text, sk))
    np.testing.assert_allclose(fallback.ends, forward_kinematics(sk, parse_amc(AMC, sk)).ends, atol=1e-12)


def test_radians_amc() -> None:
    sk = parse_asf(ASF)
    text = ":RADIANS\n1\nroot 0 0 0 0 0 0\narm " + repr(np.pi / 2) + "\n"
    np.testing.assert_allclose(forward_kinematics(sk, parse_amc(text, sk)).ends[0, 1], [0, 0, -2], atol=1e-12)


def test_bad_files_raise_mocap_error() -> None:
    with pytest.raises(MocapError):
        parse_asf("just text")
    sk = parse_asf(ASF)
    with pytest.raises(MocapError):
        parse_amc("1\nroot 0 0 0 0 0 0\nleg 3\n", sk)
    with pytest.raises(MocapError):
        parse_amc(":DEGREES\n", sk)
