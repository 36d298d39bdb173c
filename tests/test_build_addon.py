"""build_addon.py: the zip's layout, the vendored retarget working as the add-on's sub-package, the manifest
checks, the worker's pins, the shipped weights, and a deterministic build. No Blender needed (Blender's own
validator runs too when the bpy module is installed)."""

from __future__ import annotations

import ast
import importlib
import json
import shutil
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import build_addon
import dev
from build_addon import BuildError, manifest_problems, vendor_source
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_addon.build(ROOT, tmp_path_factory.mktemp("dist"), blender_check=False)


def names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.namelist()


def read(zip_path: Path, name: str) -> bytes:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.read(name)


def test_layout(built: Path) -> None:
    manifest = tomllib.loads((ROOT / "blender_addon" / "blender_manifest.toml").read_text())
    assert built.name == f"video_mocap-{manifest['version']}.zip"
    entries = names(built)
    assert entries == sorted(entries)
    addon_files = sorted(p.name for p in (ROOT / "blender_addon").iterdir() if p.is_file())
    assert {n for n in entries if "/" not in n} == set(addon_files)  # the add-on at the zip's root
    retarget_files = sorted(
        p.relative_to(ROOT / "retarget").as_posix()
        for p in (ROOT / "retarget").rglob("*.py")
        if "__pycache__" not in p.parts
    )
    assert sorted(n[len("retarget/") :] for n in entries if n.startswith("retarget/")) == retarget_files
    assert (
        sorted(n[len("engine/retarget/") :] for n in entries if n.startswith("engine/retarget/"))
        == retarget_files
    )
    assert "engine/lifting/app/worker.py" in entries and "engine/lifting/errors.py" in entries
    assert not [n for n in entries if "__pycache__" in n or n.endswith(".pyc")]
    # The worker's copy is untouched; the add-on's copy has only relative imports.
    assert read(built, "engine/retarget/pipeline.py") == (ROOT / "retarget" / "pipeline.py").read_bytes()
    for name in entries:
        if name.startswith("retarget/") and name.endswith(".py"):
            tree = ast.parse(read(built, name))
            absolute = [
                n.module
                for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.level == 0 and (n.module or "").startswith("retarget")
            ]
            assert absolute == [], name


def test_engine_requirements_follow_pyproject_and_dev_py(built: Path) -> None:
    reqs = json.loads(read(built, "engine/requirements.json"))
    worker = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "worker"
    ]
    assert reqs["torch"] in worker and reqs["torch"].startswith("torch==")
    assert sorted([reqs["torch"], *reqs["packages"]]) == sorted(worker)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # One --no-deps pin (mediapipe), read from pyproject.toml by dev.py and build_addon.py alike.
    assert reqs["no_deps"] == dev.no_deps_pins() == pyproject["tool"]["video-mocap"]["no-deps"]
    assert [p.split("==")[0] for p in reqs["no_deps"]] == ["mediapipe"]
    assert reqs["requires_python"] == pyproject["project"]["requires-python"] == ">=3.11,<3.14"
    # numpy 1.26 has no wheels for Python 3.12 and newer: one pin per Python.
    numpy = sorted(p for p in reqs["packages"] if p.startswith("numpy"))
    assert numpy == ["numpy==1.26.4; python_version < '3.12'", "numpy==2.4.6; python_version >= '3.12'"]
    names = zipfile.ZipFile(built).namelist()
    assert "engine/lifting/video2d/models/pose_landmarker_full.task" in names
    assert "engine/lifting/video2d/models/hand_landmarker.task" in names


