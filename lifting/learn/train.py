"""Supervised training of the temporal pose model and the trajectory model (paper §3–4, §5 set-up).

    python -m lifting train --out weights/mocap --data mocap --epochs 40
    torchrun --nproc-per-node 4 -m lifting train --out weights/mocap --data mocap      # several GPUs (DDP)

Each epoch draws fresh virtual views from the data source, cuts them into seeded, shuffled chunks (mirror
augmentation on) and trains both models jointly: the pose model on MPJPE, the trajectory model on the
depth-weighted MPJPE (1/z); with `--velocity-weight` / `--bone-std-weight` (chunked training only) the pose loss
also penalises the velocity error between consecutive output frames and each bone's length spread over a chunk,
terms a temporal model can satisfy and a single-frame one mostly cannot. Adam (AMSGrad), learning rate decayed
per epoch, BatchNorm momentum decayed from 0.1 to 0.001 as in the paper. With `chunk_length = 1` the strided
variant is trained (the paper's choice); longer chunks train the dilated variant on many frames per sample.
After each epoch the dilated models are evaluated on the validation views (mirror test-time augmentation) and the
checkpoint is written (safetensors + JSON); the full training state (optimiser, epoch) is written beside it so
`--resume` continues exactly where a run stopped. Progress goes to a tqdm bar and, one JSON object per epoch, to
`OUT.log.jsonl`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from lifting.errors import MocapError
from lifting.learn.generators import Batch, ChunkedGenerator, EvaluationGenerator
from lifting.learn.losses import bone_length_std, depth_weighted_mpjpe, masked_velocity_loss, weighted_mpjpe
from lifting.learn.sources import Source, SyntheticSource, Views
from lifting.lift.checkpoint import CheckpointConfig, checkpoint_paths, save_checkpoint
from lifting.lift.device import resolve_device
from lifting.lift.model import TemporalModel, TemporalModelConfig
from lifting.metrics import mpjpe, n_mpjpe, p_mpjpe, root_trajectory_error
from lifting.progress import Progress
from lifting.skeleton import merge_mirrored

STATE_FORMAT = "video-mocap-train-state"


@dataclass
class TrainConfig:
    """Every setting of a training run; stored in the checkpoint's `training` entry."""

    out: Path = Path("weights/model")
    data: str = "synthetic"
    shared_dir: Path = Path(__file__).resolve().parents[2].parent / "shared"
    epochs: int = 40
    batch_size: int = 1024
    chunk_length: int = 1
    lr: float = 1e-3
    lr_decay: float = 0.95
    bn_momentum_start: float = 0.1
    bn_momentum_end: float = 0.001
    channels: int = 256
    filter_widths: tuple[int, ...] = (3, 3, 3, 3)
    dropout: float = 0.25
    trajectory: bool = True
    mirror: bool = True
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    max_batches_per_epoch: int = 0
    max_train_clips: int = 0
    clips_per_epoch: int = 0
    bn_recalibration_batches: int = 100
    # Temporal terms added to the pose loss (0 = the paper's plain MPJPE): velocity error between consecutive
    # output frames of a chunk (m/frame) and each bone's length spread over a chunk (m). Both need chunk_length > 1.
    velocity_weight: float = 0.0
    bone_std_weight: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["out"] = str(self.out)
        d["shared_dir"] = str(self.shared_dir)
        d["filter_widths"] = list(self.filter_widths)
        return d


@dataclass
class EpochReport:
    """Metrics after one epoch (metres; trajectory error in metres)."""

    epoch: int
    train_loss: float
    train_trajectory_loss: float
    val_mpjpe: float
    val_p_mpjpe: float
    val_n_mpjpe: float
    val_trajectory_error: float
    seconds: float
    samples: int
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}


