"""Deinterlacing of decoded RGB frames with FFmpeg's yadif filter (through a PyAV filter graph).

Interlaced video stores two fields per frame, taken 1/(2·fps) apart; a super-resolution model treats the comb
pattern of moving edges as detail and sharpens it. ``yadif`` ("yet another deinterlacing filter") rebuilds every
frame from one field, filling the other field's lines by edge-directed spatial interpolation checked against the
neighbouring frames (temporal), so static areas keep full vertical resolution. It runs in ``send_frame`` mode: one
output frame per input frame, same count and timestamps, at the cost of one frame of latency.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from fractions import Fraction

import av
import numpy as np

from vsrkit.errors import VsrkitError

_RGB48 = "rgb48le" if sys.byteorder == "little" else "rgb48be"
# ffprobe's field orders -> yadif's parity (the field that comes first in time): 0 top, 1 bottom, -1 auto.
_PARITY = {"tt": 0, "tb": 0, "bb": 1, "bt": 1}


def deinterlace(frames: Iterable[np.ndarray], field_order: str) -> Iterator[np.ndarray]:
    """Deinterlace ``(H, W, 3)`` uint8/uint16 RGB frames (yadif, send_frame mode, all frames); yields as many frames
    as it gets, in order, with the input's dtype. ``field_order`` is :attr:`vsrkit.io.VideoInfo.field_order`."""
    graph = sink = None
    fmt = ""
    pts = 0
    for rgb in frames:
        if graph is None:
            fmt = "rgb24" if rgb.dtype == np.uint8 else _RGB48
            graph, sink = _build(rgb.shape[1], rgb.shape[0], fmt, _PARITY.get(field_order, -1))
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
        frame.pts, frame.time_base = pts, Fraction(1, 25)
        pts += 1
        graph.push(frame)
        yield from _drain(graph, fmt)
    if graph is not None:
        graph.push(None)  # flush: yadif holds one frame back
        yield from _drain(graph, fmt)


def _build(width: int, height: int, fmt: str, parity: int):
    try:
        graph = av.filter.Graph()
        src = graph.add_buffer(width=width, height=height, format=fmt, time_base=Fraction(1, 25))
        yadif = graph.add("yadif", f"mode=send_frame:parity={parity}:deint=all")
        back = graph.add("format", fmt)
        sink = graph.add("buffersink")
        src.link_to(yadif)
        yadif.link_to(back)
        back.link_to(sink)
        graph.configure()
    except (av.error.FFmpegError, ValueError, KeyError) as e:
        raise VsrkitError(f"this FFmpeg build cannot deinterlace with yadif ({e}): deinterlace the input with "
                          "ffmpeg -vf yadif first") from None
    return graph, sink


def _drain(graph, fmt: str) -> Iterator[np.ndarray]:
    while True:
        try:
            out = graph.vpull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        yield out.to_ndarray(format=fmt)
