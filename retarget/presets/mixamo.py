"""Mixamo rigs (`mixamorig:` or any other `namespace:` prefix, or none) and rigs with Mixamo-style names
such as Mesh2Motion's Kenney retarget rig (Chest/UpperChest, LeftToes). Data only; alternatives in order."""

NAME = "mixamo"
LABEL = "Mixamo"
PRIORITY = 0
ROOT = "Hips"
DRIVE = {
    "pelvis": "Hips",
    "spine": ("Spine1", "Chest"),
    "neck": "Neck",
    "head": "Head",
    "l_hip": "LeftUpLeg",
    "l_knee": "LeftLeg",
    "l_ankle": "LeftFoot",
    "r_hip": "RightUpLeg",
    "r_knee": "RightLeg",
    "r_ankle": "RightFoot",
    "l_shoulder": "LeftArm",
    "l_elbow": "LeftForeArm",
    "l_wrist": "LeftHand",
    "r_shoulder": "RightArm",
    "r_elbow": "RightForeArm",
    "r_wrist": "RightHand",
}
SITES = {
    "nose": ("Head", 0.0, (0.0, 0.19, 0.12)),
    "l_toe": (("LeftToeBase", "LeftToes"), 1.0),
    "r_toe": (("RightToeBase", "RightToes"), 1.0),
    "l_hand": (("LeftHandMiddle1", "LeftHandIndex1", "LeftHand"), 0.0),
    "r_hand": (("RightHandMiddle1", "RightHandIndex1", "RightHand"), 0.0),
}
REQUIRES = ("Spine",)
FINGERS = {
    "l_thumb": ("LeftHandThumb1", "LeftHandThumb2", "LeftHandThumb3"),
    "l_index": ("LeftHandIndex1", "LeftHandIndex2", "LeftHandIndex3"),
    "l_middle": ("LeftHandMiddle1", "LeftHandMiddle2", "LeftHandMiddle3"),
    "l_ring": ("LeftHandRing1", "LeftHandRing2", "LeftHandRing3"),
    "l_pinky": ("LeftHandPinky1", "LeftHandPinky2", "LeftHandPinky3"),
    "r_thumb": ("RightHandThumb1", "RightHandThumb2", "RightHandThumb3"),
    "r_index": ("RightHandIndex1", "RightHandIndex2", "RightHandIndex3"),
    "r_middle": ("RightHandMiddle1", "RightHandMiddle2", "RightHandMiddle3"),
    "r_ring": ("RightHandRing1", "RightHandRing2", "RightHandRing3"),
    "r_pinky": ("RightHandPinky1", "RightHandPinky2", "RightHandPinky3"),
}
