"""Named degradation protocols (docs/conventions.md §3): HR frames → LR frames, exact to the sampling phase.

``get_protocol(name, scale=..., noise=..., **options)`` returns a callable :class:`Protocol`;
``protocol(hr, rng)`` returns a :class:`Degraded`. Every protocol is deterministic given ``rng`` (a
``numpy.random.Generator`` or an int seed); with ``rng=None`` it uses its ``seed`` option (default 0), so
benchmark sets are reproducible by default.

Sampling phase of LR sample k (docs/conventions.md §3.7): ``bi``, ``bd``, ``gauss``/``aniso`` (default), ``dynavsr-*``,
``mixed``, ``blur-avg`` → HR ``s·k + (s−1)/2`` (block centre); ``bvsrik-gaussian``, ``bd-duf``, ``gauss``/``aniso``
with ``phase="zero"`` → HR ``s·k``; ``realistic`` → HR ``s·k + ≈0.21``.

Rounding: MATLAB-made data (``bi``, ``bd``, ``blur-avg``) saturate and round half away from zero; data made by
Python pipelines (BVSR-IK, DynaVSR, ``gauss``/``aniso``) clamp and round half to even. Float protocols return
float32 on [0, 1] (noise may leave that range; nothing is clipped). ``noise`` (σ in 0–255 units) is added to the
LR after subsampling and before quantisation, independently per pixel, on every protocol.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

import numpy as np

from vsrkit.degrade.blur import (
    add_noise,
    bd_downscale,
    bicubic_downscale,
    blurdown,
    duf_bd_downscale,
    mod_crop,
    round_half_even,
    round_matlab,
    strided_downscale,
)
from vsrkit.degrade.kernels import (
    anisotropic_gaussian_kernel,
    duf_gaussian_kernel,
    dynavsr_kernel,
    isotropic_gaussian_kernel,
    kernel_shift,
    matlab_fspecial_gaussian,
    realistic_kernel,
)
from vsrkit.errors import VsrkitError

__all__ = [
    "Degraded",
    "Protocol",
    "get_protocol",
    "parse_protocol",
    "protocol_string",
    "with_options",
    "available_protocols",
    "DYNAVSR_ISO_SIGMAS",
    "DYNAVSR_ANISO_THETAS_DEG",
    "BVSRIK_TRAIN_SIGMAS",
]

#: DynaVSR "Gaussian8" isotropic test σ values (nine, 0.8 … 1.6); the paper reports their mean.
DYNAVSR_ISO_SIGMAS: tuple[float, ...] = tuple(round(0.8 + 0.1 * i, 1) for i in range(9))
#: DynaVSR anisotropic test angles in degrees, with (σx, σy) = (0.8, 1.6); the paper reports their mean.
DYNAVSR_ANISO_THETAS_DEG: tuple[float, ...] = (0, 45, 90, 135)
#: BVSR-IK training σ values {0.4, 0.5, …, 2.0} (17), one drawn per frame.
BVSRIK_TRAIN_SIGMAS: tuple[float, ...] = tuple(round(0.4 + 0.1 * i, 1) for i in range(17))


@dataclass
class Degraded:
    """Result of a protocol.

    Attributes:
        lr: ``(T, h, w, 3)``; uint8 for rounded protocols, float32 on [0, 1] (unclipped) for float ones.
        hr: ``(T, H, W, 3)`` uint8 ground truth matching ``lr`` (mod-cropped where the protocol crops).
        kernels: per-frame 2-D float64 kernel actually applied to the HR, ``None`` for pure bicubic.
        params: per-frame JSON-able parameters (protocol, scale, seed, sigma, theta, noise_std, ...).
        extra: protocol-specific arrays, e.g. ``{"lr_sharp": ...}`` (blur-avg), ``{"slr": ...}`` (DynaVSR).
    """

    lr: np.ndarray
    hr: np.ndarray
    kernels: list[np.ndarray] | None
    params: list[dict]
    extra: dict = field(default_factory=dict)


def _check_hr(hr: np.ndarray) -> np.ndarray:
    hr = np.asarray(hr)
    if hr.ndim == 3:
        hr = hr[None]
    if hr.ndim != 4 or hr.shape[-1] != 3:
        raise VsrkitError(f"HR frames must be (T, H, W, 3) or (H, W, 3) RGB, got shape {hr.shape}")
    if hr.dtype != np.uint8:
        raise VsrkitError(f"HR frames must be uint8, got {hr.dtype}: convert with (x * 255).round().astype(np.uint8)")
    return hr


def _make_rng(rng: np.random.Generator | int | None, default_seed: int) -> tuple[np.random.Generator, int | None]:
    if isinstance(rng, np.random.Generator):
        return rng, None
    seed = default_seed if rng is None else int(rng)
    return np.random.default_rng(seed), seed


class Protocol:
    """Base class: ``protocol(hr, rng) -> Degraded``. Subclasses implement :meth:`_degrade`.

    Options common to all protocols: ``scale`` (int), ``noise`` (additive Gaussian σ in 0–255 units on the LR),
    ``seed`` (used when no ``rng`` is passed).
    """

    name: str = ""
    #: scales the protocol is defined for (``None``: any integer ≥ 1)
    scales: tuple[int, ...] | None = None

    def __init__(self, *, scale: int = 4, noise: float = 0.0, seed: int = 0) -> None:
        if int(scale) != scale or scale < 1 or (self.scales is not None and scale not in self.scales):
            allowed = "any integer >= 1" if self.scales is None else ", ".join(map(str, self.scales))
            raise VsrkitError(f"protocol '{self.name}' does not support scale {scale}: use {allowed}")
        if not noise >= 0:
            raise VsrkitError(f"noise must be a standard deviation >= 0 (0-255 units), got {noise}")
        self.scale = int(scale)
        self.noise = float(noise)
        self.seed = int(seed)

    def __call__(self, hr: np.ndarray, rng: np.random.Generator | int | None = None) -> Degraded:
        """Degrade ``hr`` ``(T, H, W, 3)`` uint8 RGB (or one frame ``(H, W, 3)``; outputs keep a T axis of 1)."""
        frames = _check_hr(hr)
        gen, seed = _make_rng(rng, self.seed)
        out = self._degrade(frames, gen)
        base = {"protocol": self.name, "scale": self.scale, "seed": seed}
        out.params = [{**base, **p} for p in out.params]
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, scale={self.scale}, noise={self.noise})"

    def _degrade(self, hr: np.ndarray, rng: np.random.Generator) -> Degraded:
        raise NotImplementedError

    # helpers shared by the subclasses -------------------------------------------------------------------------
    def _noise(self, lr: np.ndarray, rng: np.random.Generator, params: list[dict]) -> np.ndarray:
        """Add the ``noise`` option to 0–255 LR values (before any rounding) and record it per frame."""
        for p in params:
            p["noise_std"] = self.noise
        return add_noise(lr, self.noise, rng)

    def _check_size(self, hr: np.ndarray, minimum: int) -> None:
        h, w = hr.shape[1:3]
        if min(h, w) < minimum:
            raise VsrkitError(f"protocol '{self.name}' x{self.scale} needs frames of at least {minimum} px, got {h}x{w}")


def _to_float(lr: np.ndarray) -> np.ndarray:
    return (lr / 255.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# MATLAB-made data


class BI(Protocol):
    """``bi``: MATLAB ``imresize(hr, 1/s, 'bicubic')`` (§3.1); mod-crop to s; uint8 rounded half away from zero."""

    name = "bi"

    def _degrade(self, hr, rng):
        hr = mod_crop(hr, self.scale)
        self._check_size(hr, self.scale)
        params = [{} for _ in range(len(hr))]
        lr = self._noise(bicubic_downscale(hr, self.scale), rng, params)
        return Degraded(round_matlab(lr), hr, None, params, {})


class BD(Protocol):
    """``bd``: IART's MATLAB BD (§3.2): fspecial Gaussian 12×12 σ = ``sigma`` (1.6), imfilter replicate, sample
    rows/cols 1, 5, 9, … (0-based); mod-crop to 4; uint8 rounded half away from zero (ties snapped)."""

    name = "bd"
    scales = (4,)

    def __init__(self, *, scale: int = 4, noise: float = 0.0, seed: int = 0, sigma: float = 1.6) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed)
        self.sigma = float(sigma)

    def _degrade(self, hr, rng):
        hr = mod_crop(hr, self.scale)
        self._check_size(hr, self.scale)
        k = matlab_fspecial_gaussian(2 * math.ceil(3 * self.sigma) + 2, self.sigma)
        params = [{"sigma": self.sigma} for _ in range(len(hr))]
        lr = self._noise(bd_downscale(hr, self.scale, self.sigma), rng, params)
        return Degraded(round_matlab(lr), hr, [k] * len(hr), params, {})


class DufBD(Protocol):
    """``bd-duf``: BasicSR DUF-style BD (13×13, σ = 0.4·s, reflect, phase 0); mod-crop; float32, not rounded."""

    name = "bd-duf"
    scales = (2, 3, 4)

    def _degrade(self, hr, rng):
        hr = mod_crop(hr, self.scale)
        self._check_size(hr, 7 + 2 * self.scale)
        params = [{"sigma": 0.4 * self.scale} for _ in range(len(hr))]
        lr = self._noise(duf_bd_downscale(hr, self.scale), rng, params)
        return Degraded(_to_float(lr), hr, [duf_gaussian_kernel(self.scale)] * len(hr), params, {})


class BlurAvg(Protocol):
    """``blur-avg``: FMA-Net/REDS-style motion blur by temporal averaging, then BI (§3.3).

    Output frame i averages HR frames ``j … j+window−1`` with ``j = i·stride`` (float mean, rounded to uint8 like
    the saved ``*_blur`` PNGs), then MATLAB bicubic ×1/s. ``hr`` is the sharp centre frame ``j + window//2``;
    ``extra = {"lr_sharp": BI(hr) uint8, "hr_blur": blurry HR uint8}``. T_out = ``(T − window)//stride + 1``.
    """

    name = "blur-avg"

    def __init__(
        self, *, scale: int = 4, noise: float = 0.0, seed: int = 0, window: int = 5, stride: int = 1
    ) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed)
        if int(window) != window or window < 1 or int(stride) != stride or stride < 1:
            raise VsrkitError(f"blur-avg needs integer window, stride >= 1, got window={window}, stride={stride}")
        self.window, self.stride = int(window), int(stride)

    def _degrade(self, hr, rng):
        hr = mod_crop(hr, self.scale)
        self._check_size(hr, self.scale)
        if len(hr) < self.window:
            raise VsrkitError(
                f"blur-avg needs at least window={self.window} frames, got {len(hr)}: pass more frames or a smaller window"
            )
        starts = range(0, len(hr) - self.window + 1, self.stride)
        blur = np.stack([hr[j : j + self.window].astype(np.float64).mean(axis=0) for j in starts])
        blur = round_matlab(blur)
        sharp = hr[[j + self.window // 2 for j in starts]]
        params = [{"window": self.window, "frames": list(range(j, j + self.window))} for j in starts]
        lr = self._noise(bicubic_downscale(blur, self.scale), rng, params)
        lr_sharp = round_matlab(bicubic_downscale(sharp, self.scale))
        return Degraded(round_matlab(lr), sharp, None, params, {"lr_sharp": lr_sharp, "hr_blur": blur})


# ---------------------------------------------------------------------------------------------------------------
# Generic Gaussian blur + subsampling


class _KernelProtocol(Protocol):
    """Shared application of a fixed kernel: ``phase="block"`` (KernelGAN shift + reflect + stride, block-centred)
    or ``"zero"`` (BVSR-IK blurdown, LR k ↔ HR s·k); ``quantize`` → uint8 half-to-even, else float32."""

    def __init__(self, *, scale: int, noise: float, seed: int, phase: str, quantize: bool) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed)
        if phase not in ("block", "zero"):
            raise VsrkitError(f"phase must be 'block' (LR k at HR s*k+(s-1)/2) or 'zero' (HR s*k), got {phase!r}")
        self.phase, self.quantize = phase, bool(quantize)

    def _apply(self, hr, kernel, rng, params) -> Degraded:
        hr = mod_crop(hr, self.scale)
        if self.phase == "block":
            kernel = kernel_shift(kernel, self.scale)
            kernel = kernel / kernel.sum()  # the spline shift of a truncated kernel loses ~1e-5 of its mass
            self._check_size(hr, kernel.shape[0] // 2 + 1)
            lr = strided_downscale(hr, kernel, self.scale)
        else:
            self._check_size(hr, self.scale)
            lr = blurdown(hr, kernel, self.scale)
        lr = self._noise(lr, rng, params)
        lr = round_half_even(lr) if self.quantize else _to_float(lr)
        return Degraded(lr, hr, [kernel] * len(hr), params, {})


class Gauss(_KernelProtocol):
    """``gauss``: isotropic Gaussian σ = ``sigma`` (size ``2·ceil(3σ)+1`` unless given), then subsampling."""

    name = "gauss"

    def __init__(
        self,
        *,
        scale: int = 4,
        noise: float = 0.0,
        seed: int = 0,
        sigma: float = 1.6,
        size: int | None = None,
        phase: str = "block",
        quantize: bool = True,
    ) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed, phase=phase, quantize=quantize)
        if not sigma > 0:
            raise VsrkitError(f"gauss needs sigma > 0, got {sigma}")
        self.kernel = isotropic_gaussian_kernel(float(sigma), size)
        self.sigma = float(sigma)

    def _degrade(self, hr, rng):
        params = [{"sigma": self.sigma, "phase": self.phase} for _ in range(len(hr))]
        return self._apply(hr, self.kernel, rng, params)


class Aniso(_KernelProtocol):
    """``aniso``: anisotropic Gaussian (σx, σy, θ in degrees; DynaVSR generator formula), then subsampling."""

    name = "aniso"

    def __init__(
        self,
        *,
        scale: int = 4,
        noise: float = 0.0,
        seed: int = 0,
        sigma_x: float = 0.8,
        sigma_y: float = 1.6,
        theta_deg: float = 0.0,
        size: int = 21,
        phase: str = "block",
        quantize: bool = True,
    ) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed, phase=phase, quantize=quantize)
        self.sigma_x, self.sigma_y, self.theta_deg = float(sigma_x), float(sigma_y), float(theta_deg)
        self.kernel = anisotropic_gaussian_kernel(self.sigma_x, self.sigma_y, math.radians(self.theta_deg), size)

    def _degrade(self, hr, rng):
        p = {"sigma_x": self.sigma_x, "sigma_y": self.sigma_y, "theta_deg": self.theta_deg, "phase": self.phase}
        return self._apply(hr, self.kernel, rng, [dict(p) for _ in range(len(hr))])


# ---------------------------------------------------------------------------------------------------------------
# BVSR-IK (§3.4): blurdown with replicate padding and [::4, ::4]; a new kernel for every frame


def _check_mode(mode: str) -> str:
    if mode not in ("train", "test"):
        raise VsrkitError(f"mode must be 'train' (float, on-the-fly) or 'test' (uint8 benchmark data), got {mode!r}")
    return mode


class BvsrikGaussian(Protocol):
    """``bvsrik-gaussian``: test mode: σ = ``sigma`` (1.2) 9×9 kernel on every frame, clamp + round half-even;
    train mode: σ drawn per frame from {0.4, …, 2.0}, size ``2·ceil(3σ)+1``, float32, no rounding.
    HR is not mod-cropped (LR ``ceil(H/4)``); LR k ↔ HR 4k."""

    name = "bvsrik-gaussian"
    scales = (4,)

    def __init__(
        self, *, scale: int = 4, noise: float = 0.0, seed: int = 0, mode: str = "test", sigma: float = 1.2
    ) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed)
        self.mode = _check_mode(mode)
        self.sigma = float(sigma)

    def _degrade(self, hr, rng):
        if self.mode == "test":
            sigmas = [self.sigma] * len(hr)
        else:
            sigmas = [float(s) for s in rng.choice(BVSRIK_TRAIN_SIGMAS, size=len(hr))]
        kernels = [isotropic_gaussian_kernel(s) for s in sigmas]
        lr = blurdown(hr, kernels, self.scale)
        params = [{"sigma": s, "kernel_size": int(k.shape[0]), "mode": self.mode} for s, k in zip(sigmas, kernels)]
        lr = self._noise(lr, rng, params)
        lr = round_half_even(lr) if self.mode == "test" else _to_float(lr)
        return Degraded(lr, hr, kernels, params, {})


class Realistic(Protocol):
    """``realistic`` (BVSR-IK "Realistic"): per-frame KernelGAN-style kernel (:func:`realistic_kernel`), blurdown.

    Test mode: clamp + round half-even, no noise. Train mode: float32; with ``train_noise`` (default) Gaussian noise
    of std ``U(0,1)·25`` (0–255 units, drawn per frame) after subsampling, unclipped. LR k ↔ HR 4k + ≈0.21.
    """

    name = "realistic"
    scales = (4,)

    def __init__(
        self, *, scale: int = 4, noise: float = 0.0, seed: int = 0, mode: str = "test", train_noise: bool = True
    ) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed)
        self.mode = _check_mode(mode)
        self.train_noise = bool(train_noise)

    def _degrade(self, hr, rng):
        kernels, params = [], []
        for _ in range(len(hr)):
            k, p = realistic_kernel(rng)
            p["mode"] = self.mode
            if self.mode == "train" and self.train_noise:
                p["train_noise_std"] = float(rng.uniform(0.0, 1.0) * 25.0)
            kernels.append(k)
            params.append(p)
        lr = blurdown(hr, kernels, self.scale)
        for i, p in enumerate(params):
            lr[i] = add_noise(lr[i], p.get("train_noise_std", 0.0), rng)
        lr = self._noise(lr, rng, params)
        lr = round_half_even(lr) if self.mode == "test" else _to_float(lr)
        return Degraded(lr, hr, kernels, params, {})


# ---------------------------------------------------------------------------------------------------------------
# DynaVSR (§3.5): stride-s correlation with reflection padding, block-centred; LR and SLR


class _DynaVSRBase(Protocol):
    """LR = apply(HR) rounded half-even to uint8; SLR = apply(LR) with the same kernel, rounded (``slr=True``)."""

    def __init__(self, *, scale: int, noise: float, seed: int, slr: bool) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed)
        self.slr = bool(slr)

    def _apply(self, hr, kernel, rng, param: dict) -> Degraded:
        hr = mod_crop(hr, self.scale)
        self._check_size(hr, kernel.shape[0] // 2 + 1)
        params = [dict(param) for _ in range(len(hr))]
        lr = round_half_even(self._noise(strided_downscale(hr, kernel, self.scale), rng, params))
        extra = {}
        if self.slr:
            if min(lr.shape[1:3]) <= kernel.shape[0] // 2:
                h, w = lr.shape[1:3]
                raise VsrkitError(f"LR {h}x{w} is too small for the SLR: use larger frames or slr=False")
            extra["slr"] = round_half_even(strided_downscale(lr, kernel, self.scale))
        return Degraded(lr, hr, [kernel] * len(hr), params, extra)


class DynaVSRIso(_DynaVSRBase):
    """``dynavsr-iso`` ("Gaussian8"): 21×21 Gaussian σ = ``sigma`` ⊛ MATLAB ×1/s cubic, no shift, stride s.

    The paper averages over :data:`DYNAVSR_ISO_SIGMAS` at scale 2 (pass ``scale=2``)."""

    name = "dynavsr-iso"

    def __init__(
        self, *, scale: int = 4, noise: float = 0.0, seed: int = 0, sigma: float = 1.2, slr: bool = True
    ) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed, slr=slr)
        self.sigma = float(sigma)
        self.kernel = dynavsr_kernel(self.sigma, self.sigma, 0.0, kind="bicubic", scale=self.scale)

    def _degrade(self, hr, rng):
        return self._apply(hr, self.kernel, rng, {"sigma": self.sigma, "kind": "bicubic"})


class DynaVSRAniso(_DynaVSRBase):
    """``dynavsr-aniso``: (σx, σy) = (0.8, 1.6), θ = ``theta_deg`` ∈ {0, 45, 90, 135}; kernel_shift, stride s.

    The paper averages over :data:`DYNAVSR_ANISO_THETAS_DEG` at scale 2 (pass ``scale=2``)."""

    name = "dynavsr-aniso"

    def __init__(
        self,
        *,
        scale: int = 4,
        noise: float = 0.0,
        seed: int = 0,
        theta_deg: float = 0.0,
        sigma_x: float = 0.8,
        sigma_y: float = 1.6,
        slr: bool = True,
    ) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed, slr=slr)
        self.theta_deg, self.sigma_x, self.sigma_y = float(theta_deg), float(sigma_x), float(sigma_y)
        k = dynavsr_kernel(self.sigma_x, self.sigma_y, math.radians(self.theta_deg), kind="impulse")
        self.kernel = kernel_shift(k, self.scale)

    def _degrade(self, hr, rng):
        p = {"sigma_x": self.sigma_x, "sigma_y": self.sigma_y, "theta_deg": self.theta_deg, "kind": "impulse"}
        return self._apply(hr, self.kernel, rng, p)


def _random_dynavsr_kernel(rng: np.random.Generator, sigma_max: float, scale: int) -> tuple[np.ndarray, dict]:
    """σx, σy ~ U[0.2, sigma_max), θ ~ U[−π, π); the generator's 21×21 kernel, shifted for ``scale``."""
    sx, sy = rng.uniform(0.2, sigma_max, size=2)
    theta = rng.uniform(-math.pi, math.pi)
    k = kernel_shift(anisotropic_gaussian_kernel(sx, sy, theta, 21), scale)
    return k, {"sigma_x": float(sx), "sigma_y": float(sy), "theta": float(theta), "kind": "impulse"}


