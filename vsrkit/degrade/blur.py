"""Blur-and-subsample operators, quantisation and noise (docs/conventions.md §3).

Operators take frames ``(T, H, W, C)`` (or one frame ``(H, W, C)``) of any real dtype and return float64 in the
same value units (uint8 input → values on 0–255), **unrounded**: the protocols in
:mod:`vsrkit.degrade.protocols` decide how to quantise. All of them are linear and filter every channel
independently with the same kernel. "LR k ↔ HR x" below means LR sample k (0-based) is centred on HR position x.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vsrkit.degrade.kernels import duf_gaussian_kernel, matlab_fspecial_gaussian
from vsrkit.errors import VsrkitError
from vsrkit.ops.resize import imresize

__all__ = [
    "mod_crop",
    "bicubic_downscale",
    "bd_downscale",
    "duf_bd_downscale",
    "blurdown",
    "strided_downscale",
    "add_noise",
    "round_matlab",
    "round_half_even",
]


def _as_frames(x: np.ndarray) -> tuple[torch.Tensor, bool]:
    """``(T, H, W, C)`` / ``(H, W, C)`` array → float64 tensor ``(T, C, H, W)`` and whether a T axis was added."""
    x = np.asarray(x)
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4:
        raise VsrkitError(f"expected frames (T, H, W, C) or (H, W, C), got shape {x.shape}")
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    return t.permute(0, 3, 1, 2).contiguous(), single  # NCHW-contiguous: the channels-last view hits slow conv paths


def _to_frames(t: torch.Tensor, single: bool) -> np.ndarray:
    out = t.permute(0, 2, 3, 1).contiguous().numpy()
    return out[0] if single else out


def mod_crop(frames: np.ndarray, scale: int) -> np.ndarray:
    """Crop ``(..., H, W, C)`` to ``H, W`` multiples of ``scale`` (bottom/right, BasicSR ``mod_crop``)."""
    h, w = frames.shape[-3], frames.shape[-2]
    return frames[..., : h - h % scale, : w - w % scale, :]


#: Bytes of unfolded input one strided-convolution call may use (frames are split into groups beyond it).
UNFOLD_BYTES = 256 << 20


def _correlate_sample(
    x: torch.Tensor,
    kernel: np.ndarray,
    pad: tuple[int, int, int, int],
    mode: str,
    stride: int,
    start: int,
    out_hw: tuple[int, int],
) -> torch.Tensor:
    """``out[i, j] = Σ_ab k[a, b] · xpad[start + stride·i + a, start + stride·j + b]`` for ``(T, C, H, W)`` x.

    ``kernel`` is ``(kh, kw)`` for all frames or ``(T, kh, kw)``, one per frame (a grouped convolution, so a
    clip with per-frame kernels is still one call). ``pad`` is ``(left, right, top, bottom)`` as in ``F.pad``.
    Only the sampled outputs are computed (a strided convolution), which keeps full-HD frames cheap.
    """
    t, c, _, _ = x.shape
    k = torch.tensor(np.asarray(kernel), dtype=torch.float64)
    kh, kw = k.shape[-2:]
    h, w = out_hw
    # The CPU convolution unfolds kh·kw samples per output: 20 frames of 768×576 with a 15×15 kernel asked for
    # 23 GB. Frames are independent, so they go in groups whose unfolded input stays near 256 MB.
    per_frame = c * h * w * kh * kw * 8
    step = max(1, UNFOLD_BYTES // max(per_frame, 1))
    if t > step:
        return torch.cat([_correlate_sample(x[i : i + step], kernel if k.ndim == 2 else kernel[i : i + step], pad,
                                            mode, stride, start, out_hw) for i in range(0, t, step)])
    if k.ndim == 2:
        xp = F.pad(x.reshape(t * c, 1, *x.shape[-2:]), pad, mode=mode)
        weight, groups = k[None, None], 1
    else:  # frame i, channel j → group i·c + j, filtered with kernel i
        xp = F.pad(x.reshape(1, t * c, *x.shape[-2:]), pad, mode=mode)
        weight, groups = k.repeat_interleave(c, dim=0)[:, None], t * c
    xp = xp[..., start : start + stride * (h - 1) + kh, start : start + stride * (w - 1) + kw]
    y = F.conv2d(xp, weight, stride=stride, groups=groups)  # conv2d correlates (no flip), like imfilter
    return y.reshape(t, c, h, w)


def bicubic_downscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB ``imresize(·, 1/scale, 'bicubic')`` with antialiasing, computed in float64 (§3.1).

    ``(T, H, W, C)`` → ``(T, ceil(H/s), ceil(W/s), C)`` float64, unrounded. LR k ↔ HR ``s·k + (s−1)/2``
    (block centre). Mod-crop first to reproduce BI data (the protocol does).
    """
    x, single = _as_frames(frames)
    return _to_frames(imresize(x, 1.0 / scale), single)


