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
in `--cache` (default: a temporary folder, so the detection is fresh).

`--rendered STEM` measures instead on a clip rendered by tools/render_hands_clip.py (STEM.mp4 with the labels
STEM.labels.json, computed from the geometry: per frame and hand whether it is visible and where its wrist is),
detected as users get it (hands on, the add-on's defaults: left/right repair on): per hand, the frames where it is
visible, the share of them where it is found (landmarks present, as the keypoints file keeps them), left/right
swaps (on frames where both hands are visible, a found hand whose wrist is nearer the other hand's labelled wrist
than its own by more than `SWAP_MARGIN` hand sizes), false finds (found where the hand is not visible) and the
found wrist's distance from the labelled one:

    .venv/bin/python bench/hands_found.py --rendered tests/data/rendered_hands/hands [--markdown docs/hands_rendered.md]
 `--sheets DIR` also writes one PNG per
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
from typing import Any

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
RENDERED = ROOT / "tests" / "data" / "rendered_hands" / "hands"
RENDERED_FORMAT = "video-mocap-rendered-hands"
# A found hand is swapped when its wrist is nearer the other hand's labelled wrist than its own by more than this
# many hand sizes (the labels' projected size of the hand, the mean of the two).
SWAP_MARGIN = 0.25


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


# -- a rendered clip (tools/render_hands_clip.py) ------------------------------------------------------------
@dataclass
class RenderedRow:
    """One hand of a rendered clip: frames where it is visible (by the labels) and found there, frames where both
    hands are visible and the found hand is swapped there, frames where it is not visible and found (false
    finds), and the median distance (px) of the found wrist from the labelled one on the visible frames."""

    side: str
    visible: int
    found: int
    both_visible: int
    swaps: int
    hidden: int
    false_finds: int
    wrist_error_px: float
    missed_frames: list[int]
    # missed where the pose's wrist of this side is nearer the other hand (the arms confused)
    missed_pose_other: int
    # missed where the subject was not found
    missed_no_person: int
    # visible frames where the model finds the hand in a crop placed on the labelled hand (`true_crop_found`)
    found_true_crop: int
    # The pose's crop against the true hand's (`crop_placement`), medians on the frames found / missed with the
    # pose's wrist at the hand: true crop's side / pose crop's side, |rotation difference| in degrees.
    size_ratio_found: float
    size_ratio_missed: float
    turn_found_deg: float
    turn_missed_deg: float
    swapped_frames: list[int]
    false_frames: list[int]


def load_rendered_labels(stem: Path) -> dict[str, Any]:
    """The labels tools/render_hands_clip.py wrote beside STEM.mp4 (STEM.labels.json; format in its docstring)."""
    path = stem.with_name(stem.name + ".labels.json")
    try:
        labels: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"The labels {path} cannot be read ({exc}).") from None
    if labels.get("format") != RENDERED_FORMAT:
        raise SystemExit(f"{path} is not a labels file of tools/render_hands_clip.py.")
    return labels


def true_crop_found(
    video: Path, labels: dict[str, Any], estimator: mh.HandEstimator
) -> npt.NDArray[np.bool_]:
    """(T, 2) whether the hand landmark model finds each visible hand in the crop MediaPipe Hands would track it
    with from its true landmarks (`mh.tracked_roi` of the labels' 21 projected points), its wrist within
    `mh.MAX_WRIST_GAP` palm lengths of the labelled wrist; False where the hand is not visible. This separates
    the model (can it see these hands at all?) from the crop placement (the pose's wrist, index and pinky)."""
    frames = int(labels["frames"])
    out = np.zeros((frames, 2), dtype=bool)
    for t, frame in enumerate(videoio.frames(video)):
        if t >= frames:
            break
        for s, side in enumerate(mh.SIDES):
            hand = labels["hands"][side]
            if not hand["visible"][t]:
                continue
            points = np.asarray(hand["points"][t], dtype=np.float64)
            roi = mh.tracked_roi(points)
            found = estimator.landmarks(mh.crop(frame.image, roi))
            if found is None:
                continue
            xy = roi.image_points(found.pixels)
            out[t, s] = float(np.hypot(*(xy[0] - points[0]))) <= mh.MAX_WRIST_GAP * mh.palm_length(xy)
    return out


def crop_placement(kp: Keypoints2D, labels: dict[str, Any], t: int, s: int) -> tuple[float, float]:
    """On frame t, hand s: (side of the crop MediaPipe Hands would track the true hand with (`mh.tracked_roi` of
    the labels' points) / side of the pose's crop (`mh.hand_roi`), |rotation difference| in degrees)."""
    pose = mh.hand_roi(*kp.keypoints[t, hand_joints(mh.SIDES[s])].astype(np.float64))
    true = mh.tracked_roi(np.asarray(labels["hands"][mh.SIDES[s]]["points"][t], dtype=np.float64))
    turn = (true.rotation - pose.rotation + np.pi) % (2 * np.pi) - np.pi
    return true.size / max(pose.size, 1e-6), float(np.degrees(abs(turn)))


