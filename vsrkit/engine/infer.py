"""Streaming inference: upscale a video of any length in bounded memory.

Pipeline: decode thread → temporal scheduler (windows or overlapping chunks) → spatial tiles → model → blend →
encode thread. Peak memory is proportional to ``(chunk + 2·chunk_overlap)`` frames, never to the video length.

Temporal scheduling follows the model's :class:`~vsrkit.models.registry.ModelSpec`:

* ``"frame"`` models see batches of independent frames;
* ``"window"`` models see ``num_frames`` neighbours per output frame (edges padded as the official code pads);
* ``"recurrent"`` models see chunks of ``chunk`` frames plus ``chunk_overlap`` context frames on each side that are
  processed but not emitted, so chunk borders get (almost) the same propagated information as a whole-clip run.

Spatial tiles: the LR frame is cut into ``tile``-pixel cores; each core is processed with ``tile_overlap`` pixels
of context on every side and blended into its neighbours with a raised-cosine ramp across the core borders. Where
the model's receptive field fits inside the context the result equals the untiled output (weights sum to one).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vsrkit.data.datasets import frames_to_tensor
from vsrkit.engine import fastpath
from vsrkit.engine.aux import write_aux
from vsrkit.errors import VsrkitError
from vsrkit.models.registry import ModelSpec

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class InferenceOptions:
    """Memory and speed levers shared by every method (the same flags for all of them)."""

    # Frames emitted per recurrent chunk / frames per batch for frame and window models. None: recurrent chunks
    # are sized from ``max_memory`` (fastpath.chunk_from_budget), batches are 16 frames.
    chunk: int | None = 16
    chunk_overlap: int = 4  # context frames on each side of a recurrent chunk (processed, not emitted)
    max_memory: int | None = None  # bytes of activations a recurrent chunk may use (None: fastpath default)
    tile: int | None = None  # LR tile core size in pixels; None = whole frame
    tile_overlap: int = 16  # LR pixels of context around each tile (also the blend width)
    precision: str = "fp32"  # fp32 (exact), bf16, fp16 (GPU), or auto (measured fast path, see engine.fastpath)
    channels_last: bool | None = None  # NHWC weights/activations; None: what the fast path measured (auto) or off
    device: str = "auto"  # as the CLI: CUDA, else MPS, else CPU (resolve_device)
    save_aux: str | None = None  # folder for pictures of the model's auxiliary outputs (flows, kernels, ...)
    aux_frames: frozenset[int] | None = None  # clip frames whose auxiliary pictures are written (None = all)

    def validate(self) -> None:
        if self.chunk is not None and self.chunk < 1:
            raise VsrkitError(f"--chunk must be at least 1 (got {self.chunk})")
        if self.chunk_overlap < 0:
            raise VsrkitError(f"--chunk-overlap must be 0 or more (got {self.chunk_overlap})")
        if self.tile is not None and self.tile < 8:
            raise VsrkitError(f"--tile must be at least 8 LR pixels (got {self.tile}); omit it to disable tiling")
        if self.tile_overlap < 0:
            raise VsrkitError(f"--tile-overlap must be 0 or more (got {self.tile_overlap})")
        if self.precision not in PRECISIONS and self.precision != "auto":
            raise VsrkitError(f"unknown precision {self.precision!r}: choose auto or one of {', '.join(PRECISIONS)}")
        if self.max_memory is not None and self.max_memory <= 0:
            raise VsrkitError(f"--max-memory must be positive (got {self.max_memory} bytes): e.g. --max-memory 2G")
        if self.save_aux is not None and self.tile is not None:
            raise VsrkitError("--save-aux needs whole frames: drop --tile (or save the auxiliary outputs separately)")


def resolve_device(device: str) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` (CUDA, else Apple MPS, else CPU) → a usable
    ``torch.device`` (one-line error otherwise)."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise VsrkitError(f"unknown device {device!r}: use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VsrkitError(f"device {device!r} requested but CUDA is not available here: use --device cpu")
    return dev


# Precisions that run slower than fp32 on a device type: CPUs have no native fp16 arithmetic, so PyTorch converts
# around every op (issue 19 measured a BasicVSR-small upscale 2.3x slower in fp16 than in fp32 on a CPU).
_SLOW_PRECISIONS = {("cpu", "fp16"): "fp16 on the CPU is emulated and runs slower than fp32: use fp32 (or bf16)"}
_warned_precisions: set[tuple[str, str]] = set()


def _warn_if_slow_precision(precision: str, device: torch.device) -> None:
    """Say once per process when ``precision`` is known to be slower than fp32 on ``device``."""
    key = (device.type, precision)
    if key in _SLOW_PRECISIONS and key not in _warned_precisions:
        _warned_precisions.add(key)
        log.warning("%s", _SLOW_PRECISIONS[key])


# ----------------------------------------------------------------------------------------------------------------
# Frame <-> tensor
# ----------------------------------------------------------------------------------------------------------------
def tensor_to_frames(x: torch.Tensor, dtype: np.dtype = np.uint8) -> list[np.ndarray]:
    """``(T, 3, H, W)`` float → ``T × (H, W, 3)`` of ``dtype``, clamped to [0, 1] and rounded (half to even)."""
    peak = 65535.0 if dtype == np.uint16 else 255.0
    arr = x.detach().float().clamp_(0, 1).mul_(peak).round_().permute(0, 2, 3, 1).cpu().numpy().astype(dtype)
    return list(arr)


# ----------------------------------------------------------------------------------------------------------------
# Spatial: legal sizes and tiles
# ----------------------------------------------------------------------------------------------------------------
def _legal_size(n: int, spec: ModelSpec) -> int:
    n = max(n, spec.min_size)
    m = spec.size_multiple
    return int(math.ceil(n / m) * m)


def _pad_to_legal(x: torch.Tensor, spec: ModelSpec) -> tuple[torch.Tensor, int, int]:
    """Replicate-pad ``(B, T, C, H, W)`` on the bottom/right to a size the model accepts."""
    h, w = x.shape[-2:]
    ph, pw = _legal_size(h, spec) - h, _legal_size(w, spec) - w
    if ph or pw:
        b, t, c = x.shape[:3]
        x = F.pad(x.reshape(b * t, c, h, w), (0, pw, 0, ph), mode="replicate").reshape(b, t, c, h + ph, w + pw)
    return x, h, w


def _ramp(n: int, device: torch.device) -> torch.Tensor:
    """Raised-cosine ramp rising from ~0 to ~1 over ``n`` samples; ``ramp + ramp.flip(0) == 1``."""
    pos = (torch.arange(n, device=device, dtype=torch.float32) + 0.5) / n
    return 0.5 - 0.5 * torch.cos(math.pi * pos)


def _tile_axis(length: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Cut ``[0, length)`` into cores of ``tile``; return per tile (in_start, in_end, out_start, out_end).

    ``out`` is the core widened by half the overlap on each interior side (the blend zone); ``in`` widens ``out``
    by the full overlap as context, clipped to the image.
    """
    if length <= tile:
        return [(0, length, 0, length)]
    n = math.ceil(length / tile)
    # Equal cores (the last one is not a sliver).
    bounds = [round(i * length / n) for i in range(n + 1)]
    half = overlap // 2
    spans = []
    for i in range(n):
        out_start = max(bounds[i] - half, 0)
        out_end = min(bounds[i + 1] + half, length)
        spans.append((max(out_start - overlap, 0), min(out_end + overlap, length), out_start, out_end))
    return spans


