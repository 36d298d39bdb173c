"""The worker protocol (lifting.app.worker) and the add-on's client for it (blender_addon.worker_client).

`lifting.app.api` is replaced by a small fake here (and only here) so the protocol is tested on its own: in process
through `main(argv, stdout)`, and as a real subprocess started with an argument list, the way the add-on does.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lifting.app import worker
from lifting.app.options import parse_frames
from lifting.errors import MocapError
from retarget.events import EXIT_INTERNAL, EXIT_USER
from retarget.motion3d import Motion3D
from tests.support.addon import addon_module
from tests.support.paths import ROOT
from tests.support.synthetic import camera_motion, walking_joints

worker_client = addon_module("worker_client")
JobSequence, Step, WorkerJob = worker_client.JobSequence, worker_client.Step, worker_client.WorkerJob


def fake_motion(frames: int = 20) -> Motion3D:
    world, _ = walking_joints(frames, slide=0.0, jitter=0.0)
    return camera_motion(world, 30.0)


def fake_api(calls: dict[str, Any], *, lift_error: Exception | None = None) -> types.ModuleType:
    api = types.ModuleType("lifting.app.api")

    def detect(
        video_path: Any,
        *,
        frames: Any = None,
        subject: Any = None,
        subject_frame: Any = None,
        hands: bool = False,
        cache_dir: Any = None,
        progress: Any = None,
    ) -> str:
        calls["detect"] = {"video": video_path, "frames": frames, "cache_dir": cache_dir, "hands": hands}
        if subject is not None:
            calls["detect"].update(subject=subject, subject_frame=subject_frame)
        for i in range(4):
            progress((i + 1) / 4, f"frame {i}")
        return "KEYPOINTS"

    def lift(
        keypoints: Any,
        *,
        weights: Any = None,
        device: str = "auto",
        fov_deg: Any = None,
        constant_bones: bool = True,
        refine: bool = False,
        progress: Any = None,
        cancel: Any = None,
    ) -> Motion3D:
        calls["lift"] = {
            "keypoints": keypoints,
            "weights": weights,
            "device": device,
            "fov": fov_deg,
            "constant_bones": constant_bones,
            "refine": refine,
        }
        progress(0.5)
        if lift_error is not None:
            raise lift_error
        return fake_motion()

    api.detect = detect  # type: ignore[attr-defined]
    api.lift = lift  # type: ignore[attr-defined]
    return api


def run_main(argv: list[str]) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    code = worker.main(argv, stdout=out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"not really a video; the fake API never reads it")
    return path


def test_run_reports_progress_then_done_and_writes_the_motion(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, video: Path
) -> None:
    calls: dict[str, Any] = {}
    monkeypatch.setitem(sys.modules, "lifting.app.api", fake_api(calls))
    weights = tmp_path / "tuned"  # a real checkpoint under another name: the worker validates it first
    for suffix in (".safetensors", ".json"):
        shutil.copy(
            ROOT / "lifting" / "weights" / ("single_frame" + suffix), weights.with_name("tuned" + suffix)
        )
    out = tmp_path / "out" / "clip.motion.npz"
    code, events = run_main(
        [
            *("run", "--video", str(video), "--out", str(out), "--keypoints-cache", str(tmp_path / "kp")),
            *(
                "--frames",
                "10:50",
                "--fov",
                "55",
                "--weights",
                str(weights) + ".safetensors",
                "--device",
                "cpu",
            ),
        ]
    )
    assert code == 0
    assert events[-1] == {"event": "done", "result": str(out)}
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[0]["stage"] == "detect"
    for stage in ("detect", "lift", "save"):
        fractions = [e["fraction"] for e in progress if e["stage"] == stage]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0, stage
    assert calls["detect"]["frames"] == (10, 50)
    assert calls["detect"]["cache_dir"] == tmp_path / "kp"
    assert calls["lift"] == {
        "keypoints": "KEYPOINTS",
        "weights": str(weights),
        "device": "cpu",
        "fov": 55.0,
        "constant_bones": True,
        "refine": False,
    }
    loaded = Motion3D.load(out)
    np.testing.assert_array_equal(loaded.joints, fake_motion().joints)
    assert sorted(p.name for p in out.parent.iterdir()) == ["clip.motion.npz"]  # no temporary left


@pytest.mark.parametrize(
    ("argv_tail", "needle"),
    [
        (["--frames", "x:y"], "--frames must look like A:B"),
        (["--frames", "5:5"], "empty or negative"),
        (["--fov", "400"], "The field of view must be between"),
        (["--weights", "/nowhere/w"], "lack their .safetensors file"),
        (["--device", "tpu"], "invalid choice: 'tpu'"),
        (["--subject-frame", "12"], "--subject-frame 12 needs --subject X,Y"),
        (
            ["--frames", "10:50", "--subject", "5,5", "--subject-frame", "9"],
            "--subject-frame 9 is outside --frames 10:50",
        ),
        (["--subject", "5,5", "--subject-frame", "x"], "--subject-frame takes a video frame number"),
    ],
)
def test_bad_arguments_are_user_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, video: Path, argv_tail: list[str], needle: str
) -> None:
    calls: dict[str, Any] = {}
    monkeypatch.setitem(sys.modules, "lifting.app.api", fake_api(calls))
    out = tmp_path / "m.motion.npz"
    code, events = run_main(["run", "--video", str(video), "--out", str(out), *argv_tail])
    assert code == EXIT_USER
    assert len(events) == 1 and events[0]["event"] == "error" and needle in events[0]["message"]
    assert events[0]["message"].endswith(".") and "\n" not in events[0]["message"]
    assert not out.exists() and calls == {}


@pytest.mark.parametrize("command", ["run", "detect"])
def test_the_subject_and_its_frame_reach_the_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, video: Path, command: str
) -> None:
    calls: dict[str, Any] = {}
    monkeypatch.setitem(sys.modules, "lifting.app.api", fake_api(calls))
    out = ["--out", str(tmp_path / "m.motion.npz")] if command == "run" else []
    which = ["--frames", "150:190", "--subject", "542,723", "--subject-frame", "170"]
    code, events = run_main(
        [command, "--video", str(video), "--keypoints-cache", str(tmp_path), *out, *which]
    )
    assert code == 0, events
    assert calls["detect"]["subject"] == (542.0, 723.0) and calls["detect"]["subject_frame"] == 170


@pytest.mark.parametrize("command", ["run", "detect"])
def test_hands_reach_the_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, video: Path, command: str
) -> None:
    out = ["--out", str(tmp_path / "m.motion.npz")] if command == "run" else []
    for flag, hands in (([], False), (["--hands"], True)):
        calls: dict[str, Any] = {}
        monkeypatch.setitem(sys.modules, "lifting.app.api", fake_api(calls))
        code, events = run_main(
            [command, "--video", str(video), "--keypoints-cache", str(tmp_path), *out, *flag]
        )
        assert code == 0, events
        assert calls["detect"]["hands"] is hands


def test_missing_video_and_user_errors_from_the_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: dict[str, Any] = {}
    monkeypatch.setitem(sys.modules, "lifting.app.api", fake_api(calls))
    code, events = run_main(["run", "--video", str(tmp_path / "gone.mp4"), "--out", str(tmp_path / "o.npz")])
    assert code == 2 and events == [
        {
            "event": "error",
            "message": f"the video {str(tmp_path / 'gone.mp4')!r} does not exist; choose another file.",
        }
    ]
    video = tmp_path / "v.mp4"
    video.write_bytes(b"v")
    bad = fake_api(calls, lift_error=MocapError("the checkpoint 'w' is truncated; download it again."))
    monkeypatch.setitem(sys.modules, "lifting.app.api", bad)
    out = tmp_path / "sub" / "o.motion.npz"
    code, events = run_main(["run", "--video", str(video), "--out", str(out)])
    assert code == 2
    assert events[-1] == {"event": "error", "message": "the checkpoint 'w' is truncated; download it again."}
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_unexpected_failures_exit_1_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(
        sys.modules, "lifting.app.api", fake_api({}, lift_error=RuntimeError("boom\nsecond line"))
    )
    code, events = run_main(["run", "--video", str(video), "--out", str(tmp_path / "o.npz")])
    assert code == EXIT_INTERNAL
    assert events[-1]["event"] == "error"
    assert events[-1]["message"].startswith("the worker failed (RuntimeError: boom second line)")
    assert "Traceback" in capsys.readouterr().err  # the details go to stderr, i.e. the add-on's log


@pytest.mark.parametrize(
    ("flags", "option", "value"),
    [
        ([], "refine", False),
        (["--refine"], "refine", True),
        ([], "constant_bones", True),
        (["--free-bones"], "constant_bones", False),
    ],
)
def test_lift_flags_reach_the_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, video: Path, flags: list[str], option: str, value: bool
) -> None:
    calls: dict[str, Any] = {}
    monkeypatch.setitem(sys.modules, "lifting.app.api", fake_api(calls))
    code, events = run_main(["run", "--video", str(video), "--out", str(tmp_path / "o.npz"), *flags])
    assert code == 0 and events[-1]["event"] == "done"
    assert calls["lift"][option] is value


def test_parse_frames() -> None:
    assert parse_frames(None) is None
    assert parse_frames(":") is None
    assert parse_frames("0:300") == (0, 300)
    assert parse_frames("12:") == (12, None)
    assert parse_frames(":40") == (0, 40)
    with pytest.raises(MocapError):
        parse_frames("1:2:3")


def test_check_runs_as_a_real_process() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "lifting", "worker", "check", "--device", "cpu"],
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    lines = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    check = lines[0]
    import torch

    assert check["event"] == "check" and check["device"] == "cpu"
    assert check["packages"]["torch"] == torch.__version__
    assert check["packages"]["numpy"] == np.__version__
    assert lines[-1] == {"event": "done", "result": "cpu"}


# A worker process whose lifting.app.api is the fake: `python -c BOOT run ...`, mode from FAKE_MODE.
BOOT = """
import os, sys, time, types
from tests.support.synthetic import camera_motion, walking_joints
from lifting.errors import MocapError
mode = os.environ.get("FAKE_MODE", "ok")
api = types.ModuleType("lifting.app.api")
def detect(video, *, frames=None, subject=None, cache_dir=None, progress=None):
    if mode == "crash":
        os._exit(3)
    n = 10**9 if mode == "hang" else 5
    for i in range(n):
        progress(min((i + 1) / 5, 0.99), "frame %d" % i)
        if mode == "hang":
            time.sleep(0.05)
    return None
