"""Checkpoint I/O: safetensors + JSON round trip, validation, clear errors, no pickle."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from lifting.errors import MocapError
from lifting.lift.checkpoint import (
    CheckpointConfig,
    checkpoint_paths,
    load_checkpoint,
    load_config,
    save_checkpoint,
)
from lifting.lift.model import TemporalModel, TemporalModelConfig, predict_sequence
from lifting.skeleton import BLAZEPOSE, OUTPUT


def _config(**training: object) -> CheckpointConfig:
    pose = TemporalModelConfig(num_joints_in=33, num_joints_out=21, filter_widths=(3, 3), channels=32)
    return CheckpointConfig(
        pose=pose,
        trajectory=pose.for_trajectory(),
        input_joints=BLAZEPOSE,
        output_joints=OUTPUT,
        fps=50.0,
        training=dict(training),
    )


def _saved(tmp_path: Path) -> tuple[CheckpointConfig, dict[str, TemporalModel], Path]:
    torch.manual_seed(0)
    cfg = _config(command="python -m lifting train --tiny", data=["synthetic"])
    models = cfg.build_models()
    for model in models.values():  # make the BatchNorm statistics part of what must round-trip
        model.train()
        model(torch.randn(4, 20, 33, 2))
    save_checkpoint(tmp_path / "tiny", cfg, models)
    return cfg, models, tmp_path / "tiny"


def test_round_trip_restores_config_and_outputs(tmp_path: Path) -> None:
    cfg, models, stem = _saved(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json", "tiny.safetensors"]
    for path in (stem, stem.with_suffix(".json"), stem.with_suffix(".safetensors")):
        loaded_cfg, loaded = load_checkpoint(path)
        assert loaded_cfg == cfg
        assert loaded_cfg.training["data"] == ["synthetic"]
        x = torch.randn(30, 33, 2)
        for role in ("pose", "trajectory"):
            assert not loaded[role].training
            torch.testing.assert_close(predict_sequence(loaded[role], x), predict_sequence(models[role], x))
    # The strided training variant loads the same weights.
    _, strided = load_checkpoint(stem, strided=True)
    assert strided["pose"].strided


def test_pose_only_checkpoint(tmp_path: Path) -> None:
    cfg = CheckpointConfig(
        pose=_config().pose, trajectory=None, input_joints=BLAZEPOSE, output_joints=OUTPUT, fps=50.0
    )
    save_checkpoint(tmp_path / "p", cfg, {"pose": TemporalModel(cfg.pose)})
    _, models = load_checkpoint(tmp_path / "p")
    assert set(models) == {"pose"}


def test_config_must_agree_with_joint_sets() -> None:
    with pytest.raises(ValueError, match="output joints"):
        CheckpointConfig(
            pose=TemporalModelConfig(num_joints_out=17),
            trajectory=None,
            input_joints=BLAZEPOSE,
            output_joints=OUTPUT,
            fps=50,
        )
    with pytest.raises(ValueError, match="input"):
        CheckpointConfig(
            pose=TemporalModelConfig(in_features=3),
            trajectory=None,
            input_joints=BLAZEPOSE,
            output_joints=OUTPUT,
            fps=50,
        )


def _edit_json(stem: Path, edit: object) -> None:
    path = stem.with_suffix(".json")
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format="something-else"), "not a video-mocap checkpoint"),
        (lambda d: d.update(format_version=99), "format version 99"),
        (lambda d: d["models"]["pose"].update(channels=64), "wrong shape"),
        (lambda d: d["models"]["pose"].update(kernel=3), "unknown model config keys: kernel"),
        (lambda d: d["models"].pop("trajectory"), "config does not describe"),
        (lambda d: d["output"]["joints"]["names"].reverse(), "differs from this code"),
        (lambda d: d["input"]["joints"].update(name="coco17"), "unknown joint set 'coco17'"),
        (lambda d: d.pop("fps"), "missing entry 'fps'"),
    ],
)
def test_mismatched_configs_give_one_clear_error(tmp_path: Path, edit: object, message: str) -> None:
    _, _, stem = _saved(tmp_path)
    _edit_json(stem, edit)
    with pytest.raises(MocapError, match=message) as info:
        load_checkpoint(stem)
    assert "\n" not in str(info.value)


def test_truncated_foreign_and_missing_files(tmp_path: Path) -> None:
    _, _, stem = _saved(tmp_path)
    weights, config = checkpoint_paths(stem)
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(MocapError, match="not a readable safetensors file"):
        load_checkpoint(stem)
    # A pickle (e.g. a PyTorch .pth renamed) is refused without being unpickled.
    weights.write_bytes(pickle.dumps({"pose.shrink.weight": [1.0]}))
    with pytest.raises(MocapError, match="not a readable safetensors file"):
        load_checkpoint(stem)
    weights.unlink()
    with pytest.raises(MocapError, match=r"weights .* were not found"):
        load_checkpoint(stem)
    config.write_text('{"format": "video-mocap-checkpoint", "models": {')
    with pytest.raises(MocapError, match="not valid JSON"):
        load_config(stem)
    with pytest.raises(MocapError, match="was not found"):
        load_config(tmp_path / "nothing")


def test_weights_with_a_missing_tensor_are_refused(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    _, _, stem = _saved(tmp_path)
    weights, _ = checkpoint_paths(stem)
    tensors = load_file(str(weights))
    del tensors["pose.shrink.bias"]
    save_file(tensors, str(weights))
    with pytest.raises(MocapError, match=r"missing pose weight 'shrink\.bias'"):
        load_checkpoint(stem)


def test_save_leaves_no_temporary_files_and_checks_roles(tmp_path: Path) -> None:
    cfg = _config()
    with pytest.raises(ValueError, match="models must be exactly"):
        save_checkpoint(tmp_path / "x", cfg, {"pose": TemporalModel(cfg.pose)})
    assert list(tmp_path.iterdir()) == []
