"""Install Engine's pure parts, without Blender: reading pip's progress from its real output, the pip option
that prints it, the record an installed engine keeps of what it was built from, the installer's plan and the
step sequence's weighted progress. (The Python refusal, `engine.python_problem`, is tested in
tests/app/test_worker.py beside the installer's other checks.)

The pip outputs below are real stdout, captured with the pips named (pip's stderr, its update notice, omitted):
pip 25.2 downloading a 30 MB wheel from a local package index that serves it at about 8 MB/s (so the full URL
is logged, as for PyTorch's own index, and byte counts arrive every quarter second), pip 25.2 installing three
of the engine's pins from PyPI, and pip 24.0 (Blender 4.2's) installing matplotlib from PyPI without progress.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.addon import addon_module

engine = addon_module("engine")
worker_client = addon_module("worker_client")

# pip 25.2: `pip install --progress-bar raw --index-url http://127.0.0.1:8765/whl/cpu faketorch==2.13.0`
PIP_RAW_FROM_AN_INDEX = """\
Looking in indexes: http://127.0.0.1:8765/whl/cpu
Collecting faketorch==2.13.0
  Downloading http://127.0.0.1:8765/whl/faketorch-2.13.0%2Bcpu-py3-none-any.whl (30.0 MB)
Progress 0 of 30010488
Progress 262144 of 30010488
Progress 2359296 of 30010488
Progress 4456448 of 30010488
Progress 6553600 of 30010488
Progress 8650752 of 30010488
Progress 10747904 of 30010488
Progress 12845056 of 30010488
Progress 14942208 of 30010488
Progress 17039360 of 30010488
Progress 19136512 of 30010488
Progress 21233664 of 30010488
Progress 23330816 of 30010488
Progress 25427968 of 30010488
Progress 28573696 of 30010488
Progress 30010488 of 30010488
Installing collected packages: faketorch
Successfully installed faketorch-2.13.0+cpu
"""

# pip 25.2: `pip install --progress-bar raw numpy==1.26.4 scipy==1.17.1 opencv-python-headless==4.11.0.86`
PIP_RAW_SEVERAL_FILES = """\
Collecting numpy==1.26.4
  Downloading numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (18.3 MB)
Progress 0 of 18252005
Progress 262144 of 18252005
Progress 18252005 of 18252005
Collecting scipy==1.17.1
  Downloading scipy-1.17.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl (35.3 MB)
Progress 0 of 35349300
Progress 262144 of 35349300
Progress 35349300 of 35349300
Collecting opencv-python-headless==4.11.0.86
  Downloading opencv_python_headless-4.11.0.86-cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (50.0 MB)
Progress 0 of 49969856
Progress 262144 of 49969856
Progress 49969856 of 49969856
Installing collected packages: numpy, scipy, opencv-python-headless
Successfully installed numpy-1.26.4 opencv-python-headless-4.11.0.86 scipy-1.17.1
"""

# pip 24.0 (no raw progress): `pip install --progress-bar off matplotlib==3.10.3`
PIP_WITHOUT_PROGRESS = """\
Collecting matplotlib==3.10.3
  Downloading matplotlib-3.10.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (8.6 MB)
Collecting contourpy>=1.0.1 (from matplotlib==3.10.3)
  Downloading contourpy-1.3.3-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl (355 kB)
Collecting cycler>=0.10 (from matplotlib==3.10.3)
  Downloading cycler-0.12.1-py3-none-any.whl (8.3 kB)
Collecting fonttools>=4.22.0 (from matplotlib==3.10.3)
  Downloading fonttools-4.69.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl (6.8 MB)
Collecting kiwisolver>=1.3.1 (from matplotlib==3.10.3)
  Downloading kiwisolver-1.5.1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl (1.4 MB)
Collecting numpy>=1.23 (from matplotlib==3.10.3)
  Downloading numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl (16.9 MB)
