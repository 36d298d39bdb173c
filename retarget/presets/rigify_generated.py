"""A generated Rigify rig, keyed on its FK controls (torso carries the root motion and the hip rotation,
the `hips` and `chest` controls stay at rest; keep the limbs' IK/FK switch on FK). Data only.

The spine is keyed on the FK control `spine_fk.002`, the upper spine's bone that the neck and the arms hang
from through plain parenting (with `chest` at rest, its MCH copies are at rest too); `chest` itself reaches
them only half-way at each of two bones (`MCH-spine.002`, `MCH-spine.003` copy half its local transform),
which no rigid skeleton models: keyed on `chest`, the deform head and wrists missed the keys by 8 cm on a
synthetic walk and 28 cm on the sample clip. `chest` stays as the fallback for rigs without `spine_fk.002`.
The neck and head follow the spine with the torso's `neck_follow`/`head_follow` keyed to 1
(`blender_addon/rig_check.py`)."""

from retarget.presets import rigify_metarig

NAME = "rigify_generated"
LABEL = "Rigify generated rig (FK controls)"
PRIORITY = 5
ROOT = "torso"
DRIVE = {
    "pelvis": "torso",
    "spine": ("spine_fk.002", "chest"),
    "neck": "neck",
    "head": "head",
    "l_hip": "thigh_fk.L",
    "l_knee": "shin_fk.L",
    "l_ankle": "foot_fk.L",
    "r_hip": "thigh_fk.R",
    "r_knee": "shin_fk.R",
    "r_ankle": "foot_fk.R",
    "l_shoulder": "upper_arm_fk.L",
    "l_elbow": "forearm_fk.L",
    "l_wrist": "hand_fk.L",
    "r_shoulder": "upper_arm_fk.R",
    "r_elbow": "forearm_fk.R",
    "r_wrist": "hand_fk.R",
}
SITES = {
    "nose": ("head", 0.0, (0.0, 0.19, 0.12)),
    "l_toe": (("toe_fk.L", "toe.L"), 1.0),
    "r_toe": (("toe_fk.R", "toe.R"), 1.0),
    "l_hand": ("hand_fk.L", 1.0),
    "r_hand": ("hand_fk.R", 1.0),
}
REQUIRES = ("DEF-spine", "ORG-spine", "hips")
FINGERS = rigify_metarig.FINGERS  # the generated rig's FK finger controls keep the metarig's names
