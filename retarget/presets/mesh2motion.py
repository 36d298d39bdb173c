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
