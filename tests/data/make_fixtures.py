"""Make the small generated video fixtures in tests/data/ from the shared sample clip (OpenCV only, no ffmpeg).

    .venv/bin/python tests/data/make_fixtures.py      # needs ../shared/data/video/sports2d_demo.mp4

- `sports2d_walker.mp4`: FRAMES frames (100-107) of the sample clip cropped to the woman walking past
  (x 700-1340, y 300-980) at 0.75×: 480×510 pixels, upright.
- `sports2d_walker_rotated90.mp4`: the same frames stored sideways (turned 90° counter-clockwise, 510×480) with
  the MP4 display matrix of a phone held upright (rotate 90° clockwise to show), as phones write portrait clips;
  a reader that honours rotation metadata returns the upright frames. The matrix is written into the track
  header (`tkhd`) by `set_display_rotation`, the box phones fill.

Source: ../shared/data/video/sports2d_demo.mp4 (from the PyPI package sports2d==0.8.34, Sports2D/Demo/demo.mp4,
BSD-3-Clause, © David Pagnon; licence in LICENSE_sports2d.txt beside this script).
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[1].parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
UPRIGHT = HERE / "sports2d_walker.mp4"
ROTATED = HERE / "sports2d_walker_rotated90.mp4"
FRAMES = 8

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}
# (a, b, c, d) of the display matrix, 16.16 fixed point, per clockwise display rotation in degrees.
_MATRIX = {0: (1, 0, 0, 1), 90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}


def _boxes(data: bytes | bytearray, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, offset of the box, offset after it) for each box in data[start:end]."""
    out = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"malformed MP4 box {kind!r} at offset {pos}")
        out.append((kind, pos, pos + size))
        pos += size
    return out


def set_display_rotation(path: Path, degrees_clockwise: int) -> None:
    """Write the display matrix of every video track header so players rotate the picture by this much.

    The stored width and height in `tkhd` are swapped for 90 and 270, as phones write them.
    """
    if degrees_clockwise not in _MATRIX:
        raise ValueError("rotation must be 0, 90, 180 or 270 degrees")
    data = bytearray(path.read_bytes())
    found = 0

    def walk(start: int, end: int) -> None:
        nonlocal found
        for kind, a, b in _boxes(data, start, end):
            if kind in _CONTAINERS:
                walk(a + 8, b)
            elif kind == b"tkhd":
                version = data[a + 8]
                matrix_at = a + 8 + (52 if version == 1 else 40)
                width, height = struct.unpack(">II", data[matrix_at + 36 : matrix_at + 44])
                if width == 0 or height == 0:
                    continue  # not a visual track
                ma, mb, mc, md = _MATRIX[degrees_clockwise]
                w_px, h_px = width >> 16, height >> 16
                # Translation so the rotated picture lands in the positive quadrant (what phones write).
                tx = {0: 0, 90: h_px, 180: w_px, 270: 0}[degrees_clockwise]
                ty = {0: 0, 90: 0, 180: h_px, 270: w_px}[degrees_clockwise]
                values = (ma << 16, mb << 16, 0, mc << 16, md << 16, 0, tx << 16, ty << 16, 1 << 30)
                struct.pack_into(">9i", data, matrix_at, *values)
                found += 1

    walk(0, len(data))
    if not found:
        raise ValueError(f"{path} has no video track header to rotate")
    path.write_bytes(bytes(data))


def read_crop(
    source: Path, first: int, count: int, box: tuple[int, int, int, int], scale: float
) -> list[npt.NDArray[np.uint8]]:
    """Frames first..first+count-1 of `source`, cropped to box (x0, y0, x1, y1) and resized by `scale`."""
    cap = cv2.VideoCapture(str(source))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    x0, y0, x1, y1 = box
    size = (round((x1 - x0) * scale) // 2 * 2, round((y1 - y0) * scale) // 2 * 2)
    frames: list[npt.NDArray[np.uint8]] = []
    for _ in range(count):
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(frame[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA))
    cap.release()
    if len(frames) != count:
        raise SystemExit(f"could not read {count} frames from {source}")
    return frames


def write(target: Path, frames: list[npt.NDArray[np.uint8]], fps: float = 30.0) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()


def make_rotated() -> None:
    """UPRIGHT: the walking woman of the sample clip (frames 100-107, cropped, 0.75×); ROTATED: the same
    frames stored turned 90° counter-clockwise with the display matrix 'rotate 90° clockwise'."""
    frames = read_crop(SOURCE, 100, FRAMES, (700, 300, 1340, 980), 0.75)
    write(UPRIGHT, frames)
    write(ROTATED, [cv2.rotate(f, cv2.ROTATE_90_COUNTERCLOCKWISE) for f in frames])
    set_display_rotation(ROTATED, 90)


def main() -> None:
    make_rotated()
    for path in (UPRIGHT, ROTATED):
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
