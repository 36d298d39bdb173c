"""The temporal lifting model (Pavllo et al. 2019), re-implemented from the paper.

A fully convolutional network over time: a 2D keypoint sequence (B, T, J_in, C_in) goes in, 3D joints of the
frames at the centre of each receptive field come out (B, T - RF + 1, J_out, 3). Architecture: an input
convolution of width W0, then one residual block per further filter width W_i, each a dilated convolution of
width W_i (dilation W0·…·W_{i-1}) and a 1×1 convolution, both with BatchNorm, ReLU and dropout; a final 1×1
convolution. Convolutions are valid (no padding); residuals are sliced to match; the receptive field is the
product of the filter widths.

Two execution modes share one state dict:
- *dilated* (`strided=False`): any sequence length ≥ RF, one output per input frame beyond RF - 1. Used for
  inference and evaluation on whole sequences.
- *strided* (`strided=True`): each convolution has stride = kernel width and no dilation, so an input of exactly
  RF frames gives one output frame with far fewer operations. Used for training on random windows.

In the causal variant the output for frame t depends on frames t - RF + 1 … t only (real-time use); residuals are
then sliced at the end of each window instead of the centre.

The trajectory model has the same architecture with one 3D output (the root position in camera space) and its own
weights: `TemporalModelConfig.for_trajectory()`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class TemporalModelConfig:
    """Architecture of one temporal model. Every field is stored in checkpoints.

    num_joints_in / in_features: input layout (e.g. 33 BlazePose landmarks × 2 normalised screen coordinates,
    or × 3 with visibility). num_joints_out: 3D joints predicted per frame (1 for the trajectory model).
    filter_widths: odd kernel widths, the first for the input convolution, one residual block per further width.
    """

    num_joints_in: int = 33
    in_features: int = 2
    num_joints_out: int = 21
    filter_widths: tuple[int, ...] = (3, 3, 3, 3)
    channels: int = 1024
    dropout: float = 0.25
    causal: bool = False
    bn_momentum: float = 0.1

    def __post_init__(self) -> None:
        if not self.filter_widths:
            raise ValueError("filter_widths must not be empty")
        for w in self.filter_widths:
            if w < 1 or w % 2 == 0:
                raise ValueError(f"filter widths must be odd and positive, got {self.filter_widths}")
        if self.num_joints_in < 1 or self.in_features < 1 or self.num_joints_out < 1 or self.channels < 1:
            raise ValueError("joint counts, in_features and channels must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def receptive_field(self) -> int:
        """Input frames that influence one output frame: the product of the filter widths."""
        return math.prod(self.filter_widths)

    def padding(self) -> tuple[int, int]:
        """Frames to add before and after a sequence so that the output has one frame per input frame."""
        rf = self.receptive_field()
        if self.causal:
            return rf - 1, 0
        return rf // 2, rf // 2

    def dilations(self) -> tuple[int, ...]:
        """Dilation of each convolution with a temporal kernel (input conv first)."""
        out = []
        d = 1
        for w in self.filter_widths:
            out.append(d)
            d *= w
        return tuple(out)

    def for_trajectory(self) -> TemporalModelConfig:
        """The matching trajectory model: same architecture, one 3D output (root position)."""
        return replace(self, num_joints_out=1)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["filter_widths"] = list(self.filter_widths)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TemporalModelConfig:
        """Build from a checkpoint's JSON; unknown or missing keys raise ValueError naming them."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        missing = sorted(known - set(data))
        if missing:
            raise ValueError(f"missing model config keys: {', '.join(missing)}")
        values = dict(data)
        values["filter_widths"] = tuple(int(w) for w in values["filter_widths"])
        return cls(**values)


