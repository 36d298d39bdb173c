"""Contact labels on constructed trajectories with known answers: standing then swinging, a raised level, a jump."""

from __future__ import annotations

import numpy as np

from lifting.learn.datasets.contact_labels import ContactLabelConfig, contact_labels

FPS = 30.0


def _point(xyz: np.ndarray) -> np.ndarray:
    """(T, 3) → (T, 1, 3)."""
    return np.asarray(xyz, dtype=np.float64)[:, None, :]


def test_a_foot_standing_then_swinging_then_standing() -> None:
    # 1 s still at the origin, a 0.5 s swing forward by 0.7 m rising 0.15 m at mid-swing, 1 s still again.
    stand, swing = 30, 15
    s = np.linspace(0.0, 1.0, swing + 2)[1:-1]
    x = np.concatenate(
        [np.zeros(stand), 0.7 * (s - np.sin(2 * np.pi * s) / (2 * np.pi)), np.full(stand, 0.7)]
    )
    z = np.concatenate([np.zeros(stand), 0.15 * np.sin(np.pi * s), np.zeros(stand)])
    p = np.stack([x, np.zeros_like(x), z], axis=1)
    labels = contact_labels(_point(p), FPS)[:, 0]
    assert labels.shape == (2 * stand + swing,)
    assert labels[: stand - 1].all() and labels[stand + swing + 1 :].all()
    # Mid-swing (speed up to 2.8 m/s, up to 15 cm high) is never a contact.
    assert not labels[stand + 2 : stand + swing - 2].any()


def test_a_foot_standing_on_a_raised_level() -> None:
    # On the floor for 1 s, stepped up onto a 0.3 m box over 0.3 s, then 2 s on the box: resting on the box.
    up = np.linspace(0.0, 1.0, 11)[1:-1]
    z = np.concatenate([np.zeros(30), 0.3 * up + 0.1 * np.sin(np.pi * up), np.full(60, 0.3)])
    x = np.concatenate([np.zeros(30), 0.4 * up, np.full(60, 0.4)])
    p = np.stack([x, np.zeros_like(x), z], axis=1)
    labels = contact_labels(_point(p), FPS)[:, 0]
    # Arrival on frame 39; from a support window (0.25 s) later on, the window sees only the box.
    assert labels[39 + 8 :].all()
    assert labels[:29].all()
    assert not labels[32:37].any()


def test_the_top_of_a_jump_in_place_is_not_a_contact() -> None:
    # Vertical jump in place: no horizontal speed at all, 0.5 s of ballistic flight between two stands.
    g, flight = 9.81, 0.5
    t = np.arange(round(flight * FPS) + 1) / FPS
    air = g * t * (flight - t) / 2.0  # 0 at take-off and landing, 0.31 m at the top
    z = np.concatenate([np.zeros(20), air[1:-1], np.zeros(20)])
    p = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=1)
    labels = contact_labels(_point(p), FPS)[:, 0]
    assert labels[:20].all() and labels[-20:].all()
    top = 20 + len(air) // 2 - 1
    assert not labels[top - 4 : top + 5].any()
    # Why the support window is not shorter: with ±1 frame the still apex would pass for a contact.
    assert contact_labels(_point(p), FPS, ContactLabelConfig(window_s=1 / FPS))[top, 0]


def test_shapes_and_short_input() -> None:
    assert contact_labels(np.zeros((1, 4, 3)), FPS).shape == (1, 4)
    assert not contact_labels(np.zeros((1, 4, 3)), FPS).any()
    assert contact_labels(np.zeros((5, 4, 3)), FPS).all()
