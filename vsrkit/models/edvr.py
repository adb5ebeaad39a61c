"""EDVR: video restoration with enhanced deformable convolutions (Wang, Chan, Yu, Dong, Loy, CVPRW 2019),
in the form DynaVSR (Lee, Choi, Lee, WACV 2021) uses as its main backbone (``esw0116/DynaVSR``
``codes/models/archs/EDVR_arch.py``, an mmsr copy with a ``scale`` argument).

* Feature pyramid: ``conv_first`` + ``feature_extraction`` (front residual blocks) = L1; two stride-2 convs each
  give L2 and L3 (LeakyReLU 0.1 everywhere).
* **PCD alignment** (:class:`PCDAlignment`): per level, offsets from ``cat[neighbour, reference]`` refined with
  the ×2-upsampled (bilinear, ``align_corners=False``) offsets of the coarser level (times 2), a modulated
  deformable convolution (:class:`~vsrkit.ops.deform_conv.ModulatedDCNPack`, 8 deformable groups) aligns the
  neighbour; a final cascading DCN refines L1. The reference frame is aligned to itself as well.
* **TSA fusion** (:class:`TSAFusion`): temporal attention ``sigmoid(<emb_t, emb_ref>)`` per pixel, then a spatial
  attention pyramid (max/avg pools 3/2/1) producing a multiplicative (``2·sigmoid``) and an additive map.
* Reconstruction: ``recon_trunk`` residual blocks, pixel-shuffle ×2 (``upconv1`` only at ×4, ``upconv2``),
  ``HRconv``, ``conv_last``, plus the bilinear ×s upscaling of the centre frame.

Configurations: EDVR-M ×2 (nf 64, 5 frames, 5 front / 10 back blocks; 3,152,419 parameters) and EDVR-L ×4
(nf 128, 40 back blocks; 20,633,827 with 5 frames). The official deformable convolution is mmdetection's CUDA
extension; vsrkit uses the pure-PyTorch :func:`~vsrkit.ops.deform_conv.modulated_deform_conv2d` with the same
offset/mask layout. Inputs and outputs are RGB (mmsr feeds RGB), so no channel flip. Official key names are kept
exactly (identity rename table). Weights: DynaVSR's Google-Drive release, no licence file in the repository.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.checkpoint import rename_by_prefix, unwrap_checkpoint
from vsrkit.errors import VsrkitError
from vsrkit.models.spec import ModelSpec, OfficialConverter
from vsrkit.ops.blocks import ResidualBlockNoBN, make_layer
from vsrkit.ops.deform_conv import ModulatedDCNPack

__all__ = ["EDVR", "PCDAlignment", "TSAFusion", "VARIANTS", "OFFICIAL_KEY_PREFIXES", "convert_official_state_dict"]

VARIANTS: dict[str, dict] = {
    "m_x2": {"num_feat": 64, "num_frame": 5, "deformable_groups": 8, "num_extract_block": 5,
             "num_reconstruct_block": 10, "scale": 2},
    "l_x4": {"num_feat": 128, "num_frame": 5, "deformable_groups": 8, "num_extract_block": 5,
             "num_reconstruct_block": 40, "scale": 4},
    "l_x4_7f": {"num_feat": 128, "num_frame": 7, "deformable_groups": 8, "num_extract_block": 5,
                "num_reconstruct_block": 40, "scale": 4},
    "tiny_x2": {"num_feat": 16, "num_frame": 5, "deformable_groups": 4, "num_extract_block": 1,
                "num_reconstruct_block": 2, "scale": 2},
}


def _up2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class PCDAlignment(nn.Module):
    """Pyramid, cascading and deformable alignment of one neighbour onto the reference (mmsr ``PCD_Align``).

    ``forward(nbr, ref)``: lists ``[L1, L2, L3]`` of ``(B, nf, h/2^l, w/2^l)`` → aligned L1 ``(B, nf, h, w)``.
    """

    def __init__(self, nf: int = 64, groups: int = 8) -> None:
        super().__init__()

        def conv(cin: int) -> nn.Conv2d:
            return nn.Conv2d(cin, nf, 3, 1, 1, bias=True)

        def dcn() -> ModulatedDCNPack:
            return ModulatedDCNPack(nf, nf, 3, stride=1, padding=1, deformable_groups=groups)

        self.L3_offset_conv1, self.L3_offset_conv2 = conv(2 * nf), conv(nf)
        self.L3_dcnpack = dcn()
        self.L2_offset_conv1, self.L2_offset_conv2, self.L2_offset_conv3 = conv(2 * nf), conv(2 * nf), conv(nf)
        self.L2_dcnpack = dcn()
        self.L2_fea_conv = conv(2 * nf)
        self.L1_offset_conv1, self.L1_offset_conv2, self.L1_offset_conv3 = conv(2 * nf), conv(2 * nf), conv(nf)
        self.L1_dcnpack = dcn()
        self.L1_fea_conv = conv(2 * nf)
        self.cas_offset_conv1, self.cas_offset_conv2 = conv(2 * nf), conv(nf)
        self.cas_dcnpack = dcn()
        self.lrelu = nn.LeakyReLU(0.1)

    def forward(self, nbr: list[Tensor], ref: list[Tensor]) -> Tensor:
        act = self.lrelu
        off3 = act(self.L3_offset_conv2(act(self.L3_offset_conv1(torch.cat([nbr[2], ref[2]], 1)))))
        fea3 = act(self.L3_dcnpack(nbr[2], off3))

        off2 = act(self.L2_offset_conv1(torch.cat([nbr[1], ref[1]], 1)))
        off2 = act(self.L2_offset_conv2(torch.cat([off2, _up2(off3) * 2], 1)))
        off2 = act(self.L2_offset_conv3(off2))
        fea2 = self.L2_dcnpack(nbr[1], off2)
        fea2 = act(self.L2_fea_conv(torch.cat([fea2, _up2(fea3)], 1)))

        off1 = act(self.L1_offset_conv1(torch.cat([nbr[0], ref[0]], 1)))
        off1 = act(self.L1_offset_conv2(torch.cat([off1, _up2(off2) * 2], 1)))
        off1 = act(self.L1_offset_conv3(off1))
        fea1 = self.L1_dcnpack(nbr[0], off1)
        fea1 = self.L1_fea_conv(torch.cat([fea1, _up2(fea2)], 1))  # no activation (as the official code)

        off = act(self.cas_offset_conv2(act(self.cas_offset_conv1(torch.cat([fea1, ref[0]], 1)))))
        return act(self.cas_dcnpack(fea1, off))


class TSAFusion(nn.Module):
    """Temporal and spatial attention fusion (mmsr ``TSA_Fusion``): ``(B, N, nf, h, w)`` → ``(B, nf, h, w)``."""

    def __init__(self, nf: int = 64, nframes: int = 5, center: int = 2) -> None:
        super().__init__()
        self.center = center
        self.tAtt_1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.tAtt_2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.fea_fusion = nn.Conv2d(nframes * nf, nf, 1, 1)
        self.sAtt_1 = nn.Conv2d(nframes * nf, nf, 1, 1)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.avgpool = nn.AvgPool2d(3, stride=2, padding=1)
        self.sAtt_2 = nn.Conv2d(nf * 2, nf, 1, 1)
        self.sAtt_3 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.sAtt_4 = nn.Conv2d(nf, nf, 1, 1)
        self.sAtt_5 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.sAtt_L1 = nn.Conv2d(nf, nf, 1, 1)
        self.sAtt_L2 = nn.Conv2d(nf * 2, nf, 3, 1, 1)
        self.sAtt_L3 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.sAtt_add_1 = nn.Conv2d(nf, nf, 1, 1)
        self.sAtt_add_2 = nn.Conv2d(nf, nf, 1, 1)
        self.lrelu = nn.LeakyReLU(0.1)

    def forward(self, aligned: Tensor) -> Tensor:
        b, n, c, h, w = aligned.shape
        act = self.lrelu
        emb_ref = self.tAtt_2(aligned[:, self.center])
        emb = self.tAtt_1(aligned.reshape(-1, c, h, w)).view(b, n, -1, h, w)
        cor = torch.sigmoid(torch.sum(emb * emb_ref.unsqueeze(1), dim=2))  # (B, N, h, w)
        a = (aligned * cor.unsqueeze(2)).reshape(b, n * c, h, w)
        fea = act(self.fea_fusion(a))

        att = act(self.sAtt_1(a))
        att = act(self.sAtt_2(torch.cat([self.maxpool(att), self.avgpool(att)], 1)))
        att_l = act(self.sAtt_L1(att))
        att_l = act(self.sAtt_L2(torch.cat([self.maxpool(att_l), self.avgpool(att_l)], 1)))
        att_l = _up2(act(self.sAtt_L3(att_l)))
        att = act(self.sAtt_3(att)) + att_l
        att = _up2(act(self.sAtt_4(att)))
        att = self.sAtt_5(att)
        add = self.sAtt_add_2(act(self.sAtt_add_1(att)))
        return fea * torch.sigmoid(att) * 2 + add


class EDVR(nn.Module):
    """EDVR window model: ``(B, N, 3, h, w)`` RGB → ``(B, 1, 3, s·h, s·w)`` (centre frame ``N//2``), ``h, w``
    multiples of 4.

    Args:
        num_feat: ``nf`` (64 for EDVR-M, 128 for EDVR-L).
        num_frame: window length ``N``.
        deformable_groups: DCN groups (8).
        num_extract_block / num_reconstruct_block: ``front_RBs`` / ``back_RBs``.
        scale: 2 or 4.
        with_tsa: TSA fusion (``True``) or the 1×1 fusion conv of ``w_TSA=False``.
    """

    def __init__(self, *, num_feat: int = 64, num_frame: int = 5, deformable_groups: int = 8,
                 num_extract_block: int = 5, num_reconstruct_block: int = 10, scale: int = 2,
                 with_tsa: bool = True) -> None:
        super().__init__()
        if scale not in (2, 4):
            raise VsrkitError(f"EDVR supports scale 2 or 4, got {scale}")
        nf = num_feat
        self.scale, self.num_frame, self.center = scale, num_frame, num_frame // 2
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.feature_extraction = make_layer(ResidualBlockNoBN, num_extract_block, num_feat=nf)
        self.fea_L2_conv1 = nn.Conv2d(nf, nf, 3, 2, 1)
        self.fea_L2_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.fea_L3_conv1 = nn.Conv2d(nf, nf, 3, 2, 1)
        self.fea_L3_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.pcd_align = PCDAlignment(nf, deformable_groups)
        self.with_tsa = with_tsa
        if with_tsa:
            self.tsa_fusion = TSAFusion(nf, num_frame, self.center)
        else:
            self.tsa_fusion = nn.Conv2d(num_frame * nf, nf, 1, 1)
        self.recon_trunk = make_layer(ResidualBlockNoBN, num_reconstruct_block, num_feat=nf)
        if scale == 4:
            self.upconv1 = nn.Conv2d(nf, nf * 4, 3, 1, 1)
        self.upconv2 = nn.Conv2d(nf, 64 * 4, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(2)
        self.HRconv = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.1)

    def restore(self, x: Tensor) -> Tensor:
        """The official forward: ``(B, N, 3, h, w)`` → ``(B, 3, s·h, s·w)``."""
        b, n, c, h, w = x.shape
        if n != self.num_frame:
            raise VsrkitError(f"EDVR was built for {self.num_frame}-frame windows, got {n}")
        if h % 4 or w % 4:
            raise VsrkitError(f"EDVR needs h, w multiples of 4, got {h}x{w}: pad first (the engine does)")
        act = self.lrelu
        l1 = self.feature_extraction(act(self.conv_first(x.reshape(-1, c, h, w))))
        l2 = act(self.fea_L2_conv2(act(self.fea_L2_conv1(l1))))
        l3 = act(self.fea_L3_conv2(act(self.fea_L3_conv1(l2))))
        l1, l2, l3 = (t.view(b, n, -1, t.shape[-2], t.shape[-1]) for t in (l1, l2, l3))
        ref = [l1[:, self.center], l2[:, self.center], l3[:, self.center]]
        aligned = torch.stack([self.pcd_align([l1[:, i], l2[:, i], l3[:, i]], ref) for i in range(n)], dim=1)
        if self.with_tsa:
            fea = self.tsa_fusion(aligned)
        else:
            fea = self.tsa_fusion(aligned.reshape(b, -1, h, w))
        out = self.recon_trunk(fea)
        if self.scale == 4:
            out = act(self.pixel_shuffle(self.upconv1(out)))
        out = act(self.pixel_shuffle(self.upconv2(out)))
        out = self.conv_last(act(self.HRconv(out)))
        base = F.interpolate(x[:, self.center], scale_factor=self.scale, mode="bilinear", align_corners=False)
        return out + base

    @property
    def num_frames(self) -> int:
        """The window length the engine feeds (the model contract's name for ``num_frame``)."""
        return self.num_frame

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[2] != 3:
            raise ValueError(f"EDVR expects (B, N, 3, h, w), got {tuple(x.shape)}")
        return self.restore(x).unsqueeze(1)


#: mmsr EDVR keys are kept unchanged (identity table per top-level module).
OFFICIAL_KEY_PREFIXES: dict[str, str] = {
    p: p
    for p in (
        "conv_first.", "feature_extraction.", "fea_L2_conv1.", "fea_L2_conv2.", "fea_L3_conv1.", "fea_L3_conv2.",
        "pcd_align.", "tsa_fusion.", "recon_trunk.", "upconv1.", "upconv2.", "HRconv.", "conv_last.",
    )
}


def _strip_module(state_dict: dict) -> dict:
    return {k[7:] if k.startswith("module.") else k: v for k, v in state_dict.items()}


def convert_official_state_dict(state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """DynaVSR/mmsr EDVR checkpoint (bare state dict, ``module.`` prefixes stripped) → :class:`EDVR` state dict."""
    return rename_by_prefix(_strip_module(unwrap_checkpoint(state_dict)), OFFICIAL_KEY_PREFIXES,
                            what="DynaVSR EDVR", report=report)


def kwargs_from_official(a: dict[str, Any]) -> dict[str, Any]:
    """Official ``EDVR(nf, nframes, groups, front_RBs, back_RBs, center, predeblur, HR_in, w_TSA, scale)`` kwargs →
    :class:`EDVR` kwargs."""
    if a["predeblur"] or a["HR_in"] or a["center"] not in (None, int(a["nframes"]) // 2):
        raise VsrkitError("EDVR: predeblur/HR_in/off-centre reference are not used by DynaVSR and not supported")
    return {"num_feat": int(a["nf"]), "num_frame": int(a["nframes"]), "deformable_groups": int(a["groups"]),
            "num_extract_block": int(a["front_RBs"]), "num_reconstruct_block": int(a["back_RBs"]),
            "scale": int(a["scale"]), "with_tsa": bool(a["w_TSA"])}


SPECS = (
    ModelSpec(
        name="edvr",
        builder=EDVR,
        description="EDVR (PCD deformable alignment + TSA fusion) as DynaVSR's backbone; pure-PyTorch DCNv2",
        scale=None,  # every variant sets its own
        temporal="window",
        num_frames=5,  # l_x4_7f is a 7-frame model: the built model's num_frames wins
        variants=VARIANTS,
        default_variant="m_x2",
        size_multiple=4,
        edge_padding="new_info",
        paper="Wang et al., EDVR, CVPRW 2019 (DynaVSR backbone, Lee et al., WACV 2021)",
        # DynaVSR codes/models/archs/EDVR_arch.py EDVR(...); defaults = EDVR-M x2 of the DynaVSR option files.
        # forward(x (B,N,3,h,w)) -> (B,3,sh,sw).
        converter=OfficialConverter(
            convert=convert_official_state_dict,
            key_table=OFFICIAL_KEY_PREFIXES,
            official_defaults={"nf": 64, "nframes": 5, "groups": 8, "front_RBs": 5, "back_RBs": 10, "center": None,
                               "predeblur": False, "HR_in": False, "w_TSA": True, "scale": 2},
            kwargs_from_official=kwargs_from_official,
            call=lambda model, x: model.restore(x),
        ),
    ),
)