Collecting packaging>=20.0 (from matplotlib==3.10.3)
  Downloading packaging-26.4-py3-none-any.whl (140 kB)
Collecting pillow>=8 (from matplotlib==3.10.3)
  Downloading pillow-13.0.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl (7.1 MB)
Collecting pyparsing>=2.3.1 (from matplotlib==3.10.3)
  Downloading pyparsing-3.3.3-py3-none-any.whl (126 kB)
Collecting python-dateutil>=2.7 (from matplotlib==3.10.3)
  Downloading python_dateutil-4.0.0-py3-none-any.whl (92 kB)
Collecting tzdata (from python-dateutil>=2.7->matplotlib==3.10.3)
  Downloading tzdata-2026.6-py2.py3-none-any.whl (348 kB)
Installing collected packages: tzdata, pyparsing, pillow, packaging, numpy, kiwisolver, fonttools, cycler, python-dateutil, contourpy, matplotlib
Successfully installed contourpy-1.3.3 cycler-0.12.1 fonttools-4.69.1 kiwisolver-1.5.1 matplotlib-3.10.3 numpy-2.4.6 packaging-26.4 pillow-13.0.0 pyparsing-3.3.3 python-dateutil-4.0.0 tzdata-2026.6
"""


def read(output: str) -> list[tuple[str, object]]:
    """(line, state after it or None) for each line of pip's output, fed to PipProgress one by one."""
    state, seen = engine.PipProgress(), []
    for line in output.splitlines():
        after = state.feed(line)
        seen.append((line, after))
        state = after if after is not None else state
    return seen


def states(output: str) -> list[object]:
    return [s for _, s in read(output) if s is not None]


# -- reading pip's output --------------------------------------------------------------------------------------
def test_raw_progress_follows_the_bytes_of_a_download_from_an_index() -> None:
    seen = read(PIP_RAW_FROM_AN_INDEX)
    ignored = [line for line, s in seen if s is None]
    assert ignored == [
        "Looking in indexes: http://127.0.0.1:8765/whl/cpu",
        "Collecting faketorch==2.13.0",
        "Successfully installed faketorch-2.13.0+cpu",
    ]
    read_states = [s for _, s in seen if s is not None]
    messages = [s.message for s in read_states]
    assert messages[0] == "downloading faketorch (30 MB)"  # named by its URL: %2B is decoded, +cpu dropped
    assert "downloading faketorch, 15 of 30 MB" in messages
    assert messages[-2] == "downloading faketorch, 30 of 30 MB"
    assert messages[-1] == "installing 1 package"
    fractions = [s.fraction for s in read_states]
    assert fractions == sorted(fractions) and fractions[0] == 0.0
    assert len(set(fractions)) >= 14  # one step per byte count: the bar moves during the download
    halfway = next(s for s in read_states if s.done == 14942208)
    assert halfway.fraction == pytest.approx(engine.PIP_DOWNLOAD_SHARE * 14942208 / 30010488)
    assert fractions[-1] == engine.PIP_DOWNLOAD_SHARE


def test_raw_progress_over_several_files_never_goes_back() -> None:
    read_states = states(PIP_RAW_SEVERAL_FILES)
    messages = [s.message for s in read_states]
    for expected in (
        "downloading numpy (18 MB)",
        "downloading numpy, 18 of 18 MB",
        "downloading scipy, 35 of 35 MB",
        "downloading opencv-python-headless (50 MB)",
        "downloading opencv-python-headless, 50 of 50 MB",
        "installing 3 packages",
    ):
        assert expected in messages, (expected, messages)
    fractions = [s.fraction for s in read_states]
    assert fractions == sorted(fractions) and max(fractions) <= engine.PIP_DOWNLOAD_SHARE
    last = read_states[-2]  # the last byte count: the two files before it are counted as fetched
    assert (last.before, last.done, last.total) == (18252005 + 35349300, 49969856, 49969856)