def make_source(cfg: TrainConfig) -> Source:
    """The data source named by `cfg.data`."""
    if cfg.data == "synthetic":
        return SyntheticSource()
    if cfg.data == "mocap":
        from lifting.learn.datasets.training_source import MocapSource

        return MocapSource(
            shared_dir=cfg.shared_dir,
            max_train_clips=cfg.max_train_clips,
            clips_per_epoch=cfg.clips_per_epoch,
        )
    raise MocapError(f"Unknown training data {cfg.data!r}; use synthetic or mocap.")


def code_version() -> str:
    """`git describe` of the source tree when available, else the package version."""
    from lifting import __version__

    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return __version__
    return (
        f"{__version__}+{out.stdout.strip()}" if out.returncode == 0 and out.stdout.strip() else __version__
    )


@dataclass
class _Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> _Distributed:
    """Join the torchrun process group when launched under torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Distributed()
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return _Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


class Trainer:
    """Owns the models, optimiser and state of one run. `run()` trains the remaining epochs."""

    def __init__(self, cfg: TrainConfig, source: Source, argv: Sequence[str] = ()) -> None:
        self.cfg = cfg
        self.source = source
        self.argv = list(argv)
        self.device = resolve_device(cfg.device)
        self.dist = _init_distributed(self.device)
        if self.device.type == "cuda" and self.dist.world_size > 1:
            self.device = torch.device("cuda", self.dist.local_rank)
        torch.manual_seed(cfg.seed)
        pose_cfg = TemporalModelConfig(
            num_joints_in=source.input_joints.num_joints,
            in_features=len(source.features),
            num_joints_out=source.output_joints.num_joints,
            filter_widths=cfg.filter_widths,
            channels=cfg.channels,
            dropout=cfg.dropout,
            bn_momentum=cfg.bn_momentum_start,
        )
        self.checkpoint_config = CheckpointConfig(
            pose=pose_cfg,
            trajectory=pose_cfg.for_trajectory() if cfg.trajectory else None,
            input_joints=source.input_joints,
            output_joints=source.output_joints,
            fps=source.fps,
            features=source.features,
            normalisation=source.normalisation,
        )
        strided = cfg.chunk_length == 1
        self.models = self.checkpoint_config.build_models(strided=strided)
        for model in self.models.values():
            model.to(self.device)
        self.wrapped: dict[str, torch.nn.Module] = dict(self.models)
        if self.dist.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = {k: DistributedDataParallel(m, device_ids=ids) for k, m in self.models.items()}
        params = [p for m in self.models.values() for p in m.parameters()]
        self.optimiser = torch.optim.Adam(params, lr=cfg.lr, amsgrad=True)
        self.epoch = 0
        self.bn_recalibrated = False
        self.history: list[EpochReport] = []
        self._validation: Views | None = None
        # Optional overall progress report (fraction of the run in 0..1, message), e.g. for the add-on.
        self.progress: Progress | None = None

    # ----- state ---------------------------------------------------------------------------------------------
    def state_paths(self) -> tuple[Path, Path]:
        weights, _ = checkpoint_paths(self.cfg.out)
        stem = weights.with_suffix("")
        return stem.with_name(stem.name + ".train-state.safetensors"), stem.with_name(
            stem.name + ".train-state.json"
        )

    def save_state(self) -> None:
        """Optimiser and model state as safetensors + JSON (no pickle), written atomically after the checkpoint."""
        tensors: dict[str, torch.Tensor] = {}
        for role, model in self.models.items():
            for name, t in model.state_dict().items():
                tensors[f"model.{role}.{name}"] = t.detach().cpu().contiguous()
        opt = self.optimiser.state_dict()
        for index, state in opt["state"].items():
            for key, value in state.items():
                tensors[f"optim.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {
            "format": STATE_FORMAT,
            "epoch": self.epoch,
            "bn_recalibrated": self.bn_recalibrated,
            "param_groups": opt["param_groups"],
            "history": [r.to_json() for r in self.history],
            "config": self.cfg.to_json(),
        }
        weights, config = self.state_paths()
        tmp_w, tmp_c = weights.with_name(weights.name + ".tmp"), config.with_name(config.name + ".tmp")
        save_file(tensors, str(tmp_w))
        tmp_c.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp_w, weights)
        os.replace(tmp_c, config)

    def load_state(self) -> None:
        """Resume from the state files of a previous run with the same architecture."""
        weights, config = self.state_paths()
        if not weights.is_file() or not config.is_file():
            raise MocapError(f"Nothing to resume: {weights} was not found; start without --resume.")
        try:
            meta = json.loads(config.read_text(encoding="utf-8"))
            tensors = load_file(str(weights))
        except (OSError, ValueError) as exc:
            raise MocapError(
                f"The training state {weights} is unreadable ({exc}); start without --resume."
            ) from None
        if meta.get("format") != STATE_FORMAT:
            raise MocapError(f"{config} is not a training state file; start without --resume.")
        old = meta["config"]
        for key in ("channels", "filter_widths", "data", "trajectory", "chunk_length"):
            if old.get(key) != self.cfg.to_json().get(key):
                raise MocapError(
                    f"Cannot resume: the saved run used {key}={old.get(key)!r}, this one {key}={self.cfg.to_json().get(key)!r}."
                )
        for role, model in self.models.items():
            prefix = f"model.{role}."
            model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        self.optimiser.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        if "rng.torch" in tensors:
            torch.set_rng_state(tensors["rng.torch"])
        self.epoch = int(meta["epoch"])
        self.bn_recalibrated = bool(meta.get("bn_recalibrated", False))
        self.history = [EpochReport(**r) for r in meta["history"]]

    # ----- training ------------------------------------------------------------------------------------------
    def _bn_momentum(self, epoch: int) -> float:
        """Exponential decay from the start to the end momentum over the run (paper §5)."""
        c = self.cfg
        if c.epochs <= 1:
            return c.bn_momentum_start
        return float(
            c.bn_momentum_start * (c.bn_momentum_end / c.bn_momentum_start) ** (epoch / (c.epochs - 1))
        )

    def train_epoch(self, progress: Callable[[int, int], None] | None = None) -> tuple[float, float, int]:
        """One epoch; returns (mean pose loss, mean trajectory loss, samples seen by this process)."""
        c = self.cfg
        views = self.source.epoch(self.epoch, c.seed)
        pose_model = self.models["pose"]
        generator = ChunkedGenerator(
            views.inputs, views.poses_3d, views.trajectories,
            input_joints=self.source.input_joints, output_joints=self.source.output_joints,
            batch_size=c.batch_size, chunk_length=c.chunk_length, pad=pose_model.cfg.padding(),
            mirror=c.mirror, drop_last=self.dist.world_size > 1, seed=c.seed,
        )  # fmt: skip
        generator.set_epoch(self.epoch)
        momentum = self._bn_momentum(self.epoch)
        for model in self.models.values():
            model.set_bn_momentum(momentum)
            model.train()
        lr = c.lr * c.lr_decay**self.epoch
        for group in self.optimiser.param_groups:
            group["lr"] = lr
        total = generator.num_batches()
        if c.max_batches_per_epoch > 0:
            total = min(total, c.max_batches_per_epoch)
        # Under DDP every process must take the same number of steps, or the gradient all-reduce hangs.
        total -= total % self.dist.world_size
        pose_sum = traj_sum = 0.0
        count = samples = 0
        for b, batch in enumerate(generator):
            if b >= total:
                break
            if b % self.dist.world_size != self.dist.rank:
                continue  # each process trains on its share of the batches
            loss, pose_loss, traj_loss = self.batch_loss(batch)
            pose_sum += pose_loss
            traj_sum += traj_loss
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            self.optimiser.step()
            count += 1
            samples += int(batch.valid.sum())
            if progress is not None:
                progress(b + 1, total)
        return pose_sum / max(count, 1), traj_sum / max(count, 1), samples

    def epoch_metrics(self) -> dict[str, float]:
        """Extra numbers to record with each epoch's report (none here; fine-tuning adds its own)."""
        return {}

    def batch_loss(self, batch: Batch) -> tuple[torch.Tensor, float, float]:
        """The supervised loss of one labeled batch: (total to minimise, pose MPJPE, trajectory loss)."""
        assert batch.poses_3d is not None and batch.trajectories is not None
        x = torch.from_numpy(batch.inputs).to(self.device)
        valid = torch.from_numpy(batch.valid).to(self.device, torch.float32)
        target = torch.from_numpy(batch.poses_3d).to(self.device)
        pred = self.wrapped["pose"](x)
        loss = weighted_mpjpe(pred, target, valid[..., None]) / valid.mean().clamp(min=1e-6)
        pose_loss = float(loss.detach())
        if self.cfg.velocity_weight > 0:
            loss = loss + self.cfg.velocity_weight * masked_velocity_loss(pred, target, valid)
        if self.cfg.bone_std_weight > 0:
            parents = self.source.output_joints.parents
            loss = loss + self.cfg.bone_std_weight * bone_length_std(pred, parents, valid)
        traj_loss = 0.0
        if "trajectory" in self.wrapped:
            traj_target = torch.from_numpy(batch.trajectories).to(self.device)[:, :, None]
            traj_pred = self.wrapped["trajectory"](x)
            traj = depth_weighted_mpjpe(traj_pred, traj_target)
            traj_loss = float(traj.detach())
            loss = loss + traj
        return loss, pose_loss, traj_loss

    def evaluate(self) -> tuple[float, float, float, float]:
        """Validation MPJPE, P-MPJPE, N-MPJPE and mean root-trajectory error (metres), mirror TTA on."""
        if self._validation is None:
            self._validation = self.source.validation()
        views = self._validation
        evaluators: dict[str, TemporalModel] = {}
        for role, model in self.models.items():
            ev = TemporalModel(model.cfg).to(self.device)
            ev.load_state_dict(model.state_dict())
            evaluators[role] = ev.eval()
        pad = evaluators["pose"].cfg.padding()
        gen = EvaluationGenerator(
            views.inputs, views.poses_3d, views.trajectories, input_joints=self.source.input_joints,
            output_joints=self.source.output_joints, pad=pad, mirror=True,
        )  # fmt: skip
        errors: list[list[float]] = [[], [], [], []]
        weights: list[int] = []
        with torch.no_grad():
            for item in gen:
                assert item.poses_3d is not None and item.trajectory is not None
                x = torch.from_numpy(item.inputs).to(self.device)
                pose = merge_mirrored(evaluators["pose"](x).cpu().numpy(), self.source.output_joints)
                errors[0].append(mpjpe(pose, item.poses_3d))
                errors[1].append(p_mpjpe(pose, item.poses_3d))
                errors[2].append(n_mpjpe(pose, item.poses_3d))
                if "trajectory" in evaluators:
                    out = evaluators["trajectory"](x).cpu().numpy()  # (2, T, 1, 3)
                    flipped = out[1].copy()
                    flipped[..., 0] *= -1.0
                    traj = (out[0] + flipped)[:, 0] / 2.0
                    errors[3].append(root_trajectory_error(traj, item.trajectory))
                else:
                    errors[3].append(math.nan)
                weights.append(len(item.poses_3d))
        w = np.asarray(weights, dtype=np.float64)
        means = [float(np.average(e, weights=w)) for e in errors]
        return means[0], means[1], means[2], means[3]

    def recalibrate_batchnorm(self, num_batches: int) -> int:
        """Replace every BatchNorm's running statistics by exact averages over `num_batches` training batches.

        The paper's decaying BatchNorm momentum leaves running statistics that lag the weights by about an
        epoch at the end of training; measured here, recomputing them with the final weights (forward passes
        only, dropout off, fresh views) lowered the temporal model's validation P-MPJPE by about 10%. Returns
        the number of batches used.
        """
        c = self.cfg
        views = self.source.epoch(c.epochs + 10_000, c.seed)  # views no training epoch drew
        pad = self.models["pose"].cfg.padding()
        generator = ChunkedGenerator(
            views.inputs, views.poses_3d, views.trajectories,
            input_joints=self.source.input_joints, output_joints=self.source.output_joints,
            batch_size=c.batch_size, chunk_length=c.chunk_length, pad=pad, mirror=c.mirror, drop_last=True,
            seed=c.seed + 1,
        )  # fmt: skip
        norms = [
            m
            for model in self.models.values()
            for m in model.modules()
            if isinstance(m, torch.nn.BatchNorm1d)
        ]
        for model in self.models.values():
            model.eval()
        for bn in norms:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the batches below
            bn.train()
        used = 0
        with torch.no_grad():
            for batch in generator:
                if used >= num_batches:
                    break
                x = torch.from_numpy(self.recalibration_inputs(batch)).to(self.device)
                for model in self.models.values():
                    model(x)
                used += 1
        final = self._bn_momentum(c.epochs - 1)
        for model in self.models.values():
            model.set_bn_momentum(final)
            model.eval()
        self.bn_recalibrated = True
        return used

    def recalibration_inputs(self, batch: Batch) -> npt.NDArray[np.float32]:
        """(B', L + P, J_in, C) the inputs one recalibration pass normalises over: the labeled batch's, as in
        training (fine-tuning adds its unlabeled batch, which its training steps also normalise with)."""
        return batch.inputs

    def save_checkpoint(self, stem: Path | None = None) -> None:
        """Write the models and the training record as a checkpoint at `stem` (default `cfg.out`)."""
        cfg = self.checkpoint_config
        training = {
            "command": " ".join(["python -m lifting train", *self.argv]),
            "code_version": code_version(),
            "data": self.source.describe(),
            "config": self.cfg.to_json(),
            "epochs_done": self.epoch,
            "history": [r.to_json() for r in self.history],
        }
        save_checkpoint(stem or self.cfg.out, dataclasses.replace(cfg, training=training), self.models)

    def run(self, show_progress: bool = True) -> list[EpochReport]:
        """Train until `cfg.epochs`; after each epoch the main process evaluates and writes checkpoint + state."""
        log_path = checkpoint_paths(self.cfg.out)[0].with_suffix(".log.jsonl")
        while self.epoch < self.cfg.epochs:
            start = time.perf_counter()
            bar = tqdm(
                total=1, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}", unit="batch", leave=False,
                disable=not (show_progress and self.dist.is_main), file=sys.stderr,
            )  # fmt: skip

            def tick(done: int, total: int, bar: Any = bar) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()
                if self.progress is not None:
                    fraction = (self.epoch + done / max(total, 1)) / max(self.cfg.epochs, 1)
                    self.progress(fraction, f"epoch {self.epoch + 1}/{self.cfg.epochs}")

            loss, traj_loss, samples = self.train_epoch(tick)
            bar.close()
            self.epoch += 1
            self.bn_recalibrated = False  # a resumed run that trains on needs a fresh recalibration
            if not self.dist.is_main:
                continue
            val = self.evaluate()
            report = EpochReport(
                self.epoch, loss, traj_loss, *val, time.perf_counter() - start, samples,
                extra=self.epoch_metrics(),
            )  # fmt: skip
            self.history.append(report)
            self.save_checkpoint()
            self.save_state()
            with log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(report.to_json()) + "\n")
            if show_progress:
                print(
                    f"epoch {report.epoch}/{self.cfg.epochs}: loss {report.train_loss * 1000:.1f} mm, "
                    f"val MPJPE {report.val_mpjpe * 1000:.1f} mm, P-MPJPE {report.val_p_mpjpe * 1000:.1f} mm, "
                    f"root {report.val_trajectory_error * 1000:.0f} mm, {report.samples / report.seconds:.0f} samples/s",
                    file=sys.stderr,
                    flush=True,
                )
        if (
            self.dist.is_main
            and self.epoch >= self.cfg.epochs
            and self.cfg.bn_recalibration_batches > 0
            and not self.bn_recalibrated
        ):
            start = time.perf_counter()
            used = self.recalibrate_batchnorm(self.cfg.bn_recalibration_batches)
            val = self.evaluate()
            note = f"BatchNorm statistics recalibrated on {used} batches"
            report = EpochReport(self.epoch, math.nan, math.nan, *val, time.perf_counter() - start, 0, note)
            self.history.append(report)
            self.save_checkpoint()
            self.save_state()
            with log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(report.to_json()) + "\n")
            if show_progress:
                print(
                    f"{note}: val MPJPE {report.val_mpjpe * 1000:.1f} mm, P-MPJPE {report.val_p_mpjpe * 1000:.1f} mm",
                    file=sys.stderr,
                    flush=True,
                )
        return self.history