def bd_downscale(frames: np.ndarray, scale: int = 4, sigma: float = 1.6) -> np.ndarray:
    """MATLAB BD (§3.2): ``imfilter(·, fspecial('gaussian', 12, 1.6), 'replicate')`` then ``lq(s/2:s:end−s/2)``.

    Correlation with MATLAB's anchor for the even 12-tap kernel (output pixel i reads input ``i−5 … i+6``), edge
    replication, then 0-based rows/cols ``s/2−1, s/2−1+s, …`` (``[1:H−2:4]`` at ×4). ``(T, H, W, C)`` →
    ``(T, len(range(s/2−1, H−s/2, s)), …, C)`` float64 unrounded (H/4 for H divisible by 4).
    LR k ↔ HR ``4k + 1.5`` (block centre). Only even scales have this MATLAB sampling.
    """
    if scale < 2 or scale % 2:
        raise VsrkitError(f"BD sampling lq(s/2:s:end-s/2) needs an even scale, got {scale}: use scale=4")
    size = 2 * int(np.ceil(3 * sigma)) + 2  # IART's bd_*.m: ceil(3σ)·2 + 2 = 12 taps for σ = 1.6
    k = matlab_fspecial_gaussian(size, sigma)
    before = (size - 1) // 2  # MATLAB anchor of an even kernel: centre tap = floor((n+1)/2) (1-based)
    after = size - 1 - before
    x, single = _as_frames(frames)
    h_in, w_in = x.shape[-2:]
    first = scale // 2 - 1
    out_hw = (len(range(first, h_in - scale // 2, scale)), len(range(first, w_in - scale // 2, scale)))
    if min(out_hw) < 1:
        raise VsrkitError(f"frame {h_in}x{w_in} is too small for BD x{scale}: need at least {scale} pixels")
    y = _correlate_sample(x, k, (before, after, before, after), "replicate", scale, first, out_hw)
    return _to_frames(y, single)


def duf_bd_downscale(frames: np.ndarray, scale: int = 4) -> np.ndarray:
    """BasicSR DUF-style BD (``duf_downsample``, §3.2 note): 13×13 Gaussian σ = 0.4·s, reflect pad
    ``6 + 2s``, stride-s valid correlation, 2 output pixels cropped per side.

    ``(T, H, W, C)`` → ``(T, ceil(H/s), ceil(W/s), C)`` float64, unrounded.
    LR k ↔ HR ``s·k`` (top-left aligned, phase 0).
    """
    if scale not in (2, 3, 4):
        raise VsrkitError(f"DUF-style BD supports scales 2, 3, 4, got {scale}")
    k = duf_gaussian_kernel(scale, 13)
    p = 6 + 2 * scale
    x, single = _as_frames(frames)
    h_in, w_in = x.shape[-2:]
    if min(h_in, w_in) <= p:
        raise VsrkitError(f"frame {h_in}x{w_in} is too small for DUF BD: reflect padding needs more than {p} px")
    full = [(n + 2 * p - 13) // scale + 1 for n in (h_in, w_in)]
    # Skipping the 2 cropped outputs = starting 2·s rows further into the padded image.
    out_hw = (full[0] - 4, full[1] - 4)
    y = _correlate_sample(x, k, (p, p, p, p), "reflect", scale, 2 * scale, out_hw)
    return _to_frames(y, single)


def blurdown(frames: np.ndarray, kernel: np.ndarray | Sequence[np.ndarray], scale: int = 4) -> np.ndarray:
    """BVSR-IK ``blurdown`` (§3.4): replicate-pad by ``len(k)//2``, correlate (same size), take ``[::s, ::s]``.

    ``(T, H, W, C)`` → ``(T, ceil(H/s), ceil(W/s), C)`` float64. LR k ↔ HR ``s·k`` + (COM of k − centre tap).
    ``kernel`` is one odd-sized ``(k, k)`` kernel for all frames, or a sequence of T kernels (one per frame, sizes
    may differ).
    """
    x, single = _as_frames(frames)
    h_in, w_in = x.shape[-2:]
    out_hw = (-(-h_in // scale), -(-w_in // scale))
    if isinstance(kernel, np.ndarray) and kernel.ndim == 2:
        kernels = [kernel] * x.shape[0]
    else:
        kernels = [np.asarray(k, dtype=np.float64) for k in kernel]
    if len(kernels) != x.shape[0]:
        raise VsrkitError(f"blurdown got {len(kernels)} kernels for {x.shape[0]} frames: pass one per frame")
    outs = torch.empty(x.shape[0], x.shape[1], *out_hw, dtype=torch.float64)
    for shape in {k.shape for k in kernels}:  # one grouped call per kernel size
        idx = [i for i, k in enumerate(kernels) if k.shape == shape]
        kh, kw = shape
        pad = (kw // 2, kw - 1 - kw // 2, kh // 2, kh - 1 - kh // 2)
        stack = np.stack([kernels[i] for i in idx])
        outs[idx] = _correlate_sample(x[idx], stack, pad, "replicate", scale, 0, out_hw)
    return _to_frames(outs, single)


def strided_downscale(frames: np.ndarray, kernel: np.ndarray, scale: int) -> np.ndarray:
    """DynaVSR ``Degradation.apply`` (§3.5): reflection-pad by ``len(k)//2``, depthwise correlation with stride s.

    ``(T, H, W, C)`` → ``(T, ceil(H/s), ceil(W/s), C)`` float64. LR k ↔ HR ``s·k`` + (COM of k − centre tap):
    pass a :func:`~vsrkit.degrade.kernels.kernel_shift`-ed kernel for the block-centred grid ``s·k + (s−1)/2``.
    Reflection (no edge repeat) needs frames larger than ``len(k)//2``.
    """
    k = np.asarray(kernel, dtype=np.float64)
    x, single = _as_frames(frames)
    h_in, w_in = x.shape[-2:]
    p = k.shape[0] // 2
    if min(h_in, w_in) <= p:
        raise VsrkitError(f"frame {h_in}x{w_in} is too small for a {k.shape[0]}-tap kernel with reflection padding")
    out_hw = (-(-h_in // scale), -(-w_in // scale))
    pad = (k.shape[1] // 2, k.shape[1] - 1 - k.shape[1] // 2, p, k.shape[0] - 1 - p)
    return _to_frames(_correlate_sample(x, k, pad, "reflect", scale, 0, out_hw), single)


def add_noise(x: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """``x + N(0, std²)`` per element, float64, no clipping; ``std`` in the units of ``x`` (0–255 for uint8)."""
    x = np.asarray(x, dtype=np.float64)
    if std <= 0:
        return x
    return x + rng.normal(0.0, std, size=x.shape)


def round_matlab(x: np.ndarray) -> np.ndarray:
    """Saturate to [0, 255] and round half away from zero, as MATLAB's double → uint8 conversion; uint8.

    Exact .5 ties are common (e.g. the symmetric BD kernel); a float64 result that is within 1e-9 of a tie is
    treated as the tie, because MATLAB's differently-ordered summation lands on it exactly.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 255.0)
    fl = np.floor(x)
    tie = np.abs(x - fl - 0.5) < 1e-9
    return np.where(tie, fl + 1.0, np.floor(x + 0.5)).astype(np.uint8)


def round_half_even(x: np.ndarray) -> np.ndarray:
    """Clamp to [0, 255] and round half to even (numpy/torch ``round``, the Python pipelines); uint8."""
    return np.rint(np.clip(np.asarray(x, dtype=np.float64), 0.0, 255.0)).astype(np.uint8)
