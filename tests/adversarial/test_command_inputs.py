"""convert, eval and eval-model × bad inputs (issue 13): missing, empty, not a checkpoint / not media, frame counts or
sizes that do not match, unknown names. Each is a one-line error naming the problem, with nothing written and the
inputs unchanged."""

from __future__ import annotations

import pytest

from .adversarial_helpers import assert_one_line_error, real_frames, run_cli, snapshot, write_folder


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    write_folder(d / "gt", real_frames(3))
    write_folder(d / "pred_small", real_frames(3, 40, 56))
    write_folder(d / "pred_short", real_frames(2))
    write_folder(d / "mixed", real_frames(2) + real_frames(2, 40, 56)[1:])
    (d / "empty").mkdir()
    (d / "text.txt").write_text("hello")
    (d / "empty.pth").write_bytes(b"")
    (d / "notmedia.mkv").write_bytes(b"this is not a video at all" * 10)
    return d


ROWS = {
    "convert: missing checkpoint": (("convert", "basicvsr", "{d}/missing.pth", "-o", "{d}/o.safetensors"),
                                    "does not exist"),
    "convert: empty file": (("convert", "basicvsr", "{d}/empty.pth", "-o", "{d}/o.safetensors"), "cannot read"),
    "convert: not a checkpoint": (("convert", "basicvsr", "{d}/text.txt", "-o", "{d}/o.safetensors"), "cannot read"),
    "convert: a folder": (("convert", "basicvsr", "{d}/empty", "-o", "{d}/o.safetensors"), "is a folder"),
    "convert: unknown method": (("convert", "nosuch", "{d}/text.txt", "-o", "{d}/o.safetensors"), "nosuch"),
    "eval: missing prediction": (("eval", "--pred", "{d}/missing", "--gt", "{d}/gt"), "does not exist"),
    "eval: empty prediction": (("eval", "--pred", "{d}/empty", "--gt", "{d}/gt"), "no PNG/JPG"),
    "eval: fewer frames": (("eval", "--pred", "{d}/pred_short", "--gt", "{d}/gt"), "2 frames"),
    "eval: other size": (("eval", "--pred", "{d}/pred_small", "--gt", "{d}/gt"), "56x40"),
    "eval: not media": (("eval", "--pred", "{d}/notmedia.mkv", "--gt", "{d}/gt"), "notmedia.mkv"),
    "eval: mixed sizes": (("eval", "--pred", "{d}/mixed", "--gt", "{d}/gt"), "56x40"),
    "eval-model: missing dataset": (("eval-model", "bicubic", "--dataset", "{d}/missing", "--scale", "2"),
                                    "not found"),
    "eval-model: empty dataset": (("eval-model", "bicubic", "--dataset", "{d}/empty", "--scale", "2"), "no frames"),
    "eval-model: not media": (("eval-model", "bicubic", "--dataset", "{d}/notmedia.mkv", "--scale", "2"),
                              "not a readable video"),
    "eval-model: a text file": (("eval-model", "bicubic", "--dataset", "{d}/text.txt", "--scale", "2"), "text.txt"),
    "eval-model: mixed sizes": (("eval-model", "bicubic", "--dataset", "{d}/mixed", "--scale", "2"), "one size"),
    "eval-model: unknown model": (("eval-model", "nosuch", "--dataset", "{d}/gt", "--scale", "2"), "unknown model"),
}


@pytest.mark.parametrize("row", list(ROWS))
def test_bad_inputs_are_one_line_errors(files, capsys, row):
    args, needle = ROWS[row]
    before = snapshot(files)
    rc, _, err = run_cli(capsys, *(a.format(d=files) for a in args))
    assert_one_line_error(rc, err, needle)
    assert snapshot(files) == before and sorted(p.name for p in files.iterdir()) == [
        "empty", "empty.pth", "gt", "mixed", "notmedia.mkv", "pred_short", "pred_small", "text.txt"]
