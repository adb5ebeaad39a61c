"""Bicubic upscaling with MATLAB ``imresize`` semantics: the baseline row of every VSR table.

Not a learned model: it exists so the engine, CLI and evaluation work end to end and so that every learned method
can be compared with the same interpolation the papers use (Keys cubic, a = -0.5, block-centred grid).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vsrkit.models.spec import ModelSpec
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


class Lanczos(nn.Module):
    """OpenCV ``INTER_LANCZOS4`` upscaling (Lanczos, 8×8 window), the other interpolation users compare with.

    ``(B, T, C, H, W)`` → ``(B, T, C, scale·H, scale·W)`` on float32 values (no rounding before the resize), frame by
    frame, no parameters. Not registered as a model: a baseline for evaluation tables.
    """

    def __init__(self, *, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import cv2

        b, t, c, h, w = x.shape
        frames = x.detach().float().cpu().reshape(b * t, c, h, w).permute(0, 2, 3, 1).numpy()
        size = (w * self.scale, h * self.scale)
        out = [cv2.resize(f, size, interpolation=cv2.INTER_LANCZOS4).reshape(size[1], size[0], c) for f in frames]
        y = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
        return y.reshape(b, t, c, h * self.scale, w * self.scale).to(x.dtype)


SPECS = (
    ModelSpec(
        name="bicubic",
        builder=Bicubic,
        description="MATLAB-compatible bicubic upscaling (the baseline every table compares with)",
        scale=None,  # every variant sets its own
        temporal="frame",
        variants={"default": {"scale": 4}, "x2": {"scale": 2}, "x3": {"scale": 3}, "x4": {"scale": 4}},
        status="baseline",
    ),
)
