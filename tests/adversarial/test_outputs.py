"""Output situations × commands: an output that is, contains or sits inside an input; --overwrite of a folder vsrkit
did not write; colliding output names; a multi-part output interrupted while being published (issue 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import pytest

from vsrkit.errors import VsrkitError
from vsrkit.io import outputs

from .adversarial_helpers import (
    assert_one_line_error, child_env, leftovers, real_frames, run_cli, snapshot, vsrkit_cmd, write_folder, write_mkv,
)


@pytest.fixture
def data(tmp_path, frames12):
    """data/frames (a frame folder), data/clip.mkv and data/notes.txt: what a user keeps beside the input."""
    root = tmp_path / "data"
    write_folder(root / "frames", frames12[:4])
    write_mkv(root / "clip.mkv", frames12[:4])
    (root / "notes.txt").write_text("not vsrkit's")
    return root


@pytest.mark.parametrize("source, target", [
    ("frames", "."),          # upscale data/frames -o data --overwrite (deleted the input before issue 13)
    ("clip.mkv", "."),        # a video inside the output folder
    ("frames", "frames"),     # the output is the input
    ("frames", "frames/up"),  # the output is inside the input frame folder
    ("clip.mkv", "clip.mkv"),
])
def test_upscale_never_writes_over_or_around_its_input(data, capsys, source, target):
    before = snapshot(data)
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", data / source, "-o", data / target, "--overwrite",
                         "--quiet")
    assert_one_line_error(rc, err, "input")
    assert snapshot(data) == before and leftovers(data) == []


def test_dot_output_from_the_input_folder_is_refused(data):
    """``-o .`` run from the folder that holds the input (a subprocess, so the working directory is real)."""
    before = snapshot(data)
    done = subprocess.run(vsrkit_cmd("upscale", "-m", "bicubic", "clip.mkv", "-o", ".", "--overwrite", "--quiet"),
                          cwd=data, env=child_env(), capture_output=True, text=True, timeout=120)
    assert_one_line_error(done.returncode, done.stderr, "contains the input")
    assert snapshot(data) == before


def test_links_to_the_input_are_the_input(data, capsys):
    os.symlink(data / "clip.mkv", data.parent / "sym.mkv")
    os.link(data / "clip.mkv", data.parent / "hard.mkv")
    before = snapshot(data)
    for link in ("sym.mkv", "hard.mkv"):
        rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", data / "clip.mkv", "-o", data.parent / link,
                             "--overwrite", "--quiet")
        assert_one_line_error(rc, err, "is the input")
    assert snapshot(data) == before


def test_overwrite_refuses_a_folder_vsrkit_did_not_write(tmp_path, capsys, data):
    mine = write_folder(tmp_path / "mine", real_frames(2))
    before = snapshot(mine)
    for args in (("upscale", "-m", "bicubic", data / "clip.mkv", "-o", mine),
                 ("degrade", data / "clip.mkv", mine, "-p", "bi"),
                 ("degrade", data / "clip.mkv", tmp_path / "lr", "-p", "bi", "--save-hr", mine)):
        rc, _, err = run_cli(capsys, *args, "--overwrite", *(["--quiet"] if args[0] == "upscale" else []))
        assert_one_line_error(rc, err, "did not write", str(mine))
        assert snapshot(mine) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "mine"]  # nothing else appeared
    # a folder vsrkit wrote is replaced whole
    assert run_cli(capsys, "upscale", "-m", "bicubic", data / "clip.mkv", "-o", tmp_path / "up", "--quiet")[0] == 0
    assert outputs.is_vsrkit_folder(tmp_path / "up")
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", data / "frames", "-o", tmp_path / "up", "--overwrite",
                         "--quiet")
    assert rc == 0, err
    assert len(list((tmp_path / "up").glob("*.png"))) == 4 and leftovers(tmp_path) == []


def test_eval_model_save_never_writes_into_its_dataset(tmp_path, capsys, frames12):
    """``eval-model --save ROOT`` on a frame-folder dataset at ROOT wrote predictions over the GT frames."""
    root = write_folder(tmp_path / "gt", frames12[:3])
    before = snapshot(root)
    for save in (root, root / "pred", tmp_path):
        rc, _, err = run_cli(capsys, "eval-model", "bicubic", "--dataset", root, "--save", save, "--scale", "2")
        assert_one_line_error(rc, err, "input")
        assert snapshot(root) == before
    rc, out, err = run_cli(capsys, "eval-model", "bicubic", "--dataset", root, "--save", tmp_path / "pred",
                           "--scale", "2")
    assert rc == 0, err
    assert len(list((tmp_path / "pred").rglob("*.png"))) == 3 and snapshot(root) == before
    rc, _, err = run_cli(capsys, "eval-model", "bicubic", "--dataset", root, "--save", tmp_path / "pred",
                         "--scale", "2")
    assert_one_line_error(rc, err, "already exists", "--overwrite")


def test_convert_output_cannot_be_the_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "spynet.pth"
    ckpt.write_bytes(b"not really a checkpoint")
    rc, _, err = run_cli(capsys, "convert", "spynet", ckpt, "-o", ckpt, "--overwrite")
    assert_one_line_error(rc, err, "is the input")
    assert ckpt.read_bytes() == b"not really a checkpoint"


@pytest.mark.parametrize("names", [("a.jpg", "a.png"), ("Photo.png", "photo.png")])
def test_colliding_output_names_are_refused_before_any_work(tmp_path, capsys, names):
    """Two inputs that map to one output name (stem, or case on case-insensitive file systems): one result would be
    lost with exit 0."""
    src = tmp_path / "photos"
    src.mkdir()
    for name, (h, w) in zip(names, [(40, 56), (48, 64)]):  # different sizes: a photo folder, one PNG per photo
        cv2.imwrite(str(src / name), real_frames(1, h, w)[0][..., ::-1].copy())
    before = snapshot(src)
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", tmp_path / "up", "--quiet")
    assert_one_line_error(rc, err, names[0], names[1], "rename")
    assert not (tmp_path / "up").exists() and snapshot(src) == before and leftovers(tmp_path) == []


def test_output_set_publishes_all_or_none(tmp_path):
    a, b = tmp_path / "lr", tmp_path / "lr.json"
    with pytest.raises(RuntimeError):
        with outputs.OutputSet([a, b]) as outs:
            outs.temp(a).mkdir()
            outs.temp(b).write_text("{}")
            raise RuntimeError("stopped while writing")
    assert list(tmp_path.iterdir()) == []
    with outputs.OutputSet([a, b]) as outs:
        outs.temp(a).mkdir()
        outputs.write_marker(outs.temp(a))
        outs.temp(b).write_text("{}")
    assert a.is_dir() and b.read_text() == "{}" and leftovers(tmp_path) == []
    with pytest.raises(VsrkitError, match="overlap"):
        outputs.OutputSet([a, a / "sub"], overwrite=True)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("moved", [1, 2])
def test_a_set_killed_while_publishing_is_repaired_by_the_next_run(tmp_path, moved):
    """SIGKILL between the renames of a commit: the journal lets the next check of the same output either finish the
    set (every new part was in place) or restore the earlier one; never a mix of old and new parts."""
    pid = _dead_pid()
    lr, meta = tmp_path / "lr", tmp_path / "lr.degradation.json"
    parts = []
    for final, new, old in ((lr, "new frames", "old frames"), (meta, "new meta", "old meta")):
        trash = final.with_name(f".{final.name}.old-{pid}-aaaa")
        temp = final.with_name(f".{final.name}.partial-{pid}-bbbb")
        trash.write_text(old)  # the earlier output, moved aside
        temp.write_text(new)
        parts.append({"final": str(final), "temp": str(temp), "trash": str(trash)})
    for p in parts[:moved]:  # the kill came after `moved` new parts were renamed into place
        os.replace(p["temp"], p["final"])
    (tmp_path / ".lr.vsrkit-txn.json").write_text(json.dumps({"pid": pid, "parts": parts}))
    notes = outputs.recover(lr)
    assert len(notes) == 1
    if moved == 2:
        assert (lr.read_text(), meta.read_text()) == ("new frames", "new meta") and "published all" in notes[0]
    else:
        assert (lr.read_text(), meta.read_text()) == ("old frames", "old meta") and "restored" in notes[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr", "lr.degradation.json"]


def test_temporary_parts_of_a_live_writer_are_left_alone(tmp_path):
    live = tmp_path / f".out.mkv.partial-{os.getpid()}-xyz.mkv"
    dead = tmp_path / f".out.mkv.partial-{_dead_pid()}-xyz.mkv"
    live.write_bytes(b"being written")
    dead.write_bytes(b"left by a killed run")
    outputs.check_output(tmp_path / "out.mkv")
    assert live.exists() and not dead.exists()


def test_a_user_file_that_appears_during_the_work_is_not_replaced(tmp_path):
    """The check before the work passed (nothing there); the user saved a file under that name meanwhile: the
    commit checks the mark again under the output's lock and keeps the user's file, also with overwrite."""
    from vsrkit.io import atomic

    final = tmp_path / "out.png"
    outputs.check_output(final, overwrite=True)
    tmp = atomic.temp_file_for(final)
    tmp.write_bytes(b"vsrkit's new output")
    final.write_bytes(b"saved by the user meanwhile")
    with pytest.raises(VsrkitError, match="did not write"):
        atomic.commit(tmp, final, overwrite=True)
    atomic.discard(tmp)
    assert final.read_bytes() == b"saved by the user meanwhile" and leftovers(tmp_path) == []


def test_a_stale_lock_file_is_removed_and_a_held_one_kept(tmp_path):
    from vsrkit.io import atomic

    final = tmp_path / "out.mkv"
    atomic.lock_name(final).write_text("")  # left by a run killed while publishing
    outputs.check_output(final)
    assert not atomic.lock_name(final).exists()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, "
        "fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"), str(atomic.lock_name(final))],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        outputs.check_output(final)  # another process is publishing: its lock stays
        assert atomic.lock_name(final).exists()
    finally:
        holder.kill()
        holder.wait()
    outputs.check_output(final)
    assert not atomic.lock_name(final).exists()
