"""The preview (lifting.app.preview) on the committed excerpt (60 frames, 884×496) with hand-made keypoints and a
synthetic walk: frame count and size of the MP4, the contact sheet's grid, keypoints drawn where they belong,
the right video frames for strided keypoints, the fixed 3D view, and clear errors that leave no file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from lifting.app import preview
from lifting.errors import MocapError
from lifting.skeleton import BLAZEPOSE
from lifting.video2d import video as videoio
from lifting.video2d.keypoints2d import Keypoints2D
from retarget import mocap21
from tests.support.paths import EXCERPT
from tests.support.synthetic import walking_joints

W, H = 884, 496  # the excerpt's size
LEFT_ANKLE = BLAZEPOSE.index["left_ankle"]
ANKLE_PX = (600.0, 420.0)  # where the hand-made left ankle is, in video pixels


def stick_figure() -> npt.NDArray[np.float64]:
    """(33, 2) pixels: a standing person around x = 520, the left ankle at ANKLE_PX, the right foot far from it."""
    p = {
        "nose": (520, 120),
        "left_shoulder": (550, 180),
        "right_shoulder": (490, 180),
        "left_elbow": (565, 240),
        "right_elbow": (475, 240),
        "left_wrist": (570, 290),
        "right_wrist": (470, 290),
        "left_hip": (540, 300),
        "right_hip": (500, 300),
        "left_knee": (570, 360),
        "right_knee": (480, 360),
        "left_ankle": ANKLE_PX,
        "right_ankle": (460, 420),
        "left_heel": (590, 432),
        "right_heel": (470, 432),
        "left_foot_index": (625, 438),
        "right_foot_index": (440, 438),
    }
    out = np.zeros((33, 2))
    for i, name in enumerate(BLAZEPOSE.names):
        if name in p:
            out[i] = p[name]
        else:  # face and hand landmarks: near the nose / the wrists
            side = "left" if "left" in name else "right" if "right" in name else ""
            anchor = p[f"{side}_wrist"] if name.split("_")[-1] in ("pinky", "index", "thumb") else p["nose"]
            out[i] = np.asarray(anchor) + (4 if side == "left" else -4 if side == "right" else 0)
    return out


def make_keypoints(
    frames: int = 60, stride: int = 1, undetected: tuple[int, ...] = (), low_ankle: tuple[int, ...] = ()
) -> Keypoints2D:
    """Hand-made Keypoints2D for video frames 0, stride, 2·stride, …; the figure on every frame except
    `undetected`; the left ankle's visibility 0.05 on `low_ankle` frames."""
    kp = np.repeat(stick_figure()[None], frames, axis=0).astype(np.float32)
    vis = np.full((frames, 33), 0.95, dtype=np.float32)
    vis[list(low_ankle), LEFT_ANKLE] = 0.05
    detected = np.ones(frames, dtype=bool)
    detected[list(undetected)] = False
    kp[~detected] = 0.0
    vis[~detected] = 0.0
    index = np.arange(frames, dtype=np.int64) * stride
    return Keypoints2D(
        keypoints=kp,
        visibility=vis,
        detected=detected,
        interpolated=np.zeros(frames, dtype=bool),
        frame_index=index,
        timestamps=index / 30.0,
        fps=30.0 / stride,
        image_size=(W, H),
        meta={},
    )


def walk(frames: int = 60) -> npt.NDArray[np.float64]:
    """World joints (T, 21, 3) of a walk along +Y, turned to go along +X (metres, Z up, toes on Z = 0)."""
    world, _ = walking_joints(frames)
    turn = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # +Y → +X
    return np.asarray(world @ turn.T)


def read_frames(path: Path) -> list[npt.NDArray[np.uint8]]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


def expected_size(height: int = 540) -> tuple[int, int]:
    left = 2 * round(W * height / H / 2)
    return left + height, height


