"""MATLAB-compatible bicubic ``imresize`` in pure PyTorch.

Reproduces MATLAB's ``imresize(img, scale, 'bicubic')`` (docs/conventions.md §3.1): Keys cubic with a = −0.5, a kernel
stretched by ``1/scale`` when downscaling with antialiasing, symmetric (edge-repeating) index mirroring, separable,
first along H and then along W. Output length is ``ceil(n·scale)``.

Each 1-D resize is a dense ``(out_len, in_len)`` matrix product. Building the matrix by scatter-adding the tap
weights at their mirrored indices makes MATLAB's "drop all-zero edge taps" step a no-op (a zero weight adds
nothing), keeps the op differentiable and device-agnostic, and is fast for video-sized frames. Weights are computed
in float64 (as MATLAB does) and cast to the input dtype.

Used by the BI degradation (``scale=1/4``) and by the bicubic baseline model (``scale=4``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from vsrkit.errors import VsrkitError

__all__ = ["imresize", "cubic", "resize_matrix", "cubic_sample"]


def cubic(t: np.ndarray | Tensor) -> np.ndarray | Tensor:
    """Keys cubic convolution kernel with a = −0.5 (MATLAB's ``cubic``), support |t| < 2; NumPy or torch in, same
    type out (the piece masks multiply, so one formula serves both)."""
    a = abs(t)
    a2, a3 = a * a, a * a * a
    inner = 1.5 * a3 - 2.5 * a2 + 1.0
    outer = -0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0
    return inner * (a <= 1.0) + outer * ((a > 1.0) & (a <= 2.0))


def _output_length(n: int, scale: float) -> int:
    # MATLAB uses ceil(n·scale); guard against n·scale landing a hair above an integer through float error
    # (e.g. 300 · (1/3)) so that ceil does not add a spurious pixel.
    v = n * scale
    r = round(v)
    return int(r) if abs(v - r) < 1e-9 else math.ceil(v)


def _weights_indices(in_len: int, out_len: int, scale: float, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """Tap weights and 0-based mirrored input indices, both ``(out_len, P)``; MATLAB's ``contributions``."""
    kernel_width = 4.0
    stretch = scale < 1.0 and antialias
    if stretch:
        kernel_width /= scale  # the antialiasing kernel is the cubic widened by 1/scale
    x = np.arange(1, out_len + 1, dtype=np.float64)  # 1-based output coordinates, as in MATLAB
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based source coordinate of each output sample
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based tap positions
    dist = u[:, None] - idx
    w = scale * cubic(scale * dist) if stretch else cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    # Symmetric mirroring ..., 2, 1, 1, 2, ..., n, n, n-1, ... (the edge pixel is repeated).
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    idx0 = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    return w, idx0


@lru_cache(maxsize=64)
def _resize_matrix_cached(
    in_len: int, out_len: int, scale: float, antialias: bool, device: torch.device, dtype: torch.dtype
) -> Tensor:
    w, idx = _weights_indices(in_len, out_len, scale, antialias)
    m = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), w.shape[1])
    np.add.at(m, (rows, idx.ravel()), w.ravel())  # mirrored duplicates accumulate, zero taps vanish
    return torch.from_numpy(m).to(device=device, dtype=dtype)


