"""Restormer blocks shared by FMA-Net and BVSR-IK: LayerNorm forms, channel attention, GDFN."""

import torch
import torch.nn.functional as F

from vsrkit.ops.restormer import ChannelLayerNorm, GatedFeedForward, transposed_attention


def test_channel_layernorm_with_bias_equals_torch_layernorm():
    x = torch.randn(2, 8, 5, 6, dtype=torch.float64)
    norm = ChannelLayerNorm(8).double()
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (8,), eps=1e-5).permute(0, 3, 1, 2)
    assert torch.allclose(norm(x), ref, atol=1e-12)
    assert list(norm.state_dict()) == ["body.weight", "body.bias"]  # official key names


def test_bias_free_layernorm_keeps_the_mean():
    x = torch.randn(1, 4, 3, 3, dtype=torch.float64) + 5.0
    out = ChannelLayerNorm(4, bias=False).double()(x)
    var = x.var(dim=1, unbiased=False, keepdim=True)
    assert torch.allclose(out, x / torch.sqrt(var + 1e-5))
    assert list(ChannelLayerNorm(4, bias=False).state_dict()) == ["body.weight"]


def test_transposed_attention_matches_a_direct_per_head_computation():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 6, 4, 5, dtype=torch.float64) for _ in range(3))
    temperature = torch.tensor([0.5, 2.0], dtype=torch.float64).view(2, 1, 1)
    out = transposed_attention(q, k, v, temperature, heads=2)
    for head in range(2):
        ch = slice(3 * head, 3 * head + 3)
        qh, kh, vh = (t[0, ch].reshape(3, -1) for t in (q, k, v))
        qh, kh = qh / qh.norm(dim=1, keepdim=True), kh / kh.norm(dim=1, keepdim=True)
        attn = torch.softmax(qh @ kh.T * temperature[head], dim=-1)
        assert torch.allclose(out[0, ch].reshape(3, -1), attn @ vh, atol=1e-12)


def test_gated_feed_forward_shapes_gradients_and_keys():
    ffn = GatedFeedForward(dim=8, hidden=21)
    x = torch.randn(2, 8, 6, 7, requires_grad=True)
    ffn(x).square().mean().backward()
    assert x.grad is not None and all(p.grad is not None for p in ffn.parameters())
    assert sorted(ffn.state_dict()) == ["dwconv.weight", "project_in.weight", "project_out.weight"]
    assert ffn.project_in.out_channels == 42 and ffn.dwconv.groups == 42
