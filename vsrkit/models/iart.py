"""IART: video super-resolution with implicit resampling-based alignment (Xu, Yu, Wang, Mi, Yao, CVPR 2024).

"Enhancing Video Super-Resolution via Implicit Resampling-based Alignment" replaces the bilinear warping of
flow-based alignment by a learned resampler: window cross-attention whose queries carry the sub-pixel (decimal)
part of the flow and whose keys/values carry the window cell, both as sinusoidal encodings (§4, eqs. 8-18;
:class:`vsrkit.ops.implicit_align.ImplicitAlign`). Two models are built on it:

* :class:`IART` (**IA-RT**, the released model; official ``kai422/IART`` ``archs/iart_arch.py`` ``IART``):
  PSRT-recurrent — per frame ``conv_first`` (3 → ``embed_dim``), SpyNet flows at LR, **second-order bidirectional
  propagation** in four branches ``backward_1, forward_1, backward_2, forward_2`` (each sees only the previous
  branch's outputs), each step aligning the branch's last and second-last outputs to the current feature with the
  one shared implicit-alignment module (the second-order flow is ``f_1 + warp(f_prev, f_1)``) and fusing
  ``[aligned_1, current, aligned_2]`` with a per-branch :class:`PSRTBackbone` (official ``SwinIRFM``: 3 groups of 6
  multi-frame 3-D window self-attention blocks, window ``(3, 8, 8)``,
  :class:`vsrkit.ops.window_attention.SwinBlock3D`); reconstruction from ``forward_2`` with two pixel-shuffle ×2
  stages plus the bilinear ×4 of the input. ``paper`` variant: **13,410,503 parameters**, exactly the official
  count, of which 567,136 are never used by the official forward (``conv_first``, ``conv_first_feat`` and
  ``conv_before_upsample`` inside each of the four backbones: 3 × 4 × 2 = 24 tensors). They are kept (dead
  parameters, no gradient) so that released checkpoints load strictly; :data:`OFFICIAL_KEYS_UNUSED` lists them.
* :class:`IACNN` (**IA-CNN**, a re-creation: the authors released no code or weights, kai422/IART#9): BasicVSR
  (:class:`vsrkit.models.basicvsr.BasicVSR`, first-order bidirectional propagation, 64 channels, 30 residual blocks
  per branch) whose ``flow_warp`` of the hidden state is replaced by implicit alignment (64 channels, 8 heads, 2×2
  windows, the IART encodings). The queries need a 64-channel feature of the current frame, which BasicVSR lacks;
  following the parameter-matched reading of docs/methods.md §4.2, a query extractor
  ``Conv3×3(3→64) + query_blocks`` residual blocks (shared by both directions, default 30) provides it. With
  ``query_blocks=30`` the model has **8,521,263** parameters (paper: 8.5 M; BasicVSR 6,291,311 + IA 12,480 +
  extractor 2,217,472). Never present its numbers as the paper's. ``alignment=`` selects ``nearest`` /
  ``bilinear`` / ``bicubic`` / ``implicit`` (the paper's resampling study); explicit modes have no extractor and
  are BasicVSR with another ``grid_sample`` mode.

Where the official code differs and what vsrkit does (policy: reproduce what weights depend on, fix bookkeeping):

* The IA encodings' normalisations (keys ``/(ws−1)``, queries ``/ws``; the paper says ``/w`` and ``/2w``) and the
  float32 frequency table are reproduced; the key table ``position_bias`` is a checkpoint buffer and is loaded.
* The four backbones are built unconditionally (official: only ``if torch.cuda.is_available()``); no ``.cuda()``.
* The mirror-extension test (even ``T`` whose second half is the reversed first half → forward flows are the
  flipped backward flows, as official) is recomputed on every call (official: sticky attribute).
* The official temporal shift of the odd Swin blocks is 3 on a 3-frame volume with temporal window 3 — a full
  cycle with a trivial mask; vsrkit uses shift ``(0, Wh/2, Ww/2)``, identical in value.
* Positions for the integer/decimal split are computed in float32 at least (official: feature dtype, so fp16
  autocast quantises them).
* The official CPU-cache mode (``T > cpu_cache_length``) is not implemented: all features stay on the input's device.
* ``H, W ≥ 64`` is required (official assert; the registry's ``min_size`` makes the engine pad).
* Gradient checkpointing (``use_checkpoint``) is not used (no numerical effect).

Weights: official IART checkpoints (MIT licence, ``kai422/IART``) are RGB BasicSR containers; load them with
:func:`convert_official_state_dict` (explicit table :data:`OFFICIAL_KEY_PREFIXES`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.checkpoint import rename_by_prefix, unwrap_checkpoint
from vsrkit.errors import VsrkitError
from vsrkit.models.basicvsr import BasicVSR
from vsrkit.models.spec import ModelSpec, OfficialConverter, require_official
from vsrkit.ops.blocks import ConvResidualBlocks, PixelShuffleUpsampler
from vsrkit.ops.implicit_align import ALIGNMENTS, ImplicitAlign, build_aligner, sine_encoding, sine_inverse_frequencies
from vsrkit.ops.spynet import SPYNET_MIN_SIZE, SpyNet, neighbour_flows
from vsrkit.ops.warp import flow_warp_nchw
from vsrkit.ops.window_attention import SwinBlock3D, relative_position_index_3d

__all__ = [
    "IART",
    "IACNN",
    "PSRTBackbone",
    "VARIANTS",
    "IACNN_VARIANTS",
    "IART_MIN_SIZE",
    "OFFICIAL_KEY_PREFIXES",
    "OFFICIAL_KEYS_UNUSED",
    "convert_official_state_dict",
]

#: LR frames must be at least this large (official assert).
IART_MIN_SIZE = 64

#: IA-RT constructor kwargs. ``paper``: 13,410,503 parameters (official REDS/Vimeo option files). ``small``: a
#: CPU-sized model (1 group of 2 blocks, 24 channels) for tests and quick experiments.
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {"mid_channels": 64, "embed_dim": 120, "depths": [6, 6, 6], "num_heads": [6, 6, 6],
              "window_size": [3, 8, 8]},
    "small": {"mid_channels": 32, "embed_dim": 24, "depths": [2], "num_heads": [2], "window_size": [3, 8, 8]},
}

#: IA-CNN constructor kwargs (``paper``: 8,521,263 parameters with the hypothesised 30-block query extractor).
IACNN_VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {"num_feat": 64, "num_block": 30, "num_heads": 8, "query_blocks": 30, "alignment": "implicit"},
    "small": {"num_feat": 32, "num_block": 5, "num_heads": 4, "query_blocks": 2, "alignment": "implicit"},
}

_BRANCHES = ("backward_1", "forward_1", "backward_2", "forward_2")


# ----------------------------------------------------------------------------------------------------------------
# PSRT-recurrent backbone (official SwinIRFM)
# ----------------------------------------------------------------------------------------------------------------
class _TokenNorm(nn.Module):
    """Holds the LayerNorm of the official ``patch_embed`` (key ``patch_embed.norm.*``); patch size 1."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x)


