"""What every frame reader and writer shares (video files and frame folders alike): the stream description
:class:`VideoInfo`, the decoded :class:`Frame`, the :class:`FrameReader` protocol, the dtype rule and the frame check.

:mod:`vsrkit.io.video` and :mod:`vsrkit.io.frames` both build on this module, so neither imports the other's
internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Literal, Protocol

import numpy as np

from vsrkit.errors import VsrkitError

Dtype = Literal["uint8", "uint16", "auto"]


@dataclass
class VideoInfo:
    """What the rest of vsrkit needs to know about an input (video file or frame folder)."""

    path: str
    width: int
    height: int
    fps: Fraction
    num_frames: int | None  # an estimate for video files; exact for frame folders. Never used for correctness.
    duration: float | None
    pix_fmt: str
    bit_depth: int
    color_matrix: str  # 'bt709' | 'bt601' | 'bt2020' | 'smpte240m' | 'fcc' | 'rgb'
    color_range: str  # 'tv' | 'pc'
    has_audio: bool
    has_subtitles: bool
    codec: str
    color_matrix_source: str = "tagged"  # 'tagged' or 'guessed' (untagged stream, HD rule applied)
    start_time: float = 0.0  # presentation time of the first frame (non-zero e.g. in MPEG-TS)
    is_folder: bool = False
    # Display rotation in degrees counter-clockwise (phone videos: the pixels are stored as the sensor saw them and
    # players turn them). vsrkit processes the stored pixels and writes the same rotation tag on video outputs.
    rotation: int = 0
    # Pixel aspect ratio (anamorphic DVD/broadcast video: non-square pixels); None means square/unknown. An upscale
    # keeps it, so the output is displayed with the input's shape.
    sample_aspect_ratio: Fraction | None = None
    # Colour tags as FFmpeg names (:data:`PRIMARIES`, :data:`TRANSFERS`, :data:`MATRIX_TAGS`); None = untagged.
    color_primaries: str | None = None
    color_transfer: str | None = None
    color_space: str | None = None
    # Interlacing: 'progressive', the field order of interlaced video as ffprobe names it ('tt' top field first,
    # 'bb', 'tb', 'bt'), or 'interlaced' when only the frames say so.
    field_order: str = "progressive"


@dataclass
class Frame:
    """One decoded frame: RGB pixels, its position in decode order and its presentation time."""

    rgb: np.ndarray  # (H, W, 3) uint8, or uint16 at full 16-bit scale
    index: int
    time: float | None  # seconds; kept so variable frame rates and odd timestamps survive a round trip


class FrameReader(Protocol):
    """Iterates frames in presentation order; closing stops any background thread."""

    info: VideoInfo

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

    def __enter__(self) -> "FrameReader": ...

    def __exit__(self, *exc: object) -> None: ...


def want_uint16(dtype: Dtype, bit_depth: int) -> bool:
    """True when frames should be kept at 16-bit scale: asked for, or ``auto`` with a >8-bit source."""
    if dtype not in ("uint8", "uint16", "auto"):
        raise VsrkitError(f"unknown dtype {dtype!r}: use 'uint8', 'uint16' or 'auto'")
    return dtype == "uint16" or (dtype == "auto" and bit_depth > 8)


def check_frame(frame: np.ndarray, width: int, height: int) -> None:
    """Refuse a frame a writer opened for ``width`` x ``height`` cannot take: (H, W, 3) uint8/uint16 only."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", type(frame).__name__)
        raise VsrkitError(f"frame has shape {shape}, expected (H, W, 3) RGB: convert the frame before writing")
    if frame.shape[0] != height or frame.shape[1] != width:
        raise VsrkitError(f"frame is {frame.shape[1]}x{frame.shape[0]} but the writer was opened for "
                          f"{width}x{height}: open the writer with the output size")
    if frame.dtype not in (np.uint8, np.uint16):
        raise VsrkitError(f"frame dtype is {frame.dtype}, expected uint8 or uint16: clip and convert before writing")
