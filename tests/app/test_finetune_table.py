"""The quality rows of fine-tuning's before/after table (`lifting.app.finetune`): 3D left/right flips counted from
frame to frame, and each row the mean over the held-out clips."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from lifting.app.finetune import Measured, flips_3d, quality_rows
from lifting.skeleton import OUTPUT
from tests.support.synthetic import camera_motion, walking_joints


def _walk() -> Any:
    world, _ = walking_joints(60, fps=30.0, slide=0.0, jitter=0.0)
    return camera_motion(world, 30.0)


def test_a_body_whose_left_and_right_exchange_from_one_frame_on_is_one_flip() -> None:
    motion = _walk()
    found = np.ones(motion.num_frames, bool)
    assert flips_3d(motion, found, 1.7) == 0
    swapped = motion.joints.copy()
    for a, b in OUTPUT.mirror_pairs:
        swapped[25:, [a, b]] = motion.joints[25:, [b, a]]
    flipped = replace(motion, joints=swapped)
    assert flips_3d(flipped, found, 1.7) == 1
    found[25] = False  # the frame where it happens not found: nothing to compare it with
    assert flips_3d(flipped, found, 1.7) == 0
    assert flips_3d(flipped, np.ones(motion.num_frames, bool), float("nan")) == 0


def _measured(reprojection: float, skate: float, flips: int) -> Measured:
    report = SimpleNamespace(reprojection_px=reprojection, accel_3d_mm=1.0, skate_cm_s=skate)
    return Measured(report, None, flips)  # type: ignore[arg-type]


def test_each_row_is_the_mean_over_the_clips_before_and_after() -> None:
    before = [_measured(10.0, 4.0, 2), _measured(20.0, float("nan"), 0)]
    after = [_measured(8.0, 2.0, 1), _measured(10.0, 6.0, 0)]
    rows = {r.label: r for r in quality_rows(before, after, " (x)")}
    assert rows["reprojection, px (x)"].before == 15.0 and rows["reprojection, px (x)"].after == 9.0
    assert rows["reprojection, px (x)"].change_pct() == pytest.approx(-40.0)
    skate = rows["foot skate while planted, cm/s (x)"]
    assert skate.before == 4.0 and skate.after == 4.0  # a clip without the number is left out of the mean
    assert rows["left/right flips, 3D (frames) (x)"].before == 1.0
    assert rows["3D jitter (acceleration), mm/frame² (x)"].after == 1.0