def rendered_rows(
    kp: Keypoints2D, labels: dict[str, Any], true_crop: npt.NDArray[np.bool_] | None = None
) -> list[RenderedRow]:
    """Per hand (left, right): the counts of `RenderedRow` of keypoints detected with hands on the rendered clip;
    `true_crop` (T, 2): `true_crop_found` (None: not run, counted as 0)."""
    assert kp.hands is not None and kp.hands_visibility is not None
    frames = int(labels["frames"])
    if kp.num_frames != frames:
        raise SystemExit(f"The keypoints have {kp.num_frames} frames, the labels {frames}.")
    found = kp.hands_visibility.max(axis=-1) > 0  # (T, 2)
    visible = np.array([labels["hands"][s]["visible"] for s in mh.SIDES], dtype=bool).T  # (T, 2)
    wrist = np.array([labels["hands"][s]["wrist"] for s in mh.SIDES], dtype=np.float64).transpose(1, 0, 2)
    size = np.array([labels["hands"][s]["size"] for s in mh.SIDES], dtype=np.float64).T  # (T, 2)
    both = visible.all(axis=1)
    rows = []
    for s, side in enumerate(mh.SIDES):
        at = kp.hands[:, s, 0].astype(np.float64)  # (T, 2) found wrist
        own = np.linalg.norm(at - wrist[:, s], axis=-1)
        other = np.linalg.norm(at - wrist[:, 1 - s], axis=-1)
        swapped = found[:, s] & both & (other + SWAP_MARGIN * size.mean(axis=1) < own)
        seen = visible[:, s] & found[:, s]
        missed = visible[:, s] & ~found[:, s]
        pose_wrist = kp.keypoints[:, hand_joints(side)[0]].astype(np.float64)
        pose_other = np.linalg.norm(pose_wrist - wrist[:, 1 - s], axis=-1) < np.linalg.norm(
            pose_wrist - wrist[:, s], axis=-1
        )
        at_hand = missed & kp.detected & ~pose_other
        placed = {
            key: np.array([crop_placement(kp, labels, int(t), s) for t in np.flatnonzero(frames)]).reshape(
                -1, 2
            )
            for key, frames in (("found", seen & kp.detected), ("missed", at_hand))
        }
        med = {key: np.median(v, axis=0) if len(v) else np.full(2, np.nan) for key, v in placed.items()}
        rows.append(
            RenderedRow(
                side,
                int(visible[:, s].sum()),
                int(seen.sum()),
                int(both.sum()),
                int(swapped.sum()),
                int((~visible[:, s]).sum()),
                int((found[:, s] & ~visible[:, s]).sum()),
                float(np.median(own[seen])) if seen.any() else float("nan"),
                np.flatnonzero(missed).tolist(),
                int((missed & kp.detected & pose_other).sum()),
                int((missed & ~kp.detected).sum()),
                0 if true_crop is None else int((true_crop[:, s] & visible[:, s]).sum()),
                float(med["found"][0]),
                float(med["missed"][0]),
                float(med["found"][1]),
                float(med["missed"][1]),
                np.flatnonzero(swapped).tolist(),
                np.flatnonzero(found[:, s] & ~visible[:, s]).tolist(),
            )
        )
    return rows


