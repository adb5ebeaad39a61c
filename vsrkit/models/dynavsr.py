"""DynaVSR's downscaling networks (Lee, Choi, Lee, "DynaVSR: Dynamic Adaptive Blind Video Super-Resolution",
WACV 2021; official code ``esw0116/DynaVSR``, ``codes/models/archs/LRimg_estimator.py``).

* :class:`MFDN` — the multi-frame downscaling network ``D_φ`` (Sec. 3.2; official ``DirectKernelEstimatorVideo``):
  from an LR clip it predicts the super-low-resolution (SLR) clip, one more ×s downscaling with the *same unknown
  kernel*. The SLR→LR pairs then supervise the VSR network on the input itself (Eq. 6–8). Layers: the per-frame,
  per-channel spatial mean is removed; Conv3d 3×3×3 (ReplicationPad3d, also in time) → four Conv2d per frame
  (ReflectionPad2d; a 4×4/2 conv halves the size, at ×4 a second one) → Conv3d 3×3×3 → 1×1 conv to RGB; the mean
  is added back. LeakyReLU(0.1) after every layer but the last; no other skip. ×2: 394,947 parameters,
  ×4: 452,291.
* :class:`SFDN` — the single-frame ablation (Table 2; official ``DirectKernelEstimator_CMS``, ×2 only): seven
  per-image Conv2d layers, 428,419 parameters.

vsrkit layout: ``forward(x)`` takes ``(B, T, 3, H, W)`` RGB (H, W divisible by the scale) and returns
``(B, T, 3, H/s, W/s)``; :meth:`MFDN.forward_official` takes the official ``(B, 3, T, H, W)``. Key names equal the
official ones (``conv0`` … ``conv6``). The meta-learning itself lives in :mod:`vsrkit.engine.recipes.dynavsr` and
test-time adaptation in :mod:`vsrkit.engine.adapt`. The backbones are :mod:`vsrkit.models.edvr`,
:mod:`vsrkit.models.toflow` and :mod:`vsrkit.models.duf`. Weights: Google Drive release of the authors, no licence
file in the repository.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.checkpoint import rename_by_prefix, unwrap_checkpoint
from vsrkit.errors import VsrkitError
from vsrkit.models.spec import NetworkSpec, OfficialConverter

__all__ = ["MFDN", "SFDN", "VARIANTS", "OFFICIAL_KEY_PREFIXES", "convert_official_state_dict"]

VARIANTS: dict[str, dict] = {
    "x2": {"num_feat": 64, "scale": 2},
    "x4": {"num_feat": 64, "scale": 4},
    "small_x2": {"num_feat": 16, "scale": 2},
}


def _spatial_mean(x: Tensor) -> Tensor:
    """Per-(B, C, T) spatial mean (over W, then H), kept as a broadcastable ``(..., 1, 1)`` tensor."""
    return x.mean(-1, keepdim=True).mean(-2, keepdim=True)


class MFDN(nn.Module):
    """Multi-frame downscaling network (official ``DirectKernelEstimatorVideo(nf, in_nc=3, scale)``).

    Args:
        num_feat: ``nf`` (64; conv2 widens to ``2·nf``).
        scale: 2 or 4 (×4 makes ``conv3`` a second 4×4/2 convolution).
    """

    def __init__(self, *, num_feat: int = 64, scale: int = 2, in_channels: int = 3) -> None:
        super().__init__()
        if scale not in (2, 4):
            raise VsrkitError(f"MFDN supports scale 2 or 4, got {scale}")
        nf = num_feat
        self.scale = scale
        self.conv0 = nn.Conv3d(in_channels, nf, 3)
        self.conv1 = nn.Conv2d(nf, nf, 3)
        self.conv2 = nn.Conv2d(nf, 2 * nf, 4, 2)
        self.conv3 = nn.Conv2d(2 * nf, nf, 4, 2) if scale == 4 else nn.Conv2d(2 * nf, nf, 3)
        self.conv4 = nn.Conv2d(nf, nf, 3)
        self.conv5 = nn.Conv3d(nf, nf, 3)
        self.conv6 = nn.Conv2d(nf, in_channels, 1)
        self.pad3d = nn.ReplicationPad3d(1)
        self.pad = nn.ReflectionPad2d(1)
        self.lrelu = nn.LeakyReLU(0.1)

    def forward_official(self, x: Tensor) -> Tensor:
        """``(B, C, T, H, W)`` → ``(B, C, T, H/s, W/s)`` (the official call)."""
        b, c, t, h, w = x.shape
        if h % self.scale or w % self.scale:
            raise VsrkitError(f"MFDN x{self.scale} needs H, W divisible by {self.scale}, got {h}x{w}: crop or pad")
        m = _spatial_mean(x)
        y = self.lrelu(self.conv0(self.pad3d(x - m)))  # (B, nf, T, H, W)
        nf = y.shape[1]
        y = y.transpose(1, 2).reshape(b * t, nf, h, w)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            y = self.lrelu(conv(self.pad(y)))
        hs, ws = y.shape[-2:]
        y = y.view(b, t, nf, hs, ws).transpose(1, 2)
        y = self.lrelu(self.conv5(self.pad3d(y)))
        y = self.conv6(y.transpose(1, 2).reshape(b * t, nf, hs, ws))
        return y.view(b, t, c, hs, ws).transpose(1, 2) + m

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, C, H, W)`` → ``(B, T, C, H/s, W/s)``."""
        if x.dim() != 5:
            raise ValueError(f"MFDN expects (B, T, C, H, W), got {tuple(x.shape)}")
        return self.forward_official(x.transpose(1, 2)).transpose(1, 2)