def parse_args(argv: Sequence[str]) -> TrainConfig:
    """Command line → TrainConfig (one option per field, same names with dashes)."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m lifting train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=defaults.out, help="checkpoint stem: writes OUT.safetensors and OUT.json"
    )
    parser.add_argument("--data", choices=["synthetic", "mocap"], default=defaults.data)
    parser.add_argument(
        "--shared-dir", type=Path, default=defaults.shared_dir, help="folder holding data/mocap"
    )
    for name in (
        "epochs",
        "batch_size",
        "chunk_length",
        "channels",
        "seed",
        "max_batches_per_epoch",
        "max_train_clips",
        "clips_per_epoch",
        "bn_recalibration_batches",
    ):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    for name in (
        "lr",
        "lr_decay",
        "dropout",
        "bn_momentum_start",
        "bn_momentum_end",
        "velocity_weight",
        "bone_std_weight",
    ):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    parser.add_argument(
        "--filter-widths", default=",".join(map(str, defaults.filter_widths)), help="e.g. 3,3,3,3 (RF 81)"
    )
    parser.add_argument("--no-trajectory", action="store_true", help="train the pose model only")
    parser.add_argument("--no-mirror", action="store_true", help="no mirrored-sample augmentation")
    parser.add_argument("--device", default=defaults.device, help="auto, cpu or cuda")
    parser.add_argument("--resume", action="store_true", help="continue from OUT.train-state.*")
    ns = parser.parse_args(list(argv))
    try:
        widths = tuple(int(w) for w in ns.filter_widths.split(","))
    except ValueError:
        parser.error(f"--filter-widths must be comma-separated integers, got {ns.filter_widths!r}")
    if ns.chunk_length < 2 and (ns.velocity_weight > 0 or ns.bone_std_weight > 0):
        parser.error("--velocity-weight and --bone-std-weight need --chunk-length 2 or more")
    return TrainConfig(
        out=ns.out, data=ns.data, shared_dir=ns.shared_dir, epochs=ns.epochs, batch_size=ns.batch_size,
        chunk_length=ns.chunk_length, lr=ns.lr, lr_decay=ns.lr_decay, bn_momentum_start=ns.bn_momentum_start,
        bn_momentum_end=ns.bn_momentum_end, channels=ns.channels, filter_widths=widths, dropout=ns.dropout,
        trajectory=not ns.no_trajectory, mirror=not ns.no_mirror, seed=ns.seed, device=ns.device,
        resume=ns.resume, max_batches_per_epoch=ns.max_batches_per_epoch, max_train_clips=ns.max_train_clips,
        clips_per_epoch=ns.clips_per_epoch,
        bn_recalibration_batches=ns.bn_recalibration_batches, velocity_weight=ns.velocity_weight,
        bone_std_weight=ns.bone_std_weight,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cfg = parse_args(args)
    try:
        trainer = Trainer(cfg, make_source(cfg), argv=args)
        if cfg.resume:
            trainer.load_state()
        trainer.run()
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # invalid architecture settings from the command line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0
