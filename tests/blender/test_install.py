"""The built zip installs as an extension in an isolated user folder and registers/unregisters cleanly."""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import ADDON_MODULE, BPY_MISSING, ROOT

bpy = pytest.importorskip("bpy", reason=BPY_MISSING)
import addon_utils  # noqa: E402  (Blender's module, after bpy)

OPERATORS = (
    "video_to_animation",
    "detect",
    "lift",
    "apply_motion",
    "cancel",
    "install_engine",
    "check_engine",
    "finetune",
    "export_fbx",
    "export_bvh",
)


def _registered() -> dict[str, bool]:
    return {
        "scene_props": hasattr(bpy.types.Scene, "video_mocap"),
        "wm_props": hasattr(bpy.types.WindowManager, "video_mocap_status"),
        "panel": hasattr(bpy.types, "MOCAP_PT_main"),
        "operators": all(hasattr(bpy.ops.mocap, op) and _op_exists(op) for op in OPERATORS),
    }


def _op_exists(name: str) -> bool:
    try:
        getattr(bpy.ops.mocap, name).get_rna_type()
    except KeyError:
        return False
    return True


def test_installs_into_the_temporary_user_folder(addon: ModuleType, addon_zip: Path) -> None:
    import os

    user = Path(os.environ["BLENDER_USER_RESOURCES"])
    installed = Path(addon.__file__).parent
    assert addon.__name__ == ADDON_MODULE
    assert user in installed.parents  # nothing lands in the home folder
    assert (installed / "blender_manifest.toml").is_file()
    assert (installed / "engine" / "lifting" / "app" / "worker.py").is_file()
    assert (installed / "retarget" / "pipeline.py").is_file()
    with zipfile.ZipFile(addon_zip) as zf:
        assert "blender_manifest.toml" in zf.namelist()
    # The vendored retarget is the add-on's own sub-package, not a top-level module.
    pipeline = __import__(ADDON_MODULE + ".retarget.pipeline", fromlist=["retarget"])
    assert pipeline.__name__ == ADDON_MODULE + ".retarget.pipeline"
    assert Path(pipeline.__file__).parent == installed / "retarget"
    user_dir = Path(bpy.utils.extension_path_user(ADDON_MODULE, create=True))
    assert user in user_dir.parents and installed not in user_dir.parents
    assert str(ROOT) not in addon.__file__


def test_register_and_unregister_twice(fresh: ModuleType) -> None:
    assert all(_registered().values())
    for _ in range(2):
        addon_utils.disable(ADDON_MODULE, default_set=True)
        assert not any(_registered().values()), _registered()
        addon_utils.enable(ADDON_MODULE, default_set=True)
        assert all(_registered().values()), _registered()
    assert ADDON_MODULE in bpy.context.preferences.addons


def test_panel_draws_without_errors(fresh: ModuleType) -> None:
    # Panels only draw in a UI; their poll/draw code paths are plain functions we can at least resolve.
    panel = bpy.types.MOCAP_PT_main
    assert panel.bl_category == "Mocap" and panel.bl_region_type == "UI" and panel.bl_space_type == "VIEW_3D"
    children = [c for c in dir(bpy.types) if c.startswith("MOCAP_PT_") and c != "MOCAP_PT_main"]
    assert sorted(children) == ["MOCAP_PT_export", "MOCAP_PT_finetune", "MOCAP_PT_options", "MOCAP_PT_steps"]
