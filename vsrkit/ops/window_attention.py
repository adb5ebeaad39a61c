"""Shifted-window multi-head self-attention over 3-D (time × height × width) token volumes (Swin / Video Swin).

Used by IART's PSRT-recurrent backbone (multi-frame self-attention blocks, window ``(3, 8, 8)``) and reusable by any
method with (shifted) window attention; a 2-D window is the case ``window[0] = 1``.

Tokens are kept as ``(B, D, H, W, C)``. Windows are partitioned row-major over ``(d, h, w)`` inside the window, so the
relative-position index is the usual ``(Δd + Wd − 1)·(2Wh − 1)(2Ww − 1) + (Δh + Wh − 1)·(2Ww − 1) + (Δw + Ww − 1)``
(:func:`relative_position_index_3d`). :class:`SwinBlock3D` pads the normalised tokens with zeros to window multiples
(padded tokens take part in attention, as in Video Swin and PSRT), applies the cyclic shift with the −100 region mask
computed on the padded size, and crops back. State-dict names follow Swin: ``norm1``, ``attn.{qkv, proj,
relative_position_bias_table, relative_position_index}``, ``norm2``, ``mlp.{fc1, fc2}``.

Efficiency (no Python loop over windows): windows go through batched ``scaled_dot_product_attention`` calls with the
bias as an additive float mask — one call for the windows the −100 shift mask leaves untouched, one for those it
touches (the last row/column of windows), so the ``N × N`` mask is materialised only there; the cyclic shift is two
slice-concatenations (``torch.roll`` over several dims is slow on CPU); masks and biases are cached (biases only
while no gradient is recorded).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Mlp",
    "SwinBlock3D",
    "WindowAttention3D",
    "cyclic_shift",
    "drop_path",
    "relative_position_index_3d",
    "shifted_window_mask_3d",
    "window_partition_3d",
    "window_reverse_3d",
]


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    """Stochastic depth per sample (scaled by ``1/(1-p)``, timm semantics); identity when not training."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
    return x * mask / keep


def window_partition_3d(x: Tensor, window: Sequence[int]) -> Tensor:
    """``(B, D, H, W, C)`` (sizes multiples of ``window``) → ``(B·nW, Wd·Wh·Ww, C)``."""
    b, d, h, w, c = x.shape
    wd, wh, ww = window
    x = x.view(b, d // wd, wd, h // wh, wh, w // ww, ww, c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, wd * wh * ww, c)


def window_reverse_3d(windows: Tensor, window: Sequence[int], b: int, d: int, h: int, w: int) -> Tensor:
    """Inverse of :func:`window_partition_3d`: ``(B·nW, Wd·Wh·Ww, C)`` → ``(B, D, H, W, C)``."""
    wd, wh, ww = window
    x = windows.view(b, d // wd, h // wh, w // ww, wd, wh, ww, -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, -1)


def relative_position_index_3d(window: Sequence[int]) -> Tensor:
    """``(N, N)`` int64 index into a ``(2Wd−1)(2Wh−1)(2Ww−1)``-row bias table, ``N = Wd·Wh·Ww``."""
    wd, wh, ww = window
    coords = torch.stack(torch.meshgrid(torch.arange(wd), torch.arange(wh), torch.arange(ww), indexing="ij"))
    coords = coords.flatten(1)  # (3, N)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # (N, N, 3)
    rel = rel + torch.tensor([wd - 1, wh - 1, ww - 1])
    return rel[..., 0] * (2 * wh - 1) * (2 * ww - 1) + rel[..., 1] * (2 * ww - 1) + rel[..., 2]


def shifted_window_mask_3d(size: Sequence[int], window: Sequence[int], shift: Sequence[int], *,
                           device=None, dtype=None) -> Tensor:
    """Additive mask ``(nW, N, N)``: 0 within a region, −100 across the regions a cyclic shift glues together.
    ``size`` = padded ``(D, H, W)``."""
    d, h, w = size
    img = torch.zeros(1, d, h, w, 1, device=device, dtype=dtype)
    cnt = 0
    slices = [(slice(0, -win), slice(-win, -s), slice(-s, None)) for win, s in zip(window, shift)]
    for sd in slices[0]:
        for sh in slices[1]:
            for sw in slices[2]:
                img[:, sd, sh, sw, :] = cnt
                cnt += 1
    regions = window_partition_3d(img, window).squeeze(-1)  # (nW, N)
    diff = regions.unsqueeze(1) - regions.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


def cyclic_shift(x: Tensor, shifts: Sequence[int], dims: Sequence[int]) -> Tensor:
    """``torch.roll(x, shifts, dims)`` as one slice-and-concatenate per non-zero shift (``torch.roll`` over several
    dims of a large channels-last tensor is many times slower on CPU)."""
    for s, d in zip(shifts, dims):
        s %= x.shape[d]
        if s:
            x = torch.cat((x.narrow(d, x.shape[d] - s, s), x.narrow(d, 0, x.shape[d] - s)), dim=d)
    return x


class WindowAttention3D(nn.Module):
    """Multi-head self-attention inside windows with a learned relative position bias.

    ``forward(x (B_, N, C), mask (nW, N, N) | None)``; ``B_`` must be a multiple of ``nW`` when masked.
    """

    def __init__(self, *, dim: int, window: Sequence[int], num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.dim, self.window, self.num_heads = dim, tuple(window), num_heads
        self.scale = (dim // num_heads) ** -0.5
        wd, wh, ww = self.window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1),
                                                                     num_heads))
        self.register_buffer("relative_position_index", relative_position_index_3d(self.window))
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self._cache: tuple | None = None

    def position_bias(self) -> Tensor:
        n = self.relative_position_index.shape[0]
        table = self.relative_position_bias_table[self.relative_position_index.reshape(-1)]
        return table.view(n, n, -1).permute(2, 0, 1)  # (heads, N, N)

    def _biases(self, mask: Tensor | None, dtype: torch.dtype) -> tuple[Tensor, Tensor | None, Tensor | None,
                                                                       Tensor | None]:
        """``(bias (1, heads, N, N), bias + mask of the windows the mask touches (k, heads, N, N), their indices,
        the other windows' indices)``. Windows whose mask is all zero (all but the last row/column of windows)
        use the plain bias, so the ``N × N`` mask is materialised only where it matters. Cached while no gradient
        is recorded (inference), keyed on the table's version so that loading or training invalidates it."""
        table = self.relative_position_bias_table
        recording = torch.is_grad_enabled() and table.requires_grad
        key = (table._version, table.data_ptr(), None if mask is None else (mask.data_ptr(), mask.shape), dtype)
        if not recording and self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        bias = self.position_bias().unsqueeze(0).to(dtype)
        result: tuple = (bias, None, None, None)
        if mask is not None:
            touched = (mask != 0).flatten(1).any(dim=1)
            sel, rest = touched.nonzero().flatten(), (~touched).nonzero().flatten()
            result = (bias, bias + mask[sel].to(dtype).unsqueeze(1), sel, rest)
        self._cache = None if recording else (key, result)
        return result

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        b_, n, c = x.shape
        hd = c // self.num_heads
        qkv = self.qkv(x).view(b_, n, 3, self.num_heads, hd).permute(2, 0, 3, 1, 4)  # (3, B_, heads, N, hd)
        bias, masked_bias, sel, rest = self._biases(mask, qkv.dtype)
        if mask is None:
            out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=bias, scale=self.scale)
        else:
            nw = mask.shape[0]
            bw = b_ // nw
            qkv = qkv.reshape(3, bw, nw, self.num_heads, n, hd)
            out = qkv.new_empty(bw, nw, self.num_heads, n, hd)
            for idx, attn_bias in ((rest, bias), (sel, masked_bias)):
                if idx.numel() == 0:
                    continue
                part = qkv[:, :, idx].reshape(3, bw * idx.numel(), self.num_heads, n, hd)
                if attn_bias.shape[0] > 1:  # per-window masks, repeated over the batch
                    attn_bias = attn_bias.unsqueeze(0).expand(bw, -1, -1, -1, -1).reshape(-1, self.num_heads, n, n)
                res = F.scaled_dot_product_attention(part[0], part[1], part[2], attn_mask=attn_bias, scale=self.scale)
                out[:, idx] = res.view(bw, idx.numel(), self.num_heads, n, hd)
            out = out.view(b_, self.num_heads, n, hd)
        return self.proj(out.transpose(1, 2).reshape(b_, n, c))


