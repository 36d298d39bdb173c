#!/usr/bin/env python3.11
"""Build the installable Blender add-on zip (a Blender 4.2+ extension). Standard library only.

    python build_addon.py                 # -> dist/video_mocap-<version>.zip
    python build_addon.py --out DIR --no-weights

Layout of the zip (the manifest at its root, as `blender --command extension build` makes it):

    blender_manifest.toml, __init__.py, ...   the add-on (blender_addon/)
    retarget/                                 retarget/ vendored as a sub-package of the add-on: its absolute
                                              `retarget` imports are rewritten into relative ones
    engine/lifting/, engine/retarget/         the worker's source as in the repository (absolute imports), run
                                              by the engine's Python with PYTHONPATH=<add-on>/engine; never
                                              imported by Blender. engine/lifting/weights/ holds the shipped
                                              weights when present.
    engine/requirements.json                  the worker's pins, from pyproject.toml's `worker` extra

Why vendoring with rewritten imports: extensions must be self-contained and use relative imports (the add-on
is imported as `bl_ext.<repository>.video_mocap`), and must not put their folder on sys.path, where a
top-level `retarget` could clash with another add-on's module. Blender's manual lists "vendorize" (absolute
imports turned relative) as one way to bundle a pure-Python module; wheels are the other, but a wheel is
installed into the site-packages shared by all extensions under its own top-level name, which is the clash
vendoring avoids. The worker, a separate process, uses the untouched copy in engine/.

The manifest is checked against Blender's rules (and the project's: version equal to pyproject.toml's, the
`files` and `network` permissions declared); when the `bpy` module is installed in this Python, Blender's own
validator (`blender_ext.py validate`) checks the built zip too. The zip is deterministic: sorted entries, fixed
timestamps, written to a temporary file and renamed.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from retarget.atomic_write import atomic_write  # standard library only, like this script

ROOT = Path(__file__).resolve().parent
ADDON_DIR = "blender_addon"
MANIFEST = "blender_manifest.toml"
VENDORED = "retarget"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
PERMISSIONS = {"files", "network", "clipboard", "camera", "microphone"}
ADDON_TAGS = {
    "3D View", "Add Curve", "Add Mesh", "Animation", "Bake", "Camera", "Compositing", "Development",
    "Game Engine", "Geometry Nodes", "Grease Pencil", "Import-Export", "Lighting", "Material", "Modeling",
    "Mesh", "Node", "Object", "Paint", "Pipeline", "Physics", "Render", "Rigging", "Scene", "Sculpt",
    "Sequencer", "System", "Text Editor", "Tracking", "User Interface", "UV",
}  # fmt: skip
REQUIRED_PERMISSIONS = {"files", "network"}
BLENDER_MIN = (4, 2, 0)


class BuildError(Exception):
    """The add-on cannot be built; the message says what to fix."""


# -- manifest ---------------------------------------------------------------------------------------------------
def _version_tuple(text: str) -> tuple[int, ...] | None:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text)
    return None if m is None else tuple(int(g) for g in m.groups())


def _reason_problem(what: str, text: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return f"{what} must be a non-empty string"
    if len(text) > 64:
        return f"{what} is longer than 64 characters"
    if text[-1] in ".,;:!?":
        return f"{what} must not end with punctuation"
    return None


def manifest_problems(data: dict[str, object], project_version: str | None = None) -> list[str]:
    """Everything wrong with a parsed blender_manifest.toml (empty when it is valid)."""
    problems = []
    if data.get("schema_version") != "1.0.0":
        problems.append('schema_version must be "1.0.0"')
    ext_id = data.get("id")
    if (
        not isinstance(ext_id, str)
        or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", ext_id)
        or ext_id.endswith("_")
    ):
        problems.append("id must be a Python identifier starting with a letter and not ending with '_'")
    version = data.get("version")
    if not isinstance(version, str) or _version_tuple(version) is None:
        problems.append('version must look like "1.2.3"')
    elif project_version is not None and version != project_version:
        problems.append(f"version {version} differs from pyproject.toml's {project_version}")
    for key in ("name", "maintainer"):
        if not isinstance(data.get(key), str) or not str(data.get(key)).strip():
            problems.append(f"{key} must be a non-empty string")
    problem = _reason_problem("tagline", data.get("tagline"))
    if problem:
        problems.append(problem)
    if data.get("type") != "add-on":
        problems.append('type must be "add-on"')
    bmin = data.get("blender_version_min")
    parsed = _version_tuple(bmin) if isinstance(bmin, str) else None
    if parsed is None or parsed < BLENDER_MIN:
        problems.append('blender_version_min must be a version like "4.2.0", at least 4.2.0')
    licence = data.get("license")
    if (
        not isinstance(licence, list)
        or not licence
        or not all(isinstance(x, str) and x.startswith("SPDX:") for x in licence)
    ):
        problems.append('license must be a list like ["SPDX:GPL-3.0-or-later"]')
    tags = data.get("tags", [])
    if not isinstance(tags, list) or any(t not in ADDON_TAGS for t in tags):
        problems.append(f"tags must be among Blender's add-on tags: {', '.join(sorted(ADDON_TAGS))}")
    perms = data.get("permissions", {})
    if not isinstance(perms, dict):
        problems.append("permissions must be a table of reasons")
    else:
        for key, reason in perms.items():
            if key not in PERMISSIONS:
                problems.append(f"unknown permission {key!r}")
            problem = _reason_problem(f"the reason for permission {key!r}", reason)
            if problem:
                problems.append(problem)
        for key in sorted(REQUIRED_PERMISSIONS - set(perms)):
            problems.append(f"permission {key!r} must be declared (the add-on needs it)")
    return problems


def load_manifest(root: Path) -> dict[str, object]:
    path = root / ADDON_DIR / MANIFEST
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read {path}: {exc}") from None


def load_pyproject(root: Path) -> dict[str, object]:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def worker_requirements(pyproject: dict[str, object]) -> dict[str, object]:
    """engine/requirements.json: torch's pin, the other pins of the `worker` extra, the --no-deps packages."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    pins = list(project["optional-dependencies"]["worker"])
    torch = [p for p in pins if re.match(r"torch\b", p)]
    if len(torch) != 1:
        raise BuildError("pyproject.toml's worker extra must pin torch exactly once")
    return {
        "torch": torch[0],
        "packages": [p for p in pins if p not in torch],
        # mediapipe, installed with --no-deps (see pyproject.toml): its opencv-contrib dependency clashes with headless.
        "no_deps": list(pyproject["tool"]["video-mocap"]["no-deps"]),  # type: ignore[index]
        # The Pythons these pins have wheels for (pyproject.toml's requires-python): the add-on refuses to build
        # an engine with any other Python before downloading anything.
        "requires_python": str(project["requires-python"]),
    }


