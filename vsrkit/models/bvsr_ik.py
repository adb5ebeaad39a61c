"""BVSR-IK: blind video super-resolution with implicit (SIREN) multi-scale kernel dictionaries.

Paper: Qiang Zhu, Yuxuan Jiang, Shuyuan Zhu, Fan Zhang, David Bull, Bing Zeng, "Blind Video Super-Resolution based
on Implicit Kernels", ICCV 2025. Official code: ``QZ1-boy/BVSR-IK`` (``model_KCA.py``, class ``KCANet``); the
repository has no licence file, so released weights carry no stated licence (treat them as research-only).

What each part implements (the released model definition is followed wherever it differs from the paper, because
the paper's 9.30 M parameters are the code's):

* **Implicit kernel generation** (Sec. 3.1, Eq. 2 and 4) – :class:`~vsrkit.ops.siren.SirenAtomBank`: ``N = 8``
  SIREN atoms (hidden 360, one tied learnable sine frequency per atom, initialised 2, 4, …, 16 as in the code;
  the paper says "random in [2, 16]", available as ``freq_init="random"``), sampled at sizes 3, 5, …, 13, each
  scaled by float32 ``9/k²``. One dictionary per module (ISC, forward ITA, backward ITA).
* **Spatially-varying filtering** (Eq. 3) – :class:`KernelDictionaryFilter`: depth-wise correlation of the input
  with every atom of every size; the ``R = 7`` scales are a zero "null" map plus the six sizes. The paper's fixed
  1×1 delta atom (in-focus regions) is realised as the identity residual ``+ x``: choosing the null scale
  (``μ₀ = 1``) leaves the pixel unfiltered. ``μ`` = softmax over scales, ``ω`` = raw (unnormalised) conv output,
  combined with the maps and reduced by a learned 1×1 conv (channel order ``(scale, channel, atom)``).
* **Recurrent Transformer U-Net** (Sec. 3.2, Eq. 5–7) – :class:`RecurrentUNet` of :class:`RTBlock` s: the ROA
  attention adds grouped 3×3 q/k/v projections of the feature and the hidden state, then Restormer channel
  attention (:func:`~vsrkit.ops.restormer.transposed_attention`, one head, no LayerNorm) and the GDFN
  (:class:`~vsrkit.ops.restormer.GatedFeedForward`, hidden = dim/2). The deepest encoder output is discarded by
  the code (its FFN has no influence: reproduced).
* **ISC** (Sec. 3.3) – :class:`ImplicitSpatialCorrection`: residual feature extractor (16 ch, 5 blocks), two
  U-Nets for ω and μ, filtering of the raw LR frame → corrected frame ``Î_t`` and its feature.
* **ITA** (Sec. 3.4) – :class:`ImplicitTemporalAlignment`: flow-warp of the propagated feature, fusion blocks, two
  U-Nets (current feature, warped feature), filtering of the warped feature.
* **Propagation and reconstruction** – bidirectional BasicVSR-style recurrence (11 residual blocks per branch),
  fusion (10 blocks), two pixel-shuffle ×2 stages (:class:`~vsrkit.ops.blocks.PixelShuffleUpsampler`),
  ``conv_hr``, ``conv_last`` + bilinear ×4 of the **corrected** LR frame.

Differences between paper and code, and what vsrkit does:

* Flow: the code runs SpyNet on the raw blurry LR; the paper says on corrected frames. ``flow_source="lr"``
  (default, what released weights expect) or ``"corrected"`` (paper; used by the ``small`` variant).
* Forward branch feature order (defect): the code feeds the forward ITA the ISC feature of frame ``T−1−i`` at
  step ``i`` (a list filled backwards and never reversed). ``feature_order="official"`` reproduces it (needed
  for released weights; run them on 5-frame windows as the authors evaluate); ``"fixed"`` uses frame ``i``.
* Block counts (ISC 5 blocks instead of the paper's N1 = 8; 10 + upsampler instead of N2 = 13) follow the code.
* BGR: the official weights expect BGR; this model takes RGB and flips channels on entry and exit.
* Atoms are evaluated once per forward call instead of once per frame (identical numbers).
* Frames are replicate-padded (bottom/right) to multiples of 4 and cropped back, as in the code; SpyNet needs
  H, W ≥ 33.

Official parameter names are kept inside the modules; the top level is renamed (``SPC`` → ``isc``,
``INRAlign_{forward,backward}`` → ``ita_{forward,backward}``, ``{forward,backward}_resblocks`` →
``{forward,backward}_trunk``, ``upsample{1,2}.upsample_conv`` → ``upsampler.convs.{0,1}``) and the SIREN layers
become ``dictionary.atoms.{n}.{fc_in,fc_hidden,fc_out,w0}``; see :data:`OFFICIAL_KEY_PREFIXES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.checkpoint import rename_by_prefix, unwrap_checkpoint
from vsrkit.errors import VsrkitError
from vsrkit.models.spec import ModelSpec, OfficialConverter
from vsrkit.ops.blocks import ConvResidualBlocks, PixelShuffleUpsampler
from vsrkit.ops.restormer import GatedFeedForward, transposed_attention
from vsrkit.ops.siren import SirenAtomBank, delta_atom
from vsrkit.ops.spynet import SPYNET_MIN_SIZE, SpyNet, neighbour_flows
from vsrkit.ops.warp import flow_warp_nchw

__all__ = [
    "BVSRIK",
    "VARIANTS",
    "OFFICIAL_KEY_PREFIXES",
    "convert_official_state_dict",
    "KernelDictionaryFilter",
    "RecurrentUNet",
    "RTBlock",
    "ImplicitSpatialCorrection",
    "ImplicitTemporalAlignment",
]

#: Constructor kwargs per variant. ``paper``: the released configuration, 9,304,445 parameters (5-frame windows,
#: ×4, R = 7 scales, N = 8 atoms). ``small``: CPU-trainable (≈1.9 M, of which SpyNet is 1.44 M), with the
#: corrected feature order and the paper's flow-on-corrected-frames.
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {},
    "small": {
        "num_feat": 32,
        "isc_feat": 8,
        "ita_feat": 16,
        "siren_hidden": 48,
        "isc_blocks": 2,
        "ita_fusion_blocks": 1,
        "prop_blocks": 3,
        "recon_blocks": 2,
        "feature_order": "fixed",
        "flow_source": "corrected",
    },
}

_PAD_MULTIPLE = 4  # two stride-2 levels in the U-Nets


def _default_init_resblocks(module: ConvResidualBlocks) -> ConvResidualBlocks:
    """BVSR-IK keeps PyTorch's default conv init in its residual blocks (no BasicSR ×0.1 Kaiming)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            m.reset_parameters()
    return module


