"""Cropping and geometric augmentation of frame stacks ``(T, H, W, C)`` (numpy, any dtype).

The same random draw is applied to every array of a sample (GT, LR, extras) so they stay aligned.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vsrkit.errors import VsrkitError


def random_crop(frames: list[np.ndarray], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Crop the same ``size``×``size`` window from arrays that share ``(H, W)``.

    Args:
        frames: arrays ``(T, H, W, C)`` of identical spatial size.
    Returns:
        arrays ``(T, size, size, C)``.
    """
    h, w = frames[0].shape[1:3]
    if any(f.shape[1:3] != (h, w) for f in frames):
        raise VsrkitError("arrays to crop together differ in size: give frames of one resolution")
    if h < size or w < size:
        raise VsrkitError(f"frames of {h}x{w} are smaller than the {size}px patch: lower gt_size")
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    return [f[:, top : top + size, left : left + size] for f in frames]


def paired_random_crop(
    gt: np.ndarray, lq: list[np.ndarray], gt_size: int, scale: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Crop a ``gt_size`` GT patch and the aligned ``gt_size/scale`` patch of each LR array.

    The position is drawn on the LR grid and multiplied by ``scale``, so LR pixel ``(i, j)`` of the patch covers GT
    pixels ``scale·i … scale·i+scale-1`` — whatever the sampling phase of the LR generator, it is preserved.

    Args:
        gt: ``(T, H, W, C)``; may be larger than ``scale × LR`` (un-mod-cropped GT), the extra rows/cols are ignored.
        lq: arrays ``(T, h, w, C)`` of one LR size.
    Returns:
        ``(T, gt_size, gt_size, C)`` and the list of ``(T, gt_size/scale, gt_size/scale, C)`` patches.
    """
    if gt_size % scale:
        raise VsrkitError(f"gt_size {gt_size} is not a multiple of the scale {scale}: pick gt_size divisible by it")
    lq_size = gt_size // scale
    h, w = lq[0].shape[1:3]
    if any(x.shape[1:3] != (h, w) for x in lq):
        raise VsrkitError("LR arrays to crop together differ in size: give LR frames of one resolution")
    H, W = gt.shape[1:3]
    if H < h * scale or W < w * scale:
        raise VsrkitError(
            f"GT {H}x{W} is smaller than {scale}x the LR {h}x{w}: check the scale and the GT/LR folders"
        )
    if h < lq_size or w < lq_size:
        raise VsrkitError(f"LR frames of {h}x{w} are smaller than the {lq_size}px LR patch: lower gt_size")
    top = int(rng.integers(0, h - lq_size + 1))
    left = int(rng.integers(0, w - lq_size + 1))
    gt_patch = gt[:, top * scale : (top + lq_size) * scale, left * scale : (left + lq_size) * scale]
    return gt_patch, [x[:, top : top + lq_size, left : left + lq_size] for x in lq]


class Flips(NamedTuple):
    """One geometric augmentation draw: horizontal flip, vertical flip, transpose (with flips: all rot90s)."""

    hflip: bool = False
    vflip: bool = False
    transpose: bool = False


def draw_flips(rng: np.random.Generator, use_hflip: bool, use_rot: bool) -> Flips:
    """Draw flips like BasicSR ``augment``: hflip if ``use_hflip``; vflip and transpose if ``use_rot``, each p=0.5.

    hflip × vflip × transpose together give all 8 symmetries of the square (the 4 rotations and their mirrors).
    """
    h = bool(use_hflip and rng.random() < 0.5)
    v = bool(use_rot and rng.random() < 0.5)
    t = bool(use_rot and rng.random() < 0.5)
    return Flips(h, v, t)


def apply_flips(frames: np.ndarray, flips: Flips) -> np.ndarray:
    """Apply ``flips`` to ``(T, H, W, C)`` (transpose swaps H and W). Returns a view when possible."""
    if flips.hflip:
        frames = frames[:, :, ::-1]
    if flips.vflip:
        frames = frames[:, ::-1]
    if flips.transpose:
        frames = frames.transpose(0, 2, 1, 3)
    return frames
