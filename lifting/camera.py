"""Camera maths: intrinsics, screen normalisation, projection, world↔camera transforms.

Conventions
-----------
- Camera coordinates are OpenCV's: x right, y down, z forward (out of the lens), in metres.
- Pixel coordinates are continuous, (0, 0) at the top-left *corner* of the image and (width, height) at the
  bottom-right corner, so the image centre is (width / 2, height / 2). This is what MediaPipe's normalised
  landmarks times the image size give. (OpenCV calibration puts pixel *centres* on integers; intrinsics from
  such a calibration have cx, cy 0.5 px smaller than in this convention.)
- Distortion follows OpenCV's model and coefficient order (k1, k2, p1, p2, k3).
- Normalised screen coordinates follow VideoPose3D: x maps [0, w] to [-1, 1] and y maps [0, h] to
  [-h/w, h/w], so the aspect ratio is kept and one unit is w/2 pixels in both directions.

numpy only: the same projection, differentiable in torch, is `lifting.learn.losses.project_torch`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError

FloatArray = npt.NDArray[np.float64]
Axis = Literal["horizontal", "vertical", "diagonal"]

# Points closer than this (metres, camera z) are projected as if they were at this depth: see `project`.
MIN_DEPTH = 1e-3

_DIST_NAMES = ("k1", "k2", "p1", "p2", "k3")


def _fov_half_extent(width: float, height: float, axis: str) -> float:
    """Half the image extent (pixels) along the axis a field of view is measured on."""
    if axis == "horizontal":
        return width / 2.0
    if axis == "vertical":
        return height / 2.0
    if axis == "diagonal":
        return math.hypot(width, height) / 2.0
    raise ValueError(f"axis must be 'horizontal', 'vertical' or 'diagonal', got {axis!r}")


# The fields of view a user may give (degrees, along the chosen axis): beyond these the camera is not a
# perspective camera any more (or not a lens at all).
FOV_RANGE_DEG = (1.0, 179.0)


def check_fov_deg(fov_deg: float) -> float:
    """A field of view in degrees, checked against `FOV_RANGE_DEG`; a MocapError in one sentence otherwise."""
    lo, hi = FOV_RANGE_DEG
    if not lo <= fov_deg <= hi:
        raise MocapError(f"The field of view must be between {lo:g} and {hi:g} degrees, got {fov_deg:g}.")
    return float(fov_deg)


def check_focal_px(focal_px: float, width: int | None = None) -> float:
    """A focal length in pixels, checked to be positive and finite and, given the image width, to give a
    horizontal field of view within `FOV_RANGE_DEG`; a MocapError in one sentence otherwise."""
    if not (math.isfinite(focal_px) and focal_px > 0):
        raise MocapError(f"The focal length must be a positive number of pixels, got {focal_px:g}.")
    if width is not None:
        lo, hi = FOV_RANGE_DEG
        shortest, longest = (width / 2.0 / math.tan(math.radians(a) / 2.0) for a in (hi, lo))
        if not shortest <= focal_px <= longest:
            raise MocapError(
                f"A focal length of {focal_px:g} px on a {width} px wide video is a field of view outside "
                f"{lo:g}–{hi:g} degrees; give a focal length between {shortest:.3g} and {longest:.4g} px."
            )
    return float(focal_px)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (see the module docstring for the pixel convention), plus distortion.

    fx, fy: focal lengths in pixels; cx, cy: principal point in pixels; width, height: image size in pixels;
    dist: OpenCV distortion coefficients (k1, k2, p1, p2, k3), all zero for an ideal pinhole.
    Invalid values (non-finite, non-positive focal length or size) raise MocapError, since intrinsics often
    come from the user (command line, a JSON file).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    dist: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        problem = _intrinsics_problem(self)
        if problem is not None:
            raise MocapError(f"Invalid camera intrinsics: {problem}.")
        # Normalise types (numpy scalars, a list for dist) so instances hash, compare and serialise alike.
        for name in ("fx", "fy", "cx", "cy"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        object.__setattr__(self, "dist", tuple(float(d) for d in self.dist))

    @classmethod
    def from_fov(cls, width: int, height: int, fov_deg: float, axis: Axis = "horizontal") -> Intrinsics:
        """Square-pixel, distortion-free intrinsics with the principal point at the image centre.

        fov_deg is the full field of view (degrees, `FOV_RANGE_DEG`) along `axis`; e.g. 90° horizontal on a
        1000 px wide image gives fx = fy = 500.
        """
        check_fov_deg(fov_deg)
        half = _fov_half_extent(float(width), float(height), axis)
        f = half / math.tan(math.radians(fov_deg) / 2.0)
        return cls(fx=f, fy=f, cx=width / 2.0, cy=height / 2.0, width=int(width), height=int(height))

    def fov_deg(self, axis: Axis = "horizontal") -> float:
        """Full field of view in degrees along `axis`, measured through the image centre.

        Horizontal uses width and fx, vertical height and fy; diagonal is twice the angle between the optical
        axis and the ray through an image corner (relative to the centre), which for fx == fy is
        2·atan(diagonal / 2 / f), the inverse of `from_fov(..., axis="diagonal")`.
        """
        if axis == "horizontal":
            return math.degrees(2.0 * math.atan(self.width / 2.0 / self.fx))
        if axis == "vertical":
            return math.degrees(2.0 * math.atan(self.height / 2.0 / self.fy))
        if axis == "diagonal":
            t = math.hypot(self.width / 2.0 / self.fx, self.height / 2.0 / self.fy)
            return math.degrees(2.0 * math.atan(t))
        raise ValueError(f"axis must be 'horizontal', 'vertical' or 'diagonal', got {axis!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict; `Intrinsics.from_dict(x.to_dict()) == x`."""
        return {
            "fx": float(self.fx),
            "fy": float(self.fy),
            "cx": float(self.cx),
            "cy": float(self.cy),
            "width": int(self.width),
            "height": int(self.height),
            "dist": [float(d) for d in self.dist],
        }

    @classmethod
    def from_dict(cls, d: Any) -> Intrinsics:
        """Inverse of `to_dict`; `dist` may be omitted (no distortion). Bad data raises MocapError.

        Unknown keys are rejected too, so a misspelt key ("fX") is reported rather than silently ignored.
        """
        if not isinstance(d, dict):
            raise MocapError(
                f"Camera intrinsics must be a mapping of fx, fy, cx, cy, width, height, not {d!r}."
            )
        required = ("fx", "fy", "cx", "cy", "width", "height")
        missing = [k for k in required if k not in d]
        if missing:
            raise MocapError(f"Camera intrinsics are missing {', '.join(missing)}.")
        unknown = sorted(str(k) for k in d if k not in (*required, "dist"))
        if unknown:
            raise MocapError(f"Camera intrinsics have unknown key(s) {', '.join(unknown)}.")
        values: dict[str, float] = {}
        for k in ("fx", "fy", "cx", "cy"):
            v = d[k]
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise MocapError(f"Camera intrinsics {k} must be a number, got {v!r}.")
            values[k] = float(v)
        sizes: dict[str, int] = {}
        for k in ("width", "height"):
            v = d[k]
            if isinstance(v, bool) or not isinstance(v, int | float) or float(v) != int(v):
                raise MocapError(f"Camera intrinsics {k} must be a whole number of pixels, got {v!r}.")
            sizes[k] = int(v)
        dist_raw = d.get("dist", [0.0] * 5)
        if (
            not isinstance(dist_raw, list | tuple)
            or len(dist_raw) != 5
            or any(isinstance(x, bool) or not isinstance(x, int | float) for x in dist_raw)
        ):
            raise MocapError(
                f"Camera intrinsics dist must be 5 numbers (k1, k2, p1, p2, k3), got {dist_raw!r}."
            )
        k1, k2, p1, p2, k3 = (float(x) for x in dist_raw)
        return cls(
            fx=values["fx"],
            fy=values["fy"],
            cx=values["cx"],
            cy=values["cy"],
            width=sizes["width"],
            height=sizes["height"],
            dist=(k1, k2, p1, p2, k3),
        )

    def as_array(self) -> npt.NDArray[np.float32]:
        """(9,) float32 `[fx, fy, cx, cy, k1, k2, p1, p2, k3]` in pixels: the layout `lifting.learn.losses.project_torch` takes."""
        return np.array([self.fx, self.fy, self.cx, self.cy, *self.dist], dtype=np.float32)

    def as_normalized_array(self) -> npt.NDArray[np.float32]:
        """(9,) float32 like `as_array`, but with fx, fy, cx, cy in normalised screen units.

        Projecting with these gives `normalize_screen(project(...))` directly (normalisation is affine and
        distortion acts before the focal length), which is what the back-projection loss uses.
        """
        s = 2.0 / self.width
        c = normalize_screen(np.array([self.cx, self.cy]), self.width, self.height)
        return np.array([self.fx * s, self.fy * s, c[0], c[1], *self.dist], dtype=np.float32)

    def scaled(self, sx: float, sy: float | None = None) -> Intrinsics:
        """Intrinsics for the image resized by (sx, sy) (sy defaults to sx); size rounded to whole pixels.

        Distortion coefficients act on normalised camera coordinates, so they do not change.
        """
        sy = sx if sy is None else sy
        if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
            raise MocapError(f"Image scale factors must be positive, got ({sx}, {sy}).")
        return Intrinsics(
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=self.cx * sx,
            cy=self.cy * sy,
            width=max(1, round(self.width * sx)),
            height=max(1, round(self.height * sy)),
            dist=self.dist,
        )


