"""Our joint set (`mocap21`) as data, and how each of its segments is turned into a bone orientation.

retarget never imports lifting; this copy of the joint names and parents must equal
`lifting.skeleton.OUTPUT` (a test checks it). The solver itself works from the names stored in each
Motion3D and only needs the joints that the rules below mention.

Each rule says how to orient the target bone that starts at a joint: its primary direction runs from that
joint to `end`; its twist comes from a secondary direction, either a `line` between two joints or the
normal of a limb's `hinge` plane (upper joint, middle joint, lower joint), which falls back to the rest
twist carried by the parent while the limb is nearly straight. `bend` says which way the middle joint
bends in the body's frame: elbows bend the forearm forward, knees bend the shin backward.
"""

from __future__ import annotations

from dataclasses import dataclass

NAME = "mocap21"

NAMES: tuple[str, ...] = (
    "pelvis",
    "spine",
    "neck",
    "head",
    "nose",
    "l_hip",
    "l_knee",
    "l_ankle",
    "l_toe",
    "r_hip",
    "r_knee",
    "r_ankle",
    "r_toe",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "l_hand",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "r_hand",
)

PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 2, 13, 14, 15, 2, 17, 18, 19)


@dataclass(frozen=True)
class Line:
    """Secondary direction from joint `start` to joint `end`."""

    start: str
    end: str


@dataclass(frozen=True)
class Hinge:
    """Secondary direction: normal of the plane (upper, middle, lower) = (middle-upper) x (lower-middle).

    `bend` is "forward" or "backward": the way the lower segment swings when the limb flexes, used to
    choose the hinge axis of a rig whose rest limb is straight.
    """

    upper: str
    middle: str
    lower: str
    bend: str


@dataclass(frozen=True)
class SegmentRule:
    """The bone starting at a joint points at `end`; `secondary` fixes its twist."""

    end: str
    secondary: Line | Hinge


def _side_rules(s: str) -> dict[str, SegmentRule]:
    leg = Hinge(f"{s}_hip", f"{s}_knee", f"{s}_ankle", "backward")
    arm = Hinge(f"{s}_shoulder", f"{s}_elbow", f"{s}_wrist", "forward")
    return {
        f"{s}_hip": SegmentRule(f"{s}_knee", leg),
        f"{s}_knee": SegmentRule(f"{s}_ankle", leg),
        f"{s}_ankle": SegmentRule(f"{s}_toe", leg),
        f"{s}_shoulder": SegmentRule(f"{s}_elbow", arm),
        f"{s}_elbow": SegmentRule(f"{s}_wrist", arm),
        f"{s}_wrist": SegmentRule(f"{s}_hand", arm),
    }


# Keyed by the joint at the head of the driven bone. Order: parents before children.
RULES: dict[str, SegmentRule] = {
    "pelvis": SegmentRule("spine", Line("r_hip", "l_hip")),
    "spine": SegmentRule("neck", Line("r_shoulder", "l_shoulder")),
    "neck": SegmentRule("head", Line("r_shoulder", "l_shoulder")),
    "head": SegmentRule("nose", Line("neck", "head")),
    **_side_rules("l"),
    **_side_rules("r"),
}

# Joints that define the body's rest frame (left = l_hip - r_hip, up = neck - pelvis, forward = left x up).
BODY_FRAME = ("pelvis", "neck", "l_hip", "r_hip")
FEET = {"l": ("l_ankle", "l_toe"), "r": ("r_ankle", "r_toe")}
LEGS = {"l": ("l_hip", "l_knee", "l_ankle"), "r": ("r_hip", "r_knee", "r_ankle")}
