"""Our own generated armature (retarget.our_rig builds it from the clip's median bone lengths). Data only."""

NAME = "ours"
LABEL = "Generated mocap armature"
PRIORITY = 10
ROOT = "mocap_hips"
DRIVE = {
    "pelvis": "mocap_hips",
    "spine": "mocap_chest",
    "neck": "mocap_neck",
    "head": "mocap_head",
    "l_hip": "mocap_thigh.L",
    "l_knee": "mocap_shin.L",
    "l_ankle": "mocap_foot.L",
    "r_hip": "mocap_thigh.R",
    "r_knee": "mocap_shin.R",
    "r_ankle": "mocap_foot.R",
    "l_shoulder": "mocap_upper_arm.L",
    "l_elbow": "mocap_forearm.L",
    "l_wrist": "mocap_hand.L",
    "r_shoulder": "mocap_upper_arm.R",
    "r_elbow": "mocap_forearm.R",
    "r_wrist": "mocap_hand.R",
}
SITES = {
    "nose": ("mocap_nose", 1.0),
    "l_toe": ("mocap_foot.L", 1.0),
    "r_toe": ("mocap_foot.R", 1.0),
    "l_hand": ("mocap_hand.L", 1.0),
    "r_hand": ("mocap_hand.R", 1.0),
}
REQUIRES = ("mocap_nose",)
FINGERS = {
    "l_thumb": ("mocap_thumb.01.L", "mocap_thumb.02.L", "mocap_thumb.03.L"),
    "l_index": ("mocap_index.01.L", "mocap_index.02.L", "mocap_index.03.L"),
    "l_middle": ("mocap_middle.01.L", "mocap_middle.02.L", "mocap_middle.03.L"),
    "l_ring": ("mocap_ring.01.L", "mocap_ring.02.L", "mocap_ring.03.L"),
    "l_pinky": ("mocap_pinky.01.L", "mocap_pinky.02.L", "mocap_pinky.03.L"),
    "r_thumb": ("mocap_thumb.01.R", "mocap_thumb.02.R", "mocap_thumb.03.R"),
    "r_index": ("mocap_index.01.R", "mocap_index.02.R", "mocap_index.03.R"),
    "r_middle": ("mocap_middle.01.R", "mocap_middle.02.R", "mocap_middle.03.R"),
    "r_ring": ("mocap_ring.01.R", "mocap_ring.02.R", "mocap_ring.03.R"),
    "r_pinky": ("mocap_pinky.01.R", "mocap_pinky.02.R", "mocap_pinky.03.R"),
}