def _intrinsics_problem(k: Intrinsics) -> str | None:
    """Why these intrinsics are unusable (a sentence fragment), or None when they are fine."""
    for name in ("fx", "fy", "cx", "cy"):
        v = getattr(k, name)
        if not math.isfinite(v):
            return f"{name} is {v}"
    if k.fx <= 0 or k.fy <= 0:
        return f"focal lengths must be positive (fx={k.fx}, fy={k.fy})"
    for name in ("width", "height"):
        v = getattr(k, name)
        if not math.isfinite(v) or v <= 0 or int(v) != v:
            return f"image {name} must be a positive whole number of pixels, got {v}"
    if len(k.dist) != 5:
        return f"dist must hold 5 coefficients (k1, k2, p1, p2, k3), got {len(k.dist)}"
    for name, v in zip(_DIST_NAMES, k.dist, strict=True):
        if not math.isfinite(v):
            return f"distortion {name} is {v}"
    return None


# ---------------------------------------------------------------------------------------------------------
# Screen normalisation (numpy)
# ---------------------------------------------------------------------------------------------------------


def _check_last_dim(a: FloatArray, n: int, name: str) -> None:
    if a.ndim == 0 or a.shape[-1] != n:
        raise ValueError(f"{name} must have shape (..., {n}), got {a.shape}")


