"""A generated Rigify rig, keyed directly on its DEF- deform bones (for baking/export with the control
rig's constraints muted). Limb segments `.001` stay at rest relative to their first segment. Data only."""

NAME = "rigify_generated_def"
LABEL = "Rigify generated rig (DEF bones)"
PRIORITY = 4
ROOT = "DEF-spine"
DRIVE = {
    "pelvis": "DEF-spine",
    "spine": "DEF-spine.002",
    "neck": "DEF-spine.004",
    "head": "DEF-spine.006",
    "l_hip": "DEF-thigh.L",
    "l_knee": "DEF-shin.L",
    "l_ankle": "DEF-foot.L",
    "r_hip": "DEF-thigh.R",
    "r_knee": "DEF-shin.R",
    "r_ankle": "DEF-foot.R",
    "l_shoulder": "DEF-upper_arm.L",
    "l_elbow": "DEF-forearm.L",
    "l_wrist": "DEF-hand.L",
    "r_shoulder": "DEF-upper_arm.R",
    "r_elbow": "DEF-forearm.R",
    "r_wrist": "DEF-hand.R",
}
SITES = {
    "nose": ("DEF-spine.006", 0.0, (0.0, 0.19, 0.12)),
    "l_toe": ("DEF-toe.L", 1.0),
    "r_toe": ("DEF-toe.R", 1.0),
    "l_hand": ("DEF-hand.L", 1.0),
    "r_hand": ("DEF-hand.R", 1.0),
}
REQUIRES = ("ORG-spine",)
FINGERS = {
    "l_thumb": ("DEF-thumb.01.L", "DEF-thumb.02.L", "DEF-thumb.03.L"),
    "l_index": ("DEF-f_index.01.L", "DEF-f_index.02.L", "DEF-f_index.03.L"),
    "l_middle": ("DEF-f_middle.01.L", "DEF-f_middle.02.L", "DEF-f_middle.03.L"),
    "l_ring": ("DEF-f_ring.01.L", "DEF-f_ring.02.L", "DEF-f_ring.03.L"),
    "l_pinky": ("DEF-f_pinky.01.L", "DEF-f_pinky.02.L", "DEF-f_pinky.03.L"),
    "r_thumb": ("DEF-thumb.01.R", "DEF-thumb.02.R", "DEF-thumb.03.R"),
    "r_index": ("DEF-f_index.01.R", "DEF-f_index.02.R", "DEF-f_index.03.R"),
    "r_middle": ("DEF-f_middle.01.R", "DEF-f_middle.02.R", "DEF-f_middle.03.R"),
    "r_ring": ("DEF-f_ring.01.R", "DEF-f_ring.02.R", "DEF-f_ring.03.R"),
    "r_pinky": ("DEF-f_pinky.01.R", "DEF-f_pinky.02.R", "DEF-f_pinky.03.R"),
}
