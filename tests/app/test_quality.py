"""The real-footage quality report: its measures on constructed tracks with known answers, and the command on
the committed excerpt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lifting.app import quality
from lifting.skeleton import BLAZEPOSE
from tests.support.paths import EXCERPT

RNG = np.random.default_rng(7)


def standing(frames: int) -> np.ndarray:
    """(T, 33, 2) px: a still person about 300 px tall, left limbs at x = 100, right at x = 200."""
    pose = np.zeros((33, 2))
    pose[:, 1] = np.linspace(100.0, 400.0, 33)
    for left, right in BLAZEPOSE.mirror_pairs:
        pose[left, 0], pose[right, 0] = 100.0, 200.0
    pose[0, 0] = 150.0
    return np.repeat(pose[None], frames, axis=0)


def test_robust_jitter_gives_back_white_noise_as_a_fraction_of_the_height() -> None:
    t = np.arange(300)
    pixels = standing(300) + 40.0 * np.sin(t / 25.0)[:, None, None]  # a smooth sway the fit follows
    pixels = pixels + RNG.normal(0.0, 2.0, pixels.shape)
    sigma, height = quality.robust_jitter(pixels, np.ones((300, 33)), 9)
    assert height == pytest.approx(300.0, rel=0.05)
    assert np.median(sigma) * height == pytest.approx(2.0, rel=0.15)
    # Frames without the person (NaN) split the runs; too short runs give NaN, not a number.
    pixels[::5] = np.nan
    short, _ = quality.robust_jitter(pixels, np.ones((300, 33)), 9)
    assert np.isnan(short).all()


def test_a_left_right_swap_and_its_return_count_as_two_frames() -> None:
    pixels = standing(10)
    wrist_l, wrist_r = BLAZEPOSE.index["left_wrist"], BLAZEPOSE.index["right_wrist"]
    pixels[4:6, [wrist_l, wrist_r]] = pixels[4:6, [wrist_r, wrist_l]]  # frames 4 and 5 swapped
    found = np.ones(10, bool)
    assert quality.swap_frames(pixels, found, 300.0) == 2
    assert quality.swap_frames(standing(10), found, 300.0) == 0
    found[4] = False  # no comparison across a frame without the subject
    assert quality.swap_frames(pixels, found, 300.0) == 1


def test_a_hip_jump_longer_than_the_torso_is_a_subject_jump() -> None:
    pixels = standing(6)
    torso = np.linalg.norm(pixels[0, quality.SHOULDERS].mean(0) - pixels[0, quality.HIPS].mean(0))
    pixels[3:] += [1.5 * torso, 0.0]  # someone else from frame 3 on
    pixels[5] += [0.5 * torso, 0.0]  # a fast step, shorter than the torso
    assert quality.subject_jumps(pixels, np.ones(6, bool)) == 1


@pytest.mark.slow
def test_the_command_writes_one_table_for_the_excerpt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VIDEO_MOCAP_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "quality.md"
    assert quality.main([str(EXCERPT), "--workers", "1", "--markdown", str(out)]) == 0
    printed = capsys.readouterr().out
    document = out.read_text()
    assert document.startswith("# Quality on real footage\n\nMade by `python -m lifting quality ")
    assert printed in document
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in printed.splitlines()[2:]
        if "|" in line
    }
    assert [label for label, _, _ in quality.ROWS] == list(rows)
    assert rows["frames"] == "60" and float(rows["subject found, %"]) == 100.0
    assert 0.0 < float(rows["reprojection, px"]) < 40.0 and 1.2 < float(rows["height, m"]) < 2.0
    assert float(rows["bone-length spread, mm"]) == 0.0  # constant bone lengths, the default


def test_a_missing_input_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert quality.main([str(tmp_path / "nope.mp4")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope.mp4'} is not a file."
