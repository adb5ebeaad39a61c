"""Resumable segmented upscales: segments equal the whole-clip run, a killed run resumes bit for bit, runs never mix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from test_batch import encode_clip

from vsrkit.cli import main
from vsrkit.engine.infer import InferenceOptions, Upscaler
from vsrkit.engine.segments import LocalSegments, split_segments, upscale_resumable
from vsrkit.engine.upscale import EncodeOptions, upscale_video
from vsrkit.engine.workfolder import WorkFolder
from vsrkit.errors import VsrkitError
from vsrkit.models.registry import ModelSpec

LOSSLESS = EncodeOptions(codec="ffv1", pix_fmt="bgr0")


class BoxRecurrentSR(nn.Module):
    """A 'recurrent' ×2 model whose frame t depends on frames t-2..t+2 (clamped at the clip's ends) with distinct
    weights, then a learned-free nearest upsampling: chunk and segment borders show unless context covers them."""

    scale = 2

    def __init__(self) -> None:
        super().__init__()
        self.frames_seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        self.frames_seen += t
        idx = torch.arange(t)
        weights = [1.0, 2.0, 4.0, 8.0, 16.0]
        y = sum(wt * x[:, (idx + d).clamp(0, t - 1)] for wt, d in zip(weights, range(-2, 3))) / sum(weights)
        return F.interpolate(y.reshape(b * t, c, h, w), scale_factor=2, mode="nearest").reshape(b, t, c, 2 * h, 2 * w)


class WindowMixSR(nn.Module):
    """A window model (5 frames → centre frame) with distinct weights per window position."""

    scale = 1
    num_frames = 5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.tensor([0.05, 0.15, 0.4, 0.25, 0.15]).view(1, 5, 1, 1, 1)
        return (x * w).sum(1, keepdim=True)


class FrameSR(nn.Module):
    scale = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-1) * 0.9


RECURRENT = ModelSpec(name="box", description="", scale=2, temporal="recurrent")


def _window_spec(padding: str) -> ModelSpec:
    return ModelSpec(name="win", description="", scale=1, temporal="window", num_frames=5,
                     edge_padding=padding)


def _segmented(runner: Upscaler, frames: list[np.ndarray], length: int) -> list[np.ndarray]:
    """Every segment through the engine, stitched as :func:`vsrkit.engine.segments.stitch` does (first wins)."""
    out: list[np.ndarray] = []
    for seg in split_segments(((f, None) for f in frames), length, runner.segment_context()):
        for i, y in enumerate(runner.stream(iter(seg.frames), skip=seg.context, limit=seg.count)):
            if seg.start + i >= len(out):
                out.append(y)
    return out


@pytest.mark.parametrize("n", [23, 25, 26, 33])
@pytest.mark.parametrize("kind", ["recurrent", "window-replicate", "window-mirror", "window-new_info", "frame"])
def test_segments_equal_the_whole_clip_run(real_frames, kind, n):
    """Cutting a clip into segments (context recomputed and discarded) changes no output frame, for every temporal
    kind, with clip lengths that end on, just after and well after a segment border (short tails merge)."""
    frames = [np.roll(real_frames[i % len(real_frames)], 3 * i, axis=1)[:24, :32] for i in range(n)]
    if kind == "recurrent":
        model, spec, opts = BoxRecurrentSR(), RECURRENT, InferenceOptions(chunk=4, chunk_overlap=2)
    elif kind == "frame":
        model, spec, opts = FrameSR(), ModelSpec(name="f", description="", scale=1), \
            InferenceOptions(chunk=3)
    else:
        model, spec, opts = WindowMixSR(), _window_spec(kind.split("-")[1]), InferenceOptions(chunk=3)
    runner = Upscaler(model, spec, opts)
    whole = list(runner.stream(iter(frames)))
    for length in (opts.chunk, 2 * opts.chunk, 8 * opts.chunk):
        seg = _segmented(runner, frames, length)
        assert len(seg) == n
        assert all(np.array_equal(a, b) for a, b in zip(whole, seg)), (kind, n, length)


def test_segments_without_context_would_differ(real_frames):
    """Guards the test above: a recurrent model cut at segment borders without context frames changes output."""
    frames = [np.roll(real_frames[i % 6], 3 * i, axis=1)[:24, :32] for i in range(16)]
    runner = Upscaler(BoxRecurrentSR(), RECURRENT, InferenceOptions(chunk=4, chunk_overlap=2))
    whole = list(runner.stream(iter(frames)))
    cut = [y for s in range(0, 16, 8) for y in runner.stream(iter(frames[s:s + 8]))]
    assert any(not np.array_equal(a, b) for a, b in zip(whole, cut))


# ------------------------------------------------------------------------------------------------ real files


def make_clip(path: Path, frames: list[np.ndarray], fps: int = 25, audio: bool = True) -> Path:
    """Lossless FFV1 (yuv444p) video of ``frames`` plus a 440 Hz AAC tone of the same length, written with PyAV."""
    return encode_clip(path, frames, fps=fps, audio="aac" if audio else None)


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def describe(path: Path) -> dict:
    """Frame count, video duration (s) and audio samples of a file."""
    with av.open(str(path)) as c:
        fps = float(c.streams.video[0].average_rate)
        times = [float(f.time) for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        samples = sum(f.samples for f in c.decode(audio=0)) if c.streams.audio else 0
    return {"frames": len(times), "last_time": round(times[-1], 4), "audio_samples": samples,
            "fps": fps}


@pytest.fixture(scope="module")
def carphone_clip(tmp_path_factory) -> Path:
    """45 real frames (carphone, 32×24 crop, lossless) with audio."""
    from vsrkit.data.samples import sample_clip

    frames = []
    with av.open(str(sample_clip("carphone"))) as c:
        for f in c.decode(video=0):
            frames.append(np.ascontiguousarray(f.to_ndarray(format="rgb24")[48:72, 72:104]))
            if len(frames) == 45:
                break
    return make_clip(tmp_path_factory.mktemp("seg") / "carphone.mkv", frames)


class KilledAfter:
    """An executor that dies (like a SIGKILL would: no clean-up) after ``n`` committed segments."""

    def __init__(self, runner: Upscaler, n: int) -> None:
        self.inner, self.n = LocalSegments(runner), n

    def run(self, segments, work, on_frame):
        for i, rec in enumerate(self.inner.run(segments, work, on_frame)):
            yield rec
            if i + 1 == self.n:
                raise KeyboardInterrupt


def test_a_killed_run_resumes_and_equals_the_uninterrupted_one(tmp_path, carphone_clip):
    model = BoxRecurrentSR()
    opts = InferenceOptions(chunk=4, chunk_overlap=2)
    plain = tmp_path / "plain.mkv"
    model.frames_seen = 0
    upscale_video(carphone_clip, plain, model=model, model_spec=RECURRENT, options=opts, encode=LOSSLESS,
                  progress=False)
    whole_run_frames = model.frames_seen
    out = tmp_path / "out.mkv"
    kw = dict(model=model, model_spec=RECURRENT, options=opts, encode=LOSSLESS, segment=8, progress=False)
    for killed_after in (2, 1):  # two kills at different points, then a run to the end
        with pytest.raises(KeyboardInterrupt):
            upscale_resumable(carphone_clip, out, executor=KilledAfter(Upscaler(model, RECURRENT, opts),
                                                                        killed_after), **kw)
        assert not out.exists()
    work = WorkFolder(out)
    assert sorted(work.finished()) == [0, 8, 16]
    model.frames_seen = 0
    stats = upscale_resumable(carphone_clip, out, **kw)
    assert stats.extra["segments_reused"] == 3
    # Only the 3 unfinished segments (21 of 45 frames, + context) were computed again.
    assert model.frames_seen <= whole_run_frames * 0.6
    assert not work.path.exists()
    a, b = decode(plain), decode(out)
    assert len(a) == len(b) == 45 and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert describe(out) == describe(plain)
    assert describe(out)["audio_samples"] >= 48000 * 45 // 25 - 1024


def test_a_different_run_is_refused_and_nothing_mixes(tmp_path, carphone_clip):
    model = BoxRecurrentSR()
    out = tmp_path / "out.mkv"
    kw = dict(model=model, model_spec=RECURRENT, encode=LOSSLESS, segment=8, progress=False)
    opts = InferenceOptions(chunk=4, chunk_overlap=2)
    with pytest.raises(KeyboardInterrupt):
        upscale_resumable(carphone_clip, out, options=opts,
                          executor=KilledAfter(Upscaler(model, RECURRENT, opts), 1), **kw)
    before = sorted(p.name for p in WorkFolder(out).path.iterdir())
    with pytest.raises(VsrkitError, match="belongs to a different run .*inference.chunk_overlap"):
        upscale_resumable(carphone_clip, out, options=InferenceOptions(chunk=4, chunk_overlap=1), **kw)
    with pytest.raises(VsrkitError, match="segment differs"):
        upscale_resumable(carphone_clip, out, options=opts, **{**kw, "segment": 12})
    assert sorted(p.name for p in WorkFolder(out).path.iterdir()) == before
    assert not out.exists()


def test_cli_segment_refuses_frame_folders_and_aux(tmp_path, carphone_clip, capsys):
    rc = main(["upscale", str(carphone_clip), "-o", str(tmp_path / "frames"), "-m", "bicubic", "--segment", "8",
               "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "frame folder" in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sigkill_at_several_points_then_resume_equals_uninterrupted(tmp_path):
    """`vsrkit upscale` of a 300-frame clip is SIGKILLed twice mid-run; re-running the same command finishes it and
    the decoded output, audio and duration equal those of an uninterrupted run."""
    from vsrkit.data.samples import sample_clip

    frames = []
    with av.open(str(sample_clip("bikes"))) as c:
        for f in c.decode(video=0):
            frames.append(np.ascontiguousarray(f.to_ndarray(format="rgb24")[120:144, 300:332]))
    frames = (frames + frames[::-1])[:300]
    src = make_clip(tmp_path / "long.mkv", frames)
    common = ["-m", "bicubic", "--chunk", "5", "--codec", "ffv1", "--pix-fmt", "bgr0", "--quiet"]
    assert main(["upscale", str(src), "-o", str(tmp_path / "plain.mkv"), *common]) == 0
    out = tmp_path / "out.mkv"
    cmd = [sys.executable, "-m", "vsrkit", "upscale", str(src), "-o", str(out), "--segment", "20", *common]
    work = WorkFolder(out)
    for at_least in (2, 6):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while time.time() < deadline and len(list(work.path.glob("seg-*.json"))) < at_least \
                and proc.poll() is None:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
        assert not out.exists() and len(work.finished()) >= at_least
    done_before = len(work.finished())
    assert done_before < 15
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"reused {done_before} finished segments" in result.stdout, result.stdout
    assert not work.path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mkv", "out.mkv", "plain.mkv"]
    a, b = decode(tmp_path / "plain.mkv"), decode(out)
    assert len(a) == len(b) == 300 and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert describe(out) == describe(tmp_path / "plain.mkv")
    assert describe(out)["audio_samples"] >= 48000 * 300 // 25 - 1024
    assert json.loads(json.dumps(describe(src)))["frames"] == 300
