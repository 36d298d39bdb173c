"""Virtual MediaPipe BlazePose landmarks (33, `lifting.skeleton.BLAZEPOSE` order) from a `BodyPose`.

The model must see at training time what MediaPipe gives it at run time, so each landmark is placed where
MediaPipe puts it on a real body, relative to the segment it belongs to (frames from `lifting.learn.datasets.mapping`,
built from joint rotations where the source has them and estimated from positions where it has not):

- Face (nose, eyes inner/centre/outer, ears, mouth corners): fixed offsets in the head frame from the head
  centre (the point between the ears), `lifting.landmarks.FACE_OFFSETS`, for an average adult head (interpupillary distance
  6.4 cm, bitragion breadth 14.4 cm, ear canal → eye 8.5 cm deep and 2 cm below eye level, nose tip 11.5 cm in
  front of the ear canal). On the rigs that carry eye joints (CMU BVH files) the virtual eyes land within 1 cm
  of them. Where the head frame is estimated (20-joint arrays) the face does not turn with the head.
- Shoulders, elbows, wrists, knees, ankles: the joint centres (`BodyPose.joints`).
- Hips: MediaPipe's hip landmarks sit higher and wider than the anatomical hip joint centres (like COCO
  annotations, at the side of the pelvis); `HIP_OFFSET` moves each joint centre 3 cm outwards and 4 cm up in
  the pelvis frame (left = l_hip - r_hip, up = pelvis → spine). The size of this bias is not measured here;
  `lifting.learn.datasets.views` adds a random per-clip offset around it so the model does not rely on its value.
- Hand points (pinky, index, thumb): MediaPipe's "pinky/index knuckle #1" and "thumb knuckle #2", placed in
  the hand frame (distal, radial, palmar) at `HAND_OFFSETS` × the clip's wrist → knuckles length.
- Heels and foot tips: the heel `HEEL_OFFSET` × the ankle → toe-tip length behind and below the ankle in the
  foot frame; `foot_index` = the toe tip (our `*_toe` joint).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lifting.landmarks import FACE_OFFSETS, HAND_OFFSETS, HEEL_OFFSET, HIP_OFFSET
from lifting.learn.datasets.mapping import BodyPose, head_axes
from lifting.skeleton import BLAZEPOSE, OUTPUT

FloatArray = npt.NDArray[np.float64]


def _mirror_name(name: str) -> str:
    for a, b in (("left_", "right_"), ("mouth_left", "mouth_right")):
        if name.startswith(a):
            return b + name[len(a) :]
    return name


def _face_table() -> dict[str, tuple[float, float, float]]:
    table = dict(FACE_OFFSETS)
    for name, (x, y, z) in FACE_OFFSETS.items():
        twin = _mirror_name(name)
        if twin != name:
            table[twin] = (-x, y, z)
    return table


def pelvis_frame(joints: FloatArray) -> FloatArray:
    """(T, 3, 3) columns (left, forward, up) of the pelvis from the output joints (T, 21, 3)."""
    i = OUTPUT.index
    left = joints[:, i["l_hip"]] - joints[:, i["r_hip"]]
    up = joints[:, i["spine"]] - joints[:, i["pelvis"]]
    return head_axes(up, left)


def virtual_landmarks(body: BodyPose) -> FloatArray:
    """(T, 33, 3) world positions of the MediaPipe landmarks, in `BLAZEPOSE` order (metres, body's axes)."""
    j = body.joints
    i = OUTPUT.index
    out = np.zeros((body.num_frames, BLAZEPOSE.num_joints, 3))
    li = BLAZEPOSE.index
    head = j[:, i["head"]]
    for name, off in _face_table().items():
        out[:, li[name]] = head + body.head_frame @ np.asarray(off)
    pelvis = pelvis_frame(j)
    for k, (side, s) in enumerate((("left", "l"), ("right", "r"))):
        sign = 1.0 if k == 0 else -1.0
        hip_off = np.array([sign * HIP_OFFSET[0], HIP_OFFSET[1], HIP_OFFSET[2]])
        out[:, li[f"{side}_hip"]] = j[:, i[f"{s}_hip"]] + pelvis @ hip_off
        for part in ("shoulder", "elbow", "wrist", "knee", "ankle"):
            out[:, li[f"{side}_{part}"]] = j[:, i[f"{s}_{part}"]]
        wrist = j[:, i[f"{s}_wrist"]]
        hand_len = np.linalg.norm(j[:, i[f"{s}_hand"]] - wrist, axis=-1, keepdims=True)
        for part, off in HAND_OFFSETS.items():
            out[:, li[f"{side}_{part}"]] = wrist + hand_len * (body.hand_frames[:, k] @ np.asarray(off))
        ankle, toe = j[:, i[f"{s}_ankle"]], j[:, i[f"{s}_toe"]]
        foot_len = np.linalg.norm(toe - ankle, axis=-1, keepdims=True)
        out[:, li[f"{side}_heel"]] = ankle + foot_len * (body.foot_frames[:, k] @ np.asarray(HEEL_OFFSET))
        out[:, li[f"{side}_foot_index"]] = toe
    return out
