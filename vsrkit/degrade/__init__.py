"""Degradation protocols: HR video frames → LR frames, exact to the sampling phase (docs/conventions.md §3).

Typical use::

    from vsrkit.degrade import get_protocol
    out = get_protocol("bi", scale=4)(hr)          # hr: (T, H, W, 3) uint8 RGB
    out.lr, out.hr, out.kernels, out.params, out.extra

Building blocks (kernels, blur/subsample operators, rounding, noise) are exported too; operators work on
``(T, H, W, C)`` arrays and return unrounded float64 in the input's units.
"""

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
    center_of_mass,
    duf_gaussian_kernel,
    dynavsr_kernel,
    isotropic_gaussian_kernel,
    kernel_shift,
    matlab_cubic_taps,
    matlab_fspecial_gaussian,
    realistic_kernel,
)
from vsrkit.degrade.protocols import (
    BVSRIK_TRAIN_SIGMAS,
    DYNAVSR_ANISO_THETAS_DEG,
    DYNAVSR_ISO_SIGMAS,
    Degraded,
    Protocol,
    available_protocols,
    get_protocol,
    parse_protocol,
    protocol_string,
    with_options,
)

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
    "mod_crop",
    "bicubic_downscale",
    "bd_downscale",
    "duf_bd_downscale",
    "blurdown",
    "strided_downscale",
    "add_noise",
    "round_matlab",
    "round_half_even",
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
