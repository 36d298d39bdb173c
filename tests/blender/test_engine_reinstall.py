"""Install Engine in real Blender, with the installer's real plan whose commands are replaced by quick fakes:
the venv step writes a fake engine Python (its worker check answers with versions, or fails where the engine
folder holds a file named `broken`), the pip steps replay real pip output (see test_engine_progress.py), the
check step runs as planned. Online access is granted by replacing `tasks.online_problem`; nothing is downloaded.

Covers: a first install records what it was built from and shows the versions; a current engine is not
reinstalled (also offline); a changed record or a failing check reinstalls it and says why; Repair Engine
reinstalls; a cancelled repair leaves the working engine; the progress bar follows pip's byte counts.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .conftest import ADDON_MODULE, BPY_MISSING
from .test_engine_progress import PIP_RAW_FROM_AN_INDEX

bpy = pytest.importorskip("bpy", reason=BPY_MISSING)

FAKE_ENGINE_PYTHON = r'''#!{python}
"""A fake engine's Python: only the worker check, which fails where the engine folder holds `broken`."""
import json, os, sys
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if sys.argv[1:5] != ["-m", "lifting", "worker", "check"]:
    sys.exit("fake engine: unexpected arguments %r" % sys.argv)
if os.path.exists(os.path.join(root, "broken")):
    print(json.dumps({{"event": "error", "message": "the engine's mediapipe cannot be imported (ImportError: "
                      "libGL.so.1); install the engine again from the add-on's preferences."}}), flush=True)
    sys.exit(2)
packages = {{"torch": "2.13.0", "mediapipe": "1.2.3", "numpy": "1.26.4", "opencv-python-headless": "4.11.0.86"}}
print(json.dumps({{"event": "check", "protocol": {protocol}, "python": "3.11.9", "executable": sys.executable,
                  "packages": packages, "weights": [], "cuda_available": False, "device": "cpu"}}), flush=True)
