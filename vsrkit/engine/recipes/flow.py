"""Optical-flow pre-training of SpyNet on clips with known motion (:mod:`vsrkit.data.motion`).

Each batch holds ``T``-frame clips rendered from photos with their exact flows; every consecutive pair
``(frame_t, frame_{t+1})`` is one SpyNet example, ``SpyNet(ref=frame_t, supp=frame_{t+1})`` ≈ ``flow_t`` (the
direction VSR models use, :func:`vsrkit.ops.spynet.neighbour_flows`). The loss is the multi-scale end-point error
of every pyramid level (:func:`vsrkit.ops.losses.multiscale_epe`). Validation renders clips from held-out photos and
reports the EPE of the final flow (``epe``, lower is better) on them, and the known-shift EPE over 1–4 px shifts of
LR-like frames cut from those photos (``shift_epe_1_4``).

Config keys: ``model.name: spynet``; ``train.flow_input`` (``lq``: the degraded LR frames and ``flow_lq``, what VSR
models feed SpyNet; ``gt``: the clean HR frames and ``flow``), ``train.level_weights`` (6 numbers, coarsest first),
``train.spynet_init`` (``random`` or ``sad_search``: :func:`vsrkit.ops.spynet.sad_search_init_`; a SpyNet file
goes in ``model.init_weights``); ``val.best_metric: epe`` or ``shift_epe_1_4``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from vsrkit.engine.recipes import Recipe
from vsrkit.engine.schema import TrainConfig, opt
from vsrkit.errors import VsrkitError
from vsrkit.ops.losses import endpoint_error, multiscale_epe

if TYPE_CHECKING:  # pragma: no cover
    from vsrkit.engine.train import Trainer

__all__ = ["FlowRecipe", "flow_pairs"]


def flow_pairs(batch: dict[str, Any], source: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(ref, supp, flow)`` ``(B·(T-1), C, H, W)`` from a motion batch: frames ``0..T-2`` against ``1..T-1``."""
    frames_key, flow_key = ("lq", "flow_lq") if source == "lq" else ("gt", "flow")
    if frames_key not in batch or flow_key not in batch:
        raise VsrkitError(f"flow training needs '{frames_key}' and '{flow_key}' in the batch: use a dataset of "
                          "type 'motion' (with a protocol for flow_input: lq)")
    x, flow = batch[frames_key], batch[flow_key]
    b, t = x.shape[:2]
    ref = x[:, :-1].reshape(b * (t - 1), *x.shape[2:])
    supp = x[:, 1:].reshape(b * (t - 1), *x.shape[2:])
    return ref, supp, flow.reshape(b * (t - 1), *flow.shape[2:])


@dataclass
class FlowOptions:
    flow_input: str = opt("lq", "frames the flow is estimated on: lq or gt")
    level_weights: list | None = opt(None, "EPE weight per pyramid level (coarse to fine); default equal")
    spynet_init: str = opt("random", "starting weights: random (PyTorch's default) or sad_search (every level a "
                           "one-step block-matching search, vsrkit.ops.spynet.sad_search_init_)")


class FlowRecipe(Recipe):
    """Multi-scale EPE training of a flow network (SpyNet)."""

    def __init__(self, cfg: "TrainConfig | dict[str, Any]") -> None:
        super().__init__(cfg)
        self.source = self.options.flow_input
        if self.source not in ("lq", "gt"):
            raise VsrkitError(f"train.flow_input must be lq or gt, got {self.source!r}")
        self.level_weights = self.options.level_weights
        if self.options.spynet_init not in ("random", "sad_search"):
            raise VsrkitError(f"train.spynet_init must be random or sad_search, got {self.options.spynet_init!r}")

    def build_model(self) -> nn.Module:
        from vsrkit.ops.spynet import SpyNet, sad_search_init_

        name = self.config.model.name
        if name != "spynet":
            raise VsrkitError(f"the flow recipe trains model.name: spynet, not {name!r}")
        net = SpyNet()
        return sad_search_init_(net) if self.options.spynet_init == "sad_search" else net

    def model_spec(self):
        return None  # a flow network is not an SR model of the registry

    def compute_losses(self, model: nn.Module, batch: dict[str, Any], iteration: int) -> dict[str, torch.Tensor]:
        ref, supp, flow = flow_pairs(batch, self.source)
        levels = model(ref, supp, return_levels=True)
        return {"l_epe": multiscale_epe(levels, flow, self.level_weights)}

    @torch.no_grad()
    def validate(self, trainer: "Trainer") -> dict[str, Any] | None:
        model = trainer.export_model().eval()
        total, count = 0.0, 0
        for i in range(len(trainer.val_set)):
            item = trainer.val_set[i]
            ref, supp, flow = flow_pairs({k: v[None] for k, v in item.items() if torch.is_tensor(v)}, self.source)
            pred = model(ref.to(trainer.ctx.device), supp.to(trainer.ctx.device))
            total += float(endpoint_error(pred, flow.to(pred))) * len(ref)
            count += len(ref)
        values = {"epe": total / max(count, 1), "shift_epe_1_4": known_shift_val_epe(model, trainer.val_set)}
        trainer.model.train()
        trainer.record_validation(values, lower_is_better=True)
        return {"mean": values}


def val_frames(dataset: Any, count: int = 4, size: tuple[int, int] = (144, 176)) -> list[np.ndarray]:
    """LR-like frames ``(h, w, 3)`` uint8 from the first ``count`` sources of a motion dataset: the centre
    ``4h × 4w`` of each (reduced) photo, MATLAB-bicubic ×1/4 (the size and look of what video models feed SpyNet)."""
    from vsrkit.ops.resize import imresize

    frames = []
    h, w = size
    for i in range(min(count, len(dataset.sources))):
        photo = dataset.photo(i)
        ph, pw = photo.shape[:2]
        if ph < 4 * h or pw < 4 * w:
            continue
        top, left = (ph - 4 * h) // 2, (pw - 4 * w) // 2
        crop = torch.from_numpy(np.ascontiguousarray(photo[top : top + 4 * h, left : left + 4 * w]))
        lr = imresize(crop.permute(2, 0, 1)[None].double() / 255.0, 0.25)[0]
        frames.append((lr.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy())
    return frames


def known_shift_val_epe(model: nn.Module, dataset: Any) -> float:
    """Mean known-shift EPE over 1–4 px shifts (:mod:`vsrkit.engine.flow_check`) on validation photos: the issue's
    criterion, measured on validation data so that iterations are chosen without the test frame."""
    from vsrkit.engine.flow_check import known_shift_epe, mean_epe

    scores = [mean_epe(known_shift_epe(model, f)) for f in val_frames(dataset)]
    return float(np.mean(scores)) if scores else float("nan")


RECIPE = FlowRecipe
OPTIONS = FlowOptions
OPTIONS_AT = "train"