def _axis_weights(
    out_start: int, out_end: int, length: int, half: int, scale: int, device: torch.device
) -> torch.Tensor:
    """Blend weights along one axis of an output tile (HR pixels)."""
    n = (out_end - out_start) * scale
    w = torch.ones(n, device=device)
    ramp_len = 2 * half * scale
    if ramp_len > 0:
        if out_start > 0:
            w[:ramp_len] = _ramp(ramp_len, device)
        if out_end < length:
            w[n - ramp_len :] = _ramp(ramp_len, device).flip(0)
    return w


# ----------------------------------------------------------------------------------------------------------------
# The runner
# ----------------------------------------------------------------------------------------------------------------
def _has_aux_outputs(model: nn.Module, spec: ModelSpec) -> bool:
    """True when the spec declares auxiliary outputs (``ModelSpec.aux_outputs``) and the module being run takes
    ``return_aux`` (a wrapper such as the DynaVSR adapter does not)."""
    forward = getattr(model, "forward", None)
    try:
        takes_flag = "return_aux" in inspect.signature(forward).parameters
    except (TypeError, ValueError):
        takes_flag = False
    return bool(spec.aux_outputs) and takes_flag


class Upscaler:
    """Runs one model over streams or tensors with the engine's chunking, tiling and precision.

    ``model`` follows the model contract: ``(B, T, C, H, W)`` RGB in [0, 1] → ``(B, T_out, C, sH, sW)``.
    """

    def __init__(self, model: nn.Module, spec: ModelSpec, options: InferenceOptions | None = None) -> None:
        self.options = options or InferenceOptions()
        self.options.validate()
        self.spec = spec
        self.device = resolve_device(self.options.device)
        self.fast_path = fastpath.resolve(spec.name, self.options.precision, self.options.channels_last, self.device)
        self.dtype = PRECISIONS[self.fast_path.precision]
        _warn_if_slow_precision(self.fast_path.precision, self.device)
        self.model = fastpath.set_layout(model.eval().to(self.device), self.fast_path.channels_last)
        scale = float(getattr(model, "scale", spec.scale or 1))
        # Integer scales stay ints (exact tiling arithmetic); arbitrary-scale models may use any real scale.
        self.scale: int | float = int(scale) if scale.is_integer() else scale
        if self.options.tile is not None and not getattr(model, "tileable", True):
            raise VsrkitError(f"model {spec.name!r} is not tileable (its output depends on the whole frame): "
                              "drop --tile (it evaluates its output in bounded-memory chunks itself)")
        if self.options.tile is not None and not isinstance(self.scale, int):
            raise VsrkitError(f"--tile needs an integer scale (got x{self.scale:g}): drop --tile")
        if self.options.save_aux is not None and not _has_aux_outputs(model, spec):
            raise VsrkitError(f"model {spec.name!r} has no auxiliary outputs to save: drop --save-aux (models with "
                              "flows, masks or kernels, e.g. fmanet or bvsr_ik, have them)")
        self.model_seconds = 0.0  # time spent in the model (benchmarks compare it with I/O waits)
        self._batch = self.options.chunk or 16  # frames per batch for frame and window models
        self.chunk_used: int | None = self.options.chunk  # recurrent chunk length (set from the budget if None)
        self._emit: range | None = None  # set by stream() for a preview

    def recurrent_chunk(self, height: int, width: int) -> int:
        """Frames emitted per recurrent chunk for ``height × width`` LR frames: ``--chunk`` if given, else the
        longest chunk whose activations fit ``max_memory`` (:func:`~vsrkit.engine.fastpath.chunk_from_budget`)."""
        if self.options.chunk is not None:
            return self.options.chunk
        budget, height, width = self._memory_budget(height, width)
        return fastpath.chunk_from_budget(budget, lr_pixels=height * width, overlap=self.options.chunk_overlap,
                                          bytes_per_lr_pixel=fastpath.memory_per_lr_pixel(self.spec.name))

    def _memory_budget(self, height: int, width: int) -> tuple[int, int, int]:
        """``(bytes, h, w)``: the activation budget (``max_memory`` or the fastpath default) and the LR size one
        model call sees (a tile with its overlap when tiling)."""
        if self.options.tile is not None:
            height, width = (min(n, self.options.tile + 2 * self.options.tile_overlap) for n in (height, width))
        return self.options.max_memory or fastpath.default_memory_budget(), height, width

    def window_batch(self, height: int, width: int) -> int:
        """Windows per model call for a window model on ``height × width`` LR frames: ``--chunk`` (16 by default),
        fewer when that many windows would not fit ``max_memory`` (EDVR on 384×288 frames peaks at ~1.3 GB per
        window, so 16 would need ~21 GB). At least 1."""
        budget, height, width = self._memory_budget(height, width)
        frames = int(getattr(self.model, "num_frames", self.spec.num_frames) or 1)
        per_window = frames * height * width * (fastpath.memory_per_lr_pixel(self.spec.name)
                                                 or fastpath.DEFAULT_BYTES_PER_LR_PIXEL)
        return max(1, min(self._batch, budget // max(per_window, 1)))

    # -- model call with precision, padding and tiling ----------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _forward_whole(self, x: torch.Tensor, frame_ids: list[int] | None = None) -> torch.Tensor:
        x, h, w = _pad_to_legal(x, self.spec)
        with torch.inference_mode(), self._autocast():
            if self.options.save_aux is not None and frame_ids is not None:
                y, aux = self.model(x.to(self.device), return_aux=True)
                write_aux(self.model, aux, frame_ids, Path(self.options.save_aux), self.options.aux_frames)
            else:
                y = self.model(x.to(self.device))
        y = y[..., : self.out_size(h), : self.out_size(w)].float()
        if not bool(torch.isfinite(y).all()):
            # NaN/inf would become garbage uint8 frames after clamping: refuse instead (fp16 overflow is the usual cause)
            fix = ("run with --precision fp32" if self.options.precision != "fp32"
                   else "the weights are probably broken; re-train or re-convert them")
            raise VsrkitError(f"model {self.spec.name!r} produced non-finite values (NaN/inf) at precision "
                              f"{self.options.precision}: {fix}")
        return y

    def out_size(self, n: int) -> int:
        """Output pixels for ``n`` input pixels: ``scale·n``, rounded half up for non-integer scales."""
        return n * self.scale if isinstance(self.scale, int) else int(math.floor(n * self.scale + 0.5 + 1e-9))

    def forward(self, x: torch.Tensor, frame_ids: list[int] | None = None) -> torch.Tensor:
        """``(B, T, C, H, W)`` → ``(B, T_out, C, sH, sW)`` float32 on the model's device, tiled if asked.

        ``frame_ids`` names the clip frame of each output (window centre per batch item, or per time step) so
        auxiliary pictures land under the right frame number.
        """
        start = time.perf_counter()
        tile = self.options.tile
        h, w = x.shape[-2:]
        if tile is None or (h <= tile and w <= tile):
            y = self._forward_whole(x, frame_ids)
        else:
            y = self._forward_tiled(x, tile, self.options.tile_overlap)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.model_seconds += time.perf_counter() - start
        return y

    def _forward_tiled(self, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
        b, _, c, h, w = x.shape
        s = self.scale
        half = overlap // 2
        out = acc = None
        for ys, ye, oys, oye in _tile_axis(h, tile, overlap):
            wy = _axis_weights(oys, oye, h, half, s, self.device)
            for xs, xe, oxs, oxe in _tile_axis(w, tile, overlap):
                y = self._forward_whole(x[..., ys:ye, xs:xe])
                y = y[..., (oys - ys) * s : (oye - ys) * s, (oxs - xs) * s : (oxe - xs) * s]
                if out is None:
                    out = torch.zeros(*y.shape[:3], h * s, w * s, device=self.device)
                    acc = torch.zeros(h * s, w * s, device=self.device)
                wx = _axis_weights(oxs, oxe, w, half, s, self.device)
                weight = wy[:, None] * wx[None, :]
                out[..., oys * s : oye * s, oxs * s : oxe * s] += y * weight
                acc[oys * s : oye * s, oxs * s : oxe * s] += weight
        return out / acc

    # -- whole clips (evaluation) ----------------------------------------------------------------------------
    def upscale_clip(self, lq: torch.Tensor) -> torch.Tensor:
        """``(T, C, H, W)`` → ``(T, C, sH, sW)`` float on CPU, with the same scheduling as the streaming path."""
        return torch.cat([y.cpu() for y in self._schedule(iter(lq.unbind(0)), to_tensor=False)], dim=0)

    # -- streaming ---------------------------------------------------------------------------------------------
    def stream(self, frames: Iterable[np.ndarray], emit: range | None = None, *, skip: int = 0,
               limit: int | None = None) -> Iterator[np.ndarray]:
        """Upscale an iterable of ``(H, W, 3)`` uint8/uint16 frames; yields output frames of the same dtype, in order.

        ``emit`` (a preview) yields only the outputs of those frame indices, each equal to the same frame of a full
        run: the schedule (batches, windows, chunks with their context) is the full run's, model calls whose outputs
        all lie outside ``emit`` are skipped, and reading stops once the last wanted frame is out.

        ``skip`` and ``limit`` cut a segment out of a longer clip (:mod:`vsrkit.engine.segments`): the first ``skip``
        input frames are temporal context only (not emitted) and emission stops after ``limit`` frames, except that
        a recurrent chunk which absorbs the clip's short tail is emitted whole. Chunks and batches start at
        ``skip``, so a segment whose first emitted frame is a multiple of ``chunk`` (and that is given
        :meth:`segment_context` frames on each side) yields exactly what the whole-clip run yields for it.
        """
        it = iter(frames)
        first = next(it, None)
        if first is None:
            raise VsrkitError("the input has no frames: check that it is a non-empty video or frame folder")
        dtype = first.dtype

        def chained() -> Iterator[np.ndarray]:
            yield first
            yield from it

        self._emit = emit
        index = 0
        try:
            for y in self._schedule(chained(), to_tensor=True, skip=skip, limit=limit):
                if isinstance(y, int):  # a skipped group of y frames
                    index += y
                    continue
                for frame in tensor_to_frames(y, dtype):
                    if emit is None or index in emit:
                        yield frame
                    index += 1
                if emit is not None and index >= emit.stop:
                    return
        finally:
            self._emit = None

    def _run_group(self, start: int, count: int, run) -> torch.Tensor | int:
        """``run()`` (the model call for outputs ``[start, start + count)``), or ``count`` when a preview needs none
        of them."""
        emit = self._emit
        if emit is not None and (start + count <= emit.start or start >= emit.stop):
            return count
        return run()

    def segment_context(self) -> int:
        """Input frames a segment needs on each side of the frames it emits for its output to equal the
        whole-clip run's: none for frame models, two window radii for window models (edge padding near the clip's
        end reaches back that far), ``chunk_overlap`` for recurrent models."""
        if self.spec.temporal == "window":
            return 2 * (int(getattr(self.model, "num_frames", self.spec.num_frames)) // 2)
        if self.spec.temporal == "recurrent":
            return self.options.chunk_overlap
        return 0

    def _schedule(self, frames: Iterator, *, to_tensor: bool, skip: int = 0,
                  limit: int | None = None) -> Iterator[torch.Tensor]:
        """Yield output tensors ``(n, C, sH, sW)`` for consecutive runs of input frames (``skip``/``limit``: see
        :meth:`stream`)."""

        def as_tensor(items: list) -> torch.Tensor:
            return frames_to_tensor(items) if to_tensor else torch.stack(items)

        stop = None if limit is None else skip + limit
        temporal = self.spec.temporal
        if temporal == "frame":
            for _ in range(skip):  # frame models need no context: skipped frames are not even converted
                next(frames, None)
            yield from self._schedule_frames(frames, as_tensor, skip, stop)
        elif temporal == "window":
            yield from self._schedule_windows(frames, as_tensor, skip, stop)
        elif temporal == "recurrent":
            yield from self._schedule_recurrent(frames, as_tensor, skip, stop)
        else:  # pragma: no cover - guarded by the registry's Literal
            raise ValueError(f"unknown temporal kind {temporal!r}")

    def _schedule_frames(self, frames: Iterator, as_tensor, first: int = 0,
                         stop: int | None = None) -> Iterator[torch.Tensor]:
        batch: list = []
        for f in frames:
            if stop is not None and first + len(batch) >= stop:
                break
            batch.append(f)
            if len(batch) == self._batch:
                yield self._run_group(first, len(batch), lambda: self.forward(
                    as_tensor(batch)[None], list(range(first, first + len(batch))))[0])
                first += len(batch)
                batch = []
        if batch:
            yield self._run_group(first, len(batch), lambda: self.forward(
                as_tensor(batch)[None], list(range(first, first + len(batch))))[0])

    def _schedule_windows(self, frames: Iterator, as_tensor, skip: int = 0,
                          stop: int | None = None) -> Iterator[torch.Tensor]:
        # A variant may change the window (FMA-Net paper-t5): the built model's own num_frames wins over the spec.
        n = int(getattr(self.model, "num_frames", self.spec.num_frames))
        r = n // 2
        buffer: deque = deque()  # frames [first_index, first_index + len)
        first_index = 0
        next_out = skip
        total = None
        batch: list[list[int]] = []
        limit: int | None = None  # windows per model call, from the first frame's size

        def window_indices(i: int, total_or_known: int, known_total: bool) -> list[int]:
            idx = []
            for j in range(i - r, i + r + 1):
                idx.append(_pad_index(j, total_or_known, self.spec.edge_padding, centre=i, radius=r) if (j < 0 or (known_total and j >= total_or_known)) else j)
            return idx

        def flush(batch_windows: list[list[int]]) -> torch.Tensor:
            clips = [as_tensor([buffer[k - first_index] for k in win]) for win in batch_windows]
            centres = [next_out - len(batch_windows) + i for i in range(len(batch_windows))]
            return self.forward(torch.stack(clips), centres)[:, 0]

        exhausted = False
        while True:
            # Read until the window of `next_out` is available or the input ends.
            while not exhausted and first_index + len(buffer) <= next_out + (2 * r if self.spec.edge_padding == "new_info" else r):
                f = next(frames, None)
                if f is None:
                    exhausted = True
                    total = first_index + len(buffer)
                else:
                    buffer.append(f)
            if (exhausted and next_out >= total) or (stop is not None and next_out >= stop):
                break
            known = total if exhausted else first_index + len(buffer)
            if limit is None:
                limit = self.window_batch(*as_tensor([buffer[0]]).shape[-2:])
            batch.append(window_indices(next_out, known, exhausted))
            next_out += 1
            if len(batch) == limit or (exhausted and next_out >= total):
                yield self._run_group(next_out - len(batch), len(batch), lambda: flush(batch))
                batch = []
                # Drop frames no future window needs (mirror padding near the end may reach back up to r).
                keep_from = max(next_out - 2 * r, 0)
                while first_index < keep_from and buffer:
                    buffer.popleft()
                    first_index += 1
        if batch:
            yield self._run_group(next_out - len(batch), len(batch), lambda: flush(batch))

    def _schedule_recurrent(self, frames: Iterator, as_tensor, skip: int = 0,
                            stop: int | None = None) -> Iterator[torch.Tensor]:
        k = self.options.chunk_overlap
        buffer: deque = deque()  # frames [first_index, first_index + len)
        first_index = 0
        emit_start = skip
        exhausted = False
        first = next(frames, None)
        if first is None:
            return
        buffer.append(first)
        # Streams carry (H, W, C) numpy frames, whole clips (C, H, W) tensors.
        h, w = first.shape[:2] if isinstance(first, np.ndarray) else first.shape[-2:]
        n = self.chunk_used = self.recurrent_chunk(int(h), int(w))
        while stop is None or emit_start < stop:
            while not exhausted and first_index + len(buffer) < emit_start + n + k:
                f = next(frames, None)
                if f is None:
                    exhausted = True
                else:
                    buffer.append(f)
            end_available = first_index + len(buffer)
            if emit_start >= end_available:
                break
            emit_end = min(emit_start + n, end_available)
            # Tiny last chunks lose temporal context: merge a short tail into the current chunk instead.
            if exhausted and 0 < end_available - emit_end < max(n // 4, 1):
                emit_end = end_available
            in_start = max(emit_start - k, first_index)
            in_end = min(emit_end + k, end_available)

            def run() -> torch.Tensor:
                clip = as_tensor([buffer[i - first_index] for i in range(in_start, in_end)])
                # Context frames are re-emitted by the neighbouring chunk: their aux pictures come from there (-1).
                ids = [i if emit_start <= i < emit_end else -1 for i in range(in_start, in_end)]
                return self.forward(clip[None], ids)[0][emit_start - in_start : emit_end - in_start]

            yield self._run_group(emit_start, emit_end - emit_start, run)
            emit_start = emit_end
            while first_index < emit_start - k and buffer:
                buffer.popleft()
                first_index += 1


def _pad_index(j: int, total: int, mode: str, *, centre: int | None = None, radius: int | None = None) -> int:
    """Index of the frame that stands in for out-of-range index ``j`` of a clip of ``total`` frames.

    ``"new_info"`` (DynaVSR/mmsr ``index_generation``) needs the window's ``centre`` and ``radius``: before the start
    it takes frames beyond the window's far end (centre 0, radius 2: ``[4, 3, 0, 1, 2]``), after the end frames
    before its near end (``[T-3, T-2, T-1, T-4, T-5]``); clips too short for that fall back to replicate.
    """
    if mode == "new_info":
        if centre is None or radius is None:
            raise ValueError("edge padding 'new_info' needs the window centre and radius")
        k = centre + radius - j if j < 0 else centre - radius - (j - (total - 1))
        return min(max(k, 0), total - 1)
    if mode == "replicate":
        return min(max(j, 0), total - 1)
    if mode == "mirror":  # reflect without repeating the edge frame: -1 → 1, T → T-2
        if total == 1:
            return 0
        period = 2 * (total - 1)
        j = abs(j) % period
        return period - j if j >= total else j
    raise ValueError(f"unknown edge padding {mode!r}")
