"""Bad input on the command line and in the add-on's worker, as a hostile but realistic user gives it: one line
(exit status 2) naming the user's path or value, before detection starts where the input allows it, nothing
created or replaced; and what is only an optimisation (the keypoints cache) costs a warning, not the run."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import cv2
import pytest

from lifting.app import worker
from lifting.app.cli import main
from lifting.app.via_blender import run_headless
from lifting.video2d import detect as detect_module
from tests.support.paths import EXCERPT, ROOT

SHIPPED = ROOT / "lifting" / "weights" / "single_frame"


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test caches (and logs) in its own folder, never the home one."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("VIDEO_MOCAP_CACHE", str(folder))
    return folder


@pytest.fixture
def no_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection itself (the long work) must not start: everything below is refused before it."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("detection started before the input was checked")

    monkeypatch.setattr(detect_module, "detect_video", refuse)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def broken_checkpoints(folder: Path) -> dict[str, Path]:
    """Checkpoint stems broken in the ways users break them (each beside the intact shipped config)."""
    folder.mkdir()
    stems: dict[str, Path] = {}

    def make(name: str, weights: bytes, config: str) -> None:
        (folder / f"{name}.safetensors").write_bytes(weights)
        (folder / f"{name}.json").write_text(config)
        stems[name] = folder / name

    weights = SHIPPED.with_suffix(".safetensors").read_bytes()
    config = SHIPPED.with_suffix(".json").read_text()
    make("random", bytes(range(256)) * 64, config)
    make("truncated", weights[: len(weights) // 2], config)
    make("half-json", weights, config[: len(config) // 2])
    wrong = json.loads(config)
    wrong["models"]["pose"]["channels"] = 2 * int(wrong["models"]["pose"]["channels"])
    make("wrong-shapes", weights, json.dumps(wrong))
    return stems


# -- 2. weights: validated from their header and config, before detection ------------------------------------
@pytest.mark.parametrize("name", ["random", "truncated", "half-json", "wrong-shapes"])
def test_broken_weights_are_refused_before_detection_and_replace_nothing(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_detection: None
) -> None:
    stem = broken_checkpoints(tmp_path / "w")[name]
    out = tmp_path / "out"
    out.mkdir()
    kept = out / "x.keypoints.npz"
    kept.write_bytes(b"the keypoints of an earlier run")
    assert main([str(EXCERPT), "-o", str(out / "x.bvh"), "--weights", str(stem), "--keep-keypoints"]) == 2
    line = one_error_line(capsys)
    assert str(tmp_path / "w") in line and ".tmp" not in line
    assert sorted(p.name for p in out.iterdir()) == ["x.keypoints.npz"]
    assert kept.read_bytes() == b"the keypoints of an earlier run"
    for argv in (
        ["demo", "--video", str(EXCERPT), "--out", str(tmp_path / "demo"), "--weights", str(stem)],
        [
            "lift",
            str(tmp_path / "k.keypoints.npz"),
            "-o",
            str(tmp_path / "m.motion.npz"),
            "--weights",
            str(stem),
        ],
    ):
        assert main(argv) == 2, argv
        assert str(tmp_path / "w") in one_error_line(capsys)
    assert not (tmp_path / "demo").exists() and not (tmp_path / "m.motion.npz").exists()


def test_the_worker_refuses_broken_weights_before_detection(tmp_path: Path, no_detection: None) -> None:
    stems = broken_checkpoints(tmp_path / "w")
    for stem in stems.values():
        out = io.StringIO()
        argv = [
            "run",
            "--video",
            str(EXCERPT),
            "--out",
            str(tmp_path / "m.motion.npz"),
            "--weights",
            str(stem),
        ]
        assert worker.main(argv, stdout=out) == 2
        events = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [e["event"] for e in events] == ["error"] and str(tmp_path / "w") in events[0]["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


# -- 3, 4. output paths and suffixes -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["detect", "{video}", "-o", "{tmp}/k.xyz"], "the keypoints file must end in .npz, not 'k.xyz'"),
        (["detect", "{video}", "-o", "{tmp}/a-file/k.keypoints.npz"], "the output folder '{tmp}/a-file' is a file"),
        (["detect", "{video}", "-o", "{tmp}/a-folder.keypoints.npz"], "'{tmp}/a-folder.keypoints.npz' is a folder"),
        (["detect", "{video}", "-o", "/proc/k.keypoints.npz"], "cannot write into the output folder '/proc'"),
        (["lift", "{tmp}/k.keypoints.npz", "-o", "{tmp}/m.bvh"], "the motion file must end in .npz, not 'm.bvh'"),
        (["{video}", "-o", "/proc/x.bvh"], "cannot write into the output folder '/proc'"),
        (["{video}", "-o", "/sys/x.bvh"], "cannot write into the output folder '/sys'"),
        (["{video}", "-o", "{tmp}/a-file/x.bvh"], "the output folder '{tmp}/a-file' is a file"),
    ],
)  # fmt: skip
def test_output_paths_are_proven_writable_before_detection(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_detection: None
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder.keypoints.npz").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main([a.format(video=EXCERPT, tmp=tmp_path) for a in args]) == 2
    line = one_error_line(capsys)
    assert message.format(tmp=tmp_path) in line and ".tmp" not in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_the_worker_checks_its_output_before_detection(tmp_path: Path, no_detection: None) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    for target, message in (
        (tmp_path / "a-file" / "m.motion.npz", f"the output folder '{tmp_path / 'a-file'}' is a file"),
        (tmp_path / "m.bvh", "the motion file must end in .npz"),
        (Path("/proc/m.motion.npz"), "cannot write into the output folder '/proc'"),
    ):
        out = io.StringIO()
        assert worker.main(["run", "--video", str(EXCERPT), "--out", str(target)], stdout=out) == 2
        event = json.loads(out.getvalue().splitlines()[-1])
        assert event["event"] == "error" and message in event["message"], event


def test_errors_while_writing_name_the_users_file_not_a_temporary_one(tmp_path: Path) -> None:
    from retarget.atomic_write import write_text_atomic

    target = tmp_path / "a-file" / "x.txt"
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(OSError) as caught:
        write_text_atomic(target, "text")
    assert caught.value.filename == str(target)
    with pytest.raises(OSError) as caught:
        write_text_atomic(Path("/proc/x.bvh"), "text")
    assert caught.value.filename == "/proc/x.bvh" and ".tmp" not in str(caught.value)


# -- 5. demo checks everything first -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--smooth", "2"], "--smooth must be between 0 and 1, got 2"),
        (["--device", "cuda"], "CUDA"),
        (["--out", "{tmp}/a-file"], "the output folder '{tmp}/a-file' is a file"),
    ],
)
def test_demo_checks_its_options_before_detection(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_detection: None
) -> None:
    import torch

    if extra[:2] == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    (tmp_path / "a-file").write_text("not a folder")
    argv = ["demo", "--video", str(EXCERPT), "--out", str(tmp_path / "demo")]
    assert main(argv + [a.format(tmp=tmp_path) for a in extra]) == 2
    assert message.format(tmp=tmp_path) in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# -- 6. values that pass a sign check but mean nothing -------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--focal", "inf"], "The focal length must be a positive number of pixels, got inf"),
        (
            ["--focal", "1e-9"],
            "A focal length of 1e-09 px on a 884 px wide video is a field of view outside 1–179",
        ),
        (["--focal", "1e9"], "A focal length of 1e+09 px on a 884 px wide video"),
        (["--subject", "5000,100"], "The subject point (5000, 100) is outside the 884×496 picture"),
        (["--subject=-3,100"], "The subject point (-3, 100) is outside the 884×496 picture"),
        (["--subject", "nan,nan"], "--subject takes X,Y in pixels (like 640,360), not 'nan,nan'"),
        (
            ["--subject", "400,200", "--subject-frame", "60"],
            "The subject frame 60 is past the end of sports2d_excerpt.mp4 (60 frames, 0 to 59)",
        ),
    ],
)
def test_meaningless_values_are_refused_before_detection(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_detection: None
) -> None:
    assert main([str(EXCERPT), "-o", str(tmp_path / "x.bvh"), *extra]) == 2
    assert message in one_error_line(capsys)
    assert not list(tmp_path.iterdir())
    if extra[0].startswith("--subject"):
        assert main(["detect", str(EXCERPT), "-o", str(tmp_path / "k.npz"), *extra]) == 2
        assert message in one_error_line(capsys)


def test_a_focal_length_is_checked_against_the_image_width_in_lift_too() -> None:
    from lifting.errors import MocapError
    from lifting.lift.lift import LiftOptions, clip_intrinsics

    assert clip_intrinsics(1000, 500, LiftOptions(focal_px=800.0)).fx == 800.0
    with pytest.raises(MocapError, match="field of view outside"):
        clip_intrinsics(1000, 500, LiftOptions(focal_px=1e-9))
    assert math.isclose(clip_intrinsics(1000, 500, LiftOptions(fov_deg=90.0)).fx, 500.0)


# -- 1, 7, 12. what costs a warning, not the run (real detection on 10 frames) -------------------------------
def warnings_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning: ")]


@pytest.mark.parametrize("where", ["a file", "under a file", "a folder at the cache file", "no home"])
def test_an_unusable_cache_costs_a_warning_and_the_run_succeeds(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache should be")
    if where == "a file":
        monkeypatch.setenv("VIDEO_MOCAP_CACHE", str(blocker))
    elif where == "under a file":
        monkeypatch.setenv("VIDEO_MOCAP_CACHE", str(blocker / "cache"))
    elif where == "a folder at the cache file":
        cache = tmp_path / "cache"
        monkeypatch.setenv("VIDEO_MOCAP_CACHE", str(cache))
        detect_module.cache_path(EXCERPT, cache / "keypoints").mkdir(parents=True)
    else:
        monkeypatch.delenv("VIDEO_MOCAP_CACHE")
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        monkeypatch.setenv("HOME", str(blocker / "home"))  # a home that cannot be made, even by root
    out = tmp_path / "k.keypoints.npz"
    assert main(["detect", str(EXCERPT), "-o", str(out), "--frames", "0:10", "--workers", "1"]) == 0
    err = capsys.readouterr().err
    found = warnings_of(err)
    assert len(found) == 1 and "keypoints cache" in found[0], err
    assert "error" not in err and out.is_file()


def test_the_worker_sends_a_cache_warning_as_an_event(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    out = io.StringIO()
    argv = ["detect", "--video", str(EXCERPT), "--keypoints-cache", str(blocker / "kp"), "--frames", "0:10"]
    assert worker.main(argv, stdout=out) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    warnings = [e for e in events if e["event"] == "warning"]
    assert len(warnings) == 1 and "keypoints cache" in warnings[0]["message"]
    assert events[-1]["event"] == "done"


def test_more_workers_than_cores_are_capped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cores = detect_module.default_workers()
    out = tmp_path / "k.keypoints.npz"
    assert (
        main(["detect", str(EXCERPT), "-o", str(out), "--frames", "0:10", "--workers", str(cores + 14)]) == 0
    )
    found = warnings_of(capsys.readouterr().err)
    assert found == [
        f"warning: {cores + 14} detection processes asked for, {cores} used: one per core this process may run on."
    ]


@pytest.mark.slow
def test_a_small_person_is_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small = tmp_path / "small.mp4"
    cap = cv2.VideoCapture(str(EXCERPT))
    writer = cv2.VideoWriter(str(small), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (442, 248))
    for _ in range(30):
        ok, frame = cap.read()
        assert ok
        writer.write(cv2.resize(frame, (442, 248), interpolation=cv2.INTER_AREA))
    writer.release()
    cap.release()
    assert main(["detect", str(small), "-o", str(tmp_path / "k.keypoints.npz"), "--workers", "1"]) == 0
    found = warnings_of(capsys.readouterr().err)
    assert found and all("film closer or use a higher resolution" in w or "found on only" in w for w in found)
    assert any("small in the picture" in w for w in found)


def test_no_warning_on_the_excerpt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "k.keypoints.npz"
    assert main(["detect", str(EXCERPT), "-o", str(out), "--frames", "0:10", "--workers", "1"]) == 0
    assert warnings_of(capsys.readouterr().err) == []


# -- 10. an interrupted Blender leaves nothing in the temporary directory ------------------------------------
def test_blender_keeps_its_session_folder_in_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    body = (
        "import os, sys, tempfile; d = tempfile.mkdtemp(prefix='blender_'); open(os.path.join(d, 'f'), 'w').close(); "
        "print(d, flush=True); sys.exit(1)"
    )
    with pytest.raises(Exception, match="exit status 1"):
        run_headless([sys.executable, "-c", body], "x.fbx")
    assert list(system_tmp.iterdir()) == []  # Blender's folder was inside ours, and ours is gone


# -- 9. MediaPipe's and TFLite's own log lines go to a log file ----------------------------------------------
@pytest.mark.parametrize("workers", ["1", "2"])
def test_native_log_lines_stay_out_of_the_terminal(tmp_path: Path, workers: str) -> None:
    import os
    import re
    import subprocess

    env = {**os.environ, "VIDEO_MOCAP_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    out = tmp_path / "k.keypoints.npz"
    argv = ["detect", str(EXCERPT), "-o", str(out), "--workers", workers]
    proc = subprocess.run(
        [sys.executable, "-m", "lifting", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in re.split(r"[\r\n]", proc.stderr) if ln.strip() and not ln.startswith("detect:")]
    assert lines == [], lines  # only the progress bar
    log = (tmp_path / "cache" / "logs" / "mediapipe.log").read_text()
    assert "TensorFlow Lite" in log or "W0000" in log
    assert proc.stdout.startswith("60 frames at 30 fps") and out.is_file()
