"""Feature alignment by resampling along a dense flow: implicit (IART) and explicit (nearest/bilinear/bicubic).

Every aligner here has the same call, ``aligner(feature, reference, flow) -> aligned``:

* ``feature`` ``(N, C, H, W)``: the map to be moved (e.g. a propagated hidden state);
* ``reference`` ``(N, C, H, W)``: a feature of the current frame, on the target grid (used by the implicit
  aligner as attention queries; ignored by the explicit ones);
* ``flow`` ``(N, H, W, 2)``: ``(dx, dy)`` in pixels from each target pixel to its match in ``feature``
  (:func:`vsrkit.ops.warp.flow_warp` convention). :func:`as_flow_nhwc` accepts SpyNet's ``(N, 2, H, W)`` too.

:class:`ImplicitAlign` is the implicit resampling-based alignment of IART (Xu et al., CVPR 2024, §4; official
``ImplicitWarpModule``). For a target pixel ``(i, j)`` the sampling position ``p = (i + dy, j + dx)`` is split into
an integer part ``P = floor(p)`` (selects the window, "integral offsets as window queries", eq. 13) and a decimal
part ``d = p - P`` (encoded into the query, "decimal offsets as positional encoding", eq. 17). The window is the
``ws × ws`` block anchored at ``P`` (``(P_r + a, P_c + b)``, ``a, b = 0 … ws-1``, row-major; for ``ws = 2`` exactly
the four bilinear neighbours), not centred as the paper's eq. 15 says. One query (current feature + PE(d)) attends
to the ``ws²`` keys/values (gathered feature + PE(cell)) with multi-head softmax attention (eqs. 8-11); ``F_q``,
``F_k``, ``F_v`` are single Linear layers and there is no output projection, residual or normalisation.

Positional encodings (DETR-style sinusoids, added to the tokens): for an angle pair ``(u_row, u_col)``,
``γ = [S(u_row) ‖ S(u_col)]``, ``S(u) = [sin(u/τ_0), cos(u/τ_1), sin(u/τ_2), …]`` with
``τ_k = T^(2⌊k/2⌋/F)``, ``F = pe_dim / 2``, ``T = pe_temp = 0.01`` — i.e. angular speeds ``100^(m/(F/2))``,
``m = 0 … F/2-1``. The official code builds ``τ`` in float32 whatever the working precision; the released weights
and the golden fixture depend on these float32-rounded values, so :func:`sine_inverse_frequencies` does the same.
Normalisations (official code; the paper's eqs. 14/17 say ``[i, j]/w`` and ``d/2w``, which weights do not follow):

* key/value cell ``(a, b)``: ``u = 2π·(a, b) / ((ws − 1) + 1e-6)`` — a persistent buffer ``position_bias``
  ``(1, ws², pe_dim)`` (released checkpoints carry it; load it, do not recompute);
* query: ``u = 2π·d / (ws + 1e-6)``.

Queries and keys therefore live on different coordinate scales (a key at cell 1 ≈ a query at offset 2); this is
reproduced because trained weights depend on it.

Implementation (vsrkit): positions are computed in at least float32 (the official code uses the feature dtype, so
fp16 autocast quantises sub-pixel offsets); all windows are gathered at once with one flat index (no loops);
``F_k``/``F_v`` are applied to the ``H·W`` source tokens *before* gathering and the projected window encodings are
added afterwards — algebraically identical to projecting the ``ws²·H·W`` gathered tokens (the maps are affine), at
``1/ws²`` of the cost. ``padding="zero"`` implements the official alternative with the correct column bound (the
official compares columns with ``H − 1``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.ops.warp import flow_warp

__all__ = [
    "ALIGNMENTS",
    "FlowWarpAlign",
    "ImplicitAlign",
    "as_flow_nhwc",
    "build_aligner",
    "sine_encoding",
    "sine_inverse_frequencies",
    "split_sampling_positions",
]

#: Alignment kinds accepted by :func:`build_aligner` (the IART resampling study: Table 1 of the paper).
ALIGNMENTS = ("nearest", "bilinear", "bicubic", "implicit")


def as_flow_nhwc(flow: Tensor) -> Tensor:
    """``(N, 2, H, W)`` (SpyNet layout) or ``(N, H, W, 2)`` → ``(N, H, W, 2)``; ambiguous ``(N, 2, H, 2)`` is
    taken as NHWC."""
    if flow.dim() != 4:
        raise ValueError(f"flow must be 4-D (N,H,W,2) or (N,2,H,W), got {tuple(flow.shape)}")
    if flow.shape[-1] == 2:
        return flow
    if flow.shape[1] == 2:
        return flow.permute(0, 2, 3, 1)
    raise ValueError(f"flow must be (N,H,W,2) or (N,2,H,W), got {tuple(flow.shape)}")


def sine_inverse_frequencies(num_feats: int, temperature: float, device: torch.device | None = None) -> Tensor:
    """``τ_k = temperature ** (2·⌊k/2⌋ / num_feats)``, ``k = 0 … num_feats-1``, computed in **float32** (as the
    official code does; positions are divided by it)."""
    k = torch.arange(num_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * torch.div(k, 2, rounding_mode="floor") / num_feats)


def sine_encoding(angles: Tensor, inv_freq: Tensor) -> Tensor:
    """``angles (..., 2)`` = ``(u_row, u_col)`` → ``(..., 2F)`` = ``[S(u_row) ‖ S(u_col)]`` with interleaved
    ``sin(u/τ_0), cos(u/τ_1), …`` (``inv_freq`` = ``τ`` from :func:`sine_inverse_frequencies`, length ``F``)."""
    pos = angles.unsqueeze(-1) / inv_freq.to(device=angles.device)  # (..., 2, F), float32 τ promoted
    enc = torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(-2)  # (..., 2, F)
    return enc.flatten(-2)


def split_sampling_positions(flow: Tensor) -> tuple[Tensor, Tensor]:
    """Sampling positions ``p = (row + dy, col + dx)`` of a flow ``(N, H, W, 2)`` split into
    ``(floor(p) as int64, p - floor(p))``, both ``(N, H, W, 2)`` in ``(row, col)`` order. Computed in float32 at
    least (float64 stays float64)."""
    n, h, w, _ = flow.shape
    dtype = torch.promote_types(flow.dtype, torch.float32)
    rows = torch.arange(h, device=flow.device, dtype=dtype).view(1, h, 1)
    cols = torch.arange(w, device=flow.device, dtype=dtype).view(1, 1, w)
    flow = flow.to(dtype)
    pos = torch.stack((rows + flow[..., 1], cols + flow[..., 0]), dim=-1)
    base = torch.floor(pos)
    return base.long(), pos - base


class ImplicitAlign(nn.Module):
    """IART implicit resampling-based alignment (official ``ImplicitWarpModule``; see the module docstring).

    Args:
        dim: output channels (= channels of the q/k/v projections).
        pe_dim: width of the positional encodings and of the projection inputs (default ``dim``); a multiple of 4
            and of the feature channels (features are tiled ``pe_dim // C`` times before the encoding is added).
        num_heads: attention heads (``dim`` divisible by it).
        window_size: ``ws`` (window ``ws × ws``, anchored at ``floor(p)``).
        pe_temp: temperature ``T`` of the sinusoids (0.01).
        pe_window / pe_query: add the window (key/value) / decimal-offset (query) encodings (paper Table 3
            ablations; both on in IART).
        padding: ``"duplicate"`` (clamp to the border, official default) or ``"zero"`` (out-of-range cells are
            zero features).
        qkv_bias: bias in the projections.

    State dict: ``q/k/v.{weight,bias}``, buffers ``position_bias (1, ws², pe_dim)`` and ``window_idx_offset
    (ws², 2)`` (int64, ``(a, b)`` row-major) — the official names.
    """

    def __init__(
        self,
        *,
        dim: int = 64,
        pe_dim: int | None = None,
        num_heads: int = 8,
        window_size: int = 2,
        pe_temp: float = 0.01,
        pe_window: bool = True,
        pe_query: bool = True,
        padding: Literal["duplicate", "zero"] = "duplicate",
        qkv_bias: bool = True,
    ) -> None:
        super().__init__()
        pe_dim = dim if pe_dim is None else pe_dim
        if pe_dim % 4 or dim % num_heads:
            raise ValueError(f"ImplicitAlign: pe_dim ({pe_dim}) must be a multiple of 4 and dim ({dim}) of num_heads "
                             f"({num_heads})")
        if padding not in ("duplicate", "zero"):
            raise ValueError(f"ImplicitAlign: padding must be 'duplicate' or 'zero', got {padding!r}")
        self.dim, self.pe_dim, self.num_heads, self.window_size = dim, pe_dim, num_heads, window_size
        self.pe_temp, self.pe_window, self.pe_query, self.padding = pe_temp, pe_window, pe_query, padding
        self.q = nn.Linear(pe_dim, dim, bias=qkv_bias)
        self.k = nn.Linear(pe_dim, dim, bias=qkv_bias)
        self.v = nn.Linear(pe_dim, dim, bias=qkv_bias)
        a, b = torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij")
        offsets = torch.stack((a.flatten(), b.flatten()), dim=1)  # (ws², 2), (row, col)
        self.register_buffer("window_idx_offset", offsets)
        cells = offsets.to(torch.get_default_dtype()) / ((window_size - 1) + 1e-6) * (2 * math.pi)
        bias = sine_encoding(cells, sine_inverse_frequencies(pe_dim // 2, pe_temp)).unsqueeze(0)
        self.register_buffer("position_bias", bias)  # (1, ws², pe_dim)

    def query_encoding(self, decimal: Tensor) -> Tensor:
        """Decimal offsets ``(…, 2)`` (row, col) in [0, 1) → query PE ``(…, pe_dim)``."""
        angles = decimal / (self.window_size + 1e-6) * (2 * math.pi)
        return sine_encoding(angles, sine_inverse_frequencies(self.pe_dim // 2, self.pe_temp, decimal.device))

    def _tile(self, tokens: Tensor) -> Tensor:
        c = tokens.shape[-1]
        if self.pe_dim % c:
            raise ValueError(f"ImplicitAlign: pe_dim ({self.pe_dim}) must be a multiple of the channels ({c})")
        return tokens if c == self.pe_dim else tokens.repeat(1, 1, self.pe_dim // c)

    def forward(self, feature: Tensor, reference: Tensor, flow: Tensor, *, return_attention: bool = False):
        """``feature`` (moved), ``reference`` (queries) ``(N, C, H, W)``, ``flow`` ``(N, H, W, 2)`` → aligned
        ``(N, dim, H, W)`` (and the attention ``(N, H, W, heads, ws²)`` with ``return_attention``)."""
        flow = as_flow_nhwc(flow)
        n, c, h, w = feature.shape
        if reference.shape[0] != n or reference.shape[-2:] != (h, w) or flow.shape[1:3] != (h, w):
            raise ValueError(f"ImplicitAlign: shapes differ: feature {tuple(feature.shape)}, reference "
                             f"{tuple(reference.shape)}, flow {tuple(flow.shape)}")
        cells = self.window_size ** 2
        base, decimal = split_sampling_positions(flow)  # (N, H, W, 2)
        idx = base.unsqueeze(3) + self.window_idx_offset.view(1, 1, 1, cells, 2)  # (N, H, W, ws², 2)
        rows, cols = idx[..., 0], idx[..., 1]
        inside = None
        if self.padding == "zero":
            inside = ((rows >= 0) & (rows <= h - 1) & (cols >= 0) & (cols <= w - 1)).view(n, h * w, cells, 1)
        flat = rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)
        flat = (flat + torch.arange(n, device=flat.device).view(n, 1, 1, 1) * (h * w)).view(-1)

        src = self._tile(feature.flatten(2).transpose(1, 2))  # (N, HW, pe_dim)
        qry = self._tile(reference.flatten(2).transpose(1, 2))
        if self.pe_query:
            qry = qry + self.query_encoding(decimal).view(n, h * w, self.pe_dim).to(qry.dtype)
        q = self.q(qry)  # (N, HW, dim)
        # k/v are affine: project the H·W source tokens once, gather, then add the projected cell encodings.
        k_src = F.linear(src, self.k.weight).reshape(n * h * w, self.dim)[flat].view(n, h * w, cells, self.dim)
        v_src = F.linear(src, self.v.weight).reshape(n * h * w, self.dim)[flat].view(n, h * w, cells, self.dim)
        if inside is not None:
            k_src, v_src = k_src * inside, v_src * inside
        pe = self.position_bias.to(src.dtype) if self.pe_window else None
        k = k_src + self._cell_term(self.k, pe, src)
        v = v_src + self._cell_term(self.v, pe, src)

        hd = self.dim // self.num_heads
        q = q.view(n, h * w, 1, self.num_heads, hd) * hd**-0.5
        k = k.view(n, h * w, cells, self.num_heads, hd)
        v = v.view(n, h * w, cells, self.num_heads, hd)
        attn = (q * k).sum(-1).softmax(dim=2)  # (N, HW, ws², heads)
        out = (attn.unsqueeze(-1) * v).sum(2)  # (N, HW, heads, hd), heads concatenated head-major
        out = out.reshape(n, h, w, self.dim).permute(0, 3, 1, 2).contiguous()
        if return_attention:
            return out, attn.view(n, h, w, cells, self.num_heads).transpose(3, 4)
        return out

    @staticmethod
    def _cell_term(linear: nn.Linear, pe: Tensor | None, like: Tensor) -> Tensor:
        """``linear(pe)`` per window cell ``(1, 1, ws², dim)`` (just the bias without window encodings)."""
        if pe is None:
            term = linear.bias if linear.bias is not None else like.new_zeros(linear.out_features)
            return term.view(1, 1, 1, -1)
        return linear(pe).unsqueeze(0)  # (1, 1, ws², dim)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, pe_dim={self.pe_dim}, num_heads={self.num_heads}, window_size={self.window_size}, "
                f"padding={self.padding!r}")


class FlowWarpAlign(nn.Module):
    """Explicit resampling with the :class:`ImplicitAlign` call: ``(feature, reference, flow) -> warped``.

    ``mode``: ``"nearest"``, ``"bilinear"`` (BasicSR ``flow_warp``: zeros padding, ``align_corners=True``) or
    ``"bicubic"`` (``grid_sample(mode="bicubic")``, same grid and padding). ``reference`` is ignored.
    """

    def __init__(self, *, mode: str = "bilinear", padding_mode: str = "zeros") -> None:
        super().__init__()
        if mode not in ("nearest", "bilinear", "bicubic"):
            raise ValueError(f"FlowWarpAlign: mode must be nearest, bilinear or bicubic, got {mode!r}")
        self.mode, self.padding_mode = mode, padding_mode

    def forward(self, feature: Tensor, reference: Tensor | None, flow: Tensor) -> Tensor:
        return flow_warp(feature, as_flow_nhwc(flow), interpolation=self.mode, padding_mode=self.padding_mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, padding_mode={self.padding_mode!r}"


def build_aligner(kind: str, *, channels: int = 64, num_heads: int = 8, window_size: int = 2,
                  pe_temp: float = 0.01) -> nn.Module:
    """One of :data:`ALIGNMENTS` with the common ``(feature, reference, flow)`` call."""
    if kind == "implicit":
        return ImplicitAlign(dim=channels, num_heads=num_heads, window_size=window_size, pe_temp=pe_temp)
    if kind in ("nearest", "bilinear", "bicubic"):
        return FlowWarpAlign(mode=kind)
    raise ValueError(f"unknown alignment {kind!r}: choose one of {', '.join(ALIGNMENTS)}")
