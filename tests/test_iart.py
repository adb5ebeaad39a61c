"""IART (IA-RT), IA-CNN and the implicit / explicit aligners: golden parity, sizes, converter, alignment semantics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vsrkit import convert
from vsrkit.errors import VsrkitError
from vsrkit.models import build, spec
from vsrkit.models.basicvsr import BasicVSR
from vsrkit.models.iart import (
    IACNN,
    IACNN_VARIANTS,
    IART,
    OFFICIAL_KEYS_UNUSED,
    VARIANTS,
    convert_official_state_dict,
)
from vsrkit.ops.implicit_align import (
    FlowWarpAlign,
    ImplicitAlign,
    build_aligner,
    sine_inverse_frequencies,
    split_sampling_positions,
)
from vsrkit.ops.warp import flow_warp
from vsrkit.ops.window_attention import relative_position_index_3d, window_partition_3d, window_reverse_3d


def _num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _fixture(golden_dir):
    from safetensors.torch import load_file

    folder = golden_dir / "iart"
    if not (folder / "meta.json").is_file():
        pytest.skip(f"golden fixture not found at {folder}")
    meta = json.loads((folder / "meta.json").read_text())
    return meta, load_file(str(folder / "weights.safetensors")), load_file(str(folder / "io.safetensors")), folder


# ------------------------------------------------------------------------------------------------- golden parity
def test_golden_parity_float64_and_float32(golden_dir):
    meta, weights, io, _ = _fixture(golden_dir)
    tol = meta["tolerance"]["per_output"]["output"]
    model = convert.from_official("iart", {"params": weights}, meta["constructor"]["kwargs"], dtype=torch.float64)
    assert _num_params(model) == meta["num_parameters"]
    with torch.no_grad():
        out = convert.official_forward("iart", model, io["input.lqs"])
    err64 = (out - io["output.output"]).abs().max().item()
    assert err64 <= tol["float64_atol"], err64
    with torch.no_grad():
        out32 = convert.official_forward("iart", model.float(), io["input.lqs"].float())
    err32 = (out32.double() - io["output.output"]).abs().max().item()
    assert err32 <= tol["float32_atol"], err32


# --------------------------------------------------------------------------------------------------------- sizes
def test_paper_param_counts():
    with torch.device("meta"):
        iart = IART(**VARIANTS["paper"])
        iacnn = IACNN(**IACNN_VARIANTS["paper"])
    assert _num_params(iart) == 13_410_503
    unused = sum(iart.get_parameter(k).numel() for k in OFFICIAL_KEYS_UNUSED)
    assert len(OFFICIAL_KEYS_UNUSED) == 24 and unused == 567_136
    assert _num_params(iart.implicit_warp) == 43_560
    # IA-CNN re-creation: BasicVSR 6,291,311 + IA 12,480 + query extractor 2,217,472 (paper: 8.5 M)
    assert _num_params(iacnn) == 8_521_263
    assert _num_params(iacnn.aligner) == 12_480


def test_registry_entries():
    s, c = spec("iart"), spec("iacnn")
    assert s.variants == VARIANTS and s.temporal == "recurrent" and s.min_size == 64 and s.scale == 4
    assert c.variants == IACNN_VARIANTS and c.temporal == "recurrent" and c.min_size == 33
    assert s.converter.convert is convert_official_state_dict


# ----------------------------------------------------------------------------------------------------- converter
def test_manifest_keys_map_completely_onto_paper_model(golden_dir):
    _, _, _, folder = _fixture(golden_dir)
    manifest = json.loads((folder / "manifest_paper.json").read_text())
    with torch.device("meta"):
        model = IART(**VARIANTS["paper"])
    ours = model.state_dict()
    placeholders = {}
    for key, entry in manifest["state_dict"].items():
        if key.endswith("relative_position_index"):  # integer buffers carry official values; the converter checks
            placeholders[key] = relative_position_index_3d((3, 8, 8))
        elif key == "implicit_warp.window_idx_offset":
            placeholders[key] = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
        else:
            placeholders[key] = torch.empty(entry["shape"])
    report: dict = {}
    converted = convert_official_state_dict({"params": placeholders}, report)
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in ours.items()}
    assert sorted(report["unused"]) == sorted(OFFICIAL_KEYS_UNUSED)
    assert set(report["renamed"]) == {f"upconv{i}.{k}" for i in (1, 2) for k in ("weight", "bias")}
    assert manifest["num_parameters"] == _num_params(model)
    # a wrong integer buffer or a foreign key is refused
    bad = dict(placeholders)
    key = next(k for k in bad if k.endswith("relative_position_index"))
    bad[key] = torch.zeros_like(bad[key])
    with pytest.raises(VsrkitError, match="relative index"):
        convert_official_state_dict(bad)
    with pytest.raises(VsrkitError, match="rename table"):
        convert_official_state_dict({"fusion.weight": torch.zeros(1)})


# ----------------------------------------------------------------------------------------- implicit alignment
def test_integer_decimal_split():
    flow = torch.tensor([[[[0.0, 0.0], [-0.25, 1.5], [2.75, -3.0]]]])  # (1, 1, 3, 2): (dx, dy)
    base, dec = split_sampling_positions(flow)
    assert base.dtype == torch.int64
    # p = (row + dy, col + dx) for row 0, cols 0..2
    assert base[0, 0].tolist() == [[0, 0], [1, 0], [-3, 4]]
    assert torch.allclose(dec[0, 0], torch.tensor([[0.0, 0.0], [0.5, 0.75], [0.0, 0.75]]))
    assert split_sampling_positions(flow.half())[1].dtype == torch.float32  # positions never in fp16
    inv = sine_inverse_frequencies(8, 0.01)
    assert inv.dtype == torch.float32 and torch.allclose(1 / inv[::2].double(), 100 ** (torch.arange(4) / 4.0).double(),
                                                         rtol=1e-6)


def _uniform_ia(channels: int = 8) -> ImplicitAlign:
    """Attention made uniform (k ≡ 0) and v = identity without encodings: output = mean of the 2×2 window."""
    ia = ImplicitAlign(dim=channels, num_heads=2, pe_window=False, pe_query=False)
    with torch.no_grad():
        ia.k.weight.zero_(), ia.k.bias.zero_()
        ia.v.weight.copy_(torch.eye(channels)), ia.v.bias.zero_()
    return ia


def test_zero_and_integer_flow_gather_the_anchored_window():
    torch.manual_seed(0)
    y, x = torch.rand(2, 8, 9, 11), torch.rand(2, 8, 9, 11)
    ia = _uniform_ia()
    # window anchored at floor(p) = (i, j): cells (i, j), (i, j+1), (i+1, j), (i+1, j+1), border duplicated
    expected = F.avg_pool2d(F.pad(y, (0, 1, 0, 1), mode="replicate"), 2, stride=1)
    out, attn = ia(y, x, torch.zeros(2, 9, 11, 2), return_attention=True)
    assert out.shape == (2, 8, 9, 11) and attn.shape == (2, 9, 11, 2, 4)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(attn.sum(-1), torch.ones(()), atol=1e-6)
    # an integer flow (dx=+2, dy=-1) moves the window: compare away from the clamped borders
    flow = torch.zeros(2, 9, 11, 2)
    flow[..., 0], flow[..., 1] = 2.0, -1.0
    shifted = ia(y, x, flow)
    assert torch.allclose(shifted[:, :, 1:, :-3], expected[:, :, :-1, 2:-1], atol=1e-6)


def test_implicit_alignment_is_translation_equivariant_with_real_weights():
    # the decimal part alone enters the encodings: flow + 1 on y equals flow on y shifted by one column
    torch.manual_seed(1)
    ia = ImplicitAlign(dim=16, num_heads=4)
    y, x = torch.rand(1, 16, 8, 12), torch.rand(1, 16, 8, 12)
    flow = torch.full((1, 8, 12, 2), 0.3)
    a = ia(y, x, flow + torch.tensor([1.0, 0.0]))
    b = ia(torch.roll(y, -1, dims=-1), x, flow)
    assert torch.allclose(a[..., :-3], b[..., :-3], atol=1e-5)
    assert not torch.allclose(ia(y, x, flow), ia(y, x, flow + 0.2), atol=1e-4)  # sub-pixel offsets matter


def test_key_and_query_encodings_follow_the_official_scales():
    ia = ImplicitAlign(dim=16, num_heads=2)
    assert ia.position_bias.shape == (1, 4, 16) and ia.window_idx_offset.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    # key cell (0, 1) is normalised by ws-1, the query by ws: it equals the query code of offset (0, 2)
    q = ia.query_encoding(torch.tensor([0.0, 2.0]))
    assert torch.allclose(ia.position_bias[0, 1], q, atol=1e-3)
    assert torch.allclose(ia.position_bias[0, 0], ia.query_encoding(torch.zeros(2)), atol=1e-6)


def test_implicit_alignment_gradients_and_zero_padding():
    torch.manual_seed(2)
    ia = ImplicitAlign(dim=8, num_heads=2, padding="zero")
    y = torch.rand(1, 8, 6, 7, requires_grad=True)
    x = torch.rand(1, 8, 6, 7, requires_grad=True)
    flow = (torch.randn(1, 6, 7, 2) * 2).requires_grad_()
    ia(y, x, flow).square().mean().backward()
    for t in (y, x, flow, ia.q.weight, ia.k.weight, ia.v.weight, ia.v.bias):
        assert t.grad is not None and t.grad.abs().sum() > 0
    # far outside the map every cell is zero padding: output = attention over the encodings alone, same everywhere
    far = ia(y, x, torch.full((1, 6, 7, 2), 100.0))
    far_other = ia(torch.rand(1, 8, 6, 7), x, torch.full((1, 6, 7, 2), 100.0))
    assert torch.allclose(far, far_other)


def test_resampling_options_shapes_and_flow_warp_semantics():
    torch.manual_seed(3)
    y, x = torch.rand(2, 8, 10, 12), torch.rand(2, 8, 10, 12)
    flow = torch.randn(2, 10, 12, 2) * 1.5
    for kind in ("nearest", "bilinear", "bicubic", "implicit"):
        aligner = build_aligner(kind, channels=8, num_heads=2)
        assert aligner(y, x, flow).shape == (2, 8, 10, 12), kind
        assert aligner(y, x, flow.permute(0, 3, 1, 2)).shape == (2, 8, 10, 12), kind  # SpyNet layout accepted
    for mode in ("nearest", "bilinear"):
        assert torch.equal(FlowWarpAlign(mode=mode)(y, None, flow), flow_warp(y, flow, interpolation=mode))
    zero = torch.zeros(2, 10, 12, 2)
    for mode in ("nearest", "bilinear", "bicubic"):
        assert torch.allclose(FlowWarpAlign(mode=mode)(y, x, zero), y, atol=1e-5), mode
    with pytest.raises(ValueError, match="unknown alignment"):
        build_aligner("lanczos")


def test_window_partition_roundtrip_and_relative_index():
    x = torch.arange(2 * 3 * 16 * 8 * 5, dtype=torch.float32).view(2, 3, 16, 8, 5)
    windows = window_partition_3d(x, (3, 8, 8))
    assert windows.shape == (4, 192, 5)
    assert torch.equal(window_reverse_3d(windows, (3, 8, 8), 2, 3, 16, 8), x)
    idx = relative_position_index_3d((3, 8, 8))
    assert idx.shape == (192, 192) and idx[0, 0] == 562 and idx.max() == 1124 and idx.min() == 0


# -------------------------------------------------------------------------------------------------------- models
def _real_clip(frames: list[np.ndarray], t: int, h: int, w: int) -> torch.Tensor:
    arr = np.stack(frames[:t])[:, :h, :w]
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(255.0).unsqueeze(0)


def test_small_iacnn_forward_gradients_on_real_frames(real_frames):
    torch.manual_seed(0)
    model = build("iacnn", "small", num_block=1, query_blocks=1)
    clip = _real_clip(real_frames, 3, 40, 44)
    out, aux = model(clip, return_aux=True)
    assert out.shape == (1, 3, 3, 160, 176) and aux["flows_forward"].shape == (1, 2, 2, 40, 44)
    F.l1_loss(out, F.interpolate(clip[0], scale_factor=4, mode="bicubic").unsqueeze(0)).backward()
    for name in ("spynet.basic_module.5.basic_module.8.weight", "query_extractor.main.0.weight", "aligner.q.weight",
                 "aligner.k.weight", "aligner.v.bias", "backward_trunk.main.0.weight", "forward_trunk.main.0.weight",
                 "conv_last.bias"):
        grad = model.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_bilinear_iacnn_is_basicvsr(real_frames):
    torch.manual_seed(0)
    base = BasicVSR(num_feat=8, num_block=1).eval()
    study = IACNN(num_feat=8, num_block=1, alignment="bilinear").eval()
    study.load_state_dict(base.state_dict(), strict=True)  # explicit modes add no parameters
    clip = _real_clip(real_frames, 3, 36, 40)
    with torch.no_grad():
        assert torch.equal(study(clip), base(clip))
        nearest = IACNN(num_feat=8, num_block=1, alignment="nearest").eval()
        nearest.load_state_dict(base.state_dict())
        assert not torch.equal(nearest(clip), base(clip))
    with pytest.raises(VsrkitError, match="unknown alignment"):
        IACNN(alignment="cubic")


def test_small_iart_forward_and_min_size(real_frames):
    torch.manual_seed(0)
    model = IART(mid_channels=8, embed_dim=8, depths=[2], num_heads=[2]).eval()
    clip = _real_clip(real_frames, 2, 64, 72)
    with torch.no_grad():
        out, aux = model(clip, return_aux=True)
    assert out.shape == (1, 2, 3, 256, 288) and aux["flows_backward"].shape == (1, 1, 2, 64, 72)
    with pytest.raises(VsrkitError, match="at least 64"):
        model(torch.rand(1, 2, 3, 63, 80))


def test_shifted_window_block_matches_a_plain_reference_and_has_gradients():
    """The split masked/unmasked attention and slice-based shift equal roll + full mask + explicit softmax."""
    from vsrkit.ops.window_attention import SwinBlock3D, shifted_window_mask_3d

    torch.manual_seed(4)
    blk = SwinBlock3D(dim=8, num_heads=2, window=(3, 4, 4), shift=(0, 2, 2)).double()
    with torch.no_grad():
        blk.attn.relative_position_bias_table.normal_(0, 0.5)
    x = torch.rand(2, 3, 8, 10, 8, dtype=torch.float64, requires_grad=True)  # W=10: padded to 12

    def reference(x):
        y = F.pad(blk.norm1(x), (0, 0, 0, 2))
        y = torch.roll(y, (0, -2, -2), (1, 2, 3))
        win = window_partition_3d(y, (3, 4, 4))
        att = blk.attn
        qkv = att.qkv(win).view(win.shape[0], 48, 3, 2, 4).permute(2, 0, 3, 1, 4)
        logits = qkv[0] @ qkv[1].transpose(-1, -2) * att.scale + att.position_bias().unsqueeze(0)
        mask = shifted_window_mask_3d((3, 8, 12), (3, 4, 4), (0, 2, 2), dtype=torch.float64)
        logits = (logits.view(2, -1, 2, 48, 48) + mask.view(1, -1, 1, 48, 48)).view(-1, 2, 48, 48)
        out = att.proj((logits.softmax(-1) @ qkv[2]).transpose(1, 2).reshape(-1, 48, 8))
        y = torch.roll(window_reverse_3d(out, (3, 4, 4), 2, 3, 8, 12), (0, 2, 2), (1, 2, 3))[:, :, :, :10]
        x = x + y
        return x + blk.mlp(blk.norm2(x))

    out = blk(x)
    assert torch.allclose(out, reference(x), atol=1e-12)
    out.square().sum().backward()
    assert x.grad is not None and blk.attn.relative_position_bias_table.grad.abs().sum() > 0
    with torch.no_grad():  # cached inference path gives the same result
        assert torch.allclose(blk(x), blk(x)) and torch.allclose(blk(x), out)
