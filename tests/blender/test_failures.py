"""Every way a run can fail reports one clear sentence and leaves the scene exactly as it was."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import ADDON_MODULE, BPY_MISSING, SAMPLE_VIDEO, fingerprint
from .test_pipeline import setup_scene

bpy = pytest.importorskip("bpy", reason=BPY_MISSING)


def prefs() -> Any:
    return bpy.context.preferences.addons[ADDON_MODULE].preferences


def fails_with(operator: Any, sentence: str) -> None:
    """The operator is cancelled with exactly this one-sentence error, and the scene is unchanged."""
    before = fingerprint()
    with pytest.raises(RuntimeError) as info:
        operator("EXEC_DEFAULT", True)
    message = str(info.value).strip()
    assert message.startswith("Error: ")
    text = message[len("Error: ") :]
    assert re.search(sentence, text), text
    assert "\n" not in text and "Traceback" not in text and text.endswith(".")
    assert fingerprint() == before


def test_missing_video(fake_engine: Path) -> None:
    setup_scene(SAMPLE_VIDEO)
    bpy.context.scene.video_mocap.video_path = "/no/such/folder/clip.mp4"
    fails_with(
        bpy.ops.mocap.video_to_animation,
        r"^The video '/no/such/folder/clip\.mp4' does not exist; choose another file\.$",
    )
    bpy.context.scene.video_mocap.video_path = ""
    fails_with(bpy.ops.mocap.video_to_animation, r"^Choose a video file first\.$")


def test_no_engine_installed(fresh: ModuleType) -> None:
    setup_scene(SAMPLE_VIDEO)
    assert prefs().engine_source == "MANAGED"  # and nothing was installed in this user folder
    fails_with(
        bpy.ops.mocap.video_to_animation,
        r"^No engine is installed; open the add-on's preferences and press Install Engine\.$",
    )
    prefs().engine_source = "CUSTOM"
    prefs().python_path = "/no/python/here"
    fails_with(
        bpy.ops.mocap.video_to_animation, r"does not exist or cannot be run; install the engine again\.$"
    )


def test_corrupt_weights(fake_engine: Path, tmp_path: Path) -> None:
    setup_scene(SAMPLE_VIDEO)
    stem = tmp_path / "tuned"
    Path(str(stem) + ".json").write_text(json.dumps({"format": "video-mocap-checkpoint"}))
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    Path(str(stem) + ".safetensors").write_bytes(
        len(header).to_bytes(8, "little") + header + bytes(7)
    )  # truncated
    prefs().weights_path = str(stem) + ".safetensors"
    fails_with(
        bpy.ops.mocap.video_to_animation, r"^The weights file 'tuned\.safetensors' is truncated or corrupt"
    )
    Path(str(stem) + ".json").write_text("{not json")
    fails_with(bpy.ops.mocap.video_to_animation, r"is not valid JSON")
    Path(str(stem) + ".json").unlink()
    fails_with(bpy.ops.mocap.video_to_animation, r"^The weights 'tuned' lack 'tuned\.json'")


@pytest.mark.parametrize(
    ("mode", "sentence"),
    [
        ("error", r"^No person was found in the video; try another clip\.$"),
        ("crash", r"^The engine stopped unexpectedly with exit status 3"),
    ],
)
def test_engine_failures(
    fake_engine: Path, monkeypatch: pytest.MonkeyPatch, mode: str, sentence: str
) -> None:
    setup_scene(SAMPLE_VIDEO)
    monkeypatch.setenv("VIDEO_MOCAP_FAKE", mode)
    fails_with(bpy.ops.mocap.video_to_animation, sentence)


def test_rig_without_a_preset(fake_engine: Path) -> None:
    setup_scene(SAMPLE_VIDEO)
    arm = bpy.data.objects["Hero"]
    for bone in arm.data.bones:
        bone.name = "b" + bone.name[-6:].replace(":", "_")
    fails_with(bpy.ops.mocap.video_to_animation, r"^No rig preset matches this armature's bone names")


def test_cancel_kills_the_engine_and_changes_nothing(
    fake_engine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_scene(SAMPLE_VIDEO)
    monkeypatch.setenv("VIDEO_MOCAP_FAKE", "hang")
    tasks = importlib.import_module(ADDON_MODULE + ".tasks")
    before = fingerprint()
    task = tasks.LiftTask(apply=True)
    task.start(bpy.context)
    end = time.monotonic() + 60
    while task.fraction == 0.0 and time.monotonic() < end:
        assert task.step(bpy.context) is None
        time.sleep(0.02)
    assert 0.0 < task.fraction < 0.75 and task.stage == "detect" and "Detecting 2D keypoints" in task.message
    task.cancel()
    outcome = None
    while outcome is None and time.monotonic() < end:
        outcome = task.step(bpy.context)
    assert outcome is not None and outcome.status == "cancelled"
    with pytest.raises(tasks.TaskError, match=r"^Cancelled; nothing was changed\.$"):
        task.finish(bpy.context, outcome)
    assert task.job.returncode is not None and task.job.returncode != 0
    assert not task.out.exists()
    assert fingerprint() == before


def test_a_dropped_modal_task_stops_its_engine_and_clears_running(
    fake_engine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blender calls an operator's cancel() when it drops a running modal one (its window closed, another file
    loaded): the engine process stops and the next task may start."""
    import types

    setup_scene(SAMPLE_VIDEO)
    monkeypatch.setenv("VIDEO_MOCAP_FAKE", "hang")
    tasks = importlib.import_module(ADDON_MODULE + ".tasks")
    operators = importlib.import_module(ADDON_MODULE + ".operators")
    before = fingerprint()
    task = tasks.LiftTask(apply=True)
    task.start(bpy.context)
    status = bpy.context.window_manager.video_mocap_status
    status.running = True
    end = time.monotonic() + 60
    while task.fraction == 0.0 and time.monotonic() < end:
        assert task.step(bpy.context) is None
        time.sleep(0.02)
    op = types.SimpleNamespace(_task=task, _timer=None)
    op._cleanup = lambda context: operators._TaskOperator._cleanup(op, context)
    operators.MOCAP_OT_video_to_animation.cancel(op, bpy.context)
    assert not status.running and status.message.startswith("Cancelled: Blender stopped the task")
    task.job.wait(timeout=30)
    assert task.job.returncode is not None and task.job.returncode != 0  # the engine process was stopped
    assert not task.out.exists() and fingerprint() == before


