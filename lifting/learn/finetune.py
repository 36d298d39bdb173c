"""Semi-supervised fine-tuning on a user's own unlabeled clips (paper §4, back-projection).

    python -m lifting finetune --clips FILES_OR_FOLDER [...] --out WEIGHTS_DIR [--base STEM] [--fov DEG]

1. 2D keypoints are detected on every clip (cached, by `lifting.video2d.detect.detect`; `.keypoints.npz` files are used
   as they are); clips where the person is found too rarely, or too briefly, are refused with a clear message.
2. Training starts from the base weights (the shipped ones by default). After `warmup_epochs` of supervised
   training only, every step trains on one labeled batch and one unlabeled batch in a single forward pass:
   - labeled (motion capture seen through random virtual cameras, as in `lifting.learn.train`): MPJPE for the pose
     model, depth-weighted MPJPE for the trajectory model;
   - unlabeled (the user's clips): the predicted pose plus the predicted trajectory, projected through the
     clip's camera, against the detected 2D (`losses.backprojection_loss`, weighted by MediaPipe's visibility,
     zero on frames without a detection), on the joints a detection observes (`lifting.landmarks.OBSERVED_JOINTS`);
   - the bone-length loss keeping the mean bone lengths of the unlabeled predictions at those of the labeled
     poses, without which back-projection alone (blind to scale) lets the skeleton shrink toward the camera.
3. The result is written as `WEIGHTS_DIR/finetuned.safetensors` + `.json` (loadable by `--weights` in the
   command line and by the add-on), recording the base checkpoint, the clips it was tuned on and the settings,
   and a before/after table on the clips (2D reprojection error, bone-length standard deviation).

Training state is saved after every epoch, so `--resume` continues a stopped run exactly; `--seed` makes runs
repeatable; `torchrun` runs it on several GPUs like `lifting.learn.train`. `--events` writes progress as JSON lines on
stdout (the add-on's worker protocol) instead of a progress bar.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.distributed as dist

from lifting.camera import Intrinsics
from lifting.errors import MocapError
from lifting.learn.generators import Batch, ChunkedGenerator
from lifting.learn.losses import (
    aligned_backprojection_loss,
    backprojection_loss,
    bone_length_loss,
    bone_lengths,
    depth_weighted_mpjpe,
    weighted_mpjpe,
)
from lifting.learn.sources import Source
from lifting.learn.train import TrainConfig, Trainer, code_version
from lifting.lift.checkpoint import CheckpointConfig, checkpoint_paths, load_checkpoint, save_checkpoint
from lifting.lift.lift import (
    LiftOptions,
    clip_intrinsics,
    default_weights,
    fill_missing,
    model_inputs,
    resample,
    run_models,
)
from lifting.lift.model import TemporalModel
from lifting.metrics import bone_length_std
from lifting.progress import Progress
from lifting.skeleton import observation_matrix
from lifting.video2d.detect import detect
from lifting.video2d.keypoints2d import Keypoints2D
from lifting.video2d.video import expand_videos
from retarget.events import Emitter

F32 = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]

CHECKPOINT_NAME = "finetuned"
BACKPROJECTION_MODES = ("joint", "aligned")
# Projection with camera-ray inputs: the model's 2D already is (X/Z, Y/Z), so the "camera" is the identity.
_RAY_INTRINSICS = (1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


# ---------------------------------------------------------------------------------------------------------
# Unlabeled clips
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnlabeledClip:
    """One unlabeled sequence at the model's frame rate.

    inputs: (T, J_in, C) the model's input (camera rays + visibility); weights: (T, J_in) the back-projection
    weight of each 2D point (visibility on frames with a detection, 0 elsewhere); focal_px: the clip's focal
    length, to report errors in pixels; info: provenance (name, frames, detection rate, source identity).
    """

    name: str
    inputs: F32
    weights: F32
    focal_px: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def loss_inputs(self) -> F32:
        """(T, J_in, C + 1): the inputs with the weights as a last channel, so one generator cuts both."""
        out: F32 = np.concatenate([self.inputs, self.weights[..., None]], axis=-1).astype(np.float32)
        return out


def prepare_clip(
    keypoints: Keypoints2D,
    name: str,
    config: CheckpointConfig,
    options: LiftOptions,
    min_detection_rate: float = 0.5,
    min_seconds: float = 2.0,
) -> UnlabeledClip:
    """A detected clip as unlabeled training data (the same steps as `lift`: gap filling, resampling to the
    model's frame rate, normalisation with the clip's intrinsics); refuses clips with too few detections."""
    detected = np.asarray(keypoints.detected, dtype=bool)
    rate = float(detected.mean()) if len(detected) else 0.0
    if rate < min_detection_rate:
        raise MocapError(
            f"{name}: the person was found on only {rate:.0%} of the frames (at least "
            f"{min_detection_rate:.0%} are needed); trim the clip to where the person is visible or leave it out."
        )
    times = np.asarray(keypoints.timestamps, dtype=np.float64)
    times = times - times[0]
    seconds = float(detected.sum()) / float(keypoints.fps)
    if seconds < min_seconds:
        raise MocapError(
            f"{name}: the person is visible for only {seconds:.1f} s (at least {min_seconds:g} s are needed)."
        )
    width, height = (int(v) for v in keypoints.image_size)
    intrinsics: Intrinsics = clip_intrinsics(width, height, options)
    kp = fill_missing(np.asarray(keypoints.keypoints, dtype=np.float64), detected)
    vis = np.where(detected[:, None], np.asarray(keypoints.visibility, dtype=np.float64), 0.0)
    vis_in = fill_missing(vis[:, :, None], detected)[:, :, 0]
    model_times = np.arange(0.0, times[-1] + 0.5 / config.fps, 1.0 / config.fps)
    inputs = model_inputs(
        resample(kp, times, model_times), resample(vis_in, times, model_times), intrinsics, config
    )
    # A model frame keeps its loss weight only when both video frames around it had a detection.
    nearest_ok = resample(detected.astype(np.float64)[:, None], times, model_times)[:, 0] > 0.999
    weights = np.where(nearest_ok[:, None], resample(vis, times, model_times), 0.0)
    info = {
        "name": name,
        "frames": len(detected),
        "fps": float(keypoints.fps),
        "detection_rate": round(rate, 4),
        "image_size": [width, height],
        "focal_px": round(float(intrinsics.fx), 3),
        "video": keypoints.meta.get("video", {}),
    }
    return UnlabeledClip(name, inputs, weights.astype(np.float32), float(intrinsics.fx), info)


def expand_clips(paths: Sequence[str | Path]) -> list[Path]:
    """Files and folders → the videos and `.keypoints.npz` files to tune on (folders: their videos, sorted)."""
    out = expand_videos(paths, what="clip")
    if not out:
        raise MocapError("No clips were given; pass --clips with videos or a folder of videos.")
    return out


def load_keypoints(
    path: Path,
    detect_options: dict[str, Any],
    progress: Progress | None = None,
) -> Keypoints2D:
    """2D keypoints of a clip: read a `.keypoints.npz` file, or detect them on a video (cached)."""
    if path.name.endswith(".keypoints.npz"):
        return Keypoints2D.load(path)
    return detect(path, progress=progress, **detect_options)


# ---------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SemiSupervisedConfig:
    """The fine-tuning part of a run: warm-up epochs (supervised only) and the weights of the unlabeled terms.

    backprojection_weight multiplies the 2D error in camera-ray units (about radians; 0.01 ≈ 10 px on a 1000 px
    focal length); bone_weight the squared difference of mean bone lengths (m², the paper's term);
    bone_consistency_weight the variance of each bone's length within an unlabeled chunk (m²; one person's
    bones do not change length, an addition to the paper's method). lr_warmup_steps: steps of linear
    learning-rate warm-up. freeze_batchnorm: keep the base model's BatchNorm statistics fixed (use them, do not
    update them), for fine-tuning a trained model; off when training from scratch (the paper's set-up).
    backprojection: "joint" is the paper's term (pose + trajectory projected together, both models learn from
    the same 2D error); "aligned" splits it: the trajectory model learns from the plain back-projection of the
    (fixed) predicted pose, the pose model from the 2D error after aligning each projected pose to its
    keypoints by an image translation and scale (`losses.aligned_backprojection_loss`), so a wrong root depth
    cannot be compensated by resizing or distorting the pose (an addition to the paper's method)."""

    warmup_epochs: int = 1
    backprojection_weight: float = 1.0
    bone_weight: float = 10.0
    bone_consistency_weight: float = 100.0
    lr_warmup_steps: int = 100
    freeze_batchnorm: bool = True
    backprojection: str = "joint"

    def __post_init__(self) -> None:
        if self.backprojection not in BACKPROJECTION_MODES:
            raise MocapError(
                f"Unknown back-projection mode {self.backprojection!r}; use one of {', '.join(BACKPROJECTION_MODES)}."
            )


def _identity_rays(device: torch.device) -> torch.Tensor:
    return torch.tensor(_RAY_INTRINSICS, dtype=torch.float32, device=device)


class FinetuneTrainer(Trainer):
    """`lifting.learn.train.Trainer` plus an unlabeled batch per step (back-projection and bone-length losses)."""

    def __init__(
        self,
        cfg: TrainConfig,
        source: Source,
        unlabeled: Sequence[UnlabeledClip],
        semi: SemiSupervisedConfig,
        base: Path | None = None,
        argv: Sequence[str] = (),
        provenance: dict[str, Any] | None = None,
    ) -> None:
        if source.normalisation != "camera":
            raise MocapError("Fine-tuning needs camera-ray inputs (checkpoint normalisation 'camera').")
        super().__init__(cfg, source, argv)
        if "trajectory" not in self.models:
            raise MocapError("Fine-tuning needs a checkpoint with a trajectory model.")
        self.semi = semi
        self.unlabeled = list(unlabeled)
        self.base = base
        self.provenance = provenance or {}
        observed, matrix = observation_matrix(source.input_joints, source.output_joints)
        self.observed = observed
        self.observe = torch.tensor(matrix, dtype=torch.float32, device=self.device)  # (K, J_in)
        self.rays = _identity_rays(self.device)
        self.pad = self.models["pose"].cfg.padding()
        if base is not None:
            _, base_models = load_checkpoint(base, device=self.device)
            for role, model in self.models.items():
                try:
                    model.load_state_dict(base_models[role].state_dict())
                except (KeyError, RuntimeError):
                    raise MocapError(
                        f"The base checkpoint {base} does not match the fine-tuning model's architecture."
                    ) from None
        self._unlabeled_gen: ChunkedGenerator | None = None
        if self.unlabeled:
            self._unlabeled_gen = ChunkedGenerator(
                [c.loss_inputs for c in self.unlabeled], None, None,
                input_joints=source.input_joints, output_joints=None, batch_size=cfg.batch_size,
                chunk_length=cfg.chunk_length, pad=self.pad, mirror=cfg.mirror, seed=cfg.seed + 17,
            )  # fmt: skip
        self._unlabeled_iter: Iterator[Batch] | None = None
        self._sums: dict[str, float] = {}
        self._step = 0
        self._norms = [
            m
            for model in self.models.values()
            for m in model.modules()
            if isinstance(m, torch.nn.BatchNorm1d)
        ]

    def _next_unlabeled(self) -> Batch:
        assert self._unlabeled_gen is not None
        while True:
            if self._unlabeled_iter is None:
                self._unlabeled_iter = iter(self._unlabeled_gen)
            try:
                return next(self._unlabeled_iter)
            except StopIteration:
                self._unlabeled_iter = None

    def train_epoch(self, progress: Callable[[int, int], None] | None = None) -> tuple[float, float, int]:
        self._sums = {"backprojection": 0.0, "bone": 0.0, "steps": 0.0}
        if self._unlabeled_gen is not None:
            self._unlabeled_gen.set_epoch(self.epoch)
            self._unlabeled_iter = None
        return super().train_epoch(progress)

    def load_state(self) -> None:
        super().load_state()
        if self.epoch > 0:
            self._step = self.semi.lr_warmup_steps  # the optimiser state is restored: no second warm-up

    def semi_supervised_active(self) -> bool:
        return self._unlabeled_gen is not None and self.epoch >= self.semi.warmup_epochs

    def batch_loss(self, batch: Batch) -> tuple[torch.Tensor, float, float]:
        # The optimiser starts without the base run's moment estimates, and Adam's first steps then move every
        # weight by about the full learning rate whatever its gradient: measured on the shipped model, 20
        # such steps at 5e-5 cost 20 mm of validation MPJPE. A linear learning-rate warm-up avoids it.
        self._step += 1
        ramp = min(1.0, self._step / max(self.semi.lr_warmup_steps, 1))
        lr = self.cfg.lr * self.cfg.lr_decay**self.epoch * ramp
        for group in self.optimiser.param_groups:
            group["lr"] = lr
        if self.semi.freeze_batchnorm:
            # Batches of one user clip have statistics unlike the mixed batches a model was trained with; with
            # statistics updated from them, training and inference normalise differently (measured on the
            # sample clip: the reprojection error tripled in inference while it fell in training).
            for norm in self._norms:
                norm.eval()
        if not self.semi_supervised_active():
            return super().batch_loss(batch)
        assert batch.poses_3d is not None and batch.trajectories is not None
        unlabeled = self._next_unlabeled()
        features = batch.inputs.shape[-1]
        n = len(batch.inputs)
        # One forward pass over both batches, as in the paper, so BatchNorm sees them together.
        x = torch.from_numpy(np.concatenate([batch.inputs, unlabeled.inputs[..., :features]])).to(self.device)
        pose = self.wrapped["pose"](x)  # (B + U, L, J, 3) root-relative
        traj = self.wrapped["trajectory"](x)  # (B + U, L, 1, 3)
        valid = torch.from_numpy(batch.valid).to(self.device, torch.float32)
        target = torch.from_numpy(batch.poses_3d).to(self.device)
        pose_loss = weighted_mpjpe(pose[:n], target, valid[..., None]) / valid.mean().clamp(min=1e-6)
        traj_target = torch.from_numpy(batch.trajectories).to(self.device)[:, :, None]
        traj_loss = depth_weighted_mpjpe(traj[:n], traj_target)

        length = batch.poses_3d.shape[1]
        seen = torch.from_numpy(unlabeled.inputs[:, self.pad[0] : self.pad[0] + length]).to(self.device)
        target_2d = torch.einsum("kj,bljd->blkd", self.observe, seen[..., :2])  # (U, L, K, 2)
        weight = torch.einsum("kj,blj->blk", self.observe, seen[..., -1])
        weight = weight * torch.from_numpy(unlabeled.valid).to(self.device, torch.float32)[..., None]
        if self.semi.backprojection == "aligned":
            placed = (pose[n:].detach() + traj[n:])[:, :, self.observed]  # trains the trajectory model
            shaped = (pose[n:] + traj[n:].detach())[:, :, self.observed]  # trains the pose model
            backprojection = backprojection_loss(placed, target_2d, self.rays, weight)
            backprojection = backprojection + aligned_backprojection_loss(
                shaped, target_2d, self.rays, weight
            )
        else:
            absolute = (pose[n:] + traj[n:])[:, :, self.observed]  # (U, L, K, 3) camera space
            backprojection = backprojection_loss(absolute, target_2d, self.rays, weight)
        parents = self.source.output_joints.parents
        bone = bone_length_loss(pose[n:], target, parents)
        lengths = bone_lengths(pose[n:], parents)  # (U, L, bones)
        chunk_valid = torch.from_numpy(unlabeled.valid).to(self.device, torch.float32)[..., None]
        mean_length = (lengths * chunk_valid).sum(dim=1, keepdim=True) / chunk_valid.sum(dim=1, keepdim=True)
        consistency = (((lengths - mean_length) ** 2) * chunk_valid).sum() / (
            chunk_valid.sum() * lengths.shape[-1]
        )
        loss = (
            pose_loss
            + traj_loss
            + self.semi.backprojection_weight * backprojection
            + self.semi.bone_weight * bone
            + self.semi.bone_consistency_weight * consistency
        )
        self._sums["backprojection"] += float(backprojection.detach())
        self._sums["bone"] += float(bone.detach())
        self._sums["steps"] += 1
        return loss, float(pose_loss.detach()), float(traj_loss.detach())

    def epoch_metrics(self) -> dict[str, float]:
        steps = self._sums.get("steps", 0.0)
        out: dict[str, float] = {}
        if steps:
            out["train_backprojection"] = round(self._sums["backprojection"] / steps, 6)
            out["train_bone_loss"] = round(self._sums["bone"] / steps, 8)
        if self.unlabeled:
            diag = clip_diagnostics(self.eval_models(), self.checkpoint_config, self.unlabeled, self.device)
            out["clips_reprojection_px"] = round(diag["reprojection_px"], 3)
            out["clips_bone_std_mm"] = round(diag["bone_std_mm"], 3)
        return out

    def eval_models(self) -> dict[str, TemporalModel]:
        """Copies of the models in eval mode (the training models keep their mode)."""
        out: dict[str, TemporalModel] = {}
        for role, model in self.models.items():
            ev = TemporalModel(model.cfg).to(self.device)
            ev.load_state_dict(model.state_dict())
            out[role] = ev.eval()
        return out

    def save_checkpoint(self) -> None:
        cfg = self.checkpoint_config
        training = {
            "command": " ".join(["python -m lifting finetune", *self.argv]),
            "code_version": code_version(),
            "data": self.source.describe(),
            "config": self.cfg.to_json(),
            "epochs_done": self.epoch,
            "history": [r.to_json() for r in self.history],
            "finetune": {
                "base": None if self.base is None else str(self.base),
                "semi_supervised": dataclasses.asdict(self.semi),
                "clips": [c.info for c in self.unlabeled],
                **self.provenance,
            },
        }
        save_checkpoint(self.cfg.out, dataclasses.replace(cfg, training=training), self.models)


def clip_diagnostics(
    models: dict[str, TemporalModel],
    config: CheckpointConfig,
    clips: Sequence[UnlabeledClip],
    device: torch.device,
) -> dict[str, float]:
    """Mean 2D reprojection error (pixels, visibility-weighted, observed joints) and mean per-bone length
    standard deviation (mm, frames with a detection) of the models' predictions over the clips.

    Mixes torch (running the models, inside `run_models`) and numpy (the metrics): an evaluation boundary.
    """
    observed, matrix = observation_matrix(config.input_joints, config.output_joints)
    errors: list[float] = []
    weights: list[float] = []
    stds: list[float] = []
    frames: list[int] = []
    with torch.no_grad():
        for clip in clips:
            pose, traj = run_models(models, clip.inputs, config, True, device)
            assert traj is not None
            absolute = (pose + traj[:, None])[:, observed]
            proj = absolute[..., :2] / np.maximum(absolute[..., 2:], 1e-3)
            target = np.einsum("kj,tjd->tkd", matrix, clip.inputs[..., :2].astype(np.float64))
            w = np.einsum("kj,tj->tk", matrix, clip.weights.astype(np.float64))
            err = np.linalg.norm(proj - target, axis=-1) * clip.focal_px
            errors.append(float((err * w).sum()))
            weights.append(float(w.sum()))
            seen = clip.weights.max(axis=1) > 0
            if seen.sum() > 1:
                stds.append(bone_length_std(pose[seen], config.output_joints.parents) * 1000.0)
                frames.append(int(seen.sum()))
    return {
        "reprojection_px": sum(errors) / max(sum(weights), 1e-9),
        "bone_std_mm": float(np.average(stds, weights=frames)) if stds else float("nan"),
    }


# ---------------------------------------------------------------------------------------------------------
# Labeled data
# ---------------------------------------------------------------------------------------------------------


def labeled_source(
    kind: str,
    config: CheckpointConfig,
    shared_dir: Path,
    clips_per_epoch: int,
    validation_clips: int = 20,
    subjects: Sequence[str] = (),
) -> Source:
    """The labeled data: "mocap" (split v1 from `shared_dir`, optionally only some training subjects),
    "pack" (the small pack shipped with the project, `lifting.learn.datasets.pack`), "auto" (mocap when `shared_dir`
    holds it, else the pack) or "synthetic" (procedural motion with 21-joint inputs, for tests)."""
    if kind == "auto":
        kind = "mocap" if (Path(shared_dir) / "data" / "mocap").is_dir() else "pack"
    if kind == "synthetic":
        from lifting.learn.sources import SyntheticSource

        source: Source = SyntheticSource(normalisation="camera")
    elif kind in ("mocap", "pack"):
        from lifting.learn.datasets.training_source import MocapSource

        if kind == "pack":
            from lifting.learn.datasets.pack import load_pack

            clips = load_pack()
            # Every sixth excerpt checks the fit (training-split people all: the pack has no held-out ones).
            split = ([c for i, c in enumerate(clips) if i % 6], [c for i, c in enumerate(clips) if not i % 6])
            mocap = MocapSource(
                shared_dir=shared_dir, clips_per_epoch=clips_per_epoch, max_validation_clips=validation_clips,
                preloaded=split,
            )  # fmt: skip
        else:
            mocap = MocapSource(
                shared_dir=shared_dir, clips_per_epoch=clips_per_epoch, max_validation_clips=validation_clips
            )
        if subjects:
            keep = set(subjects)
            mocap.train_clips = [c for c in mocap.train_clips if c.subject in keep]
            if not mocap.train_clips:
                raise MocapError(f"No training clip belongs to the subjects {sorted(keep)}.")
        mocap.clips_per_epoch = min(clips_per_epoch, len(mocap.train_clips))
        source = mocap
    else:
        raise MocapError(f"Unknown labeled data {kind!r}; use auto, mocap, pack or synthetic.")
    _check_compatible(source, config)
    return source


def _check_compatible(source: Source, config: CheckpointConfig) -> None:
    same = (
        source.input_joints == config.input_joints
        and source.output_joints == config.output_joints
        and tuple(source.features) == tuple(config.features)
        and source.normalisation == config.normalisation
    )
    if not same:
        raise MocapError(
            "The base checkpoint's inputs or joints differ from the labeled data's; fine-tune a checkpoint "
            "trained by lifting.learn.train on the same kind of data."
        )


# ---------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------


@dataclass
class FinetuneConfig:
    """Every setting of `python -m lifting finetune` (see `--help`)."""

    clips: tuple[Path, ...] = ()
    out: Path = Path("weights/finetuned")
    base: Path | None = None
    fov_deg: float | None = None
    focal_px: float | None = None
    labeled: str = "auto"
    shared_dir: Path = TrainConfig().shared_dir
    epochs: int = 4
    warmup_epochs: int = 1
    batch_size: int = 64
    chunk_length: int = 16
    clips_per_epoch: int = 200
    max_batches_per_epoch: int = 150
    lr: float = 2e-5
    lr_decay: float = 0.9
    backprojection_weight: float = 1.0
    bone_weight: float = 10.0
    bone_consistency_weight: float = 100.0
    backprojection: str = "joint"
    validation_clips: int = 20
    min_detection_rate: float = 0.5
    min_seconds: float = 2.0
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    events: bool = False
    workers: int | None = None


def parse_args(argv: Sequence[str]) -> FinetuneConfig:
    d = FinetuneConfig()
    p = argparse.ArgumentParser(prog="python -m lifting finetune", description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", nargs="+", required=True, help="videos, folders of videos or .keypoints.npz")
    p.add_argument("--out", type=Path, required=True, help="folder for finetuned.safetensors + .json")
    p.add_argument("--base", type=Path, help="checkpoint stem to start from (default: the shipped weights)")
    cam = p.add_mutually_exclusive_group()
    cam.add_argument("--fov", type=float, help="horizontal field of view of the clips' camera, degrees")
    cam.add_argument("--focal", type=float, help="focal length of the clips' camera, pixels")
    p.add_argument(
        "--labeled",
        choices=["auto", "mocap", "pack"],
        default=d.labeled,
        help="labeled data: the motion capture under --shared-dir, or the small pack shipped with the project "
        "(default auto: the former when present)",
    )
    p.add_argument("--shared-dir", type=Path, default=d.shared_dir, help="folder holding data/mocap")
    for name in ("epochs", "warmup_epochs", "batch_size", "chunk_length", "clips_per_epoch",
                 "max_batches_per_epoch", "seed", "validation_clips"):  # fmt: skip
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in (
        "lr",
        "lr_decay",
        "backprojection_weight",
        "bone_weight",
        "bone_consistency_weight",
        "min_detection_rate",
        "min_seconds",
    ):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    p.add_argument(
        "--backprojection",
        choices=BACKPROJECTION_MODES,
        default=d.backprojection,
        help="joint: the paper's back-projection (default); aligned: the pose learns the 2D shape only, the "
        "trajectory the placement (see SemiSupervisedConfig)",
    )
    p.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"])
    p.add_argument("--workers", type=int, help="processes for detection (default: one per core)")
    p.add_argument("--resume", action="store_true", help="continue a stopped run in the same --out")
    p.add_argument("--events", action="store_true", help="progress as JSON lines on stdout (the add-on)")
    ns = p.parse_args(list(argv))
    return FinetuneConfig(
        clips=tuple(Path(c) for c in ns.clips), out=ns.out, base=ns.base, fov_deg=ns.fov, focal_px=ns.focal,
        labeled=ns.labeled, shared_dir=ns.shared_dir, epochs=ns.epochs, warmup_epochs=ns.warmup_epochs,
        batch_size=ns.batch_size, chunk_length=ns.chunk_length, clips_per_epoch=ns.clips_per_epoch,
        max_batches_per_epoch=ns.max_batches_per_epoch, lr=ns.lr, lr_decay=ns.lr_decay,
        backprojection_weight=ns.backprojection_weight, bone_weight=ns.bone_weight,
        bone_consistency_weight=ns.bone_consistency_weight, backprojection=ns.backprojection,
        validation_clips=ns.validation_clips,
        min_detection_rate=ns.min_detection_rate, min_seconds=ns.min_seconds,
        seed=ns.seed, device=ns.device,
        resume=ns.resume, events=ns.events, workers=ns.workers,
    )  # fmt: skip


Report = Callable[[str, float, str], None]


def finetune(cfg: FinetuneConfig, argv: Sequence[str] = (), report: Report | None = None) -> Path:
    """Run a fine-tuning; returns the stem of the written checkpoint. `report(stage, fraction, message)`."""

    def say(stage: str, fraction: float, message: str = "") -> None:
        if report is not None:
            report(stage, fraction, message)

    if cfg.epochs < 1 or cfg.warmup_epochs < 0:
        raise MocapError("--epochs must be at least 1 and --warmup-epochs at least 0.")
    if cfg.warmup_epochs >= cfg.epochs:
        raise MocapError(
            f"--warmup-epochs ({cfg.warmup_epochs}) must be fewer than --epochs ({cfg.epochs}), or the clips are never used."
        )
    base = Path(cfg.base) if cfg.base is not None else default_weights()
    config, _ = load_checkpoint(base)
    if config.trajectory is None:
        raise MocapError(f"The base checkpoint {base} has no trajectory model; fine-tuning needs one.")
    out_dir = Path(cfg.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise MocapError(f"--out must be a folder, but {out_dir} is a file.")
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / CHECKPOINT_NAME
    source = labeled_source(cfg.labeled, config, cfg.shared_dir, cfg.clips_per_epoch, cfg.validation_clips)

    paths = expand_clips(cfg.clips)
    options = LiftOptions(fov_deg=cfg.fov_deg, focal_px=cfg.focal_px)
    clips: list[UnlabeledClip] = []
    for i, path in enumerate(paths):

        def detect_progress(
            fraction: float, message: str = "", *_: Any, i: int = i, name: str = path.name
        ) -> None:
            say("detect", (i + fraction) / len(paths), f"{name}: {message}".strip(": "))

        keypoints = load_keypoints(path, {"workers": cfg.workers}, detect_progress)
        clips.append(
            prepare_clip(keypoints, path.name, config, options, cfg.min_detection_rate, cfg.min_seconds)
        )
    say("detect", 1.0, f"{len(clips)} clips ready")

    train_cfg = TrainConfig(
        out=stem, data=cfg.labeled, shared_dir=cfg.shared_dir, epochs=cfg.epochs, batch_size=cfg.batch_size,
        chunk_length=cfg.chunk_length, lr=cfg.lr, lr_decay=cfg.lr_decay, channels=config.pose.channels,
        filter_widths=config.pose.filter_widths, dropout=config.pose.dropout, trajectory=True, seed=cfg.seed,
        device=cfg.device, resume=cfg.resume, max_batches_per_epoch=cfg.max_batches_per_epoch,
        clips_per_epoch=cfg.clips_per_epoch, bn_recalibration_batches=0,  # statistics frozen: nothing to redo
    )  # fmt: skip
    semi = SemiSupervisedConfig(
        cfg.warmup_epochs,
        cfg.backprojection_weight,
        cfg.bone_weight,
        cfg.bone_consistency_weight,
        backprojection=cfg.backprojection,
    )
    trainer = FinetuneTrainer(train_cfg, source, clips, semi, base=base, argv=argv)
    before = clip_diagnostics(trainer.eval_models(), trainer.checkpoint_config, clips, trainer.device)
    trainer.provenance = {"before": {k: round(v, 3) for k, v in before.items()}}
    if cfg.resume:
        trainer.load_state()
    trainer.progress = lambda fraction, message: say("train", fraction, message)
    trainer.run(show_progress=not cfg.events)
    after = clip_diagnostics(trainer.eval_models(), trainer.checkpoint_config, clips, trainer.device)
    trainer.provenance["after"] = {k: round(v, 3) for k, v in after.items()}
    if trainer.dist.is_main:
        trainer.save_checkpoint()
        summary = {"base": str(base), "clips": len(clips), "before": before, "after": after}
        (out_dir / "finetune-summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    say("train", 1.0, "done")
    if not cfg.events:
        print(
            f"on the {len(clips)} clip(s): 2D reprojection error {before['reprojection_px']:.1f} → "
            f"{after['reprojection_px']:.1f} px, bone-length std {before['bone_std_mm']:.1f} → "
            f"{after['bone_std_mm']:.1f} mm\nwrote {checkpoint_paths(stem)[0]} (use --weights {stem})",
            file=sys.stderr,
        )
    return stem


def main(argv: Sequence[str] | None = None, stdout: Any = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cfg = parse_args(args)
    emitter = None
    if cfg.events:
        emitter = Emitter(stdout or sys.stdout)
    try:
        stem = finetune(cfg, args, emitter.progress if emitter is not None else None)
    except MocapError as exc:
        if emitter is not None:
            emitter.error(str(exc))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; run again with --resume to continue.", file=sys.stderr)
        return 130
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if emitter is not None:
        emitter.done(str(checkpoint_paths(stem)[0]))
    return 0
