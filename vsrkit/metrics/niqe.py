"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, "Making a 'completely blind' image
quality analyzer", IEEE Signal Processing Letters 20(3), 2013): a no-reference score, lower is more natural.

Written from the paper's definition:

* **MSCN coefficients** (Sec. II-A, Eq. 1-3): ``(I - mu) / (sigma + 1)`` with ``mu``/``sigma`` the local mean and
  standard deviation under a 7×7 circularly symmetric Gaussian window (sigma 7/6, sampled to 3 standard
  deviations), on the luminance in [0, 255].
* **Features** (Sec. II-C/D, Eq. 4-9), per 96×96 patch: the generalized Gaussian (GGD) shape and variance of the
  MSCN coefficients, and for each of the four neighbour products (horizontal, vertical, both diagonals) the
  asymmetric GGD (AGGD) shape, mean, left and right variances: 18 numbers; the same again on the image downsampled
  by 2 (MATLAB bicubic, patches 48×48, the same regions): 36. Shapes come from moment matching (the GGD
  ratio ``Gamma(1/a)Gamma(3/a)/Gamma(2/a)^2``, the AGGD generalized ratio of Lasmar et al.), solved on a fine grid.
* **Pristine model** (Sec. II-B/E): a multivariate Gaussian (mean, covariance) of the features of sharp patches
  (patch sharpness, the sum of ``sigma`` over the patch, above 0.75 × the image's largest) of pristine photographs.
* **Score** (Eq. 10): ``sqrt((m1 - m2)^T ((S1 + S2) / 2)^+ (m1 - m2))`` between the pristine model and the Gaussian
  fitted to the features of every patch of the test image.

The pristine model shipped here (``niqe_pristine.npz``) is fitted by ``benchmarks/fit_niqe_pristine.py`` on the
scikit-image photographs named in the file, not on the 125 photographs of the authors' release (whose fitted
parameters are distributed only as a binary MATLAB file that vsrkit does not redistribute). Scores therefore follow
the same definition but are **not numerically equal to the MATLAB release's**; compare NIQE values only with NIQE
values computed by the same implementation and model.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import correlate
from scipy.special import gamma

from vsrkit.errors import VsrkitError

PATCH = 96
SHARPNESS_THRESHOLD = 0.75
_MODEL_FILE = Path(__file__).with_name("niqe_pristine.npz")

_SHAPES = np.arange(0.2, 10.0, 0.001)
_GGD_RATIO = gamma(1 / _SHAPES) * gamma(3 / _SHAPES) / gamma(2 / _SHAPES) ** 2  # decreasing in the shape
_AGGD_RATIO = gamma(2 / _SHAPES) ** 2 / (gamma(1 / _SHAPES) * gamma(3 / _SHAPES))


def _gaussian_window() -> np.ndarray:
    r = np.arange(-3, 4, dtype=np.float64)
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * (7 / 6) ** 2))
    return g / g.sum()


_WINDOW = _gaussian_window()