class BasicConv(nn.Module):
    """Conv (reflect padding ``k//2``, no bias) or ConvTranspose(4, stride 2, padding 1, no bias), then ReLU.
    Key ``main.0.weight`` as in the official code."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, *, stride: int = 1, transpose: bool = False):
        super().__init__()
        if transpose:
            conv: nn.Module = nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False)
        else:
            conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2, bias=False,
                             padding_mode="reflect")
        self.main = nn.Sequential(conv, nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)


class RecurrentAttention(nn.Module):
    """ROA (Eq. 5–7): ``q, k, v = chunk3(to_qkv(x) + to_qkv_h(h))`` (grouped 3×3, ``dim → 3·dim``, groups = dim),
    one-head channel attention, ``project_out`` 1×1. No biases."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.to_qkv = nn.Conv2d(dim, 3 * dim, 3, padding=1, groups=dim, bias=False)
        self.to_qkv_h = nn.Conv2d(dim, 3 * dim, 3, padding=1, groups=dim, bias=False)
        self.temperature = nn.Parameter(torch.ones(1, 1, 1))
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        q, k, v = (self.to_qkv(x) + self.to_qkv_h(h)).chunk(3, dim=1)
        return self.project_out(transposed_attention(q, k, v, self.temperature, heads=1))


class RTBlock(nn.Module):
    """Recurrent Transformer block: ``a = ROA(x, h)``; ``y = x + a``; ``x' = y + GDFN(y)``; ``h' = h + a``.
    No LayerNorm (as in the released code)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.recurr_attn = RecurrentAttention(dim)
        self.ffn1 = GatedFeedForward(dim=dim, hidden=dim // 2, bias=False)

    def forward(self, x: Tensor, h: Tensor, *, need_x: bool = True) -> tuple[Tensor | None, Tensor]:
        a = self.recurr_attn(x, h)
        if not need_x:  # the deepest encoder output is discarded by the model: skip its FFN
            return None, h + a
        y = x + a
        return y + self.ffn1(y), h + a


class _Level(nn.Module):
    """Holds one RT-block under ``layers.0`` (the official key layout)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([RTBlock(dim)])

    def forward(self, x: Tensor, h: Tensor, *, need_x: bool = True) -> tuple[Tensor | None, Tensor]:
        return self.layers[0](x, h, need_x=need_x)


