"""Training recipes: how one iteration of a method is computed, plugged into the generic loop.

The loop (:mod:`vsrkit.engine.train`) owns everything that is the same for every method — data, devices, DDP,
mixed precision, optimiser steps, clipping, EMA, checkpoints, validation, logging. A recipe owns what differs:
which model to build, which losses to compute from a batch, and what happens at stage boundaries. A method with
a multi-stage or meta-learning schedule subclasses :class:`Recipe` in one file of this package; the file's name is
the recipe's name (``train.recipe``) and the file declares, at module level:

* ``RECIPE``: the :class:`Recipe` subclass;
* ``OPTIONS``: a dataclass of the recipe's own config keys (each field with ``opt(default, meaning)`` from
  :mod:`vsrkit.engine.schema`), or ``None``;
* ``OPTIONS_AT``: where those keys live in the YAML (``train.<recipe>``, a top-level section, or ``train`` itself
  for keys kept flat in the train section).

Nothing else restates the list: :data:`RECIPE_MODULES` lists this package's files (without importing them), and a
module is imported only when its recipe is chosen. The learning-rate schedule is a recipe hook
(:meth:`Recipe.scheduler`), so a staged method changes its schedule without touching the config.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from vsrkit.errors import VsrkitError
from vsrkit.ops.losses import centre_target

if TYPE_CHECKING:  # pragma: no cover
    from vsrkit.engine.schema import TrainConfig
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
    loss specs, all applied to the same output). ``cfg`` is a checked :class:`~vsrkit.engine.schema.TrainConfig`
    (a plain mapping is checked first); the recipe's own options are ``self.config.recipe_options``.
    """

    def __init__(self, cfg: "TrainConfig | dict[str, Any]") -> None:
        from vsrkit.engine.schema import TrainConfig

        module = sys.modules[type(self).__module__]
        own = module.__name__.rpartition(".")[2] if getattr(module, "RECIPE", None) is type(self) else None
        if own == "recipes":
            own = "default"
        self.config: TrainConfig = cfg if isinstance(cfg, TrainConfig) else check_config(cfg, recipe=own)
        self.options = self.config.recipe_options
        train = self.config.train
        specs = dict(train.losses or {})
        if not specs:
            specs = {"l_pix": train.pixel_opt or {"type": "CharbonnierLoss", "loss_weight": 1.0}}
        self.losses = {name: build_loss(spec) for name, spec in specs.items()}

    def build_model(self) -> nn.Module:
        from vsrkit.models import build

        m = self.config.model
        if m.name is None:
            raise VsrkitError("config is missing model.name: e.g. model: {name: basicvsr, variant: small}")
        return build(m.name, m.variant, **m.overrides)

    def model_spec(self):
        """The registry spec of the trained model (the engine runs validation through it); ``None`` for networks
        that are not SR models (a flow network), whose recipe then validates itself."""
        from vsrkit.models.registry import spec

        return spec(self.config.model.name)

    def validate(self, trainer: "Trainer") -> dict[str, Any] | None:
        """Recipe-specific validation, or ``None`` for the engine's (upscale the val clips, PSNR/SSIM)."""
        return None

    def scheduler(self, iteration: int) -> dict[str, Any] | None:
        """The learning-rate schedule in force at ``iteration`` (a ``train.scheduler`` mapping, see
        :func:`vsrkit.engine.train.scheduled_lr`); default: the configured one. Staged recipes override this."""
        return self.config.train.scheduler

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


#: The default recipe is this package itself; every other recipe is one module of it.
RECIPE = Recipe
OPTIONS = None
OPTIONS_AT = ""

#: Recipe names: ``default`` and the modules of this package (listed from the files, not imported).
RECIPE_MODULES: tuple[str, ...] = ("default", *sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])))


def recipe_module(name: str) -> ModuleType:
    """The module declaring recipe ``name`` (``RECIPE``, ``OPTIONS``, ``OPTIONS_AT``), imported on first use."""
    if name not in RECIPE_MODULES:
        import difflib

        near = difflib.get_close_matches(name, RECIPE_MODULES, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"use one of {', '.join(RECIPE_MODULES)}"
        raise VsrkitError(f"unknown recipe {name!r} in 'train.recipe' ({hint})")
    if name == "default":
        return sys.modules[__name__]
    return importlib.import_module(f"{__name__}.{name}")


def get_recipe(name: str) -> type[Recipe]:
    """The :class:`Recipe` class of recipe ``name``."""
    return recipe_module(name).RECIPE


# ----------------------------------------------------------------------------------------------------------------
# Checked configs: the schema (one layer down) plus the chosen recipe's options, which only this layer knows
# ----------------------------------------------------------------------------------------------------------------
def check_config(cfg: dict[str, Any], *, recipe: str | None = None) -> "TrainConfig":
    """Check a whole training config, the chosen recipe's own options included → the typed
    :class:`~vsrkit.engine.schema.TrainConfig`. ``recipe`` names the recipe when it is not the config's
    ``train.recipe`` (a recipe class built directly from a mapping). Errors are one line naming the key."""
    from vsrkit.engine.schema import validate

    train = cfg.get("train") if isinstance(cfg, dict) else None
    name = recipe or (str(train.get("recipe", "default")) if isinstance(train, dict) else "default")
    module = recipe_module(name)
    return validate(cfg, options=module.OPTIONS, options_at=module.OPTIONS_AT)


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> "tuple[dict[str, Any], TrainConfig]":
    """Read a YAML config, apply ``a.b=value`` overrides and check it (:func:`check_config`) → ``(the mapping as
    read, which ``config.json`` records; the typed config)``."""
    from vsrkit.engine.config import read_config

    cfg = read_config(path, overrides)
    return cfg, check_config(cfg)


def load_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """:func:`load_train_config`'s mapping only (checked all the same)."""
    return load_train_config(path, overrides)[0]


def config_docs() -> str:
    """The text of ``configs/README.md``: the schema's sections and every recipe's options
    (``python -m vsrkit.engine.train --write-config-docs`` writes it)."""
    from vsrkit.engine.schema import DOCS_PATH, render_ablation_docs, render_docs

    entries = []
    for name in RECIPE_MODULES:
        module = recipe_module(name)
        summary = (module.RECIPE.__doc__ or "").strip().splitlines()[0]
        entries.append((name, summary, module.OPTIONS, module.OPTIONS_AT))
    ablations = render_ablation_docs(DOCS_PATH.parent / "ablations")
    return render_docs(entries) + ("\n" + ablations if ablations else "")
