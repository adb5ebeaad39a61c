"""FMA-Net: joint ×4 video super-resolution and deblurring (Youk, Oh, Kim, CVPR 2024).

"FMA-Net: Flow-Guided Dynamic Filtering and Iterative Feature Refinement with Multi-Attention for Joint Video
Super-Resolution and Deblurring". A window model: a blurry LR window of ``T`` frames (3 in the paper) → the sharp
×4 centre frame. Two networks, as in the official code (``KAIST-VICLab/FMA-Net`` ``model.py``):

* **Net^D** (degradation learning, :class:`DegradationNet`): 3-D RRDB features ``F^{D,0}``, ``M`` FRMA blocks
  (Eqs. 1-3), then the motion-aware degradation kernels ``K^D`` (``k_d² = 400`` taps per frame and LR pixel), the
  image flow–mask pair ``f^Y`` used to warp the sharp HR clip, and the temporal-anchor image ``X̂^D_sharp``. With the
  HR clip given it re-degrades the centre frame by flow-guided dynamic downsampling (Eq. 7) — training only.
* **Net^R** (restoration, :class:`RestorationNet`): RRDB features of ``[X, F^{D,M}]``, ``M`` FRMA blocks with
  centre-oriented (CO) and degradation-aware (DA) attention (the DA query comes from ``K^D`` embedded by a 3×3×3
  conv), then the high-frequency residual ``Ŷ_r`` (conv + pixel shuffle), the restoration kernels ``K^R``
  (``s²·k_r²`` per frame and LR pixel), an image flow–mask pair ``f^X`` and
  ``Ŷ_c = Ŷ_r + FGDF↑(W(X, f^X), K^R)`` (Sec. 3.3), plus the anchor image ``X̂^R_sharp``.
* **FRMA block** (:class:`FRMA`): RDB update of the sequence features; residual update of the ``n`` flow–mask pairs
  from ``[F_c^0, f, W(F, f)]`` (Eq. 1); multi-flow-mask backward warping (every group of ``C/n`` contiguous
  channels of every frame is warped by its own flow and multiplied by its sigmoid occlusion mask) fused into
  ``F_w`` (Eq. 2); multi-attention (Eq. 3) with Restormer's transposed attention and GDFN
  (:mod:`vsrkit.ops.restormer`).
* **FGDF** (Eqs. 6-7) lives in :mod:`vsrkit.ops.dynamic_filter`; the kernel normalisations are the official ones.

Layout: the official modules work on ``[B, C, T, H, W]`` BGR and implement every per-frame convolution as a
``Conv3d`` with a ``[1, 3, 3]`` (or ``1×1×1``) kernel. vsrkit keeps ``(B, T, C, H, W)`` throughout and runs those as
``Conv2d`` over the ``B·T`` frames (numerically the same, several times faster on CPU); the converter squeezes the
unit depth of those weights. Only Net^R's kernel embedding ``d_conv`` is a true 3×3×3 ``Conv3d`` (zero padded in
time). ``forward`` takes and returns RGB and flips to BGR inside (the released weights are BGR).

Where the official code differs from the paper (docs/methods.md §2.1) vsrkit reproduces what the released weights
depend on: joint softmax over ``T·k_d²`` for ``K^D`` (the paper says sigmoid); ``K^R ← K^R − mean + 1/(T·k_r²)``
per sub-pixel; the centre frame is warped by its own learned flows; RDB fusion convs carry a bias although
``bias=False``. The backward-warping ``2/((W and H) − 1)`` slip is moot (vsrkit always scales x by ``W − 1`` and y by
``H − 1``, as the official code does for non-square inputs). Parameter counts equal the official model
(9,766,503 for T=3, M=4), ≈0.17 M above the paper's 9.6 M.

Licence of the official code and checkpoint: MIT file, but the README restricts code and weights to research /
education; commercial use needs the authors' permission.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.checkpoint import rename_by_prefix, unwrap_checkpoint
from vsrkit.errors import VsrkitError
from vsrkit.models.spec import ModelSpec, OfficialConverter
from vsrkit.ops.dynamic_filter import dynamic_downsample, dynamic_upsample
from vsrkit.ops.restormer import ChannelLayerNorm, GatedFeedForward, transposed_attention
from vsrkit.ops.warp import flow_warp_nchw

__all__ = [
    "FMANet",
    "DegradationNet",
    "RestorationNet",
    "VARIANTS",
    "OFFICIAL_KEY_PREFIXES",
    "convert_official_state_dict",
    "kwargs_from_official_config",
    "OFFICIAL_CONFIG",
]

_PAPER: dict[str, Any] = {
    "num_feat": 90, "num_frames": 3, "num_flows": 9, "kd": 20, "kr": 5, "num_rdb": 12, "growth_rate": 18,
    "num_dense_layers": 4, "num_frma": 4, "num_attn_blocks": 2, "num_heads": 6, "ffn_expansion_factor": 2.66,
    "bias": False, "layernorm_bias": True,
}

#: Constructor kwargs per variant. ``paper``: 9,766,503 parameters (T=3, M=4, released REDS weights);
#: ``paper-t5``: 9,941,463 (T=5); ``s``: FMA-Net_s (M=2), 7,569,603; ``small``: a CPU-trainable model.
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": dict(_PAPER),
    "paper-t5": {**_PAPER, "num_frames": 5},
    "s": {**_PAPER, "num_frma": 2},
    "small": {**_PAPER, "num_feat": 24, "num_flows": 3, "num_rdb": 2, "growth_rate": 12, "num_dense_layers": 3,
              "num_frma": 2, "num_attn_blocks": 1, "num_heads": 2},
}

#: The official ``experiment.cfg`` model keys (paper configuration), as ``Config`` reads them.
OFFICIAL_CONFIG: dict[str, Any] = {
    "in_channels": 3, "dim": 90, "ds_kernel_size": 20, "us_kernel_size": 5, "num_RDB": 12, "growth_rate": 18,
    "num_dense_layer": 4, "num_flow": 9, "num_FRMA": 4, "num_transformer_block": 2, "num_heads": 6,
    "LayerNorm_type": "WithBias", "ffn_expansion_factor": 2.66, "bias": False, "scale": 4, "num_seq": 3, "stage": 2,
}


def kwargs_from_official_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Official config keys → :class:`FMANet` kwargs (``stage`` only selects what the official trainer runs)."""
    if int(cfg["in_channels"]) != 3 or int(cfg["scale"]) != 4:
        raise VsrkitError(f"FMA-Net supports in_channels=3 and scale=4 only (got {cfg['in_channels']}, {cfg['scale']})")
    if cfg["LayerNorm_type"] not in ("WithBias", "BiasFree"):
        raise VsrkitError(f"unknown LayerNorm_type {cfg['LayerNorm_type']!r}: WithBias or BiasFree")
    return {
        "num_feat": int(cfg["dim"]), "num_frames": int(cfg["num_seq"]), "num_flows": int(cfg["num_flow"]),
        "kd": int(cfg["ds_kernel_size"]), "kr": int(cfg["us_kernel_size"]), "num_rdb": int(cfg["num_RDB"]),
        "growth_rate": int(cfg["growth_rate"]), "num_dense_layers": int(cfg["num_dense_layer"]),
        "num_frma": int(cfg["num_FRMA"]), "num_attn_blocks": int(cfg["num_transformer_block"]),
        "num_heads": int(cfg["num_heads"]), "ffn_expansion_factor": float(cfg["ffn_expansion_factor"]),
        "bias": bool(cfg["bias"]), "layernorm_bias": cfg["LayerNorm_type"] == "WithBias",
    }