def rendered_markdown(rows: list[RenderedRow], labels: dict[str, Any], video: Path, detector: str) -> str:
    """docs/hands_rendered.md: what was measured, how, and the table."""

    def pct(a: int, b: int) -> str:
        return f"{100.0 * a / b:.1f} % ({a}/{b})" if b else "-"

    rule = labels["rule"]
    seen_sizes = [
        size
        for side in mh.SIDES
        for size, v in zip(labels["hands"][side]["size"], labels["hands"][side]["visible"], strict=True)
        if v
    ]
    sizes = "{:.0f}-{:.0f}".format(*np.percentile(seen_sizes, [5, 95]))
    name = video.relative_to(ROOT) if video.is_relative_to(ROOT) else video
    lines = [
        "# Hands on a rendered clip (issue 26)",
        "",
        f"Written by `.venv/bin/python bench/hands_found.py --rendered {name.with_suffix('')} --markdown "
        "docs/hands_rendered.md` (do not edit by hand).",
        "",
        f"The clip `{name}` ({labels['frames']} frames, {labels['width']}×{labels['height']}, "
        f"{labels['fps']:g} fps) is the CC0 Mesh2Motion human rendered by `tools/render_hands_clip.py` "
        f"(`{labels['command']}`): filmed from the hips up, hands {sizes} px long where visible (5th-95th "
        "percentile of the labels' projected size), both arms moving before the body and to the sides, palms turning to and away from the camera, fingers closing, opening and counting, the "
        "hands crossing the body's midline, the right hand behind the back and the left raised out of the picture. "
        "Its labels come from the geometry, not from the detector: a hand is visible on a frame when at least "
        f"{100 * rule['min_seen']:.0f} % of its 21 points (wrist and finger joints, the deform bones' heads) project "
        f"into the picture unoccluded (the camera's ray first hits its own skin or the surface within "
        f"{100 * rule['near_m']:.0f} cm of the point) and its projected size is at least {rule['min_size_px']:g} px.",
        "",
        "Detection as users get it: hands on, the add-on's defaults (`lifting.video2d.detect.detect(video, "
        f"hands=True)`, left/right repair on; detector {detector}). **Found**: the hand's landmarks are in the keypoints file on a "
        "frame where the labels say it is visible. **Swaps**: on frames where both hands are visible, a found "
        "hand whose wrist is nearer the other hand's labelled wrist than its own by more than "
        f"{SWAP_MARGIN:g} hand sizes. **False finds**: found on a frame where the hand is not visible (behind the "
        "body, out of the picture). **Wrist error**: median distance of the found wrist landmark from the labelled "
        "wrist (the hand bone's head, inside the wrist) on the frames found. **Found in a crop on the true hand**: "
        "the same landmark model run on the crop MediaPipe Hands would track the hand with from its true "
        "landmarks (the labels' 21 points), which tells the model's own misses on these hands from the crop "
        "placement's. Targets (issue 26): found ≥ 90 %, swaps 0.",
        "",
        "| hand | visible frames | found | missed: pose's wrist on the other hand / no person / none kept from "
        "the crops | found in a crop on the true hand | swaps (frames both visible) | false finds (frames not "
        "visible) | wrist error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.side} | {r.visible} | {pct(r.found, r.visible)} | {r.missed_pose_other} / "
            f"{r.missed_no_person} / {len(r.missed_frames) - r.missed_pose_other - r.missed_no_person} | "
            f"{pct(r.found_true_crop, r.visible)} | {r.swaps} ({r.both_visible}) | "
            f"{r.false_finds} ({r.hidden}) | {r.wrist_error_px:.1f} px |"
        )
    total = [sum(getattr(r, f) for r in rows) for f in ("visible", "found", "swaps", "false_finds", "hidden")]
    lines.append(
        f"| both | {total[0]} | {pct(total[1], total[0])} | | "
        f"{pct(sum(r.found_true_crop for r in rows), total[0])} | {total[2]} | {total[3]} ({total[4]}) | |"
    )
    missed = sum(len(r.missed_frames) for r in rows)
    other = sum(r.missed_pose_other for r in rows)
    nobody = sum(r.missed_no_person for r in rows)
    lines += [
        "",
        f"Of the {missed} hand-frames missed, {other} are frames where the pose's wrist of that side lies nearer "
        "the other hand's labelled wrist (the pose model confuses the arms while they cross: the crop placed from "
        "it holds the other hand or none, and the rules that keep left and right apart drop what it finds), "
        f"{nobody} frames without the person, and {missed - other - nobody} frames where the pose's wrist is at "
        "the hand but no crop tried gave a hand that was kept. On those, the crop placed from the pose (wrist, "
        "index, pinky) is what differs from the true hand's: the crop MediaPipe Hands would track the true hand "
        "with is "
        + " and ".join(
            f"{r.size_ratio_missed:.2f}× the pose crop's side and turned {r.turn_missed_deg:.0f}° from it for the "
            f"{r.side} hand ({r.size_ratio_found:.2f}× and {r.turn_found_deg:.0f}° on the frames found)"
            for r in rows
        )
        + " (medians), while the landmark model finds the hand in the true crop on "
        f"{pct(sum(r.found_true_crop for r in rows), sum(r.visible for r in rows))} of the visible frames.",
        "",
    ]
    for r in rows:
        lines.append(
            f"{r.side.capitalize()} hand, frames (0-based) missed where visible: {r.missed_frames or 'none'}; "
            f"swapped: {r.swapped_frames or 'none'}; found where not visible: {r.false_frames or 'none'}."
        )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def run_rendered(stem: Path, cache: Path) -> tuple[list[RenderedRow], dict[str, Any], Path, str]:
    """Detect with hands on STEM.mp4 (the add-on's defaults) and count against STEM.labels.json; also the
    detector's version string."""
    labels = load_rendered_labels(stem)
    video = stem.with_name(stem.name + ".mp4")
    kp = detect(video, hands=True, workers=1, cache_dir=cache)
    estimator = mh.MediaPipeHands()
    try:
        true_crop = true_crop_found(video, labels, estimator)
    finally:
        estimator.close()
    return rendered_rows(kp, labels, true_crop), labels, video, str(kp.meta["detector"]["version"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache", type=Path, default=None, help="keypoints cache folder (default: a fresh one)"
    )
    parser.add_argument("--sheets", type=Path, default=None, help="write the crop sheets into this folder")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    parser.add_argument(
        "--rendered",
        type=Path,
        default=None,
        help="measure on STEM.mp4 + STEM.labels.json instead (a rendered clip)",
    )
    args = parser.parse_args(argv)
    if args.rendered is not None:
        with tempfile.TemporaryDirectory() as tmp:
            found_rows, rendered_labels, video, detector = run_rendered(
                args.rendered.resolve(), args.cache or Path(tmp)
            )
        text = rendered_markdown(found_rows, rendered_labels, video, detector)
        print(text, end="")
        if args.markdown is not None:
            args.markdown.write_text(text)
        return 0
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
