"""Stops × multi-part outputs, and a full disk: SIGTERM mid-write, SIGKILL then re-run, a file-size limit (issue 13).

Each case checks the exit status and the one-line message, that the input is unchanged and that no partial or
stale output and no temporary part is left."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import time

import cv2
import numpy as np
import pytest

from .adversarial_helpers import child_env, leftovers, real_frames, snapshot, vsrkit_cmd, write_folder, write_mkv


def _start(*args, cwd, limit_bytes: int | None = None) -> subprocess.Popen:
    def limits() -> None:
        if limit_bytes is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, like a full disk
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.Popen(vsrkit_cmd(*args), cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=limits)


def _wait_for(pattern: str, root, timeout: float = 90.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if list(root.glob(pattern)):
            return True
        time.sleep(0.02)
    return False


def test_sigterm_while_a_photo_folder_is_written_leaves_nothing_and_says_so(tmp_path):
    """A folder of different-size photos: SIGTERM once the first PNG exists left a half-filled folder while the CLI
    said no output was written."""
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(40):
        cv2.imwrite(str(src / f"p{i:02d}.png"), real_frames(1, 40 + (i % 2) * 8, 56)[0][..., ::-1].copy())
    before = snapshot(src)
    proc = _start("upscale", "-m", "bicubic", src, "-o", "up", "--scale", "4", "--quiet", cwd=tmp_path)
    assert _wait_for(".up~partial-*/p00.png", tmp_path), "the upscale never started writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:  # finished before the signal arrived: then the whole folder is there
        assert len(list((tmp_path / "up").glob("*.png"))) == 40
    else:
        assert proc.returncode == 143 and err.strip().splitlines() == ["vsrkit: terminated (no output was written)"]
        assert not (tmp_path / "up").exists()
    assert snapshot(src) == before and leftovers(tmp_path) == []


@pytest.mark.slow
def test_sigkill_during_degrade_with_save_hr_then_rerun_gives_one_consistent_set(tmp_path, frames12):
    """lr/, its sidecars and gt/ are one set: after a SIGKILL at any point, the next run of the same command cleans
    what the killed one left and publishes a complete, matching set."""
    src = write_mkv(tmp_path / "clip.mkv", frames12)
    before = snapshot(src)
    args = ("degrade", "clip.mkv", "lr", "-p", "bd", "--save-hr", "gt", "--overwrite")
    for delay in (0.3, 1.5):
        proc = _start(*args, cwd=tmp_path)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=60)
        finals = {n for n in ("lr", "gt", "lr.kernels.npy", "lr.degradation.json") if (tmp_path / n).exists()}
        assert finals in (set(), {"lr", "gt", "lr.kernels.npy", "lr.degradation.json"})  # never a mix
        done = _start(*args, cwd=tmp_path)
        _, err = done.communicate(timeout=120)
        assert done.returncode == 0, err
        meta = json.loads((tmp_path / "lr.degradation.json").read_text())
        assert meta["protocol"] == "bd" and meta["frames"] == 12
        assert len(list((tmp_path / "lr").glob("*.png"))) == 12 and len(list((tmp_path / "gt").glob("*.png"))) == 12
        assert np.load(tmp_path / "lr.kernels.npy").shape[0] == 12
        assert leftovers(tmp_path) == [] and snapshot(src) == before


def test_a_full_disk_is_an_error_not_a_success(tmp_path, frames12):
    """eval-model --save on a full file system wrote some frames and exited 0 (cv2.imwrite's False was ignored).
    Here every file is limited to 4 kB (RLIMIT_FSIZE): the predicted PNGs do not fit."""
    gt = write_folder(tmp_path / "gt", real_frames(3, 96, 128))
    before = snapshot(gt)
    proc = _start("eval-model", "bicubic", "--dataset", "gt", "--save", "pred", "--scale", "2", cwd=tmp_path,
                  limit_bytes=4_000)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vsrkit: error: could not write") and "disk space" in lines[0]
    assert not (tmp_path / "pred").exists() and leftovers(tmp_path) == [] and snapshot(gt) == before
