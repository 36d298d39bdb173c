"""Rigify's human metarig (before generation): spine, spine.001 ... spine.006, thigh.L, upper_arm.L ...
Data only."""

NAME = "rigify_metarig"
LABEL = "Rigify metarig"
PRIORITY = 0
ROOT = "spine"
DRIVE = {
    "pelvis": "spine",
    "spine": "spine.002",
    "neck": "spine.004",
    "head": "spine.006",
    "l_hip": "thigh.L",
    "l_knee": "shin.L",
    "l_ankle": "foot.L",
    "r_hip": "thigh.R",
    "r_knee": "shin.R",
    "r_ankle": "foot.R",
    "l_shoulder": "upper_arm.L",
    "l_elbow": "forearm.L",
    "l_wrist": "hand.L",
    "r_shoulder": "upper_arm.R",
    "r_elbow": "forearm.R",
    "r_wrist": "hand.R",
}
SITES = {
    "nose": ("spine.006", 0.0, (0.0, 0.19, 0.12)),
    "l_toe": ("toe.L", 1.0),
    "r_toe": ("toe.R", 1.0),
    "l_hand": ("hand.L", 1.0),
    "r_hand": ("hand.R", 1.0),
}
REQUIRES = ("spine.001", "spine.003", "shoulder.L", "shoulder.R")