def test_mp4_and_contact_sheet_have_the_expected_frames_and_sizes(tmp_path: Path) -> None:
    keypoints = make_keypoints(undetected=(20, 21))
    calls: list[float] = []
    report = preview.render_preview(
        EXCERPT,
        keypoints,
        walk(),
        mocap21.PARENTS,
        tmp_path / "out" / "clip.mp4",
        tmp_path / "out" / "clip.sheet.png",
        progress=lambda f, _: calls.append(f),
    )
    assert report.frames == 60 and report.size == expected_size() == (962 + 540, 540)
    assert report.mp4 == tmp_path / "out" / "clip.mp4" and report.sheet == tmp_path / "out" / "clip.sheet.png"
    frames = read_frames(report.mp4)
    assert len(frames) == 60
    assert all(f.shape == (540, 1502, 3) for f in frames)
    cap = cv2.VideoCapture(str(report.mp4))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(30.0)
    cap.release()
    sheet = cv2.imread(str(report.sheet))
    assert sheet is not None and sheet.shape == (3 * 270, 4 * 751, 3)  # 12 cells of half size, 4 columns
    assert calls[-1] == 1.0 and calls == sorted(calls) and len(calls) <= 101
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4", "clip.sheet.png"]


def test_contact_sheet_grid_follows_sheet_frames(tmp_path: Path) -> None:
    report = preview.render_preview(
        EXCERPT, make_keypoints(10), walk(10), mocap21.PARENTS, tmp_path / "p.mp4", tmp_path / "s.png",
        height=200, sheet_frames=5,
    )  # fmt: skip
    assert report.size == expected_size(200) == (356 + 200, 200)
    sheet = cv2.imread(str(tmp_path / "s.png"))
    assert sheet is not None and sheet.shape == (2 * 100, 4 * 278, 3)  # 5 cells: 4 + 1
    assert sheet[100:, 278:].max() == 0  # the unused cells stay black
    assert sheet[100:, :278].max() > 0
    assert len(read_frames(tmp_path / "p.mp4")) == 10


