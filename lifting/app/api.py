"""The Python API: `detect(video) -> Keypoints2D` and `lift(keypoints) -> Motion3D`.

The command line (`python -m lifting`) and the add-on's worker (`python -m lifting worker`) are thin shells over
these two functions. `detect` is `lifting.video2d.detect.detect` (the cached detection; `subject=(x, y)` with `subject_frame=N`
picks the person at that point on video frame N and follows them over the whole range); `lift` gathers its
options into `LiftOptions`. Progress callbacks are called as `progress(fraction, message)` with fraction in 0..1;
`cancel()` returning True stops the work with a MocapError and leaves no cache file behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from lifting.lift.lift import LiftOptions, lift_keypoints
from lifting.progress import Cancel, Cancelled, Progress
from lifting.video2d.detect import detect
from lifting.video2d.keypoints2d import Keypoints2D
from retarget.motion3d import Motion3D

__all__ = ["Cancel", "Cancelled", "Keypoints2D", "Motion3D", "Progress", "detect", "lift"]


def lift(
    keypoints: Keypoints2D,
    *,
    weights: str | os.PathLike[str] | None = None,
    device: str = "auto",
    fov_deg: float | None = None,
    fov_axis: str = "horizontal",
    focal_px: float | None = None,
    mirror: bool = True,
    constant_bones: bool = True,
    refine: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Motion3D:
    """3D motion (Motion3D, at the clip's frame times) from 2D keypoints, with the shipped or given weights.

    `constant_bones`: give every bone one length for the whole clip, moving the joints as little as possible
    (`lifting.lift.constant_bones`); off keeps the network's per-frame lengths, which drift by about 15 mm.
    `refine`: after lifting, optimise the clip so its projection agrees with the keypoints, with constant bone
    lengths and smooth motion (`lifting.lift.refine`; a few seconds on the CPU for a 30-second clip); progress then
    reports a "refine" stage.
    """
    options = LiftOptions(
        weights=Path(weights) if weights is not None else None,
        device=device,
        fov_deg=fov_deg,
        fov_axis=fov_axis,
        focal_px=focal_px,
        mirror=mirror,
        constant_bones=constant_bones,
        refine=refine,
    )

    return lift_keypoints(keypoints, options, progress=progress, cancel=cancel)
