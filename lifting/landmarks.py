"""Where MediaPipe's BlazePose landmarks sit on a body, relative to the segments of our skeleton: the one table
that training (`lifting.learn.datasets.landmarks` places virtual landmarks with it) and per-clip refinement
(`lifting.lift.refine` compares the lifted joints with the detected landmarks through it) both read.

Frames: head (x = the person's left, y = forward, z = up; origin the head centre between the ears), pelvis
(outward, forward, up), hand (distal, radial, palmar), foot (anterior, superior, lateral). Left sides are
given; right sides mirror x.
"""

from __future__ import annotations

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
