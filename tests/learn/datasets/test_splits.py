"""The fixed split by person: disjoint, deterministic, linked subjects together."""

from __future__ import annotations

import pytest

from lifting.learn.datasets import splits


def test_split_tables_are_disjoint() -> None:
    assert not (splits.CMU_TEST & splits.CMU_VALIDATION)
    assert splits.HDM05_TEST == {"hdm05:mm", "hdm05:tr"}
    for s in splits.CMU_TEST:
        assert splits.subject_split(s) == "test"
    for s in splits.CMU_VALIDATION:
        assert splits.subject_split(s) == "validation"


def test_every_subject_has_exactly_one_split_and_it_is_stable() -> None:
    subjects = [f"cmu:{n}" for n in range(1, 150)] + [f"hdm05:{a}" for a in splits.HDM05_ACTORS]
    first = {s: splits.subject_split(s) for s in subjects}
    assert first == {s: splits.subject_split(s) for s in subjects}
    assert set(first.values()) == set(splits.SPLITS)
    assert first["hdm05:bd"] == "train" and first["hdm05:mm"] == "test" and first["cmu:86"] == "test"
    assert first["cmu:13"] == "validation" and first["cmu:69"] == "train"


def test_linked_subjects_share_a_split() -> None:
    seen: set[int] = set()
    for group in splits.CMU_LINKED_SUBJECTS:
        assert not (set(group) & seen), "a subject is in two link groups"
        seen.update(group)
        assert len({splits.subject_split(f"cmu:{n}") for n in group}) == 1
        listed = {f"cmu:{n}" for n in group} & (splits.CMU_TEST | splits.CMU_VALIDATION)
        assert not listed, "held-out subjects must not be linked to training ones"
    assert splits.linked_subjects("cmu:73") == ("cmu:123", "cmu:70", "cmu:73")
    assert splits.linked_subjects("hdm05:bd") == ("hdm05:bd",)


def test_unknown_subjects_raise() -> None:
    for bad in ("hdm05:zz", "cmu:x", "kit:1"):
        with pytest.raises(KeyError):
            splits.subject_split(bad)
