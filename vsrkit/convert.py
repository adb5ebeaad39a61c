"""Equivalence interface between official checkpoints/forwards and vsrkit models.

* :func:`from_official` builds the vsrkit model that matches an official constructor call and strictly loads a
  converted official state dict into it.
* :func:`official_forward` calls a vsrkit model the way the official ``forward`` is called and returns the outputs
  in the official order (what parity tests and the golden fixtures compare).
* :func:`load_checkpoint_file` / :func:`convert_file` read official ``.pth``/``.safetensors`` files and write vsrkit
  safetensors with a JSON model card (used by ``vsrkit convert``).

Each method is one row of :data:`METHODS`: how to build the model from the official constructor kwargs, the
converter (official keys → vsrkit keys, an explicit table in the model's own file) and how to call it. Model
modules are imported lazily so that one broken method never breaks the others.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from vsrkit.errors import VsrkitError
from vsrkit.models import registry, weights
from vsrkit.checkpoint import load_checkpoint_file, unwrap_checkpoint

__all__ = [
    "METHODS",
    "OfficialMethod",
    "build_from_official_args",
    "convert_file",
    "convert_state_dict",
    "from_official",
    "load_checkpoint_file",
    "official_forward",
]

log = logging.getLogger(__name__)


def _resolve(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class OfficialMethod:
    """How one official implementation maps onto vsrkit.

    Attributes:
        target: ``"module:Class"`` of the vsrkit model.
        converter: ``"module:function"``; ``function(state_dict, report=None) -> state_dict``.
        official_defaults: the official constructor kwargs of the paper configuration.
        kwargs_from_official: official kwargs (defaults merged in) → vsrkit constructor kwargs. Official kwargs that
            only load files (e.g. ``spynet_path``) are ignored: the weights come from the converted state dict.
        call: ``(model, *official_inputs) -> official outputs`` (tuple or tensor, official order).
    """

    target: str
    converter: str
    official_defaults: dict[str, Any]
    kwargs_from_official: Callable[[dict[str, Any]], dict[str, Any]]
    call: Callable[..., Tensor | tuple[Tensor, ...]]


def _basicvsr_kwargs(args: dict[str, Any]) -> dict[str, Any]:
    return {"num_feat": int(args["num_feat"]), "num_block": int(args["num_block"])}


#: Method name → mapping. Add one entry per method (explicit, no discovery).
METHODS: dict[str, OfficialMethod] = {
    # BasicSR basicsr/archs/spynet_arch.py SpyNet(load_path=None); forward(ref, supp) -> flow (N,2,H,W).
    "spynet": OfficialMethod(
        target="vsrkit.ops.spynet:SpyNet",
        converter="vsrkit.ops.spynet:convert_official_spynet_state_dict",
        official_defaults={"load_path": None},
        kwargs_from_official=lambda args: {},
        call=lambda model, ref, supp: model(ref, supp),
    ),
    # BasicSR basicsr/archs/basicvsr_arch.py BasicVSR(num_feat=64, num_block=30, spynet_path=None);
    # forward(x (B,T,3,H,W)) -> (B,T,3,4H,4W).
    "basicvsr": OfficialMethod(
        target="vsrkit.models.basicvsr:BasicVSR",
        converter="vsrkit.models.basicvsr:convert_official_state_dict",
        official_defaults={"num_feat": 64, "num_block": 30, "spynet_path": None},
        kwargs_from_official=_basicvsr_kwargs,
        call=lambda model, x: model(x),
    ),
    # QZ1-boy/BVSR-IK model_KCA.py KCANet(config); the config fields it reads are below (every other size is
    # hard-coded). forward(lrs (B,T,3,H,W) BGR) -> {'outputs': (B,T,3,4H,4W), 'lr_corrs': (B,T,3,H,W)} (BGR).
    "bvsr_ik": OfficialMethod(
        target="vsrkit.models.bvsr_ik:BVSRIK",
        converter="vsrkit.models.bvsr_ik:convert_official_state_dict",
        official_defaults={"in_channels": 3, "dim": 64, "num_seq": 5, "bias": False, "scale": 4},
        kwargs_from_official=lambda args: {} if int(args["dim"]) == 64 else {"num_feat": int(args["dim"])},
        call=lambda model, lrs: (lambda r: (r["outputs"], r["lr_corrs"]))(model.forward_bgr(lrs)),
    ),
}


def _method(method: str) -> OfficialMethod:
    try:
        return METHODS[method]
    except KeyError:
        raise VsrkitError(
            f"no official-weights converter for {method!r}: choose one of {', '.join(sorted(METHODS))}"
        ) from None


def convert_state_dict(method: str, state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """Run ``method``'s converter (official keys → vsrkit keys); ``report`` receives renamed/dropped/added keys."""
    return _resolve(_method(method).converter)(state_dict, report=report)


