"""Motion3D contract: save/load round trip, atomic writes, validation, and our joint names."""

from pathlib import Path

import numpy as np
import pytest

from retarget import mocap21
from retarget.errors import RetargetError
from retarget.motion3d import FORMAT_VERSION, Intrinsics, Motion3D


def make_motion(frames: int = 5) -> Motion3D:
    rng = np.random.default_rng(0)
    return Motion3D(
        joints=rng.normal(size=(frames, 21, 3)).astype(np.float32),
        root=rng.normal(size=(frames, 3)).astype(np.float32),
        joint_names=mocap21.NAMES,
        parents=mocap21.PARENTS,
        fps=25.0,
        intrinsics=Intrinsics(1100.0, 1000.0, 640.0, 360.0, 1280, 720),
        confidence=rng.uniform(size=(frames, 21)).astype(np.float32),
    )


def as_version(source: Path, out: Path, version: int) -> None:
    """Copy the Motion3D file `source` to `out` with its format version set to `version` (an older file: the
    fields that version lacks are simply absent when `source` was saved without them)."""
    with np.load(source) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["format_version"] = np.array(version)
    np.savez(out, **arrays)


def test_names_match_lifting_output_joint_set() -> None:
    from lifting.skeleton import OUTPUT

    assert mocap21.NAMES == OUTPUT.names
    assert mocap21.PARENTS == OUTPUT.parents
    assert mocap21.NAME == OUTPUT.name


def test_save_load_round_trip_is_exact(tmp_path: Path) -> None:
    m = make_motion()
    path = tmp_path / "clip.motion.npz"
    m.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.motion.npz"]  # no temp file left
    back = Motion3D.load(path)
    np.testing.assert_array_equal(back.joints, m.joints)
    np.testing.assert_array_equal(back.root, m.root)
    np.testing.assert_array_equal(back.confidence, m.confidence)
    assert back.joint_names == m.joint_names and back.parents == m.parents
    assert back.fps == 25.0 and back.intrinsics == m.intrinsics
    np.testing.assert_allclose(back.absolute_joints(), m.joints + m.root[:, None], atol=1e-6)


def test_contacts_round_trip_and_version_1_files_still_load(tmp_path: Path) -> None:
    from dataclasses import replace

    m = make_motion()
    contacts = np.linspace(0.0, 1.0, 20, dtype=np.float32).reshape(5, 4)
    with_contacts = replace(m, contacts=contacts)
    with_contacts.save(tmp_path / "c.motion.npz")
    back = Motion3D.load(tmp_path / "c.motion.npz")
    assert back.contacts is not None
    np.testing.assert_array_equal(back.contacts, contacts)
    m.save(tmp_path / "none.motion.npz")
    assert Motion3D.load(tmp_path / "none.motion.npz").contacts is None
    # A version 1 file (written before contacts existed) loads, without contacts.
    as_version(tmp_path / "none.motion.npz", tmp_path / "old.motion.npz", 1)
    assert Motion3D.load(tmp_path / "old.motion.npz").contacts is None
    for bad, message in ((contacts[:, :3], "shape"), (contacts * 2.0, "0..1")):
        with pytest.raises(RetargetError, match=message):
            replace(m, contacts=bad)


