"""Make tests/data/excerpt_reference.npz: what the shipped weights give on the committed sample excerpt.

    .venv/bin/python tests/data/make_reference.py

It stores the excerpt's Keypoints2D as detected (`lifting.app.api.detect`, no cache, before left/right repair, as
tests/app/test_reference.py compares them) and the Motion3D that `lifting.app.api.lift` makes from those keypoints
on the CPU with the default options, beside the torch and numpy versions and the CPU
capability that made them. tests/app/test_reference.py checks that today's code still gives the same numbers:
bit for bit where the versions and CPU capability match (a refactor must not change behaviour), within float
rounding elsewhere (other CPUs pick other vector kernels). Re-run it only when a change is meant to change the
result (new weights, a new detector), and say so in the commit.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from lifting.app import api

HERE = Path(__file__).resolve().parent
EXCERPT = HERE / "sports2d_excerpt.mp4"
REFERENCE = HERE / "excerpt_reference.npz"


def environment() -> dict[str, str]:
    """What decides whether two runs can be expected to agree bit for bit."""
    return {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        keypoints = api.detect(EXCERPT, cache_dir=tmp, use_cache=False, workers=1, repair_lr=False)
    motion = api.lift(keypoints, device="cpu")
    np.savez_compressed(
        REFERENCE,
        keypoints=keypoints.keypoints,
        visibility=keypoints.visibility,
        detected=keypoints.detected,
        interpolated=keypoints.interpolated,
        frame_index=keypoints.frame_index,
        timestamps=keypoints.timestamps,
        fps=np.array(keypoints.fps),
        image_size=np.array(keypoints.image_size),
        joints=motion.joints,
        root=motion.root,
        confidence=motion.confidence,
        motion_fps=np.array(motion.fps),
        intrinsics=motion.intrinsics.to_array(),
        joint_names=np.array(motion.joint_names),
        **{f"env_{k}": np.array(v) for k, v in environment().items()},
    )
    print(f"wrote {REFERENCE} ({keypoints.num_frames} frames)")


if __name__ == "__main__":
    main()
