"""The command line end to end on the committed excerpt: detect, lift, demo (BVH readable), the `video-mocap`
conversion to BVH and npz (FBX and .blend in tests/blender/test_cli_fbx.py), folders of videos, clear errors;
lifting.app.jobs as a Python API, and lifting.app.via_blender speaking headless.py's protocol."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import numpy as np
import pytest
import torch

from lifting.app import api, jobs, via_blender
from lifting.app.cli import build_convert_parser, main
from lifting.app.jobs import Job, plan
from lifting.app.options import ConvertOptions, parse_frames
from lifting.errors import MocapError
from lifting.learn.datasets.bvh import read_bvh
from lifting.lift.checkpoint import CheckpointConfig, save_checkpoint
from lifting.lift.model import TemporalModelConfig
from lifting.metrics import bone_length_std
from lifting.skeleton import BLAZEPOSE, OUTPUT
from retarget.motion3d import Motion3D
from tests.support.paths import EXCERPT, HEADLESS

T = TypeVar("T")


@pytest.fixture(scope="module", autouse=True)
def keypoints_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Detections of this module are cached in one temporary folder (shared by its tests, not the home one)."""
    folder = tmp_path_factory.mktemp("keypoints-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIDEO_MOCAP_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    pose = TemporalModelConfig(
        num_joints_in=33, in_features=3, num_joints_out=21, filter_widths=(3, 3), channels=16
    )
    cfg = CheckpointConfig(
        pose=pose, trajectory=pose.for_trajectory(), input_joints=BLAZEPOSE, output_joints=OUTPUT, fps=30.0,
        normalisation="camera", features=("x", "y", "visibility"),
    )  # fmt: skip
    stem = tmp_path_factory.mktemp("w") / "tiny"
    save_checkpoint(stem, cfg, cfg.build_models())
    return stem


def test_parse_frames() -> None:
    assert (
        parse_frames("10:20") == (10, 20) and parse_frames("5:") == (5, None) and parse_frames(None) is None
    )
    for bad in ("a:b", "20:10", "3"):
        with pytest.raises(MocapError):
            parse_frames(bad)