def build_from_official_args(method: str, official_args: dict[str, Any] | None = None) -> nn.Module:
    """The vsrkit model matching the official constructor call (paper configuration when ``official_args`` is
    ``None``; given kwargs override the official defaults)."""
    m = _method(method)
    unknown = set(official_args or {}) - set(m.official_defaults)
    if unknown:
        raise VsrkitError(
            f"{method}: unknown official constructor arguments {sorted(unknown)}: "
            f"expected some of {sorted(m.official_defaults)}"
        )
    args = {**m.official_defaults, **(official_args or {})}
    return _resolve(m.target)(**m.kwargs_from_official(args))


def from_official(
    method: str,
    state_dict: dict,
    official_args: dict[str, Any] | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Build the vsrkit ``method`` model for ``official_args`` and strictly load the converted ``state_dict``.

    ``state_dict`` may be a BasicSR container (``params_ema``/``params``). ``dtype`` (e.g. ``torch.float64`` for
    parity runs) is applied to the model *before* loading so no precision is lost on the way. Returns the model in
    eval mode; renamed/dropped/added keys are logged at INFO level.
    """
    model = build_from_official_args(method, official_args)
    if dtype is not None:
        model = model.to(dtype)
    report: dict[str, Any] = {}
    _load_strict(method, model, convert_state_dict(method, state_dict, report), official_args)
    if report.get("renamed") or report.get("dropped") or report.get("added"):
        log.info(
            "%s: %d keys renamed, dropped %s, added %s",
            method, len(report.get("renamed", {})), report.get("dropped", []), report.get("added", []),
        )
    return model.eval()


def _load_strict(method: str, model: nn.Module, converted: dict[str, Tensor], official_args: Any) -> None:
    # Checked here (rather than by load_state_dict(strict=True)) to word the failure as one actionable line.
    expected = model.state_dict()
    missing = sorted(expected.keys() - converted.keys())
    unexpected = sorted(converted.keys() - expected.keys())
    mismatched = [
        f"{k} {tuple(converted[k].shape)} vs {tuple(expected[k].shape)}"
        for k in sorted(expected.keys() & converted.keys())
        if converted[k].shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        raise VsrkitError(
            f"{method}: converted weights do not fit the model built from {official_args or 'the paper defaults'} "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}, shape mismatch {mismatched[:3]}): "
            "pass the official constructor arguments the checkpoint was trained with"
        )
    model.load_state_dict(converted, strict=True)


def official_forward(method: str, model: nn.Module, *official_inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
    """Call ``model`` with inputs in the official layout and return outputs in the official order.

    ``spynet``: ``(ref, supp)`` → ``flow``; ``basicvsr``: ``(x,)`` → ``output``.
    """
    return _method(method).call(model, *official_inputs)




def _variant_name(method: str, kwargs: dict[str, Any]) -> str | None:
    """Name of the registry variant whose kwargs equal ``kwargs`` (``None`` for custom sizes or unregistered
    methods such as ``spynet``)."""
    if method not in registry.available():
        return None
    variants = registry.spec(method).variants
    return next((name for name, kw in variants.items() if kw == kwargs), None)


def convert_file(
    method: str, src: str | Path, dst: str | Path, official_args: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Convert an official checkpoint file to vsrkit safetensors with its JSON model card in the metadata.

    The card follows :mod:`vsrkit.models.weights` (``method``, ``variant``, ``overrides``, so
    ``weights.load_model(dst)`` rebuilds the model) and adds the official constructor kwargs, the source file name
    and sha256 and the key report (renamed/dropped/added). The weights are loaded strictly into the matching model
    before anything is written. Returns the card.
    """
    src, dst = Path(src), Path(dst)
    m = _method(method)
    args = {**m.official_defaults, **(official_args or {})}
    kwargs = m.kwargs_from_official(args)
    variant = _variant_name(method, kwargs)
    report: dict[str, Any] = {}
    model = build_from_official_args(method, official_args)
    _load_strict(method, model, convert_state_dict(method, load_checkpoint_file(src), report), official_args)
    card = {
        "method": method,
        "variant": variant,
        "overrides": {} if variant is not None else kwargs,
        "official": {
            "args": {k: v for k, v in args.items() if isinstance(v, (int, float, str, bool)) or v is None},
            "file": src.name,
            "sha256": weights.sha256_file(src),
        },
        "conversion": report,
    }
    weights.save_weights(model, dst, card)
    return card
