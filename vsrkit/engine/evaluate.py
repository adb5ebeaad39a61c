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
from vsrkit.errors import VsrkitError
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


def dataset_paths(section: dict[str, Any]) -> list[str]:
    """The files and folders a dataset section reads (outputs must stay apart from them)."""
    paths = [v for k, v in section.items() if k.startswith("dataroot") and isinstance(v, str)]
    return paths + [p for p in section.get("images", ()) if isinstance(p, str)]


def eval_section(model: str, *, dataset: str | None = None, layout: str = "folder", scale: float = 4,
                 degradation: str = "bi", protocol_opts: list[str] | None = None, lr: str | None = None,
                 max_frames: int | None = None) -> tuple[str | None, dict[str, Any]]:
    """``(model name, dataset section)`` for ``vsrkit eval-model``: ``model`` is a name or a training config (its
    ``datasets.val`` is the default section); ``dataset`` (a root, clip folder, video, ``sample:NAME`` or, with
    ``layout='images'``, comma-separated images) replaces it. The section is what
    :func:`vsrkit.engine.config.build_eval_dataset` takes."""
    section: dict[str, Any] = {}
    name: str | None = model
    if model.endswith((".yaml", ".yml")):
        from vsrkit.engine.config import read_config
        from vsrkit.engine.schema import ModelSection, check_section

        cfg = read_config(model)  # only two sections are used: model (checked here), datasets.val (checked when built)
        name = check_section(ModelSection, cfg.get("model"), "model").name
        section = dict((cfg.get("datasets") or {}).get("val") or {})
    if dataset and layout == "images":
        section = {"type": "images", "images": [x for x in dataset.split(",") if x], "eval_scale": scale}
    elif not float(scale).is_integer():
        raise VsrkitError(f"--scale {scale:g} is not an integer: non-integer scales need --layout images and an "
                          "arbitrary-scale model (e.g. srinr)")
    elif dataset:
        from vsrkit.degrade import with_options

        section = {"type": layout, "protocol": with_options(degradation, protocol_opts or [])}
        if dataset.startswith("sample:"):
            section.update(type="samples", clips=[dataset[len("sample:"):]])
        elif layout == "folder":
            section["dataroot_gt"] = dataset
        else:
            section["dataroot"] = dataset
        if lr:
            section.update(lr=lr, dataroot_lq=lr, protocol=None)
    if not section:
        raise VsrkitError("no dataset: pass --dataset PATH (or sample:NAME), or a config with datasets.val")
    if max_frames:
        section["max_frames"] = max_frames
    return name, section


def eval_build_scale(name: str | None, scale: float) -> float | None:
    """The scale :func:`vsrkit.engine.upscale.resolve_model` should build ``name`` at for an evaluation at ``scale``:
    ``scale`` for arbitrary-scale models, bicubic and weights files (``name`` None); None (the model's own, checked)
    otherwise."""
    from vsrkit.models import spec

    arbitrary = name is not None and spec(name).arbitrary_scale
    return scale if (arbitrary or not name or name == "bicubic") else None


def eval_dataset(section: dict[str, Any], scale: float) -> Any:
    """The evaluation dataset of ``section`` at ``scale`` (any real value for an image section, else an integer)."""
    from vsrkit.engine.config import build_eval_dataset

    return build_eval_dataset(section, scale if section.get("type") == "images" else int(scale))


def evaluate_scales(model: nn.Module, images: Iterable[str], scales: Iterable[float], *,
                    crop_multiple: int = 56, device: str = "cpu") -> dict[str, Any]:
    """PSNR (RGB and Y, 8-bit, border = ceil(scale)) of ``model`` and MATLAB bicubic on held-out ``images``.

    HR = image centre-cropped to a multiple of ``crop_multiple`` (56 makes ×2, ×3.5 and ×8 exact); LR = MATLAB
    bicubic ``imresize(HR, 1/s)`` rounded to 8 bits. The model output must be exactly the HR size.
    """
    import math

    from vsrkit.data.images import ImageEvalDataset
    from vsrkit.engine.infer import tensor_to_frames
    from vsrkit.metrics.image import psnr
    from vsrkit.ops.resize import imresize

    model = model.eval().to(device)
    result: dict[str, Any] = {}
    images = list(images)
    for s in scales:
        ds = ImageEvalDataset(images, scale=s, crop_multiple=crop_multiple)
        rows = []
        old = getattr(model, "scale", None)
        model.scale = float(s)
        for item in ds:
            lq, gt = item["lq"].to(device), item["gt"]
            with torch.inference_mode():
                out = model(lq[None])[0].cpu()
            if out.shape[-2:] != gt.shape[-2:]:
                raise VsrkitError(f"x{s}: output {tuple(out.shape[-2:])} != HR {tuple(gt.shape[-2:])}")
            bic = imresize(lq.cpu(), size=tuple(gt.shape[-2:]))
            border = math.ceil(s)
            p, g, bq = tensor_to_frames(out)[0], tensor_to_frames(gt)[0], tensor_to_frames(bic)[0]
            rows.append({"image": item["key"], "size": list(gt.shape[-2:]), "lr_size": list(lq.shape[-2:]),
                         "psnr": psnr(p, g, crop_border=border), "psnr_y": psnr(p, g, crop_border=border, y_channel=True),
                         "bicubic_psnr": psnr(bq, g, crop_border=border),
                         "bicubic_psnr_y": psnr(bq, g, crop_border=border, y_channel=True)})
        model.scale = old
        mean = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "psnr_y", "bicubic_psnr", "bicubic_psnr_y")}
        result[f"x{s:g}"] = {"mean": mean, "images": rows}
    return result