def normalize_screen(points_px: npt.ArrayLike, width: float, height: float) -> FloatArray:
    """Pixels → normalised screen units: `X / w * 2 - [1, h / w]`.

    points_px: (..., 2) pixels. Returns (..., 2) float64: x in [-1, 1] and y in [-h/w, h/w] over the image.
    """
    p = np.asarray(points_px, dtype=np.float64)
    _check_last_dim(p, 2, "points_px")
    out: FloatArray = p / width * 2.0 - np.array([1.0, height / width])
    return out


def unnormalize_screen(points: npt.ArrayLike, width: float, height: float) -> FloatArray:
    """Exact inverse of `normalize_screen`: (..., 2) screen units → (..., 2) pixels."""
    p = np.asarray(points, dtype=np.float64)
    _check_last_dim(p, 2, "points")
    out: FloatArray = (p + np.array([1.0, height / width])) * width / 2.0
    return out


# ---------------------------------------------------------------------------------------------------------
# Projection (numpy)
# ---------------------------------------------------------------------------------------------------------


def _distort(
    x: FloatArray, y: FloatArray, dist: tuple[float, float, float, float, float]
) -> tuple[FloatArray, FloatArray]:
    """OpenCV's distortion of normalised camera coordinates (x, y) = (X/Z, Y/Z)."""
    k1, k2, p1, p2, k3 = dist
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return xd, yd


