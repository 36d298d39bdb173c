"""Every table between MediaPipe's BlazePose landmarks and our joints, side by side.

Where the landmarks sit on a body, relative to the segments of our skeleton (the offsets below): training
places virtual landmarks with them (`lifting.learn.datasets.landmarks`) and per-clip refinement compares the
lifted joints with the detected landmarks through them (`lifting.lift.refine`). Which landmarks stand for
which joint: three tables, one per question, on purpose different —
- `OBSERVED_JOINTS`: the joints a detection observes directly, with no offset (what back-projection in
  fine-tuning compares; hips, pelvis, spine, neck and head are left out);
- `CORRESPONDENCES`: what refinement compares, hips and head included (after their offsets);
- `CONFIDENCE_LANDMARKS`: whose visibility gives each joint's confidence (every joint, by side).

Frames: head (x = the person's left, y = forward, z = up; origin the head centre between the ears), pelvis
(outward, forward, up), hand (distal, radial, palmar), foot (anterior, superior, lateral). Left sides are
given; right sides mirror x.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt


class LandmarkTrack(Protocol):
    """What the lifting stages need of a Keypoints2D (`lifting.video2d.keypoints2d`): pixel keypoints (T, 33, 2)
    in BlazePose order, visibility (T, 33) in 0..1 and detected (T,)."""

    @property
    def keypoints(self) -> npt.NDArray[np.float32]: ...
    @property
    def visibility(self) -> npt.NDArray[np.float32]: ...
    @property
    def detected(self) -> npt.NDArray[np.bool_]: ...


# The nose tip, in the head frame (metres).
NOSE_OFFSET = (0.0, 0.115, -0.02)
# Head frame (x = the person's left, y = forward, z = up), metres from the head centre; right side mirrors x.
FACE_OFFSETS: dict[str, tuple[float, float, float]] = {
    "nose": NOSE_OFFSET,
    "left_eye_inner": (0.016, 0.090, 0.020),
    "left_eye": (0.032, 0.085, 0.020),
    "left_eye_outer": (0.046, 0.075, 0.018),
    "left_ear": (0.072, -0.005, 0.0),
    "mouth_left": (0.025, 0.092, -0.055),
}
# Pelvis frame (outward, forward, up), metres from the hip joint centre, for either side.
HIP_OFFSET = (0.03, 0.0, 0.04)
# Hand frame (distal, radial, palmar), in units of the wrist → knuckles length (about 9 cm).
HAND_OFFSETS: dict[str, tuple[float, float, float]] = {
    "index": (1.10, 0.22, 0.0),
    "pinky": (1.00, -0.32, 0.0),
    "thumb": (0.65, 0.50, 0.15),
}
# Foot frame (anterior, superior, lateral), in units of the ankle → toe-tip length (about 20 cm).
HEEL_OFFSET = (-0.32, -0.20, 0.0)

# Output joints whose image position a 2D detection observes directly, with the BlazePose landmarks whose mean
# is that position (see lifting/learn/datasets/landmarks.py: shoulders, elbows, wrists, knees and ankles are the joint
# centres; MediaPipe's foot index is our toe tip; the hand joint sits between the index and pinky knuckles).
# Hips, pelvis, spine, neck and head are left out: MediaPipe's hip landmarks sit several centimetres off the
# joint centres by an amount that varies per person, and the others have no landmark at all.
OBSERVED_JOINTS: dict[str, tuple[str, ...]] = {
    "nose": ("nose",),
    "l_shoulder": ("left_shoulder",),
    "r_shoulder": ("right_shoulder",),
    "l_elbow": ("left_elbow",),
    "r_elbow": ("right_elbow",),
    "l_wrist": ("left_wrist",),
    "r_wrist": ("right_wrist",),
    "l_hand": ("left_index", "left_pinky"),
    "r_hand": ("right_index", "right_pinky"),
    "l_knee": ("left_knee",),
    "r_knee": ("right_knee",),
    "l_ankle": ("left_ankle",),
    "r_ankle": ("right_ankle",),
    "l_toe": ("left_foot_index",),
    "r_toe": ("right_foot_index",),
}

# Output joint → the BlazePose landmarks whose mean it is compared with. "l_hip"/"r_hip" are compared after the
# landmark offset of lifting.learn.datasets.landmarks (MediaPipe's hips sit higher and wider than the joint centres);
# "*_hand" after extending wrist → hand to the knuckles' mean distal offset.
CORRESPONDENCES: dict[str, tuple[str, ...]] = {
    "nose": ("nose",),
    "head": ("left_ear", "right_ear"),
    "l_hip": ("left_hip",),
    "r_hip": ("right_hip",),
    "l_knee": ("left_knee",),
    "r_knee": ("right_knee",),
    "l_ankle": ("left_ankle",),
    "r_ankle": ("right_ankle",),
    "l_toe": ("left_foot_index",),
    "r_toe": ("right_foot_index",),
    "l_shoulder": ("left_shoulder",),
    "r_shoulder": ("right_shoulder",),
    "l_elbow": ("left_elbow",),
    "r_elbow": ("right_elbow",),
    "l_wrist": ("left_wrist",),
    "r_wrist": ("right_wrist",),
    "l_hand": ("left_index", "left_pinky"),
    "r_hand": ("right_index", "right_pinky"),
}

# Which BlazePose landmarks observe each output joint (their mean visibility is the joint's confidence).
CONFIDENCE_LANDMARKS: dict[str, tuple[str, ...]] = {
    "pelvis": ("left_hip", "right_hip"),
    "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
    "neck": ("left_shoulder", "right_shoulder"),
    "head": ("left_ear", "right_ear"),
    "nose": ("nose",),
    "hip": ("{side}_hip",),
    "knee": ("{side}_knee",),
    "ankle": ("{side}_ankle",),
    "toe": ("{side}_foot_index", "{side}_heel"),
    "shoulder": ("{side}_shoulder",),
    "elbow": ("{side}_elbow",),
    "wrist": ("{side}_wrist",),
    "hand": ("{side}_index", "{side}_pinky"),
}
