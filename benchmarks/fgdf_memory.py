"""Flow-guided dynamic filtering (FMA-Net Eqs. 6-7): time and peak memory of vsrkit's lean ops versus the
straightforward unfold formulation, at paper sizes (T = 3, k_d = 20, stride 4, k_r = 5, ×4).

Each measurement runs in a fresh subprocess; peak memory is the growth of the process's peak RSS over the RSS
after the inputs were allocated (CPU) or ``torch.cuda.max_memory_allocated`` (CUDA).

    OMP_NUM_THREADS=1 python benchmarks/fgdf_memory.py                 # LR 64x64 and 180x320, fwd and fwd+bwd
    python benchmarks/fgdf_memory.py --sizes 64x64 --device cuda
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def child(impl: str, op: str, h: int, w: int, grad: bool, device: str, repeats: int) -> dict:
    import torch

    from vsrkit.ops import dynamic_filter as dfl

    torch.manual_seed(0)
    t, s = 3, 4
    dev = torch.device(device)
    if op == "down":  # HR warped clip (3 colour channels + the warped-ones channel), K^D softmax weights
        k = 20
        x = torch.rand(1, 4, t, s * h, s * w, device=dev, requires_grad=grad)
        wts = torch.softmax(torch.randn(1, t * k * k, h, w, device=dev), 1).view(1, t, k, k, h, w).requires_grad_(grad)
        fn = dfl.dynamic_downsample if impl == "lean" else dfl.dynamic_downsample_unfold
        run = lambda: fn(x, wts, stride=s)  # noqa: E731
    else:  # LR warped clip, K^R (sub-pixel, frame, taps)
        k = 5
        x = torch.rand(1, 3, t, h, w, device=dev, requires_grad=grad)
        wts = torch.randn(1, s, s, t, k, k, h, w, device=dev).requires_grad_(grad)
        fn = dfl.dynamic_upsample if impl == "lean" else dfl.dynamic_upsample_unfold
        run = lambda: fn(x, wts, scale=s)  # noqa: E731
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_mb()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with torch.set_grad_enabled(grad):
            y = run()
            if grad:
                y.square().mean().backward()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        del y
    if dev.type == "cuda":
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return {"time_s": min(times), "peak_mb": peak}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["64x64", "180x320"], help="LR sizes HxW")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        impl, op, h, w, grad, dev = a.child
        print(json.dumps(child(impl, op, int(h), int(w), grad == "1", dev, a.repeats)))
        return
    print(f"{'op':5} {'LR size':9} {'mode':8} {'unfold s':>9} {'lean s':>8} {'unfold MB':>10} {'lean MB':>8}")
    for size in a.sizes:
        h, w = (int(v) for v in size.split("x"))
        for op in ("down", "up"):
            for grad in ("0", "1"):
                res = {}
                for impl in ("unfold", "lean"):
                    out = subprocess.run([sys.executable, __file__, "--repeats", str(a.repeats), "--child", impl, op,
                                          str(h), str(w), grad, a.device], capture_output=True, text=True)
                    if out.returncode:
                        res[impl] = {"time_s": float("nan"), "peak_mb": float("nan")}
                        print(out.stderr.strip().splitlines()[-1], file=sys.stderr)
                    else:
                        res[impl] = json.loads(out.stdout.strip().splitlines()[-1])
                mode = "fwd+bwd" if grad == "1" else "fwd"
                print(f"{op:5} {size:9} {mode:8} {res['unfold']['time_s']:9.3f} {res['lean']['time_s']:8.3f} "
                      f"{res['unfold']['peak_mb']:10.1f} {res['lean']['peak_mb']:8.1f}", flush=True)


if __name__ == "__main__":
    main()
