"""Full-reference image metrics: PSNR, SSIM and the BT.601 Y channel (docs/conventions.md §4.1–4.3).

Every function takes one frame as ``(H, W, 3)`` RGB (or ``(H, W)`` single channel) and follows the definitions the
official evaluation scripts use, so numbers are comparable with published tables:

* inputs are 8-bit values; float inputs in [0, 1] are quantised the way the official code saves images
  (clamp to [0, 1], ×255, round half-to-even with ``np.round``) — see :func:`to_uint8`;
* the border crop is applied *before* any colour conversion;
* the Y channel is MATLAB ``rgb2ycbcr`` (studio range, [16, 235]) in float32 and is **not** rounded.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vsrkit.errors import VsrkitError

__all__ = ["to_uint8", "crop_border", "rgb_to_y", "psnr", "ssim"]

# MATLAB rgb2ycbcr luma row for R, G, B in [0, 1]; result in [16, 235]. Order is R, G, B — vsrkit is RGB everywhere.
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float32)
_Y_OFFSET = np.float32(16.0)

#: PSNR reported for identical frames where a finite number is needed (an MSE of 1e-10 on the 0–255 scale).
IDENTICAL_FRAMES_DB = 10.0 * math.log10(255.0**2 / 1e-10)

# SSIM window: 11 taps, sigma 1.5 (Wang et al. / MATLAB ssim / BasicSR). Built once; separable, so 1-D is enough.
_SSIM_RADIUS = 5
_SSIM_TAPS = cv2.getGaussianKernel(2 * _SSIM_RADIUS + 1, 1.5).astype(np.float64)  # (11, 1), sums to 1
_C1 = (0.01 * 255.0) ** 2
_C2 = (0.03 * 255.0) ** 2


def to_uint8(img: np.ndarray, name: str = "image") -> np.ndarray:
    """Return ``img`` as uint8 with the same shape.

    * uint8: returned as is (no copy).
    * other integer dtypes: accepted only when every value lies in [0, 255] (e.g. int64 arithmetic results);
      16-bit data above 255 is refused rather than silently rescaled.
    * float: treated as [0, 1] and quantised like the official ``tensor2img``/``imwrite`` path: clamp to [0, 1],
      multiply by 255, round half-to-even (``np.round``), cast. The arithmetic stays in the input's float dtype
      (float32 in, float32 math — as the official torch code does).
    """
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.bool_:
        raise VsrkitError(f"{name} is a boolean array: pass uint8 in [0, 255] or float in [0, 1]")
    if np.issubdtype(img.dtype, np.integer):
        if img.size and (img.min() < 0 or img.max() > 255):
            raise VsrkitError(
                f"{name} has integer values outside [0, 255] (dtype {img.dtype}, max {img.max()}): "
                "metrics are defined on 8-bit images; convert it to uint8 first"
            )
        return img.astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        if not np.all(np.isfinite(img)):
            raise VsrkitError(f"{name} contains NaN or inf: check the model output")
        scaled = np.clip(img, 0, 1) * img.dtype.type(255)
        return np.round(scaled).astype(np.uint8)
    raise VsrkitError(f"{name} has unsupported dtype {img.dtype}: pass uint8 in [0, 255] or float in [0, 1]")


def _check_frame(img: np.ndarray, name: str) -> np.ndarray:
    img = to_uint8(img, name)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise VsrkitError(f"{name} has shape {img.shape}: expected (H, W, 3) RGB or (H, W) single channel")
    return img


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = _check_frame(pred, "prediction")
    gt = _check_frame(gt, "ground truth")
    if pred.shape != gt.shape:
        raise VsrkitError(
            f"prediction shape {pred.shape} differs from ground truth shape {gt.shape}: "
            "check the scale factor or mod-crop the ground truth"
        )
    return pred, gt


def crop_border(img: np.ndarray, border: int) -> np.ndarray:
    """Remove ``border`` pixels from every side of ``(H, W[, C])``; 0 returns the input unchanged."""
    if isinstance(border, bool) or not isinstance(border, (int, np.integer)) or border < 0:
        raise VsrkitError(f"crop_border must be a non-negative integer, got {border!r}")
    if border == 0:
        return img
    h, w = img.shape[:2]
    if 2 * border >= min(h, w):
        raise VsrkitError(f"crop_border={border} leaves nothing of a {w}x{h} image: use a smaller crop")
    return img[border:-border, border:-border]


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 studio-range luma (MATLAB ``rgb2ycbcr``) of an RGB image.

    Args:
        img: ``(H, W, 3)`` RGB, uint8 (or float in [0, 1], quantised first, see :func:`to_uint8`).

    Returns:
        ``(H, W)`` float32 in [16, 235] (white → 235, black → 16), not rounded — the official Y-PSNR/SSIM
        are computed on these unrounded values.
    """
    img = to_uint8(img, "image")
    if img.ndim != 3 or img.shape[2] != 3:
        raise VsrkitError(f"rgb_to_y needs an (H, W, 3) RGB image, got shape {img.shape}")
    # Same order of operations as the reference: uint8/255 in float32, weighted sum, +16.
    rgb = img.astype(np.float32) / np.float32(255.0)
    return rgb @ _Y_WEIGHTS + _Y_OFFSET


