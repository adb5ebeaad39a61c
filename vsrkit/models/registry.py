"""Which networks exist and which model file declares each one (no import-time scanning).

The declarations themselves (:class:`~vsrkit.models.spec.ModelSpec`, :class:`~vsrkit.models.spec.NetworkSpec`)
live in the model files, next to the classes, as ``SPECS``. This module only maps each name to its module and
imports that module when the name is first asked for, so importing :mod:`vsrkit.models` stays cheap and a broken
or heavy method never breaks the others.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from torch import nn

from vsrkit.errors import VsrkitError
from vsrkit.models.spec import ModelSpec, NetworkSpec

__all__ = ["MODELS", "HELPER_NETWORKS", "ModelSpec", "NetworkSpec", "available", "build", "network",
           "networks", "spec", "with_role"]

#: Super-resolution models → the ``vsrkit.models`` module that declares them, in the order the methods landed.
MODELS: dict[str, str] = {
    "bicubic": "bicubic",
    "basicvsr": "basicvsr",
    "bvsr_ik": "bvsr_ik",
    "srinr": "srinr",
    "srinr_video": "srinr",
    "fmanet": "fmanet",
    "edvr": "edvr",
    "toflow": "toflow",
    "duf": "duf",
    "iart": "iart",
    "iacnn": "iart",
}

#: Networks with weights of their own but no upscaling contract (flow, DynaVSR downscalers) → declaring module.
HELPER_NETWORKS: dict[str, str] = {
    "spynet": "spynet",
    "mfdn": "dynavsr",
    "sfdn": "dynavsr",
}


@functools.cache
def _declared(name: str) -> NetworkSpec:
    module_name = MODELS.get(name) or HELPER_NETWORKS[name]
    module = importlib.import_module(f"vsrkit.models.{module_name}")
    for declared in module.SPECS:
        if declared.name == name:
            return declared
    raise LookupError(f"vsrkit.models.{module_name} declares no spec named {name!r}")  # caught by the registry test


def available() -> list[str]:
    """Names of every registered super-resolution model, sorted."""
    return sorted(MODELS)


def networks() -> list[str]:
    """Every declared network: the super-resolution models, then the helper networks."""
    return [*MODELS, *HELPER_NETWORKS]


def spec(name: str) -> ModelSpec:
    """The declaration of super-resolution model ``name``; one-line error for unknown names."""
    if name not in MODELS:
        raise VsrkitError(
            f"unknown model {name!r}: choose one of {', '.join(available())} (see `vsrkit models`)"
        )
    return _declared(name)  # type: ignore[return-value]


def network(name: str) -> NetworkSpec:
    """The declaration of any network (super-resolution model or helper network); one-line error if unknown."""
    if name not in MODELS and name not in HELPER_NETWORKS:
        raise VsrkitError(f"unknown network {name!r}: choose one of {', '.join(sorted(networks()))}")
    return _declared(name)


def with_role(role: str) -> dict[str, NetworkSpec]:
    """The helper networks whose declared role is ``role`` (e.g. ``"downscaler"``), by name."""
    return {n: network(n) for n in HELPER_NETWORKS if network(n).role == role}


def build(name: str, variant: str | None = None, **overrides: Any) -> nn.Module:
    """Build model ``name`` in ``variant`` (default: the spec's default variant), with keyword overrides."""
    return spec(name).build(variant, **overrides)
