"""Equivalence interface between official checkpoints/forwards and vsrkit models.

* :func:`from_official` builds the vsrkit model that matches an official constructor call and strictly loads a
  converted official state dict into it.
* :func:`official_forward` calls a vsrkit model the way the official ``forward`` is called and returns the outputs
  in the official order (what parity tests and the golden fixtures compare).
* :func:`load_checkpoint_file` / :func:`convert_file` read official ``.pth``/``.safetensors`` files and write vsrkit
  safetensors with a JSON model card (used by ``vsrkit convert``).

Each method is the :class:`~vsrkit.models.spec.OfficialConverter` its model file declares (the ``converter`` of its
spec): how to build the model from the official constructor kwargs, the key table and how to call it. A method's
module is imported only when that method is asked for, so one broken method never breaks the others.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vsrkit.checkpoint import KeyMismatch, load_checkpoint_file, load_strict
from vsrkit.errors import VsrkitError
from vsrkit.io import marks
from vsrkit.models import registry, weights
from vsrkit.models.spec import OfficialConverter

__all__ = [
    "METHODS",  # noqa: F822 (module __getattr__)
    "OfficialConverter",
    "build_from_official_args",
    "convert_file",
    "convert_state_dict",
    "from_official",
    "load_checkpoint_file",
    "official_forward",
    "official_methods",
]

log = logging.getLogger(__name__)


def official_methods() -> list[str]:
    """Every network whose declaration has an official-checkpoint converter (what ``vsrkit convert`` accepts)."""
    return sorted(name for name in registry.networks() if registry.network(name).converter is not None)


def __getattr__(name: str) -> Any:
    if name == "METHODS":  # method name → OfficialConverter, derived from the declarations on first use
        return {m: registry.network(m).converter for m in official_methods()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _method(method: str) -> OfficialConverter:
    converter = registry.network(method).converter if method in registry.networks() else None
    if converter is None:
        raise VsrkitError(
            f"no official-weights converter for {method!r}: choose one of {', '.join(official_methods())}"
        )
    return converter


def convert_state_dict(method: str, state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """Run ``method``'s converter (official keys → vsrkit keys); ``report`` receives renamed/dropped/added keys."""
    return _method(method).convert(state_dict, report=report)


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
    return registry.network(method).builder(**m.kwargs_from_official(args))


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
    def explain(m: KeyMismatch) -> str:
        mismatched = [f"{k} {got} vs {expected}" for k, got, expected in m.mismatched]
        return (f"{method}: converted weights do not fit the model built from {official_args or 'the paper defaults'} "
                f"(missing {m.missing[:3]}, unexpected {m.unexpected[:3]}, shape mismatch {mismatched[:3]}): "
                "pass the official constructor arguments the checkpoint was trained with")

    load_strict(model, converted, explain)


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
    state = m.read(src) if m.read else load_checkpoint_file(src)
    _load_strict(method, model, convert_state_dict(method, state, report), official_args)
    card = {
        "method": method,
        "variant": variant,
        "overrides": {} if variant is not None else kwargs,
        "official": {
            "args": {k: v for k, v in args.items() if isinstance(v, (int, float, str, bool)) or v is None},
            "file": src.name,
            "sha256": weights.sha256_file(src) if src.is_file()  # a release folder (FMA-Net D + R files):
            else {str(f.relative_to(src)): weights.sha256_file(f) for f in sorted(src.rglob("*")) if f.is_file()},
        },
        "conversion": report,
    }
    weights.save_weights(model, dst, card)
    marks.mark_file(dst)  # vsrkit's output: a later --overwrite may replace it
    return card
