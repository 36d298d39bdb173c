"""Parallel detection: a long clip cut into segments, each detected by its own process, stitched back.

The calling process detects the first segment itself, exactly as a single-process run would (same frames, same
tracker, so that part is identical). As soon as it has fixed the subject's appearance (`TrackingSettings.
enroll_frames` detections after choosing it) it hands that appearance to the worker processes, which were
started at the beginning (spawned, so their start-up overlaps the first frames). Each worker starts
`OVERLAP_FRAMES` before its segment, finds the person who looks like the subject (the rule a single-process run
uses to re-acquire after a loss) and follows them; the overlap frames warm MediaPipe's tracking and smoothing up
and are then dropped.

Stitching checks every boundary: the overlap frames must be the same video frames with the same timestamps,
and the subject's hip centre in them must agree with the previous segment's (median distance under half a
torso length); a worker that found nobody in overlap frames where the previous segment saw the subject fails
too (it may find them only much later). A segment that fails is detected again here, continuing the previous segment's subject state,
so the result never switches person at a boundary. Gap filling runs afterwards on the whole clip, as in a
single-process run. Each worker decodes with one FFmpeg thread, so N workers use about N cores.

Cancellation (`cancel()` in the caller) sets an Event the workers check every frame; all processes are joined
before `Cancelled` is raised, and nothing is written.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import queue
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lifting.errors import MocapError
from lifting.progress import Cancelled, Progress
from lifting.video2d import video as videoio
from lifting.video2d.mediapipe_pose import DetectorSettings, NativeLogFile
from lifting.video2d.track import CANCELLED, RawTrack, track_frames
from lifting.video2d.tracking import HIPS, SubjectState, SubjectTracker, TrackingSettings, centre_and_scale

MIN_SEGMENT_FRAMES = 150
OVERLAP_FRAMES = 12
HEAD_START_FRAMES = 45
_POLL_S = 0.05


@dataclass(frozen=True)
class Segment:
    """Positions in the output sequence (0 = the first selected frame): the segment owns [start, stop) and is
    decoded from `warm` (= start − overlap, or 0)."""

    index: int
    start: int
    stop: int
    warm: int


def plan_segments(
    total: int,
    workers: int,
    min_segment: int | None = None,
    overlap: int | None = None,
    head_start: int | None = None,
) -> list[Segment]:
    """Cut `total` frames into at most `workers` segments of at least `min_segment` frames (defaults: the
    module's MIN_SEGMENT_FRAMES, OVERLAP_FRAMES, HEAD_START_FRAMES, read at call time).

    The first segment (run by the calling process, which starts at once) is `head_start` frames longer than
    the others, whose processes first have to start up. One segment means: run in this process.
    """
    min_segment = MIN_SEGMENT_FRAMES if min_segment is None else min_segment
    overlap = OVERLAP_FRAMES if overlap is None else overlap
    head_start = HEAD_START_FRAMES if head_start is None else head_start
    n = max(1, min(workers, total // max(min_segment, 1)))
    if n == 1:
        return [Segment(0, 0, total, 0)]
    head = min(head_start, max(0, total // n - min_segment))
    rest = (total - head) / n
    bounds = [0] + [round(head + rest * i) for i in range(1, n)] + [total]
    return [Segment(i, bounds[i], bounds[i + 1], max(0, bounds[i] - overlap)) for i in range(n)]


def _worker(
    index: int,
    path: str,
    first: int,
    stop: int | None,
    stride: int,
    settings: DetectorSettings,
    tracking: TrackingSettings,
    seeds: multiprocessing.queues.Queue[Any],
    results: multiprocessing.queues.Queue[Any],
    stop_event: Any,
) -> None:
    """One segment in a spawned process; reports ("progress", i, n), ("done", i, RawTrack), ("cancelled", i,
    None), ("error", i, message) or ("crash", i, traceback) on `results`. The process reports only through
    `results`, so everything native code writes on its stderr goes to MediaPipe's log file."""
    NativeLogFile().take_over_stderr()
    try:
        import cv2

        cv2.setNumThreads(1)
        seed = None
        while True:
            if stop_event.is_set():
                results.put(("cancelled", index, None))
                return
            try:
                seed = seeds.get(timeout=_POLL_S)
                break
            except queue.Empty:
                continue
        info = videoio.probe(path)
        frames = videoio.frames(path, first, stop, stride, info=info, threads=1, cancel=stop_event.is_set)

        def report(done: int, _: SubjectTracker) -> None:
            if done % 5 == 0:
                results.put(("progress", index, done))

        raw = track_frames(
            frames,
            (info.width, info.height),
            settings,
            tracking,
            seed=seed,
            on_frame=report,
            cancel=stop_event.is_set,
        )
        results.put(("done", index, raw))
    except Cancelled:
        results.put(("cancelled", index, None))
    except MocapError as exc:
        results.put(("error", index, str(exc)))
    except BaseException:
        results.put(("crash", index, traceback.format_exc()))


def same_subject(before: RawTrack, after: RawTrack, tracking: TrackingSettings, scale: float) -> bool:
    """Whether the overlap frames of two segments follow the same person (see the module docstring).

    `before` and `after` cover the same frames; `scale` is the subject's torso length in pixels.
    """
    if len(before) != len(after) or not np.array_equal(before.frame_index, after.frame_index):
        return False
    if not np.allclose(before.timestamps, after.timestamps, atol=1e-6):
        return False
    hips_b = before.keypoints[:, HIPS].mean(axis=1)
    hips_a = after.keypoints[:, HIPS].mean(axis=1)
    both = before.detected & after.detected
    if both.any():
        gap = np.linalg.norm(hips_b[both] - hips_a[both], axis=1)
        return bool(np.median(gap) <= 0.5 * scale)
    seen_b, seen_a = np.flatnonzero(before.detected), np.flatnonzero(after.detected)
    if len(seen_b) == 0:
        return True  # nothing to compare: both chose by the same rule
    if len(seen_a) == 0:
        return False  # the previous segment sees the subject here, this one has not found them yet
    i, j = seen_b[-1], seen_a[0]
    dt = abs(float(after.timestamps[j] - before.timestamps[i]))
    limit = scale * (tracking.jump_margin + tracking.max_speed * dt)
    return bool(np.linalg.norm(hips_a[j] - hips_b[i]) <= limit)


def _scale_of(part: RawTrack) -> float:
    if part.final is not None:
        return part.final.scale
    seen = np.flatnonzero(part.detected)
    if len(seen) == 0:
        return 1.0
    from lifting.video2d.mediapipe_pose import PoseResult

    i = seen[-1]
    return centre_and_scale(PoseResult(part.keypoints[i], part.visibility[i]))[1]


def detect_segments(
    path: Path,
    info: videoio.VideoInfo,
    plan: list[Segment],
    start: int,
    stride: int,
    settings: DetectorSettings,
    tracking: TrackingSettings,
    *,
    stop: int | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RawTrack:
    """Detect the planned segments (positions → video frames `start + position · stride`; the last segment runs
    to `stop`, None = the end) in parallel and stitch them; see the module docstring."""
    total = plan[-1].stop
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.queues.Queue[Any] = ctx.Queue()
    stop_event = ctx.Event()
    seeds: list[multiprocessing.queues.Queue[Any]] = []
    procs: list[Any] = []

    def frame_of(position: int) -> int:
        return start + position * stride

    for seg in plan[1:]:
        seed_q: multiprocessing.queues.Queue[Any] = ctx.Queue()
        seg_stop = stop if seg.index == len(plan) - 1 else frame_of(seg.stop)
        proc = ctx.Process(
            target=_worker,
            args=(
                seg.index,
                str(path),
                frame_of(seg.warm),
                seg_stop,
                stride,
                settings,
                tracking,
                seed_q,
                results,
                stop_event,
            ),
            name=f"lifting-detect-{seg.index}",
            daemon=True,
        )
        proc.start()
        seeds.append(seed_q)
        procs.append(proc)

    done: dict[int, RawTrack | None] = {}
    counts = [0] * len(plan)
    seeded = False

    def send_seeds(seed: npt.NDArray[np.float32] | None) -> None:
        nonlocal seeded
        if not seeded:
            for q in seeds:
                q.put(seed)
            seeded = True

    def drain(block: bool) -> None:
        while True:
            try:
                kind, index, payload = results.get(timeout=_POLL_S) if block else results.get_nowait()
            except queue.Empty:
                return
            block = False
            if kind == "progress":
                counts[index] = int(payload)
            elif kind == "done":
                done[index] = payload
                counts[index] = len(payload)
            elif kind == "error":
                raise MocapError(str(payload))
            elif kind == "crash":
                raise RuntimeError(f"detection worker {index} failed:\n{payload}")
            elif kind == "cancelled" and not stop_event.is_set():
                raise RuntimeError(f"detection worker {index} stopped without being asked to")

    def report() -> None:
        if progress is not None:
            n = min(sum(counts), total)
            progress(n / total, f"frame {n}/{total} ({len(plan)} processes)")

    def on_frame(n: int, tracker: SubjectTracker) -> None:
        counts[0] = n
        if not seeded and tracker.seed is not None:
            send_seeds(tracker.seed)
        if n % 5 == 0:
            drain(block=False)
            report()

    try:
        first = plan[0]
        frames = videoio.frames(path, start, frame_of(first.stop), stride, info=info, cancel=cancel)
        size = (info.width, info.height)
        head = track_frames(frames, size, settings, tracking, on_frame=on_frame, cancel=cancel)
        send_seeds(head.seed)
        while len(done) < len(procs):
            if cancel is not None and cancel():
                raise Cancelled(CANCELLED)
            drain(block=True)
            report()
            for proc, seg in zip(procs, plan[1:], strict=True):
                if seg.index not in done and not proc.is_alive():
                    drain(block=False)
                    if seg.index not in done:
                        # Died without a word (killed, or could not start: a script without the
                        # `if __name__ == "__main__":` guard); its segment is detected here instead.
                        done[seg.index] = None
        parts = [head]
        previous = head
        redo_total = 0  # frames detected again here so far, and their count once a redo is known
        redone = 0
        for seg in plan[1:]:
            raw = done[seg.index]
            overlap = seg.start - seg.warm
            if (
                raw is not None
                and len(previous) >= overlap
                and same_subject(
                    previous.slice(len(previous) - overlap),
                    raw.slice(0, overlap),
                    tracking,
                    _scale_of(previous),
                )
            ):
                part = raw.slice(overlap)
            else:
                # The worker followed someone else (or its frames did not line up): detect this segment here,
                # continuing the previous segment's subject; the bar goes on over the frames detected again.
                why = "its process did not finish" if raw is None else "its process followed someone else"
                label = f"frames {frame_of(seg.start)}-{frame_of(seg.stop) - 1} again ({why})"
                redo_total += seg.stop - seg.start
                on_redo = _redo_reporter(progress, label, total, redone, redo_total)
                seg_stop = stop if seg.index == len(plan) - 1 else frame_of(seg.stop)
                frames = videoio.frames(path, frame_of(seg.start), seg_stop, stride, info=info, cancel=cancel)
                seed: SubjectState | npt.NDArray[np.float32] | None = previous.final or previous.seed
                part = track_frames(
                    frames, size, settings, tracking, seed=seed, on_frame=on_redo, cancel=cancel
                )
                redone += len(part)
            parts.append(part)
            previous = part
        return RawTrack.concat(parts)
    except BaseException:
        stop_event.set()
        raise
    finally:
        send_seeds(None)
        _stop_workers(procs, results)
        results.close()
        for q in seeds:
            q.close()


def _redo_reporter(
    progress: Progress | None, label: str, total: int, before: int, redo_total: int
) -> Callable[[int, SubjectTracker], None]:
    """`on_frame` for a segment detected again in the calling process: the bar goes on over
    `total + redo_total` frames (the redone ones counted again), `before` of them redone already."""

    def on_frame(n: int, _: SubjectTracker) -> None:
        if progress is not None and n % 5 == 0:
            progress(min((total + before + n) / (total + redo_total), 1.0), f"{label}: frame {n}")

    return on_frame


def _stop_workers(procs: list[Any], results: multiprocessing.queues.Queue[Any], timeout: float = 5.0) -> None:
    """Wait for the worker processes to end, reading (and dropping) what they still send: a process that has
    put a large result on a queue cannot exit before it is read. Processes still alive after `timeout`
    seconds are terminated."""
    deadline = time.monotonic() + timeout
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        try:
            results.get(timeout=_POLL_S)
        except queue.Empty:
            pass
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
        proc.join(timeout=1.0)
