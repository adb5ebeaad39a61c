"""Pictures for people: side-by-side comparison panels with caption strips, and colour-coded optical flow.

One composition helper serves ``vsrkit upscale --compare`` (input vs output) and ``vsrkit compare`` (LR / bicubic /
model / GT crops with PSNR in the captions).
"""

from __future__ import annotations

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint16:
        return ((rgb.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if rgb.dtype != np.uint8:
        raise ValueError(f"panels must be uint8 or uint16 RGB, got {rgb.dtype}")
    return rgb


def enlarge_nearest(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(h, w, 3)`` → ``(height, width, 3)`` by pixel replication, so the pixels of a small input stay visible."""
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_NEAREST)


def side_by_side(panels: list[tuple[str, np.ndarray]], *, gap: int = 4, caption_scale: float | None = None) -> np.ndarray:
    """Compose ``(caption, (H, W, 3) uint8/uint16 RGB)`` panels left to right into one uint8 RGB picture.

    Panels are brought to the height of the tallest by nearest-neighbour enlargement (keeping their aspect ratio),
    separated by ``gap`` white pixels, with each caption centred in a white strip below its panel.
    """
    if not panels:
        raise ValueError("side_by_side needs at least one panel")
    height = max(img.shape[0] for _, img in panels)
    scale = caption_scale if caption_scale is not None else max(0.35, min(1.0, height / 400))
    thickness = 1 if scale < 0.8 else 2
    strip = int(cv2.getTextSize("Ag", _FONT, scale, thickness)[0][1] * 2.6) + 4
    columns = []
    for caption, img in panels:
        img = _to_uint8(img)
        h, w = img.shape[:2]
        width = max(1, round(w * height / h))
        img = enlarge_nearest(img, height, width) if (h, w) != (height, width) else img
        column = np.full((height + strip, width, 3), 255, np.uint8)
        column[:height] = img
        # Shrink a caption that is wider than its panel.
        s = scale
        while s > 0.25 and cv2.getTextSize(caption, _FONT, s, thickness)[0][0] > width - 4:
            s *= 0.9
        (tw, th), _ = cv2.getTextSize(caption, _FONT, s, thickness)
        org = (max(2, (width - tw) // 2), height + (strip + th) // 2)
        cv2.putText(column, caption, org, _FONT, s, (0, 0, 0), thickness, cv2.LINE_AA)
        columns.append(column)
    spacer = np.full((height + strip, gap, 3), 255, np.uint8)
    out = [columns[0]]
    for c in columns[1:]:
        out += [spacer, c]
    return np.concatenate(out, axis=1)


def flow_to_color(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """``(2, h, w)`` flow (dx, dy in pixels) → ``(h, w, 3)`` uint8 RGB: hue = direction, saturation = magnitude."""
    dx, dy = flow[0].astype(np.float32), flow[1].astype(np.float32)
    magnitude, angle = cv2.cartToPolar(dx, dy, angleInDegrees=True)
    peak = max_magnitude or float(magnitude.max()) or 1.0
    hsv = np.zeros((*dx.shape, 3), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)  # OpenCV hue is 0..179
    hsv[..., 1] = np.clip(magnitude / peak * 255, 0, 255).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
