"""Engine tasks, independent of how they are driven: `start`, then `step` until it returns an Outcome, then
`finish`. The operators drive them from a timer (modal, the UI never freezes) or in a loop (scripts and
background mode); `cancel` kills the engine process. Nothing in the scene changes before `finish` succeeds.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import bpy

from . import paths
from .apply import ApplyError, ApplyOptions, apply_motion, load_motion, motion_label
from .engine import (
    REQUIREMENTS_FILE,
    EngineError,
    Requirements,
    bundled_pip_version,
    check_argv,
    check_checkpoint,
    check_python,
    fov_from_focal,
    has_nvidia_gpu,
    install_steps,
    module_available,
    pip_failure_cause,
    platform_problem,
    python_problem,
    relocate_venv,
    requirements_digest,
    stamp_problem,
    worker_env,
    write_stamp,
)
from .preferences import preferences
from .retarget.events import PROTOCOL_VERSION
from .worker_client import JobSequence, Outcome, Step, WorkerJob

# Share of the whole run each worker stage takes, for one progress bar.
STAGE_WEIGHTS = {"detect": 0.75, "lift": 0.2, "save": 0.05}
STAGE_LABELS = {"detect": "Detecting 2D keypoints", "lift": "Lifting to 3D", "save": "Saving"}


class TaskError(Exception):
    """What went wrong, in one sentence for the report area."""


def _sentence(text: str) -> str:
    t = " ".join(str(text).split())
    t = t[:1].upper() + t[1:]
    return t if t.endswith((".", "!", "?")) else t + "."


class EngineTask:
    """Base: one WorkerJob; subclasses build its command and handle its result."""

    kind = "task"
    label = "Working"
    # The share of the whole task each progress stage takes, in order, and the stages' names.
    stage_weights: dict[str, float] = STAGE_WEIGHTS
    stage_labels: dict[str, str] = STAGE_LABELS

    def __init__(self) -> None:
        self.job: WorkerJob | None = None
        self.fraction = 0.0
        self.stage = ""
        self.message = ""
        self.warnings: list[str] = []
        self.log_path: Path | None = None

    # -- subclass interface --------------------------------------------------------------------------------
    def command(self, context: bpy.types.Context) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def on_done(self, context: bpy.types.Context, outcome: Outcome) -> str:
        """Use the result; return the success message; raise TaskError."""
        return "Done."

    # -- driving -------------------------------------------------------------------------------------------
    def start(self, context: bpy.types.Context) -> None:
        argv, env = self.command(context)
        self.log_path = paths.logs_dir() / f"{self.kind}.log"
        self.job = WorkerJob(argv, env=env, log_path=self.log_path)
        try:
            self.job.start()
        except OSError as exc:
            raise TaskError(
                _sentence(f"the engine could not be started ({exc}); check the add-on's preferences")
            ) from None
        self.stage, self.message = "start", f"{self.label}..."

    def step(self, context: bpy.types.Context) -> Outcome | None:
        job = self.job
        assert job is not None
        for ev in job.poll():
            self.on_event(ev)
        return None if job.running() else job.outcome()

    def on_event(self, ev: dict[str, Any]) -> None:
        if ev.get("event") == "warning":
            self.warnings.append(str(ev.get("message", "")))
            return
        if ev.get("event") != "progress":
            return
        stage = str(ev.get("stage", ""))
        frac = float(ev.get("fraction", 0.0))
        weights = self.stage_weights
        order = list(weights)
        if stage in weights:
            before = sum(weights[s] for s in order[: order.index(stage)])
            self.fraction = min(1.0, before + weights[stage] * frac)
        else:
            self.fraction = min(1.0, max(0.0, frac))
        self.stage = stage
        label = {**STAGE_LABELS, **self.stage_labels}.get(stage, stage.capitalize())
        self.message = f"{label} {round(100 * frac)}%" + (f" ({ev['message']})" if ev.get("message") else "")

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> str:
        if outcome.status == "cancelled":
            raise TaskError("Cancelled; nothing was changed.")
        if outcome.status != "done":
            raise TaskError(_sentence(outcome.message))
        message = self.on_done(context, outcome)
        return " ".join([message, *(f"Warning: {_sentence(w)}" for w in dict.fromkeys(self.warnings))])


# -- inputs shared by several tasks ---------------------------------------------------------------------------
def engine_python(context: bpy.types.Context) -> str:
    prefs = preferences(context)
    try:
        python = prefs.engine_python()
        if prefs.engine_source == "MANAGED" and not Path(python).exists():
            raise EngineError(
                "no engine is installed; open the add-on's preferences and press Install Engine."
            )
        check_python(python)
    except EngineError as exc:
        raise TaskError(_sentence(str(exc))) from None
    if not (paths.ENGINE_SOURCE / "lifting" / "app" / "worker.py").is_file():
        raise TaskError("The add-on's engine files are missing; reinstall the add-on.")
    return python


def engine_env() -> dict[str, str]:
    return worker_env(paths.ENGINE_SOURCE, paths.pycache_dir())


def device_arg(context: bpy.types.Context) -> str:
    return {"AUTO": "auto", "CUDA": "cuda", "CPU": "cpu"}[preferences(context).device]


def weights_arg(context: bpy.types.Context) -> str | None:
    path = preferences(context).weights_path
    if not path:
        return None
    try:
        return str(check_checkpoint(bpy.path.abspath(path)))
    except EngineError as exc:
        raise TaskError(_sentence(str(exc))) from None


def video_arg(settings: Any) -> str:
    if not settings.video_path:
        raise TaskError("Choose a video file first.")
    video = bpy.path.abspath(settings.video_path)
    if not os.path.isfile(video):
        raise TaskError(_sentence(f"the video {video!r} does not exist; choose another file"))
    return video


def range_args(settings: Any) -> list[str]:
    """`--frames A:B` and `--subject X,Y --subject-frame N` for detection, from the panel's range and the chosen
    person (picked on video frame N, anywhere in the range: detection follows them before and after it)."""
    argv = []
    frames = settings.frames_arg()
    if frames is not None:
        argv += ["--frames", frames]
    try:
        subject = settings.subject_arg()
    except ValueError as exc:
        raise TaskError(str(exc)) from None
    if subject is not None:
        argv += ["--subject", subject, "--subject-frame", str(settings.people_frame)]
    return argv


def detect_args(settings: Any) -> list[str]:
    """Everything detection takes from the panel: `range_args` and `--hands` when the hands are asked for."""
    return range_args(settings) + (["--hands"] if settings.hands else [])


def fov_arg(settings: Any) -> float | None:
    if settings.camera_mode == "FOV":
        return float(settings.fov_deg)
    if settings.camera_mode == "FOCAL":
        return fov_from_focal(settings.focal_mm, settings.sensor_mm)
    return None


def target_armature(settings: Any) -> str | None:
    """Name of the chosen armature (None: create one)."""
    obj = settings.armature
    if obj is None:
        return None
    if obj.type != "ARMATURE":
        raise TaskError(_sentence(f"{obj.name!r} is not an armature; pick an armature"))
    return str(obj.name)


def apply_options(settings: Any, name: str) -> ApplyOptions:
    return ApplyOptions(
        preset=None if settings.preset == "AUTO" else settings.preset,
        smoothing=float(settings.smoothing),
        foot_lock=bool(settings.foot_lock),
        fingers=bool(settings.fingers),
        key_frame_start=int(settings.key_frame_start),
        match_fps=bool(settings.match_fps),
        match_camera=bool(settings.match_camera),
        video_path=settings.video_path,
        video_first_frame=int(settings.frame_first),
        name=name,
    )


def apply_file(
    context: bpy.types.Context, motion_path: str, armature_name: str | None, options: ApplyOptions
) -> str:
    """Load a motion file and apply it; returns the success message; TaskError on any user problem."""
    target = None
    if armature_name is not None:
        target = bpy.data.objects.get(armature_name)
        if target is None:
            raise TaskError(_sentence(f"the armature {armature_name!r} was deleted; pick another one"))
    try:
        motion = load_motion(motion_path)
        report = apply_motion(context, motion, target, options)
    except ApplyError as exc:
        raise TaskError(_sentence(str(exc))) from None
    message = (
        f"Animated {report.armature!r} ({report.preset} rig): {report.frames} frames "
        f"in Action {report.action!r}, frames {options.key_frame_start}-{report.frame_end}."
    )
    if report.summary():
        message += " " + report.summary()
    if report.warning:
        message += " Warning: " + _sentence(report.warning)
    return message


# -- the tasks ------------------------------------------------------------------------------------------------
class LiftTask(EngineTask):
    """Video -> .motion.npz in the engine; with `apply`, then keys on the armature (the main button)."""

    kind = "pipeline"
    label = "Video to Animation"

    def __init__(self, apply: bool) -> None:
        super().__init__()
        self.apply = apply
        self.out: Path | None = None
        self.armature: str | None = None
        self.options: ApplyOptions | None = None

    def command(self, context: bpy.types.Context) -> tuple[list[str], dict[str, str]]:
        settings = context.scene.video_mocap
        video = video_arg(settings)
        python = engine_python(context)
        weights = weights_arg(context)
        if self.apply:
            self.armature = target_armature(settings)
            self.options = apply_options(settings, motion_label(settings.video_path))
        run_dir = paths.new_run_dir(Path(video).stem)
        self.out = run_dir / (Path(video).stem + ".motion.npz")
        argv = [python, "-m", "lifting", "worker", "run", "--video", video, "--out", str(self.out)]
        argv += ["--keypoints-cache", str(paths.keypoints_cache_dir()), "--device", device_arg(context)]
        argv += detect_args(settings)
        fov = fov_arg(settings)
        if fov is not None:
            argv += ["--fov", f"{fov:.6g}"]
        if weights is not None:
            argv += ["--weights", weights]
        if not settings.constant_bones:
            argv.append("--free-bones")
        if settings.refine:
            argv.append("--refine")
        return argv, engine_env()

    def on_done(self, context: bpy.types.Context, outcome: Outcome) -> str:
        result = outcome.result or ""
        if not result or not os.path.isfile(result):
            raise TaskError("The engine finished without writing a motion file; see the engine log.")
        if not self.apply:
            context.scene.video_mocap.motion_path = result
            return f"Motion saved to {result!r}; press Apply to key it."
        assert self.options is not None
        message = apply_file(context, result, self.armature, self.options)
        context.scene.video_mocap.motion_path = result
        return message


class DetectTask(EngineTask):
    """Video -> the 2D keypoints cache (so Lift later only runs the model)."""

    kind = "detect"
    label = "Detecting 2D keypoints"

    def command(self, context: bpy.types.Context) -> tuple[list[str], dict[str, str]]:
        settings = context.scene.video_mocap
        video = video_arg(settings)
        python = engine_python(context)
        argv = [python, "-m", "lifting", "worker", "detect", "--video", video]
        argv += ["--keypoints-cache", str(paths.keypoints_cache_dir())]
        argv += detect_args(settings)
        return argv, engine_env()

    def on_done(self, context: bpy.types.Context, outcome: Outcome) -> str:
        return "2D keypoints detected and cached; Lift will reuse them."


PEOPLE_IMAGE = "Mocap People"


class PeopleTask(EngineTask):
    """Everyone found on one frame of the range (`people_at`, 0: the first): a numbered picture (an image in
    the file, shown in the panel) and the points that pick each of them as the person to follow."""

    kind = "people"
    label = "Finding people"

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, Any]] = []
        self.frame = 0
        self.video = ""

    def command(self, context: bpy.types.Context) -> tuple[list[str], dict[str, str]]:
        settings = context.scene.video_mocap
        video = video_arg(settings)
        try:
            self.frame = settings.people_look_frame()
        except ValueError as exc:
            raise TaskError(str(exc)) from None
        self.video = settings.video_path
        out = paths.new_run_dir(Path(video).stem) / f"people-{self.frame}.png"
        argv = [engine_python(context), "-m", "lifting", "worker", "people", "--video", video]
        argv += ["--frame", str(self.frame), "--out", str(out)]
        return argv, engine_env()

    def on_event(self, ev: dict[str, Any]) -> None:
        if ev.get("event") == "people":
            self.found = list(ev.get("people") or [])
            return
        super().on_event(ev)

    def on_done(self, context: bpy.types.Context, outcome: Outcome) -> str:
        settings = context.scene.video_mocap
        settings.people.clear()
        for person in self.found:
            item = settings.people.add()
            item.number = int(person["number"])
            item.x, item.y = (float(v) for v in person["point"])
        settings.people_frame, settings.people_video = self.frame, self.video
        settings.subject = 0
        old = bpy.data.images.get(PEOPLE_IMAGE)
        if old is not None:
            bpy.data.images.remove(old)
        try:
            image = bpy.data.images.load(outcome.result or "", check_existing=False)
        except RuntimeError:
            image = None
        if image is not None:
            image.name = PEOPLE_IMAGE
            image.pack()  # the picture stays with the file; the run folder may be cleaned up
        settings.people_image = image.name if image is not None else ""
        if not self.found:
            return f"Nobody was found on frame {self.frame}; look at another frame and try again."
        many = "person" if len(self.found) == 1 else "people"
        return f"Found {len(self.found)} {many} on frame {self.frame}; pick the one to follow by number."


class CheckTask(EngineTask):
    """Versions and the device the engine will use, shown in the preferences."""

    kind = "check"
    label = "Checking the engine"

    def __init__(self) -> None:
        super().__init__()
        self.info: dict[str, Any] = {}

    def command(self, context: bpy.types.Context) -> tuple[list[str], dict[str, str]]:
        python = engine_python(context)
        return [python, "-m", "lifting", "worker", "check", "--device", device_arg(context)], engine_env()

    def on_event(self, ev: dict[str, Any]) -> None:
        if ev.get("event") == "check":
            self.info = ev
        super().on_event(ev)

    def on_done(self, context: bpy.types.Context, outcome: Outcome) -> str:
        protocol = self.info.get("protocol")
        if protocol != PROTOCOL_VERSION:
            raise TaskError(
                f"The engine speaks event protocol {protocol}, this add-on {PROTOCOL_VERSION}: they come from "
                "different versions; install the engine again from the add-on's preferences."
            )
        versions = f" ({engine_versions(self.info)})" if self.info.get("packages") else ""
        return f"Engine ready{versions}; it will run on {outcome.result}."

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> str:
        context.window_manager.video_mocap_status.engine_info = engine_summary(self.info) if self.info else ""
        return super().finish(context, outcome)


def engine_summary(info: dict[str, Any]) -> str:
    """One line per fact, joined by ' | ' (the preferences show one label each)."""
    pk = info.get("packages", {})
    gpu = info.get("gpu")
    lines = [
        f"Python {info.get('python')} ({info.get('executable')})",
        f"torch {pk.get('torch')}, CUDA {'yes: ' + str(gpu) if info.get('cuda_available') else 'no'}",
        f"mediapipe {pk.get('mediapipe')}, OpenCV {pk.get('opencv-python-headless')}, numpy {pk.get('numpy')}",
        f"Device: {info.get('device') or 'none'}; shipped weights: {', '.join(info.get('weights', [])) or 'none'}",
    ]
    return " | ".join(lines)


def engine_versions(info: dict[str, Any]) -> str:
    """The engine's main packages from its check event: "torch 2.13.0, MediaPipe 1.2.3, numpy 1.26.4, OpenCV
    4.11.0.86" ("unknown" for one its Python does not list under that name)."""
    packages = info.get("packages") or {}
    names = (
        ("torch", "torch"),
        ("MediaPipe", "mediapipe"),
        ("numpy", "numpy"),
        ("OpenCV", "opencv-python-headless"),
    )
    return ", ".join(f"{label} {packages.get(name) or 'unknown'}" for label, name in names)