def lift(kp, *, weights=None, device="auto", fov_deg=None, progress=None, cancel=None):
    if mode == "weights":
        raise MocapError("the weights are corrupt; pick another checkpoint.")
    world, _ = walking_joints(15, slide=0.0, jitter=0.0)
    return camera_motion(world, 30.0)
api.detect, api.lift = detect, lift
sys.modules["lifting.app.api"] = api
print("a plain line that is not JSON", flush=True)
from lifting.app.worker import main
sys.exit(main())
"""


def job_for(tmp_path: Path, mode: str, video: Path, out: Path) -> WorkerJob:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAKE_MODE": mode, "PYTHONIOENCODING": "utf-8"}
    argv = [sys.executable, "-c", BOOT, "run", "--video", str(video), "--out", str(out)]
    return WorkerJob(argv, env=env, log_path=tmp_path / "logs" / "worker.log")


def finish(job: WorkerJob, timeout: float = 60.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    end = time.monotonic() + timeout
    while job.running() and time.monotonic() < end:
        events += job.poll()
        time.sleep(0.02)
    assert not job.running(), "worker did not finish"
    return events


def test_client_runs_the_worker_with_awkward_paths(tmp_path: Path) -> None:
    folder = tmp_path / "my clips 'quoted\" ü ж"
    folder.mkdir()
    video = folder / "take 1 ü.mp4"
    video.write_bytes(b"v")
    out = folder / "résultat 1.motion.npz"
    job = job_for(tmp_path, "ok", video, out)
    job.start()
    events = finish(job)
    outcome = job.outcome()
    assert outcome.status == "done" and outcome.result == str(out) and outcome.returncode == 0
    assert Motion3D.load(out).num_frames == 15
    kinds = [e["event"] for e in events]
    assert kinds[0] == "log" and kinds[-1] == "done" and "progress" in kinds
    assert job.last_progress is not None and job.last_progress["stage"] == "save"
    log = (tmp_path / "logs" / "worker.log").read_text(encoding="utf-8")
    assert "a plain line that is not JSON" in log and "take 1 ü.mp4" in log


@pytest.mark.parametrize(
    ("mode", "needle"),
    [("weights", "The weights are corrupt; pick another checkpoint."), ("crash", "exit status 3")],
)
def test_client_reports_failures_in_one_sentence(tmp_path: Path, mode: str, needle: str) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"v")
    out = tmp_path / "o.motion.npz"
    job = job_for(tmp_path, mode, video, out)
    job.start()
    finish(job)
    outcome = job.outcome()
    assert outcome.status == "error" and needle in outcome.message
    assert outcome.message.endswith(".") and "\n" not in outcome.message
    assert not out.exists()


def test_cancel_kills_the_worker_and_leaves_no_result(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"v")
    out = tmp_path / "o.motion.npz"
    job = job_for(tmp_path, "hang", video, out)
    job.start()
    end = time.monotonic() + 60
    while job.last_progress is None and time.monotonic() < end:
        job.poll()
        time.sleep(0.02)
    assert job.last_progress is not None and job.last_progress["stage"] == "detect"
    job.cancel()
    finish(job, timeout=10)
    outcome = job.outcome()
    assert outcome.status == "cancelled" and outcome.returncode not in (0, None)
    if os.name != "nt":
        assert outcome.returncode == -signal.SIGKILL
    assert not out.exists()


def test_a_missing_program_fails_to_start(tmp_path: Path) -> None:
    job = WorkerJob([str(tmp_path / "no python here")])
    with pytest.raises(OSError):
        job.start()


def test_sequence_runs_steps_in_order_and_stops_at_a_failure(tmp_path: Path) -> None:
    marker = tmp_path / "steps.txt"
    write = "import sys; open(sys.argv[1], 'a').write(sys.argv[2])"
    ok = [
        Step("one", (sys.executable, "-c", write, str(marker), "1")),
        Step("two", (sys.executable, "-c", write, str(marker), "2")),
    ]
    seq = JobSequence(ok, log_path=tmp_path / "install.log")
    seq.start()
    outcome = None
    for _ in range(3000):
        outcome = seq.step()
        if outcome is not None:
            break
        time.sleep(0.01)
    assert outcome is not None and outcome.status == "done" and seq.fraction == 1.0
    assert marker.read_text() == "12"
    bad = [ok[0], Step("broken", (sys.executable, "-c", "import sys; sys.exit(4)")), ok[1]]
    seq = JobSequence(bad, log_path=tmp_path / "install.log")
    seq.start()
    for _ in range(3000):
        outcome = seq.step()
        if outcome is not None:
            break
        time.sleep(0.01)
    assert outcome is not None and outcome.status == "error"
    assert outcome.message.startswith("Broken failed: The engine stopped unexpectedly with exit status 4")
    assert marker.read_text() == "121"  # the step after the failure never ran


# -- the engine installer's plan and the add-on's checks (blender_addon.engine has no bpy) --------------------
def test_install_plan_picks_the_torch_build() -> None:
    engine = addon_module("engine")

    reqs = engine.Requirements("torch==2.13.0", ("numpy==1.26.4", "scipy==1.17.1"), ("mediapipe==0.10.21",))
    target = Path("/u/engine-venv.tmp")
    steps = engine.install_steps(
        "/blender/python", target, reqs, Path("/a/engine"), Path("/u/pyc"), gpu=False, platform="linux"
    )
    assert [s.label for s in steps] == [
        "Creating the environment",
        "Installing PyTorch",
        "Installing the worker's packages",
        "Installing MediaPipe",
        "Checking the engine",
    ]
    assert steps[0].argv == ("/blender/python", "-m", "venv", "--clear", str(target))
    py = str(target / "bin" / "python")
    assert steps[1].argv[:4] == (py, "-m", "pip", "install")
    assert steps[1].argv[-3:] == ("torch==2.13.0", "--index-url", engine.TORCH_CPU_INDEX)
    assert steps[2].argv[-2:] == ("numpy==1.26.4", "scipy==1.17.1")
    assert steps[3].argv[-2:] == ("--no-deps", "mediapipe==0.10.21")
    assert steps[4].argv == (py, "-m", "lifting", "worker", "check")
    assert steps[4].env is not None and steps[4].env["PYTHONPATH"] == "/a/engine"
    assert steps[4].env["PYTHONPYCACHEPREFIX"] == "/u/pyc" and "PYTHONHOME" not in steps[4].env
    assert engine.torch_install_args("torch==2.13.0", gpu=True, platform="linux") == ["torch==2.13.0"]
    assert (
        engine.torch_install_args("torch==2.13.0", gpu=True, platform="win32")[-1] == engine.TORCH_CUDA_INDEX
    )
    assert engine.torch_install_args("torch==2.13.0", gpu=False, platform="darwin") == ["torch==2.13.0"]
    assert engine.venv_python("/v") == (
        Path("/v/Scripts/python.exe") if os.name == "nt" else Path("/v/bin/python")
    )


def test_checkpoint_precheck_without_torch(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    engine = addon_module("engine")

    stem = tmp_path / "w"
    save_file({"pose.w": np.zeros((3, 4), dtype=np.float32)}, str(stem) + ".safetensors")
    Path(str(stem) + ".json").write_text(json.dumps({"format": engine.CHECKPOINT_FORMAT}))
    assert engine.check_checkpoint(str(stem) + ".json") == stem
    data = Path(str(stem) + ".safetensors").read_bytes()
    Path(str(stem) + ".safetensors").write_bytes(data[:-4])
    with pytest.raises(engine.EngineError, match="truncated or corrupt"):
        engine.check_checkpoint(str(stem))
    Path(str(stem) + ".safetensors").write_bytes(data)
    Path(str(stem) + ".json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(engine.EngineError, match="not a video-mocap checkpoint"):
        engine.check_checkpoint(str(stem))
    assert engine.fov_from_focal(18.0, 36.0) == pytest.approx(90.0)
    assert engine.module_available(sys.executable, "json", engine.clean_env())
    assert not engine.module_available(sys.executable, "lifting.no_such_module", engine.clean_env())


# -- Install Engine: why it cannot, or why it failed, in one sentence ----------------------------------------
def test_an_engine_is_refused_up_front_on_a_python_without_its_wheels() -> None:
    engine = addon_module("engine")
    assert engine.python_problem(">=3.11,<3.14", (3, 13)) is None
    problem = engine.python_problem(">=3.11,<3.14", (3, 14))
    assert problem is not None and problem.startswith("this Blender runs Python 3.14")
    assert "wheels only for Python >=3.11,<3.14" in problem
    assert "My Own Python" in problem and "a Blender whose Python is supported" in problem
    assert engine.python_problem(">=3.11,<3.14", (3, 10)) is not None
    assert engine.python_problem("", (3, 13)) is None  # an add-on built before the field existed


@pytest.mark.parametrize(
    ("output", "cause"),
    [
        (
            "Looking in indexes: https://download.pytorch.org/whl/cpu\nWARNING: Retrying (Retry(total=4)) after "
            "connection broken by 'NewConnectionError(...: Failed to establish a new connection: [Errno -3] "
            "Temporary failure in name resolution')'\nERROR: Could not find a version that satisfies the "
            "requirement torch==2.13.0 (from versions: none)\nERROR: No matching distribution found for torch==2.13.0",
            "the package index could not be reached: check the network connection",
        ),
        (
            "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device",
            "the disk is full",
        ),
        (
            "ERROR: Could not find a version that satisfies the requirement mediapipe==0.10.21 (from versions: 0.10.30)"
            "\nERROR: No matching distribution found for mediapipe==0.10.21",
            "pip found no mediapipe==0.10.21 for Python",
        ),
        (
            "Collecting x\nERROR: pip's own message about something else",
            "pip's own message about something else",
        ),
        ("nothing pip would say", None),
    ],
)
def test_pip_failures_are_named(output: str, cause: str | None) -> None:
    found = addon_module("engine").pip_failure_cause(output)
    assert (found is None) if cause is None else (found is not None and found.startswith(cause)), found


def test_a_failed_install_step_names_pips_cause_and_the_log_once(tmp_path: Path) -> None:
    engine = addon_module("engine")
    log = tmp_path / "engine-install.log"
    log.write_text("an earlier step's ERROR: not this one\n")
    fail = (
        "import sys; print('Collecting mediapipe==0.10.21', flush=True); "
        "print('ERROR: No matching distribution found for mediapipe==0.10.21', file=sys.stderr); sys.exit(1)"
    )
    steps = [Step("Installing MediaPipe", (sys.executable, "-c", fail))]
    seq = JobSequence(steps, log_path=log, explain=engine.pip_failure_cause)
    seq.start()
    outcome = None
    for _ in range(600):
        outcome = seq.step()
        if outcome is not None:
            break
        time.sleep(0.05)
    assert outcome is not None and outcome.status == "error"
    version = ".".join(map(str, sys.version_info[:2]))
    assert outcome.message == (
        f"Installing MediaPipe failed: pip found no mediapipe==0.10.21 for Python {version} on this platform "
        f"(log: {log})."
    )
    assert outcome.message.count(str(log)) == 1


def test_check_imports_every_engine_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def broken(name: str, *args: Any) -> Any:
        if name == "mediapipe":
            raise ImportError("libGL.so.1: cannot open shared object file")
        return real(name, *args)

    monkeypatch.setattr(worker.importlib, "import_module", broken)
    code, events = run_main(["check", "--device", "cpu"])
    assert code == 2 and events[-1]["event"] == "error"
    assert events[-1]["message"] == (
        "the engine's mediapipe cannot be imported (ImportError: libGL.so.1: cannot open shared object file); "
        "install the engine again from the add-on's preferences."
    )


def test_a_renamed_engine_environment_has_working_scripts(tmp_path: Path) -> None:
    import venv

    engine = addon_module("engine")
    built = tmp_path / "engine-venv.tmp"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(built)
    scripts = built / "bin"
    (scripts / "tool").write_text(f"#!{scripts / 'python'}\nprint('ok')\n")
    (scripts / "tool").chmod(0o755)
    final = tmp_path / "engine-venv"
    built.rename(final)
    changed = engine.relocate_venv(final, built)
    assert {p.name for p in changed} >= {"tool", "activate"}
    for path in changed:
        assert str(built) not in path.read_text() and str(final) in path.read_text()
    assert (final / "bin" / "tool").stat().st_mode & 0o111  # still executable
    proc = subprocess.run([str(final / "bin" / "tool")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok"


def test_an_engine_is_refused_up_front_on_a_platform_without_its_wheels() -> None:
    engine = addon_module("engine")
    for served in (("linux", "x86_64"), ("linux", "aarch64"), ("win32", "AMD64"), ("darwin", "arm64")):
        assert engine.platform_problem(*served) is None
    problem = engine.platform_problem("darwin", "x86_64")
    assert problem is not None and problem.startswith(
        "the engine's packages (MediaPipe, PyTorch) have no wheels "
    )
    assert "for macOS on x86_64" in problem and "My Own Python" in problem
    assert "Windows on ARM64" in str(engine.platform_problem("win32", "ARM64"))
