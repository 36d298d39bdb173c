"""The engine's pinned requirements (engine/requirements.json, as build_addon.py writes them) resolve to binary
wheels on every Python the add-on builds an engine with: 3.11 (Blender 4.2-5.0) and 3.13 (Blender 5.1 and
newer), on this platform (Linux x86_64), from the package registry. `pip install --dry-run --only-binary=:all:`
resolves the whole dependency tree without installing (torch included: on PyPI, Linux, that is its CUDA build,
which is what a GPU machine's Install Engine gets; the CPU machine's comes from PyTorch's index, not reachable
here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import build_addon
from tests.support.paths import ROOT, python313


def resolve(
    python: Path | str, requirements: list[str], tmp: Path, *, no_deps: bool = False
) -> dict[str, str]:
    """{package name: version} that pip would install with `python`, binary wheels only."""
    report = tmp / "report.json"
    cmd = [
        str(python),
        "-m",
        "pip",
        "--disable-pip-version-check",
        "install",
        "--dry-run",
        "--ignore-installed",
    ]
    cmd += ["--only-binary=:all:", "--target", str(tmp / "target"), "--report", str(report), "--quiet"]
    cmd += (["--no-deps"] if no_deps else []) + requirements
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert run.returncode == 0, f"{' '.join(requirements)} do not resolve to wheels:\n{run.stderr[-3000:]}"
    installs = json.loads(report.read_text())["install"]
    assert all(i["download_info"]["url"].endswith(".whl") for i in installs)
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in installs}


def engine_requirements() -> dict[str, object]:
    return build_addon.worker_requirements(build_addon.load_pyproject(ROOT))


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.11", "3.13"])
def test_engine_requirements_resolve_to_wheels(version: str, tmp_path: Path) -> None:
    python = sys.executable if version == "3.11" else python313()
    if python is None:
        pytest.skip("no .venv-py313 (python3.11 dev.py setup makes it)")
    reqs = engine_requirements()
    torch, packages, no_deps = reqs["torch"], reqs["packages"], reqs["no_deps"]
    assert isinstance(torch, str) and isinstance(packages, list) and isinstance(no_deps, list)
    found = resolve(python, [torch, *packages], tmp_path)
    assert found["torch"].split("+")[0] == torch.split("==")[1]  # a local CPU build is "2.13.0+cpu"
    assert found["numpy"] == ("1.26.4" if version == "3.11" else "2.4.6")
    assert {"opencv-python-headless", "scipy", "safetensors", "matplotlib"} <= set(found)
    assert resolve(python, no_deps, tmp_path, no_deps=True) == {"mediapipe": no_deps[0].split("==")[1]}


# pip's platform tags for each platform the add-on serves (blender_addon/engine.py's SERVED_PLATFORMS).
PLATFORM_TAGS = {
    "Linux x86_64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "Linux aarch64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"),
    "Windows x86_64": ("win_amd64",),
    "macOS arm64": ("macosx_14_0_arm64", "macosx_11_0_arm64"),
}


def pins_for(version: str) -> list[str]:
    """Every pinned engine package (no dependencies) whose environment marker holds on Python `version`."""
    from packaging.requirements import Requirement

    reqs = engine_requirements()
    pins = [str(reqs["torch"]), *reqs["packages"], *reqs["no_deps"]]
    chosen = []
    for pin in pins:
        req = Requirement(pin)
        if "==" in pin and (req.marker is None or req.marker.evaluate({"python_version": version})):
            chosen.append(f"{req.name}{req.specifier}")
    return chosen


@pytest.mark.slow
@pytest.mark.parametrize("platform", sorted(PLATFORM_TAGS))
@pytest.mark.parametrize("version", ["3.11", "3.13"])
def test_every_pinned_engine_package_has_a_wheel_for_each_served_platform(
    platform: str, version: str, tmp_path: Path
) -> None:
    pins = pins_for(version)
    assert {p.split("==")[0] for p in pins} >= {"torch", "numpy", "mediapipe", "opencv-python-headless"}
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--dry-run", "--no-deps"]
    cmd += [
        "--ignore-installed",
        "--only-binary=:all:",
        "--python-version",
        version,
        "--target",
        str(tmp_path),
    ]
    for tag in PLATFORM_TAGS[platform]:
        cmd += ["--platform", tag]
    run = subprocess.run([*cmd, *pins], capture_output=True, text=True, check=False)
    assert run.returncode == 0, f"no wheel on {platform} for Python {version}:\n{run.stderr[-2000:]}"
    assert "Would install" in run.stdout