print(json.dumps({{"event": "done", "result": "cpu"}}), flush=True)
'''
MAKE_VENV = (
    "import os, sys\n"
    "target, script = sys.argv[1], sys.argv[2]\n"
    "os.makedirs(os.path.join(target, 'bin'))\n"
    "open(os.path.join(target, 'pyvenv.cfg'), 'w').write('command = python -m venv ' + target + '\\n')\n"
    "path = os.path.join(target, 'bin', 'python')\n"
    "open(path, 'w').write(script)\n"
    "os.chmod(path, 0o755)\n"
)
REPLAY_PIP = (
    "import os, sys, time\n"
    "for line in sys.argv[1].splitlines():\n"
    "    print(line, flush=True)\n"
    "    time.sleep(float(os.environ.get('VIDEO_MOCAP_FAKE_PIP_DELAY', '0')))\n"
    "if os.environ.get('VIDEO_MOCAP_FAKE_PIP') == 'hang':\n"
    "    time.sleep(600)\n"
)


def addon_module(name: str) -> ModuleType:
    return importlib.import_module(f"{ADDON_MODULE}.{name}")


def status() -> Any:
    return bpy.context.window_manager.video_mocap_status


def prefs() -> Any:
    return bpy.context.preferences.addons[ADDON_MODULE].preferences


@pytest.fixture
def installer(fresh: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The add-on's tasks module with online access granted and the installer's commands faked; the managed
    engine is removed afterwards."""
    tasks, engine, paths = addon_module("tasks"), addon_module("engine"), addon_module("paths")
    protocol = addon_module("retarget.events").PROTOCOL_VERSION
    script = FAKE_ENGINE_PYTHON.format(python=sys.executable, protocol=protocol)

    def fake_steps(base_python: str, target: Path, *args: Any, **kwargs: Any) -> list[Any]:
        steps = engine.install_steps(base_python, target, *args, **kwargs)
        faked = []
        for step in steps:
            argv = step.argv
            if step.label == "Creating the environment":
                argv = (sys.executable, "-c", MAKE_VENV, str(target), script)
            elif step.progress is not None:  # the pip steps
                argv = (sys.executable, "-c", REPLAY_PIP, PIP_RAW_FROM_AN_INDEX)
            faked.append(type(step)(step.label, argv, step.env, step.weight, step.progress))
        return faked

    monkeypatch.setattr(tasks, "online_problem", lambda: None)
    monkeypatch.setattr(tasks, "has_nvidia_gpu", lambda: False)
    monkeypatch.setattr(tasks, "install_steps", fake_steps)
    monkeypatch.delenv("VIDEO_MOCAP_FAKE_PIP", raising=False)
    monkeypatch.delenv("VIDEO_MOCAP_FAKE_PIP_DELAY", raising=False)
    venv = paths.managed_venv()
    yield tasks
    for path in (venv, venv.with_name(venv.name + ".tmp"), venv.with_name(venv.name + ".old")):
        shutil.rmtree(path, ignore_errors=True)
    status().engine_info = ""


def managed_venv() -> Path:
    return Path(addon_module("paths").managed_venv())


def stamp() -> dict[str, Any]:
    return json.loads((managed_venv() / addon_module("engine").STAMP_FILE).read_text())


def set_stamp(**changes: Any) -> None:
    path = managed_venv() / addon_module("engine").STAMP_FILE
    path.write_text(json.dumps({**stamp(), **changes}))


PYTHON = ".".join(map(str, sys.version_info[:2]))
VERSIONS = "(torch 2.13.0, MediaPipe 1.2.3, numpy 1.26.4, OpenCV 4.11.0.86)"


def install(**props: Any) -> str:
    assert bpy.ops.mocap.install_engine(**props) == {"FINISHED"}
    return str(status().message)


def test_a_first_install_records_what_it_was_built_from_and_shows_the_versions(installer: ModuleType) -> None:
    engine, paths = addon_module("engine"), addon_module("paths")
    prefs().engine_source = "CUSTOM"
    venv = managed_venv()
    assert not venv.exists()
    assert install() == f"Engine installed in {venv} {VERSIONS}; it runs on cpu."
    digest = engine.requirements_digest(paths.ENGINE_SOURCE / engine.REQUIREMENTS_FILE)
    assert stamp() == {"format": 1, "requirements_sha256": digest, "python": PYTHON}
    assert str(venv.with_name(venv.name + ".tmp")) not in (venv / "pyvenv.cfg").read_text()  # relocated
    assert not venv.with_name(venv.name + ".tmp").exists()
    assert prefs().engine_source == "MANAGED"
    assert "torch 2.13.0" in status().engine_info and "Device: cpu" in status().engine_info
    # Check Engine right after shows the same versions and the device.
    assert bpy.ops.mocap.check_engine() == {"FINISHED"}
    assert status().message == f"Engine ready {VERSIONS}; it will run on cpu."


def test_a_current_engine_is_not_reinstalled_even_offline(
    installer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    install()
    marker = managed_venv() / "kept"
    marker.write_text("the engine that works")
    offline = "Online access is off, so the engine cannot be downloaded."
    monkeypatch.setattr(installer, "online_problem", lambda: offline)
    prefs().engine_source = "CUSTOM"
    assert install() == (
        f"The engine is already installed and up to date {VERSIONS}; use Repair Engine to reinstall it."
    )
    assert marker.is_file() and prefs().engine_source == "MANAGED"
    with pytest.raises(RuntimeError, match=re.escape(offline)):  # a repair needs the network
        bpy.ops.mocap.install_engine(repair=True)
    assert marker.is_file()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"requirements_sha256": "0" * 64}, "the add-on's engine requirements changed"),
        ({"python": "3.10"}, f"the engine was built with Python 3.10 and this Blender runs Python {PYTHON}"),
        (None, "the engine was installed by an earlier version of the add-on"),
    ],
)
def test_an_engine_built_from_something_else_is_reinstalled_with_the_reason(
    installer: ModuleType, change: dict[str, str] | None, why: str
) -> None:
    install()
    if change is None:
        (managed_venv() / addon_module("engine").STAMP_FILE).unlink()
    else:
        set_stamp(**change)
    (managed_venv() / "old").write_text("")
    assert install() == f"Engine reinstalled in {managed_venv()} because {why} {VERSIONS}; it runs on cpu."
    assert not (managed_venv() / "old").exists() and stamp()["python"] == PYTHON
    assert install().startswith("The engine is already installed and up to date")


def test_an_engine_whose_check_fails_is_reinstalled(
    installer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    install()
    (managed_venv() / "broken").write_text("")
    monkeypatch.setattr(
        installer, "online_problem", lambda: "Online access is off, so nothing can be downloaded."
    )
    with pytest.raises(
        RuntimeError,
        match=re.escape(
            "The engine needs reinstalling because the installed engine failed its check (the engine's mediapipe "
            "cannot be imported (ImportError: libGL.so.1); install the engine again from the add-on's "
            "preferences), but online access is off, so nothing can be downloaded."
        ),
    ):
        bpy.ops.mocap.install_engine()
    assert (managed_venv() / "broken").is_file()  # left as it was
    monkeypatch.setattr(installer, "online_problem", lambda: None)
    assert install() == (
        f"Engine reinstalled in {managed_venv()} because the installed engine failed its check (the engine's "
        "mediapipe cannot be imported (ImportError: libGL.so.1); install the engine again from the add-on's "
        f"preferences) {VERSIONS}; it runs on cpu."
    )
    assert not (managed_venv() / "broken").exists()


def test_repair_reinstalls_and_a_cancelled_repair_keeps_the_engine(
    installer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    install()
    (managed_venv() / "first").write_text("")
    assert (
        install(repair=True)
        == f"Engine repaired: reinstalled in {managed_venv()} {VERSIONS}; it runs on cpu."
    )
    assert not (managed_venv() / "first").exists()
    rna = bpy.ops.mocap.install_engine.get_rna_type().properties["repair"]
    assert rna.is_skip_save  # a repair is never remembered for the next Install Engine
    (managed_venv() / "working").write_text("")
    monkeypatch.setenv("VIDEO_MOCAP_FAKE_PIP", "hang")
    task = installer.InstallTask(repair=True)
    task.start(bpy.context)
    for _ in range(3000):
        assert task.step(bpy.context) is None
        if task.stage == "Installing PyTorch":
            break
        time.sleep(0.01)
    tmp = managed_venv().with_name(managed_venv().name + ".tmp")
    assert tmp.is_dir()
    task.cancel()
    outcome = task.step(bpy.context)
    assert outcome is not None and outcome.status == "cancelled"
    with pytest.raises(installer.TaskError, match=r"^Engine installation cancelled; the previous engine"):
        task.finish(bpy.context, outcome)
    assert (managed_venv() / "working").is_file() and not tmp.exists()
    monkeypatch.delenv("VIDEO_MOCAP_FAKE_PIP")
    assert install().startswith("The engine is already installed and up to date")


def test_the_progress_bar_follows_pips_bytes(installer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDEO_MOCAP_FAKE_PIP_DELAY", "0.02")
    task = installer.InstallTask()
    task.start(bpy.context)
    seen: list[tuple[float, str]] = []
    outcome = None
    for _ in range(20000):
        outcome = task.step(bpy.context)
        seen.append((task.fraction, task.message))
        if outcome is not None:
            break
        time.sleep(0.002)
    assert outcome is not None and outcome.status == "done"
    assert task.finish(bpy.context, outcome).startswith("Engine installed in ")
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    torch = [
        (f, m) for f, m in seen if re.fullmatch(r"Installing PyTorch: downloading faketorch, \d+ of 30 MB", m)
    ]
    assert len({round(f, 4) for f, _ in torch}) >= 3, seen  # the bar moves during the PyTorch download
    assert any(m == "Installing the worker's packages: installing 1 package" for _, m in seen)
