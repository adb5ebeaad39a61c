"""Deployment export: a model as a fixed-shape ONNX graph, checked against PyTorch through onnxruntime.

The graph takes ``input`` ``(1, T, 3, H, W)`` RGB in [0, 1] and returns ``output`` ``(1, T_out, 3, sH, sW)`` — the
vsrkit model contract with every size fixed at export time (what TensorRT, VapourSynth vs-mlrt and FFmpeg's dnn filter
load most easily). ``T`` is 1 for frame models, the window length for window models (``T_out`` = 1, the centre
frame), and a fixed chunk for recurrent models: the host runs the graph on overlapping chunks and discards the
context frames, as :class:`~vsrkit.engine.infer.Upscaler` does.

Export uses PyTorch's TorchScript-based exporter (``dynamo=False``: no onnxscript needed). An operator ONNX cannot
express at the chosen opset fails with a one-line error naming it (e.g. deformable convolution needs opset 19).
Optional extra: ``vsrkit[onnx]`` (onnx, onnxruntime).
"""

from __future__ import annotations

import io
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vsrkit.errors import VsrkitError
from vsrkit.io import atomic, outputs
from vsrkit.models.registry import ModelSpec

DEFAULT_OPSET = 17
DEFAULT_RECURRENT_FRAMES = 8


@dataclass
class ParityReport:
    """onnxruntime (CPU) against PyTorch on one random input of the exported shape."""

    max_abs_diff: float
    torch_ms: float
    onnx_ms: float

    def __str__(self) -> str:
        return (f"onnxruntime vs PyTorch (CPU, fp32): max |diff| {self.max_abs_diff:.2e}; "
                f"{self.onnx_ms:.1f} ms vs {self.torch_ms:.1f} ms per call")


def export_frames(spec: ModelSpec, model: nn.Module, frames: int | None) -> int:
    """Frames per call of the exported graph: 1 (frame), the window (window), ``frames`` or 8 (recurrent)."""
    if spec.temporal == "frame":
        return 1
    if spec.temporal == "window":
        return int(getattr(model, "num_frames", spec.num_frames))
    if frames is not None and frames < 2:
        raise VsrkitError(f"--frames must be at least 2 for a recurrent model (got {frames})")
    return frames or DEFAULT_RECURRENT_FRAMES


class _Graph(nn.Module):
    """The model's plain ``forward(x)`` (models take keyword-only extras such as ``return_aux`` that the exporter
    must not see)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _blocking_operator(exc: BaseException) -> str | None:
    text = " ".join(str(exc).split())
    m = re.search(r"operator '?([\w:.]+)'? to ONNX opset version (\d+)", text) or \
        re.search(r"Unsupported: ONNX export of (?:operator )?([\w:.]+)", text) or \
        re.search(r"(aten::\w+|torchvision::\w+|vsrkit::\w+)", text)
    return m.group(1) if m else None


def export_onnx(model: nn.Module, spec: ModelSpec, output: str | Path, *, height: int, width: int,
                frames: int | None = None, opset: int = DEFAULT_OPSET, overwrite: bool = False) -> torch.Tensor:
    """Export ``model`` to ``output`` for input ``(1, T, 3, height, width)``; returns the example input used.

    The file is written atomically; an operator that blocks export raises a one-line
    :class:`~vsrkit.errors.VsrkitError` naming it.
    """
    out = outputs.check_output(output, overwrite=overwrite, kind="file")
    if height < spec.min_size or width < spec.min_size or height % spec.size_multiple or width % spec.size_multiple:
        raise VsrkitError(f"{spec.name} needs H, W >= {spec.min_size} and multiples of {spec.size_multiple}: pass "
                          "e.g. --size 64x64")
    t = export_frames(spec, model, frames)
    model = model.eval().float().cpu()
    example = torch.rand(1, t, 3, height, width, generator=torch.Generator().manual_seed(0))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Graph(model), (example,), buffer, input_names=["input"], output_names=["output"],
                              opset_version=opset, dynamo=False, do_constant_folding=True)
    except Exception as e:  # noqa: BLE001 - the exporter raises many types; all mean "cannot export"
        op = _blocking_operator(e)
        what = f"operator {op} has no ONNX form at opset {opset}" if op else " ".join(str(e).split())[:200]
        raise VsrkitError(f"{spec.name} cannot be exported to ONNX: {what}; try a higher --opset, or another "
                          "model (see the README's export table)") from None
    tmp = atomic.temp_file_for(out)
    try:
        tmp.write_bytes(buffer.getvalue())
        atomic.commit(tmp, out, overwrite=overwrite)
    except BaseException:
        atomic.discard(tmp)
        raise
    return example


def check_parity(path: str | Path, model: nn.Module, example: torch.Tensor, repeats: int = 3) -> ParityReport:
    """Run the graph with onnxruntime (CPU) and the model with PyTorch on ``example``; max difference and speed."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise VsrkitError("the parity check needs onnxruntime: pip install 'vsrkit[onnx]' (or pass --no-check)") \
            from None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"input": example.numpy()}
    model = model.eval().float().cpu()

    def timed(fn) -> tuple[np.ndarray, float]:
        result, best = None, float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = fn()
            best = min(best, time.perf_counter() - t0)
        return result, 1000 * best

    with torch.no_grad():
        ref, torch_ms = timed(lambda: model(example).numpy())
    got, onnx_ms = timed(lambda: session.run(["output"], feed)[0])
    if got.shape != ref.shape:
        raise VsrkitError(f"the ONNX graph returns {got.shape}, PyTorch {ref.shape}: the export is wrong")
    return ParityReport(float(np.abs(got - ref).max()), torch_ms, onnx_ms)
