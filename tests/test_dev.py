"""dev.py's environment set-up: an existing virtual environment is updated, not re-created."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from tests.support.paths import ROOT


def _dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_an_existing_environment_is_kept(tmp_path: Path) -> None:
    dev = _dev()
    venv_dir = tmp_path / "env"
    python = dev.venv_python(venv_dir)
    python.parent.mkdir(parents=True)
    # A Python that is a symlink to the running interpreter, as `python -m venv` makes it: building a venv over
    # it with copies failed (shutil.SameFileError), so it must be left as it is.
    python.symlink_to(sys.executable)
    (venv_dir / "installed.txt").write_text("packages")
    dev.make_venv(venv_dir, force=False)
    assert python.is_symlink() and (venv_dir / "installed.txt").read_text() == "packages"


def test_a_missing_environment_is_created(tmp_path: Path) -> None:
    dev = _dev()
    venv_dir = tmp_path / "env"
    (venv_dir / "stale").mkdir(
        parents=True
    )  # a folder without a Python is not an environment: started afresh
    dev.make_venv(venv_dir, force=False)
    assert dev.venv_python(venv_dir).exists() and (venv_dir / "pyvenv.cfg").is_file()
    assert not (venv_dir / "stale").exists()
