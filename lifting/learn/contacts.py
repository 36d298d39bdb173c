"""Train and evaluate the foot-contact model (`lifting.lift.contact_model`) on the lifter's own output.

    python -m lifting contacts train --out lifting/weights/contacts
    python -m lifting contacts evaluate --weights lifting/weights/contacts --keypoints CLIP.keypoints.npz

Data: every clip of a split (v1, `lifting.learn.datasets.splits`; `--max-train-clips` keeps an evenly spaced
subset of the training split) is seen through one random virtual camera with detector-like noise
(`lifting.learn.datasets.views`, as `lifting.learn.evaluate` does) and lifted by the shipped lifter
(`lifting/weights/mocap`, mirror test-time augmentation, `lifting.lift.lift.run_models`): the contact model learns
from what it will see at run time, not from ground truth. Labels: `lifting.learn.datasets.contact_labels` on the
clip's motion capture. The lifted sequences are cached under `lifting.cache.cache_dir("contacts")`.

Training: random windows of `--window` frames (plus the receptive field's context), binary cross-entropy per
point and frame, Adam; the checkpoint with the best validation F1 (all four points, threshold 0.5) is kept.

Evaluation (the test split, its own camera seed): precision, recall and F1 per point and overall at probability
0.5, beside the retargeter's rule (`retarget.contacts.detect_contacts` on the lifted ankles, placed in the world
with the true virtual camera, so the baseline is even given the up direction; one contact per foot, used for its
heel and toe). With `--keypoints`, the real clip is lifted with these contact weights (`lifting.lift.lift`) and the
share of frames where some heel or toe has probability > 0.5 is reported, over the clip and over `--frames`.
Writes docs/contacts.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from tqdm import tqdm

from lifting.cache import cache_dir
from lifting.errors import MocapError
from lifting.learn.datasets.contact_labels import ContactLabelConfig, clip_contact_labels
from lifting.learn.datasets.dataset import MocapClip, evenly_spaced, load_split
from lifting.learn.datasets.splits import SPLIT_VERSION
from lifting.learn.datasets.training_source import view_inputs
from lifting.learn.datasets.views import NoiseConfig, View, random_camera, render_view
from lifting.learn.train import code_version
from lifting.lift.checkpoint import checkpoint_paths, load_checkpoint
from lifting.lift.contact_model import (
    ContactCheckpoint,
    ContactModel,
    ContactModelConfig,
    contact_features,
    load_contact_checkpoint,
    predict_logits,
    save_contact_checkpoint,
)
from lifting.lift.lift import LiftOptions, lift_keypoints, run_models
from lifting.skeleton import MODEL_FPS, OUTPUT
from retarget.atomic_write import write_text_atomic
from retarget.contacts import detect_contacts
from retarget.motion3d import CONTACT_NAMES

ROOT = Path(__file__).resolve().parents[2]
LIFTER = ROOT / "lifting" / "weights" / "mocap"
CACHE_VERSION = 1
SEEDS = {"train": 7101, "validation": 7102, "test": 7103}
THRESHOLD = 0.5

F32 = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class LiftedClip:
    """One clip's lifter output at MODEL_FPS and what is known about it: features (T, 69) for the contact model,
    labels (T, 4) bool (`CONTACT_NAMES` order), baseline (T, 4) bool (the retargeter's rule on the lifted
    ankles), name."""

    name: str
    features: F32
    labels: BoolArray
    baseline: BoolArray


def _file_stamp(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def baseline_contacts(pose: npt.ArrayLike, trajectory: npt.ArrayLike, view: View) -> BoolArray:
    """(T, 4) contacts by `retarget.contacts.detect_contacts` on the lifted ankles (pose (T, 21, 3) root-relative
    and trajectory (T, 3), camera metres), put in the world through the view's true camera (Z up)."""
    cam = np.asarray(pose, dtype=np.float64) + np.asarray(trajectory, dtype=np.float64)[:, None]
    ankles = cam[:, [OUTPUT.index["l_ankle"], OUTPUT.index["r_ankle"]]]
    rot = view.camera.rotations  # (T, 3, 3) world → camera
    world = np.einsum("tji,tfj->tfi", rot, ankles) + view.camera.positions[:, None]
    feet = detect_contacts(world, MODEL_FPS)
    out: BoolArray = feet[:, [0, 0, 1, 1]]
    return out


