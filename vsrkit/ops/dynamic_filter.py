"""Flow-guided dynamic filtering (FGDF, Youk et al., FMA-Net, CVPR 2024, Eqs. 6-7) as memory-lean tensor ops.

FGDF filters frames that were first *warped* onto the centre frame (so a small kernel can follow large motion) with
per-pixel, per-frame kernels, summing over the frames of the window:

* :func:`dynamic_downsample` — degradation (Eq. 7): each LR pixel ``(y, x)`` is a weighted sum of a
  ``k × k`` HR window with stride ``s``, centred on the pixel's ``s × s`` block (replicate padding of
  ``(k − s)/2``), over all ``T`` frames::

      out[b, c, y, x] = Σ_{t, i, j} K[b, t, i, j, y, x] · pad(x_hr)[b, c, t, s·y + i, s·x + j]

* :func:`dynamic_upsample` — restoration: each HR sub-pixel ``(s·y + p, s·x + q)`` is a weighted sum of a
  ``k × k`` LR neighbourhood (replicate padding ``k // 2``) over all frames, with its own kernel::

      out[b, c, s·y + p, s·x + q] = Σ_{t, i, j} K[b, p, q, t, i, j, y, x] · pad(x_lr)[b, c, t, y + i, x + j]

The kernels are used as given (normalise them first; FMA-Net's normalisations live in the model). The same kernel
is applied to every channel.

Memory: the straightforward formulation unfolds the input into a ``C·T·k²``-channel tensor at LR size (for the
downsampling that is ``C·T·k_d²·h·w``, i.e. 3·3·400 floats per LR pixel at paper size, ≈0.8 GB at 180×320 fp32,
kept alive for backward). Here the downsampling splits the ``k × k`` window into ``(k/s)²`` shifts of the
pixel-unshuffled input (each shift is a strided *view*, no copy) and the upsampling loops over the ``k²`` taps;
each step multiplies a view by a kernel slice and reduces at once, so the largest temporary is ``(k/s)²`` (resp.
``k²``) times smaller. A custom autograd function saves only the (padded) input and the kernels and runs the same
loops backwards into preallocated gradients (first-order gradients only). :func:`dynamic_downsample_unfold` and
:func:`dynamic_upsample_unfold` are the direct unfold definitions (tests and ``benchmarks/fgdf_memory.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["dynamic_downsample", "dynamic_upsample", "dynamic_downsample_unfold", "dynamic_upsample_unfold"]


def _pad_frames(x: Tensor, pad: int) -> Tensor:
    """Replicate-pad the last two dims of ``(B, C, T, H, W)`` by ``pad``."""
    b, c, t, h, w = x.shape
    if pad == 0:
        return x
    return F.pad(x.reshape(b, c * t, h, w), (pad, pad, pad, pad), mode="replicate").view(b, c, t, h + 2 * pad,
                                                                                         w + 2 * pad)


def _check_down(x: Tensor, weights: Tensor, stride: int) -> tuple[int, int, int]:
    if x.dim() != 5 or weights.dim() != 6:
        raise ValueError(f"dynamic_downsample expects x (B,C,T,sh,sw) and weights (B,T,k,k,h,w), got "
                         f"{tuple(x.shape)}, {tuple(weights.shape)}")
    b, _, t, hh, ww = x.shape
    k = weights.shape[2]
    h, w = weights.shape[-2:]
    if weights.shape[:4] != (b, t, k, k) or (hh, ww) != (stride * h, stride * w):
        raise ValueError(f"dynamic_downsample: weights {tuple(weights.shape)} do not fit x {tuple(x.shape)} "
                         f"with stride {stride}")
    if k < stride or (k - stride) % 2:
        raise ValueError(f"dynamic_downsample needs kernel_size >= stride and an even k - s, got k={k}, s={stride}")
    return k, h, w


def _pad_kernel_to_stride(weights: Tensor, stride: int) -> Tensor:
    """Zero-pad ``(B, T, k, k, h, w)`` kernels symmetrically to the next size ``k' ≥ k`` that is a multiple of
    ``stride`` with ``k' − k`` even (FMA-Net Table 3's ``k_d`` = 10, 30 at ``s = 4`` → 12, 32). The padded window
    starts ``(k' − k)/2`` pixels earlier and those taps weigh zero, so the result equals the ``k × k`` filtering."""
    k = weights.shape[2]
    extra = (-k) % stride
    if extra % 2:
        extra += stride
    if extra == 0:
        return weights
    p = extra // 2
    b, t, _, _, h, w = weights.shape
    out = weights.new_zeros(b, t, k + extra, k + extra, h, w)
    out[:, :, p : p + k, p : p + k] = weights
    return out


def dynamic_downsample(x: Tensor, weights: Tensor, *, stride: int) -> Tensor:
    """Per-pixel ``k × k`` filtering with stride ``s`` over ``T`` frames: ``(B, C, T, sh, sw)`` → ``(B, C, h, w)``.

    ``weights``: ``(B, T, k, k, h, w)`` with ``k ≥ s`` and ``k − s`` even (FMA-Net: 20, 4; its Table 3 ablation also
    10 and 30). A ``k`` that is not a multiple of ``s`` is zero-padded to one first (:func:`_pad_kernel_to_stride`;
    same result, ``(k'/k)²`` more work).
    """
    _check_down(x, weights, stride)
    weights = _pad_kernel_to_stride(weights, stride)
    k, h, w = weights.shape[2], weights.shape[-2], weights.shape[-1]
    b, c, t = x.shape[:3]
    s, r = stride, k // stride
    xp = _pad_frames(x, (k - s) // 2)
    # Tap (i, j) = (a·s + p, b·s + q) of LR pixel (y, x) reads xp[s·(y + a) + p, s·(x + b) + q] = u[p, q, y + a, x + b].
    u = F.pixel_unshuffle(xp.reshape(b, c * t, *xp.shape[-2:]), s).view(b, c, t, s, s, h + r - 1, w + r - 1)
    return _ShiftedFilter.apply(u, weights.view(b, t, r, s, r, s, h, w))


def dynamic_upsample(x: Tensor, weights: Tensor, *, scale: int) -> Tensor:
    """Per-sub-pixel ``k × k`` filtering over ``T`` frames, ×``s``: ``(B, C, T, h, w)`` → ``(B, C, sh, sw)``.

    ``weights``: ``(B, s, s, T, k, k, h, w)`` (sub-pixel row, sub-pixel column, frame, tap row, tap column); ``k`` odd.
    """
    if x.dim() != 5 or weights.dim() != 8:
        raise ValueError(f"dynamic_upsample expects x (B,C,T,h,w) and weights (B,s,s,T,k,k,h,w), got "
                         f"{tuple(x.shape)}, {tuple(weights.shape)}")
    b, c, t, h, w = x.shape
    s, k = scale, weights.shape[4]
    if weights.shape != (b, s, s, t, k, k, h, w) or k % 2 == 0:
        raise ValueError(f"dynamic_upsample: weights {tuple(weights.shape)} do not fit x {tuple(x.shape)} "
                         f"with scale {scale} and an odd kernel size")
    out = _TapFilter.apply(_pad_frames(x, k // 2), weights)  # (B, C, s, s, h, w)
    return out.permute(0, 1, 4, 2, 5, 3).reshape(b, c, s * h, s * w)


class _ShiftedFilter(torch.autograd.Function):
    """``out[b,c,y,x] = Σ_{t,a,p,bb,q} u[b,c,t,p,q,y+a,x+bb] · K[b,t,a,p,bb,q,y,x]``, one shift ``(a, bb)`` at a time.

    Forward and backward both loop over the shifts and write into preallocated results, so the only temporary
    is one ``(B, C, T, s, s, h, w)`` product (autograd through the loop would allocate a full-size gradient buffer
    per slice).
    """

    @staticmethod
    def forward(ctx, u: Tensor, kern: Tensor) -> Tensor:
        b, c = u.shape[:2]
        r, h, w = kern.shape[2], kern.shape[-2], kern.shape[-1]
        out = u.new_zeros(b, c, h, w)
        for a in range(r):
            for bb in range(r):
                out += (u[..., a : a + h, bb : bb + w] * kern[:, None, :, a, :, bb]).sum(dim=(2, 3, 4))
        ctx.save_for_backward(u, kern)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        u, kern = ctx.saved_tensors
        r, h, w = kern.shape[2], kern.shape[-2], kern.shape[-1]
        g = grad[:, :, None, None, None]  # (B, C, 1, 1, 1, h, w)
        grad_u = torch.zeros_like(u) if ctx.needs_input_grad[0] else None
        grad_k = torch.empty_like(kern) if ctx.needs_input_grad[1] else None
        for a in range(r):
            for bb in range(r):
                if grad_k is not None:
                    grad_k[:, :, a, :, bb] = (u[..., a : a + h, bb : bb + w] * g).sum(dim=1)
                if grad_u is not None:
                    grad_u[..., a : a + h, bb : bb + w] += g * kern[:, None, :, a, :, bb]
        return grad_u, grad_k


class _TapFilter(torch.autograd.Function):
    """``out[b,c,p,q,y,x] = Σ_{t,i,j} xp[b,c,t,y+i,x+j] · K[b,p,q,t,i,j,y,x]``, one tap ``(i, j)`` at a time."""

    @staticmethod
    def forward(ctx, xp: Tensor, kern: Tensor) -> Tensor:
        b, c = xp.shape[:2]
        s, k, h, w = kern.shape[1], kern.shape[4], kern.shape[-2], kern.shape[-1]
        out = xp.new_zeros(b, c, s, s, h, w)
        xe = xp[:, :, None, None]  # (B, C, 1, 1, T, h+2p, w+2p)
        for i in range(k):
            for j in range(k):
                out += (xe[..., i : i + h, j : j + w] * kern[:, None, ..., i, j, :, :]).sum(dim=4)
        ctx.save_for_backward(xp, kern)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        xp, kern = ctx.saved_tensors
        k, h, w = kern.shape[4], kern.shape[-2], kern.shape[-1]
        g = grad[:, :, :, :, None]  # (B, C, s, s, 1, h, w)
        grad_x = torch.zeros_like(xp) if ctx.needs_input_grad[0] else None
        grad_k = torch.empty_like(kern) if ctx.needs_input_grad[1] else None
        for i in range(k):
            for j in range(k):
                if grad_k is not None:
                    grad_k[..., i, j, :, :] = (g * xp[:, :, None, None, :, i : i + h, j : j + w]).sum(dim=1)
                if grad_x is not None:
                    grad_x[..., i : i + h, j : j + w] += (g * kern[:, None, ..., i, j, :, :]).sum(dim=(2, 3))
        return grad_x, grad_k


# ------------------------------------------------------------------------------------------------------------------
# Direct (unfold) definitions
# ------------------------------------------------------------------------------------------------------------------
def dynamic_downsample_unfold(x: Tensor, weights: Tensor, *, stride: int) -> Tensor:
    """Reference for :func:`dynamic_downsample`: unfold every ``k × k`` window (stride ``s``) of every frame."""
    k, h, w = _check_down(x, weights, stride)
    b, c, t = x.shape[:3]
    xp = _pad_frames(x, (k - stride) // 2)
    cols = F.unfold(xp.reshape(b * c * t, 1, *xp.shape[-2:]), k, stride=stride)  # (BCT, k·k, h·w)
    cols = cols.view(b, c, t, k, k, h, w)
    return (cols * weights.unsqueeze(1)).sum(dim=(2, 3, 4))


def dynamic_upsample_unfold(x: Tensor, weights: Tensor, *, scale: int) -> Tensor:
    """Reference for :func:`dynamic_upsample`: unfold ``k × k`` LR neighbourhoods, one product per sub-pixel."""
    b, c, t, h, w = x.shape
    s, k = scale, weights.shape[4]
    xp = _pad_frames(x, k // 2)
    cols = F.unfold(xp.reshape(b * c * t, 1, *xp.shape[-2:]), k).view(b, c, 1, 1, t, k, k, h, w)
    out = (cols * weights.unsqueeze(1)).sum(dim=(4, 5, 6))  # (B, C, s, s, h, w)
    return out.permute(0, 1, 4, 2, 5, 3).reshape(b, c, s * h, s * w)