def test_load_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(RetargetError, match="does not exist"):
        Motion3D.load(tmp_path / "missing.motion.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(RetargetError, match="not a readable motion file"):
        Motion3D.load(tmp_path / "junk.npz")
    m = make_motion()
    fields = dict(
        format=np.array("motion3d"),
        format_version=np.array(FORMAT_VERSION + 1),
        joints=m.joints,
        root=m.root,
        joint_names=np.array(m.joint_names),
        parents=np.array(m.parents),
        fps=np.array(25.0),
        intrinsics=m.intrinsics.to_array(),
        confidence=m.confidence,
    )
    np.savez(tmp_path / "new.npz", **fields)
    with pytest.raises(RetargetError, match="version"):
        Motion3D.load(tmp_path / "new.npz")
    fields["format_version"] = np.array(FORMAT_VERSION)
    fields["root"] = m.root[:-1]
    np.savez(tmp_path / "short.npz", **fields)
    with pytest.raises(RetargetError, match="root must have shape"):
        Motion3D.load(tmp_path / "short.npz")
    del fields["confidence"]
    np.savez(tmp_path / "partial.npz", **fields)
    with pytest.raises(RetargetError, match="lacks 'confidence'"):
        Motion3D.load(tmp_path / "partial.npz")


def test_validation() -> None:
    m = make_motion()
    bad = m.joints.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(RetargetError, match="NaN"):
        Motion3D(bad, m.root, m.joint_names, m.parents, 25.0, m.intrinsics, m.confidence)
    with pytest.raises(RetargetError, match="frame rate"):
        Motion3D(m.joints, m.root, m.joint_names, m.parents, 0.0, m.intrinsics, m.confidence)
    with pytest.raises(RetargetError, match="unique"):
        Motion3D(m.joints, m.root, ("pelvis",) * 21, m.parents, 25.0, m.intrinsics, m.confidence)
    with pytest.raises(RetargetError, match="no joint 'tail'"):
        m.require(["pelvis", "tail"])
    with pytest.raises(RetargetError, match="intrinsics"):
        Intrinsics.from_array([1.0, 1.0, 0.0, 0.0, -5.0, 10.0])


def test_orientations_round_trip_and_version_2_files_still_load(tmp_path: Path) -> None:
    from dataclasses import replace

    from retarget.quaternions import matrix_to_quat
    from retarget.rotations import axis_angle_matrix

    m = make_motion()
    rot = axis_angle_matrix(np.array([0.2, 1.0, -0.3]), np.linspace(0.0, 2.0, 15)).reshape(5, 3, 3, 3)
    quats = matrix_to_quat(rot).astype(np.float32)
    names = ("head", "l_hand", "r_hand")
    with_orientations = replace(m, orientations=quats, orientation_names=names)
    with_orientations.save(tmp_path / "o.motion.npz")
    back = Motion3D.load(tmp_path / "o.motion.npz")
    assert back.orientation_names == names
    assert back.orientations is not None
    np.testing.assert_array_equal(back.orientations, quats)
    orientation = back.orientation("l_hand")
    assert orientation is not None
    np.testing.assert_array_equal(orientation, quats[:, 1])
    m.save(tmp_path / "none.motion.npz")
    plain = Motion3D.load(tmp_path / "none.motion.npz")
    assert plain.orientations is None and plain.orientation_names == () and plain.orientation("head") is None
    # A version 2 file (written before orientations existed) loads, without them.
    as_version(tmp_path / "none.motion.npz", tmp_path / "old.motion.npz", 2)
    assert Motion3D.load(tmp_path / "old.motion.npz").orientations is None
    for bad_quats, bad_names, message in (
        (quats[:, :2], names, "shape"),
        (quats * 2.0, names, "unit quaternions"),
        (quats, ("head", "l_hand", "tail"), "names"),
        (quats, ("head", "head", "r_hand"), "names"),
        (None, names, "without orientations"),
    ):
        with pytest.raises(RetargetError, match=message):
            replace(m, orientations=bad_quats, orientation_names=bad_names)


def test_fingers_round_trip_and_version_3_files_still_load(tmp_path: Path) -> None:
    from dataclasses import replace

    m = make_motion()
    t = m.num_frames
    fingers = np.linspace(-0.5, 1.5, t * 2 * 5 * 4, dtype=np.float32).reshape(t, 2, 5, 4)
    weight = np.linspace(0.0, 1.0, t * 2, dtype=np.float32).reshape(t, 2)
    replace(m, fingers=fingers, finger_weight=weight).save(tmp_path / "f.motion.npz")
    back = Motion3D.load(tmp_path / "f.motion.npz")
    assert back.fingers is not None and back.finger_weight is not None
    np.testing.assert_array_equal(back.fingers, fingers)
    np.testing.assert_array_equal(back.finger_weight, weight)
    with np.load(tmp_path / "f.motion.npz") as z:
        assert int(z["format_version"]) == 4 == FORMAT_VERSION
    m.save(tmp_path / "none.motion.npz")
    plain = Motion3D.load(tmp_path / "none.motion.npz")
    assert plain.fingers is None and plain.finger_weight is None
    # A version 3 file (written before fingers existed) loads, without them.
    as_version(tmp_path / "none.motion.npz", tmp_path / "old.motion.npz", 3)
    assert Motion3D.load(tmp_path / "old.motion.npz").fingers is None
    for bad_fingers, bad_weight, message in (
        (fingers[:, :1], weight, "shape"),
        (fingers, weight[:, :1], "shape"),
        (fingers * 10.0, weight, "within"),
        (fingers, weight * 2.0, "0..1"),
        (fingers, None, "together"),
        (None, weight, "together"),
    ):
        with pytest.raises(RetargetError, match=message):
            replace(m, fingers=bad_fingers, finger_weight=bad_weight)


def test_frames_slices_every_per_frame_array() -> None:
    from dataclasses import replace

    from retarget.quaternions import matrix_to_quat
    from retarget.rotations import axis_angle_matrix

    m = make_motion(5)
    contacts = np.linspace(0.0, 1.0, 20, dtype=np.float32).reshape(5, 4)
    rot = axis_angle_matrix(np.array([0.2, 1.0, -0.3]), np.linspace(0.0, 2.0, 15)).reshape(5, 3, 3, 3)
    m = replace(
        m,
        contacts=contacts,
        orientations=matrix_to_quat(rot).astype(np.float32),
        orientation_names=("head", "l_hand", "r_hand"),
    )
    part = m.frames(1, 4)
    assert part.num_frames == 3
    np.testing.assert_array_equal(part.joints, m.joints[1:4])
    np.testing.assert_array_equal(part.root, m.root[1:4])
    np.testing.assert_array_equal(part.confidence, m.confidence[1:4])
    np.testing.assert_array_equal(part.contacts, contacts[1:4])
    assert part.orientations is not None and m.orientations is not None
    np.testing.assert_array_equal(part.orientations, m.orientations[1:4])
    assert part.intrinsics == m.intrinsics and part.fps == m.fps and part.joint_names == m.joint_names