def _prepare(pred: np.ndarray, gt: np.ndarray, border: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validate, crop (before colour conversion, as §4.1 requires), then optionally convert to Y."""
    pred, gt = _check_pair(pred, gt)
    pred, gt = crop_border(pred, border), crop_border(gt, border)
    if y_channel:
        if pred.ndim != 3:
            raise VsrkitError("y_channel=True needs (H, W, 3) RGB images, got single-channel ones")
        return rgb_to_y(pred), rgb_to_y(gt)
    return pred, gt


def psnr(pred: np.ndarray, gt: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB with peak 255 (docs/conventions.md §4.1).

    Args:
        pred, gt: ``(H, W, 3)`` RGB (or ``(H, W)``) uint8, or float in [0, 1] (quantised first).
        crop_border: pixels removed from every side before anything else.
        y_channel: measure on the BT.601 Y channel (:func:`rgb_to_y`) instead of RGB.

    Returns:
        ``10·log10(255² / MSE)`` with the MSE taken over all pixels *and* channels jointly in float64;
        ``math.inf`` when the images are identical.
    """
    return _psnr_prepared(*_prepare(pred, gt, crop_border, y_channel))


def _psnr_prepared(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two already validated/cropped/converted arrays (any shape, 0–255 scale)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


def _filter(plane: np.ndarray) -> np.ndarray:
    """Gaussian local mean, valid region only: the full-size result is cropped by the window radius so that no
    border-extended pixel ever contributes (the border mode used by cv2 is therefore irrelevant)."""
    out = cv2.sepFilter2D(plane, cv2.CV_64F, _SSIM_TAPS, _SSIM_TAPS, borderType=cv2.BORDER_REFLECT)
    r = _SSIM_RADIUS
    return out[r:-r, r:-r]


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM of two 2-D float64 planes on the 0–255 scale (§4.3)."""
    mu_x, mu_y = _filter(x), _filter(y)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = _filter(x * x) - mu_xx
    var_y = _filter(y * y) - mu_yy
    cov = _filter(x * y) - mu_xy
    num = (2.0 * mu_xy + _C1) * (2.0 * cov + _C2)
    den = (mu_xx + mu_yy + _C1) * (var_x + var_y + _C2)
    return float(np.mean(num / den))


def ssim(pred: np.ndarray, gt: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """Structural similarity, MATLAB/BasicSR style (docs/conventions.md §4.3).

    11×11 Gaussian window (σ = 1.5), statistics from filtering in float64 keeping only the valid region,
    ``C1 = (0.01·255)²``, ``C2 = (0.03·255)²``. RGB images give the mean of the three per-channel SSIMs;
    ``y_channel=True`` measures the unrounded Y of :func:`rgb_to_y`.

    Args:
        pred, gt: ``(H, W, 3)`` RGB (or ``(H, W)``) uint8, or float in [0, 1] (quantised first). After the crop
            both sides must be at least 11 pixels.
        crop_border: pixels removed from every side before the colour conversion.
        y_channel: measure on Y instead of RGB.

    Returns:
        SSIM in [-1, 1]; 1.0 for identical images.
    """
    return _ssim_prepared(*_prepare(pred, gt, crop_border, y_channel))


def _ssim_prepared(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two already validated/cropped/converted ``(H, W)`` or ``(H, W, C)`` arrays (0–255 scale)."""
    if min(a.shape[:2]) < 2 * _SSIM_RADIUS + 1:
        raise VsrkitError(f"SSIM needs images of at least 11x11 after cropping, got {a.shape[1]}x{a.shape[0]}")
    a, b = a.astype(np.float64), b.astype(np.float64)
    if a.ndim == 2:
        return _ssim_plane(a, b)
    # cv2 wants contiguous planes; slicing a channel out of HWC is strided.
    planes = [(np.ascontiguousarray(a[..., c]), np.ascontiguousarray(b[..., c])) for c in range(a.shape[2])]
    return float(np.mean([_ssim_plane(x, y) for x, y in planes]))