def test_detect_then_lift(tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kp = tmp_path / "clip.keypoints.npz"
    assert main(["detect", str(EXCERPT), "-o", str(kp), "--frames", "0:30"]) == 0
    assert "30 frames" in capsys.readouterr().out
    motion_path = tmp_path / "clip.motion.npz"
    assert main(["lift", str(kp), "-o", str(motion_path), "--weights", str(weights), "--device", "cpu"]) == 0
    motion = Motion3D.load(motion_path)
    assert motion.joints.shape == (30, 21, 3) and motion.fps == pytest.approx(30.0, abs=0.01)
    assert bone_length_std(motion.joints, motion.parents) < 1e-5  # one length per bone by default
    free_path = tmp_path / "free.motion.npz"
    argv = [
        "lift",
        str(kp),
        "-o",
        str(free_path),
        "--weights",
        str(weights),
        "--device",
        "cpu",
        "--free-bones",
    ]
    assert main(argv) == 0
    assert bone_length_std(Motion3D.load(free_path).joints, motion.parents) > 1e-3


def test_demo_writes_keypoints_motion_and_a_readable_bvh(tmp_path: Path, weights: Path) -> None:
    args = [
        "demo",
        "--video",
        str(EXCERPT),
        "--out",
        str(tmp_path),
        "--weights",
        str(weights),
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    bvh = read_bvh(tmp_path / "sports2d_excerpt.bvh")
    assert bvh.num_frames == 60 and bvh.fps == pytest.approx(30.0, abs=0.01)
    assert len(bvh.names) >= 21
    assert np.isfinite(bvh.positions(scale=1.0)).all()
    assert (tmp_path / "sports2d_excerpt.keypoints.npz").is_file() and (
        tmp_path / "sports2d_excerpt.motion.npz"
    ).is_file()
    # The FBX when Blender's module is installed, the preview when lifting.app.preview exists.
    assert (tmp_path / "sports2d_excerpt.fbx").is_file() == (importlib.util.find_spec("bpy") is not None)
    assert (tmp_path / "sports2d_excerpt.preview.mp4").is_file() == (
        importlib.util.find_spec("lifting.app.preview") is not None
    )


def test_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: The video") and "\n" not in err
    assert main(["lift", str(tmp_path / "nope.keypoints.npz"), "-o", str(tmp_path / "m.npz")]) == 2
    assert "run detection first" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "m.npz").exists()


# -- video-mocap VIDEO -o OUT ------------------------------------------------------------------------------------
def error_lines(err: str) -> list[str]:
    """The `error: ...` lines of captured stderr (progress bars redraw with carriage returns)."""
    return [line for line in re.split(r"[\r\n]", err) if line.startswith("error:")]


@pytest.fixture
def no_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argument checks must fail before any detection starts."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("detection started before the arguments were checked")

    monkeypatch.setattr(api, "detect", refuse)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: VIDEO, -o/--out"),
        (["{video}"], "the following arguments are required: -o/--out"),
        (["{video}", "-o", "{tmp}/x.mp4"], "cannot write 'x.mp4': the output must end in .fbx, .blend, .bvh, .npz"),
        (["{video}", "-o", "{tmp}/x.bvh", "--fov", "50", "--focal", "900"], "--focal: not allowed with argument --fov"),
        (["{video}", "-o", "{tmp}/x.bvh", "--fov", "200"], "The field of view must be between 1 and 179 degrees"),
        (["{video}", "-o", "{tmp}/x.bvh", "--focal", "-3"], "The focal length must be a positive number of pixels"),
        (["{video}", "-o", "{tmp}/x.bvh", "--frames", "40:10"], "--frames '40:10' is empty or negative"),
        (["{video}", "-o", "{tmp}/x.bvh", "--frames", "ten"], "--frames must look like A:B"),
        (["{video}", "-o", "{tmp}/x.bvh", "--smooth", "1.5"], "--smooth must be between 0 and 1, got 1.5"),
        (["{video}", "-o", "{tmp}/x.bvh", "--workers", "0"], "--workers must be 1 or more"),
        (["{video}", "-o", "{tmp}/x.bvh", "--subject", "here"], "--subject takes X,Y in pixels"),
        (["{video}", "-o", "{tmp}/x.bvh", "--subject-frame", "12"], "--subject-frame 12 needs --subject X,Y"),
        (["{video}", "-o", "{tmp}/x.bvh", "--subject", "1,2", "--subject-frame", "1.5"], "--subject-frame takes a video frame number (like 150), not '1.5'"),
        (["{video}", "-o", "{tmp}/x.bvh", "--subject", "1,2", "--subject-frame=-1"], "--subject-frame must be a video frame, 0 or more; got -1"),
        (["{video}", "-o", "{tmp}/x.bvh", "--frames", "10:20", "--subject", "1,2", "--subject-frame", "20"], "--subject-frame 20 is outside --frames 10:20"),
        (["{video}", "-o", "{tmp}/x.bvh", "--rig", "mixamo"], "give that rig's .blend with --rig RIG.blend"),
        (["{video}", "-o", "{tmp}/x.bvh", "--rig", "{tmp}/none.blend"], "the rig file '{tmp}/none.blend' does not exist"),
        (["{video}", "-o", "{tmp}/x.bvh", "--rig", "{video}"], "--rig takes a .blend file or 'ours'"),
        (["{video}", "-o", "{tmp}/x.npz", "--rig", "{tmp}/rig.blend"], "an .npz output is the 3D motion before retargeting"),
        (["{video}", "-o", "{tmp}/x.bvh", "--preset", "mixamo"], "give --rig RIG.blend too"),
        (["{video}", "-o", "{tmp}/x.bvh", "--armature", "Hero"], "give --rig RIG.blend too"),
        (["{video}", "-o", "{tmp}/x.bvh", "--format", "npz"], "--format npz disagrees with -o"),
        (["{video}", "{video}", "-o", "{tmp}/x.bvh"], "is a file, but there are 2 videos; give a folder and --format"),
        (["{tmp}/nope.mp4", "-o", "{tmp}/x.bvh"], "The video '{tmp}/nope.mp4' does not exist"),
        (["{tmp}/empty", "-o", "{tmp}/out"], "The folder '{tmp}/empty' holds no videos"),
        (["{video}", "-o", "{tmp}/x.bvh", "--preview", "{tmp}/p.gif"], "--preview writes an .mp4 video, not 'p.gif'"),
        (["{video}", "-o", "{tmp}/x.bvh", "--weights", "{tmp}/nothing"], "lack their .safetensors file"),
        (["{video}", "-o", "{tmp}/rig.blend/x.bvh"], "is a file, not a folder"),
        (["{video}", "-o", "{tmp}/x.bvh", "--format", "obj"], "argument --format: invalid choice: 'obj'"),
    ],
)  # fmt: skip
def test_convert_argument_errors_are_one_line_before_any_work(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_detection: None
) -> None:
    (tmp_path / "rig.blend").write_bytes(b"BLENDER")  # exists; never opened by these checks
    (tmp_path / "empty").mkdir()
    argv = [a.format(video=EXCERPT, tmp=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert message.format(tmp=tmp_path) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "rig.blend"]  # nothing written


def test_writing_fbx_or_blend_without_bpy_says_how_to_get_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_detection: None,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "bpy" else real(name, *a)
    )
    for suffix in (".fbx", ".blend", ".FBX"):
        assert main([str(EXCERPT), "-o", str(tmp_path / f"x{suffix}")]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"error: writing .{suffix[1:].lower()} needs Blender's Python module: `pip install bpy==5.0.1` "
            "(Python 3.11), or write .bvh or .npz.\n"
        )
    (tmp_path / "rig.blend").write_bytes(b"BLENDER")
    assert main([str(EXCERPT), "-o", str(tmp_path / "x.bvh"), "--rig", str(tmp_path / "rig.blend")]) == 2
    assert "writing .bvh onto a .blend rig needs Blender's Python module" in capsys.readouterr().err
    assert main([str(EXCERPT), "-o", str(tmp_path / "out"), "--format", "fbx"]) == 2
    assert "writing .fbx needs Blender's Python module" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rig.blend"]  # not even the folder


