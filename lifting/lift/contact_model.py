"""Foot contacts predicted from the lifter's output: a small temporal convolutional network and its checkpoint.

Input per frame (`contact_features`, all from what `lifting.lift.lift.run_models` returns at the model's frame
rate): the 21 root-relative joints in camera coordinates (metres, 63 values) and the root's velocity in camera
coordinates (m/s, 3 values) plus the same velocity divided by the root's depth (1/s, 3 values: the part of the
motion the image sees directly, free of the trajectory's depth error); 69 features, standardised with the mean
and standard deviation stored in the checkpoint. Output per frame: one logit per contact point in
`retarget.motion3d.CONTACT_NAMES` order (l_heel, l_toe, r_heel, r_toe); the probability is its sigmoid.

Architecture (`ContactModelConfig`): a width-3 input convolution to `channels`, then one residual block per
dilation (a width-3 convolution with that dilation, ReLU, dropout), then a 1×1 convolution to 4 logits. Valid
convolutions; the sequence is padded by replicating its edge frames, so every frame gets an output. Receptive
field 3 + 2·sum(dilations) frames (65 at 30 fps for the default dilations 1, 2, 4, 8, 16: about 2 s).

Checkpoint: `NAME.safetensors` (the model's tensors) + `NAME.json`
`{"format": "video-mocap-contacts", "format_version": 1, "model": {ContactModelConfig}, "fps": 30.0,
"output": ["l_heel", ...], "training": {...}}`; loading checks both against the code and raises `MocapError`
with one sentence on any mismatch. Safetensors only, never pickle.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from lifting.errors import MocapError
from lifting.lift.checkpoint import checkpoint_paths, existing_weights, read_config_json
from lifting.lift.model import pad_edges
from retarget.atomic_write import atomic_write, write_text_atomic
from retarget.motion3d import CONTACT_NAMES

FORMAT = "video-mocap-contacts"
FORMAT_VERSION = 1
NUM_JOINTS = 21
NUM_FEATURES = NUM_JOINTS * 3 + 6
MIN_DEPTH_M = 0.5  # the root's depth is clipped to this before dividing the velocity by it

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ContactModelConfig:
    """Architecture and input normalisation of the contact model; every field is stored in the checkpoint.

    channels: hidden width; dilations: one residual block each (width-3 kernels); dropout: in the blocks;
    feature_mean / feature_std: NUM_FEATURES values each that standardise the input (empty: none).
    """

    channels: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16)
    dropout: float = 0.1
    feature_mean: tuple[float, ...] = ()
    feature_std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.channels < 1 or any(d < 1 for d in self.dilations):
            raise ValueError("channels and dilations must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in ("feature_mean", "feature_std"):
            n = len(getattr(self, name))
            if n not in (0, NUM_FEATURES):
                raise ValueError(f"{name} must have {NUM_FEATURES} values, has {n}")
        if any(s <= 0 for s in self.feature_std):
            raise ValueError("feature_std must be positive")

    def receptive_field(self) -> int:
        """Input frames that influence one output frame."""
        return 3 + 2 * sum(self.dilations)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("dilations", "feature_mean", "feature_std"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContactModelConfig:
        """From a checkpoint's JSON; unknown or missing keys raise ValueError naming them."""
        known = set(cls.__dataclass_fields__)
        unknown, missing = sorted(set(data) - known), sorted(known - set(data))
        if unknown or missing:
            raise ValueError(f"unknown keys {unknown}, missing keys {missing}")
        return cls(
            channels=int(data["channels"]),
            dilations=tuple(int(d) for d in data["dilations"]),
            dropout=float(data["dropout"]),
            feature_mean=tuple(float(v) for v in data["feature_mean"]),
            feature_std=tuple(float(v) for v in data["feature_std"]),
        )