def resize_matrix(
    in_len: int,
    out_len: int,
    scale: float,
    antialias: bool = True,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """The ``(out_len, in_len)`` matrix ``M`` with ``resize_1d(v) = M @ v`` (cached; do not modify in place)."""
    return _resize_matrix_cached(int(in_len), int(out_len), float(scale), bool(antialias), torch.device(device), dtype)


def imresize(
    x: Tensor,
    scale: float | None = None,
    *,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> Tensor:
    """Resize the last two dimensions of ``x`` exactly like MATLAB ``imresize(x, scale, 'bicubic')``.

    Args:
        x: float tensor ``(..., H, W)`` of any float dtype and device; values are not clamped.
        scale: resize factor (``0.25`` for ×1/4 BI downscaling, ``4`` for bicubic upscaling); output
            ``(..., ceil(H·scale), ceil(W·scale))``.
        size: alternatively the output ``(h, w)``; the per-axis scales are then ``h/H`` and ``w/W`` (as MATLAB).
        antialias: widen the kernel by ``1/scale`` when downscaling (MATLAB's default ``'Antialiasing', true``).

    Returns:
        ``(..., h, w)`` tensor of ``x``'s dtype and device, differentiable w.r.t. ``x``. Resizes along H first,
        then W. LR sample ``k`` (0-based) is centred on input coordinate ``(k + 0.5)/scale − 0.5``, i.e. the
        block-centred grid (``4k + 1.5`` for ×1/4).
    """
    if not torch.is_tensor(x) or not torch.is_floating_point(x):
        raise VsrkitError("imresize needs a floating-point torch tensor (..., H, W): convert with x.float()")
    if x.ndim < 2:
        raise VsrkitError(f"imresize needs at least 2 dimensions (..., H, W), got shape {tuple(x.shape)}")
    if (scale is None) == (size is None):
        raise VsrkitError("imresize needs exactly one of scale=... or size=(h, w)")
    in_h, in_w = x.shape[-2], x.shape[-1]
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        if out_h < 1 or out_w < 1:
            raise VsrkitError(f"imresize size must be positive, got {size}")
        scale_h, scale_w = out_h / in_h, out_w / in_w
    else:
        if not scale > 0:
            raise VsrkitError(f"imresize scale must be positive, got {scale}")
        scale_h = scale_w = float(scale)
        out_h, out_w = _output_length(in_h, scale_h), _output_length(in_w, scale_w)

    y = x
    if (out_h, scale_h) != (in_h, 1.0):
        mh = _resize_matrix_cached(in_h, out_h, scale_h, antialias, x.device, x.dtype)
        y = torch.matmul(mh, y)  # (h, H) @ (..., H, W) -> (..., h, W)
    if (out_w, scale_w) != (in_w, 1.0):
        mw = _resize_matrix_cached(in_w, out_w, scale_w, antialias, x.device, x.dtype)
        y = torch.matmul(y, mw.transpose(0, 1))  # (..., h, W) @ (W, w) -> (..., h, w)
    return y


def _mirror(idx: Tensor, n: int) -> Tensor:
    """MATLAB's symmetric index mirroring (edge repeated) of 0-based integer indices into ``[0, n)``."""
    m = torch.remainder(idx, 2 * n)
    return torch.where(m >= n, 2 * n - 1 - m, m)


def cubic_sample(image: Tensor, xy: Tensor) -> Tensor:
    """Bicubic values of ``image (N, C, h, w)`` at continuous points ``xy (N, Q, 2)`` (x, y in [0, 1]) → ``(N, Q, C)``.

    The point-sampling form of MATLAB's bicubic *upscaling*: Keys a = −0.5, 4×4 taps, symmetric boundary, point
    ``(x, y)`` read at 0-based pixel coordinate ``(x·w − 0.5, y·h − 0.5)``. At the pixel centres of an integer-×s
    grid it equals ``imresize(image, s)`` (tested), and it serves any real scale or arbitrary query set
    (arbitrary-scale models predict a residual over it). Differentiable w.r.t. ``image``.
    """
    n, c, h, w = image.shape
    px = xy[..., 0] * w - 0.5
    py = xy[..., 1] * h - 0.5
    taps = torch.arange(-1, 3, device=xy.device)
    x0, y0 = torch.floor(px), torch.floor(py)
    ix = x0.long()[..., None] + taps  # (N, Q, 4)
    iy = y0.long()[..., None] + taps
    wx = cubic(px[..., None] - ix.to(px.dtype))
    wy = cubic(py[..., None] - iy.to(py.dtype))
    wx = wx / wx.sum(-1, keepdim=True)
    wy = wy / wy.sum(-1, keepdim=True)
    flat = _mirror(iy, h)[..., :, None] * w + _mirror(ix, w)[..., None, :]  # (N, Q, 4, 4)
    q = xy.shape[1]
    vals = torch.gather(image.reshape(n, c, h * w), 2, flat.reshape(n, 1, q * 16).expand(n, c, q * 16))
    vals = vals.reshape(n, c, q, 4, 4)
    weights = (wy[..., :, None] * wx[..., None, :]).to(image.dtype)  # (N, Q, 4, 4)
    return (vals * weights[:, None]).sum((-1, -2)).transpose(1, 2)
