"""Weights files: safetensors plus a small JSON model card stored in the file's metadata.

The card records the method, variant and constructor overrides (and any behaviour flags), so loading never
guesses: ``load_model(path)`` rebuilds exactly the model that was saved. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from vsrkit.checkpoint import KeyMismatch, load_strict
from vsrkit.errors import VsrkitError
from vsrkit.io import atomic
from vsrkit.models.registry import build, network, spec

CARD_KEY = "vsrkit"


def save_weights(model: nn.Module, path: str | Path, card: dict[str, Any]) -> Path:
    """Write ``model.state_dict()`` to ``path`` (safetensors) with ``card`` as metadata; atomic (temp + rename).

    ``card`` must contain ``method`` and should contain ``variant`` and ``overrides`` (constructor kwargs).
    """
    if "method" not in card:
        raise ValueError("the model card needs a 'method' entry")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # safetensors refuses shared storage; clone so tied parameters are stored as separate entries.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = atomic.temp_file_for(path)  # named so that a later run cleans it up after a kill (outputs.recover)
    try:
        save_file(tensors, tmp, metadata={CARD_KEY: json.dumps(card, sort_keys=True)})
        os.replace(tmp, path)
    except SafetensorError as exc:  # a full disk, a file-size limit
        Path(tmp).unlink(missing_ok=True)
        raise VsrkitError(f"could not write '{path}' ({exc}): check the free disk space") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_card(path: str | Path) -> dict[str, Any]:
    """The JSON model card of a vsrkit weights file (``{}`` for a bare safetensors file)."""
    path = _existing(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise VsrkitError(f"cannot read weights {str(path)!r} ({exc}): pass a .safetensors file written by vsrkit "
                          "or convert official weights with `vsrkit convert`") from None
    return json.loads(meta[CARD_KEY]) if CARD_KEY in meta else {}


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = _existing(path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise VsrkitError(f"cannot read weights {str(path)!r} ({exc}): pass a .safetensors file written by vsrkit "
                          "or convert official weights with `vsrkit convert`") from None


def load_into(model: nn.Module, path: str | Path) -> nn.Module:
    """Load ``path`` strictly into ``model``; a key mismatch is a one-line error, never silently ignored."""

    def explain(m: KeyMismatch) -> str:
        if m.missing or m.unexpected:
            return (f"weights {str(path)!r} do not fit this model ({len(m.missing)} missing keys, e.g. "
                    f"{m.missing[:2]}; {len(m.unexpected)} unexpected, e.g. {m.unexpected[:2]}): check "
                    "--model/--variant or convert the file")
        key, got, expected = m.mismatched[0]
        return (f"weights {str(path)!r}: {key} has shape {got} but the model expects {expected}: check "
                "--model/--variant")

    load_strict(model, load_state_dict(path), explain)
    return model


def _card_method(path: str | Path, card: dict[str, Any], name: str | None) -> str:
    method = card.get("method") or name
    if method is None:
        raise VsrkitError(f"weights {str(path)!r} carry no vsrkit model card: pass --model NAME (and --variant)")
    if name is not None and name != method:
        raise VsrkitError(f"weights {str(path)!r} are for model {method!r}, not {name!r}: drop --model or fix it")
    return method


def load_model(path: str | Path, *, name: str | None = None, variant: str | None = None) -> nn.Module:
    """Build the model described by the file's card (or by ``name``/``variant``) and load the weights strictly."""
    card = read_card(path)
    method = _card_method(path, card, name)
    spec(method)  # one-line error for unknown names
    model = build(method, variant or card.get("variant"), **card.get("overrides", {}))
    return load_into(model, path)


def load_network(path: str | Path, *, name: str | None = None) -> nn.Module:
    """Any declared network — a super-resolution model or a helper network such as SpyNet or MFDN — from a vsrkit
    weights file, built from the file's card and loaded strictly, in eval mode. A network whose declaration has a
    ``load_file`` reads the file itself (:class:`~vsrkit.models.spec.NetworkSpec`)."""
    card = read_card(path)
    declared = network(_card_method(path, card, name))
    if declared.load_file is not None:
        return declared.load_file(path).eval()
    return load_into(declared.build(card.get("variant"), **card.get("overrides", {})), path).eval()


def tensor_sha256(module: nn.Module) -> str:
    """SHA-256 of a module's tensors (state-dict order by name), independent of the file they were stored in."""
    return hashlib.sha256(b"".join(
        v.detach().cpu().contiguous().numpy().tobytes() for _, v in sorted(module.state_dict().items()))).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise VsrkitError(f"weights file {str(p)!r} does not exist: check the --weights path")
    return p
