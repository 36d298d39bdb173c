"""Rig presets: one data-only module per rig family, automatic detection from bone names.

Each preset module holds plain data: NAME, LABEL, PRIORITY (ties), ROOT, DRIVE (our joint -> bone name
or tuple of alternative names), SITES (joint -> (bone or alternatives, along, optional offset)) and
REQUIRES (extra bone names that identify the family), and optionally FINGERS ("l_index" -> its three bones,
each a name or alternatives; not used to detect the family). See retarget.mapping for their meaning.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from retarget.errors import RetargetError
from retarget.mapping import BoneMap, preset_coverage, resolve_preset
from retarget.presets import mesh2motion, mixamo, ours, rigify_generated, rigify_generated_def, rigify_metarig

_MODULES: tuple[ModuleType, ...] = (
    ours,
    rigify_generated,
    rigify_generated_def,
    rigify_metarig,
    mixamo,
    mesh2motion,
)
_KEYS = ("NAME", "LABEL", "PRIORITY", "ROOT", "DRIVE", "SITES", "REQUIRES", "FINGERS")

# Coverage a preset needs to be picked automatically.
MIN_COVERAGE = 0.9


def preset_data(name: str) -> dict[str, Any]:
    """The data of one preset, as a dict (a copy the caller may edit into a custom mapping)."""
    for m in _MODULES:
        if m.NAME == name:
            return {k: getattr(m, k) for k in _KEYS if hasattr(m, k)}
    raise RetargetError(f"unknown rig preset {name!r}; known: {', '.join(preset_names())}.")


def preset_names() -> list[str]:
    return [str(m.NAME) for m in _MODULES]


def detect_preset(bone_names: list[str] | tuple[str, ...]) -> str | None:
    """Name of the preset that fits these bone names best, or None when none fits well enough.

    Scores each preset by the fraction of its bone names present (namespaces like `mixamorig:` ignored);
    among those that resolve completely, highest coverage, then PRIORITY, wins.
    """
    best: tuple[float, int, str] | None = None
    for m in _MODULES:
        data = preset_data(str(m.NAME))
        cov = preset_coverage(data, bone_names)
        if cov < MIN_COVERAGE:
            continue
        try:
            resolve_preset(data, bone_names)
        except RetargetError:
            continue
        key = (cov, int(data.get("PRIORITY", 0)), str(m.NAME))
        if best is None or key[:2] > best[:2]:
            best = key
    return None if best is None else best[2]


def bone_map_for(bone_names: list[str] | tuple[str, ...], preset: str | None = None) -> BoneMap:
    """BoneMap for an armature: from the named preset, or the detected one when `preset` is None."""
    name = preset if preset is not None else detect_preset(bone_names)
    if name is None:
        raise RetargetError(
            "no rig preset matches this armature's bone names; pick a preset or map the bones by hand."
        )
    return resolve_preset(preset_data(name), bone_names)
