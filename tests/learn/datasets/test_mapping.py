"""Source skeleton → output joints, segment frames and virtual MediaPipe landmarks."""

from __future__ import annotations

import numpy as np
import pytest

from lifting.landmarks import FACE_OFFSETS, HIP_OFFSET
from lifting.learn.datasets.asf_amc import forward_kinematics, parse_amc, parse_asf
from lifting.learn.datasets.landmarks import virtual_landmarks
from lifting.learn.datasets.mapping import (
    ASF_HEAD_CENTRE,
    J20_NECK_FRACTION,
    NOSE_OFFSET,
    WRIST_SHARE,
    Y_UP_TO_Z_UP,
    BodyPose,
    body_from_asf,
    body_from_joints20,
    foot_axes,
    hand_axes,
    head_axes,
)
from lifting.learn.synthetic import random_motion
from lifting.skeleton import BLAZEPOSE, OUTPUT, mirror_points

# A CMU-style skeleton in a clean T-pose (Y up, facing +Z, left = +X), lengths in file units (0.45 → 5.6 cm).
_BONES = [
    # name, direction, length, axis, dofs
    ("lhipjoint", (0.5, -0.8, 0.3), 2.0, (0, 0, 0), ""),
    ("lfemur", (0, -1, 0), 7.0, (0, 0, 20), "rx ry rz"),
    ("ltibia", (0, -1, 0), 7.0, (0, 0, 20), "rx"),
    ("lfoot", (0, -0.4, 0.9), 2.3, (-90, 0, 20), "rx rz"),
    ("ltoes", (0, 0, 1), 1.2, (-90, 0, 20), "rx"),
    ("rhipjoint", (-0.5, -0.8, 0.3), 2.0, (0, 0, 0), ""),
    ("rfemur", (0, -1, 0), 7.0, (0, 0, -20), "rx ry rz"),
    ("rtibia", (0, -1, 0), 7.0, (0, 0, -20), "rx"),
    ("rfoot", (0, -0.4, 0.9), 2.3, (-90, 0, -20), "rx rz"),
    ("rtoes", (0, 0, 1), 1.2, (-90, 0, -20), "rx"),
    ("lowerback", (0, 1, 0), 2.2, (0, 0, 0), "rx ry rz"),
    ("upperback", (0, 1, 0), 2.2, (0, 0, 0), "rx ry rz"),
    ("thorax", (0, 1, 0), 2.2, (0, 0, 0), "rx ry rz"),
    ("lowerneck", (0, 1, 0), 1.7, (0, 0, 0), "rx ry rz"),
    ("upperneck", (0, 1, 0), 1.7, (0, 0, 0), "rx ry rz"),
    ("head", (0, 1, 0), 1.8, (0, 0, 0), "rx ry rz"),
    ("lclavicle", (0.95, 0.25, 0), 3.8, (0, 0, 0), "ry rz"),
    ("lhumerus", (1, 0, 0), 4.8, (0, 0, 0), "rx ry rz"),
    ("lradius", (1, 0, 0), 3.0, (0, 0, 0), "rx"),
    ("lwrist", (1, 0, 0), 1.5, (0, 0, 0), "ry"),
    ("lhand", (1, 0, 0), 1.3, (0, 0, 0), "rx rz"),
    ("lthumb", (0.7, 0, 0.7), 1.5, (0, 0, 0), "rx rz"),
    ("rclavicle", (-0.95, 0.25, 0), 3.8, (0, 0, 0), "ry rz"),
    ("rhumerus", (-1, 0, 0), 4.8, (0, 0, 0), "rx ry rz"),
    ("rradius", (-1, 0, 0), 3.0, (0, 0, 0), "rx"),
    ("rwrist", (-1, 0, 0), 1.5, (0, 0, 0), "ry"),
    ("rhand", (-1, 0, 0), 1.3, (0, 0, 0), "rx rz"),
    ("rthumb", (-0.7, 0, 0.7), 1.5, (0, 0, 0), "rx rz"),
]
_HIERARCHY = """root lhipjoint rhipjoint lowerback
lhipjoint lfemur
lfemur ltibia
ltibia lfoot
lfoot ltoes
rhipjoint rfemur
rfemur rtibia
rtibia rfoot
rfoot rtoes
lowerback upperback
upperback thorax
thorax lowerneck lclavicle rclavicle
lowerneck upperneck
upperneck head
lclavicle lhumerus
lhumerus lradius
lradius lwrist
lwrist lhand lthumb
rclavicle rhumerus
rhumerus rradius
rradius rwrist
rwrist rhand rthumb"""