# ------------------------------------------------------------------------------------------------------------------
# Per-frame convolutions and dense blocks on (B, T, C, H, W)
# ------------------------------------------------------------------------------------------------------------------
def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class FrameConv(nn.Conv2d):
    """A ``Conv2d`` applied to every frame of ``(B, T, C, H, W)`` (official: ``Conv3d`` with kernel ``[1, k, k]``)."""

    def __init__(self, cin: int, cout: int, k: int = 3, bias: bool = False) -> None:
        super().__init__(cin, cout, k, 1, k // 2, bias=bias)

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        b, t = x.shape[:2]
        y = super().forward(x.flatten(0, 1))
        return y.view(b, t, *y.shape[1:])


def _frame_mlp(cin: int, mid: int, cout: int, bias: bool) -> nn.Sequential:
    """Conv[1,3,3] → LReLU(0.2) → Conv[1,3,3] (keys ``0``, ``2``)."""
    return nn.Sequential(FrameConv(cin, mid, 3, bias), _lrelu(), FrameConv(mid, cout, 3, bias))


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bias: bool) -> None:
        super().__init__()
        self.conv = FrameConv(cin, growth, 3, bias)
        self.act = _lrelu()

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.act(self.conv(x))], dim=2)


class RDB(nn.Module):
    """Residual dense block; the 1×1 fusion conv has a bias whatever ``bias`` says (as released)."""

    def __init__(self, dim: int, growth: int, num_layers: int, bias: bool) -> None:
        super().__init__()
        self.layer = nn.Sequential(*(DenseLayer(dim + i * growth, growth, bias) for i in range(num_layers)))
        self.conv = FrameConv(dim + num_layers * growth, dim, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.layer(x)) + x


class RRDB(nn.Module):
    """``num_rdb`` RDBs in sequence, all outputs concatenated → 1×1 → 3×3, plus the input."""

    def __init__(self, dim: int, num_rdb: int, growth: int, num_layers: int, bias: bool) -> None:
        super().__init__()
        self.RDBs = nn.ModuleList(RDB(dim, growth, num_layers, bias) for _ in range(num_rdb))
        self.conv = nn.Sequential(FrameConv(num_rdb * dim, dim, 1, bias), FrameConv(dim, dim, 3, bias))

    def forward(self, x: Tensor) -> Tensor:
        outs, h = [], x
        for rdb in self.RDBs:
            h = rdb(h)
            outs.append(h)
        return self.conv(torch.cat(outs, dim=2)) + x


