"""The cheapest labelling of a sequence, against brute force over every labelling."""

from __future__ import annotations

import itertools

import numpy as np

from lifting.labelling import cheapest_states


def test_cheapest_states_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        unary = rng.uniform(0, 1, (6, 3))
        step = rng.uniform(0, 1, (6, 3, 3))
        best = min(
            itertools.product(range(3), repeat=6),
            key=lambda s: unary[np.arange(6), s].sum() + sum(step[t, s[t], s[t - 1]] for t in range(1, 6)),
        )
        np.testing.assert_array_equal(cheapest_states(unary, step), best)


def test_a_costly_step_holds_a_state_against_cheaper_frames() -> None:
    # State 1 is cheaper on frames 2-4 only, and leaving state 0 and coming back costs more than it saves.
    unary = np.zeros((7, 2))
    unary[:, 1] = 1.0
    unary[2:5] = [1.0, 0.0]
    step = np.zeros((7, 2, 2))
    step[:, 0, 1] = step[:, 1, 0] = 2.0
    np.testing.assert_array_equal(cheapest_states(unary, step), [0] * 7)
    step[:, 0, 1] = step[:, 1, 0] = 1.0
    np.testing.assert_array_equal(cheapest_states(unary, step), [0, 0, 1, 1, 1, 0, 0])