class DynaVSRMixed(_DynaVSRBase):
    """``mixed`` (DynaVSR paper): one random kernel per sequence, σ1, σ2 ~ U[0.2, 2.0], θ ~ U[−π, π], direct
    subsampling; drawn from ``rng``/``seed`` (pass a per-sequence seed and publish ``params``)."""

    name = "mixed"

    def __init__(self, *, scale: int = 4, noise: float = 0.0, seed: int = 0, slr: bool = True) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed, slr=slr)

    def _degrade(self, hr, rng):
        k, p = _random_dynavsr_kernel(rng, 2.0, self.scale)
        return self._apply(hr, k, rng, p)


class DynaVSRTrain(Protocol):
    """``dynavsr-train``: the meta-training sampler — one random kernel per clip; LR quantised (×255, clamp, round
    half-even, /255) float32; ``extra["slr"]`` = apply(LR) with the same kernel and stride, float32, not quantised.

    σ ~ U[0.2, 2.0] as in the paper, or U[0.2, 5.0) as in the official code with ``code_ranges=True``."""

    name = "dynavsr-train"

    def __init__(self, *, scale: int = 4, noise: float = 0.0, seed: int = 0, code_ranges: bool = False) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed)
        self.sigma_max = 5.0 if code_ranges else 2.0

    def _degrade(self, hr, rng):
        hr = mod_crop(hr, self.scale)
        k, p = _random_dynavsr_kernel(rng, self.sigma_max, self.scale)
        self._check_size(hr, self.scale * (k.shape[0] // 2 + 1))
        params = [dict(p) for _ in range(len(hr))]
        lr = round_half_even(self._noise(strided_downscale(hr, k, self.scale), rng, params)).astype(np.float64)
        slr = strided_downscale(lr, k, self.scale)
        return Degraded(_to_float(lr), hr, [k] * len(hr), params, {"slr": _to_float(slr)})


# ---------------------------------------------------------------------------------------------------------------
# Real-world uploads (issue 16): blur, resize, noise, then a real video encoder over the whole LR clip

#: Encoders the ``compressed`` protocol draws from (FFmpeg names) and how each one's strength is set.
COMPRESSION_CODECS: tuple[str, ...] = ("libx264", "mpeg2video", "mpeg4")


class Compressed(Protocol):
    """``compressed``: what a clip goes through before it is uploaded, drawn once per clip (as one encode is):

    1. blur and resize: anisotropic Gaussian (σx, σy ~ U[``sigma_min``, ``sigma_max``], θ ~ U[0, 180)°) convolved
       with MATLAB's ×1/s antialiased cubic, one stride-s correlation (:func:`~vsrkit.degrade.kernels.dynavsr_kernel`
       ``kind="bicubic"``: block-centred, reflect padding);
    2. noise: Gaussian, σ ~ U[0, ``noise_max``] (0–255 units), rounded to uint8 (an encoder takes 8-bit frames);
    3. compression: the LR clip is encoded with vsrkit's own writer (:class:`vsrkit.io.VideoWriter`, yuv420p,
       BT.709) by a codec drawn from ``codecs`` — x264 at CRF ~ U{``crf_min`` … ``crf_max``}, MPEG-2 or MPEG-4
       Part 2 at ``bpp`` ~ log-U[``bpp_min``, ``bpp_max``] bits per pixel — and decoded back with
       :class:`vsrkit.io.VideoReader`. The encoder sees the whole clip, so the artifacts are temporal (motion
       prediction, GOP structure, flicker), not per-frame JPEG blocks.

    Any drawn value can be fixed (``sigma_x``, ``sigma_y``, ``theta_deg``, ``noise_level``, ``noise_seed``,
    ``codec``, ``crf``, ``bpp``); every frame's ``params`` record all of them, so ``get_protocol("compressed",
    **recorded)`` reproduces the LR (:meth:`replay_options`). ``codec="none"`` skips step 3 (the uncompressed LR).
    Odd LR sizes are edge-padded to even for 4:2:0 and cropped back. Output: uint8 LR, mod-cropped HR.
    """

    name = "compressed"

    def __init__(self, *, scale: int = 4, noise: float = 0.0, seed: int = 0, sigma_min: float = 0.2,
                 sigma_max: float = 1.5, noise_max: float = 8.0, codecs: str = ",".join(COMPRESSION_CODECS),
                 crf_min: int = 18, crf_max: int = 35, bpp_min: float = 0.02, bpp_max: float = 0.4,
                 preset: str = "medium", fps: float = 25.0, sigma_x: float | None = None,
                 sigma_y: float | None = None, theta_deg: float | None = None, noise_level: float | None = None,
                 noise_seed: int | None = None, codec: str | None = None, crf: int | None = None,
                 bpp: float | None = None) -> None:
        super().__init__(scale=scale, noise=noise, seed=seed)
        self.codecs = tuple(c.strip() for c in str(codecs).split(",") if c.strip())
        unknown = [c for c in (*self.codecs, *([codec] if codec else [])) if c not in (*COMPRESSION_CODECS, "none")]
        if unknown or not self.codecs:
            raise VsrkitError(f"unknown codec {unknown[0] if unknown else codecs!r} for protocol 'compressed': use "
                              f"{', '.join(COMPRESSION_CODECS)} or none")
        if not 0 < sigma_min <= sigma_max or not 0 <= crf_min <= crf_max <= 51 or not 0 < bpp_min <= bpp_max \
                or noise_max < 0:
            raise VsrkitError("protocol 'compressed' needs 0 < sigma_min <= sigma_max, 0 <= crf_min <= crf_max <= 51, "
                              "0 < bpp_min <= bpp_max and noise_max >= 0")
        self.ranges = {"sigma": (float(sigma_min), float(sigma_max)), "noise": float(noise_max),
                       "crf": (int(crf_min), int(crf_max)), "bpp": (float(bpp_min), float(bpp_max))}
        self.preset, self.fps = str(preset), float(fps)
        self.fixed = {"sigma_x": sigma_x, "sigma_y": sigma_y, "theta_deg": theta_deg, "noise_level": noise_level,
                      "noise_seed": noise_seed, "codec": codec, "crf": crf, "bpp": bpp}

    #: The drawn values, recorded per frame and accepted back as options.
    REPLAY_KEYS = ("sigma_x", "sigma_y", "theta_deg", "noise_level", "noise_seed", "codec", "crf", "bpp")

    @classmethod
    def replay_options(cls, params: dict) -> dict:
        """Options that rebuild the exact degradation recorded in one frame's ``params`` (a sidecar entry)."""
        opts = {k: params[k] for k in cls.REPLAY_KEYS if params.get(k) is not None}
        return {"scale": int(params["scale"]), "preset": params.get("preset", "medium"), **opts}

    def _draw(self, rng: np.random.Generator) -> dict:
        """Every random choice, drawn in a fixed order (so fixing one value never shifts the others)."""
        lo, hi = self.ranges["sigma"]
        drawn = {"sigma_x": float(rng.uniform(lo, hi)), "sigma_y": float(rng.uniform(lo, hi)),
                 "theta_deg": float(rng.uniform(0.0, 180.0)), "noise_level": float(rng.uniform(0, self.ranges["noise"])),
                 "noise_seed": int(rng.integers(0, 2**31 - 1)), "codec": str(rng.choice(self.codecs)),
                 "crf": int(rng.integers(self.ranges["crf"][0], self.ranges["crf"][1] + 1)),
                 "bpp": float(math.exp(rng.uniform(*np.log(self.ranges["bpp"]))))}
        drawn.update({k: v for k, v in self.fixed.items() if v is not None})
        if drawn["codec"] != "libx264":
            drawn["crf"] = None
        if drawn["codec"] not in ("mpeg2video", "mpeg4"):
            drawn["bpp"] = None
        return drawn

    def _degrade(self, hr, rng):
        hr = mod_crop(hr, self.scale)
        d = self._draw(rng)
        kernel = dynavsr_kernel(d["sigma_x"], d["sigma_y"], math.radians(d["theta_deg"]), kind="bicubic",
                                scale=self.scale)
        self._check_size(hr, self.scale * (kernel.shape[0] // 2 + 1))
        lr = strided_downscale(hr, kernel, self.scale)
        lr = add_noise(lr, float(d["noise_level"]), np.random.default_rng(int(d["noise_seed"])))
        params = [{**d, "preset": self.preset} for _ in range(len(hr))]
        lr = round_half_even(self._noise(lr, rng, params))
        if d["codec"] != "none":
            lr = encode_decode(lr, d["codec"], crf=d["crf"], bpp=d["bpp"], preset=self.preset, fps=self.fps)
        return Degraded(lr, hr, [kernel] * len(hr), params, {})


def encode_decode(frames: np.ndarray, codec: str, *, crf: int | None = None, bpp: float | None = None,
                  preset: str = "medium", fps: float = 25.0) -> np.ndarray:
    """``(T, h, w, 3)`` uint8 RGB → the same clip after one encode with ``codec`` and a decode, through vsrkit's
    own video writer and reader (a temporary file, removed afterwards). x264 takes ``crf``; MPEG-2/MPEG-4 take
    ``bpp`` bits per pixel (bitrate = bpp·w·h·fps)."""
    import tempfile

    from vsrkit.io import VideoReader, VideoWriter

    t, h, w, _ = frames.shape
    pad = ((0, 0), (0, h % 2), (0, w % 2), (0, 0))
    padded = np.pad(frames, pad, mode="edge") if any(p[1] for p in pad) else frames
    options = {"threads": "1"}  # one thread: the bitstream (and so the LR) cannot depend on the machine
    if bpp is not None:
        options["b"] = str(max(1, int(round(bpp * padded.shape[1] * padded.shape[2] * fps))))
    with tempfile.TemporaryDirectory(prefix="vsrkit-compress-") as tmp:
        path = f"{tmp}/clip.mkv"
        with VideoWriter(path, fps=fps, width=padded.shape[2], height=padded.shape[1], codec=codec,
                         crf=int(crf) if crf is not None else 23, preset=preset, threaded=False,
                         options=options) as writer:
            for frame in padded:
                writer.write(np.ascontiguousarray(frame))
        with VideoReader(path, dtype="uint8", threaded=False) as reader:
            out = np.stack([f.rgb for f in reader])
    if out.shape[0] != t:
        raise VsrkitError(f"{codec} round trip returned {out.shape[0]} frames for {t}: report this encoder setup")
    return np.ascontiguousarray(out[:, :h, :w])


# ---------------------------------------------------------------------------------------------------------------
# Registry: one explicit table

_PROTOCOLS: dict[str, type[Protocol]] = {
    cls.name: cls
    for cls in (
        BI,
        BD,
        DufBD,
        Gauss,
        Aniso,
        BvsrikGaussian,
        Realistic,
        DynaVSRIso,
        DynaVSRAniso,
        DynaVSRMixed,
        DynaVSRTrain,
        BlurAvg,
        Compressed,
    )
}
_ALIASES = {"gaussian": "gauss", "bvsrik-realistic": "realistic", "dynavsr-mixed": "mixed", "real": "compressed"}


def available_protocols() -> list[str]:
    """Canonical protocol names (aliases: ``gaussian``, ``bvsrik-realistic``, ``dynavsr-mixed``)."""
    return sorted(_PROTOCOLS)


def _option_value(text: str):
    """A command-line option value: int, float, true/false, none, else the string itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_protocol(text: str) -> tuple[str, dict]:
    """``"NAME[:KEY=VALUE,KEY=VALUE...]"`` → ``(NAME, options)``; values become int/float/bool/None where they
    read as one. A piece without ``=`` continues the previous value, so list options keep their commas
    (``compressed:codecs=libx264,mpeg4,crf_max=30``)."""
    name, _, rest = str(text).partition(":")
    options: dict = {}
    last = None
    for piece in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = piece.partition("=")
        if eq:
            last = key.strip().replace("-", "_")
            if last in options:
                raise VsrkitError(f"protocol option {last!r} is given twice in {text!r}: keep one")
            if not last:
                raise VsrkitError(f"protocol option {piece!r} has no name: write KEY=VALUE, e.g. {name}:seed=1")
            options[last] = value
        elif last is None:
            raise VsrkitError(f"protocol option {piece!r} needs a value: write KEY=VALUE, e.g. {name}:{piece}=...")
        else:
            options[last] += "," + piece
    return name.strip(), {k: _option_value(v) for k, v in options.items()}


def with_options(text: str, pairs: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` plus ``KEY=VALUE`` pairs (``--protocol-opt``), as one protocol string for :func:`get_protocol`."""
    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise VsrkitError(f"--protocol-opt {bad[0]!r} needs KEY=VALUE: e.g. --protocol-opt sigma=1.6")
    if not pairs:
        return str(text)
    return str(text) + ("," if ":" in str(text) else ":") + ",".join(pairs)


def protocol_string(spec: str | dict) -> str:
    """A protocol as a config writes it (a name, or ``{name: ..., key: value}``) → the command-line string
    ``get_protocol`` and ``-p`` accept (``{"name": "dynavsr-iso", "sigma": 1.6}`` → ``"dynavsr-iso:sigma=1.6"``)."""
    if isinstance(spec, str):
        return spec
    opts = {k: v for k, v in spec.items() if k != "name"}
    return with_options(spec["name"], [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in opts.items()])


def get_protocol(name: str, *, scale: int = 4, noise: float = 0.0, **options) -> Protocol:
    """Build the protocol called ``name`` (case-insensitive, ``_`` = ``-``).

    Args:
        name: one of :func:`available_protocols` or an alias, optionally with options as on the command line:
            ``"dynavsr-iso:sigma=1.6"``, ``"compressed:codec=libx264,crf=30"`` (:func:`parse_protocol`).
        scale: downscaling factor (BD, BVSR-IK: 4 only; DUF-BD: 2–4; DynaVSR's tables use 2).
        noise: additive Gaussian noise σ on the LR in 0–255 units (0: none).
        options: protocol-specific keyword options (``seed``, ``sigma``, ``mode``, ``theta_deg``, ``window``, …).

    Raises:
        VsrkitError: unknown name or option, or an invalid value.
    """
    name, inline = parse_protocol(name)
    clash = sorted(set(inline) & set(options))
    if clash:
        raise VsrkitError(f"protocol option {clash[0]!r} is given twice: keep it in one place")
    options = {**inline, **options}
    if "scale" in inline:
        raise VsrkitError("the scale is not a protocol option: give it with --scale (or the config's scale)")
    if "noise" in options:  # inline noise=S: the same option as the keyword
        if noise:
            raise VsrkitError("protocol option 'noise' is given twice: keep it in one place")
        noise = options.pop("noise")
    key = str(name).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    cls = _PROTOCOLS.get(key)
    if cls is None:
        raise VsrkitError(f"unknown degradation protocol {name!r}: use one of {', '.join(available_protocols())}")
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise VsrkitError(
            f"unknown option(s) {', '.join(unknown)} for protocol '{key}': valid options are {', '.join(valid)}"
        )
    try:
        return cls(scale=scale, noise=noise, **options)
    except (TypeError, ValueError) as exc:  # e.g. sigma="wide": report it as a user error, on one line
        raise VsrkitError(f"bad option value for protocol '{key}' ({exc}): check {', '.join(valid)}") from None
