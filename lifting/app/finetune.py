"""`python -m lifting finetune`: the held-out fine-tuning of `lifting.learn.finetune`, whose before/after table on
the held-out clips also carries the quality report's measures (`lifting.app.quality`), as the user will get them.

Each held-out clip is lifted with the base weights and with the new ones (its focal length; refined, as the add-on
and the command line lift by default, unless `--no-refine`), placed in the world as the retargeter places it, and
measured by `quality.measure`; the table gives the mean over the clips of
- reprojection, px: the 3D projected onto the clip's own 2D (`lift.refine.reprojection_error`);
- 3D jitter: the joints' mean acceleration in camera space, mm/frame²;
- left/right flips, 3D: frames where a left/right joint pair of the 3D exchanges places from the previous frame
  (`quality.swap_frames` on the 3D joints, 10 % of the person's height);
- foot skate: horizontal toe speed while its foot is planted, cm/s;
after the rows `lifting.learn.finetune` measures itself on the network alone (the early-stopping reprojection and
the bone-length spread).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lifting.app.options import ConvertOptions
from lifting.app.quality import QualityReport, lift_and_measure, swap_frames
from lifting.learn.finetune import ClipTrack, TableRow
from lifting.learn.finetune import main as finetune_main
from lifting.skeleton import OUTPUT
from retarget.motion3d import Motion3D


@dataclass(frozen=True)
class Measured:
    """One held-out clip lifted with one set of weights: its quality report, its 3D and its 3D flips (frames)."""

    report: QualityReport
    motion: Motion3D
    flips_3d: int


def flips_3d(motion: Motion3D, found: npt.NDArray[np.bool_], height_m: float) -> int:
    """Frames where a left/right joint pair of the 3D (camera space, metres) exchanges places from one found
    frame to the next (`quality.swap_frames` with the skeleton's mirror pairs and the person's height)."""
    names = list(motion.joint_names)
    pairs = [
        (names.index(OUTPUT.names[a]), names.index(OUTPUT.names[b]))
        for a, b in OUTPUT.mirror_pairs
        if OUTPUT.names[a] in names and OUTPUT.names[b] in names
    ]
    if not np.isfinite(height_m) or height_m <= 0:
        return 0
    return swap_frames(motion.absolute_joints(), np.asarray(found, dtype=bool), height_m, pairs)


def measure_clip(clip: ClipTrack, weights: Path, refine: bool) -> Measured:
    """The clip lifted with `weights` at its focal length and measured by the quality report."""
    report, keypoints, motion = lift_and_measure(
        clip.name, clip.keypoints, str(weights), refine, clip.focal_px
    )
    return Measured(report, motion, flips_3d(motion, keypoints.found, report.height_m))


ROWS: tuple[tuple[str, str], ...] = (
    ("reprojection, px", "reprojection_px"),
    ("3D jitter (acceleration), mm/frame²", "accel_3d_mm"),
    ("left/right flips, 3D (frames)", "flips_3d"),
    ("foot skate while planted, cm/s", "skate_cm_s"),
)


def _value(m: Measured, field: str) -> float:
    return float(m.flips_3d if field == "flips_3d" else getattr(m.report, field))


def quality_rows(before: Sequence[Measured], after: Sequence[Measured], suffix: str = "") -> list[TableRow]:
    """The table's quality rows: the mean over the clips of each measure, base then new weights; the
    reprojection, as the clips are lifted, gates keeping the new weights (`TableRow.gate`): tuned on Pose2Sim's
    cameras 1-2, the network's own held-out reprojection fell 25-29 % in runs whose refined P-MPJPE rose 2-3 %,
    while the refined reprojection rose 13-21 % (docs/finetune_real.md, docs/finetune_real_paper.md)."""
    rows = []
    for label, field in ROWS:
        b = [_value(m, field) for m in before]
        a = [_value(m, field) for m in after]
        mean_b = float(np.nanmean(b)) if np.isfinite(b).any() else float("nan")
        mean_a = float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")
        rows.append(TableRow(label + suffix, mean_b, mean_a, gate=field == "reprojection_px"))
    return rows


def held_out_rows(
    base: Path, tuned: Path, clips: Sequence[ClipTrack], refine: bool = ConvertOptions.refine
) -> list[TableRow]:
    """`lifting.learn.finetune.Evaluate`: the quality rows of the held-out clips, base weights against new
    (refined or not)."""
    before = [measure_clip(c, base, refine) for c in clips]
    after = [measure_clip(c, tuned, refine) for c in clips]
    return quality_rows(before, after, "" if refine else " (not refined)")


def main(argv: Sequence[str] | None = None, stdout: Any = None) -> int:
    """`python -m lifting finetune`: `lifting.learn.finetune`'s command with the quality rows in its table."""
    return finetune_main(argv, stdout, held_out_rows)