class SFDN(nn.Module):
    """Single-frame downscaling network ×2 (official ``DirectKernelEstimator_CMS(nf=64)``); frames independent."""

    def __init__(self, *, num_feat: int = 64, scale: int = 2, in_channels: int = 3) -> None:
        super().__init__()
        if scale != 2:
            raise VsrkitError("SFDN exists only at x2 (the official define_E never passes a scale)")
        nf = num_feat
        self.scale = scale
        self.conv0 = nn.Conv2d(in_channels, nf, 3)
        self.conv1 = nn.Conv2d(nf, nf, 3)
        self.conv2 = nn.Conv2d(nf, nf, 3)
        self.conv3 = nn.Conv2d(nf, 2 * nf, 4, 2)
        self.conv4 = nn.Conv2d(2 * nf, 2 * nf, 3)
        self.conv5 = nn.Conv2d(2 * nf, nf, 3)
        self.conv6 = nn.Conv2d(nf, in_channels, 1)
        self.pad = nn.ReflectionPad2d(1)
        self.lrelu = nn.LeakyReLU(0.1)

    def forward_images(self, x: Tensor) -> Tensor:
        """``(N, C, H, W)`` → ``(N, C, H/2, W/2)``."""
        m = _spatial_mean(x)
        y = x - m
        for conv in (self.conv0, self.conv1, self.conv2, self.conv3, self.conv4, self.conv5):
            y = self.lrelu(conv(self.pad(y)))
        return self.conv6(y) + m

    def forward(self, x: Tensor) -> Tensor:
        b, t, c, h, w = x.shape
        if h % 2 or w % 2:
            raise VsrkitError(f"SFDN needs even H, W, got {h}x{w}")
        return self.forward_images(x.reshape(b * t, c, h, w)).view(b, t, c, h // 2, w // 2)


#: Identity table: the official estimator keys are ``conv0`` … ``conv6``.
OFFICIAL_KEY_PREFIXES: dict[str, str] = {f"conv{i}.": f"conv{i}." for i in range(7)}


def convert_official_state_dict(state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """DynaVSR MFDN/SFDN checkpoint (``MFDN/MFDN_REDS.pth``, ``*_E.pth``) → :class:`MFDN`/:class:`SFDN` keys."""
    sd = {k[7:] if k.startswith("module.") else k: v for k, v in unwrap_checkpoint(state_dict).items()}
    return rename_by_prefix(sd, OFFICIAL_KEY_PREFIXES, what="DynaVSR MFDN/SFDN", report=report)


def mean_downscale_check(x: Tensor, scale: int) -> Tensor:  # pragma: no cover - debugging helper
    """Plain area downscaling, the trivial SLR estimate to compare MFDN against."""
    return F.avg_pool2d(x.flatten(0, 1), scale).unflatten(0, x.shape[:2])


SPECS = (
    # esw0116/DynaVSR codes/models/archs/LRimg_estimator.py DirectKernelEstimatorVideo(nf=64, in_nc=3, scale=2)
    # (MFDN); forward(x (B,3,T,H,W)) -> (B,3,T,H/s,W/s).
    NetworkSpec(
        name="mfdn",
        builder=MFDN,
        description="DynaVSR multi-frame downscaling network (--adapt dynavsr)",
        role="downscaler",
        variants=VARIANTS,
        default_variant="x2",
        paper="Lee, Choi, Lee, DynaVSR, WACV 2021",
        converter=OfficialConverter(
            convert=convert_official_state_dict,
            key_table=OFFICIAL_KEY_PREFIXES,
            official_defaults={"nf": 64, "in_nc": 3, "scale": 2},
            kwargs_from_official=lambda a: {"num_feat": int(a["nf"]), "scale": int(a["scale"]),
                                            "in_channels": int(a["in_nc"])},
            call=lambda model, x: model.forward_official(x),
        ),
    ),
    # DynaVSR DirectKernelEstimator_CMS(nf=64) (SFDN, x2); forward(x (N,3,H,W)) -> (N,3,H/2,W/2).
    NetworkSpec(
        name="sfdn",
        builder=SFDN,
        description="DynaVSR single-frame downscaling network, x2",
        role="downscaler",
        variants={"x2": {"num_feat": 64}},
        default_variant="x2",
        paper="Lee, Choi, Lee, DynaVSR, WACV 2021",
        converter=OfficialConverter(
            convert=convert_official_state_dict,
            key_table=OFFICIAL_KEY_PREFIXES,
            official_defaults={"nf": 64},
            kwargs_from_official=lambda a: {"num_feat": int(a["nf"])},
            call=lambda model, x: model.forward_images(x),
        ),
    ),
)
