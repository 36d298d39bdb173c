"""Semi-supervised fine-tuning on a user's own unlabeled clips (paper §4, back-projection), judged on held-out clips.

    python -m lifting finetune --clips FILES_OR_FOLDER [...] [--holdout FILES...] --out WEIGHTS_DIR
                               [--base STEM] [--focal PX [PX ...] | --fov DEG] [--name NAME]

The protocol: fine-tune on some clips of one setting (same person, camera, kind of motion), judge on others.
1. Clips: `--holdout` names the held-out clips; without it every third clip of `--clips` (3rd, 6th, ...; the
   second of two) is held out, and a single clip is split: its first two thirds tuned on, its last third held out
   (`split_clips`, `split_track`). A held-out clip is never trained on.
2. 2D keypoints are detected on every clip (cached, by `lifting.video2d.detect.detect`; `.keypoints.npz` files are
   used as they are); clips where the person is found too rarely, or too briefly, are refused with a clear
   message. Each clip is seen through its own camera: `--focal` gives one focal length for all or one per clip
   (`--clips` then `--holdout`), `--fov` a field of view, else the default camera (`lift.clip_intrinsics`).
3. Training starts from the base weights (the shipped ones by default). After `warmup_epochs` of supervised
   training only, every step trains on one labeled batch and one unlabeled batch in a single forward pass:
   - labeled (motion capture seen through random virtual cameras, as in `lifting.learn.train`): MPJPE for the pose
     model, depth-weighted MPJPE for the trajectory model, so the model cannot drift from what it knew;
   - unlabeled (the tuning clips): the predicted pose plus the predicted trajectory, projected through the
     clip's camera, against the detected 2D (`losses.backprojection_loss`, weighted by MediaPipe's visibility,
     zero on frames without a detection), on the joints a detection observes (`lifting.landmarks.OBSERVED_JOINTS`);
   - the bone-length loss keeping the mean bone lengths of the unlabeled predictions at those of the labeled
     poses, without which back-projection alone (blind to scale) lets the skeleton shrink toward the camera.
4. Early stopping (`HeldOutTrainer`): after each epoch the held-out clips' 2D reprojection error (network alone)
   is measured; the best epoch is kept, and training stops after `--patience` epochs without a better one.
5. The best epoch's weights are kept only when their held-out reprojection error is lower than the base
   weights' by `--min-gain` (1 %) and no gate row of the table got worse (`TableRow.gate`: with
   `lifting.app.finetune`, the held-out clips' reprojection as users lift them, refined): written as
   `WEIGHTS_DIR/NAME.safetensors` + `.json` with NAME `finetuned-DATE-TIME-CLIPS` (`weights_name`, or
   `--name`), loadable by `--weights` in the command line and by the add-on, recording the base checkpoint (to switch back to), the clips tuned on and held out, the settings
   and the table. Otherwise nothing is written and the base stays.
6. The run ends with a before/after table on the held-out clips (`format_table`): the network's reprojection
   and bone-length spread here, and the quality report's reprojection, 3D jitter, left/right flips and foot skate
   of the clips lifted as users lift them when run as `python -m lifting finetune` (`lifting.app.finetune`), on
   stderr, or with `--events` as a "finetune" event (the table's rows and text, kept or not) before "done".
   `WEIGHTS_DIR/finetune-summary.json` holds the same.

Training state is saved after every epoch in `WEIGHTS_DIR/training/`, so `--resume` continues a stopped run;
`--seed` makes runs repeatable; `torchrun` runs it on several GPUs like `lifting.learn.train`. `--events` writes
progress as JSON lines on stdout (the add-on's worker protocol) instead of a progress bar.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.distributed as dist

from lifting.camera import MIN_DEPTH, Intrinsics
from lifting.errors import MocapError
from lifting.learn.datasets.dataset import evenly_spaced
from lifting.learn.generators import Batch, ChunkedGenerator
from lifting.learn.losses import (
    BONE_LOSS_KINDS,
    aligned_backprojection_loss,
    backprojection_loss,
    bone_length_loss,
    bone_lengths,
    depth_weighted_mpjpe,
    weighted_mpjpe,
)
from lifting.learn.losses import bone_length_std as bone_length_std_loss
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
BACKPROJECTION_SCALES = ("rays", "depth")
BONE_REFERENCES = ("batch", "chunk")
# Unlabeled clips measured after each epoch (the record's clips_reprojection_px), evenly spread: from-scratch runs
# have hundreds, and measuring them all took longer than the epoch.
DIAGNOSTIC_CLIPS = 20
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
    cannot be compensated by resizing or distorting the pose (an addition to the paper's method).
    backprojection_scale: "rays" compares in camera-ray units; "depth" multiplies each ray error by the predicted
    root depth (detached), about metres at the subject, the pose loss's unit, so a far subject's error weighs as
    much as a near one's. bone_loss: "squared" (the terms above: squared mean difference, m², and the within-chunk
    variance, m²) or "abs" (the paper's code: mean absolute difference of mean bone lengths, m, and the
    within-chunk standard deviation, m, `losses.bone_length_std`), whose gradients stay bounded however far the
    bones are from the labeled ones; with the squared form and its default weights a model trained from scratch
    got about 100 times the pose loss's gradient from the bone terms when they switched on (5 labeled minutes,
    after 4 warm-up epochs; `bench/semi_supervised.py --gradients`). bone_reference: "batch" compares the mean
    bone lengths of the whole unlabeled batch with the labeled ones (the paper); "chunk" those of every unlabeled
    chunk, so each one must have the labeled skeleton: with the 2D fixed by back-projection, known bone lengths
    fix how far each bone reaches toward or away from the camera (an addition to the paper's method)."""

    warmup_epochs: int = 1
    backprojection_weight: float = 1.0
    bone_weight: float = 10.0
    bone_consistency_weight: float = 100.0
    lr_warmup_steps: int = 100
    freeze_batchnorm: bool = True
    backprojection: str = "joint"
    backprojection_scale: str = "rays"
    bone_loss: str = "squared"
    bone_reference: str = "batch"

    def __post_init__(self) -> None:
        if self.backprojection not in BACKPROJECTION_MODES:
            raise MocapError(
                f"Unknown back-projection mode {self.backprojection!r}; use one of {', '.join(BACKPROJECTION_MODES)}."
            )
        if self.bone_reference not in BONE_REFERENCES:
            raise MocapError(
                f"Unknown bone-length reference {self.bone_reference!r}; use one of {', '.join(BONE_REFERENCES)}."
            )
        if self.bone_loss not in BONE_LOSS_KINDS:
            raise MocapError(
                f"Unknown bone-length loss {self.bone_loss!r}; use one of {', '.join(BONE_LOSS_KINDS)}."
            )
        if self.backprojection_scale not in BACKPROJECTION_SCALES:
            raise MocapError(
                f"Unknown back-projection scale {self.backprojection_scale!r}; use one of "
                f"{', '.join(BACKPROJECTION_SCALES)}."
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
        terms = self.loss_terms(batch, self._next_unlabeled())
        weights = self.term_weights()
        loss = terms["pose"] + terms["trajectory"]
        for name in ("backprojection", "bone", "bone_consistency"):
            loss = loss + weights[name] * terms[name]
        self._sums["backprojection"] += float(terms["backprojection"].detach())
        self._sums["bone"] += float(terms["bone"].detach())
        self._sums["steps"] += 1
        return loss, float(terms["pose"].detach()), float(terms["trajectory"].detach())

    def loss_terms(self, batch: Batch, unlabeled: Batch) -> dict[str, torch.Tensor]:
        """The unweighted terms of one step on a labeled and an unlabeled batch (scalars): "pose" (MPJPE, m),
        "trajectory" (depth-weighted, dimensionless), "backprojection" (ray units, or m with the depth scale),
        "bone" and "bone_consistency" (m² or m, `SemiSupervisedConfig.bone_loss`)."""
        assert batch.poses_3d is not None and batch.trajectories is not None
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
        scale = None
        if self.semi.backprojection_scale == "depth":
            # The ray error times the predicted root depth: about metres at the subject, like the pose loss.
            scale = traj[n:, :, :, 2].detach().clamp(min=MIN_DEPTH)  # (U, L, 1)
        if self.semi.backprojection == "aligned":
            placed = (pose[n:].detach() + traj[n:])[:, :, self.observed]  # trains the trajectory model
            shaped = (pose[n:] + traj[n:].detach())[:, :, self.observed]  # trains the pose model
            backprojection = backprojection_loss(placed, target_2d, self.rays, weight, scale=scale)
            backprojection = backprojection + aligned_backprojection_loss(
                shaped, target_2d, self.rays, weight, scale=scale
            )
        else:
            absolute = (pose[n:] + traj[n:])[:, :, self.observed]  # (U, L, K, 3) camera space
            backprojection = backprojection_loss(absolute, target_2d, self.rays, weight, scale=scale)
        parents = self.source.output_joints.parents
        per_chunk = self.semi.bone_reference == "chunk"
        bone = bone_length_loss(pose[n:], target, parents, self.semi.bone_loss, per_sample=per_chunk)
        unlabeled_valid = torch.from_numpy(unlabeled.valid).to(self.device, torch.float32)
        if self.semi.bone_loss == "abs":
            consistency = bone_length_std_loss(pose[n:], parents, unlabeled_valid)  # m
        else:
            lengths = bone_lengths(pose[n:], parents)  # (U, L, bones)
            chunk_valid = unlabeled_valid[..., None]
            mean_length = (lengths * chunk_valid).sum(dim=1, keepdim=True) / chunk_valid.sum(
                dim=1, keepdim=True
            )
            consistency = (((lengths - mean_length) ** 2) * chunk_valid).sum() / (
                chunk_valid.sum() * lengths.shape[-1]
            )  # m²
        return {
            "pose": pose_loss,
            "trajectory": traj_loss,
            "backprojection": backprojection,
            "bone": bone,
            "bone_consistency": consistency,
        }

    def term_weights(self) -> dict[str, float]:
        """Each `loss_terms` term's weight in a step's loss."""
        return {
            "pose": 1.0,
            "trajectory": 1.0,
            "backprojection": self.semi.backprojection_weight,
            "bone": self.semi.bone_weight,
            "bone_consistency": self.semi.bone_consistency_weight,
        }

    def gradient_norms(self, batches: int = 6) -> dict[str, float]:
        """Mean over `batches` steps (labeled batches of epoch 0, the next unlabeled ones; no update) of the norm
        of each weighted term's gradient on the pose model's weights: which term steers the pose model."""
        views = self.source.epoch(0, self.cfg.seed)
        generator = ChunkedGenerator(
            views.inputs, views.poses_3d, views.trajectories,
            input_joints=self.source.input_joints, output_joints=self.source.output_joints,
            batch_size=self.cfg.batch_size, chunk_length=self.cfg.chunk_length, pad=self.pad,
            mirror=self.cfg.mirror, seed=self.cfg.seed,
        )  # fmt: skip
        weights = self.term_weights()
        params = list(self.models["pose"].parameters())
        sums = dict.fromkeys(weights, 0.0)
        if self._unlabeled_gen is not None:  # the same unlabeled batches on every call
            self._unlabeled_gen.set_epoch(0)
            self._unlabeled_iter = None
        done = 0
        for model in self.models.values():
            model.train()
        for batch in generator:
            if done >= batches:
                break
            terms = self.loss_terms(batch, self._next_unlabeled())
            for name, term in terms.items():
                grads = torch.autograd.grad(
                    weights[name] * term, params, retain_graph=True, allow_unused=True
                )
                sums[name] += float(
                    torch.sqrt(sum(((g**2).sum() for g in grads if g is not None), torch.zeros(())))
                )
            done += 1
        return {name: total / max(done, 1) for name, total in sums.items()}

    def epoch_metrics(self) -> dict[str, float]:
        steps = self._sums.get("steps", 0.0)
        out: dict[str, float] = {}
        if steps:
            out["train_backprojection"] = round(self._sums["backprojection"] / steps, 6)
            out["train_bone_loss"] = round(self._sums["bone"] / steps, 8)
        if self.unlabeled:
            clips = evenly_spaced(self.unlabeled, DIAGNOSTIC_CLIPS)
            diag = clip_diagnostics(self.eval_models(), self.checkpoint_config, clips, self.device)
            out["clips_reprojection_px"] = round(diag["reprojection_px"], 3)
            out["clips_bone_std_mm"] = round(diag["bone_std_mm"], 3)
        return out

    def recalibration_inputs(self, batch: Batch) -> F32:
        """The labeled batch with an unlabeled batch after it once the unlabeled terms are on: the model was
        trained normalising over both, and statistics of the labeled data alone (a few minutes of one person in
        the scarce-label set-up) would not be those it learnt with."""
        if not self.semi_supervised_active():
            return batch.inputs
        unlabeled = self._next_unlabeled()
        out: F32 = np.concatenate([batch.inputs, unlabeled.inputs[..., : batch.inputs.shape[-1]]])
        return out

    def eval_models(self) -> dict[str, TemporalModel]:
        """Copies of the models in eval mode (the training models keep their mode)."""
        out: dict[str, TemporalModel] = {}
        for role, model in self.models.items():
            ev = TemporalModel(model.cfg).to(self.device)
            ev.load_state_dict(model.state_dict())
            out[role] = ev.eval()
        return out

    def save_checkpoint(self, stem: Path | None = None) -> None:
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
        save_checkpoint(stem or self.cfg.out, dataclasses.replace(cfg, training=training), self.models)


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
# The held-out protocol
# ---------------------------------------------------------------------------------------------------------

# Without --holdout, clips 3, 6, 9, ... of --clips (in the order given) are held out, or the last of two.
HOLDOUT_EVERY = 3
# A single clip without --holdout: its last third is held out, the first two thirds are tuned on.
HOLDOUT_SHARE = 1.0 / 3.0
# The new weights are kept when the held-out reprojection error falls by at least this share.
MIN_GAIN = 0.01
SUMMARY_NAME = "finetune-summary.json"


@dataclass(frozen=True)
class ClipTrack:
    """One clip as the protocol handles it: its name, the subject's 2D track, and the focal length (px) it is lifted
    and scored with (None: the default camera, `lift.clip_intrinsics`)."""

    name: str
    keypoints: Keypoints2D
    focal_px: float | None


@dataclass(frozen=True)
class TableRow:
    """One line of the before/after table on the held-out clips: the base weights' value and the new weights'.
    gate: the new weights are kept only if this number does not rise (lower is better): what users get, where
    the held-out reprojection that training stops on is the network's alone."""

    label: str
    before: float
    after: float
    gate: bool = False

    @property
    def worse(self) -> bool:
        """A gate row whose number rose with the new weights."""
        return (
            self.gate
            and math.isfinite(self.before)
            and math.isfinite(self.after)
            and self.after > self.before
        )

    def change_pct(self) -> float:
        """Relative change, % (negative: the new weights give a lower number)."""
        return 100.0 * (self.after - self.before) / self.before if self.before else float("nan")


# (base weights stem, new weights stem, held-out clips, refine) -> more rows of the table (the quality report's).
Evaluate = Callable[[Path, Path, Sequence[ClipTrack], bool], list[TableRow]]


def split_clips(clips: Sequence[Path], holdout: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(clips to tune on, clips held out). Given held-out clips must differ from the tuning clips; without them
    every third clip of `clips` (3rd, 6th, ...; the second of two) is held out. A single clip comes back with no
    held-out clip: `split_track` then holds out its last third."""
    train, held = list(clips), list(holdout)
    if held:
        both = {p.resolve() for p in train} & {p.resolve() for p in held}
        if both:
            raise MocapError(
                f"{sorted(both)[0].name} is both a fine-tuning clip and a held-out clip; a held-out clip must "
                "not be trained on."
            )
        return train, held
    if len(train) < 2:
        return train, []
    chosen = {i for i in range(len(train)) if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1} or {len(train) - 1}
    return [p for i, p in enumerate(train) if i not in chosen], [
        p for i, p in enumerate(train) if i in chosen
    ]


def split_track(track: ClipTrack) -> tuple[ClipTrack, ClipTrack]:
    """One clip as (its first two thirds, its last third), named `NAME[0:A]` and `NAME[A:T]` (rows)."""
    count = track.keypoints.num_frames
    cut = round(count * (1.0 - HOLDOUT_SHARE))
    return (
        ClipTrack(f"{track.name}[0:{cut}]", track.keypoints.frames(0, cut), track.focal_px),
        ClipTrack(f"{track.name}[{cut}:{count}]", track.keypoints.frames(cut, count), track.focal_px),
    )


def clip_focals(focal_px: Sequence[float], count: int) -> list[float | None]:
    """The focal length of each of `count` clips (--clips then --holdout, in order): none given, one for all, or
    one per clip."""
    if not focal_px:
        return [None] * count
    if len(focal_px) == 1:
        return [float(focal_px[0])] * count
    if len(focal_px) != count:
        raise MocapError(
            f"--focal takes one value for every clip or one per clip (--clips, then --holdout: {count}), "
            f"not {len(focal_px)}."
        )
    return [float(f) for f in focal_px]


def weights_name(clips: Sequence[str], when: datetime) -> str:
    """The new weights' stem: `finetuned-YYYYMMDD-HHMM-` and the tuning clips' names (letters, digits, - and _
    only, joined by +, at most 60 characters), so the user can tell runs apart and switch back."""
    names = "+".join(re.sub(r"[^A-Za-z0-9_-]+", "_", Path(c).name.split(".")[0]).strip("_") for c in clips)
    return f"finetuned-{when:%Y%m%d-%H%M}-{names[:60].rstrip('+_') or 'clips'}"


def format_table(rows: Sequence[TableRow], clips: Sequence[str]) -> str:
    """The before/after table as Markdown: a row per measure, mean over the held-out clips."""
    lines = [
        f"Held-out clips ({len(clips)}): {', '.join(clips)}",
        "",
        "| held-out, mean over clips | base | fine-tuned | change |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        change = row.change_pct()
        cell = f"{change:+.0f} %" if np.isfinite(change) else "–"
        lines.append(f"| {row.label} | {row.before:.2f} | {row.after:.2f} | {cell} |")
    return "\n".join(lines) + "\n"


class HeldOutTrainer(FinetuneTrainer):
    """`FinetuneTrainer` with early stopping on held-out clips: after each epoch the held-out clips' 2D
    reprojection error (network alone, `clip_diagnostics`) is measured; an epoch better than every earlier one and
    than `baseline` (the base weights') writes its weights to `best_stem`; training stops once `patience` epochs
    past the best one (and past the warm-up) brought nothing better (on one process; under torchrun every epoch
    runs, the best one is still the one kept)."""

    def __init__(
        self,
        *args: Any,
        holdout: Sequence[UnlabeledClip],
        best_stem: Path,
        baseline: float,
        patience: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.holdout = list(holdout)
        self.best_stem = best_stem
        self.baseline = baseline
        self.patience = patience
        self.best = baseline
        self.best_epoch = 0

    def load_state(self) -> None:
        super().load_state()
        for report in self.history:
            value = report.extra.get("holdout_reprojection_px")
            if value is not None and value < self.best and checkpoint_paths(self.best_stem)[0].is_file():
                self.best, self.best_epoch = float(value), report.epoch

    def epoch_metrics(self) -> dict[str, float]:
        out = super().epoch_metrics()
        diag = clip_diagnostics(self.eval_models(), self.checkpoint_config, self.holdout, self.device)
        value = diag["reprojection_px"]
        out["holdout_reprojection_px"] = round(value, 3)
        out["holdout_bone_std_mm"] = round(diag["bone_std_mm"], 3)
        if value < self.best:
            self.best, self.best_epoch = value, self.epoch
            self.provenance["best_epoch"] = self.epoch
            self.save_checkpoint(self.best_stem)
        elif (
            self.dist.world_size == 1  # under torchrun only the main process measures: all run every epoch
            and self.epoch - max(self.best_epoch, self.semi.warmup_epochs) >= self.patience
        ):
            self.cfg = dataclasses.replace(self.cfg, epochs=self.epoch)  # Trainer.run stops after this epoch
            out["stopped_early"] = 1.0
        return out


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
    """Every setting of `python -m lifting finetune` (see `--help`). focal_px: none, one for every clip, or one
    per clip (`clips` then `holdout`); patience: epochs past the best one (and the warm-up) without a better
    held-out reprojection before training stops; min_gain: the share by which the held-out reprojection must fall
    for the new weights to be kept; name: the new weights' stem (default `weights_name`)."""

    clips: tuple[Path, ...] = ()
    holdout: tuple[Path, ...] = ()
    out: Path = Path("weights/finetuned")
    name: str | None = None
    base: Path | None = None
    fov_deg: float | None = None
    focal_px: tuple[float, ...] = ()
    labeled: str = "auto"
    shared_dir: Path = TrainConfig().shared_dir
    epochs: int = 6
    warmup_epochs: int = 0
    patience: int = 2
    min_gain: float = MIN_GAIN
    batch_size: int = 32
    chunk_length: int = 16
    clips_per_epoch: int = 200
    max_batches_per_epoch: int = 40
    lr: float = 5e-5
    lr_decay: float = 0.9
    lr_warmup_steps: int = 20
    backprojection_weight: float = 1.0
    bone_weight: float = 10.0
    bone_consistency_weight: float = 100.0
    backprojection: str = "joint"
    backprojection_scale: str = "rays"
    bone_loss: str = "squared"
    bone_reference: str = "batch"
    validation_clips: int = 20
    min_detection_rate: float = 0.5
    min_seconds: float = 1.0
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    events: bool = False
    workers: int | None = None
    refine: bool = True


def semi_supervised_config(cfg: FinetuneConfig) -> SemiSupervisedConfig:
    """The semi-supervised terms of a fine-tuning run, from its command-line settings."""
    return SemiSupervisedConfig(
        cfg.warmup_epochs,
        cfg.backprojection_weight,
        cfg.bone_weight,
        cfg.bone_consistency_weight,
        lr_warmup_steps=cfg.lr_warmup_steps,
        backprojection=cfg.backprojection,
        backprojection_scale=cfg.backprojection_scale,
        bone_loss=cfg.bone_loss,
        bone_reference=cfg.bone_reference,
    )


def parse_args(argv: Sequence[str]) -> FinetuneConfig:
    d = FinetuneConfig()
    p = argparse.ArgumentParser(prog="python -m lifting finetune", description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", nargs="+", required=True, help="videos, folders of videos or .keypoints.npz")
    p.add_argument(
        "--holdout",
        nargs="+",
        default=[],
        help="clips of the same setting to judge the result on, never trained on (default: every third clip of "
        "--clips, the second of two, or a single clip's last third)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="folder for the new weights (.safetensors + .json)"
    )
    p.add_argument("--name", help="the new weights' name (default: finetuned-DATE-TIME-CLIPS)")
    p.add_argument("--base", type=Path, help="checkpoint stem to start from (default: the shipped weights)")
    cam = p.add_mutually_exclusive_group()
    cam.add_argument("--fov", type=float, help="horizontal field of view of the clips' camera, degrees")
    cam.add_argument(
        "--focal",
        type=float,
        nargs="+",
        help="focal length in pixels: one for every clip, or one per clip (--clips, then --holdout)",
    )
    p.add_argument(
        "--labeled",
        choices=["auto", "mocap", "pack"],
        default=d.labeled,
        help="labeled data: the motion capture under --shared-dir, or the small pack shipped with the project "
        "(default auto: the former when present)",
    )
    p.add_argument("--shared-dir", type=Path, default=d.shared_dir, help="folder holding data/mocap")
    for name in ("epochs", "warmup_epochs", "patience", "batch_size", "chunk_length", "clips_per_epoch",
                 "max_batches_per_epoch", "seed", "validation_clips", "lr_warmup_steps"):  # fmt: skip
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in (
        "min_gain",
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
    p.add_argument(
        "--backprojection-scale",
        choices=BACKPROJECTION_SCALES,
        default=d.backprojection_scale,
        help="rays: the 2D error in camera-ray units (default); depth: times the predicted root depth (about "
        "metres at the subject; see SemiSupervisedConfig)",
    )
    p.add_argument(
        "--bone-loss",
        choices=BONE_LOSS_KINDS,
        default=d.bone_loss,
        help="the bone-length terms: squared (m², default) or abs (the paper's code, m; see SemiSupervisedConfig)",
    )
    p.add_argument(
        "--bone-reference",
        choices=BONE_REFERENCES,
        default=d.bone_reference,
        help="the mean bone lengths compared with the labeled ones: the unlabeled batch's (default) or each chunk's",
    )
    p.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"])
    p.add_argument("--workers", type=int, help="processes for detection (default: one per core)")
    p.add_argument("--resume", action="store_true", help="continue a stopped run in the same --out")
    p.add_argument("--events", action="store_true", help="progress as JSON lines on stdout (the add-on)")
    p.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=d.refine,
        help="lift the held-out clips refined for the quality rows of the table, as users lift (default on)",
    )
    ns = p.parse_args(list(argv))
    return FinetuneConfig(
        clips=tuple(Path(c) for c in ns.clips), holdout=tuple(Path(c) for c in ns.holdout), out=ns.out,
        name=ns.name, base=ns.base, fov_deg=ns.fov, focal_px=tuple(ns.focal or ()),
        labeled=ns.labeled, shared_dir=ns.shared_dir, epochs=ns.epochs, warmup_epochs=ns.warmup_epochs,
        patience=ns.patience, min_gain=ns.min_gain,
        batch_size=ns.batch_size, chunk_length=ns.chunk_length, clips_per_epoch=ns.clips_per_epoch,
        max_batches_per_epoch=ns.max_batches_per_epoch, lr=ns.lr, lr_decay=ns.lr_decay, lr_warmup_steps=ns.lr_warmup_steps,
        backprojection_weight=ns.backprojection_weight, bone_weight=ns.bone_weight,
        bone_consistency_weight=ns.bone_consistency_weight, backprojection=ns.backprojection,
        backprojection_scale=ns.backprojection_scale, bone_loss=ns.bone_loss, bone_reference=ns.bone_reference,
        validation_clips=ns.validation_clips,
        min_detection_rate=ns.min_detection_rate, min_seconds=ns.min_seconds,
        seed=ns.seed, device=ns.device,
        resume=ns.resume, events=ns.events, workers=ns.workers, refine=ns.refine,
    )  # fmt: skip


Report = Callable[[str, float, str], None]


@dataclass(frozen=True)
class FinetuneResult:
    """What a fine-tuning run made: `weights` the new stem when kept (None: the held-out clips did not get better
    and nothing was written), `candidate` the best epoch's stem it was judged on, the table rows, the clips."""

    weights: Path | None
    base: Path
    best_epoch: int
    epochs_run: int
    rows: tuple[TableRow, ...]
    clips: tuple[str, ...]
    holdout: tuple[str, ...]
    summary: Path
    min_gain: float = MIN_GAIN

    @property
    def kept(self) -> bool:
        return self.weights is not None

    def table(self) -> str:
        return format_table(self.rows, self.holdout)

    def verdict(self) -> str:
        """One sentence: what was kept, and how to switch."""
        worse = next((r for r in self.rows if r.worse), None)
        if self.weights is None and worse is not None:
            return (
                f"The held-out clips got worse as they are lifted ({worse.label} {worse.before:.1f} → "
                f"{worse.after:.1f}); no new weights were kept, the base weights {self.base.name} stay."
            )
        first = self.rows[0] if self.rows else None
        change = f" ({first.label} {first.before:.1f} → {first.after:.1f})" if first is not None else ""
        if self.weights is not None:
            return (
                f"Kept the fine-tuned weights {self.weights.name} (best epoch {self.best_epoch}){change}; "
                f"lift with --weights {self.weights}, or switch back to {self.base}."
            )
        return (
            f"The held-out clips did not get better by {100 * self.min_gain:.0f} %{change}; no new weights were kept, "
            f"the base weights {self.base.name} stay."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "weights": None if self.weights is None else str(self.weights),
            "base": str(self.base),
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "clips": list(self.clips),
            "holdout": list(self.holdout),
            "table": [[r.label, r.before, r.after] for r in self.rows],
        }


def _tracks(
    paths: Sequence[Path],
    focals: Sequence[float | None],
    cfg: FinetuneConfig,
    say: Report,
    first: int,
    total: int,
) -> list[ClipTrack]:
    out = []
    for i, (path, focal) in enumerate(zip(paths, focals, strict=True)):

        def detect_progress(
            fraction: float, message: str = "", *_: Any, i: int = i, name: str = path.name
        ) -> None:
            say("detect", (first + i + fraction) / total, f"{name}: {message}".strip(": "))

        keypoints = load_keypoints(path, {"workers": cfg.workers}, detect_progress)
        out.append(ClipTrack(path.name.removesuffix(".keypoints.npz"), keypoints, focal))
    return out


def finetune(
    cfg: FinetuneConfig,
    argv: Sequence[str] = (),
    report: Report | None = None,
    evaluate: Evaluate | None = None,
) -> FinetuneResult:
    """Run the held-out protocol (module docstring); `report(stage, fraction, message)` tells the progress,
    `evaluate` adds the quality report's rows to the table (the `lifting.app.finetune` command passes it)."""

    def say(stage: str, fraction: float, message: str = "") -> None:
        if report is not None:
            report(stage, fraction, message)

    if cfg.epochs < 1 or cfg.warmup_epochs < 0 or cfg.patience < 1:
        raise MocapError("--epochs and --patience must be at least 1 and --warmup-epochs at least 0.")
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

    clip_paths = expand_clips(cfg.clips)
    given_holdout = expand_clips(cfg.holdout) if cfg.holdout else []
    focal_of = dict(
        zip(
            [*clip_paths, *given_holdout],
            clip_focals(cfg.focal_px, len(clip_paths) + len(given_holdout)),
            strict=True,
        )
    )
    train_paths, held_paths = split_clips(clip_paths, given_holdout)
    total = len(train_paths) + len(held_paths)
    tracks = _tracks(train_paths, [focal_of[p] for p in train_paths], cfg, say, 0, total)
    held = _tracks(held_paths, [focal_of[p] for p in held_paths], cfg, say, len(train_paths), total)
    if not held:
        tracks, held = [list(t) for t in zip(*(split_track(t) for t in tracks), strict=True)]
    say("detect", 1.0, f"{len(tracks)} clips to tune on, {len(held)} held out")
    source = labeled_source(cfg.labeled, config, cfg.shared_dir, cfg.clips_per_epoch, cfg.validation_clips)

    def prepared(track: ClipTrack) -> UnlabeledClip:
        options = LiftOptions(fov_deg=cfg.fov_deg, focal_px=track.focal_px)
        return prepare_clip(
            track.keypoints, track.name, config, options, cfg.min_detection_rate, cfg.min_seconds
        )

    clips = [prepared(t) for t in tracks]
    holdout = [prepared(t) for t in held]

    name = cfg.name or weights_name([t.name for t in tracks], datetime.now())
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", name):
        raise MocapError(f"--name {name!r} must be letters, digits and . _ + - only.")
    work = out_dir / "training"  # the run's state (--resume) and its best epoch; removed at the end
    work.mkdir(parents=True, exist_ok=True)
    best_stem = work / "best"
    train_cfg = TrainConfig(
        out=work / "last", data=cfg.labeled, shared_dir=cfg.shared_dir, epochs=cfg.epochs, batch_size=cfg.batch_size,
        chunk_length=cfg.chunk_length, lr=cfg.lr, lr_decay=cfg.lr_decay, channels=config.pose.channels,
        filter_widths=config.pose.filter_widths, dropout=config.pose.dropout, trajectory=True, seed=cfg.seed,
        device=cfg.device, resume=cfg.resume, max_batches_per_epoch=cfg.max_batches_per_epoch,
        clips_per_epoch=cfg.clips_per_epoch, bn_recalibration_batches=0,  # statistics frozen: nothing to redo
    )  # fmt: skip
    semi = semi_supervised_config(cfg)
    trainer = HeldOutTrainer(
        train_cfg, source, clips, semi, base=base, argv=argv,
        holdout=holdout, best_stem=best_stem, baseline=float("inf"), patience=cfg.patience,
    )  # fmt: skip
    base_models = trainer.eval_models()
    before = clip_diagnostics(base_models, trainer.checkpoint_config, clips, trainer.device)
    held_before = clip_diagnostics(base_models, trainer.checkpoint_config, holdout, trainer.device)
    trainer.baseline = trainer.best = held_before["reprojection_px"]
    trainer.provenance = {
        "before": {k: round(v, 3) for k, v in before.items()},
        "holdout": [c.info for c in holdout],
        "holdout_before": {k: round(v, 3) for k, v in held_before.items()},
    }
    if cfg.resume:
        trainer.load_state()
    trainer.progress = lambda fraction, message: say(
        "train",
        fraction,
        f"{message}; held-out reprojection {trainer.best:.1f} px (base {trainer.baseline:.1f})",
    )
    trainer.run(show_progress=not cfg.events)
    say("train", 1.0, f"best epoch {trainer.best_epoch} of {trainer.epoch}")
    improved = (
        checkpoint_paths(best_stem)[0].is_file()
        and trainer.best < (1.0 - cfg.min_gain) * held_before["reprojection_px"]
    )
    candidate = best_stem if checkpoint_paths(best_stem)[0].is_file() else base
    _, best_models = load_checkpoint(candidate, device=trainer.device)
    best_models = {r: m.eval() for r, m in best_models.items()}
    after = clip_diagnostics(best_models, trainer.checkpoint_config, clips, trainer.device)
    held_after = clip_diagnostics(best_models, trainer.checkpoint_config, holdout, trainer.device)
    rows = [
        TableRow(
            "reprojection, network alone, px", held_before["reprojection_px"], held_after["reprojection_px"]
        ),
        TableRow(
            "bone-length spread, network alone, mm", held_before["bone_std_mm"], held_after["bone_std_mm"]
        ),
    ]
    if evaluate is not None and trainer.dist.is_main:
        say("evaluate", 0.0, f"the quality report on {len(held)} held-out clips, before and after")
        rows += evaluate(base, candidate, held, cfg.refine)
        say("evaluate", 1.0, "done")
    improved = improved and not any(r.worse for r in rows)
    kept: Path | None = None
    if trainer.dist.is_main:
        if improved:
            for role, model in trainer.models.items():
                model.load_state_dict(best_models[role].state_dict())
            trainer.provenance.update(
                after={k: round(v, 3) for k, v in after.items()},
                holdout_after={k: round(v, 3) for k, v in held_after.items()},
                best_epoch=trainer.best_epoch,
                table=[[r.label, r.before, r.after] for r in rows],
            )
            trainer.cfg = dataclasses.replace(trainer.cfg, out=out_dir / name)
            trainer.save_checkpoint()
            kept = out_dir / name
        shutil.rmtree(work, ignore_errors=True)
    result = FinetuneResult(
        weights=kept, base=base, best_epoch=trainer.best_epoch, epochs_run=trainer.epoch, rows=tuple(rows),
        clips=tuple(t.name for t in tracks), holdout=tuple(t.name for t in held), summary=out_dir / SUMMARY_NAME, min_gain=cfg.min_gain,
    )  # fmt: skip
    if trainer.dist.is_main:
        summary = {**result.to_json(), "before": before, "after": after}
        result.summary.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return result


def main(argv: Sequence[str] | None = None, stdout: Any = None, evaluate: Evaluate | None = None) -> int:
    """`python -m lifting finetune` without the quality report's rows (`lifting.app.finetune.main` adds them)."""
    args = list(sys.argv[1:] if argv is None else argv)
    cfg = parse_args(args)
    emitter = None
    if cfg.events:
        emitter = Emitter(stdout or sys.stdout)
    try:
        result = finetune(cfg, args, emitter.progress if emitter is not None else None, evaluate)
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
        emitter.event("finetune", **result.to_json(), text=result.table(), verdict=result.verdict())
        emitter.done("" if result.weights is None else str(checkpoint_paths(result.weights)[0]))
    else:
        print("\n" + result.table() + "\n" + result.verdict(), file=sys.stderr)
    return 0
