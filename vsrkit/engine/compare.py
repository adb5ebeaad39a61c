"""``vsrkit compare``: one frame of LR / bicubic / model / GT as side-by-side crops, PSNR in the captions.

The bicubic panel is MATLAB bicubic (:func:`vsrkit.ops.resize.imresize`) of the LR frame, the baseline every table
in this repository compares against; PSNR is RGB over the whole frame (8-bit, no border crop), as ``vsrkit eval``
reports it by default.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vsrkit.errors import VsrkitError
from vsrkit.io import open_reader
from vsrkit.io.frames import write_image
from vsrkit.io.pictures import side_by_side
from vsrkit.metrics.image import psnr, to_uint8
from vsrkit.ops.resize import imresize


def read_frame(path: str | Path, index: int) -> np.ndarray:
    """Frame ``index`` (0-based) of a video file or frame folder as ``(H, W, 3)`` uint8 RGB."""
    with open_reader(path, dtype="uint8", threaded=False) as reader:
        for frame in reader:
            if frame.index == index:
                return frame.rgb
    raise VsrkitError(f"'{path}' has no frame {index}: choose a smaller --frame")


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """``(h, w, 3)`` uint8 → ``(scale·h, scale·w, 3)`` uint8 by MATLAB bicubic, rounded."""
    x = torch.from_numpy(lr.astype(np.float64)).permute(2, 0, 1)
    y = imresize(x, scale=scale).clamp(0, 255).round().permute(1, 2, 0).numpy()
    return y.astype(np.uint8)


def compare_picture(lr_path: str | Path, pred_path: str | Path, gt_path: str | Path, out: str | Path, *,
                    frame: int = 0, crop: tuple[int, int, int] | None = None, label: str = "model",
                    overwrite: bool = False) -> dict:
    """Write the comparison picture of ``frame`` to ``out`` (.png/.jpg/.webp/.tif); return its numbers.

    ``crop`` is ``(x, y, size)`` in HR pixels (default: the centred square of side ``min(H, W, 192)``); the LR crop
    is the same region, shown enlarged by pixel replication. The GT is cut to the prediction's size (mod-crop).
    """
    lr, pred, gt = (to_uint8(read_frame(p, frame), name) for p, name in
                    ((lr_path, "lr"), (pred_path, "pred"), (gt_path, "gt")))
    scale = pred.shape[1] // lr.shape[1]
    if scale < 1 or pred.shape[1] != scale * lr.shape[1] or pred.shape[0] != scale * lr.shape[0]:
        raise VsrkitError(f"prediction {pred.shape[1]}x{pred.shape[0]} is not an integer multiple of LR "
                          f"{lr.shape[1]}x{lr.shape[0]}: pass the LR the prediction was made from")
    if gt.shape[0] < pred.shape[0] or gt.shape[1] < pred.shape[1]:
        raise VsrkitError(f"GT {gt.shape[1]}x{gt.shape[0]} is smaller than the prediction "
                          f"{pred.shape[1]}x{pred.shape[0]}: pass the matching ground truth")
    gt = gt[: pred.shape[0], : pred.shape[1]]
    bic = bicubic_upscale(lr, scale)
    h, w = pred.shape[:2]
    if crop is None:
        size = min(h, w, 192)
        x, y = (w - size) // 2, (h - size) // 2
    else:
        x, y, size = crop
    x, y = x // scale * scale, y // scale * scale  # on the LR grid, so the LR panel shows the same region
    size = max(scale, size // scale * scale)
    if x < 0 or y < 0 or x + size > w or y + size > h:
        raise VsrkitError(f"--crop {x},{y},{size} does not fit the {w}x{h} frame: choose a region inside it")
    scores = {"bicubic": psnr(bic, gt), label: psnr(pred, gt)}
    region = (slice(y, y + size), slice(x, x + size))
    lr_region = (slice(y // scale, (y + size) // scale), slice(x // scale, (x + size) // scale))
    panels = [(f"LR (x{scale} nearest)", lr[lr_region]), (f"bicubic {scores['bicubic']:.2f} dB", bic[region]),
              (f"{label} {scores[label]:.2f} dB", pred[region]), ("GT", gt[region])]
    write_image(out, side_by_side(panels), overwrite=overwrite)
    return {"frame": frame, "scale": scale, "crop": [x, y, size], "psnr_rgb": scores, "picture": str(out)}
