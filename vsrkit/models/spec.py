"""What a model file declares about its networks, next to their classes.

Each ``vsrkit/models/<method>.py`` ends with ``SPECS = (...)``: one :class:`ModelSpec` per super-resolution model
(the contract the engine relies on, the variants, the builder and the official-checkpoint converter) and one
:class:`NetworkSpec` per helper network that has weights of its own but no upscaling contract (a flow network, a
downscaler). The registry (:mod:`vsrkit.models.registry`), ``vsrkit convert``, the shipped catalogue and
``vsrkit models`` all read these declarations; nothing restates them, so adding a variant edits one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from torch import Tensor, nn

from vsrkit.errors import VsrkitError

__all__ = ["ModelSpec", "NetworkSpec", "OfficialConverter", "Temporal", "require_official"]

Temporal = Literal["frame", "window", "recurrent"]


@dataclass(frozen=True)
class OfficialConverter:
    """How an official implementation's checkpoint and forward map onto a vsrkit network.

    Attributes:
        convert: ``convert(state_dict, report=None) -> state_dict``, official keys → vsrkit keys; ``report``
            receives the renamed/dropped/added keys.
        key_table: the explicit ``{official prefix: vsrkit prefix}`` table ``convert`` renames by (``None``: the
            key names are identical); ``tests/test_model_contract.py`` round-trips every model's keys through it.
        official_defaults: the official constructor kwargs of the paper configuration.
        kwargs_from_official: official kwargs (defaults merged in) → vsrkit constructor kwargs. Official kwargs that
            only load files (e.g. ``spynet_path``) are ignored: the weights come from the converted state dict.
        call: ``(model, *official_inputs) -> official outputs`` (tuple or tensor, in the official order).
        read: reads an official file or release folder into one state dict (default:
            :func:`vsrkit.checkpoint.load_checkpoint_file`).
    """

    convert: Callable[..., dict[str, Tensor]]
    key_table: dict[str, str] | None
    official_defaults: dict[str, Any]
    kwargs_from_official: Callable[[dict[str, Any]], dict[str, Any]]
    call: Callable[..., Tensor | tuple[Tensor, ...]]
    read: Callable[[Path], dict] | None = None


def require_official(args: dict[str, Any], key: str, value: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` if the official argument ``key`` is ``value`` (what the released weights need), else a one-line
    error (for :attr:`OfficialConverter.kwargs_from_official`)."""
    if args[key] != value:
        raise VsrkitError(f"only {key}={value!r} is supported (what the released weights need), got {args[key]!r}")
    return kwargs


@dataclass(frozen=True)
class NetworkSpec:
    """A network vsrkit builds and loads weights for.

    Attributes:
        name: the name in model cards, configs and on the command line.
        builder: the class (or factory) that :meth:`build` calls with a variant's kwargs.
        variants: constructor kwargs per variant name.
        converter: how official checkpoints load (``None``: no official weights exist).
        load_file: reads a vsrkit weights file of this network when building from the card and loading strictly is
            not enough (``None``: :func:`vsrkit.models.weights.load_network` does exactly that).
        role: ``"sr"`` for super-resolution models (:class:`ModelSpec`), else what the helper network does
            (``"flow"``, ``"downscaler"``).
    """

    name: str
    description: str
    builder: Callable[..., nn.Module] | None = None
    variants: dict[str, dict[str, Any]] = field(default_factory=lambda: {"default": {}})
    default_variant: str = "default"
    converter: OfficialConverter | None = None
    load_file: Callable[[Path], nn.Module] | None = None
    role: str = "sr"
    status: str = "implemented"
    paper: str = ""

    def variant_kwargs(self, variant: str | None = None) -> dict[str, Any]:
        """The constructor kwargs of ``variant`` (default: :attr:`default_variant`); one-line error if unknown."""
        variant = variant or self.default_variant
        if variant not in self.variants:
            raise VsrkitError(f"model {self.name!r} has no variant {variant!r}: choose one of "
                              f"{', '.join(sorted(self.variants))}")
        return dict(self.variants[variant])

    def build(self, variant: str | None = None, **overrides: Any) -> nn.Module:
        """Build ``variant`` (default: :attr:`default_variant`) with keyword ``overrides``."""
        if self.builder is None:
            raise VsrkitError(f"{self.name!r} declares no builder: it cannot be built")
        return self.builder(**{**self.variant_kwargs(variant), **overrides})


@dataclass(frozen=True)
class ModelSpec(NetworkSpec):
    """A super-resolution model and what the engine may rely on.

    Contract of the built ``nn.Module``: ``forward(x)`` takes ``(B, T, C, H, W)`` RGB in [0, 1] and returns
    ``(B, T_out, C, s*H, s*W)`` with ``s`` the module's ``scale`` attribute; ``T_out == T`` for ``"frame"`` and
    ``"recurrent"`` models and ``T_out == 1`` (the centre frame) for ``"window"`` models fed ``num_frames`` inputs
    (the built module's ``num_frames`` attribute wins: a variant may change the window). The engine clamps, pads
    inputs to ``size_multiple``/``min_size`` and crops the output. ``forward(x, return_aux=True)`` returns
    ``(out, aux)`` with ``aux`` holding exactly the :attr:`aux_outputs` keys; a model that declares none does not
    take ``return_aux``.

    Attributes:
        scale: the factor of every variant whose kwargs set no ``scale`` (``None``: each variant sets its own, or
            the model is ``arbitrary_scale``). Ask :meth:`variant_scale` for a variant's factor.
        edge_padding: how ``"window"`` models see frames before the start/after the end of a clip
            (``"replicate"``, ``"mirror"`` or ``"new_info"``, as the official test code pads).
        aux_outputs: the keys of ``aux`` with ``return_aux=True`` (empty: no auxiliary outputs).
    """

    scale: int | None = 4
    arbitrary_scale: bool = False
    temporal: Temporal = "frame"
    num_frames: int = 1
    min_size: int = 1
    size_multiple: int = 1
    edge_padding: str = "replicate"
    aux_outputs: tuple[str, ...] = ()

    def variant_scale(self, variant: str | None = None) -> int | None:
        """The upscaling factor of ``variant`` (default: :attr:`default_variant`); ``None`` for arbitrary-scale
        models."""
        if self.arbitrary_scale:
            return None
        return int(self.variant_kwargs(variant).get("scale", self.scale))
