"""Peak memory of ``vsrkit upscale`` on videos 10x and 100x longer than the first: streaming must keep it flat.

Usage: ``python benchmarks/memory_streaming.py [--frames 30 300 3000] [--size 128x96] [--chunk 8] [--tile 64]``

It prints the three peaks and the largest/smallest ratio (the target is within 5 %).

Each run is a fresh interpreter that upscales a synthetic H.264 clip with the bicubic model (x4) and reports its
own peak resident set size (``ru_maxrss``), so the numbers include python + torch + PyAV. Holding every output frame
would add ``frames x 4W x 4H x 3`` bytes (177 MB for 300 frames of 128x96): compare that with the difference.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]

_CHILD = """
import resource, sys
from vsrkit.cli import main
rc = main(sys.argv[1:])
print("PEAK_RSS_KB", rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_clip(path: Path, frames: int, width: int, height: int) -> None:
    """A moving pattern encoded with x264 ultrafast (fast to make, cheap to decode)."""
    y, x = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=Fraction(25), options={"preset": "ultrafast", "crf": "18"})
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            rgb = np.stack([(x * 3 + i * 7) % 256, (y * 4 + i) % 256, ((x ^ y) + 3 * i) % 256], -1).astype(np.uint8)
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = i
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def peak_rss(args: list[str], cwd: Path) -> tuple[int, float]:
    """Run ``vsrkit ARGS`` in a fresh interpreter; return (peak RSS in KiB, wall seconds)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - t
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("PEAK_RSS_KB")]
    if done.returncode != 0 or not line or line[0].split()[1] != "0":
        sys.exit(f"vsrkit {' '.join(args)} failed:\n{done.stderr}")
    return int(line[0].split()[2]), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[30, 300, 3000],
                    help="clip lengths (default: 30 300 3000)")
    ap.add_argument("--size", default="128x96", help="input WxH (default 128x96; output is x4)")
    ap.add_argument("--chunk", type=int, default=8)
    ap.add_argument("--tile", type=int, default=64, help="LR tile size (0: no tiling)")
    ap.add_argument("--preset", default="ultrafast")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    levers = ["--chunk", str(args.chunk), "--preset", args.preset, "--quiet", "--no-audio"]
    if args.tile:
        levers += ["--tile", str(args.tile)]
    print(f"bicubic x4, {w}x{h} -> {4 * w}x{4 * h}, {' '.join(levers)}")
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for n in args.frames:
            src = tmp_path / f"in{n}.mp4"
            make_clip(src, n, w, h)
            kb, wall = peak_rss(["upscale", str(src), "-o", str(tmp_path / f"out{n}.mp4"), *levers], tmp_path)
            peaks[n] = kb
            held = n * 16 * w * h * 3 / 2**20
            print(f"{n:6d} frames: peak RSS {kb / 1024:8.1f} MiB  ({wall:5.1f} s; holding all outputs would add "
                  f"{held:.0f} MiB)", flush=True)
    first = args.frames[0]
    for n in args.frames[1:]:
        print(f"ratio {n}/{first} frames: {peaks[n] / peaks[first]:.3f}")
    print("peak RSS MiB: " + " / ".join(f"{peaks[n] / 1024:.1f}" for n in args.frames)
          + f" for {' / '.join(map(str, args.frames))} frames; largest/smallest {max(peaks.values()) / min(peaks.values()):.3f}")


if __name__ == "__main__":
    main()
