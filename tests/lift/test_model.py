"""Temporal model: receptive field and padding arithmetic, strided ≡ dilated, causality, sequence prediction."""

from __future__ import annotations

import pytest
import torch

from lifting.lift.model import TemporalModel, TemporalModelConfig, pad_edges, predict_sequence

WIDTH_LISTS = [(1,), (3,), (3, 3), (3, 3, 3), (5, 3), (3, 5, 3), (1, 1, 1), (3, 3, 3, 3)]


def _randomise_batchnorm(model: TemporalModel, seed: int) -> None:
    """Give BatchNorm non-trivial running statistics and affine parameters so eval mode is a real test."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)


def _small(widths: tuple[int, ...], causal: bool = False) -> TemporalModelConfig:
    return TemporalModelConfig(
        num_joints_in=5,
        in_features=2,
        num_joints_out=4,
        filter_widths=widths,
        channels=16,
        dropout=0.2,
        causal=causal,
    )


@pytest.mark.parametrize("widths", WIDTH_LISTS)
@pytest.mark.parametrize("causal", [False, True])
def test_receptive_field_and_output_length(widths: tuple[int, ...], causal: bool) -> None:
    cfg = _small(widths, causal)
    rf = 1
    for w in widths:
        rf *= w
    assert cfg.receptive_field() == rf
    before, after = cfg.padding()
    assert before + after == rf - 1
    assert (before, after) == ((rf - 1, 0) if causal else (rf // 2, rf // 2))
    model = TemporalModel(cfg).eval()
    frames = rf + 7
    out = model(torch.randn(2, frames, 5, 2))
    assert out.shape == (2, frames - rf + 1, 4, 3)


def test_dilations_are_products_of_previous_widths() -> None:
    assert TemporalModelConfig(filter_widths=(3, 3, 3, 3, 3)).dilations() == (1, 3, 9, 27, 81)
    assert TemporalModelConfig(filter_widths=(3, 5, 3)).dilations() == (1, 3, 15)
    assert TemporalModelConfig(filter_widths=(3, 3, 3, 3, 3)).receptive_field() == 243


@pytest.mark.parametrize("widths", [(3, 3), (3, 3, 3), (5, 3), (3, 5, 3)])
@pytest.mark.parametrize("causal", [False, True])
def test_strided_and_dilated_give_the_same_output(widths: tuple[int, ...], causal: bool) -> None:
    torch.manual_seed(0)
    cfg = _small(widths, causal)
    dilated = TemporalModel(cfg)
    _randomise_batchnorm(dilated, 1)
    strided = TemporalModel(cfg, strided=True)
    strided.load_state_dict(dilated.state_dict())  # one state dict serves both variants
    dilated.eval()
    strided.eval()
    rf = cfg.receptive_field()
    x = torch.randn(1, 3 * rf + 4, 5, 2)
    with torch.no_grad():
        full = dilated(x)[0]  # (21, 4, 3)
        windows = torch.stack([x[0, t : t + rf] for t in range(full.shape[0])])  # one window per output frame
        per_window = strided(windows)[:, 0]
        several = strided(x[:, : 3 * rf])[0]  # consecutive, non-overlapping windows in one sample
    assert torch.allclose(per_window, full, atol=1e-5)
    assert torch.allclose(several, full[[0, rf, 2 * rf]], atol=1e-5)


def test_strided_model_rejects_lengths_that_are_not_multiples_of_the_receptive_field() -> None:
    model = TemporalModel(_small((3, 3)), strided=True)
    with pytest.raises(ValueError, match="multiple of 9"):
        model(torch.randn(1, 10, 5, 2))


def test_shape_errors_are_clear() -> None:
    model = TemporalModel(_small((3, 3)))
    with pytest.raises(ValueError, match="expected input"):
        model(torch.randn(1, 20, 6, 2))
    with pytest.raises(ValueError, match="shorter than the receptive field 9"):
        model(torch.randn(1, 8, 5, 2))


@pytest.mark.parametrize("widths", [(3, 3, 3), (5, 3)])
def test_causal_output_never_depends_on_later_input(widths: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = TemporalModel(_small(widths, causal=True))
    _randomise_batchnorm(model, 2)
    x = torch.randn(60, 5, 2)
    base = predict_sequence(model, x)
    assert base.shape == (60, 4, 3)
    s = 30
    bumped = x.clone()
    bumped[s] += 1.0
    changed = (predict_sequence(model, bumped) - base).abs().amax(dim=(1, 2)) > 1e-6
    assert not changed[:s].any(), "a causal output moved when a later input frame changed"
    assert changed[s], "the output of the perturbed frame itself should change"


def test_symmetric_model_depends_on_exactly_its_receptive_field() -> None:
    torch.manual_seed(0)
    cfg = _small((3, 3, 3))
    model = TemporalModel(cfg)
    _randomise_batchnorm(model, 3)
    x = torch.randn(80, 5, 2)
    base = predict_sequence(model, x)
    bumped = x.clone()
    bumped[40] += 1.0
    changed = (predict_sequence(model, bumped) - base).abs().amax(dim=(1, 2)) > 1e-6
    half = cfg.receptive_field() // 2
    assert changed.nonzero().flatten().tolist() == list(range(40 - half, 40 + half + 1))


def test_pad_edges_replicates_first_and_last_frames() -> None:
    x = torch.arange(4.0).reshape(1, 4, 1, 1)
    padded = pad_edges(x, 2, 3)
    assert padded.flatten().tolist() == [0, 0, 0, 1, 2, 3, 3, 3, 3]


def test_predict_sequence_on_a_sequence_shorter_than_the_receptive_field() -> None:
    model = TemporalModel(_small((3, 3, 3)))
    out = predict_sequence(model, torch.randn(5, 5, 2))
    assert out.shape == (5, 4, 3)
    assert model.training, "predict_sequence must restore the training flag"


def test_predict_sequence_in_windows_gives_what_one_call_gives() -> None:
    torch.manual_seed(3)
    model = TemporalModel(_small((3, 3, 3)))  # receptive field 27
    x = torch.randn(2, 100, 5, 2)
    whole = predict_sequence(model, x, chunk_frames=1000)
    for chunk in (1, 7, 26, 27, 64, 99, 100):
        windows = predict_sequence(model, x, chunk_frames=chunk)
        assert windows.shape == whole.shape == (2, 100, 4, 3)
        torch.testing.assert_close(windows, whole, rtol=0, atol=1e-5)


def test_trajectory_config_has_one_output_and_separate_weights() -> None:
    cfg = _small((3, 3))
    traj = cfg.for_trajectory()
    assert traj.num_joints_out == 1 and traj.filter_widths == cfg.filter_widths
    pose_model, traj_model = TemporalModel(cfg), TemporalModel(traj)
    assert traj_model(torch.randn(2, 9, 5, 2)).shape == (2, 1, 1, 3)
    assert pose_model.shrink.weight.data_ptr() != traj_model.shrink.weight.data_ptr()


def test_config_round_trips_through_a_dict_and_rejects_bad_values() -> None:
    cfg = TemporalModelConfig(filter_widths=(3, 5, 3), channels=64, causal=True)
    assert TemporalModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="odd"):
        TemporalModelConfig(filter_widths=(3, 4))
    with pytest.raises(ValueError, match="unknown model config keys: foo"):
        TemporalModelConfig.from_dict({**cfg.to_dict(), "foo": 1})


def test_large_model_runs_on_a_3000_frame_sequence_in_one_call() -> None:
    cfg = TemporalModelConfig(
        num_joints_in=33, in_features=2, num_joints_out=21, filter_widths=(3, 3, 3, 3, 3), channels=1024
    )
    assert cfg.receptive_field() == 243
    model = TemporalModel(cfg)
    out = predict_sequence(model, torch.randn(3000, 33, 2))
    assert out.shape == (3000, 21, 3)
    assert torch.isfinite(out).all()
