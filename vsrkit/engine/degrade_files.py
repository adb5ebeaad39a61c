"""Apply a degradation protocol to a video or frame folder on disk and save the kernels beside the result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vsrkit.degrade import get_protocol
from vsrkit.errors import VsrkitError
from vsrkit.io import open_reader, open_writer
from vsrkit.io.outputs import OutputSet


def sidecar_paths(output: Path) -> tuple[Path, Path]:
    """``OUTPUT.kernels.npy`` and ``OUTPUT.degradation.json`` next to ``output`` (a folder or a file)."""
    base = output.parent / output.name.rstrip("/")
    return base.with_name(base.name + ".kernels.npy"), base.with_name(base.name + ".degradation.json")


def degrade_path(
    src: Path,
    dst: Path,
    *,
    protocol: str,
    scale: int = 4,
    seed: int = 0,
    noise: float = 0.0,
    max_frames: int | None = None,
    overwrite: bool = False,
    save_hr: Path | None = None,
) -> str:
    """Degrade the clip at ``src`` into ``dst``; return a one-line summary.

    ``save_hr``: also write the ground truth that matches the LR (the mod-cropped HR frames) there, for
    ``vsrkit eval --gt`` (a PNG folder, or a video by its suffix — use a lossless codec for scoring).

    Float-valued protocols (training-mode BVSR-IK, DUF-BD) are quantised (round half to even) when written as
    8-bit images; the kernels and parameters of every frame go to the sidecar files.
    """
    proto = get_protocol(protocol, scale=scale, noise=noise)
    kernels_path, meta_path = sidecar_paths(dst)
    parts = [dst, kernels_path, meta_path] + ([save_hr] if save_hr is not None else [])
    # One transaction: LR frames, their sidecars and the ground truth appear together or not at all.
    outs = OutputSet(parts, inputs=[src], overwrite=overwrite, kinds=["any", "file", "file", "any"][: len(parts)])
    with open_reader(src, dtype="uint8") as reader:
        info = reader.info
        frames = []
        for frame in reader:
            frames.append(frame.rgb)
            if max_frames is not None and len(frames) >= max_frames:
                break
    if not frames:
        raise VsrkitError(f"input {str(src)!r} has no frames: check the file")
    result = proto(np.stack(frames), np.random.default_rng(seed))
    lr = result.lr
    if lr.dtype != np.uint8:
        lr = np.clip(np.round(lr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    t, h, w = lr.shape[:3]
    with outs:
        with open_writer(outs.temp(dst), like=info, fps=info.fps, width=w, height=h,
                         pix_fmt="yuv444p" if (h % 2 or w % 2) else "yuv420p") as writer:
            for frame in lr:
                writer.write(frame)
        if save_hr is not None:
            hr = result.hr
            with open_writer(outs.temp(save_hr), like=info, fps=info.fps, width=hr.shape[2], height=hr.shape[1]) \
                    as writer:
                for frame in hr:
                    writer.write(frame)
        if result.kernels is not None:
            np.save(outs.temp(kernels_path), np.stack(result.kernels))
        else:
            outs.remove(kernels_path)  # left by an earlier run (--overwrite): it does not describe dst
        meta = {"protocol": proto.name, "scale": scale, "seed": seed, "noise": noise, "frames": t,
                "hr_size": list(result.hr.shape[1:3]), "lr_size": [h, w], "params": result.params}
        outs.temp(meta_path).write_text(json.dumps(meta, indent=1, default=float))
    return f"wrote {dst}: {t} frames {w}x{h} ({proto.name}, x{scale}, seed {seed}); kernels and parameters in {meta_path.name}"