def luminance(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB (or ``(H, W)``) → float64 luminance in [0, 255] (ITU-R BT.601 weights, as MATLAB's
    ``rgb2gray`` that the authors' release uses)."""
    img = np.asarray(rgb, dtype=np.float64)
    if img.ndim == 3:
        img = img[..., 0] * 0.2989 + img[..., 1] * 0.5870 + img[..., 2] * 0.1140
    return img


def mscn(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSCN coefficients and the local standard deviation field of a float luminance image (Eq. 1-3)."""
    mu = correlate(image, _WINDOW, mode="nearest")
    var = correlate(image * image, _WINDOW, mode="nearest") - mu * mu
    sigma = np.sqrt(np.maximum(var, 0))
    return (image - mu) / (sigma + 1), sigma


def fit_ggd(x: np.ndarray) -> tuple[float, float]:
    """Zero-mean generalized Gaussian by moment matching: (shape, variance)."""
    x = x.ravel()
    var = float(np.mean(x * x))
    mean_abs = float(np.mean(np.abs(x)))
    if mean_abs == 0:
        return float(_SHAPES[-1]), 0.0
    rho = var / mean_abs ** 2
    return float(_SHAPES[np.argmin(np.abs(_GGD_RATIO - rho))]), var


def fit_aggd(x: np.ndarray) -> tuple[float, float, float, float]:
    """Asymmetric generalized Gaussian by moment matching: (shape, mean, left variance, right variance)."""
    x = x.ravel()
    left, right = x[x < 0], x[x > 0]
    left_var = float(np.mean(left * left)) if left.size else 0.0
    right_var = float(np.mean(right * right)) if right.size else 0.0
    if left_var == 0 or right_var == 0:
        return float(_SHAPES[-1]), 0.0, left_var, right_var
    ratio_lr = np.sqrt(left_var) / np.sqrt(right_var)
    r = float(np.mean(np.abs(x))) ** 2 / float(np.mean(x * x))
    big_r = r * (ratio_lr ** 3 + 1) * (ratio_lr + 1) / (ratio_lr ** 2 + 1) ** 2
    shape = float(_SHAPES[np.argmin(np.abs(_AGGD_RATIO - big_r))])
    scale = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    beta_l, beta_r = np.sqrt(left_var) * scale, np.sqrt(right_var) * scale
    mean = float((beta_r - beta_l) * gamma(2 / shape) / gamma(1 / shape))
    return shape, mean, left_var, right_var


def patch_features(coefficients: np.ndarray) -> np.ndarray:
    """The 18 features of one patch of MSCN coefficients ``(p, p)``: GGD (shape, variance), then AGGD (shape, mean,
    left variance, right variance) of the horizontal, vertical, main-diagonal and anti-diagonal products."""
    c = coefficients
    products = (c[:, :-1] * c[:, 1:], c[:-1, :] * c[1:, :], c[:-1, :-1] * c[1:, 1:], c[1:, :-1] * c[:-1, 1:])
    feats = list(fit_ggd(c))
    for p in products:
        feats.extend(fit_aggd(p))
    return np.asarray(feats)


def image_features(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch features ``(N, 36)`` of an image (cropped to whole 96×96 patches) and each patch's sharpness
    ``(N,)`` (sum of the local standard deviation at the first scale)."""
    img = luminance(rgb)
    h, w = img.shape[0] // PATCH * PATCH, img.shape[1] // PATCH * PATCH
    if h == 0 or w == 0:
        raise VsrkitError(f"NIQE needs images of at least {PATCH}x{PATCH} pixels (got {img.shape[1]}x{img.shape[0]})")
    img = img[:h, :w]
    import torch

    from vsrkit.ops.resize import imresize

    half = imresize(torch.from_numpy(img)[None], scale=0.5)[0].numpy()
    scales = []
    sharpness = None
    for image, p in ((img, PATCH), (half, PATCH // 2)):
        coeffs, sigma = mscn(image)
        rows, cols = image.shape[0] // p, image.shape[1] // p
        feats = [patch_features(coeffs[i * p:(i + 1) * p, j * p:(j + 1) * p]) for i in range(rows) for j in range(cols)]
        scales.append(np.stack(feats))
        if sharpness is None:
            sharpness = np.array([sigma[i * p:(i + 1) * p, j * p:(j + 1) * p].sum() for i in range(rows)
                                  for j in range(cols)])
    return np.concatenate(scales, axis=1), sharpness


def fit_pristine(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pristine multivariate Gaussian (mean ``(36,)``, covariance ``(36, 36)``) from the sharp patches of
    ``images`` (sharpness above :data:`SHARPNESS_THRESHOLD` × each image's sharpest patch)."""
    selected = []
    for rgb in images:
        feats, sharp = image_features(rgb)
        selected.append(feats[sharp > SHARPNESS_THRESHOLD * sharp.max()])
    all_feats = np.concatenate(selected)
    return all_feats.mean(axis=0), np.cov(all_feats, rowvar=False)


@lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray, dict]:
    """The shipped pristine model: (mean, covariance, provenance)."""
    if not _MODEL_FILE.is_file():
        raise VsrkitError(f"NIQE pristine model {_MODEL_FILE} is missing: reinstall vsrkit or run "
                          "benchmarks/fit_niqe_pristine.py")
    with np.load(_MODEL_FILE) as z:
        return z["mean"], z["cov"], json.loads(str(z["provenance"]))


def niqe(rgb: np.ndarray, model: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """NIQE of one ``(H, W, 3)`` uint8 RGB image (or ``(H, W)`` luminance) against ``model`` (mean, covariance;
    default the shipped pristine model). Needs at least two 96×96 patches for a covariance."""
    mean, cov = model if model is not None else pristine_model()[:2]
    feats, _ = image_features(rgb)
    if len(feats) < 2:
        raise VsrkitError(f"NIQE needs at least two {PATCH}x{PATCH} patches: the image is too small")
    diff = feats.mean(axis=0) - mean
    pooled = (cov + np.cov(feats, rowvar=False)) / 2
    return float(np.sqrt(diff @ np.linalg.pinv(pooled) @ diff))
