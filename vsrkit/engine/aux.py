"""Pictures of what a model estimated (flows, occlusion masks, kernels, corrected frames) for ``--save-aux``.

A model returns auxiliary tensors with ``forward(x, return_aux=True) -> (out, aux)``. If it defines
``render_aux(aux) -> dict[name, list[uint8 (h, w, 3)]]`` that decides the pictures; otherwise
:func:`render_default` draws every ``(B, T, C, h, w)`` tensor with C = 1 (grey, min–max scaled), 2 (optical flow,
colour-coded by direction and magnitude) or 3 (an image in [0, 1]), one picture per ``(b, t)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vsrkit.io import write_png
from vsrkit.io.pictures import flow_to_color


def _to_picture(t: torch.Tensor) -> np.ndarray | None:
    a = t.detach().float().cpu().numpy()
    if a.shape[0] == 2:
        return flow_to_color(a)
    if a.shape[0] == 1:
        lo, hi = float(a.min()), float(a.max())
        grey = np.zeros_like(a[0]) if hi <= lo else (a[0] - lo) / (hi - lo)
        return np.repeat((grey * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    if a.shape[0] == 3:
        return (np.clip(a, 0, 1).transpose(1, 2, 0) * 255).round().astype(np.uint8)
    return None


def render_default(aux: dict[str, torch.Tensor]) -> dict[str, list[np.ndarray]]:
    """One picture per ``(b, t)`` of each 5-D aux tensor with 1, 2 or 3 channels; other tensors are skipped."""
    out: dict[str, list[np.ndarray]] = {}
    for name, t in aux.items():
        if not torch.is_tensor(t) or t.dim() != 5 or t.shape[2] not in (1, 2, 3):
            continue
        pictures = [_to_picture(frame) for clip in t for frame in clip]
        out[name] = [p for p in pictures if p is not None]
    return out


def write_aux(model: torch.nn.Module, aux: dict[str, torch.Tensor], frame_ids: list[int], root: Path,
              keep: set[int] | None = None) -> None:
    """Render ``aux`` and write ``root/<name>/<frame:08d>.png``.

    ``frame_ids[k]`` is the clip frame of picture ``k`` when a name has one picture per frame of the call; names
    with another count (e.g. flows between neighbours, ``T - 1``) are written as ``<first frame>_<k>.png``.
    Negative ids mark context frames whose pictures another call writes. ``keep`` limits the frames written
    (``--aux-frames``).
    """
    render = getattr(model, "render_aux", None)
    pictures = render(aux) if callable(render) else render_default(aux)
    for name, images in pictures.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        per_frame = len(images) == len(frame_ids)
        emitted = [f for f in frame_ids if f >= 0]
        for k, image in enumerate(images):
            frame = frame_ids[k] if per_frame else emitted[0]
            if frame < 0 or (keep is not None and frame not in keep):
                continue
            stem = f"{frame:08d}" if per_frame else f"{frame:08d}_{k:03d}"
            write_png(folder / f"{stem}.png", image)
