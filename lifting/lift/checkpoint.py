"""Self-describing checkpoints: weights in safetensors plus a JSON config, never pickle.

A checkpoint is two files with one stem: `NAME.safetensors` (tensors named `pose.*` and `trajectory.*`) and
`NAME.json`:

    {"format": "video-mocap-checkpoint", "format_version": 1,
     "models": {"pose": {TemporalModelConfig}, "trajectory": {TemporalModelConfig}},
     "input": {"joints": {JointSet}, "normalisation": "screen", "features": ["x", "y"]},
     "output": {"joints": {JointSet}, "units": "m", "root_relative": true},
     "fps": 50.0,
     "training": {... free-form: command, data, code version ...}}

Loading checks the JSON against the code (format, version, model configs, joint sets, normalisation) and the
weights against the models (every name, shape and dtype) and raises `MocapError` with one sentence on any
mismatch, truncated or foreign file. Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from lifting.errors import MocapError
from lifting.lift.model import TemporalModel, TemporalModelConfig
from lifting.skeleton import JointSet, joint_set_by_name
from retarget.atomic_write import atomic_write, write_text_atomic

FORMAT = "video-mocap-checkpoint"
FORMAT_VERSION = 1
NORMALISATIONS = ("screen", "camera")
INPUT_FEATURES = (("x", "y"), ("x", "y", "visibility"))
MODEL_ROLES = ("pose", "trajectory")


@dataclass(frozen=True)
class CheckpointConfig:
    """Everything needed to rebuild and use the models of a checkpoint.

    pose / trajectory: architectures (trajectory may be None for a pose-only checkpoint). input_joints /
    output_joints: the joint sets (must be ones this code knows, with identical definitions). normalisation:
    how 2D inputs are normalised ("screen": width mapped to [-1, 1], aspect kept; "camera": (X/Z, Y/Z) of each
    keypoint's ray, `camera.normalize_camera`, independent of the focal length). features: per-joint input
    features. fps: the model's internal frame rate. training: free-form provenance.
    """

    pose: TemporalModelConfig
    trajectory: TemporalModelConfig | None
    input_joints: JointSet
    output_joints: JointSet
    fps: float
    normalisation: str = "screen"
    features: tuple[str, ...] = ("x", "y")
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"unknown normalisation {self.normalisation!r}")
        if tuple(self.features) not in INPUT_FEATURES:
            raise ValueError(f"unknown input features {self.features!r}")
        if not self.fps > 0:
            raise ValueError("fps must be positive")
        for role, cfg, joints_out in (
            ("pose", self.pose, self.output_joints.num_joints),
            ("trajectory", self.trajectory, 1),
        ):
            if cfg is None:
                continue
            if cfg.num_joints_in != self.input_joints.num_joints or cfg.in_features != len(self.features):
                raise ValueError(f"{role} model input does not match the input joints and features")
            if cfg.num_joints_out != joints_out:
                raise ValueError(
                    f"{role} model should have {joints_out} output joints, has {cfg.num_joints_out}"
                )

    def to_json(self) -> dict[str, Any]:
        models = {"pose": self.pose.to_dict()}
        if self.trajectory is not None:
            models["trajectory"] = self.trajectory.to_dict()
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "models": models,
            "input": {
                "joints": self.input_joints.to_config(),
                "normalisation": self.normalisation,
                "features": list(self.features),
            },
            "output": {"joints": self.output_joints.to_config(), "units": "m", "root_relative": True},
            "fps": self.fps,
            "training": self.training,
        }

    @classmethod
    def from_json(cls, data: Any, source: str) -> CheckpointConfig:
        """Validate a parsed JSON config; any problem raises MocapError naming `source`."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise MocapError(
                f"{source} is not a video-mocap checkpoint config; choose the .json written with the weights."
            )
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise MocapError(
                f"{source} is checkpoint format version {version}, but this version of the add-on reads version "
                f"{FORMAT_VERSION}; use weights made for this version or update the add-on."
            )
        try:
            models = data["models"]
            pose = TemporalModelConfig.from_dict(models["pose"])
            trajectory = (
                TemporalModelConfig.from_dict(models["trajectory"]) if "trajectory" in models else None
            )
            input_joints = _known_joint_set(data["input"]["joints"])
            output_joints = _known_joint_set(data["output"]["joints"])
            return cls(
                pose=pose,
                trajectory=trajectory,
                input_joints=input_joints,
                output_joints=output_joints,
                fps=float(data["fps"]),
                normalisation=str(data["input"]["normalisation"]),
                features=tuple(str(f) for f in data["input"]["features"]),
                training=dict(data.get("training", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            raise MocapError(
                f"{source} does not match this version of the code ({detail}); re-export or retrain it."
            ) from None

    def build_models(self, strided: bool = False) -> dict[str, TemporalModel]:
        """Fresh models for this config, keyed by role ("pose", and "trajectory" when present)."""
        models = {"pose": TemporalModel(self.pose, strided=strided)}
        if self.trajectory is not None:
            models["trajectory"] = TemporalModel(self.trajectory, strided=strided)
        return models


def _known_joint_set(data: Any) -> JointSet:
    """The code's joint set named in `data`, after checking the stored definition is identical."""
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError("joint set without a name")
    try:
        known = joint_set_by_name(str(data["name"]))
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    if known.to_config() != data:
        raise ValueError(f"joint set {known.name!r} differs from this code's definition")
    return known


def checkpoint_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """(weights, config) paths for a checkpoint given as its stem, its .safetensors or its .json."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def save_checkpoint(
    path: str | os.PathLike[str], config: CheckpointConfig, models: Mapping[str, torch.nn.Module]
) -> tuple[Path, Path]:
    """Write `models` (roles as in `config`) and `config`; returns (weights path, config path).

    Each file is written to a temporary file and renamed, the weights first, so a crash never leaves a config
    that points at half-written weights.
    """
    expected = {"pose"} | ({"trajectory"} if config.trajectory is not None else set())
    if set(models) != expected:
        raise ValueError(f"models must be exactly {sorted(expected)}, got {sorted(models)}")
    tensors: dict[str, torch.Tensor] = {}
    for role, model in models.items():
        for name, tensor in model.state_dict().items():
            tensors[f"{role}.{name}"] = tensor.detach().cpu().contiguous()
    weights_path, config_path = checkpoint_paths(path)
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    atomic_write(weights_path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    text = json.dumps(config.to_json(), indent=2, sort_keys=True) + "\n"
    write_text_atomic(config_path, text)
    return weights_path, config_path


def read_config_json(path: str | os.PathLike[str], what: str = "Checkpoint config") -> tuple[Path, Any]:
    """The JSON beside a checkpoint's weights (`checkpoint_paths`): its path and parsed content; a missing or
    unreadable file is one MocapError naming `what`."""
    _, config_path = checkpoint_paths(path)
    if not config_path.is_file():
        raise MocapError(
            f"{what} {config_path} was not found; a checkpoint is a .safetensors file with a .json beside it."
        )
    try:
        return config_path, json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MocapError(
            f"{config_path} is not valid JSON (truncated or not a checkpoint config); choose the .json written with the weights."
        ) from None


def load_config(path: str | os.PathLike[str]) -> CheckpointConfig:
    """Read and validate a checkpoint's JSON config."""
    config_path, data = read_config_json(path)
    return CheckpointConfig.from_json(data, str(config_path))


def existing_weights(path: str | os.PathLike[str]) -> Path:
    """The checkpoint's .safetensors file; a MocapError in one sentence when it is missing."""
    weights_path, _ = checkpoint_paths(path)
    if not weights_path.is_file():
        raise MocapError(
            f"Checkpoint weights {weights_path} were not found; copy the .safetensors file next to its .json."
        )
    return weights_path


def load_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu", strided: bool = False
) -> tuple[CheckpointConfig, dict[str, TemporalModel]]:
    """Load and validate a checkpoint; returns its config and its models in eval mode on `device`.

    Only safetensors is read, never pickle. Any mismatch between file and code raises MocapError.
    """
    config = load_config(path)
    weights_path = existing_weights(path)
    try:
        tensors = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise MocapError(
            f"{weights_path} is not a readable safetensors file ({exc}); the download or copy may be truncated."
        ) from None
    models = config.build_models(strided=strided)
    stored_shapes = {k: (tuple(v.shape), _DTYPE_NAMES.get(v.dtype, str(v.dtype))) for k, v in tensors.items()}
    _check_against_config(weights_path, models, stored_shapes)
    for role, model in models.items():
        prefix = role + "."
        model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
        model.to(device).eval()
    return config, models


def weights_stem(stem: str | None) -> str | None:
    """A checkpoint stem (NAME for NAME.safetensors + NAME.json, either file named works) or None; a
    MocapError when one of the two files is missing."""
    if stem is None or stem == "":
        return None
    base = Path(stem)
    if base.suffix in (".safetensors", ".json"):
        base = base.with_suffix("")
    for suffix in (".safetensors", ".json"):
        if not base.with_name(base.name + suffix).is_file():
            raise MocapError(
                f"the weights {str(base)!r} lack their {suffix} file; pick a complete checkpoint."
            )
    return str(base)


# safetensors' dtype names for the torch dtypes a checkpoint holds.
_DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def _check_against_config(
    weights_path: Path, models: Mapping[str, TemporalModel], stored: Mapping[str, tuple[tuple[int, ...], str]]
) -> None:
    """Every weight the config's models need is stored with its shape and type, and nothing else is; stored:
    name → (shape, safetensors dtype name). A MocapError in one sentence otherwise."""
    for role, model in models.items():
        state = {
            k: (tuple(v.shape), _DTYPE_NAMES.get(v.dtype, str(v.dtype)))
            for k, v in model.state_dict().items()
        }
        prefix = role + "."
        mine = {k[len(prefix) :]: v for k, v in stored.items() if k.startswith(prefix)}
        missing = sorted(set(state) - set(mine))
        unexpected = sorted(set(mine) - set(state))
        mismatched = sorted(k for k in set(state) & set(mine) if mine[k] != state[k])
        problem = (
            f"is missing {role} weight {missing[0]!r}"
            if missing
            else f"has unexpected {role} weight {unexpected[0]!r}"
            if unexpected
            else f"has {role} weight {mismatched[0]!r} of the wrong shape or type"
            if mismatched
            else None
        )
        if problem is not None:
            raise MocapError(
                f"{weights_path} {problem}, so it does not match its config; use the weights written with that config."
            )
    extra = sorted(k for k in stored if k.split(".", 1)[0] not in models)
    if extra:
        raise MocapError(
            f"{weights_path} has weights for a model its config does not describe ({extra[0]!r}); use the matching .json."
        )


def check_checkpoint(path: str | os.PathLike[str]) -> CheckpointConfig:
    """Validate a checkpoint without loading its tensors (milliseconds, before any long work): the config
    parses and describes models this code builds, and the safetensors header is complete and lists exactly
    their weights with the right shapes and types. Returns the config; a MocapError in one sentence otherwise."""
    config = load_config(path)
    weights_path = existing_weights(path)
    try:
        with safe_open(str(weights_path), framework="pt") as f:
            stored = {
                k: (tuple(f.get_slice(k).get_shape()), str(f.get_slice(k).get_dtype())) for k in f.keys()
            }
    except (SafetensorError, OSError, ValueError) as exc:
        raise MocapError(
            f"{weights_path} is not a readable safetensors file ({exc}); the download or copy may be truncated."
        ) from None
    with torch.device("meta"):
        models = config.build_models()
    _check_against_config(weights_path, models, stored)
    return config
