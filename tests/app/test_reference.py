"""The shipped weights on the committed sample excerpt give what tests/data/make_reference.py stored.

A layout change or a refactor must not change behaviour: where the torch and numpy versions and the CPU's
vector capability are those that made the reference, the keypoints and the motion must be equal bit for bit;
elsewhere (CI on another CPU picks other kernels) they must agree to float rounding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lifting.app import api
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.swaps import repair_swaps
from tests.support.paths import DATA, EXCERPT

REFERENCE = DATA / "excerpt_reference.npz"


def _reference() -> dict[str, Any]:
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


def _same_environment(ref: dict[str, Any]) -> bool:
    import torch

    return (
        str(ref["env_torch"]) == torch.__version__
        and str(ref["env_numpy"]) == np.__version__
        and str(ref["env_cpu_capability"]) == torch.backends.cpu.get_cpu_capability()
    )


def _assert_equal(actual: np.ndarray, expected: np.ndarray, exact: bool, atol: float, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if exact:
        assert np.array_equal(actual, expected), f"{what} differs (max {np.abs(actual - expected).max():.3g})"
    else:
        np.testing.assert_allclose(actual, expected, rtol=0, atol=atol, err_msg=what)


def _stored_keypoints(ref: dict[str, Any]) -> Keypoints2D:
    return Keypoints2D(
        keypoints=ref["keypoints"],
        visibility=ref["visibility"],
        detected=ref["detected"],
        interpolated=ref["interpolated"],
        frame_index=ref["frame_index"],
        timestamps=ref["timestamps"],
        fps=float(ref["fps"]),
        image_size=(int(ref["image_size"][0]), int(ref["image_size"][1])),
        meta={},
    )


def test_lift_gives_the_stored_motion() -> None:
    ref = _reference()
    exact = _same_environment(ref)
    motion = api.lift(_stored_keypoints(ref), device="cpu")
    assert motion.joint_names == tuple(str(n) for n in ref["joint_names"])
    assert motion.fps == float(ref["motion_fps"])
    _assert_equal(motion.intrinsics.to_array(), ref["intrinsics"], exact, 1e-9, "intrinsics")
    # 1e-5 m = 0.01 mm: float rounding of another CPU's kernels, far below any change of behaviour.
    _assert_equal(motion.joints, ref["joints"], exact, 1e-5, "joints")
    _assert_equal(motion.root, ref["root"], exact, 1e-4, "root")
    _assert_equal(motion.confidence, ref["confidence"], exact, 1e-6, "confidence")


@pytest.mark.slow
def test_detect_gives_the_stored_keypoints(tmp_path: Path) -> None:
    """The reference is the track as detected; what `detect` returns by default is that track after left/right
    repair, exactly `repair_swaps` of it."""
    ref = _reference()
    keypoints = api.detect(EXCERPT, cache_dir=tmp_path, workers=1, repair_lr=False)
    repaired = api.detect(EXCERPT, cache_dir=tmp_path, workers=1)  # from the cache the first call wrote
    expected, exchanged = repair_swaps(keypoints)
    assert exchanged.any()  # the excerpt has left/right swaps to repair
    np.testing.assert_array_equal(repaired.keypoints, expected.keypoints)
    np.testing.assert_array_equal(repaired.visibility, expected.visibility)
    exact = _same_environment(ref)
    for name in ("detected", "interpolated", "frame_index"):
        assert np.array_equal(getattr(keypoints, name), ref[name]), name
    _assert_equal(keypoints.timestamps, ref["timestamps"], exact, 1e-9, "timestamps")
    # MediaPipe's kernels also differ by CPU: a hundredth of a pixel.
    _assert_equal(keypoints.keypoints, ref["keypoints"], exact, 1e-2, "keypoints")
    _assert_equal(keypoints.visibility, ref["visibility"], exact, 1e-3, "visibility")
