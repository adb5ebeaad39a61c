"""Blur kernels of the degradation protocols (docs/conventions.md §3).

All kernels are float64 2-D arrays ``(kh, kw)`` indexed ``[row, column]`` (y, x), normalised to sum 1. Where a
kernel's centre of mass (COM) matters for the LR sampling phase it is stated in the docstring (0-based tap
coordinates). Kernels are applied by *correlation* (see :mod:`vsrkit.degrade.blur`), so a COM at ``c + d`` taps
moves every LR sample by ``+d`` HR pixels.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage, signal

from vsrkit.errors import VsrkitError
from vsrkit.ops.resize import cubic

__all__ = [
    "matlab_fspecial_gaussian",
    "isotropic_gaussian_kernel",
    "anisotropic_gaussian_kernel",
    "duf_gaussian_kernel",
    "center_of_mass",
    "kernel_shift",
    "matlab_cubic_taps",
    "dynavsr_kernel",
    "realistic_kernel",
]


def matlab_fspecial_gaussian(size: int | tuple[int, int], sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``: ``(size, size)`` (or ``(rows, cols)``) float64.

    Taps sit at ``−(n−1)/2 … (n−1)/2`` (half-integers for even n, so a 12×12 kernel has its COM at 5.5),
    entries below ``eps·max`` are zeroed, and the result is normalised to 1.
    """
    rows, cols = (size, size) if isinstance(size, int) else size
    if rows < 1 or cols < 1 or not sigma > 0:
        raise VsrkitError(f"fspecial gaussian needs size >= 1 and sigma > 0, got size={size}, sigma={sigma}")
    y = np.arange(rows, dtype=np.float64) - (rows - 1) / 2.0
    x = np.arange(cols, dtype=np.float64) - (cols - 1) / 2.0
    h = np.exp(-(x[None, :] ** 2 + y[:, None] ** 2) / (2.0 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0.0
    return h / h.sum()


def isotropic_gaussian_kernel(sigma: float, size: int | None = None) -> np.ndarray:
    """Isotropic ``fspecial``-style Gaussian ``(size, size)``; default size ``2·ceil(3σ)+1`` (BVSR-IK, odd).

    For odd sizes the COM is the centre tap ``size//2`` (no phase shift).
    """
    if size is None:
        size = 2 * math.ceil(3.0 * sigma) + 1
    return matlab_fspecial_gaussian(int(size), sigma)


def anisotropic_gaussian_kernel(sigma_x: float, sigma_y: float, theta: float, size: int = 21) -> np.ndarray:
    """Rotated Gaussian ``(size, size)`` of the DynaVSR generator (``random_kernel_generator.py``).

    ``k(x, y) ∝ exp(−(a x² + 2b xy + c y²))`` on the grid ``linspace(−(size−1)/2, (size−1)/2, size)`` with
    x = column, y = row, ``a = cos²θ/(2σx²) + sin²θ/(2σy²)``, ``b = sinθ cosθ (1/(2σy²) − 1/(2σx²))``,
    ``c = sin²θ/(2σx²) + cos²θ/(2σy²)``; θ in radians. σx = σy = 0 gives a delta. COM at the centre tap.
    """
    if sigma_x < 0 or sigma_y < 0 or size < 1:
        raise VsrkitError(f"Gaussian kernel needs sigma >= 0 and size >= 1, got {sigma_x}, {sigma_y}, {size}")
    # A vanishing σ is the limit of a very narrow Gaussian; flooring it keeps the formula finite and turns
    # σx = σy = 0 into the delta the reference generator returns.
    sx, sy = max(sigma_x, 1e-6), max(sigma_y, 1e-6)
    r = np.linspace(-(size - 1) / 2.0, (size - 1) / 2.0, size)
    x, y = r[None, :], r[:, None]
    cos, sin = math.cos(theta), math.sin(theta)
    a = cos**2 / (2 * sx**2) + sin**2 / (2 * sy**2)
    b = sin * cos * (1 / (2 * sy**2) - 1 / (2 * sx**2))
    c = sin**2 / (2 * sx**2) + cos**2 / (2 * sy**2)
    k = np.exp(-(a * x**2 + 2 * b * x * y + c * y**2))
    return k / k.sum()


def duf_gaussian_kernel(scale: int = 4, size: int = 13) -> np.ndarray:
    """BasicSR ``duf_downsample`` kernel: ``scipy.ndimage.gaussian_filter`` of a centred delta, σ = 0.4·scale.

    ``(size, size)`` float64, COM at the centre tap (samples land on HR ``s·k``).
    """
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    k = ndimage.gaussian_filter(delta, 0.4 * scale)
    return k / k.sum()


def center_of_mass(kernel: np.ndarray) -> tuple[float, float]:
    """Centre of mass ``(row, col)`` in 0-based tap coordinates."""
    com = ndimage.center_of_mass(np.asarray(kernel, dtype=np.float64))
    return float(com[0]), float(com[1])


def kernel_shift(kernel: np.ndarray, scale: int, *, pad: bool = True) -> np.ndarray:
    """KernelGAN ``kernel_shift``: move the kernel's COM so that stride-``scale`` sampling is block-centred.

    Target COM per axis: ``n//2 + 0.5·(scale − n%2)`` (10.5 for a 21-tap kernel at ×2, 11.5 at ×4). With
    ``pad=True`` the kernel is first zero-padded by ``ceil(max |shift|) + 1`` on every side so that nothing is cut
    off (21 → 25 at ×2, 27 at ×4) and the target moves with the padding. The shift is a cubic-spline
    ``scipy.ndimage.shift``; the result is *not* renormalised (the reference code does not either, the spline
    shift preserves the sum to ~1e-6). Applied by :func:`vsrkit.degrade.blur.strided_downscale` (reflect pad
    ``n//2``, stride s), LR sample k is then centred on HR ``s·k + (s−1)/2``.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    shape = np.array(kernel.shape)
    wanted = shape // 2 + 0.5 * (scale - shape % 2)
    shift = wanted - np.array(center_of_mass(kernel))
    if pad:
        p = int(math.ceil(np.max(np.abs(shift)))) + 1
        kernel = np.pad(kernel, p)
    return ndimage.shift(kernel, shift, order=3, mode="constant")


def _shift_com_to(kernel: np.ndarray, target: tuple[float, float]) -> np.ndarray:
    """Cubic-spline shift (no padding) that moves the COM to ``target`` ``(row, col)``."""
    shift = np.array(target) - np.array(center_of_mass(kernel))
    return ndimage.shift(kernel, shift, order=3, mode="constant")


def matlab_cubic_taps(scale: int, size: int = 21) -> np.ndarray:
    """MATLAB's antialiased ×1/scale cubic as a 1-D ``(size,)`` float64 line centred at ``size//2 + (s−1)/2``.

    ``w[j] = K((j − c − (s−1)/2)/s)/s`` (Keys cubic K, c = size//2), normalised to 1. This is the kernel
    ``imresize(·, 1/s)`` applies to every LR sample, written on the HR tap grid of a stride-s correlation; for
    scale 2 the non-zero taps are ``c−3 … c+4`` = ``[−0.01171875, −0.03515625, 0.11328125, 0.43359375, mirror]``.
    """
    c = size // 2
    d = np.arange(size, dtype=np.float64) - c - (scale - 1) / 2.0
    if size < 4 * scale + 1:
        raise VsrkitError(f"a {size}-tap line is too short for the x1/{scale} cubic: use size >= {4 * scale + 1}")
    w = cubic(d / scale) / scale
    return w / w.sum()


def dynavsr_kernel(
    sigma_x: float,
    sigma_y: float,
    theta: float,
    *,
    kind: str = "impulse",
    scale: int = 2,
    size: int = 21,
) -> np.ndarray:
    """DynaVSR test kernel ``(size, size)`` float64 (docs/conventions.md §3.5), θ in radians.

    * ``kind="impulse"``: :func:`anisotropic_gaussian_kernel`, COM at the centre; apply after :func:`kernel_shift`
      (direct subsampling, block-centred).
    * ``kind="bicubic"`` ("Gaussian8" isotropic protocol): the Gaussian convolved with the separable MATLAB ×1/s
      antialiased cubic (:func:`matlab_cubic_taps`, centred ``+(s−1)/2``: taps ``c−3 … c+4`` at ×2),
      cropped to ``size``, renormalised. It already carries the block-centring offset: apply **without** a shift
      (reflect pad ``size//2``, stride s).
    """
    g = anisotropic_gaussian_kernel(sigma_x, sigma_y, theta, size)
    if kind == "impulse":
        return g
    if kind != "bicubic":
        raise VsrkitError(f"unknown DynaVSR kernel kind {kind!r}: use 'impulse' or 'bicubic'")
    line = matlab_cubic_taps(scale, size)
    cubic2d = np.outer(line, line)
    k = signal.convolve2d(g, cubic2d, mode="same")  # same-size, so COM(k) = COM(g) + COM(cubic2d) − c
    return k / k.sum()


def realistic_kernel(rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """BVSR-IK "Realistic" kernel (docs/conventions.md §3.4), drawn with ``rng``.

    1. 31×31 grid, ``Σ = R(θ) diag(λ1, λ2) R(θ)ᵀ`` with λ1, λ2 ~ U[2.4, 20] (variances), θ ~ U[0, π), mean at
       (16.5, 16.5) (x = column, y = row), ``k = exp(−½ zᵀΣ⁻¹z)·(1 + n)``, n ~ U[−0.25, 0.25] per tap.
    2. Cubic-spline shift of the COM to (15.5, 15.5); negatives → 0; normalise.
    3. OpenCV ``INTER_CUBIC`` resize 31 → 13 (shrinks the kernel by 31/13); negatives → 0; normalise.

    Returns the ``(13, 13)`` float64 kernel, COM ≈ (6.21, 6.21) (the +0.21 px phase of the Realistic protocol),
    and its JSON-able parameters ``{"lambda1", "lambda2", "theta"}``.
    """
    lam1, lam2 = rng.uniform(2.4, 20.0, size=2)
    theta = rng.uniform(0.0, math.pi)
    n = 31
    noise = rng.uniform(-0.25, 0.25, size=(n, n))
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    inv_sigma = np.linalg.inv(rot @ np.diag([lam1, lam2]) @ rot.T)
    coords = np.arange(n, dtype=np.float64) - 16.5
    zx, zy = np.meshgrid(coords, coords)  # zx varies along columns (x), zy along rows (y)
    z = np.stack([zx, zy], axis=-1)  # (31, 31, 2) as (x, y)
    quad = np.einsum("...i,ij,...j->...", z, inv_sigma, z)
    k = np.exp(-0.5 * quad) * (1.0 + noise)
    k = _shift_com_to(k, (n / 2.0, n / 2.0))
    k = np.clip(k, 0.0, None)
    k /= k.sum()
    k = cv2.resize(k, (13, 13), interpolation=cv2.INTER_CUBIC)
    k = np.clip(k, 0.0, None)
    k /= k.sum()
    return k, {"lambda1": float(lam1), "lambda2": float(lam2), "theta": float(theta)}