def lift_split(
    clips: Sequence[MocapClip], seed: int, lifter: Path, labels: ContactLabelConfig, progress: bool = True
) -> list[LiftedClip]:
    """Lift one noisy random view of every clip with the lifter (mirror TTA), as `lifting.learn.evaluate` does."""
    config, models = load_checkpoint(lifter, device="cpu")
    rng = np.random.default_rng(seed)
    out = []
    for clip in tqdm(clips, desc="lift", unit="clip", file=sys.stderr, disable=not progress):
        camera = random_camera(rng, clip.landmarks)
        view = render_view(clip, camera, rng, NoiseConfig())
        with torch.no_grad():
            pose, traj = run_models(
                models, view_inputs(view), config, mirror=True, device=torch.device("cpu")
            )
        if traj is None:
            raise MocapError(f"{lifter} has no trajectory model; the contact model needs one.")
        out.append(
            LiftedClip(
                clip.name,
                contact_features(pose, traj, MODEL_FPS),
                clip_contact_labels(clip, labels),
                baseline_contacts(pose, traj, view),
            )
        )
    return out


def cached_split(
    shared_dir: Path, split: str, max_clips: int, lifter: Path, labels: ContactLabelConfig
) -> list[LiftedClip]:
    """`lift_split` of a split, read from / written to the cache (keyed by split, clip count, seed, the lifter's
    files, the label settings and CACHE_VERSION)."""
    weights, config = checkpoint_paths(lifter)
    key = hashlib.sha1(
        json.dumps(
            [
                CACHE_VERSION,
                SPLIT_VERSION,
                split,
                max_clips,
                SEEDS[split],
                _file_stamp(weights),
                _file_stamp(config),
                asdict(labels),
            ]
        ).encode()
    ).hexdigest()[:12]
    path = cache_dir("contacts") / f"{split}.{key}.npz"
    if path.is_file():
        with np.load(path) as data:
            # Read each array once: every `data[key]` access reads the whole array again, and 400 slices of
            # 400 separate copies held 22 GB.
            names, lengths = data["names"], data["lengths"]
            features, labels_, baseline = data["features"], data["labels"], data["baseline"]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        return [
            LiftedClip(str(n), features[a:b], labels_[a:b], baseline[a:b])
            for n, a, b in zip(names, bounds[:-1], bounds[1:], strict=True)
        ]
    clips = evenly_spaced(load_split(shared_dir, split), max_clips)  # type: ignore[arg-type]
    lifted = lift_split(clips, SEEDS[split], lifter, labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        names=np.array([c.name for c in lifted]),
        lengths=np.array([len(c.features) for c in lifted]),
        features=np.concatenate([c.features for c in lifted]),
        labels=np.concatenate([c.labels for c in lifted]),
        baseline=np.concatenate([c.baseline for c in lifted]),
    )
    os.replace(tmp, path)
    return lifted


def scores(predicted: BoolArray, truth: BoolArray) -> tuple[float, float, float]:
    """(precision, recall, F1) of boolean predictions against labels of the same shape; 0 where undefined."""
    tp = float(np.sum(predicted & truth))
    fp = float(np.sum(predicted & ~truth))
    fn = float(np.sum(~predicted & truth))
    p = tp / (tp + fp) if tp + fp > 0 else 0.0
    r = tp / (tp + fn) if tp + fn > 0 else 0.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return p, r, f


def predict_clips(model: ContactModel, clips: Sequence[LiftedClip]) -> list[npt.NDArray[np.float64]]:
    """Probabilities (T, 4) per clip."""
    out = []
    for c in clips:
        logits = predict_logits(model, torch.from_numpy(c.features)[None])[0]
        out.append(torch.sigmoid(logits).numpy().astype(np.float64))
    return out