def test_lift_options_reach_the_engine_command(fake_engine: Path) -> None:
    setup_scene(SAMPLE_VIDEO)
    tasks = importlib.import_module(ADDON_MODULE + ".tasks")
    settings = bpy.context.scene.video_mocap
    argv, _ = tasks.LiftTask(apply=False).command(bpy.context)
    assert "--free-bones" not in argv and argv[-1] == "--refine"  # the defaults: one length per bone, refined
    settings.constant_bones = False
    settings.refine = False
    argv, _ = tasks.LiftTask(apply=False).command(bpy.context)
    assert argv[-1] == "--free-bones" and "--refine" not in argv


def test_the_cancel_operator_flags_a_running_task(fresh: ModuleType) -> None:
    status = bpy.context.window_manager.video_mocap_status
    status.running = True
    assert bpy.ops.mocap.cancel() == {"FINISHED"}
    assert status.cancel_requested
    with pytest.raises(RuntimeError, match="Another mocap task is running"):
        bpy.ops.mocap.check_engine()
    status.running = False


def test_install_refuses_politely_when_offline(fresh: ModuleType) -> None:
    assert not bpy.app.online_access  # the bpy module starts offline
    paths = importlib.import_module(ADDON_MODULE + ".paths")
    user_dir = Path(bpy.utils.extension_path_user(ADDON_MODULE, create=True))
    before = sorted(p.name for p in user_dir.iterdir())
    with pytest.raises(
        RuntimeError,
        match=r"Online access is off, so the engine cannot be downloaded; allow it in Preferences > System > Network",
    ):
        bpy.ops.mocap.install_engine()
    assert sorted(p.name for p in user_dir.iterdir()) == before
    assert not paths.managed_python().exists()


def test_finetune_without_the_module_says_so(fresh: ModuleType, tmp_path: Path) -> None:
    prefs().engine_source = "CUSTOM"
    prefs().python_path = sys.executable  # a real Python whose engine may lack lifting.app.finetune
    settings = bpy.context.scene.video_mocap
    fails_with(bpy.ops.mocap.finetune, r"^Add at least one video to the fine-tuning list\.$")
    settings.finetune_clips.add().path = str(SAMPLE_VIDEO)
    if importlib.util.find_spec("lifting.app.finetune") is None:
        fails_with(
            bpy.ops.mocap.finetune,
            r"^This engine has no lifting\.app\.finetune module yet; update the add-on",
        )


def test_finetune_result_becomes_the_active_weights(
    fake_engine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDEO_MOCAP_FAKE", "finetune")
    settings = bpy.context.scene.video_mocap
    settings.finetune_clips.add().path = str(SAMPLE_VIDEO)
    assert bpy.ops.mocap.finetune() == {"FINISHED"}
    weights = Path(prefs().weights_path)
    assert weights.name == "tuned.safetensors" and weights.is_file()
    user_dir = Path(bpy.utils.extension_path_user(ADDON_MODULE, create=True))
    assert user_dir in weights.parents
    assert json.loads(weights.with_suffix(".json").read_text())["clips"] == str(SAMPLE_VIDEO)
    assert settings.finetune_report.splitlines() == [
        "Kept: tuned",
        "Held out: c.mp4",
        "reprojection, network alone, px: 40.0 → 30.0 (-25 %)",
    ]


def test_finetune_that_does_not_help_keeps_the_active_weights(
    fake_engine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDEO_MOCAP_FAKE", "finetune-worse")
    prefs().weights_path = ""
    settings = bpy.context.scene.video_mocap
    settings.finetune_clips.add().path = str(SAMPLE_VIDEO)
    assert bpy.ops.mocap.finetune() == {"FINISHED"}
    assert prefs().weights_path == ""
    assert settings.finetune_report.splitlines()[0] == "Not kept: no better on held-out"
    assert settings.finetune_report.splitlines()[-1] == "reprojection, network alone, px: 40.0 → 41.0 (+2 %)"


def test_export_without_an_armature(fresh: ModuleType, tmp_path: Path) -> None:
    before = fingerprint()
    with pytest.raises(RuntimeError, match=r"Pick the armature to export in the Mocap panel\."):
        bpy.ops.mocap.export_fbx(filepath=str(tmp_path / "x.fbx"))
    assert fingerprint() == before
    assert not list(tmp_path.iterdir())


def test_detect_step_warms_the_cache_only(fake_engine: Path) -> None:
    setup_scene(SAMPLE_VIDEO)
    before = fingerprint()
    assert bpy.ops.mocap.detect() == {"FINISHED"}
    assert fingerprint() == before
    status = bpy.context.window_manager.video_mocap_status
    assert status.message == "2D keypoints detected and cached; Lift will reuse them." and not status.running
