"""ONNX export: the default (recurrent) model and a window model match PyTorch through onnxruntime within 1e-4; an
operator that blocks export is named in a one-line error. Skipped without the ``vsrkit[onnx]`` extra."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

pytest.importorskip("onnx", reason="onnx is not installed: pip install 'vsrkit[onnx]' to run the export tests")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: pip install 'vsrkit[onnx]'")

from vsrkit.cli import main  # noqa: E402
from vsrkit.engine.export import check_parity, export_onnx  # noqa: E402
from vsrkit.engine.upscale import resolve_model  # noqa: E402
from vsrkit.errors import VsrkitError  # noqa: E402
from vsrkit.models.registry import ModelSpec  # noqa: E402


@pytest.mark.slow
def test_default_model_exports_as_a_fixed_chunk_and_matches(tmp_path, capsys):
    out = tmp_path / "basicvsr.onnx"
    rc = main(["export", "basicvsr", "-o", str(out), "--size", "36x36", "--frames", "3"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "input (1, 3, 3, 36, 36)" in text
    diff = float(re.search(r"max \|diff\| ([0-9.e+-]+)", text).group(1))
    assert diff < 1e-4, text
    import onnx

    graph = onnx.load(str(out)).graph
    assert [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim] == [1, 3, 3, 144, 144]


@pytest.mark.slow
def test_window_model_exports_and_matches(tmp_path):
    torch.manual_seed(0)
    model, spec = resolve_model("duf", untrained=True)
    example = export_onnx(model, spec, tmp_path / "duf.onnx", height=24, width=24)
    assert tuple(example.shape) == (1, 7, 3, 24, 24)
    report = check_parity(tmp_path / "duf.onnx", model, example, repeats=1)
    assert report.max_abs_diff < 1e-4, report


class WarpSR(nn.Module):
    """A frame model that resamples with grid_sample (no ONNX form before opset 16)."""

    scale = 1

    def forward(self, x):
        b, t, c, h, w = x.shape
        ys, xs = torch.meshgrid(torch.linspace(-0.9, 0.9, h, dtype=x.dtype), torch.linspace(-0.8, 1.0, w, dtype=x.dtype), indexing="ij")
        shift = x.reshape(b * t, c, h, w).mean(dim=(1, 2, 3)).view(b * t, 1, 1, 1) * 0.1  # a data-dependent warp
        grid = torch.stack([xs + 0.1 * ys, ys], dim=-1)[None] + shift
        return F.grid_sample(x.reshape(b * t, c, h, w), grid, padding_mode="border", align_corners=True).reshape(b, t, c, h, w)


def test_blocking_operator_is_named_in_one_line(tmp_path):
    spec = ModelSpec(name="warp", description="", scale=1)
    with pytest.raises(VsrkitError) as info:
        export_onnx(WarpSR(), spec, tmp_path / "warp.onnx", height=16, width=16, opset=15)
    msg = str(info.value)
    assert "grid_sampler" in msg and "opset 15" in msg and "\n" not in msg, msg
    assert list(tmp_path.iterdir()) == []
    # At the default opset (17) the same model exports.
    export_onnx(WarpSR(), spec, tmp_path / "warp.onnx", height=16, width=16)
    assert (tmp_path / "warp.onnx").stat().st_size > 0