def score_table(
    clips: Sequence[LiftedClip], probs: Sequence[npt.NDArray[np.float64]]
) -> dict[str, dict[str, list[float]]]:
    """{"model": {point: [P, R, F1]}, "baseline": {...}} per point in CONTACT_NAMES and "all"."""
    truth = np.concatenate([c.labels for c in clips])
    pred = np.concatenate(probs) > THRESHOLD
    base = np.concatenate([c.baseline for c in clips])
    table: dict[str, dict[str, list[float]]] = {}
    for name, p in (("model", pred), ("baseline", base)):
        rows = {n: list(scores(p[:, i], truth[:, i])) for i, n in enumerate(CONTACT_NAMES)}
        rows["all"] = list(scores(p, truth))
        table[name] = rows
    return table


@dataclass
class ContactTrainConfig:
    """A training run: data (shared_dir, max_train_clips, max_validation_clips), model (channels, dilations,
    dropout), optimisation (steps, batch_size, window frames per sample, lr, evaluation every eval_every steps),
    seed."""

    out: Path = ROOT / "lifting" / "weights" / "contacts"
    shared_dir: Path = ROOT.parent / "shared"
    max_train_clips: int = 0
    max_validation_clips: int = 0
    channels: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16)
    dropout: float = 0.1
    steps: int = 3000
    batch_size: int = 64
    window: int = 64
    lr: float = 2e-3
    eval_every: int = 250
    seed: int = 0


def sample_batch(
    clips: Sequence[LiftedClip], rng: np.random.Generator, batch: int, window: int, rf: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (B, window + rf - 1, 69), labels (B, window, 4) float) from random clips (weighted by length)
    and random windows, each clip edge-padded by rf // 2 frames as at inference."""
    half = rf // 2
    lengths = np.array([len(c.features) for c in clips], dtype=np.float64)
    picks = rng.choice(len(clips), batch, p=lengths / lengths.sum())
    xs, ys = [], []
    for i in picks:
        c = clips[i]
        t = len(c.features)
        start = int(rng.integers(0, max(0, t - window) + 1))
        # Input frame k of the window is clip frame start - half + k, held at the clip's edges (edge padding).
        xs.append(c.features[np.arange(start - half, start + window + half).clip(0, t - 1)])
        ys.append(c.labels[np.arange(start, start + window).clip(0, t - 1)])
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys).astype(np.float32))