def _asf() -> str:
    bones = []
    for i, (name, d, length, axis, dofs) in enumerate(_BONES, start=1):
        dof = f"\n    dof {dofs}" if dofs else ""
        bones.append(
            f"  begin\n    id {i}\n    name {name}\n    direction {d[0]} {d[1]} {d[2]}\n    length {length}\n"
            f"    axis {axis[0]} {axis[1]} {axis[2]} XYZ{dof}\n  end"
        )
    return (
        ":version 1.10\n:name tpose\n:units\n  mass 1.0\n  length 0.45\n  angle deg\n:root\n"
        "   order TX TY TZ RX RY RZ\n   axis XYZ\n   position 0 0 0\n   orientation 0 0 0\n:bonedata\n"
        + "\n".join(bones)
        + "\n:hierarchy\n  begin\n"
        + _HIERARCHY
        + "\n  end\n"
    )


def _amc(head: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> str:
    lines = ["1", "root 0 20 0 0 0 0", f"head {head[0]} {head[1]} {head[2]}"]
    return ":FULLY-SPECIFIED\n:DEGREES\n" + "\n".join(lines) + "\n"


def _tpose_body(head: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> BodyPose:
    sk = parse_asf(_asf())
    return body_from_asf(sk, forward_kinematics(sk, parse_amc(_amc(head), sk)))


def test_asf_tpose_maps_to_output_joints_and_frames() -> None:
    body = _tpose_body()
    j = body.joints[0]
    i = OUTPUT.index
    unit = 0.0254 / 0.45
    # Facing -Y in the Z-up world, left side at +X.
    assert j[i["l_hip"], 0] > 0 > j[i["r_hip"], 0]
    np.testing.assert_allclose(j[i["pelvis"]], (j[i["l_hip"]] + j[i["r_hip"]]) / 2)
    # spine: between the lowerback end (2.2 up) and upperback end (4.4 up); neck: lowerneck end (8.3 up).
    root_z = 20 * unit
    assert j[i["spine"], 2] == pytest.approx(root_z + 3.3 * unit)
    assert j[i["neck"], 2] == pytest.approx(root_z + 8.3 * unit)
    head_expected = np.array([0.0, -ASF_HEAD_CENTRE[1], root_z + 10.0 * unit + ASF_HEAD_CENTRE[2]])
    np.testing.assert_allclose(j[i["head"]], head_expected, atol=1e-12)
    np.testing.assert_allclose(
        j[i["nose"]], head_expected + np.array([0, -NOSE_OFFSET[1], NOSE_OFFSET[2]]), atol=1e-12
    )
    # Wrist = lwrist end, hand = lhand end, toe = toes end (the T-pose arm runs along +x).
    shoulder_x = 0.95 / np.linalg.norm([0.95, 0.25]) * 3.8 * unit
    assert j[i["l_wrist"], 0] == pytest.approx(shoulder_x + 9.3 * unit)
    assert j[i["l_hand"], 0] == pytest.approx(shoulder_x + 10.6 * unit)
    # Frames in the T-pose: head (left, forward, up) = (+x, -y, +z); left hand distal +x, thumb forward (-y),
    # palm down; right hand distal -x, thumb forward, palm down; feet anterior -y, superior +z, lateral outwards.
    np.testing.assert_allclose(body.head_frame[0], [[1, 0, 0], [0, -1, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(body.hand_frames[0, 0], [[1, 0, 0], [0, -1, 0], [0, 0, -1]], atol=1e-12)
    np.testing.assert_allclose(body.hand_frames[0, 1], [[-1, 0, 0], [0, -1, 0], [0, 0, -1]], atol=1e-12)
    np.testing.assert_allclose(body.foot_frames[0, 0], [[0, 0, 1], [-1, 0, 0], [0, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(body.foot_frames[0, 1], [[0, 0, -1], [-1, 0, 0], [0, 1, 0]], atol=1e-12)


def test_head_rotation_turns_the_face() -> None:
    # AMC head ry = +90 turns the head about the (Y-up) vertical: forward (+Z) goes to +X, the person's left.
    body = _tpose_body(head=(0.0, 90.0, 0.0))
    i = OUTPUT.index
    j = body.joints[0]
    nose_dir = j[i["nose"]] - j[i["head"]]
    assert nose_dir[0] == pytest.approx(NOSE_OFFSET[1], abs=1e-9)
    lm = virtual_landmarks(body)[0]
    li = BLAZEPOSE.index
    # The left ear now points backwards (+y in the Z-up world, the person faces -y).
    assert lm[li["left_ear"], 1] - j[i["head"], 1] == pytest.approx(FACE_OFFSETS["left_ear"][0], abs=1e-9)


def test_tpose_landmarks_sit_where_mediapipe_puts_them() -> None:
    body = _tpose_body()
    lm = virtual_landmarks(body)[0]
    j = body.joints[0]
    li, i = BLAZEPOSE.index, OUTPUT.index
    for side, s in (("left", "l"), ("right", "r")):
        sign = 1.0 if s == "l" else -1.0
        for part in ("shoulder", "elbow", "wrist", "knee", "ankle"):
            np.testing.assert_array_equal(lm[li[f"{side}_{part}"]], j[i[f"{s}_{part}"]])
        np.testing.assert_array_equal(lm[li[f"{side}_foot_index"]], j[i[f"{s}_toe"]])
        # Hips: outwards along the hip line and up along the (slightly back-tilted) pelvis → spine axis.
        hip = lm[li[f"{side}_hip"]] - j[i[f"{s}_hip"]]
        assert hip[0] == pytest.approx(sign * HIP_OFFSET[0])
        assert np.linalg.norm(hip) == pytest.approx(np.linalg.norm(HIP_OFFSET))
        assert hip[2] > 0.9 * HIP_OFFSET[2]
        heel = lm[li[f"{side}_heel"]] - j[i[f"{s}_ankle"]]
        assert heel[1] > 0.04 and heel[2] < -0.02  # behind (+y) and below the ankle
        eye = lm[li[f"{side}_eye"]]
        assert sign * eye[0] > 0.02 and eye[1] < j[i["head"], 1] - 0.05  # on its side, in front of the head
        # Hand points beyond the wrist along the arm; index and thumb forward (-y) of the pinky (palms down).
        for part in ("index", "pinky", "thumb"):
            assert sign * (lm[li[f"{side}_{part}"], 0] - j[i[f"{s}_wrist"], 0]) > 0.04
        assert lm[li[f"{side}_index"], 1] < lm[li[f"{side}_pinky"], 1]
        assert lm[li[f"{side}_thumb"], 2] < j[i[f"{s}_wrist"], 2]  # palmar offset: below a palm-down hand


def _random_frames(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((*shape, 3, 3)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def test_landmarks_of_mirrored_body_are_mirrored_landmarks() -> None:
    rng = np.random.default_rng(3)
    t = 7
    body = BodyPose(
        joints=rng.normal(size=(t, 21, 3)),
        head_frame=_random_frames(rng, (t,)),
        hand_frames=_random_frames(rng, (t, 2)),
        foot_frames=_random_frames(rng, (t, 2)),
    )
    lm = virtual_landmarks(body)
    np.testing.assert_allclose(virtual_landmarks(body.mirrored()), mirror_points(lm, BLAZEPOSE), atol=1e-12)
    np.testing.assert_allclose(body.mirrored().mirrored().joints, body.joints)
    # The same holds through the real mapping, starting from a mirrored skeleton.
    real = _tpose_body(head=(10.0, 30.0, -5.0))
    np.testing.assert_allclose(
        virtual_landmarks(real.mirrored()), mirror_points(virtual_landmarks(real), BLAZEPOSE), atol=1e-12
    )


def _joints20_from_motion(rng: np.random.Generator, frames: int = 40) -> np.ndarray:
    """Plausible 20-joint arrays (Z up, metres, left chains first) from lifting.learn.synthetic's random motion."""
    m = random_motion(rng, frames, fps=30.0)
    i = OUTPUT.index
    g = lambda n: m[:, i[n]]  # noqa: E731
    out = np.zeros((frames, 20, 3))
    out[:, 0] = g("pelvis") + np.array([0, 0, 0.08])
    out[:, 1] = g("neck") - np.array([0, 0, 0.05])
    out[:, 2] = g("head") - np.array([0, 0, 0.02])
    out[:, 3] = g("head") + np.array([0, -0.03, 0.08])
    for k, s in ((4, "l"), (8, "r")):
        out[:, k] = g(f"{s}_shoulder")
        out[:, k + 1] = g(f"{s}_elbow")
        out[:, k + 2] = g(f"{s}_elbow") + 0.66 * (g(f"{s}_wrist") - g(f"{s}_elbow"))
        out[:, k + 3] = g(f"{s}_hand")
    for k, s in ((12, "l"), (16, "r")):
        out[:, k : k + 4] = np.stack([g(f"{s}_hip"), g(f"{s}_knee"), g(f"{s}_ankle"), g(f"{s}_toe")], axis=1)
    return out


def test_joints20_mapping_rules() -> None:
    rng = np.random.default_rng(5)
    p = _joints20_from_motion(rng)
    body = body_from_joints20(p)
    j = body.joints
    i = OUTPUT.index
    np.testing.assert_allclose(j[:, i["spine"]], (p[:, 0] + p[:, 1]) / 2)
    np.testing.assert_allclose(j[:, i["neck"]], p[:, 1] + J20_NECK_FRACTION * (p[:, 2] - p[:, 1]))
    np.testing.assert_array_equal(j[:, i["l_hand"]], p[:, 7])
    np.testing.assert_array_equal(j[:, i["r_toe"]], p[:, 19])
    # Wrist: on the forearm line past the radius end by WRIST_SHARE of the radius-end → hand-end distance.
    forearm = (p[:, 6] - p[:, 5]) / np.linalg.norm(p[:, 6] - p[:, 5], axis=-1, keepdims=True)
    reach = WRIST_SHARE * np.linalg.norm(p[:, 7] - p[:, 6], axis=-1, keepdims=True)
    np.testing.assert_allclose(j[:, i["l_wrist"]], p[:, 6] + reach * forearm)
    # Head frame: up along upperneck → head end, left towards the left shoulder.
    up = (p[:, 3] - p[:, 2]) / np.linalg.norm(p[:, 3] - p[:, 2], axis=-1, keepdims=True)
    np.testing.assert_allclose(body.head_frame[..., 2], up, atol=1e-12)
    assert np.all(np.sum(body.head_frame[..., 0] * (p[:, 4] - p[:, 8]), axis=-1) > 0)
    for frames in (body.head_frame, body.hand_frames, body.foot_frames):
        gram = np.swapaxes(frames, -1, -2) @ frames
        np.testing.assert_allclose(gram, np.broadcast_to(np.eye(3), gram.shape), atol=1e-9)


def test_joints20_landmarks_mirror_with_the_skeleton() -> None:
    p = _joints20_from_motion(np.random.default_rng(6))
    swap = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15]
    mirrored = p[:, swap] * [-1.0, 1.0, 1.0]
    lm = virtual_landmarks(body_from_joints20(p))
    np.testing.assert_allclose(
        virtual_landmarks(body_from_joints20(mirrored)), mirror_points(lm, BLAZEPOSE), atol=1e-12
    )


def test_frame_helpers_follow_the_body_conventions() -> None:
    up, fwd, left = np.array([0, 0, 1.0]), np.array([0, -1.0, 0]), np.array([1.0, 0, 0])
    np.testing.assert_allclose(head_axes(up, left + 0.3 * up), np.stack([left, fwd, up], axis=-1), atol=1e-12)
    # Left hand hanging: distal down, thumb forward → palm faces the body's right (-x); right hand mirrors.
    np.testing.assert_allclose(hand_axes(-up, fwd, 1)[:, 2], -left, atol=1e-12)
    np.testing.assert_allclose(hand_axes(-up, fwd, -1)[:, 2], left, atol=1e-12)
    np.testing.assert_allclose(foot_axes(fwd, up, 1)[:, 2], left, atol=1e-12)
    np.testing.assert_allclose(foot_axes(fwd, up, -1)[:, 2], -left, atol=1e-12)
    # Y-up → Z-up is a proper rotation taking +Y to +Z and +Z to -Y.
    assert np.linalg.det(Y_UP_TO_Z_UP) == pytest.approx(1.0)
    np.testing.assert_allclose(Y_UP_TO_Z_UP @ [0, 1, 0], [0, 0, 1])
    np.testing.assert_allclose(Y_UP_TO_Z_UP @ [0, 0, 1], [0, -1, 0])
