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
