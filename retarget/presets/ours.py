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
