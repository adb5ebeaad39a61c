"""Stops × commands (issue 13): SIGINT (Ctrl-C) at a random point of the work, then SIGKILL at another and a re-run
of the same command, for upscale (one video, a folder of photos, a batch, --segment) and degrade --save-hr.

After the stop: the exit status is 130 (or 0 when the command had finished), the one-line message is true (what it
says was published exists, "no output was written" means nothing is there), and no partial output or temporary part
is left. After the kill, the re-run cleans what the killed run left and publishes the complete output. The random
points come from a seeded generator, measured from the moment the command starts writing."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vsrkit.io import open_reader

from .adversarial_helpers import child_env, leftovers, real_frames, snapshot, vsrkit_cmd, write_mkv

FRAMES = 36


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("stop-sources")
    frames = real_frames(FRAMES, 96, 128)
    write_mkv(src / "clip.mkv", frames)
    write_mkv(src / "other.mkv", frames[::-1])
    photos = src / "photos"
    photos.mkdir()
    for i in range(24):
        cv2.imwrite(str(photos / f"p{i:02d}.png"), frames[i][: 88 + (i % 2) * 8, :120, ::-1].copy())
    return src


def _frame_count(path: Path) -> int:
    with open_reader(path) as r:
        return sum(1 for _ in r)


def _complete_video(out: Path) -> None:
    assert _frame_count(out) == FRAMES


def _complete_photos(out: Path) -> None:
    assert len(list(out.glob("p*.png"))) == 24


def _complete_batch(out: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == ["clip.mkv", "other.mkv"]
    assert _frame_count(out / "clip.mkv") == _frame_count(out / "other.mkv") == FRAMES


def _complete_degrade(out: Path) -> None:
    meta = json.loads((out.parent / "lr.degradation.json").read_text())
    assert meta["frames"] == FRAMES and np.load(out.parent / "lr.kernels.npy").shape[0] == FRAMES
    assert len(list(out.glob("*.png"))) == len(list((out.parent / "gt").glob("*.png"))) == FRAMES


# name: (arguments, the output, what "complete" means, the glob that shows writing has begun)
SCENARIOS = {
    "video": (["upscale", "-m", "bicubic", "{src}/clip.mkv", "-o", "out.mkv", "--chunk", "2", "--overwrite"],
              "out.mkv", _complete_video, ".out.mkv.partial-*"),
    "photos": (["upscale", "-m", "bicubic", "{src}/photos", "-o", "up", "--overwrite"], "up", _complete_photos,
               ".up~partial-*"),
    "batch": (["upscale", "-m", "bicubic", "{src}/clip.mkv", "{src}/other.mkv", "-o", "batch/", "--ext", ".mkv"],
              "batch", _complete_batch, "batch/.*.partial-*"),
    "segment": (["upscale", "-m", "bicubic", "{src}/clip.mkv", "-o", "seg.mkv", "--segment", "8", "--overwrite"],
                "seg.mkv", _complete_video, ".seg.mkv.vsrkit-work/seg-*.json"),
    "degrade": (["degrade", "{src}/clip.mkv", "lr", "-p", "bd", "--save-hr", "gt", "--overwrite"], "lr",
                _complete_degrade, ".*partial-*"),
}


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(vsrkit_cmd(*args, *(["--quiet"] if args[0] == "upscale" else [])), cwd=cwd,
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop_while_writing(proc: subprocess.Popen, cwd: Path, began: str, sig: int,
                        delay: float) -> tuple[int, str, str]:
    """Send ``sig`` ``delay`` seconds after the first temporary part matching ``began`` appears (or at once if the
    command ends first); return the exit status, stdout and stderr."""
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(cwd.glob(began)):
        time.sleep(0.01)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def _published_outputs(out: Path) -> list[Path]:
    if out.is_dir() and out.name == "batch":  # the batch's folder exists only once it holds an output
        return [p for p in out.iterdir() if not p.name.startswith(".")] or [out]
    return [out] if out.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_ctrl_c_then_sigkill_and_rerun(tmp_path, sources, name):
    template, out_name, complete, began = SCENARIOS[name]
    args = [a.format(src=sources) for a in template]
    out = tmp_path / out_name
    before = snapshot(sources)
    rng = random.Random(f"issue13-{name}")

    # Ctrl-C at a random point of the work: the message tells the truth, nothing partial is left.
    rc, stdout, err = _stop_while_writing(_start(args, tmp_path), tmp_path, began, signal.SIGINT,
                                          rng.uniform(0.0, 0.6))
    lines = err.strip().splitlines()
    if rc == 0 or (rc == -signal.SIGINT and not err and stdout.startswith("wrote ")):
        # finished; a Ctrl-C that lands while the interpreter exits, after the command returned (its handlers are
        # gone), ends the process by the signal without a message, with the output complete
        complete(out)
    else:
        assert rc == 130 and len(lines) == 1 and lines[0].startswith("vsrkit: interrupted ("), err
        if name == "segment":
            assert "re-run the same command to resume" in lines[0] and not out.exists()
        elif "no output was written" in lines[0]:
            assert _published_outputs(out) == [], lines[0]
        else:
            said = lines[0].split("complete before the stop: ", 1)[1].split("; nothing else")[0].split(", ")
            assert sorted(said) == sorted(str(p) for p in _published_outputs(out)), lines[0]
        assert "Traceback" not in err
    kept = [p for p in leftovers(tmp_path) if not p.endswith(".vsrkit-work")]  # --segment keeps its finished work
    assert kept == []

    # SIGKILL at another random point, then the same command again: it finishes and cleans up.
    proc = _start(args, tmp_path)
    _stop_while_writing(proc, tmp_path, began, signal.SIGKILL, rng.uniform(0.0, 0.6))
    done = _start(args, tmp_path)
    _, err = done.communicate(timeout=240)
    assert done.returncode == 0, err
    complete(out)
    assert leftovers(tmp_path) == [] and snapshot(sources) == before