def project(points_cam: npt.ArrayLike, intrinsics: Intrinsics, min_depth: float = MIN_DEPTH) -> FloatArray:
    """Camera coordinates (..., 3) metres → pixels (..., 2), with OpenCV's distortion model.

    Depths below `min_depth` (including points behind the camera) are clamped to it before dividing, exactly
    as in `lifting.learn.losses.project_torch`, so the result is finite; such points have no meaningful image position, and
    callers that care must test z themselves.
    """
    p = np.asarray(points_cam, dtype=np.float64)
    _check_last_dim(p, 3, "points_cam")
    z = np.maximum(p[..., 2], min_depth)
    xd, yd = _distort(p[..., 0] / z, p[..., 1] / z, intrinsics.dist)
    return np.stack([intrinsics.fx * xd + intrinsics.cx, intrinsics.fy * yd + intrinsics.cy], axis=-1)


def _undistort(
    xd: FloatArray, yd: FloatArray, dist: tuple[float, float, float, float, float], iterations: int
) -> tuple[FloatArray, FloatArray]:
    """Solve `_distort(x, y) == (xd, yd)` for (x, y).

    Starts from OpenCV's fixed-point iteration (x = (xd - tangential) / radial) and finishes with Newton steps
    on the 2×2 Jacobian, which converge quadratically: round trips are exact to ~1e-12 for moderate
    distortion (|k1| ≲ 0.3 inside the image), where plain fixed-point iteration stalls around 1e-4.
    """
    k1, k2, p1, p2, k3 = dist
    x, y = xd.copy(), yd.copy()
    for _ in range(3):
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
        dy = p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
        x, y = (xd - dx) / radial, (yd - dy) / radial
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dradial = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)  # d radial / d r2
        fx_, fy_ = _distort(x, y, dist)
        ex, ey = fx_ - xd, fy_ - yd
        # Jacobian of _distort with respect to (x, y).
        a = radial + 2.0 * x * x * dradial + 2.0 * p1 * y + 6.0 * p2 * x
        b = 2.0 * x * y * dradial + 2.0 * p1 * x + 2.0 * p2 * y
        c = 2.0 * x * y * dradial + 2.0 * p1 * x + 2.0 * p2 * y
        d = radial + 2.0 * y * y * dradial + 6.0 * p1 * y + 2.0 * p2 * x
        det = a * d - b * c
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        x = x - (d * ex - b * ey) / det
        y = y - (a * ey - c * ex) / det
    return x, y


def unproject(
    points_px: npt.ArrayLike, depth: npt.ArrayLike, intrinsics: Intrinsics, iterations: int = 10
) -> FloatArray:
    """Pixels (..., 2) and camera z-depth (...,) metres (broadcastable) → camera coordinates (..., 3).

    Inverse of `project` for points in front of the camera. With distortion, the undistortion is iterative
    (`iterations` Newton steps after a short fixed-point start).
    """
    p = np.asarray(points_px, dtype=np.float64)
    _check_last_dim(p, 2, "points_px")
    z = np.asarray(depth, dtype=np.float64)
    xd = (p[..., 0] - intrinsics.cx) / intrinsics.fx
    yd = (p[..., 1] - intrinsics.cy) / intrinsics.fy
    if any(intrinsics.dist):
        xd, yd = _undistort(xd, yd, intrinsics.dist, iterations)
    x, y, z = np.broadcast_arrays(xd, yd, z)
    return np.stack([x * z, y * z, z], axis=-1)


