"""BVSR-IK training recipe (paper Eq. 8): ``L = Charb(SR, GT) + λ·Charb(Î, I_DN)``, λ = 0.2.

* ``Î`` is the ISC-corrected LR clip (``aux["corrected"]``), ``I_DN`` the **sharp** bicubic-downsampled GT: the
  reference trainer reads it from REDS ``train_sharp_bicubic/X4`` (MATLAB ``imresize`` ×1/4 of the sharp GT), so it
  is the BI LR, not the blurred LR without noise. It is taken from ``batch["lq_sharp"]`` when the dataset provides
  it, else computed here with :func:`vsrkit.ops.resize.imresize` (MATLAB bicubic) from the GT patch.
* Both terms cover all frames of the clip (the model outputs every frame).
* Charbonnier: ``train.pixel_opt.eps`` (default 1e-6 here, on the squared difference, i.e. BasicSR's form with a
  1e-3 radius; the repository's ``mean(sqrt(d² + 1e-4)) + 1e-4`` only shifts/smooths it — documented choice).
* Optimiser/schedule (config, not code): Adam(0.9, 0.99) lr 1e-4, single-period cosine; SpyNet at ×0.125 through
  ``train.param_groups``. Paper and code differ only where the code is silent (train.py is not released), so the
  paper is followed.

Config keys: ``train.correction_weight`` (λ, default 0.2), ``train.pixel_opt`` (Charbonnier spec).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vsrkit.engine.recipes import Recipe
from vsrkit.engine.schema import TrainConfig, opt
from vsrkit.ops.losses import charbonnier_loss
from vsrkit.ops.resize import imresize

__all__ = ["BVSRIKRecipe", "sharp_lr_target"]


def sharp_lr_target(gt: torch.Tensor, lr_size: tuple[int, int], scale: int = 4) -> torch.Tensor:
    """MATLAB-bicubic ×1/scale of ``gt (B, T, 3, H, W)`` cropped/checked to ``lr_size``."""
    target = imresize(gt, 1.0 / scale)
    h, w = lr_size
    return target[..., :h, :w]


@dataclass
class BVSRIKOptions:
    correction_weight: float = opt(0.2, "λ: weight of the correction (ISC) Charbonnier loss")


class BVSRIKRecipe(Recipe):
    """SR Charbonnier + λ · correction Charbonnier on the ISC output."""

    def __init__(self, cfg: "TrainConfig | dict[str, Any]") -> None:
        super().__init__(cfg)
        pix = dict(self.config.train.pixel_opt or {})
        self.eps = float(pix.get("eps", 1e-6))
        self.sr_weight = float(pix.get("loss_weight", 1.0))
        self.correction_weight = float(self.options.correction_weight)
        self.scale = self.config.scale

    def compute_losses(self, model: nn.Module, batch: dict[str, Any], iteration: int) -> dict[str, torch.Tensor]:
        out, aux = model(batch["lq"], return_aux=True)
        gt = batch["gt"]
        losses = {"l_sr": self.sr_weight * charbonnier_loss(out, gt, eps=self.eps)}
        if self.correction_weight > 0:
            corrected = aux["corrected"]
            target = batch.get("lq_sharp")
            if target is None:
                target = sharp_lr_target(gt, corrected.shape[-2:], self.scale)
            losses["l_corr"] = self.correction_weight * charbonnier_loss(corrected, target.to(corrected), eps=self.eps)
        return losses


RECIPE = BVSRIKRecipe
OPTIONS = BVSRIKOptions
OPTIONS_AT = "train"


