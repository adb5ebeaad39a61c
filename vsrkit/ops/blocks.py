"""Small convolutional building blocks shared by the BasicSR-lineage models (BasicVSR, IA-CNN, BVSR-IK, ...).

Module and parameter names follow BasicSR where checkpoints depend on them (``conv1``/``conv2`` inside a residual
block, ``main.0``/``main.2.{i}`` inside :class:`ConvResidualBlocks`; MMEditing's ``ResidualBlocksWithInputConv``
has the same layout), so official weights load with identity renames.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["ResidualBlockNoBN", "make_layer", "ConvResidualBlocks", "PixelShuffleUpsampler"]


class ResidualBlockNoBN(nn.Module):
    """``x + res_scale * conv2(relu(conv1(x)))``: two 3×3 convs with bias, no BatchNorm (EDSR-style).

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.

    Args:
        num_feat: channels ``C``.
        res_scale: scale of the residual branch (1 in BasicVSR).
        init_scale: BasicSR initialises both convs Kaiming-normal times 0.1 with zero bias, which keeps a deep
            stack close to the identity at the start of training. ``None`` keeps PyTorch's default init (what
            BVSR-IK does).
    """

    def __init__(self, *, num_feat: int = 64, res_scale: float = 1.0, init_scale: float | None = 0.1) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        if init_scale is not None:
            for conv in (self.conv1, self.conv2):
                nn.init.kaiming_normal_(conv.weight)
                with torch.no_grad():
                    conv.weight.mul_(init_scale)
                nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        if self.res_scale != 1:  # BasicVSR's 1.0 would cost a full-size multiply per block for nothing
            out = out * self.res_scale
        return out.add_(x)  # in place on the fresh conv output (its backward does not need it); same sums


def make_layer(block: Callable[..., nn.Module], num_blocks: int, **kwargs) -> nn.Sequential:
    """``nn.Sequential`` of ``num_blocks`` fresh ``block(**kwargs)`` modules (keys ``0 … num_blocks-1``)."""
    return nn.Sequential(*(block(**kwargs) for _ in range(num_blocks)))


class ConvResidualBlocks(nn.Module):
    """Conv 3×3 (``in_channels -> out_channels``) → LeakyReLU(0.1) → ``num_blocks`` × :class:`ResidualBlockNoBN`.

    The propagation trunk of BasicVSR (BasicSR ``ConvResidualBlocks``; MMEditing ``ResidualBlocksWithInputConv``).
    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H, W)``. State-dict keys: ``main.0.{weight,bias}`` and
    ``main.2.{i}.conv{1,2}.{weight,bias}``, as in both official code bases.
    """

    def __init__(self, *, in_channels: int = 3, out_channels: int = 64, num_blocks: int = 15) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=True),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            make_layer(ResidualBlockNoBN, num_blocks, num_feat=out_channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x)


class PixelShuffleUpsampler(nn.Module):
    """Sub-pixel upsampling by ``2 ** len(out_channels)``; per stage conv 3×3 → PixelShuffle(2) → LeakyReLU(0.1).

    Stage ``k`` maps ``c_in -> 4 * out_channels[k]`` channels and the shuffle trades the factor 4 for a 2× larger
    grid. BasicVSR's ×4 tail is ``PixelShuffleUpsampler(in_channels=num_feat, out_channels=(num_feat, 64))``
    (BasicSR hard-codes the second stage to 64 output channels whatever ``num_feat`` is).

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels[-1], 2**S * H, 2**S * W)``. Keys ``convs.{k}.{weight,bias}``.
    """

    def __init__(self, *, in_channels: int = 64, out_channels: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        widths = [in_channels, *out_channels]
        self.convs = nn.ModuleList(nn.Conv2d(widths[k], 4 * widths[k + 1], 3, 1, 1) for k in range(len(out_channels)))
        self.shuffle = nn.PixelShuffle(2)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = self.lrelu(self.shuffle(conv(x)))
        return x