# -- vendoring -------------------------------------------------------------------------------------------------
def vendor_source(text: str, depth: int, package: str = VENDORED, filename: str = "<module>") -> str:
    """Rewrite `from package[.x] import ...` into relative imports for a module `depth` folders below the
    package's top (0 for package/mod.py). `import package.x` cannot be made relative and is refused."""
    tree = ast.parse(text, filename=filename)
    lines = text.splitlines(keepends=True)
    pattern = re.compile(rf"from(\s+){re.escape(package)}((?:\.\w+)*)(\s+)import\b")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == package or alias.name.startswith(package + "."):
                    raise BuildError(
                        f"{filename}:{node.lineno}: use `from {package}... import` (cannot vendor)"
                    )
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == package or node.module.startswith(package + "."):
                i = node.lineno - 1
                line = lines[i]
                m = pattern.search(line, node.col_offset)
                if m is None:
                    raise BuildError(f"{filename}:{node.lineno}: cannot rewrite this import")
                dots = "." * (depth + 1)
                rest = m.group(2)[1:]
                lines[i] = (
                    line[: m.start()] + f"from{m.group(1)}{dots}{rest}{m.group(3)}import" + line[m.end() :]
                )
    out = "".join(lines)
    for node in ast.walk(ast.parse(out, filename=filename)):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == package
        ):
            raise BuildError(f"{filename}:{node.lineno}: an absolute {package} import is left")
    return out


def _files(folder: Path) -> list[Path]:
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIP_DIRS for part in rel.parts) or path.suffix in SKIP_SUFFIXES or not path.is_file():
            continue
        out.append(path)
    return out