class ContactModel(nn.Module):
    """forward: features (B, T, NUM_FEATURES) → logits (B, T - RF + 1, 4) (valid convolutions); see
    `predict_logits` for one output per input frame."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, cfg: ContactModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        mean = torch.tensor(cfg.feature_mean or (0.0,) * NUM_FEATURES, dtype=torch.float32)
        std = torch.tensor(cfg.feature_std or (1.0,) * NUM_FEATURES, dtype=torch.float32)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        # Width-3 convolutions written as one matrix product over three shifted copies (`_taps`): the same
        # function as Conv1d(kernel 3, dilation d), which torch runs on the CPU through a slow path when dilated.
        self.expand = nn.Conv1d(3 * NUM_FEATURES, c, 1)
        self.blocks = nn.ModuleList(nn.Conv1d(3 * c, c, 1) for _ in cfg.dilations)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Conv1d(c, len(CONTACT_NAMES), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[2] != NUM_FEATURES:
            raise ValueError(f"expected features (B, T, {NUM_FEATURES}), got {tuple(x.shape)}")
        if x.shape[1] < self.cfg.receptive_field():
            raise ValueError(f"{x.shape[1]} frames is shorter than the receptive field; pad the sequence")
        h = ((x - self.mean) / self.std).transpose(1, 2)
        h = torch.relu(self.expand(_taps(h, 1)))
        for block, d in zip(self.blocks, self.cfg.dilations, strict=True):
            h = h[:, :, d:-d] + self.drop(torch.relu(block(_taps(h, d))))
        out: torch.Tensor = self.head(h).transpose(1, 2)
        return out


def _taps(h: torch.Tensor, d: int) -> torch.Tensor:
    """(B, C, T) → (B, 3C, T - 2d): frames t, t + d, t + 2d stacked along the channels."""
    t = h.shape[2]
    return torch.cat([h[:, :, : t - 2 * d], h[:, :, d : t - d], h[:, :, 2 * d :]], dim=1)


def contact_features(pose: npt.ArrayLike, trajectory: npt.ArrayLike, fps: float) -> npt.NDArray[np.float32]:
    """(T, NUM_FEATURES) float32 model input from the lifter's output at `fps`: pose (T, 21, 3) root-relative
    camera metres, trajectory (T, 3) camera-space root metres (see the module docstring)."""
    p = np.asarray(pose, dtype=np.float64)
    r = np.asarray(trajectory, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (NUM_JOINTS, 3) or r.shape != (len(p), 3):
        raise ValueError(
            f"pose (T, {NUM_JOINTS}, 3) and trajectory (T, 3) expected, got {p.shape}, {r.shape}"
        )
    v = np.gradient(r, axis=0) * fps if len(r) > 1 else np.zeros_like(r)
    depth = np.maximum(r[:, 2:3], MIN_DEPTH_M)
    out: npt.NDArray[np.float32] = np.concatenate([p.reshape(len(p), -1), v, v / depth], axis=1).astype(
        np.float32
    )
    return out


def predict_logits(model: ContactModel, features: torch.Tensor) -> torch.Tensor:
    """Logits (B, T, 4) for features (B, T, NUM_FEATURES): one output per frame, the sequence padded by
    replicating its edge frames. Eval mode, no gradients; the model's training flag is restored."""
    half = model.cfg.receptive_field() // 2
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out: torch.Tensor = model(pad_edges(features, half, half))
    finally:
        model.train(was_training)
    return out


def predict_contacts(
    model: ContactModel, pose: npt.ArrayLike, trajectory: npt.ArrayLike, fps: float
) -> FloatArray:
    """Contact probabilities (T, 4) in 0..1 (`CONTACT_NAMES` order) for one clip's lifter output at `fps`."""
    x = torch.from_numpy(contact_features(pose, trajectory, fps))[None]
    device = next(model.parameters()).device
    logits = predict_logits(model, x.to(device))[0]
    out: FloatArray = torch.sigmoid(logits).cpu().numpy().astype(np.float64)
    return out


@dataclass(frozen=True)
class ContactCheckpoint:
    """A contact checkpoint's JSON: the model, its frame rate (must be the lifter's) and free-form provenance."""

    model: ContactModelConfig
    fps: float
    training: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": self.model.to_dict(),
            "fps": self.fps,
            "output": list(CONTACT_NAMES),
            "training": self.training,
        }

    @classmethod
    def from_json(cls, data: Any, source: str) -> ContactCheckpoint:
        """Validate a parsed JSON config; any problem raises MocapError naming `source`."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise MocapError(
                f"{source} is not a contact-model config; choose the .json written with its weights."
            )
        if data.get("format_version") != FORMAT_VERSION:
            raise MocapError(
                f"{source} is contact-model format version {data.get('format_version')}, but this code reads "
                f"version {FORMAT_VERSION}; use contact weights made for this version."
            )
        try:
            if tuple(data["output"]) != CONTACT_NAMES:
                raise ValueError(f"outputs {data['output']} are not {list(CONTACT_NAMES)}")
            return cls(
                model=ContactModelConfig.from_dict(data["model"]),
                fps=float(data["fps"]),
                training=dict(data.get("training", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            raise MocapError(
                f"{source} does not match this version of the code ({detail}); retrain it."
            ) from None


def save_contact_checkpoint(
    path: str | os.PathLike[str], checkpoint: ContactCheckpoint, model: ContactModel
) -> tuple[Path, Path]:
    """Write the weights, then the JSON, each atomically; returns (weights path, config path)."""
    weights_path, config_path = checkpoint_paths(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    atomic_write(weights_path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    write_text_atomic(config_path, json.dumps(checkpoint.to_json(), indent=2, sort_keys=True) + "\n")
    return weights_path, config_path


def load_contact_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[ContactCheckpoint, ContactModel]:
    """Load and validate a contact checkpoint; the model is in eval mode on `device`. Any mismatch between the
    files and the code raises MocapError in one sentence."""
    config_path, data = read_config_json(path, "Contact-model config")
    checkpoint = ContactCheckpoint.from_json(data, str(config_path))
    weights_path = existing_weights(path)
    try:
        tensors = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise MocapError(
            f"{weights_path} is not a readable safetensors file ({exc}); it may be truncated."
        ) from None
    model = ContactModel(checkpoint.model)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != stored or any(v.dtype != torch.float32 for v in tensors.values()):
        diff = sorted(set(expected) ^ set(stored)) or sorted(
            k for k in expected if expected[k] != stored.get(k)
        )
        what = f" ({diff[0]!r})" if diff else ""
        raise MocapError(
            f"{weights_path} does not match its config{what}; use the weights written with that config."
        )
    model.load_state_dict(tensors)
    return checkpoint, model.to(device).eval()
