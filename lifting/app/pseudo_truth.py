"""Scoring each camera of a calibrated multi-camera clip against the others: the quality report's pseudo-ground
truth mode (`python -m lifting quality --calibration FILE VIDEO...`).

For camera c, the reference is MediaPipe's 2D of every OTHER camera, left/right made consistent and triangulated
(`lifting.multiview.seen_from_others`), after the views are synchronised (`estimate_offsets`). Against it:
- subject kept: found frames whose hip centre lies within half a torso of the reference's, projected into c, %;
- left/right swapped, 2D: found frames where exchanging an arm's or a leg's labels brings that group nearer
  the projected reference (by a third: within 0.7 of its distance as labelled), %, as detected and after repair
  (`lifting.video2d.swaps`);
- P-MPJPE: our monocular 3D (the joints a detection observes, `lifting.skeleton.observation_matrix`) against the
  reference landmarks in c's camera frame, per-frame Procrustes, mm;
- left/right flips, 3D: frames where the 3D's arms or legs fit the reference better exchanged (same margin),
  both centred in c's camera frame (not rotated), %.
A reference frame needs two other views; frames without one are left out of every number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lifting.metrics import procrustes_align
from lifting.multiview import CalibratedCamera, estimate_offsets, seen_from_others
from lifting.skeleton import BLAZEPOSE, BLAZEPOSE_SWAP_GROUPS, OUTPUT, observation_matrix, swap_pairs
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.tracking import HIPS, SHOULDERS
from retarget.motion3d import Motion3D

FloatArray = npt.NDArray[np.float64]
# A labelling counts as swapped when the exchanged one is this much nearer the reference.
SWAP_MARGIN = 0.7
LIMB_GROUPS = ("arms", "legs")


@dataclass(frozen=True)
class CameraScore:
    """One camera against the pseudo-ground truth of the others (module docstring); NaN where not measurable."""

    offset: int
    reference_frames: int
    subject_kept_pct: float
    swapped_2d_pct: float
    swapped_2d_repaired_pct: float
    p_mpjpe_mm: float
    flips_3d_pct: float


def _pixels(keypoints: Keypoints2D) -> FloatArray:
    return np.where(keypoints.found[:, None, None], keypoints.keypoints, np.nan).astype(np.float64)


def swapped_groups(
    points: FloatArray, reference: FloatArray, joints: Sequence[int] | None = None
) -> FloatArray:
    """Per frame and limb group (T, 2): 1 where exchanging the group's left/right labels brings points (T, 33, D)
    nearer the reference (T, 33, D) by `SWAP_MARGIN`, 0 where not, NaN where either is missing. `joints`: the
    landmarks to compare (default every landmark of the group)."""
    out = np.full((len(points), len(LIMB_GROUPS)), np.nan)
    for g, name in enumerate(LIMB_GROUPS):
        pairs = BLAZEPOSE_SWAP_GROUPS[name]
        idx = [j for p in pairs for j in p if joints is None or j in joints]
        keep = np.linalg.norm(points[:, idx] - reference[:, idx], axis=-1).mean(axis=-1)
        exchanged = np.linalg.norm(swap_pairs(points, pairs)[:, idx] - reference[:, idx], axis=-1).mean(
            axis=-1
        )
        ok = np.isfinite(keep) & np.isfinite(exchanged)
        out[ok, g] = exchanged[ok] < SWAP_MARGIN * keep[ok]
    return out


def _pct(flags: FloatArray) -> float:
    """% of rows with any flag set, over rows where every flag is measured."""
    ok = np.isfinite(flags).all(axis=1)
    return 100.0 * float(np.nanmax(flags[ok], axis=1).mean()) if ok.any() else float("nan")


def references(
    cameras: Sequence[CalibratedCamera], raw: Sequence[Keypoints2D]
) -> tuple[list[int], list[FloatArray]]:
    """The take's synchronising frame offsets (C,) and, per camera, its pseudo-ground truth: world landmarks
    (T, 33, 3) triangulated from the other cameras' tracks as detected (`seen_from_others`)."""
    px = np.stack([_pixels(k) for k in raw])
    w = np.stack([k.visibility for k in raw]).astype(np.float64)
    offsets = estimate_offsets(cameras, px, w)
    return offsets, [seen_from_others(cameras, px, w, offsets, c)[0] for c in range(len(cameras))]