class Mlp(nn.Module):
    """``fc2(GELU(fc1(x)))``."""

    def __init__(self, *, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinBlock3D(nn.Module):
    """Pre-norm (shifted) window transformer block on ``(B, D, H, W, C)`` tokens.

    ``x = x + DropPath(W-MSA(norm1(x)))``, ``x = x + DropPath(mlp(norm2(x)))``; any ``D, H, W`` (zero padding of
    the normalised tokens to window multiples, cropped back). ``shift`` all zeros = plain windows.
    """

    def __init__(self, *, dim: int, num_heads: int, window: Sequence[int] = (3, 8, 8),
                 shift: Sequence[int] = (0, 0, 0), mlp_ratio: float = 2.0, qkv_bias: bool = True,
                 drop_path: float = 0.0) -> None:
        super().__init__()
        self.window, self.shift, self.drop_path = tuple(window), tuple(shift), drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention3D(dim=dim, window=window, num_heads=num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim=dim, hidden=int(dim * mlp_ratio))
        self._mask_cache: dict[tuple, Tensor] = {}

    def _mask(self, size: tuple[int, int, int], x: Tensor) -> Tensor:
        key = (size, x.device, x.dtype)
        mask = self._mask_cache.get(key)
        if mask is None:
            mask = shifted_window_mask_3d(size, self.window, self.shift, device=x.device, dtype=x.dtype)
            self._mask_cache = {key: mask}  # one entry: clips keep their size
        return mask

    def forward(self, x: Tensor) -> Tensor:
        b, d, h, w, c = x.shape
        wd, wh, ww = self.window
        y = self.norm1(x)
        pd, ph, pw = (-d) % wd, (-h) % wh, (-w) % ww
        if pd or ph or pw:
            y = F.pad(y, (0, 0, 0, pw, 0, ph, 0, pd))
        dp, hp, wp = d + pd, h + ph, w + pw
        shifted = any(self.shift)
        if shifted:
            y = cyclic_shift(y, tuple(-s for s in self.shift), (1, 2, 3))
        windows = self.attn(window_partition_3d(y, self.window), self._mask((dp, hp, wp), y) if shifted else None)
        y = window_reverse_3d(windows, self.window, b, dp, hp, wp)
        if shifted:
            y = cyclic_shift(y, self.shift, (1, 2, 3))
        y = y[:, :d, :h, :w]
        x = x + drop_path(y, self.drop_path, self.training)
        return x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)
