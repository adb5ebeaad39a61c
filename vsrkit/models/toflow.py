"""TOFlow: task-oriented flow for video super-resolution (Xue, Chen, Wu, Wei, Freeman, IJCV 2019), in the
PyTorch form DynaVSR uses as a backbone (``esw0116/DynaVSR`` ``codes/models/archs/TOF_arch.py``, mmsr's
translation of the official Torch model, built with ``adapt_official=True``).

* Input: 7 frames **at output size** — the official pipeline bicubic-upsamples the LR window outside the network
  (``F.interpolate(mode="bicubic", align_corners=True)``); :meth:`TOFlow.forward` does the same with ``scale``,
  :meth:`TOFlow.restore` is the official network on HR-size frames.
* Frames are ImageNet-normalised; the reference (frame 3) is moved first, ``[3, 0, 1, 2, 4, 5, 6]``, as the
  translated official weights expect.
* Flow: a 4-level SpyNet **with BatchNorm** after every conv but the last (:class:`TOFSpyNet`; not the BasicSR
  SpyNet of :mod:`vsrkit.ops.spynet`, whose levels have no BatchNorm, 6 levels, a ×32 resize and border-padded
  warping — only the warping function :func:`vsrkit.ops.warp.flow_warp` is shared). Per level the flow is resized
  (bilinear, ``align_corners=True``) to the level size and doubled; the neighbour is warped with it.
* Warping: mmsr ``flow_warp`` normalises positions by ``(W−1), (H−1)`` but calls ``grid_sample`` with the default
  ``align_corners=False`` (PyTorch ≥ 1.3); the released weights were fine-tuned with that half-pixel shift, so it
  is reproduced (``align_corners=False``, zero padding).
* Fusion: the 6 warped neighbours and the reference (21 channels) → 9×9 conv 64 → ReLU → 9×9 conv 64 → ReLU →
  1×1 → ReLU → 1×1 to RGB, plus the normalised reference; denormalised.

1,406,475 parameters (BatchNorm running statistics are buffers). Key names are the official ones
(``SpyNet.blocks.{l}.block.{i}``, ``conv_3x7_64_9x9`` …). BatchNorm: eps 1e-5, momentum 0.1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.checkpoint import rename_by_prefix, unwrap_checkpoint
from vsrkit.errors import VsrkitError
from vsrkit.models.spec import ModelSpec, OfficialConverter, require_official
from vsrkit.ops.warp import flow_warp

__all__ = ["TOFlow", "TOFSpyNet", "OFFICIAL_KEY_PREFIXES", "convert_official_state_dict"]

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _stats(x: Tensor) -> tuple[Tensor, Tensor]:
    # Built in float64 and cast, so float64 runs use the exact decimal constants (as the official code does
    # under a float64 default dtype).
    mean = torch.tensor(_MEAN, dtype=torch.float64).view(1, 3, 1, 1).to(x)
    std = torch.tensor(_STD, dtype=torch.float64).view(1, 3, 1, 1).to(x)
    return mean, std


def _warp(x: Tensor, flow_nchw: Tensor) -> Tensor:
    return flow_warp(x, flow_nchw.permute(0, 2, 3, 1), padding_mode="zeros", align_corners=False)


class TOFSpyNetLevel(nn.Module):
    """One level: conv7×7 8→32→64→32→16→2 with BatchNorm + ReLU after all but the last (key ``block``)."""

    def __init__(self) -> None:
        super().__init__()
        widths = (8, 32, 64, 32, 16, 2)
        layers: list[nn.Module] = []
        for i in range(5):
            layers.append(nn.Conv2d(widths[i], widths[i + 1], 7, 1, 3))
            if i < 4:
                layers += [nn.BatchNorm2d(widths[i + 1]), nn.ReLU(inplace=False)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class TOFSpyNet(nn.Module):
    """4-level BatchNorm SpyNet of TOFlow: ``forward(ref, nbr)`` (normalised, ``(N, 3, H, W)``) → flow
    ``(N, 2, H, W)`` (dx, dy) on ``ref``'s grid pointing into ``nbr``."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(TOFSpyNetLevel() for _ in range(4))

    def forward(self, ref: Tensor, nbr: Tensor) -> Tensor:
        n, _, h, w = ref.shape
        refs, nbrs = [ref], [nbr]
        for _ in range(3):
            refs.insert(0, F.avg_pool2d(refs[0], kernel_size=2, stride=2, count_include_pad=False))
            nbrs.insert(0, F.avg_pool2d(nbrs[0], kernel_size=2, stride=2, count_include_pad=False))
        flow = ref.new_zeros(n, 2, h // 16, w // 16)
        for level in range(4):
            size = refs[level].shape[-2:]
            up = F.interpolate(flow, size=size, mode="bilinear", align_corners=True) * 2.0
            flow = up + self.blocks[level](torch.cat([refs[level], _warp(nbrs[level], up), up], 1))
        return flow


class TOFlow(nn.Module):
    """TOFlow window model (7 frames): ``(B, 7, 3, h, w)`` RGB → ``(B, 1, 3, s·h, s·w)``.

    Args:
        scale: the factor of the bicubic pre-upsampling in :meth:`forward` (2 in DynaVSR; 1 = already HR-size).
    """

    def __init__(self, *, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale
        self.SpyNet = TOFSpyNet()
        self.conv_3x7_64_9x9 = nn.Conv2d(3 * 7, 64, 9, 1, 4)
        self.conv_64_64_9x9 = nn.Conv2d(64, 64, 9, 1, 4)
        self.conv_64_64_1x1 = nn.Conv2d(64, 64, 1)
        self.conv_64_3_1x1 = nn.Conv2d(64, 3, 1)
        self.relu = nn.ReLU(inplace=False)

    def upsample(self, x: Tensor) -> Tensor:
        """The official pre-upsampling of a ``(B, T, 3, h, w)`` clip (bicubic, ``align_corners=True``)."""
        if self.scale == 1:
            return x
        b, t, c, h, w = x.shape
        up = F.interpolate(x.reshape(b * t, c, h, w), scale_factor=self.scale, mode="bicubic", align_corners=True)
        return up.view(b, t, c, h * self.scale, w * self.scale)

    def restore(self, x: Tensor, return_flows: bool = False):
        """Official forward on HR-size frames ``(B, 7, 3, H, W)`` → ``(B, 3, H, W)``."""
        b, t, c, h, w = x.shape
        if t != 7:
            raise VsrkitError(f"TOFlow takes exactly 7 frames, got {t}")
        if h < 16 or w < 16:
            raise VsrkitError(f"TOFlow needs frames of at least 16x16 (after upsampling), got {h}x{w}")
        mean, std = _stats(x)
        x = ((x.reshape(-1, c, h, w) - mean) / std).view(b, t, c, h, w)
        x = x[:, [3, 0, 1, 2, 4, 5, 6]]
        ref = x[:, 0]
        warped, flows = [ref], []
        for i in range(1, 7):
            flow = self.SpyNet(ref, x[:, i])
            flows.append(flow)
            warped.append(_warp(x[:, i], flow))
        y = torch.stack(warped, dim=1).reshape(b, -1, h, w)
        y = self.relu(self.conv_3x7_64_9x9(y))
        y = self.relu(self.conv_64_64_9x9(y))
        y = self.relu(self.conv_64_64_1x1(y))
        y = self.conv_64_3_1x1(y) + ref
        out = y * std + mean
        if return_flows:
            return out, torch.stack(flows, dim=1)
        return out

    def forward(self, x: Tensor, *, return_aux: bool = False):
        if x.dim() != 5 or x.shape[2] != 3:
            raise ValueError(f"TOFlow expects (B, 7, 3, h, w), got {tuple(x.shape)}")
        if return_aux:
            out, flows = self.restore(self.upsample(x), return_flows=True)
            return out.unsqueeze(1), {"flows": flows}
        return self.restore(self.upsample(x)).unsqueeze(1)


OFFICIAL_KEY_PREFIXES: dict[str, str] = {
    p: p for p in ("SpyNet.", "conv_3x7_64_9x9.", "conv_64_64_9x9.", "conv_64_64_1x1.", "conv_64_3_1x1.")
}


def convert_official_state_dict(state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """DynaVSR TOFlow checkpoint → :class:`TOFlow` keys (identity table; BatchNorm buffers kept)."""
    sd = {k[7:] if k.startswith("module.") else k: v for k, v in unwrap_checkpoint(state_dict).items()}
    return rename_by_prefix(sd, OFFICIAL_KEY_PREFIXES, what="DynaVSR TOFlow", report=report)


SPECS = (
    ModelSpec(
        name="toflow",
        builder=TOFlow,
        description="TOFlow (BatchNorm SpyNet, 7 bicubic-upsampled frames) as DynaVSR's backbone",
        scale=None,  # every variant sets its own
        temporal="window",
        num_frames=7,
        variants={"x2": {"scale": 2}},
        default_variant="x2",
        min_size=8,  # 16 px after the x2 pre-upsampling
        edge_padding="new_info",
        aux_outputs=("flows",),
        paper="Xue et al., TOFlow, IJCV 2019 (DynaVSR backbone, Lee et al., WACV 2021)",
        # DynaVSR codes/models/archs/TOF_arch.py TOFlow(adapt_official=True); forward(x (B,7,3,H,W) already
        # bicubic-upsampled) -> (B,3,H,W).
        converter=OfficialConverter(
            convert=convert_official_state_dict,
            key_table=OFFICIAL_KEY_PREFIXES,
            official_defaults={"adapt_official": True},
            kwargs_from_official=lambda a: require_official(a, "adapt_official", True, {"scale": 2}),
            call=lambda model, x: model.restore(x),
        ),
    ),
)