def train(cfg: ContactTrainConfig, command: str) -> dict[str, object]:
    """Train, keep the best validation F1, write the checkpoint; returns the run's summary."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    labels = ContactLabelConfig()
    t0 = time.time()
    train_clips = cached_split(cfg.shared_dir, "train", cfg.max_train_clips, LIFTER, labels)
    val_clips = cached_split(cfg.shared_dir, "validation", cfg.max_validation_clips, LIFTER, labels)
    prep_s = time.time() - t0
    feats = np.concatenate([c.features for c in train_clips]).astype(np.float64)
    model_cfg = ContactModelConfig(
        channels=cfg.channels,
        dilations=cfg.dilations,
        dropout=cfg.dropout,
        feature_mean=tuple(float(v) for v in feats.mean(0)),
        feature_std=tuple(float(v) for v in np.maximum(feats.std(0), 1e-3)),
    )
    model = ContactModel(model_cfg)
    rf = model_cfg.receptive_field()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    best: dict[str, object] = {"f1": -1.0}
    history = []
    t1 = time.time()
    running = 0.0
    for step in range(1, cfg.steps + 1):
        model.train()
        x, y = sample_batch(train_clips, rng, cfg.batch_size, cfg.window, rf)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running += loss.item()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            table = score_table(val_clips, predict_clips(model, val_clips))
            f1 = table["model"]["all"][2]
            entry = {
                "step": step,
                "train_loss": running / cfg.eval_every,
                "validation": table["model"]["all"],
                "seconds": round(time.time() - t1, 1),
            }
            running = 0.0
            history.append(entry)
            print(json.dumps(entry), file=sys.stderr)
            if f1 > float(best["f1"]):  # type: ignore[arg-type]
                best = {
                    "f1": f1,
                    "step": step,
                    "state": {k: v.clone() for k, v in model.state_dict().items()},
                    "validation": table,
                }
    model.load_state_dict(best["state"])  # type: ignore[arg-type]
    summary: dict[str, object] = {
        "command": command,
        "code_version": code_version(),
        "date": datetime.date.today().isoformat(),
        "config": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in asdict(cfg).items()
            if k not in ("out", "shared_dir")
        },
        "labels": asdict(labels),
        "lifter": "lifting/weights/mocap (mirror test-time augmentation)",
        "data": {
            "split_version": SPLIT_VERSION,
            "train_clips": len(train_clips),
            "train_frames": int(sum(len(c.features) for c in train_clips)),
            "validation_clips": len(val_clips),
            "validation_frames": int(sum(len(c.features) for c in val_clips)),
            "views": "one noisy random virtual camera per clip (lifting.learn.datasets.views), seeds "
            f"{SEEDS['train']} / {SEEDS['validation']}",
            "licences": "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu, NSF EIA-0196217); HDM05 (CC BY-SA 3.0)",
        },
        "best_step": best["step"],
        "validation": best["validation"],
        "history": history,
        "train_seconds": round(time.time() - t1, 1),
        "prepare_seconds": round(prep_s, 1),
    }
    save_contact_checkpoint(cfg.out, ContactCheckpoint(model_cfg, MODEL_FPS, summary), model)
    return summary


def planted_shares(keypoints_path: Path, weights: Path, frames: tuple[int, int]) -> tuple[float, float, int]:
    """(share of the range's frames, share of all frames) where some heel or toe has probability > 0.5, after
    lifting the clip (a `.keypoints.npz`, or a video detected with the keypoints cache) with `weights` as
    contact model; and the clip's frame count."""
    from lifting.video2d.detect import detect
    from lifting.video2d.keypoints2d import Keypoints2D

    if keypoints_path.name.endswith(".keypoints.npz"):
        kp = Keypoints2D.load(keypoints_path)
    else:
        kp = detect(keypoints_path)
    motion = lift_keypoints(kp, LiftOptions(contact_weights=weights))
    if motion.contacts is None:
        raise MocapError("The lifted clip has no contacts; check the contact weights.")
    planted = (motion.contacts > THRESHOLD).any(axis=1)
    a, b = frames
    return float(planted[a : b + 1].mean()), float(planted.mean()), len(planted)


def format_table(table: dict[str, dict[str, list[float]]]) -> str:
    lines = [
        "| point | model P | model R | model F1 | rule P | rule R | rule F1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for n in (*CONTACT_NAMES, "all"):
        m, b = table["model"][n], table["baseline"][n]
        lines.append(f"| {n} | " + " | ".join(f"{v:.3f}" for v in (*m, *b)) + " |")
    return "\n".join(lines)


def evaluate(args: argparse.Namespace) -> int:
    checkpoint, model = load_contact_checkpoint(args.weights)
    clips = cached_split(args.shared_dir, "test", args.max_clips, LIFTER, ContactLabelConfig())
    table = score_table(clips, predict_clips(model, clips))
    frames = sum(len(c.features) for c in clips)
    label_share = np.concatenate([c.labels for c in clips]).mean(axis=0)
    print(format_table(table))
    real = ""
    if args.keypoints is not None:
        a, b = (int(v) for v in args.frames.split(":"))
        in_range, whole, n = planted_shares(args.keypoints, args.weights, (a, b))
        real = (
            f"\n## Real clip\n\n`{args.keypoints.name}` ({n} frames), lifted by `lifting.lift.lift` with these contact weights: "
            f"some heel or toe has probability > 0.5 on {100 * in_range:.1f} % of frames {a}–{b} and on "
            f"{100 * whole:.1f} % of the whole clip.\n"
        )
        print(real.strip())
    command = (
        f"python -m lifting contacts evaluate --weights {os.path.relpath(args.weights, ROOT)}"
        + (f" --max-clips {args.max_clips}" if args.max_clips else "")
        + (f" --keypoints {args.keypoints} --frames {args.frames}" if args.keypoints is not None else "")
    )
    text = f"""# Foot contacts on the held-out test split

Written by `{command}` on {datetime.date.today().isoformat()} (code {code_version()}); do not edit by hand.

Test split v{SPLIT_VERSION}: {len(clips)} clips, {frames} frames at 30 fps, each seen through one random virtual camera
with detector-like noise (seed {SEEDS["test"]}) and lifted by `lifting/weights/mocap` (mirror test-time
augmentation). Labels: `lifting.learn.datasets.contact_labels` on the motion capture (a heel or toe rests when its
horizontal speed is below {ContactLabelConfig().speed} m/s and it is less than {ContactLabelConfig().height} m above
its lowest height within ±{ContactLabelConfig().window_s} s); share of frames in contact per point:
{", ".join(f"{n} {100 * s:.0f} %" for n, s in zip(CONTACT_NAMES, label_share, strict=True))}.

Model: the contact network `{os.path.relpath(args.weights, ROOT)}` (`lifting.lift.contact_model`, trained with
`{checkpoint.training.get("command", "?")}`), probability > {THRESHOLD}. Rule: the retargeter's thresholds
(`retarget.contacts.detect_contacts`) on the lifted ankles placed in the world with the true camera, one contact per
foot for its heel and toe. Per frame and point: precision (P), recall (R), F1.

{format_table(table)}
{real}"""
    out = args.out or ROOT / "docs" / "contacts.md"
    write_text_atomic(out, text)
    print(f"written to {out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lifting contacts", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the contact model on the lifter's output")
    d = ContactTrainConfig()
    t.add_argument("--out", type=Path, default=d.out)
    t.add_argument("--shared-dir", type=Path, default=d.shared_dir)
    t.add_argument("--max-train-clips", type=int, default=d.max_train_clips, help="0: every training clip")
    t.add_argument("--max-validation-clips", type=int, default=d.max_validation_clips)
    t.add_argument("--channels", type=int, default=d.channels)
    t.add_argument("--dilations", default=",".join(map(str, d.dilations)))
    t.add_argument("--dropout", type=float, default=d.dropout)
    t.add_argument("--steps", type=int, default=d.steps)
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--window", type=int, default=d.window)
    t.add_argument("--lr", type=float, default=d.lr)
    t.add_argument("--eval-every", type=int, default=d.eval_every)
    t.add_argument("--seed", type=int, default=d.seed)
    e = sub.add_parser("evaluate", help="P/R/F1 on the test split (writes docs/contacts.md)")
    e.add_argument("--weights", type=Path, default=d.out)
    e.add_argument("--shared-dir", type=Path, default=d.shared_dir)
    e.add_argument("--max-clips", type=int, default=0)
    e.add_argument(
        "--keypoints",
        type=Path,
        default=None,
        help="a real clip: its .keypoints.npz or the video (detected, cached)",
    )
    e.add_argument("--frames", default="0:140", help="first:last frame (inclusive) of the range to report")
    e.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    torch.set_num_threads(1)  # the 2-core machine is shared; two threads were slower there
    try:
        if args.command == "evaluate":
            return evaluate(args)
        cfg = ContactTrainConfig(
            out=args.out,
            shared_dir=args.shared_dir,
            max_train_clips=args.max_train_clips,
            max_validation_clips=args.max_validation_clips,
            channels=args.channels,
            dilations=tuple(int(v) for v in args.dilations.split(",")),
            dropout=args.dropout,
            steps=args.steps,
            batch_size=args.batch_size,
            window=args.window,
            lr=args.lr,
            eval_every=args.eval_every,
            seed=args.seed,
        )
        argv_text = " ".join(sys.argv[1:] if argv is None else argv)
        summary = train(cfg, f"python -m lifting contacts {argv_text}")
    except MocapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"best_step": summary["best_step"], "validation": summary["validation"]}))
    return 0
