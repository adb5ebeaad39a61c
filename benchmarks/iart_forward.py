"""CPU forward time of IA-RT (official IART) on a 6-frame 64×64 clip, the configuration quoted in the issue.

Usage: ``OMP_NUM_THREADS=2 python benchmarks/iart_forward.py [--variant paper|golden|small] [--frames 6]
[--size 64] [--threads 2] [--repeat 2] [--warmup 1]``

The official implementation takes about 50 s for this clip (fp32, 2 CPU threads; reference/iart.md §2.5). vsrkit's
implementation gathers all implicit-alignment windows with one flat index (no loops over windows or cells), applies
``F_k``/``F_v`` to the ``H·W`` source tokens before gathering, and runs every Swin window of a volume through one
``scaled_dot_product_attention`` call with cached shift masks. Weights are random (timing only). Reports wall time,
process CPU time, and the share spent in the implicit alignment, the Swin backbones and SpyNet (forward hooks).
The machine may be shared: compare CPU time as well as wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import torch

from vsrkit.models.iart import IART, VARIANTS

GOLDEN = {"mid_channels": 8, "embed_dim": 12, "depths": [2], "num_heads": [2], "window_size": [3, 8, 8]}


def _timed(model: IART) -> dict[str, float]:
    """Forward hooks accumulating wall time per component."""
    totals: dict[str, float] = defaultdict(float)
    starts: dict[int, float] = {}

    def add(name: str, module: torch.nn.Module) -> None:
        module.register_forward_pre_hook(lambda m, a: starts.__setitem__(id(m), time.perf_counter()))
        module.register_forward_hook(
            lambda m, a, o: totals.__setitem__(name, totals[name] + time.perf_counter() - starts[id(m)]))

    add("implicit_align", model.implicit_warp)
    add("spynet", model.spynet)
    for backbone in model.swin_backbone.values():
        add("swin_backbones", backbone)
    return totals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="paper", choices=["paper", "golden", "small"])
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1, help="untimed forwards first (0 on a busy machine)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    kwargs = GOLDEN if args.variant == "golden" else VARIANTS[args.variant]
    model = IART(**kwargs).eval()
    totals = _timed(model)
    x = torch.rand(1, args.frames, 3, args.size, args.size)
    walls, cpus = [], []
    with torch.inference_mode():
        for _ in range(args.warmup):  # allocator, masks, cached biases
            model(x)
        totals.clear()
        for _ in range(args.repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            model(x)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    params = sum(p.numel() for p in model.parameters())
    print(f"IART {args.variant} ({params:,} params), input {tuple(x.shape)}, fp32, {args.threads} threads")
    print(f"forward wall: median {statistics.median(walls):.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)}); "
          f"process CPU {statistics.median(cpus):.2f} s")
    for name, total in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {name:15s} {total / args.repeat:7.2f} s per forward")
    print("official reference (reference/iart.md): ~50 s for this clip on 2 CPU threads")


if __name__ == "__main__":
    main()
