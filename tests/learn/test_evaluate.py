"""Evaluation script: the table it writes, on a few real test clips with a tiny checkpoint."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from lifting.learn.evaluate import METRICS, Row, format_table, main, target_lines
from lifting.lift.checkpoint import CheckpointConfig, save_checkpoint
from lifting.lift.model import TemporalModelConfig
from lifting.skeleton import BLAZEPOSE, OUTPUT
from tests.support.paths import SHARED


def test_format_table_has_one_row_per_result() -> None:
    rows = [
        Row("a", 81, "noisy", tuple(float(i) for i in range(len(METRICS)))),
        Row("b", 1, "clean", (1.25,) * len(METRICS)),
    ]
    table = format_table(rows).splitlines()
    assert len(table) == 4
    assert table[2].startswith("| a | 81 | noisy | 0.0 | 1.0 |")
    assert table[3].endswith("| 1.2 |") or table[3].endswith("| 1.3 |")


def _row(
    model: str,
    rf: int,
    condition: str,
    p_mpjpe: float,
    accel: float,
    bone: float,
    bone_net: float | None = None,
) -> Row:
    values = dict.fromkeys(METRICS, 1.0) | {
        "P-MPJPE": p_mpjpe,
        "Accel": accel,
        "Bone std": bone,
        "Bone std (net)": bone if bone_net is None else bone_net,
    }
    return Row(model, rf, condition, tuple(values[m] for m in METRICS))


def test_target_lines_compare_each_temporal_model_with_the_single_frame_one_on_noisy_input() -> None:
    rows = [
        _row("mocap", 81, "noisy", 60.0, 8.0, 0.1, bone_net=15.8),
        _row("mocap", 81, "clean", 1.0, 1.0, 1.0),  # clean rows are not compared
        _row("big", 243, "noisy", 70.0, 10.0, 12.0),
        _row("single_frame", 1, "noisy", 80.0, 25.0, 16.0),
        _row("single_frame", 1, "clean", 76.0, 2.0, 2.0),
    ]
    assert target_lines(rows) == [
        "- mocap vs single_frame, noisy 2D: P-MPJPE 0.75× (target ≤ 0.85×, met), acceleration error 0.32× "
        "(target ≤ 0.35×, met), bone-length std 0.1 mm (target ≤ 10 mm, met; the network's raw joints: 15.8 mm).",
        "- big vs single_frame, noisy 2D: P-MPJPE 0.88× (target ≤ 0.85×, missed), acceleration error 0.40× "
        "(target ≤ 0.35×, missed), bone-length std 12.0 mm (target ≤ 10 mm, missed).",
        "- For scale: single_frame with clean 2D reaches P-MPJPE 0.95× its noisy-input value, so removing the 2D "
        "noise alone (what temporal smoothing can do) moves the P-MPJPE ratio only that far.",
    ]
    assert target_lines(rows[:3]) == []  # no single-frame model, nothing to compare with
    assert len(target_lines(rows[:4])) == 2  # no clean single-frame row, no scale line


def test_a_validation_run_needs_an_output_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--weights", "x", "--split", "validation", "--shared-dir", str(SHARED)]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: Give --out for a validation run; docs/results.md is for the test split."
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not (SHARED / "data" / "mocap").is_dir(), reason="../shared/data/mocap is not beside the repo"
)
def test_evaluate_writes_a_results_table(tmp_path: Path) -> None:
    torch.manual_seed(0)
    stems = []
    for name, widths in (("temporal", (3, 3)), ("single", (1, 1))):
        pose = TemporalModelConfig(
            num_joints_in=33, in_features=3, num_joints_out=21, filter_widths=widths, channels=16
        )
        cfg = CheckpointConfig(
            pose=pose, trajectory=pose.for_trajectory(), input_joints=BLAZEPOSE, output_joints=OUTPUT, fps=30.0,
            normalisation="camera", features=("x", "y", "visibility"),
        )  # fmt: skip
        save_checkpoint(tmp_path / name, cfg, cfg.build_models())
        stems.append(tmp_path / name)
    out = tmp_path / "results.md"
    args = ["--shared-dir", str(SHARED), "--out", str(out), "--max-clips", "3", "--device", "cpu"]
    assert main([*args, "--weights", str(stems[0]), "--weights", str(stems[1])]) == 0
    text = out.read_text()
    rows = [line for line in text.splitlines() if re.match(r"\| (temporal|single) \|", line)]
    assert [r.split("|")[1:4] for r in rows] == [
        [" temporal ", " 9 ", " noisy "], [" temporal ", " 9 ", " clean "],
        [" single ", " 1 ", " noisy "], [" single ", " 1 ", " clean "],
    ]  # fmt: skip
    for row in rows:
        values = [float(v) for v in row.strip("|").split("|")[3:]]
        assert len(values) == len(METRICS) and all(math.isfinite(v) and v >= 0 for v in values)
    assert "Test split v1: 3 clips" in text and "do not edit by hand" in text
    assert "## Targets" in text and "- temporal vs single, noisy 2D: P-MPJPE " in text