def test_an_older_pip_without_byte_counts_still_names_each_file() -> None:
    messages = [s.message for s in states(PIP_WITHOUT_PROGRESS)]
    assert messages == [
        "downloading matplotlib (8.6 MB)",
        "downloading contourpy (355 kB)",
        "downloading cycler (8 kB)",
        "downloading fonttools (6.8 MB)",
        "downloading kiwisolver (1.4 MB)",
        "downloading numpy (17 MB)",
        "downloading packaging (140 kB)",
        "downloading pillow (7.1 MB)",
        "downloading pyparsing (126 kB)",
        "downloading python-dateutil (92 kB)",
        "downloading tzdata (348 kB)",
        "installing 11 packages",
    ]


def test_cached_resumed_and_metadata_lines() -> None:
    # The forms pip's own format strings make ("Using cached %s", "Resuming download %s" with "(done/total)"),
    # and the metadata file pip fetches before a wheel, which is not the download to show.
    start = engine.PipProgress()
    cached = start.feed(
        "  Using cached numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (18.3 MB)"
    )
    assert cached is not None and cached.message == "using the cached numpy (18 MB)" and cached.cached
    resumed = cached.feed(
        "  Resuming download https://download.pytorch.org/whl/cpu/torch-2.13.0%2Bcpu-cp311-cp311-"
        "manylinux_2_28_x86_64.whl (12.0 MB/190.5 MB)"
    )
    assert resumed is not None and resumed.message == "downloading torch, 12 of 190 MB"
    assert resumed.before == 18300000 and not resumed.cached
    assert (
        resumed.feed("  Downloading torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl.metadata (29 kB)")
        is None
    )
    assert start.feed("Progress 5000000 of 0") is not None  # an unknown length
    assert start.feed("Progress 5000000 of 0").message == "downloading a package, 5.0 MB"  # type: ignore[union-attr]
    assert start.feed("ERROR: No matching distribution found for torch==2.13.0") is None


# -- which progress pip can print -----------------------------------------------------------------------------
def test_raw_progress_only_where_pip_has_it() -> None:
    assert engine.pip_progress_args((24, 0)) == ("--progress-bar", "off")  # Blender 4.2's Python 3.11.9
    assert engine.pip_progress_args((24, 1)) == ("--progress-bar", "raw")
    assert engine.pip_progress_args((25, 2)) == ("--progress-bar", "raw")
    assert engine.pip_progress_args((0,)) == ("--progress-bar", "off")  # unknown


