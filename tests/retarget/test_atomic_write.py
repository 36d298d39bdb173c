"""retarget.atomic_write: the one atomic file writer (BVH, motion, keypoints, checkpoints, tables, caches)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from retarget.atomic_write import atomic_write, write_text_atomic


def test_writes_text_with_unix_line_ends_and_ordinary_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        target = write_text_atomic(tmp_path / "sub" / "table.md", "a\nb\n")
    finally:
        os.umask(old)
    assert target == tmp_path / "sub" / "table.md"
    assert target.read_bytes() == b"a\nb\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # not tempfile.mkstemp's 0600
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.md"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "motion.bvh"
    target.write_text("old", encoding="utf-8")

    def broken(tmp: Path) -> None:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["motion.bvh"]


def test_the_suffix_lets_numpy_write_to_the_temporary_name(tmp_path: Path) -> None:
    target = tmp_path / "clip.keypoints.npz"
    seen: list[str] = []

    def write(tmp: Path) -> None:
        seen.append(tmp.name)
        np.savez(tmp, x=np.arange(3))  # would append ".npz" to a name that does not end in it

    atomic_write(target, write, suffix=".tmp.npz")
    assert seen[0].startswith(".clip.keypoints.npz.") and seen[0].endswith(".tmp.npz")
    with np.load(target) as z:
        np.testing.assert_array_equal(z["x"], [0, 1, 2])
    assert [p.name for p in tmp_path.iterdir()] == ["clip.keypoints.npz"]
