"""Detection speed on one clip, measured in one run: decode alone, the raw MediaPipe loop, our single-process
detect, our parallel detect (with --hands, our single-process detect with hands too); frames per second and ratios.

    .venv/bin/python bench/detect_speed.py [--clip VIDEO] [--seconds 30] [--workers N] [--hands]
    .venv/bin/python bench/detect_speed.py --hands-only [--clip VIDEO] [--seconds 30] [--repeat 2] [--core 0]

`--hands-only` times our single-process detect without and with hands (issue 26; target: with hands ≤ 1.6× the
time without), pinned to one core like bench/speed.py, alternating the two `--repeat` times (the best of each
counts), and says on how many frames each hand was found and how often the hand model ran (each run is one crop
of one hand: the cost of hands, which unlike the timings does not depend on the machine's load).

Without --clip, the shared sample clip (../shared/data/video/sports2d_demo.mp4, or the committed excerpt) is
looped to `--seconds` seconds and written to a temporary MP4 (same size and rate). Targets (issue 3): our
single-process detect within 10% of the raw MediaPipe loop (ratio ≥ 0.90), and parallel detect on 2 cores at
least 1.6× the single-process throughput on a 30-second clip. Timings depend on what else the machine is
running: the four rows are measured back to back, and the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from raw_loop import raw_mediapipe_loop  # noqa: E402  (bench/ is this script's folder, first on sys.path)
from speed import make_clip  # noqa: E402

from lifting.video2d import detect, mediapipe_hands, video  # noqa: E402
from lifting.video2d.mediapipe_pose import DetectorSettings, import_mediapipe  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
EXCERPT = ROOT / "tests" / "data" / "sports2d_excerpt.mp4"


def time_decode(clip: Path) -> tuple[int, float]:
    t = time.perf_counter()
    n = sum(1 for _ in video.frames(clip))
    return n, time.perf_counter() - t


def time_raw_mediapipe(clip: Path, settings: DetectorSettings) -> tuple[int, float]:
    """The plain loop anyone would write: decode, BGR→RGB, Pose.process (tracking mode), landmarks to pixels."""
    mp = import_mediapipe()
    t = time.perf_counter()
    n, _ = raw_mediapipe_loop(clip, mp, settings)
    return n, time.perf_counter() - t


def time_detect(clip: Path, workers: int, hands: bool = False) -> tuple[int, float, float, int]:
    settings = dataclasses.replace(detect.DEFAULT_SETTINGS, hands=hands)
    t = time.perf_counter()
    result = detect.detect_video(clip, workers=workers, settings=settings)
    seconds = time.perf_counter() - t
    return len(result.detected), seconds, float(result.detected.mean()), result.meta["workers"]


def hands_only(clip: Path, repeat: int, core: int) -> int:
    """Single-process detect without and with hands on one pinned core; the ratio of the best times."""
    os.sched_setaffinity(0, {core})
    best = {False: float("inf"), True: float("inf")}
    frames = 0
    for _ in range(repeat):
        for hands in (False, True):
            frames, seconds, _, _ = time_detect(clip, 1, hands)
            best[hands] = min(best[hands], seconds)
    settings = dataclasses.replace(detect.DEFAULT_SETTINGS, hands=True)
    original = mediapipe_hands.MediaPipeHands.landmarks
    with mock.patch.object(
        mediapipe_hands.MediaPipeHands, "landmarks", autospec=True, side_effect=original
    ) as runs:
        result = detect.detect_video(clip, workers=1, settings=settings)  # counting the hand model's runs
    assert result.hands_visibility is not None
    found = (result.hands_visibility.max(axis=-1) > 0).mean(axis=0)
    ratio = best[True] / best[False]
    print(
        f"\n{'our detect, 1 process (core ' + str(core) + ')':<34}{'frames':>7}{'seconds':>9}{'frames/s':>10}"
    )
    for hands in (False, True):
        label = "with hands" if hands else "without hands"
        print(f"{label:<34}{frames:>7}{best[hands]:>9.2f}{frames / best[hands]:>10.1f}")
    print(f"hands found on {found[0]:.0%} (left) and {found[1]:.0%} (right) of the frames")
    subject = max(int(result.detected.sum()), 1)
    print(f"hand model runs: {runs.call_count} ({runs.call_count / subject:.2f} per frame with the subject)")
    print(f"with hands ÷ without: {ratio:.2f}× (target ≤ 1.6×: {'met' if ratio <= 1.6 else 'NOT met'})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clip", type=Path, help="video to time (default: the sample clip, looped)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the looped sample clip")
    parser.add_argument("--workers", type=int, default=2, help="processes for the parallel row (default 2)")
    parser.add_argument("--hands", action="store_true", help="add a row: single-process detect with hands")
    parser.add_argument("--hands-only", action="store_true", help="only without/with hands, one pinned core")
    parser.add_argument("--repeat", type=int, default=2, help="--hands-only: timings of each (default 2)")
    parser.add_argument("--core", type=int, default=0, help="--hands-only: the core to pin to (default 0)")
    args = parser.parse_args()
    settings = detect.DEFAULT_SETTINGS
    with tempfile.TemporaryDirectory() as tmp:
        if args.clip is not None:
            clip = args.clip
        else:
            source = SAMPLE if SAMPLE.is_file() else EXCERPT
            clip, n = make_clip(source, args.seconds, Path(tmp), "repeat")
            print(f"clip: {source.name} looped to {n} frames ({args.seconds:g} s) → {clip}")
        info = video.probe(clip)
        print(
            f"{info.width}×{info.height}, {info.fps:g} fps, {info.frame_count} frames; "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
        )
        if args.hands_only:
            return hands_only(clip, args.repeat, args.core)
        rows: list[tuple[str, int, float, str]] = []
        n, s = time_decode(clip)
        rows.append(("decode alone", n, s, ""))
        n, s = time_raw_mediapipe(clip, settings)
        rows.append(("raw MediaPipe loop", n, s, ""))
        n, s, rate, _ = time_detect(clip, 1)
        rows.append(("our detect, 1 process", n, s, f"subject on {rate:.0%}"))
        n, s, rate, used = time_detect(clip, args.workers)
        rows.append((f"our detect, {used} processes", n, s, f"subject on {rate:.0%}"))
        if args.hands:
            n, s, rate, _ = time_detect(clip, 1, hands=True)
            rows.append(("our detect + hands, 1 pr.", n, s, f"{s / rows[2][2]:.2f}× the time without hands"))
    raw_fps = rows[1][1] / rows[1][2]
    single_fps = rows[2][1] / rows[2][2]
    print(
        f"\n{'stage':<26}{'frames':>7}{'seconds':>9}{'frames/s':>10}{'÷ raw loop':>12}{'÷ 1 process':>13}  note"
    )
    for name, frames, seconds, note in rows:
        fps = frames / seconds
        print(
            f"{name:<26}{frames:>7}{seconds:>9.2f}{fps:>10.1f}{fps / raw_fps:>12.2f}{fps / single_fps:>13.2f}  {note}"
        )
    ratio_single = single_fps / raw_fps
    ratio_parallel = (rows[3][1] / rows[3][2]) / single_fps
    print(
        f"\nsingle-process wrapper vs raw loop: {ratio_single:.2f} (target ≥ 0.90: "
        f"{'met' if ratio_single >= 0.9 else 'NOT met'})"
    )
    print(
        f"parallel vs single-process: {ratio_parallel:.2f}× (target ≥ 1.6× on 2 cores: "
        f"{'met' if ratio_parallel >= 1.6 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
