"""Restormer building blocks (Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image
Restoration", CVPR 2022), shared by FMA-Net and BVSR-IK.

* :class:`ChannelLayerNorm` – LayerNorm over channels at every pixel of a ``(B, C, H, W)`` map, in Restormer's
  "WithBias" and "BiasFree" forms (biased variance, eps 1e-5). The parameters live in a ``body`` sub-module so
  official key names (``norm1.body.weight``) load without renaming.
* :func:`transposed_attention` – multi-head *channel* ("transposed") attention: queries and keys are
  L2-normalised along the spatial axis and the ``C/heads × C/heads`` attention map is scaled by a learnable
  per-head temperature (Restormer Eq. 2; FMA-Net's multi-attention and BVSR-IK's recurrent attention build their
  q/k/v differently but share this core).
* :class:`GatedFeedForward` – the gated depth-wise convolutional feed-forward network (GDFN, Restormer Eq. 3):
  1×1 expansion to two branches, 3×3 depth-wise conv, ``gelu(a) · b`` (exact erf GELU), 1×1 projection.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _ChannelNormParams(nn.Module):
    def __init__(self, channels: int, bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None


class ChannelLayerNorm(nn.Module):
    """Per-pixel LayerNorm over the channels of ``(B, C, H, W)``.

    ``bias=True`` ("WithBias"): ``(x − μ)/√(σ² + eps)·w + b``. ``bias=False`` ("BiasFree"): ``x/√(σ² + eps)·w`` —
    Restormer's bias-free form does not subtract the mean, and released weights depend on that.
    """

    def __init__(self, channels: int, *, bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.body = _ChannelNormParams(channels, bias)
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        mu = x.mean(dim=1, keepdim=True)
        var = (x - mu).pow(2).mean(dim=1, keepdim=True)  # biased, as in Restormer
        shape = (1, -1, 1, 1)
        if self.body.bias is None:
            return x / torch.sqrt(var + self.eps) * self.body.weight.view(shape)
        return (x - mu) / torch.sqrt(var + self.eps) * self.body.weight.view(shape) + self.body.bias.view(shape)


def transposed_attention(q: Tensor, k: Tensor, v: Tensor, temperature: Tensor, heads: int) -> Tensor:
    """Channel attention of Restormer: ``q, k, v`` ``(B, C, H, W)`` → ``(B, C, H, W)``.

    Per head, ``A = softmax(norm(q) · norm(k)ᵀ · temperature)`` is a ``(C/heads, C/heads)`` map over channels
    (``norm`` = L2 over the ``H·W`` positions), applied to ``v``. ``temperature`` broadcasts as ``(heads, 1, 1)``.
    Cost is linear in the number of pixels, which is why these models can attend over whole frames.
    """
    b, c, h, w = q.shape

    def split(t: Tensor) -> Tensor:
        return t.reshape(b, heads, c // heads, h * w)

    qh = F.normalize(split(q), dim=-1)
    kh = F.normalize(split(k), dim=-1)
    attn = torch.softmax((qh @ kh.transpose(-2, -1)) * temperature, dim=-1)
    return (attn @ split(v)).reshape(b, c, h, w)


class GatedFeedForward(nn.Module):
    """GDFN: ``(B, dim, H, W)`` → ``(B, dim, H, W)`` through ``hidden`` gated channels.

    Keys follow Restormer (``project_in``, ``dwconv``, ``project_out``). Restormer and FMA-Net use
    ``hidden = int(dim · 2.66)``; BVSR-IK uses ``hidden = dim // 2``.
    """

    def __init__(self, *, dim: int, hidden: int, bias: bool = False) -> None:
        super().__init__()
        self.project_in = nn.Conv2d(dim, 2 * hidden, 1, bias=bias)
        self.dwconv = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden, bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        gate, value = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(gate) * value)
