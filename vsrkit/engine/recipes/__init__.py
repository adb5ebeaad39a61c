"""Training recipes: how one iteration of a method is computed, plugged into the generic loop.

The loop (:mod:`vsrkit.engine.train`) owns everything that is the same for every method — data, devices, DDP,
mixed precision, optimiser steps, clipping, EMA, checkpoints, validation, logging. A recipe owns what differs:
which model to build, which losses to compute from a batch, and what happens at stage boundaries. A method with
a multi-stage or meta-learning schedule subclasses :class:`Recipe` (one file per method in this package) and is
added to :data:`RECIPES` — one explicit table, no import-time scanning.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from vsrkit.errors import VsrkitError
from vsrkit.ops.losses import centre_target

if TYPE_CHECKING:  # pragma: no cover
    from vsrkit.engine.train import Trainer


def build_loss(spec: dict[str, Any]) -> nn.Module:
    """``{type: CharbonnierLoss, loss_weight: 1.0, eps: 1e-12}`` → the loss module from :mod:`vsrkit.ops.losses`."""
    from vsrkit.ops import losses

    spec = dict(spec)
    kind = spec.pop("type", None)
    cls = getattr(losses, str(kind), None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise VsrkitError(f"unknown loss type {kind!r}: use CharbonnierLoss or L1Loss")
    return cls(**spec)


class Recipe:
    """Plain supervised training: ``loss = Σ weight·pixel_loss(model(lq), gt)``.

    Config keys used: ``train.pixel_opt`` (one loss spec, BasicSR style) or ``train.losses`` (a mapping of named
    loss specs, all applied to the same output).
    """

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        train = cfg.get("train", {})
        specs = dict(train.get("losses") or {})
        if not specs:
            specs = {"l_pix": train.get("pixel_opt") or {"type": "CharbonnierLoss", "loss_weight": 1.0}}
        self.losses = {name: build_loss(spec) for name, spec in specs.items()}

    def build_model(self) -> nn.Module:
        from vsrkit.models import build

        m = self.cfg.get("model") or {}
        if "name" not in m:
            raise VsrkitError("config is missing model.name: e.g. model: {name: basicvsr, variant: small}")
        return build(m["name"], m.get("variant"), **(m.get("overrides") or {}))

    def model_spec(self):
        """The registry spec of the trained model (the engine runs validation through it); ``None`` for networks
        that are not SR models (a flow network), whose recipe then validates itself."""
        from vsrkit.models.registry import spec

        return spec((self.cfg.get("model") or {}).get("name"))

    def validate(self, trainer: "Trainer") -> dict[str, Any] | None:
        """Recipe-specific validation, or ``None`` for the engine's (upscale the val clips, PSNR/SSIM)."""
        return None

    def on_iteration(self, trainer: "Trainer", iteration: int) -> None:
        """Called before every iteration (stage switches, freezing); default: nothing."""

    def diagnostics(self) -> dict[str, float]:
        """Numbers shown and logged beside the losses but not optimised (the trainer sums every returned loss);
        the trainer prints them every ``logger.print_freq`` iterations. Default: none."""
        return {}

    def compute_losses(self, model: nn.Module, batch: dict[str, Any], iteration: int) -> dict[str, torch.Tensor]:
        out = model(batch["lq"])
        gt = centre_target(out, batch["gt"])
        return {name: loss(out, gt) for name, loss in self.losses.items()}


# name -> "module:Class"; imported only when used.
RECIPES: dict[str, str] = {
    "default": "vsrkit.engine.recipes:Recipe",
    "srinr": "vsrkit.engine.recipes.srinr:SRINRRecipe",
    "bvsr_ik": "vsrkit.engine.recipes.bvsr_ik:BVSRIKRecipe",
    "fmanet": "vsrkit.engine.recipes.fmanet:FMANetRecipe",
    "dynavsr": "vsrkit.engine.recipes.dynavsr:DynaVSRRecipe",
    "flow": "vsrkit.engine.recipes.flow:FlowRecipe",
}


def get_recipe(name: str) -> type[Recipe]:
    if name not in RECIPES:
        raise VsrkitError(f"unknown recipe {name!r}: use one of {', '.join(sorted(RECIPES))}")
    module, _, attr = RECIPES[name].partition(":")
    return getattr(importlib.import_module(module), attr)