class RecurrentUNet(nn.Module):
    """Three-level recurrent Transformer U-Net (official ``UNet_Spatial``/``UNet_Tempal``), width ``b`` at every
    level. ``forward(x1, x2)`` (both ``(B, b, H, W)``, ``H, W`` multiples of 4) → ``(B, b, H, W)``."""

    def __init__(self, base: int) -> None:
        super().__init__()
        b2 = 2 * base
        self.Encoder = nn.ModuleList(_Level(base) for _ in range(3))
        self.Decoder = nn.ModuleList(_Level(base) for _ in range(2))
        self.feat_extract = nn.ModuleList([
            BasicConv(b2, b2, 1),
            BasicConv(b2, b2, 3, stride=2),
            BasicConv(b2, b2, 3, stride=2),
            BasicConv(b2, b2, 1),
            BasicConv(b2, b2, 1),
        ])
        self.up1 = BasicConv(b2, b2, 4, transpose=True)
        self.up2 = BasicConv(b2, b2, 4, transpose=True)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        x, h = self.feat_extract[0](torch.cat([x1, x2], 1)).chunk(2, dim=1)
        r1, h1 = self.Encoder[0](x, h)
        z, g = self.feat_extract[1](torch.cat([r1, h1], 1)).chunk(2, dim=1)
        r2, h2 = self.Encoder[1](z, g)
        z, g = self.feat_extract[2](torch.cat([r2, h2], 1)).chunk(2, dim=1)
        _, h3 = self.Encoder[2](z, g, need_x=False)
        # The official decoder upsamples the level-3 block *input* z (its output is discarded).
        z, g = self.up1(torch.cat([z, h3], 1)).chunk(2, dim=1)
        z, g = self.feat_extract[3](torch.cat([z + r2, g], 1)).chunk(2, dim=1)
        z, g2 = self.Decoder[0](z, g + h2)
        z, g = self.up2(torch.cat([z, g2], 1)).chunk(2, dim=1)
        z, g = self.feat_extract[4](torch.cat([z + r1, g], 1)).chunk(2, dim=1)
        z, _ = self.Decoder[1](z, g + h1)
        return z


