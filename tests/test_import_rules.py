"""The import rules of DESIGN.md, checked on the syntax tree of every module (imports inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import ROOT

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


# -- the stage rooms of lifting/ (DESIGN.md, "Layout and who may import what") -----------------------------------
STAGES = ("video2d", "lift", "learn", "app")
# stage -> the other stages it may import; every stage may import the lifting/ root and retarget/.
STAGE_MAY_IMPORT: dict[str, set[str]] = {
    "video2d": set(),
    "lift": set(),
    "learn": {"video2d", "lift"},
    "app": {"video2d", "lift", "learn"},
}
# Third-party modules a room must never import: decoding and MediaPipe never need torch; the root is numpy only.
STAGE_FORBIDDEN: dict[str, set[str]] = {
    "video2d": {"torch", "safetensors"},
    "root": {"torch", "safetensors", "cv2", "mediapipe", "scipy", "tqdm"},
}
# The package's two doors hand on to the stages by name, when asked: `from lifting import api` and
# `python -m lifting COMMAND`. They are exempt from the root's rule, and checked below instead.
DOORS = ("__init__.py", "__main__.py")


def lifting_parts(path: Path) -> set[str]:
    """What a file takes from lifting/: the first name under `lifting.` of each import (a stage folder or a
    root module), including `from lifting import X` and `import_module("lifting.X...")` with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parts: set[str] = set()

    def add(module: str, names: list[str] | None = None) -> None:
        pieces = module.split(".")
        if pieces[0] != "lifting":
            return
        if len(pieces) > 1:
            parts.add(pieces[1])
        else:
            parts.update(names or [])

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            add(node.module, [alias.name for alias in node.names])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
            "import_module",
            "__import__",
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                add(node.args[0].value)
    return parts


def room_of(path: Path) -> str:
    """ "root" for a module directly in lifting/, else its stage folder."""
    rel = path.relative_to(ROOT / "lifting")
    return "root" if len(rel.parts) == 1 else rel.parts[0]


def test_stages_import_only_downward() -> None:
    assert sorted(p.name for p in (ROOT / "lifting").iterdir() if (p / "__init__.py").is_file()) == sorted(
        STAGES
    )
    violations = []
    for path in _python_files("lifting"):
        room = room_of(path)
        if room not in STAGES and room != "root":
            continue  # lifting/weights/ holds no code
        if room == "root" and path.name in DOORS:
            continue
        allowed = set() if room == "root" else STAGE_MAY_IMPORT[room] | {room}
        for part in sorted(lifting_parts(path) & set(STAGES)):
            if part not in allowed:
                violations.append(f"{path.relative_to(ROOT)} ({room}) imports lifting.{part}")
        for name in sorted(imported_top_levels(path) & STAGE_FORBIDDEN.get(room, set())):
            violations.append(f"{path.relative_to(ROOT)} ({room}) imports {name}")
    assert not violations, "; ".join(violations)


def test_the_doors_import_the_stages_only_when_asked() -> None:
    """lifting/__init__.py and __main__.py import no stage at module level (so `import lifting` and
    `python -m lifting worker check` stay light), and every command of the tree names a module that exists."""
    import importlib.util

    from lifting import __main__ as command_tree

    for name in DOORS:
        tree = ast.parse((ROOT / "lifting" / name).read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        taken = {a.name.split(".")[0] for n in top if isinstance(n, ast.Import) for a in n.names}
        taken |= {n.module.split(".")[0] for n in top if isinstance(n, ast.ImportFrom) and n.module}
        assert "lifting" not in taken, f"lifting/{name} imports lifting at module level"
    for command, module in command_tree.COMMANDS.items():
        assert importlib.util.find_spec(module) is not None, f"{command}: {module} does not exist"


def test_the_stage_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import lifting.lift.model\nfrom lifting import app, skeleton\nfrom lifting.video2d.detect import detect\n"
        "def f():\n    import importlib\n    return importlib.import_module('lifting.learn.train')\n"
    )
    assert lifting_parts(source) == {"lift", "app", "skeleton", "video2d", "learn"}


def test_the_checked_packages_exist() -> None:
    for package in ("lifting", "retarget"):
        assert _python_files(package), f"{package}/ has no Python files"