def normalize_camera(points_px: npt.ArrayLike, intrinsics: Intrinsics) -> FloatArray:
    """Pixels (..., 2) → normalised camera coordinates (..., 2): (X/Z, Y/Z) of the ray, distortion removed.

    Unlike screen units these do not depend on the focal length: a person at a given depth and pose gives the
    same values through any lens, which is what lets the trajectory model predict depth for any camera.
    """
    out: FloatArray = unproject(points_px, 1.0, intrinsics)[..., :2]
    return out


def denormalize_camera(points: npt.ArrayLike, intrinsics: Intrinsics) -> FloatArray:
    """Inverse of `normalize_camera`: normalised camera coordinates (..., 2) → pixels (..., 2)."""
    p = np.asarray(points, dtype=np.float64)
    _check_last_dim(p, 2, "points")
    return project(np.concatenate([p, np.ones((*p.shape[:-1], 1))], axis=-1), intrinsics)


# ---------------------------------------------------------------------------------------------------------
# World ↔ camera (numpy)
# ---------------------------------------------------------------------------------------------------------


def world_to_camera(points: npt.ArrayLike, rotation: npt.ArrayLike, position: npt.ArrayLike) -> FloatArray:
    """World points (..., 3) → camera coordinates (..., 3): `x_cam = R @ (x_world - position)`.

    rotation: (3, 3) (or (..., 3, 3) broadcastable), rows are the camera's x, y, z axes in world coordinates;
    position: (3,) (or (..., 3)) the camera centre in world coordinates.
    """
    p = np.asarray(points, dtype=np.float64)
    r = np.asarray(rotation, dtype=np.float64)
    c = np.asarray(position, dtype=np.float64)
    _check_last_dim(p, 3, "points")
    return np.asarray((r @ (p - c)[..., None])[..., 0])


def camera_to_world(points: npt.ArrayLike, rotation: npt.ArrayLike, position: npt.ArrayLike) -> FloatArray:
    """Inverse of `world_to_camera`: `x_world = R.T @ x_cam + position`. Same shapes."""
    p = np.asarray(points, dtype=np.float64)
    r = np.asarray(rotation, dtype=np.float64)
    c = np.asarray(position, dtype=np.float64)
    _check_last_dim(p, 3, "points")
    return np.asarray((np.swapaxes(r, -1, -2) @ p[..., None])[..., 0] + c)


def look_at(
    position: npt.ArrayLike, target: npt.ArrayLike, up: npt.ArrayLike = (0.0, 0.0, 1.0)
) -> FloatArray:
    """Rotation (3, 3) of an OpenCV camera at `position` looking at `target` (world coordinates).

    Rows are the camera axes in world coordinates: z points at the target, x to the right of the view, y down
    in the image (the component of -up perpendicular to z). A proper rotation (det +1). Raises ValueError when
    the target is at the camera or the view direction is parallel to `up`.
    """
    pos = np.asarray(position, dtype=np.float64)
    tgt = np.asarray(target, dtype=np.float64)
    u = np.asarray(up, dtype=np.float64)
    z = tgt - pos
    n = np.linalg.norm(z)
    if n < 1e-12:
        raise ValueError("look_at: the target is at the camera position")
    z = z / n
    x = np.cross(z, u)
    nx = np.linalg.norm(x)
    if nx < 1e-9 * max(1.0, float(np.linalg.norm(u))):
        raise ValueError("look_at: the view direction is parallel to the up vector; pass another up")
    x = x / nx
    y = np.cross(z, x)
    return np.stack([x, y, z])
