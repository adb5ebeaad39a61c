"""Pure-PyTorch modulated deformable convolution against a direct per-pixel evaluation of its definition."""

from __future__ import annotations

import math

import pytest
import torch

from vsrkit.ops.deform_conv import ModulatedDCNPack, modulated_deform_conv2d


def _bilinear(img: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """torchvision's rule: zero outside (-1, H) x (-1, W); corners outside the image contribute zero."""
    c, h, w = img.shape
    if y <= -1 or y >= h or x <= -1 or x >= w:
        return img.new_zeros(c)
    y0, x0 = math.floor(y), math.floor(x)
    out = img.new_zeros(c)
    for yy, xx in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
        if 0 <= yy < h and 0 <= xx < w:
            out = out + img[:, yy, xx] * (1 - abs(y - yy)) * (1 - abs(x - xx))
    return out


def _direct(x, offset, mask, weight, bias, stride, pad, dil):
    n, c, h, w = x.shape
    co, _, kh, kw = weight.shape
    k = kh * kw
    g = offset.shape[1] // (2 * k)
    cg = c // g
    ho, wo = offset.shape[2:]
    out = torch.zeros(n, co, ho, wo, dtype=x.dtype)
    for b in range(n):
        for oy in range(ho):
            for ox in range(wo):
                acc = bias.clone()
                for gi in range(g):
                    for i in range(kh):
                        for j in range(kw):
                            t = i * kw + j
                            dy = offset[b, gi * 2 * k + 2 * t, oy, ox].item()
                            dx = offset[b, gi * 2 * k + 2 * t + 1, oy, ox].item()
                            m = mask[b, gi * k + t, oy, ox]
                            y = oy * stride - pad + i * dil + dy
                            xx = ox * stride - pad + j * dil + dx
                            v = _bilinear(x[b, gi * cg : (gi + 1) * cg], y, xx) * m
                            acc = acc + weight[:, gi * cg : (gi + 1) * cg, i, j] @ v
                out[b, :, oy, ox] = acc
    return out


@pytest.mark.parametrize("stride,pad,dil,groups_def", [(1, 1, 1, 2), (2, 1, 1, 1), (1, 2, 2, 4)])
def test_matches_direct_definition(stride, pad, dil, groups_def):
    g = torch.Generator().manual_seed(stride * 10 + groups_def)
    n, c, h, w, co = 2, 4, 6, 7, 3
    x = torch.rand(n, c, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(co, c, 3, 3, generator=g, dtype=torch.float64)
    bias = torch.randn(co, generator=g, dtype=torch.float64)
    ho = (h + 2 * pad - (dil * 2 + 1)) // stride + 1
    wo = (w + 2 * pad - (dil * 2 + 1)) // stride + 1
    # Large offsets so that many samples fall partly or fully outside the image.
    offset = torch.randn(n, 2 * groups_def * 9, ho, wo, generator=g, dtype=torch.float64) * 2.5
    mask = torch.rand(n, groups_def * 9, ho, wo, generator=g, dtype=torch.float64)
    got = modulated_deform_conv2d(x, offset, mask, weight, bias, stride, pad, dil)
    ref = _direct(x, offset, mask, weight, bias, stride, pad, dil)
    assert torch.allclose(got, ref, atol=1e-12, rtol=0)


def test_zero_offset_unit_mask_is_plain_convolution():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 4, 8, 9, generator=g, dtype=torch.float64)
    weight = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64)
    off = torch.zeros(1, 2 * 2 * 9, 8, 9, dtype=torch.float64)
    mask = torch.ones(1, 2 * 9, 8, 9, dtype=torch.float64)
    got = modulated_deform_conv2d(x, off, mask, weight, None, 1, 1, 1)
    assert torch.allclose(got, torch.nn.functional.conv2d(x, weight, padding=1), atol=1e-12)


def test_pack_init_is_half_conv_and_gradients_flow():
    dcn = ModulatedDCNPack(4, 4, 3, padding=1, deformable_groups=2).double()
    x = torch.rand(1, 4, 6, 6, dtype=torch.float64, requires_grad=True)
    feat = torch.rand(1, 4, 6, 6, dtype=torch.float64)
    plain = torch.nn.functional.conv2d(x, dcn.weight, dcn.bias, padding=1)
    out = dcn(x, feat)
    assert torch.allclose(out, 0.5 * (plain - dcn.bias.view(1, -1, 1, 1)) + dcn.bias.view(1, -1, 1, 1), atol=1e-12)
    out.square().sum().backward()
    assert x.grad is not None and dcn.conv_offset_mask.weight.grad.abs().sum() > 0