def score_cameras(
    cameras: Sequence[CalibratedCamera],
    raw: Sequence[Keypoints2D],
    repaired: Sequence[Keypoints2D],
    motions: Sequence[Motion3D | None],
) -> list[CameraScore]:
    """Each camera's numbers (module docstring). raw: each camera's track as detected; repaired: after left/right
    repair (the reference is triangulated from the raw tracks, made consistent across views); motions: each
    camera's 3D lifted from the repaired track (None to skip the 3D numbers). Same frame count everywhere."""
    px = np.stack([_pixels(k) for k in raw])
    offsets, worlds = references(cameras, raw)
    observed, matrix = observation_matrix(BLAZEPOSE, OUTPUT)
    scores = []
    for c, camera in enumerate(cameras):
        world = worlds[c]
        reference_px = camera.project(world)
        has_ref = np.isfinite(world[:, HIPS + SHOULDERS]).all(axis=(1, 2))
        found = raw[c].found & has_ref
        hips, ref_hips = px[c][:, HIPS].mean(axis=1), reference_px[:, HIPS].mean(axis=1)
        torso = np.linalg.norm(reference_px[:, SHOULDERS].mean(axis=1) - ref_hips, axis=-1)
        kept = np.linalg.norm(hips - ref_hips, axis=-1) < 0.5 * torso
        rows = np.flatnonzero(found)
        swapped = swapped_groups(px[c][rows], reference_px[rows])
        fixed = swapped_groups(_pixels(repaired[c])[rows], reference_px[rows])
        p_mpjpe = flips = float("nan")
        motion = motions[c]
        if motion is not None and len(rows):
            target = camera.to_camera(world)[rows]  # (N, 33, 3)
            ref_joints = np.einsum("kj,njd->nkd", matrix, target)
            pred = motion.absolute_joints()[rows][:, observed]
            ok = np.isfinite(ref_joints).all(axis=(1, 2))
            if ok.any():
                aligned = procrustes_align(pred[ok], ref_joints[ok])
                p_mpjpe = 1000.0 * float(np.linalg.norm(aligned - ref_joints[ok], axis=-1).mean())
                # Flips are judged in the camera's frame (both are): centred, never rotated, which would turn a
                # body whose left and right are exchanged half a turn round instead.
                centred = pred[ok] - pred[ok].mean(axis=1, keepdims=True)
                flips = _pct(
                    _flips_3d(centred, ref_joints[ok] - ref_joints[ok].mean(axis=1, keepdims=True), observed)
                )
        scores.append(
            CameraScore(
                offset=offsets[c],
                reference_frames=int(has_ref.sum()),
                subject_kept_pct=100.0
                * float(kept[has_ref & raw[c].found].sum())
                / max(int(has_ref.sum()), 1),
                swapped_2d_pct=_pct(swapped),
                swapped_2d_repaired_pct=_pct(fixed),
                p_mpjpe_mm=p_mpjpe,
                flips_3d_pct=flips,
            )
        )
    return scores


def _flips_3d(pred: FloatArray, reference: FloatArray, observed: Sequence[int]) -> FloatArray:
    """`swapped_groups` for 3D joints of `OUTPUT` (N, K, 3) listed by `observed`: arms are shoulders to hands,
    legs knees to toes (hips are not observed)."""
    names = [OUTPUT.names[j] for j in observed]
    out = np.full((len(pred), len(LIMB_GROUPS)), np.nan)
    for g, parts in enumerate((("shoulder", "elbow", "wrist", "hand"), ("knee", "ankle", "toe"))):
        left = [names.index(f"l_{p}") for p in parts]
        right = [names.index(f"r_{p}") for p in parts]
        idx = left + right
        swapped_idx = right + left
        keep = np.linalg.norm(pred[:, idx] - reference[:, idx], axis=-1).mean(axis=-1)
        exchanged = np.linalg.norm(pred[:, swapped_idx] - reference[:, idx], axis=-1).mean(axis=-1)
        out[:, g] = exchanged < SWAP_MARGIN * keep
    return out
