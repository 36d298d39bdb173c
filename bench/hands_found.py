"""How often the hands are found on the four cameras of Pose2Sim's single-person take (issue 26), per camera and
hand, against two definitions of "visible":

- **pose**: the subject is found and the pose sees the hand (wrist, index and pinky visibility >= 0.5), as
  tests/video2d/test_hands.py counts; it includes hands hidden behind the body or elsewhere than the pose puts
  them (MediaPipe's visibility is 0.9-1.0 on most of those frames);
- **labelled**: the subject is found and the hand is visible where the pose puts it, by the labels in
  tests/data/pose2sim/single_person_hands_hidden.json (made by eye on the crops `--sheets` draws; blurred hands
  whose shape can be made out count as visible).

    .venv/bin/python bench/hands_found.py [--cache DIR] [--sheets DIR] [--markdown FILE]

Detection runs with hands on, one process, the left/right repair off (the labels are per detected side), cached
in `--cache` (default: a temporary folder, so the detection is fresh). `--sheets DIR` also writes one PNG per
camera and hand: every frame's crop around the pose's hand (upright, 2.4 times the hand box), framed green where
the hand was found and red where not, with the frame number and the pose's visibility.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lifting.skeleton import BLAZEPOSE  # noqa: E402
from lifting.video2d import mediapipe_hands as mh  # noqa: E402
from lifting.video2d import video as videoio  # noqa: E402
from lifting.video2d.detect import detect  # noqa: E402
from lifting.video2d.keypoints2d import Keypoints2D  # noqa: E402
from tests.support.paths import POSE2SIM, POSE2SIM_SINGLE  # noqa: E402

LABELS = POSE2SIM / "single_person_hands_hidden.json"
POSE_VISIBLE = 0.5  # wrist, index and pinky visibility for the "pose" definition
SHEET_CELL = 112  # px


@dataclass
class Row:
    """One camera and hand: frames found among the pose-visible and the labelled-visible ones."""

    camera: str
    side: str
    found_pose: int
    pose: int
    found_labelled: int
    labelled: int


def hand_joints(side: str) -> list[int]:
    return [BLAZEPOSE.index[f"{side}_{part}"] for part in ("wrist", "index", "pinky")]


def hidden_frames(labels: dict[str, list[list[int]]], side: str, frames: int) -> npt.NDArray[np.bool_]:
    """(frames,) True on the labelled frames (inclusive ranges [a, b]) where the hand is not visible."""
    hidden = np.zeros(frames, dtype=bool)
    for a, b in labels[side]:
        hidden[a : b + 1] = True
    return hidden


def count(kp: Keypoints2D, camera: str, labels: dict[str, list[list[int]]]) -> list[Row]:
    """Per hand of one camera's keypoints (detected with hands): the counts of `Row`."""
    assert kp.hands_visibility is not None
    found = kp.hands_visibility.max(axis=-1) > 0  # (T, 2)
    rows = []
    for s, side in enumerate(mh.SIDES):
        pose = (kp.visibility[:, hand_joints(side)].min(axis=-1) >= POSE_VISIBLE) & kp.found
        labelled = ~hidden_frames(labels, side, kp.num_frames) & kp.found
        rows.append(
            Row(
                camera,
                side,
                int(found[pose, s].sum()),
                int(pose.sum()),
                int(found[labelled, s].sum()),
                int(labelled.sum()),
            )
        )
    return rows


def write_sheets(video: Path, kp: Keypoints2D, out: Path) -> None:
    """One PNG per hand of the crops around the pose's hand on every frame (see the module docstring)."""
    assert kp.hands_visibility is not None
    found = kp.hands_visibility.max(axis=-1) > 0
    c = SHEET_CELL
    columns = 10
    rows = -(-kp.num_frames // columns)
    sheets = [np.zeros((rows * c, columns * c, 3), np.uint8) for _ in mh.SIDES]
    for t, frame in enumerate(videoio.frames(video)):
        if t >= kp.num_frames:
            break
        for s, side in enumerate(mh.SIDES):
            joints = hand_joints(side)
            box = mh.hand_roi(*kp.keypoints[t, joints].astype(np.float64), scale=2.4, shift=0.0)
            upright = mh.HandRoi(box.centre, max(box.size, 60.0), 0.0)
            cell = cv2.resize(cv2.cvtColor(mh.crop(frame.image, upright), cv2.COLOR_RGB2BGR), (c, c))
            colour = (0, 200, 0) if found[t, s] else (0, 0, 255)
            cv2.rectangle(cell, (0, 0), (c - 1, c - 1), colour, 3)
            label = f"{t} {float(kp.visibility[t, joints].min()):.1f}"
            cv2.putText(cell, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
            r, k = divmod(t, columns)
            sheets[s][r * c : (r + 1) * c, k * c : (k + 1) * c] = cell
    out.mkdir(parents=True, exist_ok=True)
    for s, side in enumerate(mh.SIDES):
        cv2.imwrite(str(out / f"{video.stem}_{side}.png"), sheets[s])


def table(rows: list[Row]) -> str:
    """Markdown: one line per camera and hand, then all of them."""

    def pct(a: int, b: int) -> str:
        return f"{100.0 * a / b:.0f} % ({a}/{b})" if b else "-"

    lines = [
        "| camera | hand | found, pose-visible frames | found, labelled-visible frames |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.camera} | {r.side} | {pct(r.found_pose, r.pose)} | {pct(r.found_labelled, r.labelled)} |"
        )
    total = [sum(getattr(r, f) for r in rows) for f in ("found_pose", "pose", "found_labelled", "labelled")]
    lines.append(f"| all | both | {pct(total[0], total[1])} | {pct(total[2], total[3])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache", type=Path, default=None, help="keypoints cache folder (default: a fresh one)"
    )
    parser.add_argument("--sheets", type=Path, default=None, help="write the crop sheets into this folder")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    labels = json.loads(LABELS.read_text())
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        for video in POSE2SIM_SINGLE:
            kp = detect(video, hands=True, workers=1, repair_lr=False, cache_dir=cache)
            rows += count(kp, video.stem, labels[video.stem])
            if args.sheets is not None:
                write_sheets(video, kp, args.sheets)
            print(*(f"{r.camera} {r.side}: {r.found_pose}/{r.pose}, {r.found_labelled}/{r.labelled}" for r in rows[-2:]),
                  sep="\n", flush=True)  # fmt: skip
    text = table(rows)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