class _BlockStack(nn.Module):
    """``blocks.{i}``: Swin blocks, plain and shifted alternately (official ``BasicLayer``)."""

    def __init__(self, *, dim: int, depth: int, num_heads: int, window: Sequence[int], mlp_ratio: float,
                 drop_path: Sequence[float]) -> None:
        super().__init__()
        shift = (0, window[1] // 2, window[2] // 2)
        self.blocks = nn.ModuleList(
            SwinBlock3D(dim=dim, num_heads=num_heads, window=window, shift=(0, 0, 0) if i % 2 == 0 else shift,
                        mlp_ratio=mlp_ratio, drop_path=drop_path[i])
            for i in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class _ResidualGroup(nn.Module):
    """One RSTB ("MFSAB group"): ``x + per-frame Conv3×3(blocks(x))`` on ``(B, D, H, W, C)`` tokens."""

    def __init__(self, *, dim: int, depth: int, num_heads: int, window: Sequence[int], mlp_ratio: float,
                 drop_path: Sequence[float]) -> None:
        super().__init__()
        self.residual_group = _BlockStack(dim=dim, depth=depth, num_heads=num_heads, window=window,
                                          mlp_ratio=mlp_ratio, drop_path=drop_path)
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, d, h, w, c = x.shape
        y = self.residual_group(x).permute(0, 1, 4, 2, 3).reshape(b * d, c, h, w)
        y = self.conv(y).view(b, d, c, h, w).permute(0, 1, 3, 4, 2)
        return y + x


class PSRTBackbone(nn.Module):
    """Multi-frame self-attention fusion of PSRT-recurrent (official ``SwinIRFM`` as IART calls it).

    ``forward(x (B, 3, C, H, W)) -> (B, C, H, W)``: token LayerNorm, ``len(depths)`` residual groups of Swin blocks
    over the ``3 × H × W`` volume, final LayerNorm, ``conv_after_body`` on the centre frame plus the centre input.
    ``conv_first`` (3 → C), ``conv_first_feat`` (64 → C) and ``conv_before_upsample`` (C → 64) exist only so that
    official checkpoints load: the official forward never calls them with IART's inputs.
    """

    def __init__(self, *, embed_dim: int = 120, depths: Sequence[int] = (6, 6, 6), num_heads: Sequence[int] = (6, 6, 6),
                 window_size: Sequence[int] = (3, 8, 8), mlp_ratio: float = 2.0, drop_path_rate: float = 0.1) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(3, embed_dim, 3, 1, 1)  # unused (kept for checkpoints)
        self.conv_first_feat = nn.Conv2d(64, embed_dim, 3, 1, 1)  # unused
        self.patch_embed = _TokenNorm(embed_dim)
        n = sum(depths)
        rates = [drop_path_rate * i / max(n - 1, 1) for i in range(n)]  # linspace(0, rate, n)
        starts = [sum(depths[:i]) for i in range(len(depths))]
        self.layers = nn.ModuleList(
            _ResidualGroup(dim=embed_dim, depth=depths[i], num_heads=num_heads[i], window=window_size,
                           mlp_ratio=mlp_ratio, drop_path=rates[starts[i]: starts[i] + depths[i]])
            for i in range(len(depths))
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, 1, 1)
        self.conv_before_upsample = nn.Conv2d(embed_dim, 64, 3, 1, 1)  # unused
        self.apply(_init_transformer)

    def forward(self, x: Tensor) -> Tensor:
        centre = x[:, x.shape[1] // 2]
        tokens = self.patch_embed(x.permute(0, 1, 3, 4, 2))  # (B, D, H, W, C)
        for layer in self.layers:
            tokens = layer(tokens)
        tokens = self.norm(tokens)
        return self.conv_after_body(tokens[:, x.shape[1] // 2].permute(0, 3, 1, 2)) + centre


def _init_transformer(m: nn.Module) -> None:
    """Swin init: trunc-normal(0.02) Linear weights, zero biases, LayerNorm (1, 0); convs keep PyTorch's."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------------------------------------------
# IA-RT
# ----------------------------------------------------------------------------------------------------------------
class IART(nn.Module):
    """IA-RT ×4 (official ``IART``). ``forward(x)``: ``(B, T, 3, H, W)`` RGB in [0, 1], ``H, W >= 64`` →
    ``(B, T, 3, 4H, 4W)``; ``return_aux=True`` adds ``{"flows_forward", "flows_backward"}`` ``(B, T-1, 2, H, W)``
    (BasicVSR conventions).

    Args:
        mid_channels: width of the reconstruction head (``conv_before_upsample`` output).
        embed_dim: feature width of propagation, backbones and implicit alignment (120).
        depths / num_heads: blocks and heads per residual group of each backbone.
        window_size: 3-D attention window ``(frames, h, w)``.
        mlp_ratio, drop_path_rate: Swin block MLP expansion (2) and stochastic depth (0.1, training only).
        ia_num_heads: heads of the implicit alignment (official: ``num_heads[0]``).
        ia_window: implicit-alignment window ``ws`` (2).
        ia_pe_query / ia_pe_window: add the decimal-offset (query) / window-index (key, value) positional encodings
            of the implicit alignment (§4, eqs. 14 and 17). Both on in IART; Table 3 ablates them (✗✗: plain window
            cross-attention, ✓✗, ✗✓). No parameters depend on them.
        propagation_blocks: second-order bidirectional propagation blocks (2: branches ``backward_1, forward_1,
            backward_2, forward_2``). The paper's ablation model (supplementary, "Ablation Studies") has 1: only
            ``backward_1, forward_1``, the reconstruction reads ``forward_1``.
        spynet_pretrained: optional SpyNet weights.
    """

    def __init__(self, *, mid_channels: int = 64, embed_dim: int = 120, depths: Sequence[int] = (6, 6, 6),
                 num_heads: Sequence[int] = (6, 6, 6), window_size: Sequence[int] = (3, 8, 8), mlp_ratio: float = 2.0,
                 drop_path_rate: float = 0.1, ia_num_heads: int | None = None, ia_window: int = 2,
                 ia_pe_query: bool = True, ia_pe_window: bool = True, propagation_blocks: int = 2,
                 spynet_pretrained: str | Path | None = None) -> None:
        super().__init__()
        if propagation_blocks not in (1, 2):
            raise VsrkitError(f"IART propagation_blocks must be 1 or 2, got {propagation_blocks}")
        self.scale = 4
        self.branches = _BRANCHES[: 2 * propagation_blocks]
        self.embed_dim = embed_dim
        self.spynet = SpyNet(pretrained=spynet_pretrained)
        self.conv_first = nn.Conv2d(3, embed_dim, 3, 1, 1)
        self.swin_backbone = nn.ModuleDict({
            name: PSRTBackbone(embed_dim=embed_dim, depths=depths, num_heads=num_heads, window_size=window_size,
                               mlp_ratio=mlp_ratio, drop_path_rate=drop_path_rate)
            for name in self.branches
        })
        self.implicit_warp = ImplicitAlign(dim=embed_dim, pe_dim=embed_dim, num_heads=ia_num_heads or num_heads[0],
                                           window_size=ia_window, pe_query=ia_pe_query, pe_window=ia_pe_window)
        self.conv_before_upsample = nn.Conv2d(embed_dim, mid_channels, 3, 1, 1)
        self.upsampler = PixelShuffleUpsampler(in_channels=mid_channels, out_channels=(mid_channels, 64))
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

    def compute_flows(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(flows_forward, flows_backward)`` ``(B, T-1, 2, H, W)``; mirror-extended clips reuse the flipped
        backward flows for the forward ones (as official)."""
        return neighbour_flows(self.spynet, x, reuse_mirrored=True)

    def _propagate(self, feats: list[Tensor], flows: Tensor, branch: str) -> list[Tensor]:
        t = len(feats)
        backward = branch.startswith("backward")
        frames = range(t - 1, -1, -1) if backward else range(t)
        outputs: list[Tensor] = []
        flow_prev = None
        for step, k in enumerate(frames):
            current = feats[k]
            if step == 0:
                cond = [current, current, current]
            else:
                flow_n1 = flows[:, k] if backward else flows[:, k - 1]
                c1 = self.implicit_warp(outputs[-1], current, flow_n1.permute(0, 2, 3, 1))
                if step == 1:
                    c2 = torch.zeros_like(c1)
                else:
                    flow_n2 = flow_n1 + flow_warp_nchw(flow_prev, flow_n1)
                    c2 = self.implicit_warp(outputs[-2], current, flow_n2.permute(0, 2, 3, 1))
                cond = [c1, current, c2]
                flow_prev = flow_n1
            outputs.append(self.swin_backbone[branch](torch.stack(cond, dim=1)))
        if backward:
            outputs.reverse()
        return outputs

    def forward(self, x: Tensor, *, return_aux: bool = False) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        if x.dim() != 5 or x.shape[2] != 3:
            raise ValueError(f"IART expects (B, T, 3, H, W), got {tuple(x.shape)}")
        b, t, _, h, w = x.shape
        if h < IART_MIN_SIZE or w < IART_MIN_SIZE:
            raise VsrkitError(f"IART needs frames of at least {IART_MIN_SIZE}x{IART_MIN_SIZE} px, got {h}x{w}: pad "
                              "the clip (replicate) first; the engine does this from the registry's min_size")
        feats = list(self.conv_first(x.reshape(b * t, 3, h, w)).view(b, t, -1, h, w).unbind(1))
        flows_forward, flows_backward = self.compute_flows(x)
        for branch in self.branches:
            feats = self._propagate(feats, flows_backward if branch.startswith("backward") else flows_forward, branch)
        out = self.conv_before_upsample(torch.stack(feats, dim=1).flatten(0, 1))
        out = self.upsampler(out)
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        lr = x.reshape(b * t, 3, h, w)
        out = out + F.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False)
        out = out.view(b, t, 3, 4 * h, 4 * w)
        if return_aux:
            return out, {"flows_forward": flows_forward, "flows_backward": flows_backward}
        return out


# ----------------------------------------------------------------------------------------------------------------
# IA-CNN (re-creation) and the resampling study
# ----------------------------------------------------------------------------------------------------------------
class IACNN(BasicVSR):
    """BasicVSR whose hidden-state alignment is ``alignment`` (``implicit``: IA-CNN; ``nearest``/``bilinear``/
    ``bicubic``: the explicit resampling baselines of the paper's study). See the module docstring.

    Args:
        num_feat, num_block, spynet_pretrained: as :class:`BasicVSR` (paper: 64, 30).
        alignment: one of :data:`vsrkit.ops.implicit_align.ALIGNMENTS`.
        num_heads: implicit-alignment heads (paper: 8); ``window_size``: IA window (2).
        query_blocks: residual blocks of the query-feature extractor (implicit only; default 30, the
            parameter-matched hypothesis).
    """

    def __init__(self, *, num_feat: int = 64, num_block: int = 30, alignment: str = "implicit", num_heads: int = 8,
                 window_size: int = 2, query_blocks: int = 30, spynet_pretrained: str | Path | None = None) -> None:
        super().__init__(num_feat=num_feat, num_block=num_block, spynet_pretrained=spynet_pretrained)
        if alignment not in ALIGNMENTS:
            raise VsrkitError(f"unknown alignment {alignment!r}: choose one of {', '.join(ALIGNMENTS)}")
        self.scale = 4
        self.alignment = alignment
        self.aligner = build_aligner(alignment, channels=num_feat, num_heads=num_heads, window_size=window_size)
        self.query_extractor = (ConvResidualBlocks(in_channels=3, out_channels=num_feat, num_blocks=query_blocks)
                                if alignment == "implicit" else None)

    def _align_context(self, x: Tensor) -> Tensor | None:
        if self.query_extractor is None:
            return None
        b, t, c, h, w = x.shape
        return self.query_extractor(x.reshape(b * t, c, h, w)).view(b, t, -1, h, w)

    def _align(self, state: Tensor, flow: Tensor, frame: int, context: Tensor | None) -> Tensor:
        reference = context[:, frame] if context is not None else None
        return self.aligner(state, reference, flow.permute(0, 2, 3, 1))


# ----------------------------------------------------------------------------------------------------------------
# Official checkpoint conversion (IA-RT only: IA-CNN has no release)
# ----------------------------------------------------------------------------------------------------------------
#: Explicit rename table, official ``IART`` prefix → vsrkit prefix (remainders unchanged).
OFFICIAL_KEY_PREFIXES: dict[str, str] = {
    "spynet.": "spynet.",
    "conv_first.": "conv_first.",
    "swin_backbone.": "swin_backbone.",
    "implicit_warp.": "implicit_warp.",
    "conv_before_upsample.": "conv_before_upsample.",
    "upconv1.": "upsampler.convs.0.",
    "upconv2.": "upsampler.convs.1.",
    "conv_hr.": "conv_hr.",
    "conv_last.": "conv_last.",
}

#: Official tensors that the official forward never uses (kept as dead parameters so that files load strictly).
OFFICIAL_KEYS_UNUSED: tuple[str, ...] = tuple(
    f"swin_backbone.{branch}.{conv}.{kind}"
    for branch in _BRANCHES
    for conv in ("conv_first", "conv_first_feat", "conv_before_upsample")
    for kind in ("weight", "bias")
)


def convert_official_state_dict(state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """Official IART checkpoint (``params``/``params_ema`` container or bare) → :class:`IART` state dict.

    Integer buffers (``relative_position_index``, ``window_idx_offset``) are checked against their recomputation
    (a mismatch raises); the float buffer ``implicit_warp.position_bias`` is loaded as stored and ``report``
    records whether it equals the recomputed table (``position_bias_matches``). ``report`` also receives
    ``renamed``/``dropped``/``added`` and ``unused`` (:data:`OFFICIAL_KEYS_UNUSED` present in the file).
    """
    sd = unwrap_checkpoint(state_dict)
    out = rename_by_prefix(sd, OFFICIAL_KEY_PREFIXES, what="official IART", report=report)
    for key, value in out.items():
        if key.endswith("attn.relative_position_index"):
            table = out.get(key.replace("relative_position_index", "relative_position_bias_table"))
            window = _window_from_table(value.shape[0], None if table is None else table.shape[0])
            expected = relative_position_index_3d(window) if window is not None else None
            if expected is None or not torch.equal(value.long(), expected):
                raise VsrkitError(f"official IART: buffer {key} differs from the 3-D relative index: not an IART "
                                  "checkpoint, or a different window size")
        elif key == "implicit_warp.window_idx_offset":
            ws = round(value.shape[0] ** 0.5)
            a, b = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
            if not torch.equal(value.long(), torch.stack((a.flatten(), b.flatten()), 1)):
                raise VsrkitError("official IART: implicit_warp.window_idx_offset is not the row-major window grid")
    if report is not None:
        report["unused"] = [k for k in OFFICIAL_KEYS_UNUSED if k in sd]
        pb = out.get("implicit_warp.position_bias")
        if pb is not None:
            ws, pe_dim = round(pb.shape[1] ** 0.5), pb.shape[2]
            a, b = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
            cells = torch.stack((a.flatten(), b.flatten()), 1).double() / ((ws - 1) + 1e-6) * (2 * torch.pi)
            ref = sine_encoding(cells, sine_inverse_frequencies(pe_dim // 2, 0.01)).unsqueeze(0)
            report["position_bias_matches"] = bool(torch.allclose(pb.double(), ref, atol=1e-3))
    return out


def _window_from_table(n_tokens: int, table_rows: int | None) -> tuple[int, int, int] | None:
    """The 3-D window ``(d, h, w)`` (``h == w``) with ``d·h·w = n_tokens`` and ``(2d−1)(2h−1)² = table_rows``."""
    for d in range(1, n_tokens + 1):
        if n_tokens % d:
            continue
        hw = n_tokens // d
        s = round(hw ** 0.5)
        if s * s == hw and (table_rows is None or (2 * d - 1) * (2 * s - 1) ** 2 == table_rows):
            return (d, s, s)
    return None


def kwargs_from_official(a: dict[str, Any]) -> dict[str, Any]:
    """Official ``IART(...)`` kwargs → :class:`IART` kwargs (only the released input layout is supported)."""
    for key, value in (("in_channels", 3), ("num_frames", 3), ("patch_size", 1), ("is_low_res_input", True)):
        require_official(a, key, value, {})
    return {"mid_channels": int(a["mid_channels"]), "embed_dim": int(a["embed_dim"]),
            "depths": [int(d) for d in a["depths"]], "num_heads": [int(h) for h in a["num_heads"]],
            "window_size": [int(v) for v in a["window_size"]]}


SPECS = (
    ModelSpec(
        name="iart",
        builder=IART,
        description="IA-RT: PSRT-recurrent with implicit resampling-based alignment (official IART weights load)",
        scale=4,
        temporal="recurrent",
        variants=VARIANTS,
        default_variant="paper",
        min_size=IART_MIN_SIZE,  # official assert (LR H, W >= 64)
        aux_outputs=("flows_forward", "flows_backward"),
        paper="Xu et al., Enhancing Video Super-Resolution via Implicit Resampling-based Alignment, CVPR 2024",
        # kai422/IART archs/iart_arch.py IART(in_channels=3, mid_channels=64, embed_dim=120, depths=[6,6,6],
        # num_heads=[6,6,6], window_size=[3,8,8], num_frames=3, img_size=64, patch_size=1, cpu_cache_length=100,
        # is_low_res_input=True, spynet_path=None, use_checkpoint=[True]*4); forward(lqs (B,T,3,H,W) RGB,
        # H,W >= 64) -> (B,T,3,4H,4W). img_size, cpu_cache_length and use_checkpoint have no numerical effect.
        converter=OfficialConverter(
            convert=convert_official_state_dict,
            key_table=OFFICIAL_KEY_PREFIXES,
            official_defaults={"in_channels": 3, "mid_channels": 64, "embed_dim": 120, "depths": [6, 6, 6],
                               "num_heads": [6, 6, 6], "window_size": [3, 8, 8], "num_frames": 3, "img_size": 64,
                               "patch_size": 1, "cpu_cache_length": 100, "is_low_res_input": True,
                               "spynet_path": None, "use_checkpoint": [True] * 4},
            kwargs_from_official=kwargs_from_official,
            call=lambda model, lqs: model(lqs),
        ),
    ),
    ModelSpec(
        name="iacnn",
        builder=IACNN,
        description="IA-CNN (re-creation, no official code): BasicVSR with implicit alignment; alignment= selects "
        "nearest/bilinear/bicubic/implicit",
        scale=4,
        temporal="recurrent",
        variants=IACNN_VARIANTS,
        default_variant="paper",
        min_size=SPYNET_MIN_SIZE,
        aux_outputs=("flows_forward", "flows_backward"),
        paper="Xu et al., CVPR 2024 (IA-CNN; vsrkit re-creation, parameter-matched hypothesis)",
        status="re-creation",
    ),
)
