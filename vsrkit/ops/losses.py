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

__all__ = ["centre_target", "charbonnier_loss", "l1_loss", "endpoint_error", "multiscale_epe", "CharbonnierLoss", "L1Loss"]

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


def endpoint_error(pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean end-point error ``‖pred − target‖₂`` of flows ``(N, 2, H, W)`` in pixels, over ``mask`` ``(N, 1, H, W)``
    (> 0.5 counts) when given. The standard optical-flow error (Baker et al., IJCV 2011)."""
    err = torch.sqrt(((pred - target) ** 2).sum(1, keepdim=True) + 1e-12)
    if mask is None:
        return err.mean()
    m = (mask > 0.5).to(err.dtype)
    return (err * m).sum() / m.sum().clamp_min(1.0)


def multiscale_epe(levels: list[Tensor], target: Tensor, weights: list[float] | None = None) -> Tensor:
    """``Σ_k w_k · EPE(levels[k], target_k)`` for a coarse-to-fine flow pyramid (SpyNet trains every level against
    the ground truth at its own resolution, Ranjan & Black, CVPR 2017 §3). ``levels`` are ``(N, 2, H/2^j, W/2^j)``
    flows in their own level's pixels, coarsest first; ``target_k`` is ``target (N, 2, H, W)`` averaged over
    ``2^j × 2^j`` blocks and divided by ``2^j``. Default weights: 1 per level."""
    weights = list(weights) if weights is not None else [1.0] * len(levels)
    if len(weights) != len(levels):
        raise ValueError(f"{len(levels)} flow levels but {len(weights)} level weights")
    total = target.new_zeros(())
    h = target.shape[-2]
    for flow, w in zip(levels, weights):
        factor = h // flow.shape[-2]
        t = F.avg_pool2d(target, factor) / factor if factor > 1 else target
        total = total + w * endpoint_error(flow, t)
    return total


def centre_target(out: Tensor, gt: Tensor) -> Tensor:
    """The GT frames ``(B, T, C, H, W)`` an output ``(B, T', C, H, W)`` corresponds to: all of them (``T' = T``), or
    the centre ``T'`` of them (window models)."""
    if out.shape[1] == gt.shape[1]:
        return gt
    start = (gt.shape[1] - out.shape[1]) // 2
    return gt[:, start : start + out.shape[1]]
