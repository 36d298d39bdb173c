"""`--hands` (issue 26) reaches detection from every command that detects: detect, the conversion, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lifting.app import api
from lifting.app.cli import main
from lifting.errors import MocapError
from tests.support.paths import EXCERPT


class Stop(MocapError):
    pass


@pytest.mark.parametrize(
    "argv",
    [
        ["detect", "{video}", "-o", "{tmp}/k.keypoints.npz"],
        ["{video}", "-o", "{tmp}/x.bvh"],
        ["demo", "--video", "{video}", "--out", "{tmp}/demo"],
    ],
    ids=["detect", "convert", "demo"],
)
def test_the_hands_flag_reaches_detection(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []

    def detect(video: Any, **kwargs: Any) -> None:
        calls.append(kwargs)
        raise Stop("stopped by the test.")

    monkeypatch.setattr(api, "detect", detect)
    args = [a.format(video=EXCERPT, tmp=tmp_path) for a in argv]
    assert main(args) == 2 and main([*args, "--hands"]) == 2
    assert "stopped by the test" in capsys.readouterr().err
    assert [c.get("hands", False) for c in calls] == [False, True]