def test_keypoints_are_drawn_where_they_are_and_dimmer_when_barely_visible(tmp_path: Path) -> None:
    keypoints = make_keypoints(undetected=(12,), low_ankle=(14,))
    renderer = preview.PreviewRenderer(keypoints, walk(), mocap21.PARENTS)
    image = next(iter(videoio.frames(EXCERPT, 10, 11))).image
    sx, sy = renderer.scale
    x, y = round(ANKLE_PX[0] * sx), round(ANKLE_PX[1] * sy)
    assert (sx, sy) == pytest.approx((962 / 884, 540 / 496))
    drawn = renderer.left_panel(10, image)
    assert tuple(drawn[y, x]) == preview._dim(preview.LEFT, 0.95)  # the person's left ankle (visibility 0.95)
    dim = renderer.left_panel(14, image)
    assert tuple(dim[y, x]) == preview._dim(preview.LEFT, 0.05)
    assert int(dim[y, x].astype(int).sum()) < 0.5 * sum(preview.LEFT)
    plain = renderer.left_panel(12, image)
    assert tuple(plain[y, x]) != preview.LEFT

    # The same through the MP4 (compressed, so within a tolerance): orange at the ankle on drawn frames only.
    out = tmp_path / "p.mp4"
    preview.render_preview(EXCERPT, keypoints, walk(), mocap21.PARENTS, out)
    frames = read_frames(out)
    colour = np.array(preview.LEFT, dtype=float)

    def patch(k: int) -> npt.NDArray[np.float64]:
        return np.asarray(
            frames[k][y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(axis=0), dtype=np.float64
        )

    for k in (0, 10, 30, 59):
        assert np.abs(patch(k) - colour).max() < 50, (k, patch(k))
    assert np.abs(patch(12) - colour).max() > 100


def test_strided_keypoints_render_their_own_video_frames(tmp_path: Path) -> None:
    keypoints = make_keypoints(20, stride=3, undetected=tuple(range(20)))  # nothing drawn: the plain video
    report = preview.render_preview(EXCERPT, keypoints, walk(20), mocap21.PARENTS, tmp_path / "p.mp4")
    frames = read_frames(report.mp4)
    assert report.frames == len(frames) == 20
    video = {
        f.index: cv2.resize(f.image, (962, 540), interpolation=cv2.INTER_AREA)
        for f in videoio.frames(EXCERPT)
    }
    region = (slice(60, 300), slice(250, 480))  # the jumping person, below the labels
    for k in range(20):  # each preview frame is closest to its own video frame (of all 60)
        err = [float(np.abs(frames[k][region].astype(int) - video[i][region]).mean()) for i in range(60)]
        best, runner_up = np.argsort(err)[:2]
        assert best == 3 * k and err[best] < 0.92 * err[runner_up], (k, best, err[best], err[runner_up])


def test_the_3d_view_is_fixed_and_fits_the_whole_motion() -> None:
    world = walk()
    renderer = preview.PreviewRenderer(make_keypoints(), world, mocap21.PARENTS)
    px = renderer.pixels  # (T, J, 2) in the square 3D panel
    assert px.shape == (60, 21, 2)
    assert px.min() > 0 and px.max() < 540
    assert (renderer.depth > 0).all()
    # The walk goes 1.6 m along +X: the pelvis moves right in the panel (camera from the front-side).
    pelvis = px[:, 0]
    assert pelvis[-1, 0] - pelvis[0, 0] > 0.15 * 540
    # Fixed camera: a joint standing still projects to the same pixel whatever the frame.
    still = world.copy()
    still[:, :, :] = world[:1]
    fixed = preview.PreviewRenderer(make_keypoints(), still, mocap21.PARENTS)
    np.testing.assert_allclose(fixed.pixels[1:-1], np.broadcast_to(fixed.pixels[0], (58, 21, 2)))
    # Left limbs orange, right limbs azure, the trunk grey.
    colours = dict(zip([c for _, c in renderer.bones], renderer.bone_colours, strict=True))
    assert colours[mocap21.NAMES.index("l_knee")] == preview.LEFT
    assert colours[mocap21.NAMES.index("r_elbow")] == preview.RIGHT
    assert colours[mocap21.NAMES.index("spine")] == preview.CENTRE
    # The panel has the skeleton drawn on the grid backdrop.
    panel = renderer.right_panel(30)
    assert panel.shape == (540, 540, 3)
    ax, ay = (round(v) for v in px[30, mocap21.NAMES.index("l_ankle")])
    assert tuple(panel[ay, ax]) == preview.LEFT


def test_mismatched_inputs_raise_clear_errors(tmp_path: Path) -> None:
    keypoints = make_keypoints()
    out = tmp_path / "p.mp4"
    with pytest.raises(MocapError, match="59 frames but the keypoints have 60"):
        preview.render_preview(EXCERPT, keypoints, walk(59), mocap21.PARENTS, out)
    with pytest.raises(MocapError, match="does not fit 21 joints"):
        preview.render_preview(EXCERPT, keypoints, walk(), mocap21.PARENTS[:-1], out)
    with pytest.raises(MocapError, match="does not exist"):
        preview.render_preview(tmp_path / "missing.mp4", keypoints, walk(), mocap21.PARENTS, out)
    other = Keypoints2D(**{**keypoints.__dict__, "image_size": (W * 2, H * 2)})
    with pytest.raises(MocapError, match="detected on a 1768×992 video"):
        preview.render_preview(EXCERPT, other, walk(), mocap21.PARENTS, out)
    past_end = Keypoints2D(**{**keypoints.__dict__, "frame_index": np.arange(60, dtype=np.int64) + 5})
    with pytest.raises(MocapError, match="ended before frame 60"):
        preview.render_preview(EXCERPT, past_end, walk(), mocap21.PARENTS, out)
    assert list(tmp_path.iterdir()) == []
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    with pytest.raises(MocapError, match="cannot be created"):
        preview.render_preview(EXCERPT, keypoints, walk(), mocap21.PARENTS, blocker / "p.mp4")


def test_cancel_leaves_no_file_and_keeps_an_old_one(tmp_path: Path) -> None:
    out, sheet = tmp_path / "p.mp4", tmp_path / "p.sheet.png"
    out.write_bytes(b"the previous preview")
    checks = []

    def cancel() -> bool:
        checks.append(1)
        return len(checks) > 8

    with pytest.raises(MocapError, match="cancelled"):
        preview.render_preview(EXCERPT, make_keypoints(), walk(), mocap21.PARENTS, out, sheet, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.mp4"]
    assert out.read_bytes() == b"the previous preview"


def with_hands(keypoints: Keypoints2D, found: tuple[int, ...]) -> Keypoints2D:
    """`keypoints` with a left hand (fingers spread upwards from the wrist at (570, 290)) found on the frames
    `found`, its index fingertip clipped onto the border (visibility 0.1); the right hand never found."""
    t = keypoints.num_frames
    hand = np.zeros((21, 2))
    hand[0] = (570.0, 290.0)
    for k in range(5):  # finger k's four landmarks on a ray from the wrist
        angle = np.radians(-150.0 + 30.0 * k)
        for j in range(4):
            hand[1 + 4 * k + j] = hand[0] + (12.0 + 9.0 * j) * np.array([np.cos(angle), np.sin(angle)])
    hands = np.zeros((t, 2, 21, 2), np.float32)
    vis = np.zeros((t, 2, 21), np.float32)
    hands[list(found), 0] = hand
    vis[list(found), 0] = 1.0
    vis[list(found), 0, 8] = 0.1
    return Keypoints2D(
        **{
            **keypoints.__dict__,
            "hands": hands,
            "hands_visibility": vis,
            "hands_world": np.zeros((t, 2, 21, 3), np.float32),
            "hands_score": vis.max(axis=-1),
        }
    )


def test_hands_are_drawn_where_found(tmp_path: Path) -> None:
    keypoints = with_hands(make_keypoints(), found=(10, 30))
    assert keypoints.hands is not None
    renderer = preview.PreviewRenderer(keypoints, walk(), mocap21.PARENTS)
    image = next(iter(videoio.frames(EXCERPT, 10, 11))).image
    without = preview.PreviewRenderer(make_keypoints(), walk(), mocap21.PARENTS)
    plain = without.left_panel(10, image)
    sx, sy = renderer.scale

    def at(panel: npt.NDArray[np.uint8], landmark: int) -> tuple[int, ...]:
        assert keypoints.hands is not None
        x, y = keypoints.hands[10, 0, landmark]
        return tuple(int(v) for v in panel[round(y * sy), round(x * sx)])

    drawn = renderer.left_panel(10, image)
    for landmark in (4, 12, 16, 20):  # fingertips: on no pose landmark or bone
        assert at(drawn, landmark) == preview.HAND_LEFT, landmark
        assert at(plain, landmark) != preview.HAND_LEFT
    assert at(drawn, 8) == preview._dim(preview.HAND_LEFT, 0.1)  # the clipped fingertip, dimmer
    # A connection's middle is drawn too: the middle finger between its second and third landmarks.
    mid = (keypoints.hands[10, 0, 10] + keypoints.hands[10, 0, 11]) / 2
    line = drawn[round(mid[1] * sy), round(mid[0] * sx)].astype(int)
    assert np.abs(line - np.array(preview.HAND_LEFT)).max() < 25  # antialiased
    assert np.abs(plain[round(mid[1] * sy), round(mid[0] * sx)] - np.array(preview.HAND_LEFT)).max() > 60
    # Frames where the hand was not found show none; the right hand, never found, nowhere.
    np.testing.assert_array_equal(renderer.left_panel(11, image), without.left_panel(11, image))
    assert not (drawn == np.array(preview.HAND_RIGHT, np.uint8)).all(axis=-1).any()
    # The contact sheet holds the hand on the picked frame (30 of 0..59 with sheet_frames=3: 0, 30, 59) only.
    sheets = []
    for name, kp in (("hands", keypoints), ("plain", make_keypoints())):
        report = preview.render_preview(
            EXCERPT,
            kp,
            walk(),
            mocap21.PARENTS,
            tmp_path / f"{name}.mp4",
            tmp_path / f"{name}.png",
            sheet_frames=3,
        )
        sheets.append(cv2.imread(str(report.sheet)).astype(int))
    cw = round(report.size[0] * preview.SHEET_SCALE)
    changed = (np.abs(sheets[0] - sheets[1]).max(axis=-1) > 30).reshape(sheets[0].shape[0], 3, cw)
    assert changed[:, 1].sum() > 30 and not changed[:, 0].any() and not changed[:, 2].any()
    ys, xs = np.nonzero(changed[:, 1])  # around the hand: wrist at (570, 290), fingers up to 39 px out
    hx, hy = 570 * sx * preview.SHEET_SCALE, 290 * sy * preview.SHEET_SCALE
    assert np.abs(xs - hx).max() < 25 and np.abs(ys - hy).max() < 25
