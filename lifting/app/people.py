"""`python -m lifting people VIDEO --frame N -o PICTURE.png`: the people on one frame, numbered left to right and
outlined, so one can be chosen with `--subject X,Y --subject-frame N` (their hip centre, printed; no
`--subject-frame` for frame 0); the add-on's subject picker shows the same picture (`lifting.app.worker
people`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from lifting.app.preview import BLAZEPOSE_CONNECTIONS
from lifting.video2d.mediapipe_pose import PoseResult
from lifting.video2d.people import person_box, person_point

# BGR, one per person in turn: distinct under colour blindness (Okabe-Ito).
COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 159, 230), (233, 180, 86), (115, 158, 0), (66, 228, 240), (178, 114, 0), (0, 94, 213), (167, 121, 204),
)  # fmt: skip


def draw_people(bgr: npt.NDArray[np.uint8], people: Sequence[PoseResult]) -> npt.NDArray[np.uint8]:
    """A copy of the frame (H, W, 3) BGR with each person's skeleton and box drawn and their number (1, 2, ...)
    above the box, in the order given."""
    out = bgr.copy()
    h = out.shape[0]
    thick = max(2, round(h / 300))
    for number, person in enumerate(people, start=1):
        colour = COLOURS[(number - 1) % len(COLOURS)]
        pts = np.round(person.keypoints).astype(np.int32)
        for a, b in BLAZEPOSE_CONNECTIONS:
            cv2.line(out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), colour, thick, cv2.LINE_AA)
        x0, y0, x1, y1 = (round(v) for v in person_box(person))
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thick, cv2.LINE_AA)
        scale = max(1.0, h / 400)
        label = str(number)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 2 * thick)
        ty = max(y0 - 6, th + 6)
        cv2.rectangle(out, (x0, ty - th - 6), (x0 + tw + 8, ty + 4), colour, -1)
        cv2.putText(
            out, label, (x0 + 4, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 2 * thick, cv2.LINE_AA
        )
    return out


def write_picture(path: Path, bgr: npt.NDArray[np.uint8]) -> None:
    """Write the picture atomically (PNG or JPEG by suffix)."""
    from retarget.atomic_write import atomic_write

    def write(tmp: Path) -> None:
        ok, data = cv2.imencode(path.suffix.lower() or ".png", bgr)
        if not ok:
            raise OSError(f"cannot encode a {path.suffix} picture")
        tmp.write_bytes(data.tobytes())

    atomic_write(path, write)


def main(argv: Sequence[str] | None = None) -> int:
    from lifting.app.options import ArgumentParser, UsageError, check_output_file
    from lifting.errors import MocapError
    from lifting.video2d.people import people_on_frame

    parser = ArgumentParser(
        prog="python -m lifting people",
        description=(
            "Number and outline everyone found on one frame; follow one with --subject X,Y --subject-frame N."
        ),
    )
    parser.add_argument("video", type=Path)
    parser.add_argument("--frame", type=int, default=0, help="video frame (0 = the first)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the picture to write (.png or .jpg)")
    args = parser.parse_args(argv)
    try:
        if not args.video.is_file():
            raise UsageError(f"{args.video} is not a file.")
        out = check_output_file(args.out, (".png", ".jpg"), "picture")
        people, frame = people_on_frame(args.video, args.frame)
        write_picture(out, draw_people(frame, people))
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for number, person in enumerate(people, start=1):
        x, y = person_point(person)
        on = f" --subject-frame {args.frame}" if args.frame else ""
        print(f"{number}: --subject {x:.0f},{y:.0f}{on}")
    if not people:
        print(f"Nobody was found on frame {args.frame}; try another frame.")
    print(f"→ {out}")
    return 0
