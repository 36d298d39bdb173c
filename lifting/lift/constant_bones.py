"""Constant bone lengths for a lifted clip (numpy).

The network predicts every frame's joints on their own, so a bone's length wobbles over a clip (15 mm standard
deviation on the test split, mostly slow drift across seconds that the 81-frame receptive field cannot see). A
person's bones do not change length, so `lifting.lift.lift` gives the clip one length per bone and moves each frame's
joints as little as possible to reach those lengths:

- lengths (`clip_bone_lengths`): a percentile over frames of each bone's predicted length, left and right
  bones averaged; the 60th percentile, a little above the median, fitted the validation split best (the numbers
  are beside `DEFAULT_PERCENTILE`).
- joints (`constrain_bone_lengths`): every bone moves its two end joints equally, along the bone, towards its
  length; a joint shared by several bones takes the mean of their moves, and the moves are repeated until the
  lengths hold (the distance-constraint projection of position-based dynamics, all bones at once, so the result
  does not depend on the order of the bones and a mirrored clip gives the mirrored result). Unlike rebuilding
  the skeleton outwards from the root along the predicted directions, which pushes every error further down
  each chain, this keeps the joints near where the network put them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lifting.metrics import bone_lengths

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Chosen on 60 evenly spaced validation clips with noisy 2D (shipped temporal model; the first pair below is
# `python -m lifting evaluate --split validation --max-clips 60` with and without `--free-bones`): against the
# network's raw output, percentile 60 gives MPJPE 88.6 vs 88.9 mm, P-MPJPE 65.9 vs 66.2 mm, acceleration error 8.9 vs 9.0
# mm/frame² and bone-length std 0.005 vs 15.1 mm; the median gives P-MPJPE 66.2 mm, percentile 65 MPJPE 89.0 mm.
# Over-relaxation 1.5 reaches in 50 iterations what plain averaging needs about 100 for.
DEFAULT_PERCENTILE = 60.0
DEFAULT_ITERATIONS = 50
RELAXATION = 1.5


def bone_pairs(parents: Sequence[int]) -> tuple[IntArray, IntArray]:
    """(parent, child) joint index arrays (B,), one bone per non-root joint, in joint order."""
    child = np.array([c for c, p in enumerate(parents) if p >= 0], dtype=np.int64)
    parent = np.array([parents[c] for c in child], dtype=np.int64)
    return parent, child


def clip_bone_lengths(
    joints: npt.ArrayLike,
    names: Sequence[str],
    parents: Sequence[int],
    percentile: float = 50.0,
    symmetric: bool = True,
) -> FloatArray:
    """(B,) one length per bone (metres) for the whole clip: the given percentile over frames of the bone's
    length in joints (T, J, 3), left and right twins (`l_*`/`r_*` children) averaged when `symmetric`; at least
    1 mm."""
    _, child = bone_pairs(parents)
    lengths = np.percentile(bone_lengths(joints, parents), percentile, axis=0)
    if symmetric:
        index = {names[int(c)]: b for b, c in enumerate(child)}
        for name, b in index.items():
            if name.startswith("l_") and "r_" + name[2:] in index:
                twin = index["r_" + name[2:]]
                lengths[b] = lengths[twin] = 0.5 * (lengths[b] + lengths[twin])
    out: FloatArray = np.maximum(lengths, 1e-3)
    return out


def constrain_bone_lengths(
    joints: npt.ArrayLike,
    parents: Sequence[int],
    lengths: npt.ArrayLike,
    iterations: int = DEFAULT_ITERATIONS,
) -> FloatArray:
    """Joints (T, J, 3) moved so every bone has its length from `lengths` (B,) (metres, `bone_pairs` order).

    Each iteration computes, for every bone, the move of each end joint by half the length error along the bone (in
    opposite directions), gives every joint the mean of its bones' moves times an over-relaxation of 1.5, and
    applies them all at once. A bone of zero length moves nothing (its direction is unknown). On lifted clips 50
    iterations leave a bone-length std of about 0.01 mm.
    """
    x = np.array(joints, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != (len(parents), 3):
        raise ValueError(f"expected joints (T, {len(parents)}, 3), got {x.shape}")
    target = np.asarray(lengths, dtype=np.float64)
    parent, child = bone_pairs(parents)
    if target.shape != child.shape:
        raise ValueError(f"expected {len(child)} bone lengths, got shape {target.shape}")
    bones = np.arange(len(child))
    # (J, B): +1 where the bone's parent joint moves with the bone's half-correction, -1 its child joint; each
    # joint row divided by the number of bones it belongs to.
    spread = np.zeros((len(parents), len(child)))
    spread[parent, bones] = 1.0
    spread[child, bones] = -1.0
    spread /= np.maximum(np.abs(spread).sum(axis=1, keepdims=True), 1.0)
    for _ in range(iterations):
        d = x[:, child] - x[:, parent]
        length = np.linalg.norm(d, axis=-1, keepdims=True)
        half = 0.5 * np.where(length > 1e-9, (length - target[:, None]) / np.maximum(length, 1e-9), 0.0) * d
        x += RELAXATION * np.einsum("jb,tbc->tjc", spread, half)
    return x


def constant_bone_lengths(
    joints: npt.ArrayLike,
    names: Sequence[str],
    parents: Sequence[int],
    percentile: float = DEFAULT_PERCENTILE,
    iterations: int = DEFAULT_ITERATIONS,
) -> FloatArray:
    """Root-relative joints (T, J, 3) (metres, joint 0 the root) with one length per bone over the clip: the
    clip's lengths (`clip_bone_lengths` at `percentile`, left and right averaged) reached by
    `constrain_bone_lengths`, then shifted so the root is at the origin again."""
    j = np.asarray(joints, dtype=np.float64)
    lengths = clip_bone_lengths(j, names, parents, percentile, symmetric=True)
    out = constrain_bone_lengths(j, parents, lengths, iterations)
    out -= out[:, :1]
    return out
