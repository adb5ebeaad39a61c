"""DUF: deep video super-resolution with dynamic upsampling filters, no explicit motion compensation (Jo, Oh, Kang,
Kim, CVPR 2018), as DynaVSR uses it (``esw0116/DynaVSR`` ``codes/models/archs/DUF_arch.py``, mmsr's translation of
the TensorFlow release, built with ``adapt_official=True``).

* 7 LR frames as a ``(B, 3, T, h, w)`` volume; ``conv3d_1`` (1×3×3) → a dense block keeping ``T`` → a dense block
  with 3×3×3 convolutions without temporal padding (``T`` 7 → 1; the skip is cropped ``[1:-1]`` in time) →
  BN → ReLU → ``conv3d_2`` (1×3×3) → ReLU. Dense units are pre-activation: BN → ReLU → 1×1×1 conv → BN → ReLU →
  3×3×3 conv, concatenated to their input. BatchNorm3d eps 1e-3, momentum 1e-3.
* Two heads: the residual ``conv3d_r1 → ReLU → conv3d_r2`` (``3·s²`` channels) and the filter head
  ``conv3d_f1 → ReLU → conv3d_f2`` (``25·s²`` channels; channel ``tap·s² + r``), softmax over the 25 taps.
* Dynamic upsampling (Eq. 1 of the paper): each of the ``s²`` sub-pixel positions gets its own per-pixel 5×5 filter
  (zero padding 2), shared by R, G and B, applied to the centre LR frame → ``(B, 3·s², h, w)`` colour-major; the
  residual (reordered from the TensorFlow RGB-interleaved channel order to colour-major by ``adapt_official``)
  is added and ``pixel_shuffle(s)`` gives the output.

Depths: 16L (DynaVSR's backbone; 3+3 dense units of growth 32; ×2 1,737,488 parameters), 28L (9+3 units of
growth 16) and 52L (21+3 units of growth 16, ``conv3d_2`` 448→256). Key names are the official ones
(``dense_block_1.bn3d_1`` … for 16L, ``dense_block_1.dense_blocks.{6i+k}`` for the deep first blocks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.checkpoint import rename_by_prefix, unwrap_checkpoint
from vsrkit.errors import VsrkitError
from vsrkit.models.spec import ModelSpec, OfficialConverter

__all__ = ["DUF", "VARIANTS", "OFFICIAL_KEY_PREFIXES", "convert_official_state_dict", "dynamic_upsample"]

VARIANTS: dict[str, dict] = {
    "16l_x2": {"depth": 16, "scale": 2},
    "16l_x4": {"depth": 16, "scale": 4},
    "28l_x4": {"depth": 28, "scale": 4},
    "52l_x4": {"depth": 52, "scale": 4},
}


def _bn(c: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(c, eps=1e-3, momentum=1e-3)


class DenseBlock3(nn.Module):
    """Three dense units with official names ``bn3d_{1..6}``/``conv3d_{1..6}``; ``C → C + 3·growth``.

    ``reduce_time=True``: the 3×3×3 convs have no temporal padding and each skip is cropped ``[1:-1]`` in time
    (``T → T − 6``).
    """

    def __init__(self, channels: int, growth: int, *, reduce_time: bool) -> None:
        super().__init__()
        self.reduce_time = reduce_time
        pad = (0, 1, 1) if reduce_time else (1, 1, 1)
        for u in range(3):
            c = channels + u * growth
            setattr(self, f"bn3d_{2 * u + 1}", _bn(c))
            setattr(self, f"conv3d_{2 * u + 1}", nn.Conv3d(c, c, 1))
            setattr(self, f"bn3d_{2 * u + 2}", _bn(c))
            setattr(self, f"conv3d_{2 * u + 2}", nn.Conv3d(c, growth, 3, padding=pad))

    def forward(self, x: Tensor) -> Tensor:
        for u in range(3):
            y = getattr(self, f"conv3d_{2 * u + 1}")(F.relu(getattr(self, f"bn3d_{2 * u + 1}")(x)))
            y = getattr(self, f"conv3d_{2 * u + 2}")(F.relu(getattr(self, f"bn3d_{2 * u + 2}")(y)))
            skip = x[:, :, 1:-1] if self.reduce_time else x
            x = torch.cat((skip, y), 1)
        return x


class DenseStack(nn.Module):
    """``units`` dense units kept in one ``dense_blocks`` list of 6 modules each (BN, ReLU, 1×1×1 conv, BN, ReLU,
    3×3×3 conv), as the official 28L/52L first blocks; ``T`` is kept; ``C → C + units·growth``."""

    def __init__(self, channels: int, growth: int, units: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for u in range(units):
            c = channels + u * growth
            layers += [_bn(c), nn.ReLU(), nn.Conv3d(c, c, 1), _bn(c), nn.ReLU(), nn.Conv3d(c, growth, 3, padding=1)]
        self.dense_blocks = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> Tensor:
        for i in range(0, len(self.dense_blocks), 6):
            y = x
            for layer in self.dense_blocks[i : i + 6]:
                y = layer(y)
            x = torch.cat((x, y), 1)
        return x


def dynamic_upsample(image: Tensor, filters: Tensor) -> Tensor:
    """Apply per-pixel 5×5 filters: ``image`` ``(B, 3, h, w)``, ``filters`` ``(B, 25, R, h, w)`` (softmaxed over the
    taps, tap ``ky·5 + kx``) → ``(B, 3·R, h, w)`` with channel ``c·R + r``."""
    b, c, h, w = image.shape
    taps = F.unfold(image, kernel_size=5, padding=2).view(b, c, 25, h, w)  # channel-major (c, tap)
    return torch.einsum("bcthw,btrhw->bcrhw", taps, filters).reshape(b, c * filters.shape[2], h, w)


class DUF(nn.Module):
    """DUF window model (7 frames): ``(B, 7, 3, h, w)`` RGB → ``(B, 1, 3, s·h, s·w)``.

    Args:
        depth: 16, 28 or 52 layers.
        scale: 2, 3 or 4.
        adapt_official: reorder the residual channels as the translated TensorFlow weights need (True for every
            released DUF file, DynaVSR's included).
    """

    def __init__(self, *, depth: int = 16, scale: int = 2, adapt_official: bool = True) -> None:
        super().__init__()
        if depth == 16:
            self.dense_block_1 = DenseBlock3(64, 32, reduce_time=False)
            self.dense_block_2 = DenseBlock3(160, 32, reduce_time=True)
            width = 256
        elif depth in (28, 52):
            units = 9 if depth == 28 else 21
            self.dense_block_1 = DenseStack(64, 16, units)
            self.dense_block_2 = DenseBlock3(64 + 16 * units, 16, reduce_time=True)
            width = 64 + 16 * units + 48
        else:
            raise VsrkitError(f"DUF depth must be 16, 28 or 52, got {depth}")
        self.depth, self.scale, self.adapt_official = depth, scale, adapt_official
        self.conv3d_1 = nn.Conv3d(3, 64, (1, 3, 3), padding=(0, 1, 1))
        self.bn3d_2 = _bn(width)
        self.conv3d_2 = nn.Conv3d(width, 256, (1, 3, 3), padding=(0, 1, 1))
        self.conv3d_r1 = nn.Conv3d(256, 256, 1)
        self.conv3d_r2 = nn.Conv3d(256, 3 * scale**2, 1)
        self.conv3d_f1 = nn.Conv3d(256, 512, 1)
        self.conv3d_f2 = nn.Conv3d(512, 25 * scale**2, 1)

    def restore(self, x: Tensor) -> Tensor:
        """Official forward: ``(B, 7, 3, h, w)`` → ``(B, 3, s·h, s·w)``."""
        b, t, c, h, w = x.shape
        if t != 7:
            raise VsrkitError(f"DUF takes exactly 7 frames (the temporal dense block removes 6), got {t}")
        s2 = self.scale**2
        v = x.permute(0, 2, 1, 3, 4)
        centre = v[:, :, t // 2]
        y = self.dense_block_2(self.dense_block_1(self.conv3d_1(v)))
        y = F.relu(self.conv3d_2(F.relu(self.bn3d_2(y))))
        res = self.conv3d_r2(F.relu(self.conv3d_r1(y)))[:, :, 0]  # (B, 3·s², h, w)
        filt = self.conv3d_f2(F.relu(self.conv3d_f1(y)))
        filt = torch.softmax(filt.view(b, 25, s2, h, w), dim=1)
        if self.adapt_official:  # RGB-interleaved → colour-major
            res = torch.cat([res[:, k::3] for k in range(3)], dim=1)
        return F.pixel_shuffle(dynamic_upsample(centre, filt) + res, self.scale)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[2] != 3:
            raise ValueError(f"DUF expects (B, 7, 3, h, w), got {tuple(x.shape)}")
        return self.restore(x).unsqueeze(1)


OFFICIAL_KEY_PREFIXES: dict[str, str] = {
    p: p for p in ("conv3d_1.", "dense_block_1.", "dense_block_2.", "bn3d_2.", "conv3d_2.", "conv3d_r1.",
                   "conv3d_r2.", "conv3d_f1.", "conv3d_f2.")
}


def convert_official_state_dict(state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """DynaVSR/mmsr DUF checkpoint → :class:`DUF` keys (identity table; BatchNorm buffers kept)."""
    sd = {k[7:] if k.startswith("module.") else k: v for k, v in unwrap_checkpoint(state_dict).items()}
    return rename_by_prefix(sd, OFFICIAL_KEY_PREFIXES, what="DynaVSR DUF", report=report)


SPECS = (
    ModelSpec(
        name="duf",
        builder=DUF,
        description="DUF (dynamic upsampling filters, 16/28/52 layers) as DynaVSR's backbone",
        scale=None,  # every variant sets its own
        temporal="window",
        num_frames=7,
        variants=VARIANTS,
        default_variant="16l_x2",
        edge_padding="new_info",
        paper="Jo et al., DUF, CVPR 2018 (DynaVSR backbone, Lee et al., WACV 2021)",
        # DynaVSR codes/models/archs/DUF_arch.py DUF_16L(scale=2, adapt_official=True); forward(x (B,7,3,h,w)) ->
        # (B,3,sh,sw). (DUF_28L/DUF_52L: vsrkit DUF(depth=28/52), same converter.)
        converter=OfficialConverter(
            convert=convert_official_state_dict,
            key_table=OFFICIAL_KEY_PREFIXES,
            official_defaults={"scale": 2, "adapt_official": True},
            kwargs_from_official=lambda a: {"depth": 16, "scale": int(a["scale"]),
                                            "adapt_official": bool(a["adapt_official"])},
            call=lambda model, x: model.restore(x),
        ),
    ),
)
