"""The import rules of DESIGN.md, checked on the syntax tree of every module (imports inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package → top-level modules it must never import.
FORBIDDEN: dict[str, set[str]] = {
    # lifting/ runs in the worker, never inside Blender.
    "lifting": {"bpy", "mathutils", "bmesh", "bpy_extras"},
    # retarget/ runs inside Blender: numpy only, no ML stack, no worker code.
    "retarget": {"bpy", "mathutils", "bmesh", "bpy_extras", "torch", "mediapipe", "cv2", "lifting"},
    # The add-on talks to lifting only through the worker process.
    "blender_addon": {"torch", "mediapipe", "cv2", "lifting"},
}


def imported_top_levels(path: Path) -> set[str]:
    """Top-level names of every absolute import in a file (`import a.b` and `from a.b import c` give `a`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
            "import_module",
            "__import__",
        ):
            # importlib.import_module("torch") / __import__("torch") with a literal name
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.add(node.args[0].value.split(".")[0])
    return names


def _python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_respect_the_import_rules(package: str) -> None:
    violations = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _python_files(package)
        for name in sorted(imported_top_levels(path) & FORBIDDEN[package])
    ]
    assert not violations, "; ".join(violations)


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import os.path\nfrom torch import nn\nfrom . import sibling\n"
        "def f():\n    import bpy\n    import importlib\n    importlib.import_module('cv2.data')\n"
        "    return __import__('mediapipe')\n"
    )
    assert imported_top_levels(source) == {"os", "torch", "bpy", "importlib", "cv2", "mediapipe"}


def test_the_checked_packages_exist() -> None:
    for package in ("lifting", "retarget"):
        assert _python_files(package), f"{package}/ has no Python files"
