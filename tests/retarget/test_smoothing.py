"""Smoothing: polynomial preservation, noise reduction, determinism, the strength knob."""

import numpy as np
import numpy.typing as npt
import pytest

from retarget.errors import RetargetError
from retarget.smoothing import one_euro, savgol, smooth


def test_savgol_keeps_cubics_exactly_including_the_ends() -> None:
    t = np.linspace(-1, 1, 50)
    x = np.stack([1 + 2 * t - t**2 + 0.5 * t**3, np.cos(0 * t)], 1)
    np.testing.assert_allclose(savgol(x, 11, 3), x, atol=1e-10)


def test_strength_zero_is_identity_and_stronger_is_smoother() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30.0
    clean = np.sin(t)[:, None, None] * np.ones((1, 21, 3))
    noisy = clean + rng.normal(0, 0.01, clean.shape)
    np.testing.assert_array_equal(smooth(noisy, 30.0, 0.0), noisy)
    raw = np.abs(noisy - clean).mean()
    for method in ("savgol", "one_euro"):
        weak, strong = smooth(noisy, 30.0, 0.2, method), smooth(noisy, 30.0, 0.8, method)
        assert np.abs(weak - clean).mean() < raw  # closer to the truth than the noisy input

        def jitter(x: npt.NDArray[np.float64]) -> float:
            return float(np.abs(np.diff(x, 2, axis=0)).mean())

        assert jitter(strong) < jitter(weak) < jitter(noisy)
    np.testing.assert_array_equal(smooth(noisy, 30.0, 0.5, "one_euro"), smooth(noisy, 30.0, 0.5, "one_euro"))


def test_one_euro_follows_constants_and_steps() -> None:
    x = np.concatenate([np.zeros(30), np.ones(120)])
    y = one_euro(x, 30.0, min_cutoff=1.0)
    np.testing.assert_allclose(y[:30], 0.0)
    assert abs(y[-1] - 1.0) < 1e-3 and np.all(np.diff(y) >= -1e-12)


def test_bad_arguments() -> None:
    with pytest.raises(RetargetError, match="between 0 and 1"):
        smooth(np.zeros((10, 3)), 30.0, 2.0)
    with pytest.raises(RetargetError, match="unknown smoothing"):
        smooth(np.zeros((10, 3)), 30.0, 0.5, "gauss")
    with pytest.raises(ValueError):
        savgol(np.zeros((10, 3)), 4)
