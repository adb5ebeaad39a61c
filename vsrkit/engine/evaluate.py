"""Run a model over an evaluation dataset and score it: the one code path behind ``vsrkit eval-model`` and the
trainer's validation.

Outputs are quantised to 8 bits before scoring (as every official evaluation does) and go through
:func:`vsrkit.metrics.evaluate_clips`, so RGB and Y are always reported side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn

from vsrkit.engine.infer import InferenceOptions, Upscaler, tensor_to_frames
from vsrkit.metrics import evaluate_clips
from vsrkit.models.registry import ModelSpec


def predict_clips(
    model: nn.Module,
    spec: ModelSpec,
    dataset: Any,
    *,
    indices: Iterable[int] | None = None,
    options: InferenceOptions | None = None,
) -> tuple[dict[str, list[np.ndarray]], dict[str, list[np.ndarray]], dict[str, list[np.ndarray]]]:
    """Upscale clips of an :class:`~vsrkit.data.EvalClipDataset`; return (pred, gt, lq) uint8 frames per clip.

    Only the frames listed in an item's ``eval_frames`` are kept (Vimeo-90K-T scores ``im4`` alone).
    """
    runner = Upscaler(model, spec, options)
    pred: dict[str, list[np.ndarray]] = {}
    gt: dict[str, list[np.ndarray]] = {}
    lq: dict[str, list[np.ndarray]] = {}
    for i in range(len(dataset)) if indices is None else indices:
        item = dataset[i]
        out = runner.upscale_clip(item["lq"])
        keep = item.get("eval_frames")
        keep = list(range(out.shape[0])) if keep is None else [int(k) for k in keep]
        name = item["key"]
        pred[name] = [tensor_to_frames(out[k : k + 1])[0] for k in keep]
        gt[name] = [tensor_to_frames(item["gt"][k : k + 1])[0] for k in keep]
        lq[name] = [tensor_to_frames(item["lq"][k : k + 1])[0] for k in keep]
    return pred, gt, lq


def evaluate_model(
    model: nn.Module,
    spec: ModelSpec,
    dataset: Any,
    *,
    protocol: str | None = None,
    options: InferenceOptions | None = None,
    save_dir: str | Path | None = None,
    inputs: Iterable[str | Path | None] = (),
    overwrite: bool = False,
    **metric_overrides: Any,
) -> dict:
    """Score ``model`` on every clip of ``dataset``; optionally write the outputs as PNG folders per clip.

    ``save_dir`` is checked against ``inputs`` (the dataset's folders) before any work and published whole
    (one :class:`~vsrkit.io.outputs.OutputSet`): a full disk or a stop leaves no partial folder.
    """
    from vsrkit.io.outputs import OutputSet

    outs = None if save_dir is None else OutputSet([save_dir], inputs=inputs, overwrite=overwrite, kinds=["folder"])
    pred, gt, _ = predict_clips(model, spec, dataset, options=options)
    if outs is not None:
        with outs:
            save_frames(pred, outs.temp(save_dir))
    return evaluate_clips(pred, gt, protocol=protocol, **metric_overrides)


def save_frames(clips: dict[str, list[np.ndarray]], root: Path) -> None:
    """Write each clip as ``root/<clip>/%08d.png`` (``root`` is created and marked as a vsrkit output)."""
    from vsrkit.io import write_png
    from vsrkit.io.outputs import check_distinct, write_marker

    check_distinct(((name, name) for name in clips), where=root)
    root.mkdir()
    write_marker(root, clips=len(clips))
    for name, frames in clips.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames):
            write_png(folder / f"{i:08d}.png", frame)


@torch.no_grad()
def comparison_strip(lq: np.ndarray, out: np.ndarray, gt: np.ndarray, size: int = 128) -> np.ndarray:
    """A side-by-side ``(size, 3·size, 3)`` uint8 crop: bicubic-upscaled LR | output | GT, from the frame centre."""
    from vsrkit.models.bicubic import Bicubic

    scale = gt.shape[0] // lq.shape[0]
    up = Bicubic(scale=scale)(torch.from_numpy(lq).permute(2, 0, 1)[None, None].float() / 255)
    up_frame = tensor_to_frames(up[0])[0][: gt.shape[0], : gt.shape[1]]
    h, w = gt.shape[:2]
    s = min(size, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crops = [a[top : top + s, left : left + s] for a in (up_frame, out, gt)]
    return np.concatenate(crops, axis=1)
