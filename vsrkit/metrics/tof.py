"""tOF: temporal optical-flow error between an output clip and its ground truth (docs/conventions.md §4.4).

Definition used by FMA-Net and BVSR-IK: for every consecutive pair of evaluated frames, Farnebäck flow is computed
on the ground-truth pair and on the output pair, both flows are centre-cropped, and the per-pixel Euclidean
end-point error is averaged. The result is one number **per frame pair** (a clip of N frames gives N − 1 values);
tables report the mean over all pairs of all clips. Lower is better; 0 for identical clips.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vsrkit.errors import VsrkitError
from vsrkit.metrics.image import to_uint8

__all__ = ["tof", "tof_crop_size", "tof_pair", "to_grey"]

# Farnebäck parameters of the reference implementation.
_FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def tof_crop_size(n: int) -> int:
    """Length kept by the tOF centre crop along an axis of length ``n``.

    Start at ``32·⌊n/32⌋`` and step down by 32 while it exceeds ``n − 16``: the largest multiple of 32 that drops
    at least 16 pixels in total (the flow is least reliable at the borders). Examples: 720→704, 576→544,
    480→448, 1280→1248, 704→672.
    """
    if n < 48:
        # Below 48 the rule yields 0 or less and the reference code would average an empty array (NaN).
        raise VsrkitError(f"tOF needs frames of at least 48x48 pixels, got a side of {n}: disable tOF for this data")
    size = 32 * (n // 32)
    while size > n - 16:
        size -= 32
    return size


def to_grey(frame: np.ndarray) -> np.ndarray:
    """uint8 grey of an RGB frame, identical to ``cv2.COLOR_BGR2GRAY`` on the same frame stored as BGR.

    Args:
        frame: ``(H, W, 3)`` RGB uint8 (float in [0, 1] is quantised first) or ``(H, W)`` already grey.

    Returns:
        ``(H, W)`` uint8, ``round(0.299 R + 0.587 G + 0.114 B)`` in OpenCV's fixed-point arithmetic.
    """
    frame = to_uint8(frame, "frame")
    if frame.ndim == 2:
        return frame
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise VsrkitError(f"tOF frames must be (H, W, 3) RGB or (H, W) grey, got shape {frame.shape}")
    # Input is RGB, so RGB2GRAY applies 0.299 to channel 0 — the same as BGR2GRAY on the reference's BGR arrays.
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def _flow(prev_grey: np.ndarray, cur_grey: np.ndarray) -> np.ndarray:
    """Farnebäck flow ``(H, W, 2)`` float32 from ``prev`` to ``cur``."""
    return cv2.calcOpticalFlowFarneback(prev_grey, cur_grey, None, **_FARNEBACK)


def _crop(flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    ch, cw = tof_crop_size(h), tof_crop_size(w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return flow[top : top + ch, left : left + cw]


def _epe(flow_gt: np.ndarray, flow_out: np.ndarray) -> float:
    diff = _crop(flow_gt).astype(np.float64) - _crop(flow_out).astype(np.float64)
    return float(np.mean(np.sqrt(np.sum(diff * diff, axis=-1))))


def tof_pair(
    pred_prev: np.ndarray, pred_cur: np.ndarray, gt_prev: np.ndarray, gt_cur: np.ndarray
) -> float:
    """tOF of one frame pair: mean end-point error between the GT flow (prev→cur) and the output flow.

    All frames ``(H, W, 3)`` RGB uint8 (or ``(H, W)`` grey) of the same size; no border crop is applied, only the
    centre crop of :func:`tof_crop_size`.
    """
    return _epe(_flow(to_grey(gt_prev), to_grey(gt_cur)), _flow(to_grey(pred_prev), to_grey(pred_cur)))


def tof(pred_frames: Sequence[np.ndarray], gt_frames: Sequence[np.ndarray]) -> list[float]:
    """Per-pair tOF of a clip.

    Args:
        pred_frames: N output frames ``(H, W, 3)`` RGB uint8 (or float in [0, 1], quantised first), in order.
        gt_frames: the N matching ground-truth frames, same size.

    Returns:
        A list of N − 1 floats; element ``t`` is the error of the pair (frame t, frame t+1). Empty for N < 2.
        Average these over all pairs of all clips to get the number papers report.
    """
    if len(pred_frames) != len(gt_frames):
        raise VsrkitError(
            f"tOF got {len(pred_frames)} output frames but {len(gt_frames)} ground-truth frames: pass matching clips"
        )
    out: list[float] = []
    prev_p = prev_g = None
    for i, (p, g) in enumerate(zip(pred_frames, gt_frames)):
        gp, gg = to_grey(p), to_grey(g)
        if gp.shape != gg.shape:
            raise VsrkitError(f"tOF frame {i}: output {gp.shape} and ground truth {gg.shape} differ in size")
        # Each frame is converted once and reused as the "prev" of the next pair.
        if prev_p is not None:
            out.append(_epe(_flow(prev_g, gg), _flow(prev_p, gp)))
        prev_p, prev_g = gp, gg
    return out