def test_help_lists_formats_folders_and_the_other_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in (
        "--format {blend,bvh,fbx,npz}",
        "--rig",
        "--preview",
        "--no-foot-lock",
        "detect|lift|demo",
        "--subject-frame N",
    ):
        assert text in out
    assert main(["detect", "--help"]) == 0 and "--subject-frame N" in capsys.readouterr().out


def test_plan_names_outputs_for_one_video_and_for_folders(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("walk.mp4", "Jump.MOV", "c.webm", "notes.txt", "clip.mp4.part"):
        (videos / name).write_bytes(b"")
    (videos / "sub").mkdir()
    (videos / "sub" / "deep.mp4").write_bytes(b"")

    def jobs(*argv: str) -> list[Job]:
        args = build_convert_parser().parse_args([a.format(tmp=tmp_path) for a in argv])
        return plan(args)[0]

    one = jobs("{tmp}/videos/walk.mp4", "-o", "{tmp}/a/b/walk.npz")
    assert [(j.video.name, j.out) for j in one] == [("walk.mp4", tmp_path / "a/b/walk.npz")]
    assert (tmp_path / "a" / "b").is_dir()  # the output folder is made before the work starts
    folder = jobs("{tmp}/videos", "-o", "{tmp}/out", "--keep-keypoints")
    assert [j.out.relative_to(tmp_path).as_posix() for j in folder] == [
        "out/Jump.bvh",
        "out/c.bvh",
        "out/walk.bvh",
    ]
    assert [j.keypoints.name for j in folder if j.keypoints] == [
        "Jump.keypoints.npz",
        "c.keypoints.npz",
        "walk.keypoints.npz",
    ]
    npz = jobs(
        "{tmp}/videos/c.webm",
        "{tmp}/videos/walk.mp4",
        "-o",
        "{tmp}/out",
        "--format",
        "npz",
        "--preview",
        "{tmp}/pv",
    )
    assert [j.out.name for j in npz] == ["c.motion.npz", "walk.motion.npz"]
    assert [j.preview.name for j in npz if j.preview] == ["c.preview.mp4", "walk.preview.mp4"]
    assert [j.preview.parent for j in npz if j.preview] == [tmp_path / "pv"] * 2
    single_to_folder = jobs("{tmp}/videos/walk.mp4", "-o", "{tmp}/out2", "--preview", "{tmp}/p.mp4")
    assert single_to_folder == [Job(videos / "walk.mp4", tmp_path / "out2" / "walk.bvh", tmp_path / "p.mp4")]
    (videos / "walk.mov").write_bytes(b"")
    with pytest.raises(MocapError, match=re.escape("'walk.mov' and 'walk.mp4' would both write 'walk.bvh'")):
        jobs("{tmp}/videos", "-o", "{tmp}/out")
    with pytest.raises(MocapError, match="--preview must be a folder when converting several videos"):
        jobs("{tmp}/videos/c.webm", "{tmp}/videos/walk.mp4", "-o", "{tmp}/out", "--preview", "{tmp}/p.mp4")


def test_video_to_bvh_and_npz_on_the_excerpt(
    tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--weights", str(weights), "--device", "cpu"]
    bvh_path = tmp_path / "out" / "clip.bvh"
    assert main([str(EXCERPT), "-o", str(bvh_path), *common, "--keep-keypoints"]) == 0
    out = capsys.readouterr().out
    assert "sports2d_excerpt.mp4: 60 frames at 30 fps" in out and str(bvh_path) in out
    bvh = read_bvh(bvh_path)
    assert bvh.num_frames == 60 and bvh.fps == pytest.approx(30.0, abs=0.01)
    assert len(bvh.names) >= 21 and all(n.startswith("mocap_") for n in bvh.names)
    assert np.isfinite(bvh.positions(scale=1.0)).all()
    assert (tmp_path / "out" / "clip.keypoints.npz").is_file()
    # Smoothing and foot locking change the keys, not the frames.
    raw_path = tmp_path / "raw.bvh"
    assert main([str(EXCERPT), "-o", str(raw_path), *common, "--smooth", "0", "--no-foot-lock"]) == 0
    raw = read_bvh(raw_path)
    assert raw.names == bvh.names and raw.num_frames == 60
    assert np.abs(raw.positions(scale=1.0) - bvh.positions(scale=1.0)).max() > 1e-3
    # npz: the 3D motion itself, over the asked frames.
    npz_path = tmp_path / "clip.NPZ"
    assert main([str(EXCERPT), "-o", str(npz_path), *common, "--frames", "10:40", "--fov", "60"]) == 0
    motion = Motion3D.load(npz_path)
    assert motion.joints.shape == (30, 21, 3) and motion.fps == pytest.approx(30.0, abs=0.01)
    # 60 degrees over the excerpt's 884 pixels.
    assert motion.intrinsics.fx == pytest.approx(442.0 / np.tan(np.radians(30.0)), rel=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.NPZ", "out", "raw.bvh"]  # no temporary files


def test_convert_one_runs_each_stage_through_the_given_runner(
    tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """lifting.app.jobs as a Python API: plan, then convert_one reporting its stages to a runner (or to none)."""
    out = tmp_path / "clip.npz"
    argv = [str(EXCERPT), "-o", str(out), "--frames", "10:40", "--weights", str(weights), "--device", "cpu"]
    planned, options = plan(build_convert_parser().parse_args(argv))
    assert planned == [Job(EXCERPT, out)]
    assert options == ConvertOptions(fmt="npz", frames=(10, 40), weights=str(weights), device="cpu")
    assert not plan(build_convert_parser().parse_args([*argv, "--free-bones"]))[1].constant_bones
    reports: dict[str, list[float]] = {}

    def stages(name: str, work: Callable[[api.Progress], T], /) -> T:
        reports[name] = []
        return work(lambda fraction, *_: reports[name].append(fraction))

    summary = jobs.convert_one(planned[0], options, stages)
    assert list(reports) == ["detect", "lift", "write npz"]
    assert all(r and 0.0 <= min(r) and max(r) <= 1.0 for r in reports.values())
    assert reports["write npz"] == [1.0]
    assert summary.startswith("sports2d_excerpt.mp4: 30 frames at 30 fps") and "; not retargeted\n" in summary
    assert summary.endswith(f"→ {out}") and Motion3D.load(out).joints.shape == (30, 21, 3)
    out.unlink()
    capsys.readouterr()
    jobs.convert_one(planned[0], options)  # quiet_stages: no bar
    err = capsys.readouterr().err
    assert "detect:" not in err and "lift:" not in err and out.is_file()


def test_a_folder_with_a_bad_video_converts_the_others(
    tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(EXCERPT, videos / "good.mp4")
    (videos / "bad.mp4").write_bytes(EXCERPT.read_bytes()[:3000])  # truncated: no readable frame
    out = tmp_path / "out"
    argv = [str(videos), "-o", str(out), "--frames", "0:20", "--weights", str(weights), "--device", "cpu"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    errors = error_lines(captured.err)
    assert len(errors) == 1 and errors[0].startswith("error: bad.mp4: ") and "could not be read" in errors[0]
    assert "1 of 2 videos converted, 1 failed." in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["good.bvh"]
    assert read_bvh(out / "good.bvh").num_frames == 20


def load_headless(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("headless_for_test", HEADLESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)  # no bpy at import time: it is imported when run
    return module


def test_the_cli_and_headless_speak_the_same_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    import retarget.events

    headless = load_headless(monkeypatch)
    # headless.py writes with the add-on's copy of retarget.events; from the repository that copy IS the module
    # lifting.app.via_blender reads with.
    assert headless.addon_modules().events is retarget.events
    assert via_blender.parse_line is retarget.events.parse_line
    assert via_blender.EXIT_USER == retarget.events.EXIT_USER == 2
    assert via_blender.headless_script() == HEADLESS
    assert set(headless.FBX_PRESETS) == {"generic", "unity", "unreal"}
    assert {f".{f}" for f in jobs.BLENDER_FORMATS} | {".bvh"} == set(headless.SUFFIXES)


def test_run_headless_follows_progress_and_relays_errors(tmp_path: Path) -> None:
    def script(body: str) -> list[str]:
        return [sys.executable, "-c", f"import sys\n{body}"]

    seen: list[tuple[float, str]] = []
    ok = (
        'print("Blender noise"); '
        'print(\'{"event": "progress", "stage": "blender", "fraction": 0.25, "message": "retargeting"}\'); '
        'print(\'{"event": "done", "result": "x"}\')'
    )
    via_blender.run_headless(script(ok), "x.fbx", lambda f, m="": seen.append((f, m)))
    assert seen == [(0.25, "retargeting")]
    user = 'print("noise"); print(\'{"event": "error", "message": "the rig has no armature."}\'); sys.exit(2)'
    with pytest.raises(MocapError, match=r"^the rig has no armature\.$"):
        via_blender.run_headless(script(user), "x.fbx")
    crash = 'print("Traceback ..."); print("RuntimeError: boom", file=sys.stderr); sys.exit(1)'
    with pytest.raises(MocapError, match=r"Blender failed on 'x.fbx' \(exit status 1\): RuntimeError: boom"):
        via_blender.run_headless(script(crash), "x.fbx")


def test_headless_loads_the_addon_as_a_package_sharing_retarget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as a file, headless.py imports the add-on as a package whose `.retarget` IS the repository's retarget:
    every retarget module is the same object under both names (so are its exception classes)."""
    import retarget.errors
    import retarget.presets.mixamo

    headless = load_headless(monkeypatch)
    name = "video_mocap_headless_test"
    try:
        package = headless.load_addon_package(HEADLESS.parent, name)
        assert (
            package.__path__ == [str(HEADLESS.parent)]
            and headless.load_addon_package(HEADLESS.parent, name) is package
        )
        assert sys.modules[f"{name}.retarget"] is sys.modules["retarget"] is package.retarget
        assert sys.modules[f"{name}.retarget.errors"].RetargetError is retarget.errors.RetargetError
        assert sys.modules[f"{name}.retarget.presets.mixamo"] is retarget.presets.mixamo
        aliased = {k.removeprefix(f"{name}.") for k in sys.modules if k.startswith(f"{name}.retarget")}
        assert {"retarget.pipeline", "retarget.bvh_writer", "retarget.presets.ours"} <= aliased
        # A module of the add-on with relative imports and no bpy loads through the package.
        client = importlib.import_module(f"{name}.worker_client")
        assert client.__name__ == f"{name}.worker_client" and hasattr(client, "WorkerJob")
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
