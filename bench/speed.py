"""End-to-end speed and memory on one core (issue 7): detect → lift → retarget → write BVH, per stage, against a
raw decode + MediaPipe loop measured in the same run, on a 10-second, a 60-second and a 5-minute clip.

    .venv/bin/python bench/speed.py [--sizes 10,60,300] [--quick] [--loop repeat|bounce] [--preview]
                                    [--cache DIR] [--cpu N | --no-pin] [--timeout-factor 3] [--repeat N]

The clips are the shared sample (../shared/data/video/sports2d_demo.mp4, or the committed excerpt
tests/data/sports2d_excerpt.mp4 without it) looped to each length, same size and rate, written once with
OpenCV ('mp4v') into the cache folder (`--cache`, default `$VIDEO_MOCAP_CACHE/bench` or
`~/.cache/video-mocap/bench`) and reused by later runs. `--loop repeat` (default) plays the sample over and over,
so every 7.7 s the person jumps back from where the sample ends (walking off at the right) to where it starts (on
the box): a hard case for following one subject. `--loop bounce` plays it forwards then backwards: the same
pictures with continuous motion. `--quick` uses 5, 10 and 20 s clips.

Every measurement runs in a fresh Python process, pinned to one core (`--cpu`, default the last core this
process may use; `--no-pin` leaves the scheduler free) with OpenMP/MKL/OpenBLAS/torch/OpenCV threads set to 1,
so its peak memory is that process's own (VmHWM) and no run warms the next. For each clip:

- decode only: `lifting.video2d.video.frames` over the clip (a reference row: decoding is inside detect);
- raw loop: `cv2.VideoCapture` + BGR→RGB + MediaPipe Pose (tracking mode, our detector settings) + landmarks to
  pixels, nothing else — what anyone would write;
- ours: `api.detect(workers=1, use_cache=False)` → `api.lift(device="cpu")`, refined as by default → `retarget` onto our armature built
  from the person (smoothing 0.3, foot locking, as the demo) → `write_bvh`, each stage timed; with `--preview`
  also `lifting.app.preview.render_preview` (MP4 + contact sheet), reported apart: the targets concern
  detect → lift → retarget → write. A run that takes longer than `--timeout-factor` times the raw loop plus two
  minutes is stopped, and where it was (progress and Python stack) is printed.

- cached: a fresh process converts the keypoints the previous run detected (lift → retarget → BVH, no MediaPipe),
  so the memory of lifting and of a conversion from cached keypoints is measured on its own.

Times start after the imports (the raw loop's after importing MediaPipe, ours after importing lifting.app.api and
MediaPipe) and include building the models. Both sides count MediaPipe Pose passes and the time spent in them,
so the third table shows whether extra passes (the subject tracker's searches) or the rest costs time.
Targets: end-to-end wall time at most 1.15× the raw loop's, and the 5-minute clip's peak memory at most 1.3× the
10-second clip's (with other sizes: the longest against the shortest), for the whole conversion and for each
part on its own (detect; lift and convert from cached keypoints). Other work on the machine slows both
sides, but not always equally: the load average is printed before and after. On a shared machine, `--repeat N`
runs the raw loop and our pipeline N times each, alternately, and keeps each side's fastest run (the usual
estimate of what the code costs when nothing else interferes; every run's time is printed).
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from raw_loop import raw_mediapipe_loop  # bench/ is this script's folder, first on sys.path

from lifting.cache import cache_dir

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "video" / "sports2d_demo.mp4"
EXCERPT = ROOT / "tests" / "data" / "sports2d_excerpt.mp4"
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}
TIME_TARGET = 1.15
MEMORY_TARGET = 1.3


def peak_mb() -> float:
    """This process's peak resident memory so far, MiB: VmHWM of /proc/self/status, which starts afresh with
    the new program (ru_maxrss does not: it keeps the parent's size at fork time across exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def default_cache() -> Path:
    return cache_dir("bench")


# ----------------------------------------------------------------------------------------------- children


def count_mediapipe(mp: Any) -> dict[str, float]:
    """Count MediaPipe pose passes (video and image mode) and the time spent in them (the same wrapper on both
    sides)."""
    stats = {"calls": 0.0, "seconds": 0.0}
    pose_class = mp.tasks.vision.PoseLandmarker

    def counted(original: Any) -> Any:
        def run(self: Any, *args: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(self, *args)
            finally:
                stats["calls"] += 1
                stats["seconds"] += time.perf_counter() - t

        return run

    pose_class.detect_for_video = counted(pose_class.detect_for_video)
    pose_class.detect = counted(pose_class.detect)
    return stats


def child_decode(clip: Path) -> dict[str, Any]:
    from lifting.video2d import video

    t = time.perf_counter()
    n = sum(1 for _ in video.frames(clip))
    return {"frames": n, "decode": time.perf_counter() - t}


def child_raw(clip: Path) -> dict[str, Any]:
    """The plain loop: decode, BGR→RGB, Pose.process (tracking mode, our settings), landmarks to pixels."""
    import cv2

    from lifting.video2d.detect import DEFAULT_SETTINGS
    from lifting.video2d.mediapipe_pose import import_mediapipe

    cv2.setNumThreads(1)
    mp = import_mediapipe()
    passes = count_mediapipe(mp)
    t = time.perf_counter()
    n, found = raw_mediapipe_loop(clip, mp, DEFAULT_SETTINGS)
    wall = time.perf_counter() - t
    return {
        "frames": n,
        "raw": wall,
        "found": found / max(n, 1),
        "mp_calls": passes["calls"],
        "mp_s": passes["seconds"],
    }


def child_pipeline(clip: Path, out: Path, preview: bool) -> dict[str, Any]:
    """Our pipeline, one stage after the other; wall time and peak memory after each."""
    t_import = time.perf_counter()
    import cv2
    import torch

    from lifting.app import api
    from lifting.app.options import ConvertOptions
    from lifting.video2d.mediapipe_pose import import_mediapipe
    from retarget.bvh_writer import write_bvh
    from retarget.pipeline import RetargetConfig, retarget_onto_ours

    passes = count_mediapipe(import_mediapipe())  # the raw loop's timer also starts after this import
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    res: dict[str, Any] = {"imports": time.perf_counter() - t_import}
    last = [-1]

    def progress(fraction: float, message: str = "", *_: Any) -> None:
        if int(fraction * 20) > last[0]:  # every 5%, on stderr: shown when the run times out
            last[0] = int(fraction * 20)
            print(
                f"detect {fraction:.0%} ({message}) after {time.perf_counter() - t:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    t = time.perf_counter()
    keypoints = api.detect(clip, workers=1, use_cache=False, progress=progress)
    res["detect"], res["peak_detect"] = time.perf_counter() - t, peak_mb()
    res["frames"], res["found"] = keypoints.num_frames, keypoints.detection_rate
    res["mp_calls"], res["mp_s"] = passes["calls"], passes["seconds"]
    keypoints.save(out / f"{clip.stem}.keypoints.npz")  # for the cached run (not timed: after the peak read)
    # When refinement reported progress: its first report starts it, its last ends it.
    refine_calls: list[float] = []

    def lift_progress(fraction: float, stage: str) -> None:
        if stage == "refine":
            refine_calls.append(time.perf_counter())

    t = time.perf_counter()
    motion = api.lift(keypoints, device="cpu", refine=ConvertOptions.refine, progress=lift_progress)
    res["lift"], res["peak_lift"] = time.perf_counter() - t, peak_mb()
    # Up to its last report, not the end of lift: the orientations and fingers come after it.
    res["refine"] = refine_calls[-1] - refine_calls[0] if refine_calls else 0.0
    t = time.perf_counter()
    rest, result = retarget_onto_ours(motion, RetargetConfig(smoothing=0.3))
    res["retarget"], res["peak_retarget"] = time.perf_counter() - t, peak_mb()
    t = time.perf_counter()
    write_bvh(out / f"{clip.stem}.bvh", rest, result.animation)
    res["write"], res["peak_write"] = time.perf_counter() - t, peak_mb()
    res["e2e"] = res["detect"] + res["lift"] + res["retarget"] + res["write"]
    res["peak"] = res["peak_write"]  # the memory target concerns detect → write, not the preview
    if preview:
        from lifting.app.preview import render_preview

        t = time.perf_counter()
        render_preview(
            clip,
            keypoints,
            result.world_joints,
            motion.parents,
            out / f"{clip.stem}.preview.mp4",
            out / f"{clip.stem}.sheet.png",
        )
        res["preview"], res["peak_preview"] = time.perf_counter() - t, peak_mb()
    return res


def child_cached(keypoints_path: Path, out: Path) -> dict[str, Any]:
    """A conversion from cached keypoints (no MediaPipe): lift, then retarget and write; peak after each."""
    import torch

    from lifting.app import api
    from lifting.app.options import ConvertOptions
    from lifting.video2d.keypoints2d import Keypoints2D
    from retarget.bvh_writer import write_bvh
    from retarget.pipeline import RetargetConfig, retarget_onto_ours

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    keypoints = Keypoints2D.load(keypoints_path)
    res: dict[str, Any] = {"peak_start": peak_mb()}
    motion = api.lift(keypoints, device="cpu", refine=ConvertOptions.refine)
    res["peak_lift"] = peak_mb()
    rest, result = retarget_onto_ours(motion, RetargetConfig(smoothing=0.3))
    write_bvh(out / "cached.bvh", rest, result.animation)
    res["peak_convert"] = peak_mb()
    return res


def run_child(args: argparse.Namespace) -> int:
    faulthandler.register(signal.SIGUSR1)  # the parent asks for a traceback before killing a run that hangs
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
    clip = Path(args.clip)
    if args.child == "decode":
        res = child_decode(clip)
    elif args.child == "raw":
        res = child_raw(clip)
    elif args.child == "cached":
        res = child_cached(clip, Path(args.out))
    else:
        res = child_pipeline(clip, Path(args.out), args.preview)
    res.setdefault("peak", peak_mb())
    print("RESULT " + json.dumps(res), flush=True)
    return 0


# ------------------------------------------------------------------------------------------------- parent


def source_frames(source: Path, loop: str) -> Iterator[Any]:
    """The source's frames played over and over: `repeat` starts again at the first frame (a cut: the person
    jumps back to where the clip starts), `bounce` plays it forwards then backwards (continuous motion; the
    frames are kept in memory as PNG for the backward pass)."""
    import cv2
    import numpy as np

    from lifting.video2d import video

    if loop == "repeat":
        while True:
            for frame in video.frames(source):
                yield frame.image
    stored = []
    for frame in video.frames(source):
        stored.append(cv2.imencode(".png", frame.image, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1])
        yield frame.image
    while True:
        for order in (range(len(stored) - 2, 0, -1), range(len(stored))):
            for i in order:
                yield cv2.imdecode(np.asarray(stored[i]), cv2.IMREAD_COLOR)


def make_clip(source: Path, seconds: float, cache: Path, loop: str) -> tuple[Path, int]:
    """`source` looped (`repeat` or `bounce`) to `seconds`, same size and rate, in `cache`, made once;
    returns (path, frames)."""
    import cv2

    from lifting.video2d import video
    from retarget.atomic_write import atomic_write

    info = video.probe(source)
    ident = video.video_identity(source)
    # Content only (no modification time): a fresh copy of the same clip reuses the cached loop.
    content = [str(source.name), ident["size"], ident["sha256_first_mib"]]
    key = hashlib.sha256(json.dumps(content).encode()).hexdigest()[:10]
    wanted = round(seconds * info.fps)
    suffix = f".{seconds:g}s" + ("" if loop == "repeat" else f".{loop}") + ".mp4"
    target = cache / f"{source.stem}.{key}{suffix}"
    if target.is_file() and video.probe(target).frame_count == wanted:
        return target, wanted
    for stale in cache.glob(f"{source.stem}.*{suffix}"):
        if stale != target and len(stale.name) == len(target.name):
            stale.unlink()  # the same loop of an older version of the clip: about 0.5 GB per 5 minutes
    written = 0

    def write(tmp: Path) -> None:
        nonlocal written
        size = (info.width, info.height)
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"mp4v"), info.fps, size)
        if not writer.isOpened():
            raise SystemExit(f"cannot write {tmp}")
        try:
            for image in source_frames(source, loop):
                writer.write(image)
                written += 1
                if written >= wanted:
                    break
        finally:
            writer.release()

    atomic_write(target, write, suffix=".tmp.mp4")
    return target, written


def spawn(
    mode: str, clip: Path, args: argparse.Namespace, out: Path, timeout: float | None = None
) -> dict[str, Any]:
    """One measurement in a fresh process; on timeout its traceback and last progress line are printed and
    {"timeout": seconds} returned."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        mode,
        "--clip",
        str(clip),
        "--out",
        str(out),
    ]
    if args.cpu is not None:
        cmd += ["--pin", str(args.cpu)]
    if args.preview:
        cmd.append("--preview")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": path}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # faulthandler prints where it is
            time.sleep(2.0)
            proc.kill()
            proc.communicate()
            err.seek(0)
            lines = [
                ln
                for ln in err.read().splitlines()
                if not ln.startswith(("W0000", "I0000", "INFO:", "WARNING:"))
            ]
            stack = [ln for ln in lines if ln.strip().startswith(("File", "Thread", "Current thread"))]
            progress = [ln for ln in lines if ln.startswith("detect ")]
            print(
                f"  the {mode} run on {clip.name} did not finish in {timeout:.0f} s; it was at:", flush=True
            )
            for ln in (progress[-1:] + stack)[:14]:
                print(f"    {ln.strip()}")
            return {"timeout": timeout, "where": progress[-1] if progress else ""}
        err.seek(0)
        stderr = err.read()
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"the {mode} run on {clip.name} failed (exit status {proc.returncode})")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return result


def cell(seconds: float, frames: int) -> str:
    return f"{seconds:7.2f} {frames / seconds:6.1f}" if seconds > 0 else f"{'-':>7} {'-':>6}"


def print_tables(
    rows: list[tuple[float, int, dict[str, Any], dict[str, Any], dict[str, Any]]], preview: bool
) -> None:
    """The three tables and the verdicts; a pipeline run that timed out counts as a failure."""
    print(
        "\nwall seconds and frames/s per stage (ours: detect includes decoding; lift includes refine, the default;"
        " e2e = detect+lift+retarget+write)"
    )
    stages = ["decode only", "raw loop", "detect", "lift", "refine", "retarget", "write", "e2e"] + (
        ["preview"] if preview else []
    )
    print(f"{'clip':>6}{'frames':>7}" + "".join(f"  {s:>14}" for s in stages) + f"{'e2e/raw':>9}  target")
    print(f"{'':>13}" + "".join(f"  {'s':>7} {'fps':>6}" for _ in stages))
    time_ok = True
    for seconds, frames, dec, raw, ours in rows:
        if "timeout" in ours:
            time_ok = False
            print(
                f"{seconds:>5g}s{frames:>7}  {cell(dec['decode'], frames)}  {cell(raw['raw'], frames)}"
                f"  ours did not finish in {ours['timeout']:.0f} s ({ours['where'] or 'no progress'}): FAIL"
            )
            continue
        ratio = ours["e2e"] / raw["raw"]
        ok = ratio <= TIME_TARGET
        time_ok &= ok
        values = [dec["decode"], raw["raw"]] + [
            ours[k] for k in ("detect", "lift", "refine", "retarget", "write", "e2e")
        ]
        values += [ours["preview"]] if preview else []
        print(
            f"{seconds:>5g}s{frames:>7}"
            + "".join(f"  {cell(v, frames)}" for v in values)
            + f"{ratio:>9.2f}  {'PASS' if ok else 'FAIL'} (≤ {TIME_TARGET})"
        )

    done = [r for r in rows if "timeout" not in r[4]]
    print("\npeak resident memory, MiB (ours: running peak after each stage)")
    print(
        f"{'clip':>6}{'frames':>7}{'raw loop':>10}{'÷ first':>8}{'ours':>8}{'÷ first':>8}"
        f"{'detect':>8}{'lift':>8}{'retarget':>9}{'write':>8}{'preview':>9}  subject found"
    )
    first_raw = rows[0][3]["peak"]
    first_ours = done[0][4]["peak"] if done else float("nan")
    for seconds, frames, _, raw, ours in rows:
        line = f"{seconds:>5g}s{frames:>7}{raw['peak']:>10.0f}{raw['peak'] / first_raw:>8.2f}"
        if "timeout" in ours:
            print(line + "  (ours did not finish)")
            continue
        print(
            line + f"{ours['peak']:>8.0f}{ours['peak'] / first_ours:>8.2f}{ours['peak_detect']:>8.0f}"
            f"{ours['peak_lift']:>8.0f}{ours['peak_retarget']:>9.0f}{ours['peak_write']:>8.0f}"
            f"{ours.get('peak_preview', float('nan')):>9.0f}"
            f"  {ours['found']:.0%} (raw loop: {raw['found']:.0%})"
        )

    print(
        "\nwhere detection time goes (s): MediaPipe Pose passes, and the rest (decoding, colour conversion, tracker)"
    )
    print(
        f"{'clip':>6}{'frames':>7}{'raw: passes':>13}{'MediaPipe':>10}{'rest':>7}{'ours: passes':>14}{'MediaPipe':>10}{'rest':>7}"
    )
    for seconds, frames, _, raw, ours in rows:
        line = f"{seconds:>5g}s{frames:>7}{raw['mp_calls']:>13.0f}{raw['mp_s']:>10.2f}{raw['raw'] - raw['mp_s']:>7.2f}"
        if "timeout" not in ours:
            line += f"{ours['mp_calls']:>14.0f}{ours['mp_s']:>10.2f}{ours['detect'] - ours['mp_s']:>7.2f}"
        print(line)

    if len(done) == len(rows) and len(rows) > 1:
        print_memory_parts(rows)

    if len(done) == len(rows):
        mem_ratio = rows[-1][4]["peak"] / first_ours
        verdict = (
            f"{mem_ratio:.2f} (target ≤ {MEMORY_TARGET}): {'PASS' if mem_ratio <= MEMORY_TARGET else 'FAIL'}"
        )
    else:
        verdict = "not measured (a run did not finish): FAIL"
    print(
        f"\nend-to-end ≤ {TIME_TARGET}× raw loop on every clip: {'PASS' if time_ok else 'FAIL'}; "
        f"peak memory {rows[-1][0]:g} s ÷ {rows[0][0]:g} s = {verdict}"
    )
    if done:
        print(f"imports before timing (not counted): ours {done[0][4]['imports']:.1f} s")


def print_memory_parts(rows: list[tuple[float, int, dict[str, Any], dict[str, Any], dict[str, Any]]]) -> None:
    """Peak memory of each part in its own process, longest clip ÷ shortest: detect (video → keypoints), lift
    and convert from cached keypoints (lift → retarget → BVH, no MediaPipe), and the whole conversion."""
    parts = {
        "detect": lambda o: o["peak_detect"],
        "lift (cached keypoints)": lambda o: o["cached"]["peak_lift"],
        "convert (cached keypoints)": lambda o: o["cached"]["peak_convert"],
        "whole convert": lambda o: o["peak"],
    }
    print(f"\npeak memory per part, MiB, and {rows[-1][0]:g} s ÷ {rows[0][0]:g} s (target ≤ {MEMORY_TARGET})")
    print(f"{'part':<28}" + "".join(f"{f'{r[0]:g} s':>9}" for r in rows) + f"{'ratio':>8}  verdict")
    for name, value in parts.items():
        peaks = [value(r[4]) for r in rows]
        ratio = peaks[-1] / peaks[0]
        verdict = "PASS" if ratio <= MEMORY_TARGET else "FAIL"
        print(f"{name:<28}" + "".join(f"{v:>9.0f}" for v in peaks) + f"{ratio:>8.2f}  {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,60,300", help="clip lengths in seconds (default 10,60,300)")
    parser.add_argument("--quick", action="store_true", help="5, 10 and 20 s clips, to try the bench fast")
    parser.add_argument(
        "--loop",
        choices=["repeat", "bounce"],
        default="repeat",
        help="repeat: the sample over and over (a cut at each loop); bounce: forwards then backwards (no cut)",
    )
    parser.add_argument(
        "--preview", action="store_true", help="also time the preview (not part of the target)"
    )
    parser.add_argument("--cache", type=Path, default=None, help="folder for the looped clips")
    parser.add_argument("--cpu", type=int, default=None, help="core to pin every run to (default: the last)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the runs to one core")
    parser.add_argument(
        "--timeout-factor",
        type=float,
        default=3.0,
        help="stop our pipeline after this many times the raw loop's time plus 2 minutes (default 3)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the raw loop and our pipeline this many times each, alternately, and keep the fastest (default 1)",
    )
    parser.add_argument("--child", choices=["decode", "raw", "pipeline", "cached"], help=argparse.SUPPRESS)
    parser.add_argument("--clip", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--pin", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args)

    sys.path.insert(0, str(ROOT))
    sizes = [5.0, 10.0, 20.0] if args.quick else [float(s) for s in args.sizes.split(",")]
    if args.no_pin:
        args.cpu = None
    elif args.cpu is None:
        args.cpu = max(os.sched_getaffinity(0))
    source = SAMPLE if SAMPLE.is_file() else EXCERPT
    cache = args.cache or default_cache()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} cores")
    print(f"source: {source}, looped ({args.loop}); clips in {cache}")
    clips = []
    for seconds in sizes:
        t = time.perf_counter()
        clip, frames = make_clip(source, seconds, cache, args.loop)
        clips.append((seconds, clip, frames))
        size = clip.stat().st_size / 2**20
        print(f"  {seconds:g} s: {frames} frames, {size:.0f} MiB ({time.perf_counter() - t:.1f} s)")
    pin = f"pinned to core {args.cpu}" if args.cpu is not None else "not pinned"
    print(f"each run in a fresh process, {pin}, 1 thread for OpenMP/MKL/torch/OpenCV\n")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds, clip, frames in clips:
            out = Path(tmp)
            dec = spawn("decode", clip, args, out)
            raws: list[dict[str, Any]] = []
            runs: list[dict[str, Any]] = []
            for _ in range(max(1, args.repeat)):
                raws.append(spawn("raw", clip, args, out))
                limit = args.timeout_factor * min(r["raw"] for r in raws) + 120.0
                runs.append(spawn("pipeline", clip, args, out, timeout=limit))
            raw = min(raws, key=lambda r: float(r["raw"]))
            finished = [r for r in runs if "timeout" not in r]
            ours = min(finished, key=lambda r: float(r["e2e"])) if finished else runs[-1]
            if len(raws) > 1:
                print(
                    f"  {seconds:g} s runs: raw "
                    + ", ".join(f"{r['raw']:.1f}" for r in raws)
                    + " s; ours "
                    + ", ".join(f"{r['e2e']:.1f}" if "timeout" not in r else "timeout" for r in runs)
                    + " s (the fastest of each is kept)"
                )
            if "timeout" not in ours:
                ours["cached"] = spawn("cached", out / f"{clip.stem}.keypoints.npz", args, out)
            rows.append((seconds, frames, dec, raw, ours))
            summary = (
                f"ours {ours['e2e']:.1f} s (detect {ours['detect']:.1f}, lift {ours['lift']:.1f}, "
                f"retarget {ours['retarget']:.1f}, write {ours['write']:.1f})"
                if "timeout" not in ours
                else "ours did not finish"
            )
            print(
                f"  {seconds:g} s done: raw {raw['raw']:.1f} s, {summary}, load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    print_tables(rows, args.preview)
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
