"""Bicubic upscaling with MATLAB ``imresize`` semantics: the baseline row of every VSR table.

Not a learned model: it exists so the engine, CLI and evaluation work end to end and so that every learned method
can be compared with the same interpolation the papers use (Keys cubic, a = -0.5, block-centred grid).
"""

from __future__ import annotations

import torch
from torch import nn

from vsrkit.ops.resize import imresize


class Bicubic(nn.Module):
    """``(B, T, C, H, W)`` → ``(B, T, C, scale·H, scale·W)``, frame by frame, no parameters."""

    def __init__(self, *, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        y = imresize(x.reshape(b * t, c, h, w), size=(h * self.scale, w * self.scale))
        return y.reshape(b, t, c, h * self.scale, w * self.scale)