class _Block(nn.Module):
    """Dilated (or strided) temporal convolution followed by a 1×1 convolution, with a sliced residual."""

    def __init__(self, cfg: TemporalModelConfig, width: int, dilation: int, strided: bool) -> None:
        super().__init__()
        c = cfg.channels
        if strided:
            self.conv = nn.Conv1d(c, c, width, stride=width, bias=False)
        else:
            self.conv = nn.Conv1d(c, c, width, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(c, momentum=cfg.bn_momentum)
        self.conv1x1 = nn.Conv1d(c, c, 1, bias=False)
        self.bn1x1 = nn.BatchNorm1d(c, momentum=cfg.bn_momentum)
        self.drop = nn.Dropout(cfg.dropout)
        self.width = width
        self.dilation = dilation
        self.strided = strided
        self.causal = cfg.causal

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The input frames aligned with this block's outputs: window centres, or window ends if causal."""
        w = self.width
        if self.strided:
            start = w - 1 if self.causal else w // 2
            return x[:, :, start::w]
        span = (w - 1) * self.dilation
        start = span if self.causal else span // 2
        return x[:, :, start : x.shape[2] - (span - start)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(torch.relu(self.bn(self.conv(x))))
        y = self.drop(torch.relu(self.bn1x1(self.conv1x1(y))))
        out: torch.Tensor = self.residual(x) + y
        return out


class TemporalModel(nn.Module):
    """Temporal convolutional lifting network; see the module docstring.

    forward: (B, T, num_joints_in, in_features) → (B, T - RF + 1, num_joints_out, 3) in dilated mode. In strided
    mode T must be a multiple of RF and the output has T / RF frames (one per window of RF frames).
    """

    def __init__(self, cfg: TemporalModelConfig, strided: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.strided = strided
        widths = cfg.filter_widths
        dilations = cfg.dilations()
        c = cfg.channels
        w0 = widths[0]
        self.expand_conv = nn.Conv1d(
            cfg.num_joints_in * cfg.in_features, c, w0, stride=w0 if strided else 1, bias=False
        )
        self.expand_bn = nn.BatchNorm1d(c, momentum=cfg.bn_momentum)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            _Block(cfg, w, d, strided) for w, d in zip(widths[1:], dilations[1:], strict=True)
        )
        self.shrink = nn.Conv1d(c, cfg.num_joints_out * 3, 1)

    def receptive_field(self) -> int:
        return self.cfg.receptive_field()

    def set_bn_momentum(self, momentum: float) -> None:
        """Set the momentum of every BatchNorm layer (the paper decays it during training)."""
        for module in self.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.momentum = momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if x.dim() != 4 or x.shape[2] != cfg.num_joints_in or x.shape[3] != cfg.in_features:
            raise ValueError(
                f"expected input (B, T, {cfg.num_joints_in}, {cfg.in_features}), got {tuple(x.shape)}"
            )
        batch, frames = x.shape[0], x.shape[1]
        rf = cfg.receptive_field()
        if frames < rf:
            raise ValueError(f"sequence of {frames} frames is shorter than the receptive field {rf}; pad it")
        if self.strided and frames % rf != 0:
            raise ValueError(f"strided mode needs a multiple of {rf} frames, got {frames}")
        h = x.reshape(batch, frames, -1).transpose(1, 2)
        h = self.drop(torch.relu(self.expand_bn(self.expand_conv(h))))
        for block in self.blocks:
            h = block(h)
        out: torch.Tensor = self.shrink(h)
        return out.transpose(1, 2).reshape(batch, -1, cfg.num_joints_out, 3)


def pad_edges(x: torch.Tensor, before: int, after: int, dim: int = 1) -> torch.Tensor:
    """Pad a sequence along `dim` by replicating its first and last frames (never zeros)."""
    if before < 0 or after < 0:
        raise ValueError("padding must be non-negative")
    n = x.shape[dim]
    if n == 0:
        raise ValueError("cannot pad an empty sequence")
    idx = torch.cat(
        [
            torch.zeros(before, dtype=torch.long),
            torch.arange(n),
            torch.full((after,), n - 1, dtype=torch.long),
        ]
    ).to(x.device)
    return x.index_select(dim, idx)


# Output frames per model call in `predict_sequence`: long clips are run in windows of this many frames (plus
# the receptive field), so memory does not grow with the clip; clips up to this length run in one call.
SEQUENCE_CHUNK_FRAMES = 1024


def predict_sequence(
    model: TemporalModel, keypoints: torch.Tensor, chunk_frames: int = SEQUENCE_CHUNK_FRAMES
) -> torch.Tensor:
    """Run a dilated-mode model over whole sequences, one output frame per input frame.

    keypoints: (B, T, J_in, C_in) or (T, J_in, C_in) normalised input. The sequence is edge-padded by the
    model's padding (RF // 2 each side, or RF - 1 before it if causal) and processed in windows of
    `chunk_frames` output frames, each with the receptive field's context around it (the convolutions are valid,
    so every output frame sees exactly the inputs it would in one call). Returns (B, T, J_out, 3) or
    (T, J_out, 3). Runs in eval mode without gradients; the model's training flag is restored afterwards.
    """
    if model.strided:
        raise ValueError("predict_sequence needs the dilated model, not the strided training variant")
    squeeze = keypoints.dim() == 3
    x = keypoints.unsqueeze(0) if squeeze else keypoints
    before, after = model.cfg.padding()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            padded = pad_edges(x, before, after)
            frames = x.shape[1]
            context = before + after
            parts = [
                model(padded[:, start : min(start + chunk_frames, frames) + context])
                for start in range(0, frames, chunk_frames)
            ]
            out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    finally:
        model.train(was_training)
    result: torch.Tensor = out[0] if squeeze else out
    return result
