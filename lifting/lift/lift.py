"""2D keypoints → Motion3D: resampling, normalisation, the pose and trajectory models, test-time mirroring.

The steps, for one clip:
1. frames without a detection are filled by linear interpolation between detected frames (edges held) and get
   confidence 0;
2. keypoints are resampled from the video's frame times to the model's internal frame rate;
3. they are normalised as the checkpoint says (camera rays with the clip's intrinsics, or screen units);
4. the pose model (root-relative 3D joints) and the trajectory model (camera-space root) run over the whole
   sequence in one call each, averaged with the mirrored prediction of the mirrored input;
5. results are resampled back to the video's frame times, so Motion3D frame i is video frame i;
6. every bone gets one length for the whole clip, with the joints moved as little as possible
   (`LiftOptions.constant_bones`, on by default; `lifting.lift.constant_bones`), unless the clip is refined next;
7. optionally (`LiftOptions.refine`), the clip is refined against its own 2D keypoints with constant bone
   lengths and smooth motion (`lifting.lift.refine`), which mostly fixes the trajectory's depth;
8. when contact weights are found (`LiftOptions.contact_weights`, by default the shipped
   `lifting/weights/contacts` when present), the contact model (`lifting.lift.contact_model`) reads the network's
   raw output at the model's rate (step 4, as in its training) and its probabilities, resampled to the video's
   frame times like the joints, fill `Motion3D.contacts` (T, 4);
9. unless turned off (`LiftOptions.orientations`), the head's orientation is fitted to the face landmarks and the
   hands' twist to the index, pinky and thumb landmarks (`lifting.lift.orientations`), into
   `Motion3D.orientations`;
10. when the keypoints carry hands (detection with hands) and unless turned off (`LiftOptions.fingers`), each
   finger's spread and flexion from the hand world landmarks, smoothed, limited and relaxed where the hand is not
   seen (`lifting.lift.fingers`), into `Motion3D.fingers`.

Unknown intrinsics default to what the main camera of most phones films (`DEFAULT_LONG_SIDE_FOV_DEG`, about 56°
across the frame's long side; see `clip_intrinsics`), overridable with a field of view or a focal length in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import torch

from lifting.camera import Intrinsics, check_focal_px, check_fov_deg, normalize_camera, normalize_screen
from lifting.errors import MocapError
from lifting.landmarks import CONFIDENCE_LANDMARKS, LandmarkTrack
from lifting.lift.checkpoint import CheckpointConfig, load_checkpoint
from lifting.lift.constant_bones import constant_bone_lengths
from lifting.lift.contact_model import load_contact_checkpoint, predict_contacts
from lifting.lift.device import resolve_device
from lifting.lift.fingers import add_fingers
from lifting.lift.model import TemporalModel, predict_sequence
from lifting.lift.orientations import estimate_orientations
from lifting.lift.refine import RefineConfig, refine_motion
from lifting.progress import Cancel, Cancelled, Progress, as_cancel
from lifting.skeleton import BLAZEPOSE, OUTPUT, JointSet, merge_mirrored, mirror_points
from retarget.motion3d import Intrinsics as MotionIntrinsics
from retarget.motion3d import Motion3D

FloatArray = npt.NDArray[np.float64]

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_WEIGHTS_NAME = "mocap"
CONTACT_WEIGHTS_NAME = "contacts"
# The unknown camera: a phone's main camera, 26 mm full-frame-equivalent on its 4:3 photo frame (the 43.27 mm
# diagonal of 36×24 mm film), whose width is 4/5 of that diagonal. Video keeps at most that width (16:9 crops the
# height) and phones crop it further for electronic stabilisation: by 1.22× (iPhone 4, 2120 of 2592 px) and
# 1.28× (iPhone 7, a measured 36 mm-equivalent), PHONE_VIDEO_CROP their mean. The field of view across the video
# frame's long side is then 2·atan(0.8 · 43.27 / 2 / 26 / 1.25) = 56.1°; the former default, 26 mm across the video
# frame's own diagonal (79.5°, 71.9° across a 16:9 frame's long side), placed people 21-26 % too close on the
# Pose2Sim cameras after refinement, this one 2 % closer to 7 % further (docs/real_depth.md).
PHONE_PHOTO_FOCAL_MM = 26.0
PHONE_VIDEO_CROP = 1.25
DEFAULT_LONG_SIDE_FOV_DEG = math.degrees(
    2.0 * math.atan(0.8 * math.hypot(36.0, 24.0) / 2.0 / PHONE_PHOTO_FOCAL_MM / PHONE_VIDEO_CROP)
)


class KeypointSequence(LandmarkTrack, Protocol):
    """What lifting needs of a Keypoints2D (`lifting.video2d.keypoints2d`): a `LandmarkTrack` with its times."""

    @property
    def timestamps(self) -> npt.NDArray[np.float64]: ...  # (T,) seconds
    @property
    def fps(self) -> float: ...
    @property
    def image_size(self) -> tuple[int, int]: ...  # (width, height) pixels


@dataclass(frozen=True)
class LiftOptions:
    """weights: checkpoint stem/path (None = the shipped weights); device: auto, cpu or cuda; fov_deg/fov_axis or
    focal_px: the camera, when known (focal_px wins); mirror: test-time flip augmentation; constant_bones: one
    length per bone over the clip (`lifting.lift.constant_bones`; off gives the network's raw joints, whose bone lengths drift by
    about 15 mm, and no refinement); refine: per-clip self-correction against the 2D keypoints
    (`lifting.lift.refine`) with `refine_config`, which gives constant lengths its own way (so only with
    constant_bones); contacts: predict foot contacts with `contact_weights`
    (None = the shipped `lifting/weights/contacts`, skipped when it is absent; a given path must exist);
    orientations: estimate the head's and hands' orientations from the face and hand landmarks
    (`lifting.lift.orientations`, `Motion3D.orientations`); fingers: finger angles from the hand landmarks when
    the keypoints carry hands (`lifting.lift.fingers`, `Motion3D.fingers`)."""

    weights: Path | None = None
    device: str = "auto"
    fov_deg: float | None = None
    fov_axis: str = "horizontal"
    focal_px: float | None = None
    mirror: bool = True
    constant_bones: bool = True
    refine: bool = False
    refine_config: RefineConfig = field(default_factory=RefineConfig)
    contacts: bool = True
    contact_weights: Path | None = None
    orientations: bool = True
    fingers: bool = True

    def __post_init__(self) -> None:
        if self.focal_px is not None:
            check_focal_px(self.focal_px)
        if self.fov_deg is not None:
            check_fov_deg(self.fov_deg)
        if self.fov_axis not in ("horizontal", "vertical", "diagonal"):
            raise MocapError(
                f"The field-of-view axis must be horizontal, vertical or diagonal, not {self.fov_axis!r}."
            )


def default_weights() -> Path:
    """Stem of the shipped checkpoint; a clear error if it is missing (e.g. a source checkout without weights)."""
    stem = WEIGHTS_DIR / DEFAULT_WEIGHTS_NAME
    if not stem.with_suffix(".json").is_file():
        raise MocapError(
            f"No shipped weights were found at {stem}.json; pass --weights with a trained checkpoint."
        )
    return stem


def contact_weights(options: LiftOptions) -> Path | None:
    """Stem of the contact model to use, or None: off, or no weights given and none shipped."""
    if not options.contacts:
        return None
    if options.contact_weights is not None:
        return Path(options.contact_weights)
    stem = WEIGHTS_DIR / CONTACT_WEIGHTS_NAME
    return stem if stem.with_suffix(".json").is_file() else None


def clip_intrinsics(width: int, height: int, options: LiftOptions) -> Intrinsics:
    """The camera to assume for a clip of width × height pixels: a given focal length, a given field of view, or
    the phone default, `DEFAULT_LONG_SIDE_FOV_DEG` across the long side (portrait clips: a phone held upright).
    The focal length sets the person's depth (proportional to it): the default's depth error on a clip is its
    focal length's."""
    if options.focal_px is not None:
        f = check_focal_px(options.focal_px, width)
        return Intrinsics(f, f, width / 2.0, height / 2.0, width, height)
    if options.fov_deg is not None:
        return Intrinsics.from_fov(width, height, options.fov_deg, axis=options.fov_axis)  # type: ignore[arg-type]
    return Intrinsics.from_fov(
        width, height, DEFAULT_LONG_SIDE_FOV_DEG, axis="horizontal" if width >= height else "vertical"
    )


