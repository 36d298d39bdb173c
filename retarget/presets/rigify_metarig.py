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
FINGERS = {
    "l_thumb": ("thumb.01.L", "thumb.02.L", "thumb.03.L"),
    "l_index": ("f_index.01.L", "f_index.02.L", "f_index.03.L"),
    "l_middle": ("f_middle.01.L", "f_middle.02.L", "f_middle.03.L"),
    "l_ring": ("f_ring.01.L", "f_ring.02.L", "f_ring.03.L"),
    "l_pinky": ("f_pinky.01.L", "f_pinky.02.L", "f_pinky.03.L"),
    "r_thumb": ("thumb.01.R", "thumb.02.R", "thumb.03.R"),
    "r_index": ("f_index.01.R", "f_index.02.R", "f_index.03.R"),
    "r_middle": ("f_middle.01.R", "f_middle.02.R", "f_middle.03.R"),
    "r_ring": ("f_ring.01.R", "f_ring.02.R", "f_ring.03.R"),
    "r_pinky": ("f_pinky.01.R", "f_pinky.02.R", "f_pinky.03.R"),
}