# ------------------------------------------------------------------------------------------------------------------
# Warping
# ------------------------------------------------------------------------------------------------------------------
def multi_flow_warp(feat: Tensor, flows: Tensor) -> Tensor:
    """Multi-flow-mask backward warping: ``feat (B,T,C,H,W)``, ``flows (B,T,3n,H,W)`` → ``(B,T,C,H,W)``.

    Channel group ``j`` (``C/n`` contiguous channels) of every frame is warped by ``flows[:, :, 3j:3j+2]`` (dx, dy)
    and multiplied by ``sigmoid(flows[:, :, 3j+2])`` (occlusion mask).
    """
    b, t, c, h, w = feat.shape
    n = flows.shape[2] // 3
    fm = flows.reshape(b * t * n, 3, h, w)
    warped = flow_warp_nchw(feat.reshape(b * t * n, c // n, h, w), fm[:, :2])
    return (warped * torch.sigmoid(fm[:, 2:3])).view(b, t, c, h, w)


def image_warp(x: Tensor, flow_mask: Tensor, scale: int = 1, with_ones: bool = False) -> Tensor:
    """Warp images ``x (B,T,C,sh,sw)`` by a flow–mask pair ``(B,T,3,h,w)`` (dx, dy in LR pixels, mask logit).

    For ``scale > 1`` the flow is bilinearly upsampled (``align_corners=False``) and multiplied by ``scale``; the
    mask is squashed by a sigmoid *before* upsampling. Returns ``warp(x)·mask``; with ``with_ones=True`` a further
    channel ``warp(1)·mask`` is appended (the normaliser of the dynamic downsampling).
    """
    b, t, c, hh, ww = x.shape
    fm = flow_mask.flatten(0, 1)
    flow, mask = fm[:, :2], torch.sigmoid(fm[:, 2:3])
    if scale != 1:
        flow = scale * F.interpolate(flow, scale_factor=scale, mode="bilinear", align_corners=False)
        mask = F.interpolate(mask, scale_factor=scale, mode="bilinear", align_corners=False)
    src = x.flatten(0, 1)
    if with_ones:
        src = torch.cat([src, torch.ones_like(src[:, :1])], dim=1)
    out = flow_warp_nchw(src, flow) * mask
    return out.view(b, t, src.shape[1], hh, ww)


# ------------------------------------------------------------------------------------------------------------------
# Multi-attention
# ------------------------------------------------------------------------------------------------------------------
class GuidedAttention(nn.Module):
    """Restormer MDTA with the query taken from a separate guide: ``q`` from ``guide``, ``k, v`` from ``x``."""

    def __init__(self, dim: int, heads: int, bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.q = nn.Conv2d(dim, dim, 1, bias=bias)
        self.q_dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim, bias=bias)
        self.kv_conv = nn.Conv2d(dim, 2 * dim, 1, bias=bias)
        self.kv_dwconv = nn.Conv2d(2 * dim, 2 * dim, 3, 1, 1, groups=2 * dim, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def forward(self, x: Tensor, guide: Tensor) -> Tensor:
        q = self.q_dwconv(self.q(guide))
        k, v = self.kv_dwconv(self.kv_conv(x)).chunk(2, dim=1)
        return self.project_out(transposed_attention(q, k, v, self.temperature, self.heads))


class MultiAttentionBlock(nn.Module):
    """CO attention + GDFN, and (Net^R) DA attention + GDFN, each pre-normalised and residual (Eq. 3).

    ``co_attention=False`` is the self-attention of Table 4(i): the first attention takes its query from the
    normalised ``F_w`` itself instead of ``F_c^0`` (same layers and parameters; the guide is ignored).
    """

    def __init__(self, dim: int, heads: int, ffn_factor: float, bias: bool, ln_bias: bool, is_da: bool,
                 co_attention: bool = True) -> None:
        super().__init__()
        hidden = int(dim * ffn_factor)
        self.is_da, self.co_attention = is_da, co_attention
        self.norm1 = ChannelLayerNorm(dim, bias=ln_bias)
        self.co_attn = GuidedAttention(dim, heads, bias)
        self.norm2 = ChannelLayerNorm(dim, bias=ln_bias)
        self.ffn1 = GatedFeedForward(dim=dim, hidden=hidden, bias=bias)
        if is_da:
            self.norm3 = ChannelLayerNorm(dim, bias=ln_bias)
            self.da_attn = GuidedAttention(dim, heads, bias)
            self.norm4 = ChannelLayerNorm(dim, bias=ln_bias)
            self.ffn2 = GatedFeedForward(dim=dim, hidden=hidden, bias=bias)

    def forward(self, fw: Tensor, centre: Tensor, kernel_feat: Tensor | None = None) -> Tensor:
        normed = self.norm1(fw)
        fw = fw + self.co_attn(normed, centre if self.co_attention else normed)
        fw = fw + self.ffn1(self.norm2(fw))
        if self.is_da:
            fw = fw + self.da_attn(self.norm3(fw), kernel_feat)
            fw = fw + self.ffn2(self.norm4(fw))
        return fw


def _frames_to_channels(x: Tensor) -> Tensor:
    """``(B, T, C, H, W)`` → ``(B, C·T, H, W)`` with channel index ``c·T + t`` (official ``b c t h w → b (c t) h w``)."""
    b, t, c, h, w = x.shape
    return x.transpose(1, 2).reshape(b, c * t, h, w)


def _channels_to_frames(x: Tensor, t: int) -> Tensor:
    """Inverse of :func:`_frames_to_channels`: frame ``t`` takes channels ``t, t+T, t+2T, …``."""
    b, ct, h, w = x.shape
    return x.view(b, ct // t, t, h, w).transpose(1, 2)


class FRMA(nn.Module):
    """Feature refinement with multi-attention (one of ``M``); see the module docstring."""

    def __init__(self, *, dim: int, num_frames: int, num_flows: int, growth: int, num_layers: int, num_attn: int,
                 heads: int, ffn_factor: float, bias: bool, ln_bias: bool, is_da: bool, first_f: bool,
                 first_fw: bool, co_attention: bool = True) -> None:
        super().__init__()
        nf = 3 * num_flows
        self.is_da = is_da
        self.rdb = RDB(dim, growth, num_layers, bias)
        self.conv_f = _frame_mlp(2 * dim if first_f else 2 * dim + nf, nf, nf, bias)
        self.conv_Fw = nn.Conv2d(dim * num_frames + (0 if first_fw else dim), dim, 1, bias=bias)
        if is_da:
            self.rdb_KD = RDB(dim, growth, num_layers, bias)
            self.conv_KD = nn.Conv2d(dim * num_frames, dim, 1, bias=bias)
        self.multi_attn_block = nn.ModuleList(
            MultiAttentionBlock(dim, heads, ffn_factor, bias, ln_bias, is_da, co_attention) for _ in range(num_attn)
        )

    def forward(self, feat: Tensor, fw: Tensor | None, flows: Tensor | None, centre: Tensor,
                kernel_emb: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        feat = self.rdb(feat)
        centre_rep = centre.expand_as(feat)
        if flows is None:
            flows = self.conv_f(torch.cat([centre_rep, feat], dim=2))
        else:
            flows = flows + self.conv_f(torch.cat([centre_rep, flows, multi_flow_warp(feat, flows)], dim=2))
        warped = _frames_to_channels(multi_flow_warp(feat, flows))
        fw = self.conv_Fw(warped if fw is None else torch.cat([fw, warped], dim=1))
        kd = self.conv_KD(_frames_to_channels(self.rdb_KD(kernel_emb))) if self.is_da else None
        guide = centre[:, 0]
        for blk in self.multi_attn_block:
            fw = blk(fw, guide, kd)
        return feat, fw, flows


# ------------------------------------------------------------------------------------------------------------------
# Net^D and Net^R
# ------------------------------------------------------------------------------------------------------------------
def _frma_blocks(cfg: dict[str, Any], is_da: bool) -> nn.ModuleList:
    return nn.ModuleList(
        FRMA(dim=cfg["num_feat"], num_frames=cfg["num_frames"], num_flows=cfg["num_flows"],
             growth=cfg["growth_rate"], num_layers=cfg["num_dense_layers"], num_attn=cfg["num_attn_blocks"],
             heads=cfg["num_heads"], ffn_factor=cfg["ffn_expansion_factor"], bias=cfg["bias"],
             ln_bias=cfg["layernorm_bias"], is_da=is_da, first_f=(i == 0 and not is_da), first_fw=(i == 0),
             co_attention=cfg.get("co_attention", True))
        for i in range(cfg["num_frma"])
    )


def _feature_extractor(cin: int, cfg: dict[str, Any]) -> nn.Sequential:
    dim = cfg["num_feat"]
    return nn.Sequential(
        FrameConv(cin, dim, 3, cfg["bias"]), _lrelu(),
        RRDB(dim, cfg["num_rdb"], cfg["growth_rate"], cfg["num_dense_layers"], cfg["bias"]),
    )


class DegradationNet(nn.Module):
    """Net^D on BGR ``(B, T, 3, h, w)``: returns features, flows, raw ``K^D`` logits, ``f^Y`` and the anchor."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        dim, t, bias = cfg["num_feat"], cfg["num_frames"], cfg["bias"]
        self.num_frames = t
        self.feature_extractor = _feature_extractor(3, cfg)
        self.FRMA_blocks = _frma_blocks(cfg, is_da=False)
        self.d_conv = _frame_mlp(dim // t, dim, cfg["kd"] ** 2, bias)
        self.f_conv = _frame_mlp(3 * cfg["num_flows"], 3 * cfg["num_flows"], 3, bias)
        self.a_conv = _frame_mlp(dim, dim, 3, bias)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        c = self.num_frames // 2
        feat = self.feature_extractor(x)
        centre = feat[:, c : c + 1]
        fw = flows = None
        for blk in self.FRMA_blocks:
            feat, fw, flows = blk(feat, fw, flows, centre)
        return {
            "feat": feat,
            "flows": flows,
            "kernel_logits": self.d_conv(_channels_to_frames(fw, self.num_frames)),  # (B, T, kd², h, w)
            "flow_y": self.f_conv(flows),  # (B, T, 3, h, w)
            "sharp": self.a_conv(feat),
        }


class PixelShuffleBlock(nn.Module):
    """LReLU(conv1) → PS(2) → LReLU(conv2) → PS(2) → LReLU(conv3), 3×3 convs (official ``upsample``)."""

    def __init__(self, dim: int, bias: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, 4 * dim, 3, 1, 1, bias=bias)
        self.conv2 = nn.Conv2d(dim, 4 * dim, 3, 1, 1, bias=bias)
        self.conv3 = nn.Conv2d(dim, dim, 3, 1, 1, bias=bias)
        self.shuffle = nn.PixelShuffle(2)
        self.act = _lrelu()

    def forward(self, x: Tensor) -> Tensor:
        x = self.shuffle(self.act(self.conv1(x)))
        x = self.shuffle(self.act(self.conv2(x)))
        return self.act(self.conv3(x))


class RestorationNet(nn.Module):
    """Net^R on BGR ``(B, T, 3, h, w)`` plus Net^D's outputs; returns the HR centre frame and its by-products."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        dim, t, bias, nf = cfg["num_feat"], cfg["num_frames"], cfg["bias"], 3 * cfg["num_flows"]
        self.num_frames, self.kr, self.scale = t, cfg["kr"], 4
        self.flow_guided = cfg.get("flow_guided", True)
        self.feature_extractor = _feature_extractor(3 + dim, cfg)
        self.f_conv1 = _frame_mlp(nf, nf, nf, bias)
        self.d_conv = nn.Sequential(nn.Conv3d(cfg["kd"] ** 2, dim, 3, 1, 1, bias=bias), _lrelu(),
                                    nn.Conv3d(dim, dim, 3, 1, 1, bias=bias))
        self.FRMA_blocks = _frma_blocks(cfg, is_da=True)
        self.res_conv1 = nn.Conv2d(dim, dim, 3, 1, 1, bias=bias)
        self.upsample = PixelShuffleBlock(dim, bias)
        self.res_conv2 = nn.Conv2d(dim, 3, 3, 1, 1, bias=bias)
        self.r_conv = _frame_mlp(dim // t, dim, 16 * cfg["kr"] ** 2, bias)
        self.f_conv2 = _frame_mlp(nf, nf, 3, bias)
        self.f_conv3 = _frame_mlp(nf + 6, nf, 3, bias)
        self.a_conv = _frame_mlp(dim, dim, 3, bias)
        self.act = _lrelu()

    def forward(self, x: Tensor, feat_d: Tensor, flows_d: Tensor, kernel_logits: Tensor) -> dict[str, Tensor]:
        b, t, _, h, w = x.shape
        c, s, k = t // 2, self.scale, self.kr
        feat = self.feature_extractor(torch.cat([x, feat_d], dim=2))
        centre = feat[:, c : c + 1]
        flows = self.f_conv1(flows_d)
        kernel_emb = self.d_conv(kernel_logits.transpose(1, 2)).transpose(1, 2)  # true 3-D conv over (T, h, w)
        fw = None
        for blk in self.FRMA_blocks:
            feat, fw, flows = blk(feat, fw, flows, centre, kernel_emb)
        residual = self.res_conv2(self.upsample(self.act(self.res_conv1(fw))))
        kr = self.r_conv(_channels_to_frames(fw, t))  # (B, T, s·s·k·k, h, w), channel ((p·s + q)·k + i)·k + j
        kr = kr.view(b, t, s, s, k, k, h, w).permute(0, 2, 3, 1, 4, 5, 6, 7)  # (B, s, s, T, k, k, h, w)
        kr = kr - kr.mean(dim=(3, 4, 5), keepdim=True) + 1.0 / (t * k * k)
        flow_x1 = self.f_conv2(flows)
        warp1 = image_warp(x, flow_x1)
        flow_x = self.f_conv3(torch.cat([flows, warp1, x[:, c : c + 1].expand_as(x)], dim=2))
        lr_warp = image_warp(x, flow_x)
        # FGDF filters the warped frames (Eq. 6); the Table 3 ablation filters the unwarped ones (Eq. 5).
        out = dynamic_upsample((lr_warp if self.flow_guided else x).transpose(1, 2), kr, scale=s) + residual
        return {"output": out, "lr_warp": lr_warp, "sharp": self.a_conv(feat), "flow_x": flow_x, "kernels": kr}


def degradation_kernels(kernel_logits: Tensor, kd: int) -> Tensor:
    """Raw ``K^D`` ``(B, T, kd², h, w)`` → weights ``(B, T, kd, kd, h, w)``, softmax over all ``T·kd²`` taps."""
    b, t, _, h, w = kernel_logits.shape
    return torch.softmax(kernel_logits.reshape(b, t * kd * kd, h, w), dim=1).view(b, t, kd, kd, h, w)


# ------------------------------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------------------------------
class FMANet(nn.Module):
    """FMA-Net ×4 (Youk et al., CVPR 2024): ``(B, T, 3, h, w)`` blurry RGB → ``(B, 1, 3, 4h, 4w)`` sharp centre.

    ``forward(x)``: the vsrkit contract (RGB in [0, 1], not clamped, any ``h, w``). ``forward(x,
    return_aux=True)`` also returns ``flow_x`` / ``mask_x`` (Net^R's image flow–mask for ``X``, ``(B, T, 2|1, h,
    w)``), ``flow_y`` / ``mask_y`` (Net^D's, LR pixels), ``lr_warp`` (warped, masked LR frames), ``kernels_d``
    (normalised ``K^D``, ``(B, T, kd, kd, h, w)``) and ``kernels_r`` (``(B, s, s, T, kr, kr, h, w)``);
    :meth:`render_aux` draws them. ``forward(x, hr=Y)`` is the training call: a dict with every output of both
    networks (see :meth:`training_outputs`); ``net_d_only=True`` skips Net^R (stage 1).

    Args (defaults = paper): ``num_feat`` C (divisible by ``num_flows``, ``num_frames`` and ``num_heads``),
    ``num_frames`` T, ``num_flows`` n, ``kd`` / ``kr`` kernel sizes, ``num_rdb`` / ``growth_rate`` /
    ``num_dense_layers`` (RRDB), ``num_frma`` M, ``num_attn_blocks`` per FRMA, ``num_heads``,
    ``ffn_expansion_factor``, ``bias`` (conv biases), ``layernorm_bias`` (Restormer WithBias).

    Ablation switches (defaults = the paper model and the released weights):

    * ``kd`` any even size ≥ 4 (Table 3: 10, 20, 30); only the ``K^D`` head (Net^D ``d_conv``, ``C → kd²``) and
      Net^R's kernel embedding (``kd² → C``, 3×3×3) change size: ``36·C·kd²`` parameters.
    * ``flow_guided=False``: conventional dynamic filtering (Eq. 5, Table 3 ✗ rows) — ``K^D`` filters the
      *unwarped* HR clip and ``K^R`` the unwarped LR clip. The image flow–mask pairs ``f^Y``, ``f^X`` are still
      predicted and returned (``hr_warp``, ``lr_warp``) so the warping losses of Eqs. 8-9 still apply; the paper
      does not say whether they were kept (our reading). Same parameters.
    * ``co_attention=False``: self-attention in place of CO attention in every multi-attention block of both
      networks (Table 4/5(i)); same parameters.
    """

    scale = 4

    def __init__(self, *, num_feat: int = 90, num_frames: int = 3, num_flows: int = 9, kd: int = 20, kr: int = 5,
                 num_rdb: int = 12, growth_rate: int = 18, num_dense_layers: int = 4, num_frma: int = 4,
                 num_attn_blocks: int = 2, num_heads: int = 6, ffn_expansion_factor: float = 2.66,
                 bias: bool = False, layernorm_bias: bool = True, flow_guided: bool = True,
                 co_attention: bool = True) -> None:
        super().__init__()
        for div, what in ((num_flows, "num_flows"), (num_frames, "num_frames"), (num_heads, "num_heads")):
            if num_feat % div:
                raise VsrkitError(f"FMA-Net num_feat={num_feat} must be divisible by {what}={div}")
        if num_frames % 2 == 0 or kr % 2 == 0 or kd % 2 or kd < 4:
            raise VsrkitError("FMA-Net needs an odd num_frames, an odd kr and an even kd >= 4 (paper: 3, 5, 20)")
        cfg = dict(num_feat=num_feat, num_frames=num_frames, num_flows=num_flows, kd=kd, kr=kr, num_rdb=num_rdb,
                   growth_rate=growth_rate, num_dense_layers=num_dense_layers, num_frma=num_frma,
                   num_attn_blocks=num_attn_blocks, num_heads=num_heads,
                   ffn_expansion_factor=ffn_expansion_factor, bias=bias, layernorm_bias=layernorm_bias,
                   flow_guided=flow_guided, co_attention=co_attention)
        self.num_frames, self.kd, self.flow_guided = num_frames, kd, flow_guided
        self.net_d = DegradationNet(cfg)
        self.net_r = RestorationNet(cfg)

    # -- core (BGR, (B, T, C, H, W)) ---------------------------------------------------------------------------
    def _run(self, x: Tensor, hr: Tensor | None, net_d_only: bool = False) -> dict[str, Tensor]:
        if x.dim() != 5 or x.shape[2] != 3 or x.shape[1] != self.num_frames:
            raise VsrkitError(f"FMA-Net expects (B, {self.num_frames}, 3, h, w), got {tuple(x.shape)}")
        d = self.net_d(x)
        out: dict[str, Tensor] = {"flow_y": d["flow_y"], "sharp_d": d["sharp"], "kernel_logits": d["kernel_logits"]}
        if hr is not None:
            warped = image_warp(hr, d["flow_y"], scale=self.scale, with_ones=True)  # (B, T, 4, H, W)
            weights = degradation_kernels(d["kernel_logits"], self.kd)
            # FGDF (Eq. 6/7) filters the warped clip; conventional dynamic filtering (Eq. 5) the clip itself.
            src = warped if self.flow_guided else torch.cat([hr, torch.ones_like(hr[:, :, :1])], dim=2)
            filt = dynamic_downsample(src.transpose(1, 2), weights, stride=self.scale)  # (B, 4, h, w)
            out["recon"] = filt[:, :3] / (filt[:, 3:] + 1e-8)
            out["hr_warp"] = warped[:, :, :3]
        if not net_d_only:
            r = self.net_r(x, d["feat"], d["flows"], d["kernel_logits"])
            out.update(output=r["output"], lr_warp=r["lr_warp"], sharp_r=r["sharp"], flow_x=r["flow_x"],
                       kernels_r=r["kernels"])
        return out

    # -- official interface ([B, C, T, H, W] BGR) -------------------------------------------------------------
    def official_forward(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """The official ``FMANet.forward(x, y=None)``: same layouts, BGR, same keys and order."""
        o = self._run(x.transpose(1, 2), None if y is None else y.transpose(1, 2))
        res: dict[str, Tensor] = {}
        if y is not None:
            res.update(recon=o["recon"], hr_warp=o["hr_warp"].transpose(1, 2),
                       image_flow=o["flow_y"][:, :, :2].transpose(1, 2), F_sharp_D=o["sharp_d"].transpose(1, 2))
        res.update(output=o["output"], lr_warp=o["lr_warp"].transpose(1, 2), F_sharp_R=o["sharp_r"].transpose(1, 2))
        return res

    # -- vsrkit interface (RGB, (B, T, 3, H, W)) ---------------------------------------------------------------
    def training_outputs(self, x: Tensor, hr: Tensor | None, net_d_only: bool = False) -> dict[str, Tensor]:
        """RGB training outputs: ``recon (B,3,h,w)``, ``hr_warp (B,T,3,H,W)``, ``flow_y (B,T,3,h,w)`` (dx, dy in LR
        pixels, mask logit), ``sharp_d (B,T,3,h,w)`` and, unless ``net_d_only``, ``output (B,1,3,H,W)``,
        ``lr_warp``, ``sharp_r``, ``flow_x``."""
        o = self._run(x.flip(2), None if hr is None else hr.flip(2), net_d_only)
        res = {"flow_y": o["flow_y"], "sharp_d": o["sharp_d"].flip(2)}
        if hr is not None:
            res.update(recon=o["recon"].flip(1), hr_warp=o["hr_warp"].flip(2))
        if not net_d_only:
            res.update(output=o["output"].flip(1).unsqueeze(1), lr_warp=o["lr_warp"].flip(2),
                       sharp_r=o["sharp_r"].flip(2), flow_x=o["flow_x"])
        return res

    def forward(self, x: Tensor, *, return_aux: bool = False, hr: Tensor | None = None,
                net_d_only: bool = False) -> Tensor | tuple[Tensor, dict[str, Tensor]] | dict[str, Tensor]:
        if hr is not None or net_d_only:
            return self.training_outputs(x, hr, net_d_only)
        o = self._run(x.flip(2), None)
        out = o["output"].flip(1).unsqueeze(1)
        if not return_aux:
            return out
        aux = {
            "flow_x": o["flow_x"][:, :, :2], "mask_x": torch.sigmoid(o["flow_x"][:, :, 2:3]),
            "flow_y": o["flow_y"][:, :, :2], "mask_y": torch.sigmoid(o["flow_y"][:, :, 2:3]),
            "lr_warp": o["lr_warp"].flip(2),
            "kernels_d": degradation_kernels(o["kernel_logits"], self.kd),
            "kernels_r": o["kernels_r"],
        }
        return out, aux

    @staticmethod
    def render_aux(aux: dict[str, Tensor]) -> dict[str, list[np.ndarray]]:
        """One picture per output frame (batch item): the T frames side by side for flows (colour-coded, shared
        scale), occlusion masks (grey), warped LR frames; the degradation and restoration (sub-pixel (0, 0)) kernels
        sampled on a 4×4 grid of LR positions, one block per frame (each kernel min–max scaled, nearest ×4)."""
        from vsrkit.io.pictures import flow_to_color

        def grey(a: np.ndarray) -> np.ndarray:
            lo, hi = float(a.min()), float(a.max())
            g = np.zeros_like(a) if hi <= lo else (a - lo) / (hi - lo)
            return np.repeat((g * 255).round().astype(np.uint8)[..., None], 3, axis=2)

        def row(images: list[np.ndarray]) -> np.ndarray:
            sep = np.full((images[0].shape[0], 2, 3), 255, np.uint8)
            parts: list[np.ndarray] = []
            for im in images:
                parts += [im, sep]
            return np.concatenate(parts[:-1], axis=1)

        def kernel_grid(kern: np.ndarray) -> np.ndarray:  # kern (T, k, k, h, w)
            t, k, _, h, w = kern.shape
            ys = np.linspace(0, h - 1, 4).round().astype(int)
            xs = np.linspace(0, w - 1, 4).round().astype(int)
            tiles = []
            for f in range(t):  # each kernel min-max scaled on its own, white 1-px separators
                rows = [np.concatenate([np.pad(grey(kern[f, :, :, y, x]), ((1, 1), (1, 1), (0, 0)),
                                               constant_values=255) for x in xs], axis=1) for y in ys]
                tiles.append(np.kron(np.concatenate(rows, axis=0), np.ones((4, 4, 1), np.uint8)))
            return row(tiles)

        pics: dict[str, list[np.ndarray]] = {k: [] for k in ("flow_x", "mask_x", "flow_y", "mask_y", "lr_warp",
                                                            "kernels_d", "kernels_r")}
        for i in range(aux["flow_x"].shape[0]):
            for name in ("flow_x", "flow_y"):
                fl = aux[name][i].detach().float().cpu().numpy()
                peak = float(np.sqrt((fl**2).sum(1)).max()) or 1.0
                pics[name].append(row([flow_to_color(f, peak) for f in fl]))
            for name in ("mask_x", "mask_y"):
                m = aux[name][i, :, 0].detach().float().cpu().numpy()
                pics[name].append(row([(np.repeat(f[..., None], 3, 2) * 255).round().astype(np.uint8) for f in m]))
            lw = aux["lr_warp"][i].detach().float().clamp(0, 1).cpu().numpy()
            pics["lr_warp"].append(row([(f.transpose(1, 2, 0) * 255).round().astype(np.uint8) for f in lw]))
            pics["kernels_d"].append(kernel_grid(aux["kernels_d"][i].detach().float().cpu().numpy()))
            kr = aux["kernels_r"][i, 0, 0].detach().float().cpu().numpy()  # sub-pixel (0, 0)
            pics["kernels_r"].append(kernel_grid(kr))
        return pics


# ------------------------------------------------------------------------------------------------------------------
# Official checkpoint conversion
# ------------------------------------------------------------------------------------------------------------------
#: Explicit rename table, official ``FMANet`` prefix → vsrkit prefix. Inside a prefix the sub-module layout is the
#: official one; per-frame ``Conv3d`` weights ``(O, I, 1, k, k)`` lose their unit depth (→ ``Conv2d``).
OFFICIAL_KEY_PREFIXES: dict[str, str] = {
    "degradation_learning_network.": "net_d.",
    "restoration_network.": "net_r.",
}

#: Official keys vsrkit does not use: none (all 585 tensors of the paper model are parameters the forward uses).
OFFICIAL_KEYS_DROPPED: tuple[str, ...] = ()

#: The only official ``Conv3d`` weights with a real temporal extent (kept 5-D).
_TRUE_3D = ("net_r.d_conv.0.weight", "net_r.d_conv.2.weight")


def _merge_official_files(sd: dict) -> dict:
    """Accept the combined ``FMANet`` state dict, or a dict holding ``model_D_state_dict`` and/or
    ``model_R_state_dict`` (the released ``model_D_best.pt`` / ``model_R_best.pt`` containers, keys relative to
    Net_D / Net_R; merge both files' dicts with ``{**torch.load(D), **torch.load(R)}``)."""
    has_d, has_r = isinstance(sd.get("model_D_state_dict"), dict), isinstance(sd.get("model_R_state_dict"), dict)
    if not (has_d or has_r):
        return unwrap_checkpoint(sd)
    if not (has_d and has_r):
        missing = "model_R_best.pt" if has_d else "model_D_best.pt"
        raise VsrkitError(
            f"this FMA-Net checkpoint holds only {'Net_D' if has_d else 'Net_R'}: the full model needs both "
            f"model_D_best.pt and model_R_best.pt; pass a directory holding both (or a .pth with both entries), "
            f"{missing} is missing"
        )
    merged = {f"degradation_learning_network.{k}": v for k, v in sd["model_D_state_dict"].items()}
    merged.update({f"restoration_network.{k}": v for k, v in sd["model_R_state_dict"].items()})
    return merged


def load_official_files(path) -> dict:
    """Read an official FMA-Net release: a ``.pth`` file (combined state dict or a D/R container) or a directory
    with ``model_D_best.pt`` and ``model_R_best.pt`` (the Dropbox ``FMA-Net_REDS.zip`` layout, unzipped)."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        found = {}
        for name in ("model_D_best.pt", "model_R_best.pt"):
            hits = sorted(path.rglob(name))
            if not hits:
                raise VsrkitError(f"{str(path)!r} has no {name}: point at the unzipped FMA-Net_REDS folder")
            found.update(torch.load(hits[0], map_location="cpu", weights_only=True))
        return found
    return torch.load(path, map_location="cpu", weights_only=True)


def convert_official_state_dict(state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """Official FMA-Net weights → :class:`FMANet` state dict (strict-loadable).

    Accepts the combined ``FMANet`` state dict (keys ``degradation_learning_network.*`` /
    ``restoration_network.*``), or a dict with both ``model_D_state_dict`` and ``model_R_state_dict`` (see
    :func:`load_official_files`). Renames by :data:`OFFICIAL_KEY_PREFIXES` and squeezes the unit depth of per-frame
    ``Conv3d`` weights. ``report`` receives ``renamed``, ``dropped``, ``added`` (and ``reshaped``).
    """
    sd = rename_by_prefix(_merge_official_files(state_dict), OFFICIAL_KEY_PREFIXES, dropped=OFFICIAL_KEYS_DROPPED,
                          what="official FMA-Net", report=report)
    reshaped = []
    for key, value in list(sd.items()):
        if value.dim() == 5 and key not in _TRUE_3D:
            if value.shape[2] != 1:
                raise VsrkitError(f"official FMA-Net key {key} has temporal extent {value.shape[2]}, expected 1")
            sd[key] = value.squeeze(2)
            reshaped.append(key)
    if report is not None:
        report["reshaped"] = reshaped
    return sd


SPECS = (
    ModelSpec(
        name="fmanet",
        builder=FMANet,
        description="FMA-Net: joint x4 VSR + deblurring with flow-guided dynamic filtering and FRMA (official weights "
        "load)",
        scale=4,
        temporal="window",
        num_frames=3,  # paper-t5 is a 5-frame model: the built model's num_frames wins
        variants=VARIANTS,
        default_variant="paper",
        # The official test loop drops the first/last T//2 frames (no padding, issue #28); vsrkit replicates the
        # end frames so every input frame gets an output (metrics on the paper protocol skip those frames).
        edge_padding="replicate",
        aux_outputs=("flow_x", "mask_x", "flow_y", "mask_y", "lr_warp", "kernels_d", "kernels_r"),
        paper="Youk, Oh, Kim, FMA-Net, CVPR 2024",
        # KAIST-VICLab/FMA-Net model.py FMANet(config) (experiment.cfg keys); forward(x [B,3,T,h,w] BGR, y=None) ->
        # dict: recon, hr_warp, image_flow, F_sharp_D (only with y), output, lr_warp, F_sharp_R. Releases: the
        # combined state dict, or model_D_best.pt + model_R_best.pt (pass their folder; see load_official_files).
        converter=OfficialConverter(
            convert=convert_official_state_dict,
            key_table=OFFICIAL_KEY_PREFIXES,
            official_defaults=OFFICIAL_CONFIG,
            kwargs_from_official=kwargs_from_official_config,
            call=lambda model, x, y=None: model.official_forward(x, y),
            read=load_official_files,
        ),
    ),
)
