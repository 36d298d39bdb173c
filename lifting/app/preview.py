"""A preview of a capture: the video with its 2D keypoints beside the 3D skeleton, as an MP4 and a contact sheet.

Each output frame has two panels of the same height:

- **left**: the video frame (scaled to `height`) with the subject's BlazePose skeleton drawn on it; frames
  without the subject say "no person", frames filled across a short gap say "interpolated", and landmarks with
  low visibility are drawn dimmer; when the keypoints carry hands (`Keypoints2D.hands`, detection with hands on),
  each hand found on the frame is drawn over it, its 21 landmarks and their connections (`HAND_CONNECTIONS`)
  in a lighter shade of its side's colour, landmarks clipped onto the picture's border dimmer;
- **right** (square): the 3D skeleton (world joints, metres, Z up, floor Z = 0, as `retarget.placement` puts
  them) seen by a fixed virtual camera from the side of the filming camera (world -Y), turned 35° about the
  vertical and raised 22°, over a floor grid of 1 m cells around the motion; the person's left limbs are orange,
  right limbs azure (as in the left panel), the pelvis leaves a short trail on the floor and feet touching the
  floor are marked. The camera and its scale are fitted once to the whole motion, so movement through the scene
  shows as movement in the panel.

The video is streamed (`lifting.video2d.video`, the same frames, order and rotation as detection) and only the frames the
keypoints were detected on (`keypoints.frame_index`) are rendered, one at a time. Everything is drawn with OpenCV
and written with `cv2.VideoWriter` ('mp4v') at the keypoints' frame rate, to a temporary file in the output
folder that replaces the target only when complete; the contact sheet (`sheet_frames` evenly spaced frames in a
grid of `SHEET_COLUMNS` columns, each at `SHEET_SCALE` of the full size and labelled with its video frame number)
likewise.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from lifting.progress import Cancel, Cancelled, Progress, as_cancel
from lifting.skeleton import BLAZEPOSE, OUTPUT
from lifting.video2d import video as videoio
from lifting.video2d.keypoints2d import Keypoints2D
from retarget.atomic_write import atomic_write
from retarget.hand_model import FINGER_LANDMARKS, INDEX_BASE, PINKY_BASE, WRIST

FloatArray = npt.NDArray[np.float64]
ImageU8 = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]

SHEET_COLUMNS = 4
SHEET_SCALE = 0.5  # contact-sheet cell size, as a fraction of the preview frame
MIN_HEIGHT = 64
VIEW_AZIMUTH_DEG = 35.0  # virtual camera: turned from the filming camera's side (world -Y) about Z ...
VIEW_ELEVATION_DEG = 22.0  # ... and raised above the floor
VIEW_FOV_DEG = 40.0
TRAIL_SECONDS = 1.5  # length of the pelvis trail on the floor
CONTACT_HEIGHT = 0.05  # metres: a toe or ankle this close to the floor is marked as touching it
NEAR = 0.05  # metres: grid lines are clipped to this distance in front of the virtual camera

# BGR colours: the person's left side orange, right side azure, centre line light grey.
LEFT: Colour = (0, 140, 255)
RIGHT: Colour = (255, 170, 30)
CENTRE: Colour = (235, 235, 235)
BACKGROUND: Colour = (34, 34, 34)
GRID: Colour = (88, 88, 88)
TRAIL: Colour = (120, 220, 120)
CONTACT: Colour = (80, 230, 80)
WARNING: Colour = (60, 60, 235)
TEXT: Colour = (255, 255, 255)
HAND_LEFT: Colour = (120, 210, 255)  # the hands: lighter shades of their side's colour
HAND_RIGHT: Colour = (255, 215, 130)

# MediaPipe Pose's landmark connections (mediapipe.tasks.python.vision.PoseLandmarksConnections), BlazePose indices.
BLAZEPOSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24),
    (23, 25), (25, 27), (27, 29), (29, 31), (27, 31),
    (24, 26), (26, 28), (28, 30), (30, 32), (28, 32),
)  # fmt: skip
# MediaPipe's hand landmark connections (mediapipe.tasks.python.vision.HandLandmarksConnections, 21): along each
# finger, the wrist to the thumb's, index's and little finger's bases, and the knuckles' line.
_KNUCKLES = (INDEX_BASE, *(FINGER_LANDMARKS[f][0] for f in ("middle", "ring")), PINKY_BASE)
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    *(pair for chain in FINGER_LANDMARKS.values() for pair in itertools.pairwise(chain)),
    (WRIST, FINGER_LANDMARKS["thumb"][0]),
    (WRIST, INDEX_BASE),
    (WRIST, PINKY_BASE),
    *itertools.pairwise(_KNUCKLES),
)


@dataclass(frozen=True)
class PreviewReport:
    """What `render_preview` wrote: frames in the MP4, its path, the contact sheet's path (None when not
    asked for), and the frame size (width, height) in pixels."""

    frames: int
    mp4: Path
    sheet: Path | None
    size: tuple[int, int]


def _side_colour(name: str) -> Colour:
    if name.startswith(("left", "l_")) or name == "mouth_left":
        return LEFT
    if name.startswith(("right", "r_")) or name == "mouth_right":
        return RIGHT
    return CENTRE


def _dim(colour: Colour, visibility: float) -> Colour:
    """The colour at full strength for visibility 1, down to 30% for visibility 0."""
    f = 0.3 + 0.7 * min(max(float(visibility), 0.0), 1.0)
    b, g, r = colour
    return (round(b * f), round(g * f), round(r * f))


def _pt(p: npt.ArrayLike) -> tuple[int, int]:
    x, y = np.clip(np.asarray(p, dtype=np.float64), -1e6, 1e6)
    return (round(float(x)), round(float(y)))


def _pts(points: npt.ArrayLike) -> list[tuple[int, int]]:
    """Pixel positions (N, 2) as integer points for OpenCV (far-off values clamped)."""
    rounded = np.rint(np.clip(np.asarray(points, dtype=np.float64), -1e6, 1e6)).astype(np.int64)
    return [(int(x), int(y)) for x, y in rounded.tolist()]


def fit_image(image: ImageU8, size: tuple[int, int]) -> ImageU8:
    """`image` resized to `size` (w, h): halved with a Gaussian pyramid while at least twice too large, then
    bilinear (as smooth as INTER_AREA for a preview, several times faster at non-integer factors)."""
    w, h = size
    while image.shape[0] >= 2 * h and image.shape[1] >= 2 * w:
        image = np.asarray(cv2.pyrDown(image), dtype=np.uint8)
    if (image.shape[1], image.shape[0]) == (w, h):
        return np.ascontiguousarray(image)
    return np.ascontiguousarray(cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.uint8)


@dataclass(frozen=True)
class ViewCamera:
    """A pinhole camera in the world: `rotation` (3, 3) rows are its right, down and forward axes in world
    coordinates, `position` (3,) metres, `focal` and `centre` (cx, cy) in pixels of a `size` × `size` panel."""

    rotation: FloatArray
    position: FloatArray
    focal: float
    centre: tuple[float, float]
    size: int

    def to_camera(self, points: npt.ArrayLike) -> FloatArray:
        """World points (..., 3) → camera coordinates (..., 3): x right, y down, z forward (metres)."""
        p = np.asarray(points, dtype=np.float64)
        return np.asarray((p - self.position) @ self.rotation.T, dtype=np.float64)

    def project_camera(self, cam: npt.ArrayLike) -> FloatArray:
        """Camera coordinates (..., 3) with z > 0 → pixels (..., 2)."""
        c = np.asarray(cam, dtype=np.float64)
        z = np.maximum(c[..., 2:3], 1e-9)
        return np.asarray(c[..., :2] / z * self.focal + np.array(self.centre), dtype=np.float64)

    def project(self, points: npt.ArrayLike) -> FloatArray:
        """World points (..., 3) → pixels (..., 2) (points must be in front of the camera)."""
        return self.project_camera(self.to_camera(points))


def fit_view(
    world_joints: npt.ArrayLike,
    size: int,
    azimuth_deg: float = VIEW_AZIMUTH_DEG,
    elevation_deg: float = VIEW_ELEVATION_DEG,
    fov_deg: float = VIEW_FOV_DEG,
) -> ViewCamera:
    """The fixed camera that keeps every joint of the clip (T, J, 3, metres, Z up) inside a `size`-pixel square.

    It looks at the centre of the motion's bounding box from world -Y turned `azimuth_deg` about Z (towards +X)
    and raised `elevation_deg`, far enough away that the bounding sphere of all joints fits its field of view.
    """
    p = np.asarray(world_joints, dtype=np.float64).reshape(-1, 3)
    lo, hi = p.min(axis=0), p.max(axis=0)
    target = 0.5 * (lo + hi)
    radius = max(float(np.linalg.norm(p - target, axis=1).max()), 0.5)
    half = math.radians(fov_deg) / 2.0
    distance = radius / math.sin(half) * 1.04
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    towards_camera = np.array([math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)])
    position = target + distance * towards_camera
    forward = -towards_camera
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    focal = (size / 2.0) / math.tan(half)
    return ViewCamera(np.stack([right, down, forward]), position, focal, (size / 2.0, size / 2.0), size)


def _grid_segments(
    world: FloatArray, root: FloatArray, camera: ViewCamera
) -> list[tuple[FloatArray, FloatArray]]:
    """Floor grid lines (Z = 0, 1 m apart) around the motion, clipped in front of the camera, as pixel pairs."""
    xy = world[..., :2].reshape(-1, 2)
    lo, hi = np.floor(xy.min(axis=0)) - 1.0, np.ceil(xy.max(axis=0)) + 1.0
    centre = np.round(root[:, :2].mean(axis=0))
    lo, hi = np.maximum(lo, centre - 20.0), np.minimum(hi, centre + 20.0)  # at most 40 m of grid
    segments = []
    for x in np.arange(lo[0], hi[0] + 0.5):
        segments.append((np.array([x, lo[1], 0.0]), np.array([x, hi[1], 0.0])))
    for y in np.arange(lo[1], hi[1] + 0.5):
        segments.append((np.array([lo[0], y, 0.0]), np.array([hi[0], y, 0.0])))
    out = []
    for a, b in segments:
        ca, cb = camera.to_camera(a), camera.to_camera(b)
        if ca[2] < NEAR and cb[2] < NEAR:
            continue
        if ca[2] < NEAR or cb[2] < NEAR:  # clip the segment at the near plane
            s = (NEAR - ca[2]) / (cb[2] - ca[2])
            cut = ca + s * (cb - ca)
            ca, cb = (cut, cb) if ca[2] < NEAR else (ca, cut)
        out.append((camera.project_camera(ca), camera.project_camera(cb)))
    return out


class PreviewRenderer:
    """Draws the composite preview frames of one clip (see the module docstring); no video I/O.

    keypoints: the clip's Keypoints2D (T frames); world_joints (T, J, 3) metres, Z up, floor at Z = 0;
    parents (J,) the joint tree (-1 for the root); joint_names (J,) colour the person's left and right limbs
    (default: our `mocap21` names when the tree is ours, otherwise one colour). `height`: output height in
    pixels (rounded down to even). Raises MocapError when the shapes do not agree.
    """

    def __init__(
        self,
        keypoints: Keypoints2D,
        world_joints: npt.ArrayLike,
        parents: Sequence[int],
        *,
        height: int = 540,
        joint_names: Sequence[str] | None = None,
    ) -> None:
        world = np.asarray(world_joints, dtype=np.float64)
        t = keypoints.num_frames
        if world.ndim != 3 or world.shape[2] != 3:
            raise MocapError(f"The 3D joints have shape {world.shape}, not (frames, joints, 3).")
        if world.shape[0] != t:
            raise MocapError(
                f"The 3D motion has {world.shape[0]} frames but the keypoints have {t}; "
                "render the preview from the keypoints the motion was lifted from."
            )
        if t == 0:
            raise MocapError("The keypoints have no frames; there is nothing to preview.")
        if not np.isfinite(world).all():
            raise MocapError("The 3D joints contain NaN or infinite values; lift the clip again.")
        num = world.shape[1]
        parent_list = [int(p) for p in parents]
        if len(parent_list) != num or any(p >= num or p == i for i, p in enumerate(parent_list)):
            raise MocapError(f"The joint tree ({len(parent_list)} parents) does not fit {num} joints.")
        if joint_names is None and tuple(parent_list) == OUTPUT.parents:
            joint_names = OUTPUT.names
        if joint_names is not None and len(joint_names) != num:
            raise MocapError(f"{len(joint_names)} joint names were given for {num} joints.")
        if height < MIN_HEIGHT:
            raise MocapError(f"The preview height must be at least {MIN_HEIGHT} pixels (got {height}).")
        img_w, img_h = (int(v) for v in keypoints.image_size)
        if img_w <= 0 or img_h <= 0:
            raise MocapError(f"The keypoints' image size {keypoints.image_size} is not a picture size.")

        self.keypoints = keypoints
        self.height = int(height) - int(height) % 2
        self.left_width = max(2, 2 * round(img_w * self.height / img_h / 2.0))
        self.size = (self.left_width + self.height, self.height)
        self.scale = (self.left_width / img_w, self.height / img_h)
        self.fps = float(keypoints.fps) if np.isfinite(keypoints.fps) and keypoints.fps > 0 else 30.0
        self.line = max(1, round(self.height / 270))
        self.radius = max(2, round(self.height / 110))
        self.hand_radius = max(1, round(self.height / 270))
        self.font = self.height / 900.0

        roots = [i for i, p in enumerate(parent_list) if p < 0]
        self.root = roots[0] if roots else 0
        self.bones = [(p, c) for c, p in enumerate(parent_list) if p >= 0]
        names = list(joint_names) if joint_names is not None else [""] * num
        self.bone_colours = [_side_colour(names[c]) for _, c in self.bones]
        self.joint_colours = [_side_colour(n) for n in names]
        self.feet = [i for i, n in enumerate(names) if n in ("l_toe", "r_toe", "l_ankle", "r_ankle")]
        self.landmark_colours = [_side_colour(n) for n in BLAZEPOSE.names]
        self.connection_colours = [
            self.landmark_colours[a] if self.landmark_colours[a] == self.landmark_colours[b] else CENTRE
            for a, b in BLAZEPOSE_CONNECTIONS
        ]

        self.camera = fit_view(world, self.height)
        self.world = world
        cam = self.camera.to_camera(world)
        self.depth = cam[..., 2]  # (T, J) metres
        self.pixels = self.camera.project_camera(cam)  # (T, J, 2)
        floor = world[:, self.root].copy()
        floor[:, 2] = 0.0
        self.trail = self.camera.project(floor)  # (T, 2) pelvis on the floor
        self.trail_frames = max(2, round(TRAIL_SECONDS * self.fps))
        self.backdrop = np.full((self.height, self.height, 3), BACKGROUND, dtype=np.uint8)
        for a, b in _grid_segments(world, world[:, self.root], self.camera):
            cv2.line(self.backdrop, _pt(a), _pt(b), GRID, 1, cv2.LINE_AA)

    def _label(self, image: ImageU8, text: str, org: tuple[int, int], colour: Colour = TEXT) -> None:
        """Text with a dark box behind it; `org` is the top-left corner."""
        thickness = max(1, round(self.font * 2))
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, self.font, thickness)
        pad = max(2, h // 3)
        x, y = org
        cv2.rectangle(image, (x, y), (x + w + 2 * pad, y + h + base + 2 * pad), (0, 0, 0), -1)
        cv2.putText(
            image,
            text,
            (x + pad, y + pad + h),
            cv2.FONT_HERSHEY_SIMPLEX,
            self.font,
            colour,
            thickness,
            cv2.LINE_AA,
        )

    def left_panel(self, i: int, image: ImageU8) -> ImageU8:
        """The video frame (H, W, 3) BGR scaled to the preview height, with frame i's 2D keypoints drawn."""
        kp = self.keypoints
        panel = fit_image(image, (self.left_width, self.height))
        if image is panel:
            panel = panel.copy()  # never draw on the caller's frame
        if bool(kp.detected[i]):
            xy = _pts(np.asarray(kp.keypoints[i], dtype=np.float64) * np.array(self.scale))
            vis = np.asarray(kp.visibility[i], dtype=np.float64).tolist()
            for (a, b), colour in zip(BLAZEPOSE_CONNECTIONS, self.connection_colours, strict=True):
                cv2.line(panel, xy[a], xy[b], _dim(colour, min(vis[a], vis[b])), self.line, cv2.LINE_AA)
            for j, point in enumerate(xy):
                cv2.circle(panel, point, self.radius, _dim(self.landmark_colours[j], vis[j]), -1, cv2.LINE_AA)
            self._draw_hands(i, panel)
            if bool(kp.interpolated[i]):
                self._label(panel, "interpolated", (8, self.height // 12), WARNING)
        else:
            self._label(panel, "no person", (8, self.height // 12), WARNING)
        time = float(kp.timestamps[i])
        self._label(panel, f"frame {int(kp.frame_index[i])}  {time:.2f} s  ({i + 1}/{kp.num_frames})", (8, 8))
        return panel

    def _draw_hands(self, i: int, panel: ImageU8) -> None:
        """Frame i's hands found (`Keypoints2D.hands`, (T, 2, 21, 2) px) drawn on the scaled video frame."""
        kp = self.keypoints
        if kp.hands is None or kp.hands_visibility is None:
            return
        for side, colour in enumerate((HAND_LEFT, HAND_RIGHT)):
            vis = np.asarray(kp.hands_visibility[i, side], dtype=np.float64)
            if not vis.max() > 0:  # not found on this frame
                continue
            xy = _pts(np.asarray(kp.hands[i, side], dtype=np.float64) * np.array(self.scale))
            weights = vis.tolist()
            for a, b in HAND_CONNECTIONS:
                line = _dim(colour, min(weights[a], weights[b]))
                cv2.line(panel, xy[a], xy[b], line, max(1, self.line // 2), cv2.LINE_AA)
            for j, point in enumerate(xy):
                cv2.circle(panel, point, self.hand_radius, _dim(colour, weights[j]), -1, cv2.LINE_AA)

    def right_panel(self, i: int) -> ImageU8:
        """The 3D skeleton of frame i over the floor grid, seen by the fixed virtual camera (H × H, BGR)."""
        panel = self.backdrop.copy()
        first = max(0, i - self.trail_frames)
        if i > first:
            trail = np.round(np.clip(self.trail[first : i + 1], -1e6, 1e6)).astype(np.int32)
            cv2.polylines(panel, [trail.reshape(-1, 1, 2)], False, TRAIL, self.line, cv2.LINE_AA)
        cv2.circle(panel, _pt(self.trail[i]), self.radius, TRAIL, -1, cv2.LINE_AA)
        for j in self.feet:
            if self.world[i, j, 2] < CONTACT_HEIGHT:
                spot = self.world[i, j].copy()
                spot[2] = 0.0
                cv2.circle(
                    panel, _pt(self.camera.project(spot)), self.radius + 2, CONTACT, self.line, cv2.LINE_AA
                )
        px, depth = _pts(self.pixels[i]), self.depth[i]
        order = sorted(
            range(len(self.bones)), key=lambda k: -(depth[self.bones[k][0]] + depth[self.bones[k][1]])
        )
        for k in order:
            a, b = self.bones[k]
            cv2.line(panel, px[a], px[b], self.bone_colours[k], self.line + 2, cv2.LINE_AA)
        for j in np.argsort(-depth).tolist():
            cv2.circle(panel, px[j], self.radius, self.joint_colours[j], -1, cv2.LINE_AA)
        self._label(panel, "3D, fixed view, 1 m grid", (8, 8))
        return panel

    def render(self, i: int, image: ImageU8) -> ImageU8:
        """Composite frame i (H, W_left + H, 3) BGR uint8 from the video frame `image` (upright, BGR)."""
        return np.ascontiguousarray(np.hstack([self.left_panel(i, image), self.right_panel(i)]))


def contact_sheet(cells: Sequence[tuple[int, ImageU8]], size: tuple[int, int]) -> ImageU8:
    """A grid of `SHEET_COLUMNS` columns of preview frames, each scaled to `SHEET_SCALE` of `size` (w, h) and
    labelled with its video frame number; cells is a list of (frame number, image (h, w, 3))."""
    cw, ch = round(size[0] * SHEET_SCALE), round(size[1] * SHEET_SCALE)
    cols = min(SHEET_COLUMNS, max(1, len(cells)))
    rows = max(1, math.ceil(len(cells) / cols))
    sheet = np.zeros((rows * ch, cols * cw, 3), dtype=np.uint8)
    font = ch / 600.0
    thickness = max(1, round(font * 2))
    for n, (frame, image) in enumerate(cells):
        if image.shape[:2] != (ch, cw):
            image = np.asarray(cv2.resize(image, (cw, ch), interpolation=cv2.INTER_AREA), dtype=np.uint8)
        cell = np.ascontiguousarray(image).copy()
        text = f"frame {frame}"
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thickness)
        cv2.rectangle(cell, (0, ch - h - base - 8), (w + 8, ch), (0, 0, 0), -1)
        cv2.putText(
            cell, text, (4, ch - base - 4), cv2.FONT_HERSHEY_SIMPLEX, font, TEXT, thickness, cv2.LINE_AA
        )
        r, c = divmod(n, cols)
        sheet[r * ch : (r + 1) * ch, c * cw : (c + 1) * cw] = cell
    return sheet


def render_preview(
    video_path: str | os.PathLike[str],
    keypoints: Keypoints2D,
    world_joints: npt.ArrayLike,
    parents: Sequence[int],
    out_mp4: str | os.PathLike[str],
    sheet_png: str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    height: int = 540,
    sheet_frames: int = 12,
    joint_names: Sequence[str] | None = None,
) -> PreviewReport:
    """Write the preview MP4 (and the contact sheet PNG when `sheet_png` is given) of a captured clip.

    video_path: the video the keypoints were detected on; keypoints: its Keypoints2D (T frames; only the video
    frames in `keypoints.frame_index` are rendered); world_joints (T, J, 3) metres, Z up, floor Z = 0 (e.g.
    `RetargetResult.world_joints`); parents (J,) the joint tree. `progress(fraction, message)`; `cancel` a
    callable returning True or an Event, checked every frame: the run then raises `lifting.progress.Cancelled` and
    leaves no file. Raises MocapError when the video cannot be read or does not match the keypoints, the
    frame counts differ, or a file cannot be written.
    """
    video = Path(video_path)
    out = Path(out_mp4)
    sheet_path = Path(sheet_png) if sheet_png is not None else None
    renderer = PreviewRenderer(keypoints, world_joints, parents, height=height, joint_names=joint_names)
    info = videoio.probe(video)
    if (info.width, info.height) != tuple(int(v) for v in keypoints.image_size):
        raise MocapError(
            f"{video.name} is {info.width}×{info.height} but the keypoints were detected on a "
            f"{keypoints.image_size[0]}×{keypoints.image_size[1]} video; preview the video they came from."
        )
    index = np.asarray(keypoints.frame_index, dtype=np.int64)
    if index[0] < 0 or (len(index) > 1 and np.any(np.diff(index) <= 0)):
        raise MocapError("The keypoints' frame indices are not increasing; run detection again.")
    step = int(np.gcd.reduce(np.diff(index))) if len(index) > 1 else 1
    if sheet_path is not None and sheet_frames < 1:
        raise MocapError(f"The contact sheet needs at least one frame (got sheet_frames={sheet_frames}).")
    picks = set(np.unique(np.linspace(0, len(index) - 1, max(sheet_frames, 1)).round().astype(int)).tolist())
    check = as_cancel(cancel)

    for target in (out, sheet_path):
        if target is not None:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise MocapError(f"The folder {target.parent} cannot be created ({exc.strerror}).") from None
    cells: list[tuple[int, ImageU8]] = []
    total = len(index)

    def write_sheet(tmp: Path) -> None:
        if not cv2.imwrite(str(tmp), contact_sheet(cells, renderer.size)):
            raise MocapError(f"The contact sheet {sheet_path} could not be written.")

    def write_video(tmp: Path) -> None:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), renderer.fps, renderer.size)
        try:
            if not writer.isOpened():
                raise MocapError(
                    f"A video writer for {out} could not be created (OpenCV without MPEG-4 encoding?)."
                )
            cell_size = (round(renderer.size[0] * SHEET_SCALE), round(renderer.size[1] * SHEET_SCALE))
            done = 0
            reported = -1
            frames = videoio.frames(video, int(index[0]), int(index[-1]) + 1, step, info=info, cancel=check)
            for frame in frames:
                if frame.index != index[done]:
                    continue  # a frame between two strided keypoint frames
                composite = renderer.render(done, frame.image)
                writer.write(composite)
                if done in picks:
                    small = cv2.resize(composite, cell_size, interpolation=cv2.INTER_AREA)
                    cells.append((frame.index, np.asarray(small, dtype=np.uint8)))
                done += 1
                if progress is not None and (100 * done) // total > reported:
                    reported = (100 * done) // total
                    progress(done / total, f"preview frame {done}/{total}")
                if done == total:
                    break
            if check is not None and check():
                raise Cancelled("The preview was cancelled; nothing was written.")
            if done < total:
                raise MocapError(
                    f"{video.name} ended before frame {int(index[done])} of the keypoints; "
                    "preview the video they were detected on."
                )
        finally:
            writer.release()
        if sheet_path is not None:  # a failed sheet leaves no video either
            atomic_write(sheet_path, write_sheet, suffix=".tmp.png")

    try:
        atomic_write(out, write_video, suffix=".tmp.mp4")
    except OSError as exc:
        raise MocapError(f"The preview {out} could not be written ({exc.strerror or exc}).") from None
    return PreviewReport(frames=total, mp4=out, sheet=sheet_path, size=renderer.size)