def test_the_bundled_pip_is_the_one_a_new_venv_gets(tmp_path: Path) -> None:
    version = engine.bundled_pip_version()
    assert len(version) >= 2 and version > (9,)
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "v")], check=True, timeout=300)
    out = subprocess.run(
        [str(engine.venv_python(tmp_path / "v")), "-m", "pip", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert out.startswith("pip " + ".".join(map(str, version)) + " "), out


# -- what an installed engine was built from ------------------------------------------------------------------
def test_the_install_record_says_whether_an_engine_is_current(tmp_path: Path) -> None:
    reqs = tmp_path / "requirements.json"
    reqs.write_text(json.dumps({"torch": "torch==2.13.0", "packages": ["numpy==1.26.4"]}))
    digest = engine.requirements_digest(reqs)
    venv = tmp_path / "engine-venv"
    venv.mkdir()
    assert (
        engine.stamp_problem(venv, digest, (3, 11))
        == "the engine was installed by an earlier version of the add-on"
    )
    stamp = engine.write_stamp(venv, digest, (3, 11))
    assert json.loads(stamp.read_text()) == {"format": 1, "requirements_sha256": digest, "python": "3.11"}
    assert engine.stamp_problem(venv, digest, (3, 11)) is None
    assert engine.stamp_problem(venv, digest, (3, 13)) == (
        "the engine was built with Python 3.11 and this Blender runs Python 3.13"
    )
    reqs.write_text(json.dumps({"torch": "torch==2.13.0", "packages": ["numpy==2.4.6"]}))
    assert engine.requirements_digest(reqs) != digest
    assert engine.stamp_problem(venv, engine.requirements_digest(reqs), (3, 11)) == (
        "the add-on's engine requirements changed"
    )
    stamp.write_text("{not json")
    assert engine.stamp_problem(venv, digest, (3, 11)) == "the engine's install record is unreadable"
    with pytest.raises(engine.EngineError, match=r"the add-on's engine requirements are unreadable"):
        engine.requirements_digest(tmp_path / "missing.json")


# -- the installer's plan and its progress --------------------------------------------------------------------
def test_the_plan_reads_pips_progress_and_weighs_pytorch_most() -> None:
    reqs = engine.Requirements("torch==2.13.0", ("numpy==1.26.4",), ("mediapipe==1.2.3",))
    target = Path("/u/engine-venv.tmp")
    args = dict(gpu=False, platform="linux")
    steps = engine.install_steps("/b/python", target, reqs, Path("/a/engine"), Path("/u/pyc"), **args)
    new = engine.install_steps(
        "/b/python", target, reqs, Path("/a/engine"), Path("/u/pyc"), pip_version=(24, 3, 1), **args
    )
    pip_steps = [s for s in steps if "pip" in s.argv]
    assert [s.label for s in pip_steps] == [
        "Installing PyTorch",
        "Installing the worker's packages",
        "Installing MediaPipe",
    ]
    assert all(s.progress == engine.PipProgress() for s in pip_steps)
    assert all(s.progress is None for s in steps if s not in pip_steps)
    assert all(s.argv[5:7] == ("--progress-bar", "off") for s in pip_steps)  # pip unknown: no raw output
    assert all(s.argv[5:7] == ("--progress-bar", "raw") for s in new if "pip" in s.argv)
    torch = steps[1]
    assert torch.weight > sum(s.weight for s in steps) / 2  # most of the download
    assert steps[-1].argv == engine.check_argv(engine.venv_python(target))


REPLAY = (
    "import sys, time\nfor line in sys.argv[1].splitlines():\n    print(line, flush=True); time.sleep(0.01)\n"
)
CHECK = (
    "import json; print(json.dumps({'event': 'check', 'packages': {'torch': '2.13.0'}, 'device': 'cpu'}));"
    "print(json.dumps({'event': 'done', 'result': 'cpu'}))"
)


def test_a_sequence_weighs_its_steps_and_reads_pips_lines(tmp_path: Path) -> None:
    Step, JobSequence = worker_client.Step, worker_client.JobSequence
    steps = [
        Step("Creating", (sys.executable, "-c", "pass"), weight=1.0),
        Step(
            "Installing PyTorch",
            (sys.executable, "-c", REPLAY, PIP_RAW_FROM_AN_INDEX),
            weight=8.0,
            progress=engine.PipProgress(),
        ),
        Step("Checking", (sys.executable, "-c", CHECK), weight=1.0),
    ]
    seq = JobSequence(steps, log_path=tmp_path / "install.log")
    seq.start()
    seen: list[tuple[float, str]] = []
    outcome = None
    for _ in range(6000):
        outcome = seq.step()
        seen.append((seq.fraction, seq.message))
        if outcome is not None:
            break
        time.sleep(0.002)
    assert outcome is not None and outcome.status == "done", outcome
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    during = [(f, m) for f, m in seen if m.startswith("Installing PyTorch: downloading faketorch, ")]
    assert any(re.fullmatch(r"Installing PyTorch: downloading faketorch, \d+ of 30 MB", m) for _, m in during)
    inside = {round(f, 4) for f, _ in during if 0.1 < f < 0.9}
    assert len(inside) >= 3, seen  # the bar moves with the bytes, within the step's share (0.1 to 0.9)
    assert seq.events["check"]["packages"] == {"torch": "2.13.0"}
    log = (tmp_path / "install.log").read_text()
    assert "Progress 30010488 of 30010488" in log  # pip's lines are kept in the log as they came
