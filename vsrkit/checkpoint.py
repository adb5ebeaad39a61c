"""Reading checkpoint files and renaming state-dict keys: the shared half of every official-weights converter.

A leaf module (torch and :mod:`vsrkit.errors` only), so blocks in :mod:`vsrkit.ops` and models alike can load
weights. Converters stay explicit: each model file keeps its own rename table and calls :func:`rename_by_prefix`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from vsrkit.errors import VsrkitError

__all__ = ["KeyMismatch", "load_checkpoint_file", "load_strict", "rename_by_prefix", "unwrap_checkpoint"]

def unwrap_checkpoint(state_dict: dict, container: str | None = None) -> dict:
    """The weights inside a BasicSR/MMEditing checkpoint container.

    With ``container=None``: ``params_ema``, then ``params``, then ``state_dict``, else ``state_dict`` itself (already
    flat). EMA weights are preferred because BasicSR validates with the EMA network when EMA is on; its own loader
    defaults to ``params`` (option ``param_key_g``), so pass ``container="params"`` to reproduce that.
    """
    if container is not None:
        if not isinstance(state_dict.get(container), dict):
            raise VsrkitError(
                f"checkpoint has no {container!r} entry: available top-level keys {sorted(state_dict)[:8]}"
            )
        return state_dict[container]
    for key in ("params_ema", "params", "state_dict"):
        if isinstance(state_dict.get(key), dict):
            return state_dict[key]
    return state_dict

def _first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (library messages can span paragraphs)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def load_checkpoint_file(path: str | Path, container: str | None = None) -> dict[str, Tensor]:
    """Read a ``.pth``/``.pt``/``.ckpt`` (``torch.load(weights_only=True)``: no code is executed) or
    ``.safetensors`` file and unwrap ``params_ema`` / ``params`` / ``state_dict`` containers (EMA first, or the
    entry named by ``container``)."""
    path = Path(path)
    if path.is_dir():
        raise VsrkitError(f"checkpoint {str(path)!r} is a folder, not a weights file: pass the .pth/.safetensors file")
    if not path.is_file():
        raise VsrkitError(f"checkpoint {str(path)!r} does not exist: check the path")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:  # a forged or damaged header
            raise VsrkitError(f"cannot read checkpoint {str(path)!r} as safetensors ({_first_line(exc)}): pass an "
                              "intact official checkpoint") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors come in many types; the message is what matters
        raise VsrkitError(f"cannot read checkpoint {str(path)!r} as a weights-only torch file ({_first_line(exc)}): "
                          "vsrkit never runs code from a checkpoint; pass the official weights file") from None
    if not isinstance(obj, dict):
        raise VsrkitError(f"checkpoint {str(path)!r} holds a {type(obj).__name__}, not a state dict")
    return unwrap_checkpoint(obj, container)

def rename_by_prefix(
    state_dict: dict[str, Tensor],
    table: dict[str, str],
    *,
    dropped: tuple[str, ...] = (),
    what: str = "this model",
    report: dict | None = None,
) -> dict[str, Tensor]:
    """Rename keys with an explicit ``{official prefix: vsrkit prefix}`` table (no guessing).

    Every key must start with exactly one prefix of ``table`` (or be listed in ``dropped``, e.g. modules the
    official forward never uses); otherwise a one-line :class:`~vsrkit.errors.VsrkitError` names the strays.
    ``report``, when given, receives ``renamed`` (old → new, only changed names), ``dropped`` and ``added``.
    """
    out: dict[str, Tensor] = {}
    renamed: dict[str, str] = {}
    dropped_keys: list[str] = []
    unknown: list[str] = []
    for key, value in state_dict.items():
        if key in dropped:
            dropped_keys.append(key)
            continue
        matches = [prefix for prefix in table if key.startswith(prefix)]
        if len(matches) != 1:
            unknown.append(key)
            continue
        new_key = table[matches[0]] + key[len(matches[0]) :]
        if new_key != key:
            renamed[key] = new_key
        out[new_key] = value
    if unknown:
        raise VsrkitError(
            f"{len(unknown)} keys are not in the rename table of {what} (e.g. {unknown[:3]}): "
            "check that the checkpoint is the official release of this method"
        )
    if report is not None:
        report.update(renamed=renamed, dropped=dropped_keys, added=[])
    return out


class KeyMismatch(NamedTuple):
    """How a state dict fails to fit a model: sorted key lists, and ``(key, file shape, model shape)`` triples."""

    missing: list[str]
    unexpected: list[str]
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]]


def load_strict(model: torch.nn.Module, state: dict[str, Tensor], explain: Callable[[KeyMismatch], str]) -> None:
    """Load ``state`` into ``model`` with every key present on both sides and every shape equal (values are cast
    to the model's dtypes). A mismatch raises :class:`VsrkitError` with ``explain(mismatch)``: the caller words
    the one-line error for its user (a weights file, a converted official checkpoint)."""
    own = model.state_dict()
    mismatch = KeyMismatch(
        sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys()),
        [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in sorted(own.keys() & state.keys())
         if state[k].shape != own[k].shape],
    )
    if mismatch.missing or mismatch.unexpected or mismatch.mismatched:
        raise VsrkitError(explain(mismatch))
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