def test_vendored_retarget_works_as_a_subpackage(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "site" / "video_mocap"
    with zipfile.ZipFile(built) as zf:
        zf.extractall(target)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    try:
        check_vendored_package()
    finally:
        for name in list(sys.modules):
            if name == "video_mocap" or name.startswith("video_mocap."):
                del sys.modules[name]


def check_vendored_package() -> None:
    pipeline = importlib.import_module("video_mocap.retarget.pipeline")
    rest_mod = importlib.import_module("video_mocap.retarget.rest_skeleton")
    import retarget.pipeline

    assert (
        pipeline is not retarget.pipeline and pipeline.RetargetConfig is not retarget.pipeline.RetargetConfig
    )
    from retarget.rest_skeleton import RestSkeleton
    from tests.support.synthetic import camera_motion, walking_joints

    world, _ = walking_joints(40, slide=0.0, jitter=0.0)
    # The vendored pipeline takes the repository's Motion3D by its fields (duck typing across the two copies).
    motion = camera_motion(world, 30.0)
    rest = rest_mod.RestSkeleton.load_json(ROOT / "tests" / "data" / "rigs" / "mixamo_tpose.json")
    got = pipeline.retarget(motion, rest, pipeline.RetargetConfig()).animation
    want = retarget.pipeline.retarget(
        motion,
        RestSkeleton.load_json(ROOT / "tests" / "data" / "rigs" / "mixamo_tpose.json"),
    ).animation
    assert got.bone_names == want.bone_names
    np.testing.assert_array_equal(got.rotations, want.rotations)
    worker_client = importlib.import_module("video_mocap.worker_client")
    assert worker_client.WorkerJob.__module__ == "video_mocap.worker_client"


def copy_project(dst: Path) -> Path:
    for folder in ("blender_addon", "retarget", "lifting"):
        shutil.copytree(ROOT / folder, dst / folder, ignore=shutil.ignore_patterns("__pycache__", "weights"))
    shutil.copy(ROOT / "pyproject.toml", dst / "pyproject.toml")
    return dst


def test_weights_are_shipped_when_present(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "repo")
    weights = root / "lifting" / "weights"
    weights.mkdir()
    (weights / "base.safetensors").write_bytes(b"\x08" + bytes(7) + b"{}      ")
    (weights / "base.json").write_text('{"format": "video-mocap-checkpoint"}')
    (weights / "notes.txt").write_text("not shipped")
    with_weights = build_addon.build(root, tmp_path / "a", blender_check=False)
    assert [n for n in names(with_weights) if "/weights/" in n] == [
        "engine/lifting/weights/base.json",
        "engine/lifting/weights/base.safetensors",
    ]
    assert (
        read(with_weights, "engine/lifting/weights/base.safetensors")
        == (weights / "base.safetensors").read_bytes()
    )
    without = build_addon.build(root, tmp_path / "b", include_weights=False, blender_check=False)
    assert not [n for n in names(without) if "/weights/" in n]


def test_build_is_deterministic(built: Path, tmp_path: Path) -> None:
    again = build_addon.build(ROOT, tmp_path, blender_check=False)
    assert again.read_bytes() == built.read_bytes()


def valid_manifest() -> dict[str, Any]:
    return tomllib.loads((ROOT / "blender_addon" / "blender_manifest.toml").read_text())


def test_the_shipped_manifest_is_valid() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert manifest_problems(valid_manifest(), version) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"id": "video-mocap"}, "id must be a Python identifier"),
        ({"id": "mocap_"}, "id must be a Python identifier"),
        ({"version": "1.0"}, 'version must look like "1.2.3"'),
        ({"version": "9.9.9"}, "differs from pyproject.toml's"),
        ({"tagline": "Motion capture."}, "tagline must not end with punctuation"),
        ({"tagline": "x" * 65}, "tagline is longer than 64 characters"),
        ({"blender_version_min": "4.1.0"}, "at least 4.2.0"),
        ({"license": ["GPL"]}, "license must be a list like"),
        ({"tags": ["Mocap"]}, "tags must be among Blender's add-on tags"),
        ({"type": "theme"}, 'type must be "add-on"'),
        ({"permissions": {"files": "Read videos"}}, "permission 'network' must be declared"),
        ({"permissions": {"files": "Read videos.", "network": "Download"}}, "reason for permission 'files'"),
        ({"permissions": {"files": "a", "network": "b", "gps": "c"}}, "unknown permission 'gps'"),
    ],
)
def test_manifest_problems_are_named(change: dict[str, Any], problem: str) -> None:
    data = {**valid_manifest(), **change}
    found = manifest_problems(data, "0.1.0")
    assert any(problem in p for p in found), found


def test_an_invalid_manifest_stops_the_build(tmp_path: Path) -> None:
    root = copy_project(tmp_path / "repo")
    path = root / "blender_addon" / "blender_manifest.toml"
    path.write_text(path.read_text().replace('id = "video_mocap"', 'id = "video mocap"'))
    with pytest.raises(BuildError, match="id must be a Python identifier"):
        build_addon.build(root, tmp_path / "out", blender_check=False)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_vendor_source_rewrites_only_absolute_package_imports() -> None:
    src = (
        "from retarget import mocap21\n"
        "from retarget.errors import RetargetError\n"
        "from retarget.presets import (\n    ours,\n    mixamo,\n)\n"
        "import numpy as np\n"
        "from retargeting import x\n"
        "def f():\n    from retarget.solve import build_plan\n"
    )
    top = vendor_source(src, 0)
    assert top.splitlines()[:3] == [
        "from . import mocap21",
        "from .errors import RetargetError",
        "from .presets import (",
    ]
    assert "from retargeting import x" in top and "    from .solve import build_plan" in top
    nested = vendor_source(src, 1)
    assert nested.splitlines()[:2] == ["from .. import mocap21", "from ..errors import RetargetError"]
    with pytest.raises(BuildError, match="cannot vendor"):
        vendor_source("import retarget.pipeline\n", 0)


def test_blender_validator_agrees(built: Path, tmp_path: Path) -> None:
    if build_addon.blender_validator() is None:
        pytest.skip("the bpy module is not installed here, so Blender's own validator is not available")
    assert build_addon.blender_validate(built) is None
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "blender_manifest.toml":
                data = data.replace(
                    b'tagline = "Motion capture from a video onto your armature"', b'tagline = "Ends."'
                )
            dst.writestr(name, data)
    complaint = build_addon.blender_validate(bad)
    assert complaint is not None and "tagline" in complaint


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert build_addon.main(["--out", str(tmp_path), "--no-blender-check"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "video_mocap-0.1.0.zip") in out and "files" in out