def collect(root: Path, include_weights: bool = True) -> dict[str, bytes]:
    """Archive name -> contents of everything that goes into the zip."""
    entries: dict[str, bytes] = {}
    addon = root / ADDON_DIR
    for path in _files(addon):
        rel = path.relative_to(addon).as_posix()
        if rel.split("/")[0] in (VENDORED, "engine"):
            raise BuildError(
                f"{ADDON_DIR}/{rel}: the add-on folder must not hold {rel.split('/')[0]}/ itself"
            )
        entries[rel] = path.read_bytes()
    src = root / VENDORED
    for path in _files(src):
        rel = path.relative_to(src)
        data = path.read_bytes()
        entries[f"engine/{VENDORED}/{rel.as_posix()}"] = data
        if path.suffix == ".py":
            text = vendor_source(data.decode("utf-8"), len(rel.parts) - 1, filename=str(path))
            data = text.encode("utf-8")
        entries[f"{VENDORED}/{rel.as_posix()}"] = data
    lifting = root / "lifting"
    for path in _files(lifting):
        rel = path.relative_to(lifting)
        if rel.parts[0] == "weights" and not include_weights:
            continue
        if rel.parts[0] == "weights" and (
            path.suffix not in (".safetensors", ".json") or ".train-state." in path.name
        ):
            continue  # only checkpoints: no logs, no optimiser state kept for --resume
        entries[f"engine/lifting/{rel.as_posix()}"] = path.read_bytes()
    reqs = worker_requirements(load_pyproject(root))
    entries["engine/requirements.json"] = (json.dumps(reqs, indent=2) + "\n").encode("utf-8")
    needed_files = (
        MANIFEST,
        "__init__.py",
        "engine/lifting/app/worker.py",
        "engine/lifting/video2d/models/pose_landmarker_full.task",
        "engine/lifting/video2d/models/hand_landmarker.task",
        f"{VENDORED}/pipeline.py",
    )
    for needed in needed_files:
        if needed not in entries:
            raise BuildError(f"the add-on would lack {needed}")
    return entries


def write_zip(entries: dict[str, bytes], target: Path) -> None:
    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for name in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, entries[name])

    atomic_write(target, write)


def blender_validator() -> Path | None:
    """Blender's extension command line (blender_ext.py) from the installed `bpy` module, if any."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        found = sorted(Path(base).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
        if found:
            return found[-1]
    return None


def blender_validate(zip_path: Path) -> str | None:
    """Run Blender's own validator on the zip; returns its complaint, or None when valid or unavailable."""
    tool = blender_validator()
    if tool is None:
        return None
    proc = subprocess.run(
        [sys.executable, str(tool), "validate", str(zip_path)], capture_output=True, text=True, check=False
    )
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or "error" in output.lower():
        return output or f"exit status {proc.returncode}"
    return None


def build(
    root: Path = ROOT, out_dir: Path | None = None, include_weights: bool = True, blender_check: bool = True
) -> Path:
    """Validate the manifest, build the zip, validate it with Blender when possible; returns its path."""
    manifest = load_manifest(root)
    project = load_pyproject(root)["project"]
    assert isinstance(project, dict)
    problems = manifest_problems(manifest, str(project["version"]))
    if problems:
        raise BuildError(f"{ADDON_DIR}/{MANIFEST}: " + "; ".join(problems))
    entries = collect(root, include_weights)
    target = (out_dir or root / "dist") / f"{manifest['id']}-{manifest['version']}.zip"
    write_zip(entries, target)
    if blender_check:
        complaint = blender_validate(target)
        if complaint is not None:
            target.unlink()
            raise BuildError(f"Blender's validator rejects the zip: {complaint}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    parser.add_argument("--no-weights", action="store_true", help="leave lifting/weights/ out")
    parser.add_argument("--no-blender-check", action="store_true", help="skip Blender's own validator")
    args = parser.parse_args(argv)
    try:
        path = build(ROOT, args.out, not args.no_weights, not args.no_blender_check)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    weights = sum(1 for n in names if n.startswith("engine/lifting/weights/") and n.endswith(".safetensors"))
    print(f"{path} ({path.stat().st_size / 1e6:.2f} MB, {len(names)} files, {weights} shipped weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