def resample(values: npt.ArrayLike, times: npt.ArrayLike, new_times: npt.ArrayLike) -> FloatArray:
    """Linear interpolation along axis 0: values (T, ...) at increasing `times` (T,) → (N, ...) at `new_times`.

    Times outside [times[0], times[-1]] take the edge values.
    """
    v = np.asarray(values, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    q = np.asarray(new_times, dtype=np.float64)
    if len(t) != len(v) or len(t) == 0:
        raise ValueError(f"{len(t)} times for {len(v)} values")
    if len(t) == 1:
        return np.repeat(v, len(q), axis=0)
    if np.any(np.diff(t) <= 0):
        raise ValueError("times must be strictly increasing")
    q = np.clip(q, t[0], t[-1])
    hi = np.clip(np.searchsorted(t, q, side="right"), 1, len(t) - 1)
    lo = hi - 1
    w = ((q - t[lo]) / (t[hi] - t[lo])).reshape((-1,) + (1,) * (v.ndim - 1))
    out: FloatArray = v[lo] * (1.0 - w) + v[hi] * w
    return out


def fill_missing(keypoints: npt.ArrayLike, detected: npt.ArrayLike) -> FloatArray:
    """Keypoints (T, J, 2) with frames where `detected` (T,) is False replaced by linear interpolation between
    the nearest detected frames (the first/last detection held at the ends). Needs at least one detection."""
    k = np.asarray(keypoints, dtype=np.float64)
    d = np.asarray(detected, dtype=bool)
    if not d.any():
        raise MocapError(
            "No person was detected in any frame of the clip; check the video or the frame range."
        )
    idx = np.flatnonzero(d)
    return resample(k[idx], idx.astype(np.float64), np.arange(len(k), dtype=np.float64))


def output_confidence(
    visibility: npt.ArrayLike, detected: npt.ArrayLike, joints: JointSet = OUTPUT
) -> FloatArray:
    """Per-joint confidence (T, J) in 0..1: mean visibility of the landmarks that observe the joint, 0 where the
    frame had no detection. visibility: (T, 33) BlazePose order; detected: (T,)."""
    vis = np.clip(np.asarray(visibility, dtype=np.float64), 0.0, 1.0)
    det = np.asarray(detected, dtype=bool)
    out = np.zeros((len(vis), joints.num_joints))
    for j, name in enumerate(joints.names):
        side, base = (
            ("left", name[2:])
            if name.startswith("l_")
            else ("right", name[2:])
            if name.startswith("r_")
            else ("", name)
        )
        landmarks = [lm.format(side=side) for lm in CONFIDENCE_LANDMARKS[base]]
        out[:, j] = vis[:, BLAZEPOSE.indices(landmarks)].mean(axis=1)
    out[~det] = 0.0
    return out


def model_inputs(
    keypoints_px: npt.ArrayLike, visibility: npt.ArrayLike, intrinsics: Intrinsics, config: CheckpointConfig
) -> npt.NDArray[np.float32]:
    """(T, 33, C) model input as the checkpoint expects: normalised coordinates (+ visibility when C = 3)."""
    px = np.asarray(keypoints_px, dtype=np.float64)
    if config.normalisation == "camera":
        xy = normalize_camera(px, intrinsics)
    else:
        xy = normalize_screen(px, intrinsics.width, intrinsics.height)
    parts = [xy]
    if "visibility" in config.features:
        parts.append(np.clip(np.asarray(visibility, dtype=np.float64), 0.0, 1.0)[..., None])
    return np.concatenate(parts, axis=-1).astype(np.float32)


def run_models(
    models: dict[str, TemporalModel],
    inputs: npt.NDArray[np.float32],
    config: CheckpointConfig,
    mirror: bool,
    device: torch.device,
) -> tuple[FloatArray, FloatArray | None]:
    """Pose (T, J, 3) root-relative and trajectory (T, 3) camera space (None without a trajectory model).

    Mixes numpy (in/out) and torch (the models) on purpose: this is the boundary between them.
    """
    x = np.stack([inputs, mirror_points(inputs, config.input_joints, axis=0)]) if mirror else inputs[None]
    xt = torch.from_numpy(np.ascontiguousarray(x)).to(device)
    pose_out = predict_sequence(models["pose"], xt).cpu().numpy().astype(np.float64)
    pose = merge_mirrored(pose_out, config.output_joints).astype(np.float64) if mirror else pose_out[0]
    trajectory = None
    if "trajectory" in models:
        traj_out = predict_sequence(models["trajectory"], xt).cpu().numpy().astype(np.float64)[:, :, 0]
        if mirror:
            traj_out[1, :, 0] *= -1.0
            trajectory = traj_out.mean(axis=0)
        else:
            trajectory = traj_out[0]
    return pose, trajectory


def lift_keypoints(
    keypoints: KeypointSequence,
    options: LiftOptions | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Motion3D:
    """Lift one clip's 2D keypoints to a Motion3D at the clip's frame times (see the module docstring)."""
    options = options or LiftOptions()
    cancelled = as_cancel(cancel)

    def report(fraction: float, stage: str) -> None:
        if cancelled is not None and cancelled():
            raise Cancelled("Lifting was cancelled.")
        if progress is not None:
            progress(fraction, stage)

    kp = np.asarray(keypoints.keypoints, dtype=np.float64)
    frames = len(kp)
    if kp.ndim != 3 or kp.shape[1:] != (BLAZEPOSE.num_joints, 2) or frames == 0:
        raise MocapError(f"The keypoints have shape {kp.shape}, not (frames, 33, 2); re-run detection.")
    width, height = (int(v) for v in keypoints.image_size)
    report(0.0, "load model")
    device = resolve_device(options.device)
    config, models = load_checkpoint(options.weights or default_weights(), device=device)
    if config.input_joints != BLAZEPOSE:
        raise MocapError(
            f"The weights expect {config.input_joints.name} input, but detection gives BlazePose landmarks."
        )
    intrinsics = clip_intrinsics(width, height, options)

    report(0.1, "prepare")
    detected = np.asarray(keypoints.detected, dtype=bool)
    filled = fill_missing(kp, detected)
    vis = np.where(detected[:, None], np.asarray(keypoints.visibility, dtype=np.float64), 0.0)
    # The model never saw a frame with every landmark invisible in training: on undetected frames it gets the
    # visibility interpolated from the neighbouring detections, like the keypoints (their confidence stays 0).
    vis_in = fill_missing(vis[:, :, None], detected)[:, :, 0]
    times = np.asarray(keypoints.timestamps, dtype=np.float64)
    if len(times) != frames:
        times = np.arange(frames) / float(keypoints.fps)
    times = times - times[0]
    model_times = np.arange(0.0, times[-1] + 0.5 / config.fps, 1.0 / config.fps)
    inputs = model_inputs(
        resample(filled, times, model_times), resample(vis_in, times, model_times), intrinsics, config
    )

    report(0.2, "lift")
    with torch.no_grad():
        pose, trajectory = run_models(models, inputs, config, options.mirror, device)
    refine = options.refine and options.constant_bones  # free bones: the network's raw joints, as they are
    report(0.4 if refine else 0.9, "finish")
    joints = resample(pose, model_times, times)
    joints -= joints[:, :1]  # exactly root-relative after interpolation
    if options.constant_bones and not refine:
        # After resampling, so the lengths hold exactly on the video's frames. Refinement fixes the lengths
        # itself and its settings were chosen starting from the network's raw joints, so it gets those.
        joints = constant_bone_lengths(joints, config.output_joints.names, config.output_joints.parents)
    root = resample(trajectory, model_times, times) if trajectory is not None else np.zeros((frames, 3))
    contacts = None
    contact_stem = contact_weights(options)
    if contact_stem is not None and trajectory is not None:
        contact_config, contact_model = load_contact_checkpoint(contact_stem, device=device)
        if abs(contact_config.fps - config.fps) > 1e-6:
            raise MocapError(
                f"The contact weights {contact_stem} run at {contact_config.fps:g} fps but the lifter at "
                f"{config.fps:g} fps; use contact weights trained for this lifter."
            )
        probs = predict_contacts(contact_model, pose, trajectory, config.fps)
        contacts = np.clip(resample(probs, model_times, times), 0.0, 1.0)
    motion = Motion3D(
        joints=joints.astype(np.float32),
        root=root.astype(np.float32),
        joint_names=config.output_joints.names,
        parents=config.output_joints.parents,
        fps=float(keypoints.fps),
        intrinsics=MotionIntrinsics(
            intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy, width, height
        ),
        confidence=output_confidence(vis, detected, config.output_joints).astype(np.float32),
        joint_set=config.output_joints.name,
        contacts=None if contacts is None else contacts.astype(np.float32),
    )
    if refine:
        motion, _ = refine_motion(
            motion,
            keypoints,
            options.refine_config,
            progress=lambda fraction, stage: report(0.45 + 0.5 * fraction, stage),
            cancel=cancel,
        )
    if options.orientations:
        motion = estimate_orientations(motion, keypoints)
    if options.fingers:
        motion = add_fingers(motion, keypoints)
    report(1.0, "done")
    return motion
