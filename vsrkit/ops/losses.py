"""Pixel losses used by the VSR training recipes (BasicSR ``losses/basic_loss.py`` semantics).

Charbonnier: BasicSR computes ``sqrt((pred - target)**2 + eps)`` with ``eps = 1e-12`` by default (so the
"epsilon" is added to the *squared* difference: the effective smoothing radius is ``sqrt(eps) = 1e-6``), then the
reduction. BasicVSR, BasicVSR++ and IART train with exactly this form, weight 1, mean reduction.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["charbonnier_loss", "l1_loss", "CharbonnierLoss", "L1Loss"]

Reduction = Literal["mean", "sum", "none"]


def _reduce(loss: Tensor, reduction: Reduction) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def charbonnier_loss(pred: Tensor, target: Tensor, eps: float = 1e-12, reduction: Reduction = "mean") -> Tensor:
    """``reduce(sqrt((pred - target)**2 + eps))`` (BasicSR default ``eps = 1e-12``). Any matching shapes."""
    return _reduce(torch.sqrt((pred - target) ** 2 + eps), reduction)


def l1_loss(pred: Tensor, target: Tensor, reduction: Reduction = "mean") -> Tensor:
    """``reduce(|pred - target|)``. Any matching shapes."""
    return F.l1_loss(pred, target, reduction=reduction)


class CharbonnierLoss(nn.Module):
    """``loss_weight * charbonnier_loss(pred, target, eps, reduction)``."""

    def __init__(self, *, loss_weight: float = 1.0, eps: float = 1e-12, reduction: Reduction = "mean") -> None:
        super().__init__()
        _reduce(torch.zeros(()), reduction)  # validate early, not at the first training step
        self.loss_weight, self.eps, self.reduction = loss_weight, eps, reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.loss_weight * charbonnier_loss(pred, target, eps=self.eps, reduction=self.reduction)


class L1Loss(nn.Module):
    """``loss_weight * l1_loss(pred, target, reduction)``."""

    def __init__(self, *, loss_weight: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        _reduce(torch.zeros(()), reduction)
        self.loss_weight, self.reduction = loss_weight, reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.loss_weight * l1_loss(pred, target, reduction=self.reduction)
