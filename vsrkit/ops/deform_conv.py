"""Modulated deformable convolution (DCNv2, Zhu et al., CVPR 2019) in pure PyTorch.

Semantics are those of ``torchvision.ops.deform_conv2d`` (and of the mmdetection/mmsr CUDA kernel that EDVR's
released weights were trained with):

* ``offset`` ``(N, 2·G·K, Ho, Wo)`` with ``K = kh·kw`` taps and ``G`` deformable groups; channel ``g·2K + 2k`` is the
  row displacement ``dy`` and ``g·2K + 2k + 1`` the column displacement ``dx`` of tap ``k = i·kw + j`` (row-major);
* ``mask`` ``(N, G·K, Ho, Wo)`` (channel ``g·K + k``) multiplies the sampled value (already a probability: the
  caller applies the sigmoid);
* input channel ``c`` belongs to deformable group ``c // (C/G)``;
* output pixel ``(y, x)``, tap ``(i, j)`` samples the input at
  ``(y·stride − pad + i·dilation + dy, x·stride − pad + j·dilation + dx)`` bilinearly; the four neighbours that
  fall outside the image contribute zero (so samples at ``h <= −1``, ``h >= H``, ``w <= −1``, ``w >= W`` are 0);
* ``out = Σ_{c,k} weight[o, c, k] · mask · sample + bias[o]``.

The implementation gathers the bilinear corners for all groups and taps at once (an im2col of the deformed
positions) and finishes with one matrix product; it is differentiable w.r.t. input, offset, mask, weight and bias.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["modulated_deform_conv2d", "ModulatedDeformConv2d", "ModulatedDCNPack"]


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def modulated_deform_conv2d(
    x: Tensor,
    offset: Tensor,
    mask: Tensor | None,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """Modulated deformable convolution; see the module docstring for the layout.

    Args:
        x: ``(N, C, H, W)``.
        offset: ``(N, 2·G·kh·kw, Ho, Wo)``; ``G`` (deformable groups) is inferred and must divide ``C``.
        mask: ``(N, G·kh·kw, Ho, Wo)`` or ``None`` (all ones: DCNv1).
        weight: ``(C_out, C/groups, kh, kw)``.
        bias: ``(C_out,)`` or ``None``.
        groups: ordinary convolution groups (1 in EDVR).

    Returns:
        ``(N, C_out, Ho, Wo)``.
    """
    n, c, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    k = kh * kw
    ho = (h + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1
    wo = (w + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1
    if offset.shape[0] != n or offset.shape[2:] != (ho, wo) or offset.shape[1] % (2 * k):
        raise ValueError(f"offset must be (N, 2*G*{k}, {ho}, {wo}), got {tuple(offset.shape)}")
    g = offset.shape[1] // (2 * k)
    if c % g or c_per_group * groups != c:
        raise ValueError(f"channels {c} do not split into {g} deformable groups / {groups} groups")
    cg = c // g
    if mask is not None and tuple(mask.shape) != (n, g * k, ho, wo):
        raise ValueError(f"mask must be {(n, g * k, ho, wo)}, got {tuple(mask.shape)}")

    off = offset.view(n, g, k, 2, ho, wo)
    dy, dx = off[:, :, :, 0], off[:, :, :, 1]  # (N, G, K, Ho, Wo)
    dev, dt = x.device, x.dtype
    ti = torch.arange(kh, device=dev, dtype=dt).repeat_interleave(kw) * dh  # tap row offsets, k = i*kw + j
    tj = torch.arange(kw, device=dev, dtype=dt).repeat(kh) * dw
    oy = torch.arange(ho, device=dev, dtype=dt) * sh - ph
    ox = torch.arange(wo, device=dev, dtype=dt) * sw - pw
    py = oy.view(1, 1, 1, ho, 1) + ti.view(1, 1, k, 1, 1) + dy  # (N, G, K, Ho, Wo)
    px = ox.view(1, 1, 1, 1, wo) + tj.view(1, 1, k, 1, 1) + dx

    y0 = torch.floor(py)
    x0 = torch.floor(px)
    ly, lx = py - y0, px - x0
    y0i, x0i = y0.long(), x0.long()
    flat = x.reshape(n, g, cg, h * w)
    cols = x.new_zeros(())
    for cy, cx, wgt in (
        (y0i, x0i, (1 - ly) * (1 - lx)),
        (y0i, x0i + 1, (1 - ly) * lx),
        (y0i + 1, x0i, ly * (1 - lx)),
        (y0i + 1, x0i + 1, ly * lx),
    ):
        valid = (cy >= 0) & (cy < h) & (cx >= 0) & (cx < w)
        idx = (cy.clamp(0, h - 1) * w + cx.clamp(0, w - 1)).view(n, g, 1, k * ho * wo).expand(n, g, cg, k * ho * wo)
        vals = torch.gather(flat, 3, idx).view(n, g, cg, k, ho, wo)
        cols = cols + vals * (wgt * valid.to(dt)).unsqueeze(2)
    if mask is not None:
        cols = cols * mask.view(n, g, 1, k, ho, wo)
    # (N, C, K, Ho·Wo) with channel-major then tap, matching weight.view(C_out, C/groups·K).
    cols = cols.reshape(n, groups, c_per_group * k, ho * wo)
    wmat = weight.reshape(groups, c_out // groups, c_per_group * k)
    out = torch.einsum("gok,ngkp->ngop", wmat, cols).reshape(n, c_out, ho, wo)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


class ModulatedDeformConv2d(nn.Module):
    """Parameters ``weight`` ``(C_out, C_in/groups, kh, kw)`` and ``bias``; ``forward(x, offset, mask)``.

    Initialised like mmdetection's ``ModulatedDeformConv``: ``U(±1/√(C_in·kh·kw))`` weight, zero bias.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        *,
        stride: int = 1,
        padding: int = 1,
        dilation: int = 1,
        groups: int = 1,
        deformable_groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        kh, kw = _pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = (kh, kw)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.deformable_groups = deformable_groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kh, kw))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        stdv = 1.0 / math.sqrt(in_channels * kh * kw)
        nn.init.uniform_(self.weight, -stdv, stdv)

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor | None) -> Tensor:
        return modulated_deform_conv2d(
            x, offset, mask, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class ModulatedDCNPack(ModulatedDeformConv2d):
    """DCNv2 whose offsets and masks are predicted from a separate feature (mmsr ``DCN_sep``,
    ``ModulatedDeformConvPack`` with ``extra_offset_mask=True``).

    ``forward(x, feat)``: ``conv_offset_mask(feat)`` (3×3, zero-initialised, ``3·G·K`` channels) is split into
    ``o1, o2, m``; ``offset = cat(o1, o2)`` and ``mask = sigmoid(m)``. At initialisation the module equals
    ``0.5 ×`` a plain convolution. Keys: ``weight``, ``bias``, ``conv_offset_mask.{weight,bias}``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, *, offset_channels: int | None = None,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        kh, kw = self.kernel_size
        self.conv_offset_mask = nn.Conv2d(
            offset_channels or in_channels, 3 * self.deformable_groups * kh * kw, kernel_size,
            stride=self.stride, padding=self.padding, bias=True,
        )
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def forward(self, x: Tensor, feat: Tensor) -> Tensor:  # type: ignore[override]
        o1, o2, m = torch.chunk(self.conv_offset_mask(feat), 3, dim=1)
        return super().forward(x, torch.cat((o1, o2), dim=1), torch.sigmoid(m))
