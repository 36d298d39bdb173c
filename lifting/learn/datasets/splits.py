"""The fixed train / validation / test split of the motion-capture data, by person.

Numbers are comparable between versions only if the split never changes: edit this table only together with a
note in the results that the split changed. Subjects are named `"<set>:<id>"`: `hdm05:bd` (HDM05 actor codes),
`cmu:86` (CMU subject numbers, the same person in every CMU file: BVH, dance BVH, 20-joint arrays).

- Test: the HDM05 actors `mm` and `tr` (the set's own test actors, 120 Hz, 99 clips) and six CMU subjects chosen
  for everyday variety, about 10% of the CMU frames: 2 (walk, run, jump, punch, swordplay, washing; also in the
  60 fps BVH set, so native-rate test motion), 14 (boxing, climbing, waving, drinking, jumps), 16 (runs, jumps,
  turns), 86 (basketball, kicks and punches, sit/stand, run), 111 (bow, crawl, get up from chair and floor,
  lie down, march, punch, dance), 143 (ladder, throw and catch, hopscotch, jumps).
- Validation: CMU subjects 5 (ballet, 60 fps BVH), 13 (same action list as 14, another person), 35 (walk,
  run, obstacles), 113 (everyday actions), 124 (sports moves), about 5% of the CMU frames.
- Train: every other subject.

Linked subjects (`CMU_LINKED_SUBJECTS`) must share a split: the 20-joint array file holds byte-identical copies
of whole sessions under two or three subject numbers (see `lifting.learn.datasets.cmu_joints20.duplicate_groups`), and
the two partners of a two-person recording (18/19, 20/21, 22/23, 33/34, the salsa couples 60/61) move together.
"""

from __future__ import annotations

from typing import Literal

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")
# Bump together with a note in docs/results.md whenever the tables below change.
SPLIT_VERSION = 1

HDM05_ACTORS: tuple[str, ...] = ("bd", "bk", "dg", "mm", "tr")
HDM05_TEST: frozenset[str] = frozenset({"hdm05:mm", "hdm05:tr"})

CMU_TEST: frozenset[str] = frozenset(f"cmu:{n}" for n in (2, 14, 16, 86, 111, 143))
CMU_VALIDATION: frozenset[str] = frozenset(f"cmu:{n}" for n in (5, 13, 35, 113, 124))

# Groups of CMU subject numbers that are one session: duplicated arrays (the first number of each group is the
# one `CMU data.csv` describes) or the two partners of a two-person recording.
CMU_LINKED_SUBJECTS: tuple[tuple[int, ...], ...] = (
    (78, 102),
    (93, 103),
    (91, 105),
    (141, 106),
    (85, 117),
    (90, 121),
    (83, 122),
    (70, 73, 123),
    (77, 139),
    (64, 63),
    (74, 84),
    (18, 19),
    (20, 21),
    (22, 23),
    (33, 34),
    (60, 61),
)


def linked_subjects(subject: str) -> tuple[str, ...]:
    """All subject names that must share `subject`'s split (itself included), sorted."""
    if subject.startswith("cmu:"):
        n = int(subject[4:])
        for group in CMU_LINKED_SUBJECTS:
            if n in group:
                return tuple(sorted(f"cmu:{m}" for m in group))
    return (subject,)


def subject_split(subject: str) -> Split:
    """The split of a subject name ("hdm05:bd", "cmu:86"); unknown HDM05 actors raise KeyError."""
    if subject.startswith("hdm05:"):
        if subject[6:] not in HDM05_ACTORS:
            raise KeyError(f"unknown HDM05 actor {subject!r}")
        return "test" if subject in HDM05_TEST else "train"
    if not subject.startswith("cmu:") or not subject[4:].isdigit():
        raise KeyError(f"subject names look like 'hdm05:bd' or 'cmu:86', got {subject!r}")
    group = linked_subjects(subject)
    if any(s in CMU_TEST for s in group):
        return "test"
    if any(s in CMU_VALIDATION for s in group):
        return "validation"
    return "train"
