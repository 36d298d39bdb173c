"""lifting.cache: one root for every cache, one folder per kind, from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifting.cache import cache_dir, cache_root
from lifting.learn.datasets.dataset import default_cache_dir as mocap_cache
from lifting.video2d.detect import default_cache_dir as keypoints_cache


def test_the_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VIDEO_MOCAP_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "video-mocap"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "video-mocap"
    monkeypatch.setenv("VIDEO_MOCAP_CACHE", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    assert not (tmp_path / "mine").exists()  # nothing is created by asking


def test_each_kind_has_its_own_folder_under_the_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIDEO_MOCAP_CACHE", str(tmp_path))
    assert keypoints_cache() == cache_dir("keypoints") == tmp_path / "keypoints"
    assert mocap_cache() == cache_dir("mocap") == tmp_path / "mocap"
