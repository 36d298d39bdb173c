"""The cheapest labelling of a sequence: one state per frame from per-frame costs and frame-to-frame costs
(the Viterbi dynamic programme), for left/right repair (`lifting.video2d.swaps`) and multi-camera left/right
consistency (`lifting.multiview`). numpy only."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def cheapest_states(unary: npt.ArrayLike, step: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The states (T,) minimising sum_t unary[t, s_t] + sum_{t>0} step[t, s_t, s_{t-1}].

    unary (T, S): each frame's cost of each state; step (T, S, S): step[t, now, before], the cost of going from
    state `before` on frame t-1 to `now` on frame t (step[0] is not used). Ties go to the lower state index.
    """
    u = np.asarray(unary, dtype=np.float64)
    s = np.asarray(step, dtype=np.float64)
    n_t, n_s = u.shape
    total = u[0].copy()
    back = np.zeros((n_t, n_s), dtype=np.int64)
    for t in range(1, n_t):
        trans = s[t] + total[None, :]
        back[t] = np.argmin(trans, axis=1)
        total = trans[np.arange(n_s), back[t]] + u[t]
    state = np.zeros(n_t, dtype=np.int64)
    state[-1] = int(np.argmin(total))
    for t in range(n_t - 1, 0, -1):
        state[t - 1] = back[t, state[t]]
    return state