def online_problem() -> str | None:
    """Why nothing can be downloaded now (Blender's online access is off), in one sentence; None when it can."""
    if bpy.app.online_access:
        return None
    if getattr(bpy.app, "online_access_override", False):
        return (
            "Blender was started in offline mode, so the engine cannot be downloaded; restart Blender without "
            "--offline-mode, or choose My Own Python in the preferences."
        )
    return (
        "Online access is off, so the engine cannot be downloaded; allow it in Preferences > System > Network, or "
        "choose My Own Python in the add-on's preferences."
    )


class InstallTask:
    """Creates the managed engine: a venv made with Blender's Python, pinned packages, then a check, built in a
    temporary folder and renamed into place at the end (a cancelled or failed run leaves the engine there as it
    was). An installed engine whose record matches this add-on's requirements and Python and whose check passes
    is current and left alone, unless `repair` asks for a rebuild; any other installed engine is rebuilt, and the
    result says why."""

    kind = "install"
    label = "Installing the engine"

    def __init__(self, repair: bool = False) -> None:
        self.repair = repair
        self.sequence: JobSequence | None = None
        self.fraction = 0.0
        self.stage = ""
        self.message = ""
        self.log_path: Path | None = None
        self.tmp: Path | None = None
        self.requirements: Requirements | None = None
        self.digest = ""
        self.replacing = False  # an engine is installed already
        self.verifying = False  # checking the installed engine, to decide whether to rebuild it
        self.current = False  # the installed engine is current: nothing was built
        self.reason = ""  # why an installed engine is rebuilt ("" when it is not, or on repair)
        self.refusal: str | None = None  # why a rebuild found necessary after the check cannot start

    def start(self, context: bpy.types.Context) -> None:
        source = paths.ENGINE_SOURCE / REQUIREMENTS_FILE
        try:
            self.requirements = Requirements.load(source)
            self.digest = requirements_digest(source)
        except EngineError as exc:
            raise TaskError(_sentence(str(exc))) from None
        venv = paths.managed_venv()
        self.replacing = paths.managed_python().exists()
        if self.replacing and not self.repair:
            self.reason = stamp_problem(venv, self.digest) or ""
        if self.replacing and not self.repair and not self.reason:
            # Recorded as current: only its check decides (no download, so also when offline).
            self.verifying = True
            check = Step("Checking the installed engine", check_argv(paths.managed_python()), engine_env())
            self._run([check], f"Checking the engine in {venv}")
            return
        try:
            self._build()
        except TaskError as exc:
            raise self._refused(exc) from None

    def _refused(self, exc: TaskError) -> TaskError:
        """`exc` (why no engine can be built now), saying first why the installed one needs rebuilding."""
        if not self.reason:
            return exc
        said = str(exc).rstrip(".")
        return TaskError(
            _sentence(
                f"the engine needs reinstalling because {self.reason}, but {said[:1].lower() + said[1:]}"
            )
        )

    def _build(self) -> None:
        """Start building the engine in the temporary folder (TaskError, before anything is written, when it
        cannot be built here now)."""
        assert self.requirements is not None
        problem = platform_problem() or python_problem(self.requirements.requires_python)
        if problem is not None:  # before anything is downloaded
            raise TaskError(_sentence(problem))
        offline = online_problem()
        if offline is not None:
            raise TaskError(offline)
        venv = paths.managed_venv()
        self.tmp = venv.with_name(venv.name + ".tmp")
        _remove_tree(self.tmp)
        steps = install_steps(
            sys.executable,
            self.tmp,
            self.requirements,
            paths.ENGINE_SOURCE,
            paths.pycache_dir(),
            gpu=has_nvidia_gpu(),
            pip_version=bundled_pip_version(),
        )
        why = "Repair Engine was asked for" if self.repair else self.reason
        self._run(steps, f"Installing the engine into {venv}" + (f" because {why}" if why else ""))

    def _run(self, steps: list[Step], title: str) -> None:
        """Run `steps`, logged under `title` in this attempt's log."""
        if self.log_path is None:
            # One log per attempt, kept: a cancelled reinstall must not erase the log of the install that works.
            self.log_path = paths.logs_dir() / f"engine-install-{time.strftime('%Y%m%d-%H%M%S')}.log"
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"{title} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        self.sequence = JobSequence(steps, log_path=self.log_path, explain=pip_failure_cause)
        self.sequence.start()
        self.fraction, self.stage, self.message = 0.0, steps[0].label, steps[0].label

    def step(self, context: bpy.types.Context) -> Outcome | None:
        assert self.sequence is not None
        out = self.sequence.step()
        self.fraction = self.sequence.fraction
        self.stage = self.sequence.steps[min(self.sequence.index, len(self.sequence.steps) - 1)].label
        self.message = self.sequence.message
        if out is None or not self.verifying:
            return out
        self.verifying = False
        if out.status == "done":
            self.current = True
            return out
        if out.status == "cancelled":
            return out
        said = (self.sequence.results[-1].message if self.sequence.results else out.message).rstrip(".")
        self.reason = f"the installed engine failed its check ({said[:1].lower() + said[1:]})"
        try:
            self._build()
        except TaskError as exc:
            self.refusal = str(self._refused(exc))
            return Outcome("error", message=self.refusal)
        return None

    def cancel(self) -> None:
        if self.sequence is not None:
            self.sequence.cancel()

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> str:
        check = self.sequence.events.get("check") if self.sequence is not None else None
        if outcome.status == "done" and check is not None:
            context.window_manager.video_mocap_status.engine_info = engine_summary(check)
        versions = f" ({engine_versions(check)})" if check is not None else ""
        if self.current and outcome.status == "done":
            preferences(context).engine_source = "MANAGED"
            return f"The engine is already installed and up to date{versions}; use Repair Engine to reinstall it."
        if self.refusal is not None:
            raise TaskError(self.refusal)
        if outcome.status != "done" or self.tmp is None:
            if self.tmp is not None:
                _remove_tree(self.tmp)
            if outcome.status == "cancelled":
                raise TaskError("Engine installation cancelled; the previous engine, if any, is unchanged.")
            message = outcome.message.rstrip(".")
            where = "" if "(log: " in message else f" (log: {self.log_path})"
            raise TaskError(_sentence(message + where))
        note = ""
        try:
            write_stamp(self.tmp, self.digest)
        except OSError as exc:
            note = f" Its install record could not be written ({exc}), so Install Engine will build it again."
        venv = paths.managed_venv()
        old = venv.with_name(venv.name + ".old")
        _remove_tree(old)
        if venv.exists():
            venv.rename(old)
        self.tmp.rename(venv)
        relocate_venv(venv, self.tmp)  # its scripts named the temporary folder
        _remove_tree(old)
        preferences(context).engine_source = "MANAGED"
        if not self.replacing:
            head = f"Engine installed in {venv}"
        elif self.repair:
            head = f"Engine repaired: reinstalled in {venv}"
        else:
            head = f"Engine reinstalled in {venv} because {self.reason}"
        return f"{head}{versions}; it runs on {outcome.result or 'the CPU'}.{note}"


