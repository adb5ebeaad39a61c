"""Output situations × commands (issue 13): a read-only target, a full disk (a small tmpfs) and two processes writing
the same output at once. Each case: exit status and a one-line message naming the problem, the input unchanged, no
partial output and no temporary part or lock file left."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import official_basicvsr_file
from vsrkit.io import open_reader

from .adversarial_helpers import (
    assert_one_line_error, child_env, leftovers, mounted, real_frames, remount_read_only, run_cli, snapshot,
    vsrkit_cmd, write_folder, write_mkv,
)

CONVERT_ARGS = ("--official-args", '{"num_feat": 8, "num_block": 1}')


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """A clip, a frame folder (a one-clip dataset), a folder of different-size photos and an official checkpoint."""
    src = tmp_path_factory.mktemp("sources")
    frames = real_frames(12, 96, 128)
    write_mkv(src / "clip.mkv", frames)
    write_folder(src / "gt", frames[:4])
    photos = src / "photos"
    photos.mkdir()
    for name, (h, w) in (("small.png", (88, 120)), ("large.png", (96, 128))):
        cv2.imwrite(str(photos / name), real_frames(1, h, w)[0][..., ::-1].copy())
    official_basicvsr_file(src / "official.pth")
    return src


def _commands(src: Path, dst: Path) -> dict[str, tuple]:
    return {
        "upscale video": ("upscale", "-m", "bicubic", src / "clip.mkv", "-o", dst / "out.mkv", "--quiet"),
        "upscale to frames": ("upscale", "-m", "bicubic", src / "clip.mkv", "-o", dst / "frames", "--quiet"),
        "upscale photos": ("upscale", "-m", "bicubic", src / "photos", "-o", dst / "up", "--quiet"),
        "degrade": ("degrade", src / "clip.mkv", dst / "lr", "-p", "bd", "--save-hr", dst / "hr"),
        "eval-model --save": ("eval-model", "bicubic", "--dataset", src / "gt", "--save", dst / "pred", "--scale",
                              "4"),
        "convert": ("convert", "basicvsr", src / "official.pth", "-o", dst / "w.safetensors", *CONVERT_ARGS),
    }


COMMANDS = list(_commands(Path("."), Path(".")))


@pytest.mark.parametrize("how", ["read-only mount", "immutable folder", "no write permission"])
def test_a_read_only_target_is_refused_before_any_work(tmp_path, capsys, sources, how):
    """Tests run as root, which may write into a folder without write permission: a read-only mount and an
    immutable folder (chattr +i) are what stops root too."""
    before = snapshot(sources)
    if how == "read-only mount":
        with mounted(tmp_path / "ro", "tmpfs", "size=1m") as ro:
            remount_read_only(ro)
            for name, args in _commands(sources, ro).items():
                rc, _, err = run_cli(capsys, *args)
                assert_one_line_error(rc, err, "cannot write into", str(ro), "read-only")
                assert list(ro.iterdir()) == [], name
    elif how == "no write permission":
        if os.geteuid() == 0:
            pytest.skip("root writes into a folder without write permission: the other two cases stop root")
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        try:
            for name, args in _commands(sources, folder).items():
                rc, _, err = run_cli(capsys, *args)
                assert_one_line_error(rc, err, "cannot write into", str(folder))
                assert list(folder.iterdir()) == [], name
        finally:
            folder.chmod(0o755)
    else:
        folder = tmp_path / "immutable"
        folder.mkdir()
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not available here (needs root on ext4/xfs/btrfs)")
        try:
            for name, args in _commands(sources, folder).items():
                rc, _, err = run_cli(capsys, *args)
                assert_one_line_error(rc, err, "cannot write into", str(folder))
                assert list(folder.iterdir()) == [], name
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert snapshot(sources) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_a_full_disk_is_a_one_line_error_and_leaves_nothing(tmp_path, capsys, sources, name):
    """A 16 KiB tmpfs: every output here is larger, so the write fails part-way through."""
    before = snapshot(sources)
    with mounted(tmp_path / "full", "tmpfs", "size=16k") as full:
        args = _commands(sources, full)[name]
        if name == "upscale video":
            args = (*args, "--scale", "4", "--crf", "0")  # lossless: larger than the disk
        rc, _, err = run_cli(capsys, *args)
        assert_one_line_error(rc, err)
        assert "space" in err and "partial" not in err and str(full) in err, err  # the output, not a temp name
        assert sorted(p.name for p in full.iterdir()) == [], name
    assert snapshot(sources) == before


def _run_twice_at_once(args: list, cwd: Path) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(vsrkit_cmd(*args), cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=180), *p.communicate()) for p in procs]


def _frames(path: Path) -> np.ndarray:
    with open_reader(path) as r:
        return np.stack([f.rgb for f in r])


@pytest.mark.slow
@pytest.mark.parametrize("overwrite", [False, True])
def test_two_upscales_of_one_output_at_once(tmp_path, sources, overwrite):
    """Two processes write out.mkv at the same time: without --overwrite one wins and the other says the output
    already exists; with it (over vsrkit's earlier output) both finish and the file is one complete run's."""
    args = ["upscale", "-m", "bicubic", sources / "clip.mkv", "-o", "out.mkv", "--quiet"]
    single = tmp_path / "single"
    single.mkdir()
    assert subprocess.run(vsrkit_cmd(*args), cwd=single, env=child_env(), timeout=180).returncode == 0
    work = tmp_path / "both"
    work.mkdir()
    if overwrite:  # vsrkit's earlier output is there
        assert subprocess.run(vsrkit_cmd(*args), cwd=work, env=child_env(), timeout=180).returncode == 0
        args.append("--overwrite")
    results = _run_twice_at_once(args, work)
    codes = sorted(r.returncode for r in results)
    if overwrite:
        assert codes == [0, 0], [r.stderr for r in results]
    else:
        assert codes == [0, 2], [r.stderr for r in results]
        assert_one_line_error(2, next(r.stderr for r in results if r.returncode == 2), "already exists")
    np.testing.assert_array_equal(_frames(work / "out.mkv"), _frames(single / "out.mkv"))
    assert sorted(p.name for p in work.iterdir()) == ["out.mkv"] and leftovers(work) == []


@pytest.mark.slow
def test_two_degrades_of_one_set_at_once(tmp_path, sources):
    """lr/, its sidecars and hr/ from two concurrent runs: one complete set, never parts of both runs mixed."""
    args = ["degrade", sources / "clip.mkv", "lr", "-p", "bd", "--save-hr", "hr"]
    results = _run_twice_at_once(args, tmp_path)
    assert sorted(r.returncode for r in results) == [0, 2], [r.stderr for r in results]
    loser = next(r for r in results if r.returncode == 2)
    assert_one_line_error(2, loser.stderr, "already exists")
    meta = json.loads((tmp_path / "lr.degradation.json").read_text())
    assert meta["frames"] == 12 and len(list((tmp_path / "lr").glob("*.png"))) == 12
    assert np.load(tmp_path / "lr.kernels.npy").shape[0] == 12 and len(list((tmp_path / "hr").glob("*.png"))) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hr", "lr", "lr.degradation.json", "lr.kernels.npy"]
    assert leftovers(tmp_path) == []
