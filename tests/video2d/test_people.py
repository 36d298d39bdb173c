"""Everyone on one frame, for choosing whom to follow: the sample clip's frame 150 has the passer-by walking
below and the jumper, backlit on the box, whom only the finer search finds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lifting.app import people as people_command
from lifting.errors import MocapError
from lifting.video2d.people import people_on_frame, person_box, person_point
from tests.support.paths import EXCERPT, SAMPLE

needs_sample = pytest.mark.skipif(not SAMPLE.is_file(), reason=f"needs the sample clip {SAMPLE}")


@pytest.mark.slow
@needs_sample
def test_both_people_on_frame_150_left_to_right() -> None:
    people, frame = people_on_frame(SAMPLE, 150)
    assert frame.shape == (994, 1768, 3)
    points = [person_point(p) for p in people]
    assert [x for x, _ in points] == sorted(x for x, _ in points)
    passer_by = [p for p in points if abs(p[0] - 542) < 40 and abs(p[1] - 723) < 40]
    jumper = [p for p in points if abs(p[0] - 778) < 40 and abs(p[1] - 259) < 40]
    assert len(passer_by) == 1 and len(jumper) == 1
    for person in people:
        x0, y0, x1, y1 = person_box(person)
        x, y = person_point(person)
        assert x0 < x < x1 and y0 < y < y1


def test_the_command_numbers_everyone_and_prints_their_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "people.png"
    assert people_command.main([str(EXCERPT), "--frame", "0", "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1: --subject ") and lines[-1] == f"→ {out}"
    picture = cv2.imread(str(out))
    original = people_on_frame(EXCERPT, 0)[1]
    assert picture.shape == original.shape
    assert np.abs(picture.astype(int) - original.astype(int)).max() > 100  # outlines drawn


def test_a_frame_outside_the_video_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(
        MocapError, match=r"^Frame 60 is not in sports2d_excerpt\.mp4, whose frames are 0 to 59\.$"
    ):
        people_on_frame(EXCERPT, 60)
    assert people_command.main([str(EXCERPT), "--frame", "60", "-o", str(tmp_path / "p.png")]) == 2
    assert not (tmp_path / "p.png").exists()
