"""Backward warping of a feature map by a dense optical flow (BasicSR ``arch_util.flow_warp`` semantics).

Flow layout used throughout vsrkit's warping API: ``(N, H, W, 2)``, last dimension ``(dx, dy)`` in pixels
(``dx`` along columns, ``dy`` along rows), exactly as BasicSR's ``flow_warp`` takes it. Models that keep flows as
``(N, 2, H, W)`` (SpyNet's output layout) use :func:`flow_warp_nchw`, which only permutes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["flow_to_grid", "flow_warp", "flow_warp_nchw"]


def flow_to_grid(flow: Tensor) -> Tensor:
    """Turn a pixel flow ``(N, H, W, 2)`` into a ``grid_sample`` grid ``(N, H, W, 2)`` for ``align_corners=True``.

    Sample position of output pixel ``(row y, column x)`` is ``(x + dx, y + dy)``; it is normalised with
    ``2 * v / max(W - 1, 1) - 1`` (and ``H`` for rows). The ``max(., 1)`` keeps one-pixel-wide maps finite, as in
    BasicSR. The operation order mirrors BasicSR so that float64 results agree to the last bits.
    """
    _, h, w, _ = flow.shape
    rows = torch.arange(h, device=flow.device, dtype=flow.dtype)
    cols = torch.arange(w, device=flow.device, dtype=flow.dtype)
    grid_y, grid_x = torch.meshgrid(rows, cols, indexing="ij")
    # Integer pixel coordinates are exact in every float dtype, so building them in the flow's dtype is
    # equivalent to BasicSR's float32 grid promoted by the addition.
    pos_x = grid_x + flow[..., 0]
    pos_y = grid_y + flow[..., 1]
    norm_x = 2.0 * pos_x / max(w - 1, 1) - 1.0
    norm_y = 2.0 * pos_y / max(h - 1, 1) - 1.0
    return torch.stack((norm_x, norm_y), dim=3)


def flow_warp(
    x: Tensor,
    flow: Tensor,
    interpolation: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = True,
) -> Tensor:
    """Backward-warp ``x`` with ``flow``: ``out[y, x] = x_in[y + dy, x + dx]`` (bilinear).

    Args:
        x: ``(N, C, H, W)`` features or images.
        flow: ``(N, H, W, 2)`` displacement in pixels, ``(dx, dy)``; it lives on the *output* grid and points into
            ``x``.
        interpolation: ``grid_sample`` mode (``"bilinear"`` or ``"nearest"``).
        padding_mode: ``"zeros"`` (BasicSR default, used by BasicVSR propagation) or ``"border"`` (SpyNet's
            internal warp).
        align_corners: ``True`` puts pixel centres exactly on the normalised grid, so a zero flow is an exact
            identity. (TOFlow-style code that relied on PyTorch < 1.3 defaults needs ``False``.)

    Returns:
        ``(N, C, H, W)`` warped tensor.
    """
    if x.dim() != 4 or flow.dim() != 4 or flow.shape[-1] != 2:
        raise ValueError(f"flow_warp expects x (N,C,H,W) and flow (N,H,W,2); got {tuple(x.shape)}, {tuple(flow.shape)}")
    if x.shape[-2:] != flow.shape[1:3]:
        raise ValueError(f"flow_warp: spatial size of x {tuple(x.shape[-2:])} != flow {tuple(flow.shape[1:3])}")
    grid = flow_to_grid(flow)
    return F.grid_sample(x, grid, mode=interpolation, padding_mode=padding_mode, align_corners=align_corners)


def flow_warp_nchw(x: Tensor, flow: Tensor, **kwargs) -> Tensor:
    """:func:`flow_warp` for a flow in ``(N, 2, H, W)`` layout (as SpyNet returns it)."""
    return flow_warp(x, flow.permute(0, 2, 3, 1), **kwargs)