class KernelDictionaryFilter(nn.Module):
    """Multi-scale implicit kernel dictionary and the spatially-varying filtering of Eq. 3.

    ``forward(x, mu, omega)``: ``x (B, c, H, W)``, ``mu (B, R, H, W)`` (already softmaxed), ``omega (B, N, H, W)``
    (raw) → ``sum_conv(flatten(maps · μ · ω)) + x`` with ``maps (B, R, N·c, H, W)`` (index ``ch·N + n``), scale 0 a
    zero map (the identity/delta choice), scales 1… the atom sizes.
    """

    def __init__(self, channels: int, *, num_atoms: int = 8, sizes: Sequence[int] = (3, 5, 7, 9, 11, 13),
                 hidden: int = 360, freq_init: str = "linear") -> None:
        super().__init__()
        self.channels, self.num_atoms, self.sizes = channels, num_atoms, tuple(int(s) for s in sizes)
        self.num_scales = len(self.sizes) + 1
        self.dictionary = SirenAtomBank(num_atoms=num_atoms, hidden=hidden, freq_init=freq_init)
        self.sum = nn.Conv2d(self.num_scales * num_atoms * channels, channels, 1, bias=True)

    def atoms(self) -> list[Tensor]:
        """The current dictionary: one ``(N, k, k)`` tensor per size."""
        return self.dictionary.dictionary(self.sizes)

    def forward(self, x: Tensor, mu: Tensor, omega: Tensor, atoms: list[Tensor] | None = None) -> Tensor:
        b, c, h, w = x.shape
        if atoms is None:
            atoms = self.atoms()
        maps = [x.new_zeros(b, c * self.num_atoms, h, w)]
        for d in atoms:
            k = d.shape[-1]
            weight = d.unsqueeze(1).repeat(c, 1, 1, 1)  # (c·N, 1, k, k), index ch·N + n
            maps.append(F.conv2d(x, weight, padding=k // 2, groups=c))
        stacked = torch.stack(maps, dim=1)  # (B, R, N·c, H, W)
        weights = mu.unsqueeze(2) * omega.repeat(1, c, 1, 1).unsqueeze(1)
        return self.sum((stacked * weights).flatten(1, 2)) + x


class ImplicitSpatialCorrection(nn.Module):
    """ISC (official ``SPCNet``): ``forward(x (B, 3, H, W))`` → ``(corrected (B, 3, H, W), feat (B, b, H, W),
    mu (B, R, H, W), omega (B, N, H, W))``."""

    def __init__(self, *, base: int = 16, num_blocks: int = 5, num_atoms: int = 8,
                 sizes: Sequence[int] = (3, 5, 7, 9, 11, 13), siren_hidden: int = 360, freq_init: str = "linear"):
        super().__init__()
        self.feat_ext = _default_init_resblocks(ConvResidualBlocks(in_channels=3, out_channels=base,
                                                                   num_blocks=num_blocks))
        self.unet_basis_select = RecurrentUNet(base)
        self.unet_scale_select = RecurrentUNet(base)
        self.inr_conv = KernelDictionaryFilter(3, num_atoms=num_atoms, sizes=sizes, hidden=siren_hidden,
                                               freq_init=freq_init)
        self.scale_select = nn.Conv2d(base, len(sizes) + 1, 3, padding=1)
        self.basis_select = nn.Conv2d(base, num_atoms, 3, padding=1)

    def forward(self, x: Tensor, atoms: list[Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        feat = self.feat_ext(x)  # computed once (the code computes it twice, identically)
        u_omega = self.unet_basis_select(feat, feat)
        u_mu = self.unet_scale_select(feat, feat)
        mu = torch.softmax(self.scale_select(u_mu), dim=1)
        omega = self.basis_select(u_omega)
        return self.inr_conv(x, mu, omega, atoms), feat, mu, omega


class ImplicitTemporalAlignment(nn.Module):
    """ITA (official ``INRAlign``): ``forward(feat (B, f, H, W), prev (B, C, H, W), flow (B, 2, H, W))`` →
    ``(aligned (B, C, H, W), mu, omega)``."""

    def __init__(self, *, channels: int = 64, feat_in: int = 16, base: int = 32, fusion_blocks: int = 3,
                 num_atoms: int = 8, sizes: Sequence[int] = (3, 5, 7, 9, 11, 13), siren_hidden: int = 360,
                 freq_init: str = "linear"):
        super().__init__()
        self.fusion1 = _default_init_resblocks(ConvResidualBlocks(in_channels=channels, out_channels=base,
                                                                  num_blocks=fusion_blocks))
        self.fusion2 = _default_init_resblocks(ConvResidualBlocks(in_channels=feat_in, out_channels=base,
                                                                  num_blocks=fusion_blocks))
        self.unet_basis_select = RecurrentUNet(base)
        self.unet_scale_select = RecurrentUNet(base)
        self.inr_conv = KernelDictionaryFilter(channels, num_atoms=num_atoms, sizes=sizes, hidden=siren_hidden,
                                               freq_init=freq_init)
        self.scale_select = nn.Conv2d(base, len(sizes) + 1, 3, padding=1)
        self.basis_select = nn.Conv2d(base, num_atoms, 3, padding=1)

    def forward(self, feat: Tensor, prev: Tensor, flow: Tensor,
                atoms: list[Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        warped = flow_warp_nchw(prev, flow)
        a = self.fusion1(warped)
        b = self.fusion2(feat)
        u_omega = self.unet_basis_select(b, a)
        u_mu = self.unet_scale_select(b, a)
        mu = torch.softmax(self.scale_select(u_mu), dim=1)
        omega = self.basis_select(u_omega)
        return self.inr_conv(warped, mu, omega, atoms), mu, omega


class BVSRIK(nn.Module):
    """BVSR-IK ×4 (Zhu et al., ICCV 2025).

    ``forward(x)``: ``x (B, T, 3, H, W)`` RGB in [0, 1], any ``T ≥ 1``, ``H, W ≥ 33`` → ``(B, T, 3, 4H, 4W)`` (not
    clamped). ``forward(x, return_aux=True)`` → ``(out, aux)`` with

    * ``corrected`` ``(B, T, 3, H, W)`` – ISC-corrected LR frames (RGB; the correction-loss input),
    * ``isc_mu`` ``(B, T, R, H, W)`` – softmax scale weights μ, ``isc_omega`` ``(B, T, N, H, W)`` – raw ω,
    * ``isc_atoms`` ``(R−1, N, K, K)`` – the ISC dictionary, every size zero-padded (centred) to the largest ``K``,
    * ``flows_forward``/``flows_backward`` ``(B, T−1, 2, H, W)`` (as BasicVSR).

    Args:
        num_feat: propagation width (64).
        isc_feat / ita_feat: U-Net widths of ISC (16) and ITA (32).
        num_atoms: atoms per dictionary N (8). kernel_sizes: atom sizes (3, …, 13); R = len + 1 (null scale).
        siren_hidden: SIREN width (360). freq_init: ``"linear"`` (code) or ``"random"`` (paper).
        isc_blocks (5), ita_fusion_blocks (3), prop_blocks (11), recon_blocks (10): residual block counts.
        feature_order: ``"official"`` (forward branch sees frame ``T−1−i``'s ISC feature; released weights) or
            ``"fixed"``.
        flow_source: ``"lr"`` (SpyNet on raw LR; released weights) or ``"corrected"`` (paper).
        spynet_pretrained: optional SpyNet weights file.
        isc: keep the ISC module (default). ``False`` is Table 3(a) v1.1 "w/o ISC": the raw LR frame stands in for
            the corrected frame ``Î_t`` (reconstruction skip and flow input) and its ``isc_feat``-channel feature
            comes from the same residual extractor (``feat_ext``, ``isc_blocks`` blocks) that ISC starts with; the
            two U-Nets, the dictionary and the selectors are gone (−1,178,924 parameters at paper size; the paper
            lists 8.12 M vs 9.30 M). ``aux`` then has no ``isc_*`` entries and ``corrected`` is the input.
        ita: ``"both"`` (default), ``"forward"`` (Table 3(a) v1.4 "w/o Bi-dir": the backward branch aligns by plain
            flow warping, −1 ITA) or ``"none"`` (v1.2 "w/o ITA": both branches warp with the SpyNet flow, −2 ITA;
            paper 7.40 M and 5.50 M).
    """

    scale = 4

    def __init__(
        self,
        *,
        num_feat: int = 64,
        isc_feat: int = 16,
        ita_feat: int = 32,
        num_atoms: int = 8,
        kernel_sizes: Sequence[int] = (3, 5, 7, 9, 11, 13),
        siren_hidden: int = 360,
        freq_init: str = "linear",
        isc_blocks: int = 5,
        ita_fusion_blocks: int = 3,
        prop_blocks: int = 11,
        recon_blocks: int = 10,
        feature_order: str = "official",
        flow_source: str = "lr",
        spynet_pretrained: str | Path | None = None,
        isc: bool = True,
        ita: str = "both",
    ) -> None:
        super().__init__()
        if ita not in ("both", "forward", "none"):
            raise VsrkitError(f"ita must be 'both', 'forward' or 'none', got {ita!r}")
        if feature_order not in ("official", "fixed"):
            raise VsrkitError(f"feature_order must be 'official' or 'fixed', got {feature_order!r}")
        if flow_source not in ("lr", "corrected"):
            raise VsrkitError(f"flow_source must be 'lr' or 'corrected', got {flow_source!r}")
        self.num_feat, self.feature_order, self.flow_source = num_feat, feature_order, flow_source
        dict_kw = dict(num_atoms=num_atoms, sizes=tuple(kernel_sizes), siren_hidden=siren_hidden, freq_init=freq_init)
        self.isc: ImplicitSpatialCorrection | None = None
        self.feat_ext: ConvResidualBlocks | None = None
        if isc:
            self.isc = ImplicitSpatialCorrection(base=isc_feat, num_blocks=isc_blocks, **dict_kw)
        else:  # v1.1: only ISC's frame-feature extractor remains
            self.feat_ext = _default_init_resblocks(ConvResidualBlocks(in_channels=3, out_channels=isc_feat,
                                                                       num_blocks=isc_blocks))
        self.spynet = SpyNet(pretrained=spynet_pretrained)
        ita_kw = dict(channels=num_feat, feat_in=isc_feat, base=ita_feat, fusion_blocks=ita_fusion_blocks, **dict_kw)
        self.ita_forward = ImplicitTemporalAlignment(**ita_kw) if ita != "none" else None
        self.ita_backward = ImplicitTemporalAlignment(**ita_kw) if ita == "both" else None
        self.backward_trunk = _default_init_resblocks(
            ConvResidualBlocks(in_channels=isc_feat + num_feat, out_channels=num_feat, num_blocks=prop_blocks))
        self.forward_trunk = _default_init_resblocks(
            ConvResidualBlocks(in_channels=isc_feat + num_feat, out_channels=num_feat, num_blocks=prop_blocks))
        self.fusion = _default_init_resblocks(
            ConvResidualBlocks(in_channels=2 * num_feat, out_channels=num_feat, num_blocks=recon_blocks))
        self.upsampler = PixelShuffleUpsampler(in_channels=num_feat, out_channels=(num_feat, num_feat))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

    # -- pieces -------------------------------------------------------------------------------------------------
    @staticmethod
    def _align(ita: ImplicitTemporalAlignment | None, feat: Tensor, prev: Tensor, flow: Tensor,
               atoms: list[Tensor] | None) -> Tensor:
        """ITA, or (its Table 3 ablations) plain backward warping of ``prev (B, C, H, W)`` by ``flow``."""
        return flow_warp_nchw(prev, flow) if ita is None else ita(feat, prev, flow, atoms)[0]

    def _reconstruct(self, back: Tensor, fwd: Tensor, lr_hat: Tensor) -> Tensor:
        out = self.lrelu(self.fusion(torch.cat([back, fwd], 1)))
        out = self.upsampler(out)
        out = self.lrelu(self.conv_hr(out))
        out = self.conv_last(out)
        return out + F.interpolate(lr_hat, scale_factor=4, mode="bilinear", align_corners=False)

    def forward_bgr(self, x: Tensor) -> dict[str, Tensor]:
        """The official forward on BGR input ``(B, T, 3, H, W)``: ``{"outputs", "lr_corrs", ...}`` (BGR)."""
        if x.dim() != 5 or x.shape[2] != 3:
            raise ValueError(f"BVSR-IK expects (B, T, 3, H, W), got {tuple(x.shape)}")
        b, t, c, h_in, w_in = x.shape
        if t > 1 and (h_in < SPYNET_MIN_SIZE or w_in < SPYNET_MIN_SIZE):
            raise VsrkitError(
                f"BVSR-IK needs frames of at least {SPYNET_MIN_SIZE}x{SPYNET_MIN_SIZE} px (SpyNet), got "
                f"{h_in}x{w_in}: pad the clip (replicate) first; the engine does this from the registry's min_size"
            )
        ph, pw = (-h_in) % _PAD_MULTIPLE, (-w_in) % _PAD_MULTIPLE
        if ph or pw:
            x = F.pad(x.reshape(b * t, c, h_in, w_in), [0, pw, 0, ph], mode="replicate").reshape(
                b, t, c, h_in + ph, w_in + pw)
        h, w = x.shape[-2:]

        # ISC on every frame (the code interleaves it with the backward branch; the order does not matter).
        isc_atoms = self.isc.inr_conv.atoms() if self.isc is not None else None
        lr_hats, feats, mus, omegas = [], [], [], []
        for i in range(t):
            if self.isc is None:  # w/o ISC: the raw frame is the "corrected" frame
                lr_hats.append(x[:, i]), feats.append(self.feat_ext(x[:, i]))
                continue
            lr_hat, feat, mu, omega = self.isc(x[:, i], isc_atoms)
            lr_hats.append(lr_hat), feats.append(feat), mus.append(mu), omegas.append(omega)
        corrected = torch.stack(lr_hats, 1)
        flows_forward, flows_backward = neighbour_flows(self.spynet, x if self.flow_source == "lr" else corrected)

        atoms_b = self.ita_backward.inr_conv.atoms() if t > 1 and self.ita_backward is not None else None
        back_states: list[Tensor] = [x.new_zeros(0)] * t
        p = x.new_zeros(b, self.num_feat, h, w)
        for i in range(t - 1, -1, -1):
            if i < t - 1:
                p = self._align(self.ita_backward, feats[i], p, flows_backward[:, i], atoms_b)
            p = self.backward_trunk(torch.cat([feats[i], p], 1))
            back_states[i] = p

        atoms_f = self.ita_forward.inr_conv.atoms() if t > 1 and self.ita_forward is not None else None
        outputs = []
        p = x.new_zeros(b, self.num_feat, h, w)
        for i in range(t):
            feat = feats[t - 1 - i] if self.feature_order == "official" else feats[i]
            if i > 0:
                p = self._align(self.ita_forward, feat, p, flows_forward[:, i - 1], atoms_f)
            p = self.forward_trunk(torch.cat([feat, p], 1))
            outputs.append(self._reconstruct(back_states[i], p, lr_hats[i]))
        out = torch.stack(outputs, 1)[..., : 4 * h_in, : 4 * w_in]
        res = {
            "outputs": out,
            "lr_corrs": corrected[..., :h_in, :w_in],
            "flows_forward": flows_forward[..., :h_in, :w_in],
            "flows_backward": flows_backward[..., :h_in, :w_in],
        }
        if isc_atoms is not None:
            res.update(isc_mu=torch.stack(mus, 1)[..., :h_in, :w_in],
                       isc_omega=torch.stack(omegas, 1)[..., :h_in, :w_in], isc_atoms=_pad_atoms(isc_atoms))
        return res

    def forward(self, x: Tensor, *, return_aux: bool = False) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        res = self.forward_bgr(x.flip(2))  # RGB → BGR (the official weights' channel order)
        out = res["outputs"].flip(2)
        if not return_aux:
            return out
        aux = {"corrected": res["lr_corrs"].flip(2)}
        aux.update({k: res[k] for k in ("isc_mu", "isc_omega", "isc_atoms") if k in res})
        aux.update(flows_forward=res["flows_forward"], flows_backward=res["flows_backward"])
        return out, aux

    # -- visualisation --------------------------------------------------------------------------------------------
    @staticmethod
    def effective_kernels(mu: Tensor, omega: Tensor, atoms: Tensor) -> Tensor:
        """Per-pixel dictionary kernels ``δ + Σ_r μ_r Σ_n ω_n d_n^r`` (Eq. 2–3 before the learned 1×1 channel mix).

        ``mu (..., R, H, W)``, ``omega (..., N, H, W)``, ``atoms (R−1, N, K, K)`` → ``(..., H, W, K, K)``. The delta
        stands for the identity residual of the filtering (the paper's fixed 1×1 atom).
        """
        per_scale = torch.einsum("...rhw,...nhw,rnab->...hwab", mu[..., 1:, :, :], omega, atoms)
        k = atoms.shape[-1]
        return per_scale + delta_atom(k, dtype=atoms.dtype, device=atoms.device)

    def render_aux(self, aux: dict[str, Tensor]) -> dict[str, list[np.ndarray]]:
        """uint8 RGB pictures per output frame: ``corrected`` (ISC output), ``kernel_dictionary`` (all atoms, one
        row per size) and ``effective_kernels`` (the per-pixel kernel on a coarse grid of pixels), batch item 0."""
        corrected = aux["corrected"][0].detach().float().clamp(0, 1)
        t = corrected.shape[0]
        atoms = aux["isc_atoms"].detach().float().cpu()
        dict_img = _tile(atoms.reshape(-1, *atoms.shape[-2:]), cols=atoms.shape[1], zoom=4)
        mu, omega = aux["isc_mu"][0].detach().float().cpu(), aux["isc_omega"][0].detach().float().cpu()
        out: dict[str, list[np.ndarray]] = {"corrected": [], "kernel_dictionary": [], "effective_kernels": []}
        for i in range(t):
            out["corrected"].append((corrected[i].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8))
            out["kernel_dictionary"].append(dict_img)
            h, w = mu.shape[-2:]
            step = max(1, min(h, w) // 8)
            ys, xs = torch.arange(step // 2, h, step), torch.arange(step // 2, w, step)
            kern = self.effective_kernels(mu[i][:, ys][:, :, xs], omega[i][:, ys][:, :, xs], atoms)
            gh, gw = kern.shape[:2]
            out["effective_kernels"].append(_tile(kern.reshape(gh * gw, *kern.shape[-2:]), cols=gw, zoom=3))
        return out


def _pad_atoms(atoms: list[Tensor]) -> Tensor:
    k = max(a.shape[-1] for a in atoms)
    return torch.stack([F.pad(a, [(k - a.shape[-1]) // 2] * 4) for a in atoms])


def _tile(kernels: Tensor, *, cols: int, zoom: int) -> np.ndarray:
    """``(M, K, K)`` signed kernels → one uint8 RGB mosaic (each kernel normalised by its own max |value|:
    positive red, negative blue)."""
    m, k, _ = kernels.shape
    rows = (m + cols - 1) // cols
    pad = 1
    canvas = np.full((rows * (k + pad) + pad, cols * (k + pad) + pad, 3), 64, np.uint8)
    for idx in range(m):
        r, c = divmod(idx, cols)
        kk = kernels[idx].numpy()
        scale = np.abs(kk).max() or 1.0
        v = kk / scale
        tile = np.zeros((k, k, 3), np.float64)
        tile[..., 0] = np.clip(v, 0, 1)
        tile[..., 2] = np.clip(-v, 0, 1)
        tile[..., 1] = 0.25 * np.abs(v)
        y0, x0 = pad + r * (k + pad), pad + c * (k + pad)
        canvas[y0:y0 + k, x0:x0 + k] = (tile * 255).round().astype(np.uint8)
    return np.kron(canvas, np.ones((zoom, zoom, 1), np.uint8))


# ----------------------------------------------------------------------------------------------------------------
# Official checkpoint conversion
# ----------------------------------------------------------------------------------------------------------------
_NUM_ATOMS_OFFICIAL = 8
_SIREN_LAYERS = {"layers.0.": "fc_in.", "layers.2.": "fc_hidden.", "layers.4.": "fc_out."}


def _atom_table(official: str, ours: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for n in range(_NUM_ATOMS_OFFICIAL):
        src = f"{official}.inr_conv.kernelINR_list.{n}."
        dst = f"{ours}.inr_conv.dictionary.atoms.{n}."
        for a, b in _SIREN_LAYERS.items():
            table[src + a] = dst + b
        table[src + "layers.1.w0"] = dst + "w0"
    return table


def _module_table(official: str, ours: str) -> dict[str, str]:
    names = ["unet_basis_select.", "unet_scale_select.", "scale_select.", "basis_select."]
    names += ["feat_ext."] if official == "SPC" else ["fusion1.", "fusion2."]
    table = {f"{official}.{n}": f"{ours}.{n}" for n in names}
    table[f"{official}.sum."] = f"{ours}.inr_conv.sum."  # the 1×1 reduction lives with the filter here
    return table | _atom_table(official, ours)


#: Explicit rename table, official ``KCANet`` prefix → vsrkit prefix (within a prefix the rest is unchanged).
OFFICIAL_KEY_PREFIXES: dict[str, str] = {
    **_module_table("SPC", "isc"),
    **_module_table("INRAlign_forward", "ita_forward"),
    **_module_table("INRAlign_backward", "ita_backward"),
    "spynet.": "spynet.",
    "backward_resblocks.": "backward_trunk.",
    "forward_resblocks.": "forward_trunk.",
    "fusion.": "fusion.",
    "upsample1.upsample_conv.": "upsampler.convs.0.",
    "upsample2.upsample_conv.": "upsampler.convs.1.",
    "conv_hr.": "conv_hr.",
    "conv_last.": "conv_last.",
}

#: The second name of each tied SIREN frequency (``layers.3.w0`` is the same Parameter as ``layers.1.w0``):
#: dropped after checking equality.
OFFICIAL_KEYS_DROPPED: tuple[str, ...] = tuple(
    f"{m}.inr_conv.kernelINR_list.{n}.layers.3.w0"
    for m in ("SPC", "INRAlign_forward", "INRAlign_backward")
    for n in range(_NUM_ATOMS_OFFICIAL)
)


def convert_official_state_dict(state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """Official ``KCANet`` checkpoint → :class:`BVSRIK` state dict, via :data:`OFFICIAL_KEY_PREFIXES`.

    Accepts a bare state dict, the FMA-Net-lineage trainer container (``model_R_state_dict``; optimiser entries
    ignored), BasicSR-style ``params``/``params_ema`` or ``state_dict``, and ``module.`` (DataParallel) prefixes.
    Each tied frequency pair must be equal (else :class:`~vsrkit.errors.VsrkitError`); the ``layers.3.w0`` copy
    is dropped. SpyNet ``mean``/``std`` are added (ImageNet RGB statistics, as the official SpyNet registers them)
    when the file lacks them. Load the result strictly.
    """
    if isinstance(state_dict.get("model_R_state_dict"), dict):
        state_dict = state_dict["model_R_state_dict"]
    state_dict = unwrap_checkpoint(state_dict)
    if state_dict and all(k.startswith("module.") for k in state_dict):
        state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
    for key in OFFICIAL_KEYS_DROPPED:
        twin = key.replace("layers.3.w0", "layers.1.w0")
        if key in state_dict and twin in state_dict and not torch.equal(state_dict[key], state_dict[twin]):
            raise VsrkitError(f"tied SIREN frequencies differ ({key} != {twin}): the checkpoint is not a KCANet one")
    out = rename_by_prefix(state_dict, OFFICIAL_KEY_PREFIXES, dropped=OFFICIAL_KEYS_DROPPED,
                           what="official BVSR-IK (KCANet)", report=report)
    added = []
    if "spynet.mean" not in out and "spynet.std" not in out:
        like = next(iter(out.values()))
        dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
        out["spynet.mean"] = torch.tensor([0.485, 0.456, 0.406], dtype=dtype).view(1, 3, 1, 1)
        out["spynet.std"] = torch.tensor([0.229, 0.224, 0.225], dtype=dtype).view(1, 3, 1, 1)
        added = ["spynet.mean", "spynet.std"]
    if report is not None:
        report["added"] = added
    return out


SPECS = (
    ModelSpec(
        name="bvsr_ik",
        builder=BVSRIK,
        description="BVSR-IK: blind VSR with SIREN multi-scale kernel dictionaries, ISC correction and ITA alignment",
        scale=4,
        # Handles any T (bidirectional recurrence). The authors evaluate their weights on 5-frame windows keeping
        # the centre output; the engine runs overlapping recurrent chunks instead (use --chunk 5 to stay close to
        # the length the official feature_order="official" weights were trained on).
        temporal="recurrent",
        num_frames=5,
        variants=VARIANTS,
        default_variant="paper",
        min_size=SPYNET_MIN_SIZE,
        size_multiple=_PAD_MULTIPLE,
        aux_outputs=("corrected", "isc_mu", "isc_omega", "isc_atoms", "flows_forward", "flows_backward"),
        paper="Zhu et al., Blind Video Super-Resolution based on Implicit Kernels, ICCV 2025",
        # QZ1-boy/BVSR-IK model_KCA.py KCANet(config); the config fields it reads are below (every other size is
        # hard-coded). forward(lrs (B,T,3,H,W) BGR) -> {'outputs': (B,T,3,4H,4W), 'lr_corrs': (B,T,3,H,W)} (BGR).
        converter=OfficialConverter(
            convert=convert_official_state_dict,
            key_table=OFFICIAL_KEY_PREFIXES,
            official_defaults={"in_channels": 3, "dim": 64, "num_seq": 5, "bias": False, "scale": 4},
            kwargs_from_official=lambda a: {} if int(a["dim"]) == 64 else {"num_feat": int(a["dim"])},
            call=lambda model, lrs: (lambda r: (r["outputs"], r["lr_corrs"]))(model.forward_bgr(lrs)),
        ),
    ),
)
