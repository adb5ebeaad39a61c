"""DynaVSR test-time adaptation: baseline vs adapted RGB PSNR (uint8, full frame) and adaptation time on the held-out
``carphone_pristine`` clip under DynaVSR's test protocols (isotropic σ sweep, anisotropic 4 rotations, mixed).

    OMP_NUM_THREADS=1 python benchmarks/dynavsr_adapt.py            # the shipped EDVR-tiny x2 + MFDN
    OMP_NUM_THREADS=1 python benchmarks/dynavsr_adapt.py --weights runs/dyn_meta/weights/latest.safetensors \
        --model edvr --variant tiny_x2 --mfdn-feat 16 [--steps 1 --lr 1e-4 --per clip --frames 12 --quick]

Without ``--weights`` the shipped checkpoints (``vsrkit.models.catalogue`` entries ``edvr`` and ``mfdn``) are used. ``--weights``
is a DynaVSR pair file written by the ``dynavsr`` recipe (``vsr.*``/``mfdn.*`` keys). ``--mfdn-fixed``
optionally names the pre-trained (MFDN-stage) pair whose MFDN gives the pseudo-GT SLR (the official ``fixed_E``).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from vsrkit.data.samples import sample_clip
from vsrkit.engine.adapt import evaluate_protocols, format_adaptation_rows
from vsrkit.engine.recipes.dynavsr import DynaVSRPair, load_pair
from vsrkit.models import registry
from vsrkit.models.dynavsr import MFDN


def _read(name: str, frames: int, size: int) -> np.ndarray:
    import av

    out = []
    with av.open(str(sample_clip(name))) as c:
        for f in c.decode(video=0):
            out.append(f.to_ndarray(format="rgb24"))
            if len(out) == frames:
                break
    hr = np.stack(out)
    return hr[:, : hr.shape[1] // size * size, : hr.shape[2] // size * size]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None, help="a DynaVSR pair file (default: the shipped edvr + mfdn)")
    ap.add_argument("--mfdn-fixed", default=None)
    ap.add_argument("--model", default="edvr")
    ap.add_argument("--variant", default="tiny_x2")
    ap.add_argument("--mfdn-feat", type=int, default=16)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--per", choices=("clip", "window"), default="clip")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--quick", action="store_true", help="one setting per protocol family")
    args = ap.parse_args()
    torch.manual_seed(0)
    spec = registry.spec(args.model)
    vsr = registry.build(args.model, args.variant)
    scale = int(vsr.scale)
    if args.weights is None:
        from vsrkit.models import catalogue
        from vsrkit.engine.adapt import load_mfdn
        from vsrkit.models.weights import load_model

        pair = DynaVSRPair(load_model(catalogue.shipped_path("edvr")), load_mfdn(str(catalogue.shipped_path("mfdn"))))
        spec = registry.spec("edvr")
        scale = int(pair.vsr.scale)
    else:
        pair = DynaVSRPair(vsr, MFDN(num_feat=args.mfdn_feat, scale=scale))
        load_pair(args.weights, pair)
    fixed = None
    if args.mfdn_fixed:
        fixed_pair = DynaVSRPair(registry.build(args.model, args.variant), MFDN(num_feat=args.mfdn_feat, scale=scale))
        load_pair(args.mfdn_fixed, fixed_pair, parts=("mfdn",))
        fixed = fixed_pair.mfdn
    hr = _read("carphone_pristine", args.frames, 4 * scale * max(spec.size_multiple, 1))
    protocols = None
    if args.quick:
        protocols = [("dynavsr-iso", {"sigma": 1.2}), ("dynavsr-aniso", {"theta_deg": 45}), ("mixed", {"seed": 0})]
    rows = evaluate_protocols(pair.vsr.eval(), spec, pair.mfdn.eval(), hr, protocols=protocols, steps=args.steps,
                              lr=args.lr, per=args.per, mfdn_fixed=fixed)
    print(format_adaptation_rows(rows))
    print(f"mean gain {np.mean([r['gain'] for r in rows]):+.3f} dB over {len(rows)} settings "
          f"(RGB PSNR, uint8, full frame, {args.frames} frames, per={args.per}, steps={args.steps}, lr={args.lr})")


if __name__ == "__main__":
    main()
