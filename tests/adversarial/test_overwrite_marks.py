"""--overwrite replaces only what vsrkit wrote, files as well as folders (issue 13): every command's single-file
outputs (videos, pictures, sidecars, converted weights, ONNX files) are refused when the file at that name is the
user's, also where the file system has no extended attributes (a per-folder ledger of content hashes then)."""

from __future__ import annotations

import errno
import os

import cv2
import pytest

from conftest import official_basicvsr_file
from vsrkit.io import marks, outputs

from .adversarial_helpers import (
    assert_one_line_error, leftovers, mounted, real_frames, run_cli, snapshot, write_mkv,
)

CONVERT_ARGS = ("--official-args", '{"num_feat": 8, "num_block": 1}')


@pytest.fixture
def inputs(tmp_path, frames12):
    src = tmp_path / "in"
    src.mkdir()
    write_mkv(src / "clip.mkv", frames12[:4])
    cv2.imwrite(str(src / "photo.png"), frames12[0][..., ::-1].copy())
    official_basicvsr_file(src / "official.pth")
    return src


def _commands(src, out):
    """(command, the file it would replace): every command that publishes a single file."""
    return [
        (("upscale", "-m", "bicubic", src / "clip.mkv", "-o", out / "up.mkv", "--quiet"), out / "up.mkv"),
        (("upscale", "-m", "bicubic", src / "photo.png", "-o", out / "up.png", "--quiet"), out / "up.png"),
        (("degrade", src / "clip.mkv", out / "lr", "-p", "bd"), out / "lr.kernels.npy"),  # a sidecar
        (("degrade", src / "clip.mkv", out / "lr2", "-p", "bi"), out / "lr2.degradation.json"),
        (("convert", "basicvsr", src / "official.pth", "-o", out / "w.safetensors", *CONVERT_ARGS),
         out / "w.safetensors"),
    ]


def _check_commands(capsys, src, out):
    out.mkdir(exist_ok=True)
    before = snapshot(src)
    for args, target in _commands(src, out):
        # the user's file at that name: refused with --overwrite, naming it and the fix, and left as it was
        target.write_bytes(b"the user's own file")
        rc, _, err = run_cli(capsys, *args, "--overwrite")
        assert_one_line_error(rc, err, str(target), "did not write", "delete it yourself")
        assert target.read_bytes() == b"the user's own file", args
        target.unlink()
        # vsrkit's own output: written, then replaced by the same command with --overwrite
        for extra in ((), ("--overwrite",)):
            rc, _, err = run_cli(capsys, *args, *extra)
            assert rc == 0, (args, err)
        assert outputs.is_vsrkit_file(target)
    assert snapshot(src) == before and leftovers(out.parent) == []


def test_overwrite_replaces_only_files_vsrkit_wrote(tmp_path, capsys, inputs):
    _check_commands(capsys, inputs, tmp_path / "out")


def test_a_file_changed_since_vsrkit_wrote_it_is_the_users(tmp_path, capsys, inputs):
    out = tmp_path / "up.png"
    assert run_cli(capsys, "upscale", "-m", "bicubic", inputs / "photo.png", "-o", out, "--quiet")[0] == 0
    assert outputs.is_vsrkit_file(out)
    with open(out, "ab") as f:  # edited in place (the attribute stays, the size and time do not)
        f.write(b"an edit")
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", inputs / "photo.png", "-o", out, "--overwrite",
                         "--quiet")
    assert_one_line_error(rc, err, "changed since vsrkit wrote it", str(out))
    assert out.read_bytes().endswith(b"an edit")


def test_export_refuses_the_users_onnx_file_before_exporting(tmp_path, capsys):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"the user's graph")
    rc, _, err = run_cli(capsys, "export", "bicubic", "-o", target, "--overwrite", "--no-check")
    assert_one_line_error(rc, err, str(target), "did not write")
    assert target.read_bytes() == b"the user's graph"


@pytest.fixture
def no_xattrs(monkeypatch):
    """A file system without user extended attributes (FAT, some network mounts): every call fails as there."""

    def unsupported(*args, **kwargs):
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(os, "setxattr", unsupported)
    monkeypatch.setattr(os, "getxattr", unsupported)


def test_without_xattrs_a_ledger_of_hashes_tells_vsrkit_files_apart(tmp_path, capsys, inputs, no_xattrs):
    _check_commands(capsys, inputs, tmp_path / "out")
    ledger = tmp_path / "out" / marks.LEDGER
    assert ledger.is_file()
    # an unrelated file of the same size under a published name is not vsrkit's: the hash differs
    published = tmp_path / "out" / "up.png"
    size = published.stat().st_size
    published.unlink()
    published.write_bytes(b"x" * size)
    assert not outputs.is_vsrkit_file(published)
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", inputs / "photo.png", "-o", published, "--overwrite",
                         "--quiet")
    assert_one_line_error(rc, err, "did not write", str(published))
    assert published.read_bytes() == b"x" * size
    # folders carry a hidden marker file instead of the attribute, and are replaced
    assert (tmp_path / "out" / "lr" / marks.FOLDER_MARKER).is_file()


def test_on_a_real_file_system_without_xattrs(tmp_path, capsys, inputs):
    """ramfs has no user extended attributes: the ledger and folder marker files are used for real."""
    with mounted(tmp_path / "ram", "ramfs") as ram:
        probe = ram / "probe"
        probe.write_bytes(b"")
        with pytest.raises(OSError):
            os.setxattr(probe, marks.MARKER_XATTR, b"{}")
        probe.unlink()
        _check_commands(capsys, inputs, ram / "out")
        assert (ram / "out" / marks.LEDGER).is_file()
        folder = ram / "frames"
        for _ in range(2):
            rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", inputs / "clip.mkv", "-o", folder, "--overwrite",
                                 "--quiet")
            assert rc == 0, err
        assert len(list(folder.glob("*.png"))) == 4 and leftovers(ram) == []


def test_photo_folder_and_eval_outputs_are_marked(tmp_path, capsys, frames12):
    """Folder outputs stay replaceable by vsrkit after the change (their marks are unchanged)."""
    src = tmp_path / "photos"
    src.mkdir()
    for i, (h, w) in enumerate([(40, 56), (48, 64)]):
        cv2.imwrite(str(src / f"p{i}.png"), real_frames(1, h, w)[0][..., ::-1].copy())
    for extra in ((), ("--overwrite",)):
        rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", tmp_path / "up", "--quiet", *extra)
        assert rc == 0, err
    assert outputs.is_vsrkit_folder(tmp_path / "up") and leftovers(tmp_path) == []


def test_without_xattrs_a_kill_between_marking_and_renaming_keeps_the_old_file_vsrkits(tmp_path, no_xattrs):
    """The ledger gets the new file's entry just before the rename: a kill in between must not turn vsrkit's
    earlier output at that name into a file that --overwrite refuses."""
    from vsrkit.io import atomic

    final = tmp_path / "out.json"
    first = atomic.temp_file_for(final)
    first.write_text("earlier output")
    atomic.commit(first, final, overwrite=False)
    second = atomic.temp_file_for(final)
    second.write_text("the new output, never renamed")
    marks.mark_file(second, final)  # ... and the process was killed here
    assert outputs.is_vsrkit_file(final)
    final.write_text("the user's file, same name")
    assert not outputs.is_vsrkit_file(final)
