"""Training and inference speed of the temporal model, strided against dilated, measured in one run.

    .venv/bin/python bench/model_speed.py [--channels 256] [--widths 3,3,3,3] [--seconds 5] [--device cpu]

Training throughput (samples/s, one sample = one output frame with its receptive field, forward + backward +
Adam step) for:
- dilated, one window per sample (the baseline: the dilated model fed single receptive-field windows),
- strided, the training variant (same weights, stride = kernel width),
- dilated on long chunks (many output frames per sample share their inputs).
Inference throughput (frames/s) of the dilated model on one long sequence, and of the constant bone lengths that
`lift` applies after it (`lifting.lift.constant_bones`, numpy) on a clip of the same length. Training ratios are against the
baseline row, the constant bone lengths' against the inference row.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from lifting.lift.constant_bones import constant_bone_lengths
from lifting.lift.model import TemporalModel, TemporalModelConfig, predict_sequence
from lifting.skeleton import OUTPUT


def _rate(step: Callable[[], int], seconds: float) -> float:
    """Items per second of `step` (which returns how many items it processed), after one warm-up call."""
    step()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += step()
    return done / (time.perf_counter() - start)


def _train_step(model: TemporalModel, optimiser: torch.optim.Optimizer, x: torch.Tensor) -> Callable[[], int]:
    def step() -> int:
        out = model(x)
        loss = out.square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        return out.shape[0] * out.shape[1]

    return step


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument(
        "--widths", default="3,3,3,3", help="filter widths, comma separated (3,3,3,3 = RF 81)"
    )
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--chunk", type=int, default=64, help="output frames per chunk in the chunked row")
    parser.add_argument("--frames", type=int, default=3000, help="sequence length for the inference row")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    device = torch.device(args.device)
    cfg = TemporalModelConfig(
        filter_widths=tuple(int(w) for w in args.widths.split(",")), channels=args.channels
    )
    rf = cfg.receptive_field()
    dilated = TemporalModel(cfg).to(device).train()
    strided = TemporalModel(cfg, strided=True).to(device).train()
    strided.load_state_dict(dilated.state_dict())
    windows = torch.randn(args.batch, rf, cfg.num_joints_in, cfg.in_features, device=device)
    chunk_batch = max(1, args.batch // args.chunk)
    chunks = torch.randn(chunk_batch, rf - 1 + args.chunk, cfg.num_joints_in, cfg.in_features, device=device)

    rows = [
        ("train, dilated, 1 frame per sample (baseline)", _rate(_train_step(dilated, torch.optim.Adam(dilated.parameters()), windows), args.seconds)),
        ("train, strided, 1 frame per sample", _rate(_train_step(strided, torch.optim.Adam(strided.parameters()), windows), args.seconds)),
        (f"train, dilated, chunks of {args.chunk} frames", _rate(_train_step(dilated, torch.optim.Adam(dilated.parameters()), chunks), args.seconds)),
    ]  # fmt: skip
    sequence = torch.randn(args.frames, cfg.num_joints_in, cfg.in_features, device=device)
    infer = _rate(lambda: predict_sequence(dilated, sequence).shape[0], args.seconds)
    # Its cost does not depend on the pose (a fixed number of iterations), so random joints do.
    joints = np.random.default_rng(0).normal(0.0, 0.3, (args.frames, OUTPUT.num_joints, 3))
    bones = _rate(lambda: len(constant_bone_lengths(joints, OUTPUT.names, OUTPUT.parents)), args.seconds)

    print(f"Temporal model C={cfg.channels}, filter widths {cfg.filter_widths} (RF {rf}), device {device}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"| {'measurement':<48} | {'samples/s':>10} | {'ratio':>6} |")
    print(f"|{'-' * 50}|{'-' * 12}|{'-' * 8}|")
    base = rows[0][1]
    for name, rate in rows:
        print(f"| {name:<48} | {rate:>10.0f} | {rate / base:>5.2f}x |")
    print(f"| {f'inference, dilated, {args.frames}-frame sequence':<48} | {infer:>10.0f} | {'frames':>6} |")
    print(
        f"| {f'constant bone lengths, {args.frames}-frame clip':<48} | {bones:>10.0f} | {bones / infer:>5.2f}x |"
    )


if __name__ == "__main__":
    main()
