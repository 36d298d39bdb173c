"""The CC0 Mesh2Motion human rig (rigs/rig-human.blend): its deform skeleton root > pelvis > spine_01 ...
(Unreal-style names), as exported to glTF/FBX. In the .blend the deform bones follow DRV_ controls through
constraints: mute those (or key a copy) before applying. Data only."""

NAME = "mesh2motion"
LABEL = "Mesh2Motion human"
PRIORITY = 0
ROOT = "pelvis"
DRIVE = {
    "pelvis": "pelvis",
    "spine": "spine_02",
    "neck": "neck_01",
    "head": "head",
    "l_hip": "thigh_l",
    "l_knee": "calf_l",
    "l_ankle": "foot_l",
    "r_hip": "thigh_r",
    "r_knee": "calf_r",
    "r_ankle": "foot_r",
    "l_shoulder": "upperarm_l",
    "l_elbow": "lowerarm_l",
    "l_wrist": "hand_l",
    "r_shoulder": "upperarm_r",
    "r_elbow": "lowerarm_r",
    "r_wrist": "hand_r",
}
SITES = {
    "nose": ("head", 0.0, (0.0, 0.19, 0.12)),
    "l_toe": ("ball_l", 1.0),
    "r_toe": ("ball_r", 1.0),
    "l_hand": ("middle_01_l", 0.0),
    "r_hand": ("middle_01_r", 0.0),
}
REQUIRES = ("spine_01", "spine_03", "clavicle_l", "clavicle_r")
FINGERS = {
    "l_thumb": ("thumb_01_l", "thumb_02_l", "thumb_03_l"),
    "l_index": ("index_01_l", "index_02_l", "index_03_l"),
    "l_middle": ("middle_01_l", "middle_02_l", "middle_03_l"),
    "l_ring": ("ring_01_l", "ring_02_l", "ring_03_l"),
    "l_pinky": ("pinky_01_l", "pinky_02_l", "pinky_03_l"),
    "r_thumb": ("thumb_01_r", "thumb_02_r", "thumb_03_r"),
    "r_index": ("index_01_r", "index_02_r", "index_03_r"),
    "r_middle": ("middle_01_r", "middle_02_r", "middle_03_r"),
    "r_ring": ("ring_01_r", "ring_02_r", "ring_03_r"),
    "r_pinky": ("pinky_01_r", "pinky_02_r", "pinky_03_r"),
}
