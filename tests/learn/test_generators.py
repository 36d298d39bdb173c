"""Chunked training generator and unchunked evaluation generator."""

from __future__ import annotations

import numpy as np
import pytest

from lifting.learn.generators import ChunkedGenerator, EvaluationGenerator
from lifting.skeleton import OUTPUT, JointSet, merge_mirrored, mirror_points

INPUT = JointSet("test_in", ("c", "l_a", "r_a"), (-1, -1, -1), ((1, 2),))


def _sequences(lengths: list[int]) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Inputs whose x is the frame number (plus sequence*1000), so slices can be checked exactly."""
    inputs, poses, trajs = [], [], []
    for s, n in enumerate(lengths):
        t = np.arange(n, dtype=np.float32) + 1000 * s
        x = np.zeros((n, 3, 2), np.float32)
        x[:, :, 0] = t[:, None]
        x[:, 1, 1] = 1.0  # left joint marker
        y = np.zeros((n, OUTPUT.num_joints, 3), np.float32)
        y[:, :, 2] = t[:, None]
        y[:, OUTPUT.index["l_hand"], 0] = 5.0
        inputs.append(x)
        poses.append(y)
        trajs.append(np.stack([t, t, t], axis=1))
    return inputs, poses, trajs


def _generator(lengths: list[int], **kw: object) -> ChunkedGenerator:
    inputs, poses, trajs = _sequences(lengths)
    options: dict[str, object] = {
        "batch_size": 4,
        "chunk_length": 5,
        "pad": (2, 2),
        "mirror": False,
        "seed": 3,
    }
    options.update(kw)
    return ChunkedGenerator(inputs, poses, trajs, input_joints=INPUT, output_joints=OUTPUT, **options)  # type: ignore[arg-type]


def test_chunks_tile_every_sequence_and_inputs_are_edge_padded() -> None:
    gen = _generator([12, 3, 5], shuffle=False)
    # 12 frames → starts 0, 5, 7 (last one ends at the end); 3 frames → one short chunk; 5 → one chunk.
    assert gen.num_chunks == 5
    batches = list(gen)
    starts = np.concatenate([b.start for b in batches]).tolist()
    seqs = np.concatenate([b.sequence for b in batches]).tolist()
    assert list(zip(seqs, starts, strict=True)) == [(0, 0), (0, 5), (0, 7), (1, 0), (2, 0)]
    first = batches[0]
    assert (
        first.inputs.shape == (4, 9, 3, 2)
        and first.poses_3d is not None
        and first.poses_3d.shape == (4, 5, 21, 3)
    )
    # Input window of chunk (0, 0): frames -2..6, the two before the start replicate frame 0.
    assert first.inputs[0, :, 0, 0].tolist() == [0, 0, 0, 1, 2, 3, 4, 5, 6]
    # Chunk (0, 7): frames 5..13 of a 12-frame sequence: the last two replicate frame 11.
    assert first.inputs[2, :, 0, 0].tolist() == [5, 6, 7, 8, 9, 10, 11, 11, 11]
    # Short sequence: targets past its end are replicated and marked invalid.
    short = first.inputs[3, :, 0, 0] - 1000
    assert short.tolist() == [0, 0, 0, 1, 2, 2, 2, 2, 2]
    assert first.valid[3].tolist() == [True, True, True, False, False]
    assert first.poses_3d[3, :, 0, 2].tolist() == [1000, 1001, 1002, 1002, 1002]
    assert first.trajectories is not None and first.trajectories[1, :, 0].tolist() == [5, 6, 7, 8, 9]
    assert batches[1].inputs.shape[0] == 1 and len(gen) == 2


def test_same_seed_same_order_and_epochs_differ() -> None:
    a, b = _generator([40, 33], seed=7), _generator([40, 33], seed=7)
    order_a = [np.stack([x.sequence, x.start]) for x in a]
    order_b = [np.stack([x.sequence, x.start]) for x in b]
    assert all(np.array_equal(x, y) for x, y in zip(order_a, order_b, strict=True))
    second_epoch = [np.stack([x.sequence, x.start]) for x in a]
    assert not all(np.array_equal(x, y) for x, y in zip(order_a, second_epoch, strict=True))
    # Resuming at epoch 1 reproduces the second epoch.
    c = _generator([40, 33], seed=7)
    c.set_epoch(1)
    assert all(
        np.array_equal(np.stack([x.sequence, x.start]), y) for x, y in zip(c, second_epoch, strict=True)
    )


def test_mirror_augmentation_doubles_the_chunks_and_swaps_sides() -> None:
    gen = _generator([12], mirror=True, shuffle=False, batch_size=100)
    batch = next(iter(gen))
    assert gen.num_chunks == 6 and batch.mirrored.tolist() == [False] * 3 + [True] * 3
    plain, flipped = batch.inputs[0], batch.inputs[3]
    assert batch.start[0] == batch.start[3]
    np.testing.assert_array_equal(flipped, mirror_points(plain, INPUT, axis=0))
    assert flipped[0, 2, 1] == 1.0 and flipped[0, 1, 1] == 0.0  # the left marker moved to the right joint
    assert batch.poses_3d is not None and batch.trajectories is not None
    np.testing.assert_array_equal(batch.poses_3d[3], mirror_points(batch.poses_3d[0], OUTPUT, axis=0))
    assert batch.poses_3d[3, 0, OUTPUT.index["r_hand"], 0] == -5.0
    np.testing.assert_array_equal(batch.trajectories[3, :, 0], -batch.trajectories[0, :, 0])
    np.testing.assert_array_equal(batch.trajectories[3, :, 1:], batch.trajectories[0, :, 1:])


def test_drop_last_and_every_chunk_once_per_epoch() -> None:
    gen = _generator([50, 21, 8], mirror=True, batch_size=3, drop_last=True)
    rows = np.concatenate([np.stack([b.sequence, b.start, b.mirrored], axis=1) for b in gen])
    assert len(rows) == (gen.num_chunks // 3) * 3
    gen.drop_last = False
    rows = np.concatenate([np.stack([b.sequence, b.start, b.mirrored], axis=1) for b in gen])
    assert len(np.unique(rows, axis=0)) == gen.num_chunks == len(rows)


def test_bad_shapes_are_rejected() -> None:
    inputs, poses, _ = _sequences([10])
    with pytest.raises(ValueError, match="3D sequence 0"):
        ChunkedGenerator(
            inputs,
            [poses[0][:5]],
            None,
            input_joints=INPUT,
            output_joints=OUTPUT,
            batch_size=2,
            chunk_length=1,
            pad=(1, 1),
        )
    with pytest.raises(ValueError, match="no sequences"):
        ChunkedGenerator(
            [], None, None, input_joints=INPUT, output_joints=None, batch_size=2, chunk_length=1, pad=(1, 1)
        )


def test_evaluation_generator_pads_whole_sequences_and_merges_mirrors() -> None:
    inputs, poses, trajs = _sequences([6, 4])
    gen = EvaluationGenerator(
        inputs, poses, trajs, input_joints=INPUT, output_joints=OUTPUT, pad=(3, 3), mirror=True
    )
    items = list(gen)
    assert len(items) == 2 and items[1].sequence == 1
    assert items[0].inputs.shape == (2, 12, 3, 2)
    assert items[0].inputs[0, :, 0, 0].tolist() == [0, 0, 0, 0, 1, 2, 3, 4, 5, 5, 5, 5]
    np.testing.assert_array_equal(items[0].inputs[1], mirror_points(items[0].inputs[0], INPUT, axis=0))
    assert items[1].poses_3d is not None and items[1].poses_3d.shape == (4, 21, 3)
    # A mirror-equivariant predictor: its merged prediction equals the plain one.
    pose = np.random.default_rng(0).normal(size=(5, 21, 3))
    pair = np.stack([pose, mirror_points(pose, OUTPUT, axis=0)])
    np.testing.assert_allclose(merge_mirrored(pair, OUTPUT), pose, atol=1e-6)
