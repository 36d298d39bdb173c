"""Batch generators over variable-length sequences of 2D inputs and 3D targets (numpy in, numpy out).

- `ChunkedGenerator` cuts every sequence into chunks of `chunk_length` output frames, each with the input frames
  its receptive field needs (edge-replicated beyond the sequence ends), shuffles them with a seeded generator and
  yields fixed-size batches. With `chunk_length=1` and `pad = model padding` it feeds the strided training model.
  Mirrored-sample augmentation adds a copy of every chunk with left and right swapped and x negated, in input and
  output, as in the paper.
- `EvaluationGenerator` yields one whole sequence at a time (padded input, unpadded targets), optionally with its
  mirrored copy for test-time augmentation.

Input coordinates are expected in normalised screen units centred on the principal point, so that mirroring
the image is `x → -x`; 3D targets and trajectories are camera space, so mirroring is `x_cam → -x_cam`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lifting.skeleton import JointSet, mirror_points

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Batch:
    """One training batch. B samples, L = chunk_length output frames, P = pad before + after.

    inputs: (B, L + P, J_in, C_in); poses_3d: (B, L, J_out, 3) or None; trajectories: (B, L, 3) or None;
    valid: (B, L) bool, False for target frames past a sequence shorter than the chunk (edge-replicated);
    sequence: (B,) index of the source sequence; start: (B,) first output frame in it; mirrored: (B,) bool.
    """

    inputs: FloatArray
    poses_3d: FloatArray | None
    trajectories: FloatArray | None
    valid: npt.NDArray[np.bool_]
    sequence: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    mirrored: npt.NDArray[np.bool_]


def _edge_pad(x: npt.NDArray[np.floating[Any]], before: int, after: int) -> FloatArray:
    """Replicate the first/last frame (axis 0) `before`/`after` times."""
    idx = np.concatenate([np.zeros(before, dtype=np.int64), np.arange(len(x)), np.full(after, len(x) - 1)])
    return np.ascontiguousarray(x[idx], dtype=np.float32)


def _mirror_trajectory(traj: FloatArray) -> FloatArray:
    out = traj.copy()
    out[..., 0] = -out[..., 0]
    return out


def _check_sequences(
    inputs: Sequence[npt.NDArray[np.floating[Any]]],
    poses_3d: Sequence[npt.NDArray[np.floating[Any]]] | None,
    trajectories: Sequence[npt.NDArray[np.floating[Any]]] | None,
    input_joints: JointSet,
    output_joints: JointSet | None,
) -> None:
    if len(inputs) == 0:
        raise ValueError("no sequences given")
    for i, x in enumerate(inputs):
        if x.ndim != 3 or x.shape[1] != input_joints.num_joints or len(x) == 0:
            raise ValueError(
                f"input sequence {i} has shape {x.shape}, expected (T>0, {input_joints.num_joints}, C)"
            )
    if poses_3d is not None:
        if output_joints is None:
            raise ValueError("output_joints is needed with poses_3d")
        if len(poses_3d) != len(inputs):
            raise ValueError(f"{len(inputs)} input sequences but {len(poses_3d)} 3D sequences")
        for i, (x, y) in enumerate(zip(inputs, poses_3d, strict=True)):
            if y.shape != (len(x), output_joints.num_joints, 3):
                raise ValueError(
                    f"3D sequence {i} has shape {y.shape}, expected ({len(x)}, {output_joints.num_joints}, 3)"
                )
    if trajectories is not None:
        if len(trajectories) != len(inputs):
            raise ValueError(f"{len(inputs)} input sequences but {len(trajectories)} trajectories")
        for i, (x, t) in enumerate(zip(inputs, trajectories, strict=True)):
            if t.shape != (len(x), 3):
                raise ValueError(f"trajectory {i} has shape {t.shape}, expected ({len(x)}, 3)")


class ChunkedGenerator:
    """Seeded, shuffled, fixed-size batches of chunks over variable-length sequences; see the module docstring.

    inputs[i]: (T_i, J_in, C_in); poses_3d[i]: (T_i, J_out, 3); trajectories[i]: (T_i, 3). `pad` is (before,
    after) input frames around each chunk, normally `TemporalModelConfig.padding()`. Iterating runs one epoch;
    epoch e uses the random stream seeded by (seed, e), so a resumed run sees the same order (`set_epoch`).
    """

    def __init__(
        self,
        inputs: Sequence[npt.NDArray[np.floating[Any]]],
        poses_3d: Sequence[npt.NDArray[np.floating[Any]]] | None,
        trajectories: Sequence[npt.NDArray[np.floating[Any]]] | None,
        *,
        input_joints: JointSet,
        output_joints: JointSet | None,
        batch_size: int,
        chunk_length: int,
        pad: tuple[int, int],
        mirror: bool = True,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        _check_sequences(inputs, poses_3d, trajectories, input_joints, output_joints)
        if batch_size < 1 or chunk_length < 1 or pad[0] < 0 or pad[1] < 0:
            raise ValueError("batch_size and chunk_length must be positive and pad non-negative")
        self.input_joints = input_joints
        self.output_joints = output_joints
        self.batch_size = batch_size
        self.chunk_length = chunk_length
        self.pad = pad
        self.mirror = mirror
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0
        self.lengths = np.array([len(x) for x in inputs], dtype=np.int64)
        # Pad every sequence once: inputs by the receptive field plus enough frames to complete a chunk,
        # targets only to complete a chunk (frames past the end are marked invalid).
        tail = np.maximum(chunk_length - self.lengths, 0)
        self._inputs = [_edge_pad(x, pad[0], pad[1] + int(t)) for x, t in zip(inputs, tail, strict=True)]
        self._poses = (
            None
            if poses_3d is None
            else [_edge_pad(y, 0, int(t)) for y, t in zip(poses_3d, tail, strict=True)]
        )
        self._trajs = (
            None
            if trajectories is None
            else [_edge_pad(r, 0, int(t)) for r, t in zip(trajectories, tail, strict=True)]
        )
        self._chunks = self._make_chunks()

    def _make_chunks(self) -> npt.NDArray[np.int64]:
        """(N, 3) rows of (sequence, start, mirrored): chunks tile each sequence, the last one ends at its end."""
        rows = []
        for seq, n in enumerate(self.lengths):
            length = self.chunk_length
            starts = np.arange(0, max(int(n) - length, 0) + 1, length)
            if n > length and starts[-1] + length < n:
                starts = np.append(starts, n - length)
            for flip in (0, 1) if self.mirror else (0,):
                rows.append(np.stack([np.full_like(starts, seq), starts, np.full_like(starts, flip)], axis=1))
        chunks: npt.NDArray[np.int64] = np.concatenate(rows).astype(np.int64)
        return chunks

    @property
    def num_chunks(self) -> int:
        return len(self._chunks)

    def num_batches(self) -> int:
        full, rest = divmod(self.num_chunks, self.batch_size)
        return full + (0 if self.drop_last or rest == 0 else 1)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches()

    def __iter__(self) -> Iterator[Batch]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.num_chunks) if self.shuffle else np.arange(self.num_chunks)
        self.epoch += 1
        for b in range(self.num_batches()):
            yield self._batch(self._chunks[order[b * self.batch_size : (b + 1) * self.batch_size]])

    def _batch(self, rows: npt.NDArray[np.int64]) -> Batch:
        length = self.chunk_length
        span = length + self.pad[0] + self.pad[1]
        inputs = np.stack([self._inputs[s][t : t + span] for s, t, _ in rows])
        valid = np.stack([np.arange(t, t + length) < self.lengths[s] for s, t, _ in rows])
        poses = (
            None if self._poses is None else np.stack([self._poses[s][t : t + length] for s, t, _ in rows])
        )
        trajs = (
            None if self._trajs is None else np.stack([self._trajs[s][t : t + length] for s, t, _ in rows])
        )
        flip = rows[:, 2].astype(bool)
        if flip.any():
            inputs[flip] = mirror_points(inputs[flip], self.input_joints, axis=0)
            if poses is not None:
                assert self.output_joints is not None
                poses[flip] = mirror_points(poses[flip], self.output_joints, axis=0)
            if trajs is not None:
                trajs[flip] = _mirror_trajectory(trajs[flip])
        return Batch(inputs, poses, trajs, valid, rows[:, 0].copy(), rows[:, 1].copy(), flip)


@dataclass(frozen=True)
class EvaluationItem:
    """One whole sequence. inputs: (K, T + P, J_in, C_in) with K = 2 when the mirrored copy is included
    (index 1), else 1; poses_3d: (T, J_out, 3) or None; trajectory: (T, 3) or None; sequence: its index."""

    inputs: FloatArray
    poses_3d: FloatArray | None
    trajectory: FloatArray | None
    sequence: int


class EvaluationGenerator:
    """Whole, unchunked sequences in order, input edge-padded by `pad` (before, after)."""

    def __init__(
        self,
        inputs: Sequence[npt.NDArray[np.floating[Any]]],
        poses_3d: Sequence[npt.NDArray[np.floating[Any]]] | None,
        trajectories: Sequence[npt.NDArray[np.floating[Any]]] | None,
        *,
        input_joints: JointSet,
        output_joints: JointSet | None,
        pad: tuple[int, int],
        mirror: bool = False,
    ) -> None:
        _check_sequences(inputs, poses_3d, trajectories, input_joints, output_joints)
        self.inputs = list(inputs)
        self.poses_3d = None if poses_3d is None else list(poses_3d)
        self.trajectories = None if trajectories is None else list(trajectories)
        self.input_joints = input_joints
        self.pad = pad
        self.mirror = mirror

    def __len__(self) -> int:
        return len(self.inputs)

    def __iter__(self) -> Iterator[EvaluationItem]:
        for i, x in enumerate(self.inputs):
            padded = _edge_pad(x, *self.pad)
            stack = [padded, mirror_points(padded, self.input_joints, axis=0)] if self.mirror else [padded]
            yield EvaluationItem(
                inputs=np.stack(stack).astype(np.float32),
                poses_3d=None if self.poses_3d is None else np.asarray(self.poses_3d[i], dtype=np.float32),
                trajectory=None
                if self.trajectories is None
                else np.asarray(self.trajectories[i], dtype=np.float32),
                sequence=i,
            )