def _remove_tree(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    for p in sorted(path.rglob("*"), key=lambda q: len(q.parts), reverse=True):
        if p.is_symlink() or p.is_file():
            p.unlink()
        else:
            p.rmdir()
    path.rmdir()


def finetune_report_text(report: dict[str, Any]) -> str:
    """The panel's lines from the engine's "finetune" event: what was kept, then each row of the before/after
    table on the held-out clips as "label: before → after (change)"."""
    held = report.get("holdout") or []
    head = (
        f"Kept: {Path(str(report.get('weights'))).name}"
        if report.get("kept")
        else "Not kept: no better on held-out"
    )
    lines = [head, f"Held out: {', '.join(map(str, held))}"]
    for label, before, after in report.get("table") or []:
        change = f" ({100.0 * (after - before) / before:+.0f} %)" if before else ""
        lines.append(f"{label}: {before:.1f} → {after:.1f}{change}")
    return "\n".join(lines)


class ModuleTask(EngineTask):
    """`python -m lifting COMMAND ARGS` in the engine with the worker protocol, once the engine is known to have
    the command's MODULE; generic launcher (fine-tuning)."""

    kind = "module"

    def __init__(self, module: str, name: str, args: list[str], label: str) -> None:
        super().__init__()
        self.module = module
        self.name = name
        self.args = args
        self.label = label

    def command(self, context: bpy.types.Context) -> tuple[list[str], dict[str, str]]:
        python = engine_python(context)
        env = engine_env()
        if not module_available(python, self.module, env):
            raise TaskError(
                f"This engine has no {self.module} module yet; update the add-on and install the engine again."
            )
        return [python, "-m", "lifting", self.name, *self.args], env


class FinetuneTask(ModuleTask):
    """Fine-tune the model on the clip list (the engine holds some clips out to judge the result); the new weights
    become the active weights when they were kept, and the panel shows the before/after table."""

    kind = "finetune"
    MODULE = "lifting.app.finetune"
    stage_weights = {"detect": 0.2, "train": 0.7, "evaluate": 0.1}  # noqa: RUF012 (read only)
    stage_labels = {"train": "Training", "evaluate": "Measuring the held-out clips"}  # noqa: RUF012

    def __init__(self) -> None:
        super().__init__(self.MODULE, "finetune", [], "Fine-tuning")
        self.out_dir: Path | None = None
        self.report: dict[str, Any] | None = None

    def command(self, context: bpy.types.Context) -> tuple[list[str], dict[str, str]]:
        settings = context.scene.video_mocap
        clips = [bpy.path.abspath(c.path) for c in settings.finetune_clips if c.path]
        if not clips:
            raise TaskError("Add at least one video to the fine-tuning list.")
        missing = [c for c in clips if not os.path.isfile(c)]
        if missing:
            raise TaskError(_sentence(f"the clip {missing[0]!r} does not exist; remove it from the list"))
        self.out_dir = paths.weights_dir() / time.strftime("finetuned-%Y%m%d-%H%M%S")
        self.args = ["--clips", *clips, "--out", str(self.out_dir), "--events"]
        weights = weights_arg(context)
        if weights is not None:
            self.args += ["--base", weights]
        self.args += ["--device", device_arg(context)]
        return super().command(context)

    def on_event(self, ev: dict[str, Any]) -> None:
        if ev.get("event") == "finetune":
            self.report = ev
            return
        super().on_event(ev)

    def on_done(self, context: bpy.types.Context, outcome: Outcome) -> str:
        report = self.report
        if report is not None:
            context.scene.video_mocap.finetune_report = finetune_report_text(report)
            if not report.get("kept"):
                return (
                    "Fine-tuning did not make the held-out clips better, so no new weights were kept; the active "
                    "weights are unchanged (the table is in the Fine-tuning panel)."
                )
        candidates: list[Path] = []
        if outcome.result:
            candidates.append(Path(outcome.result))
        if report is None and self.out_dir is not None and self.out_dir.is_dir():  # an engine before issue 25
            candidates += sorted(
                self.out_dir.rglob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True
            )
        for c in candidates:
            try:
                stem = check_checkpoint(str(c))
            except EngineError:
                continue
            before = preferences(context).weights_path or "the shipped weights"
            preferences(context).weights_path = str(stem) + ".safetensors"
            return (
                f"Fine-tuned weights {stem.name!r} are now the active weights (before: {before}; switch back "
                "under Weights in the add-on's preferences)."
            )
        raise TaskError("Fine-tuning finished without usable weights; see the fine-tuning log.")
