"""Model registry: ``vsrkit.models.build(name, variant=..., **overrides)`` and ``vsrkit.models.available()``."""

from vsrkit.models.registry import ModelSpec, NetworkSpec, available, build, network, spec

__all__ = ["ModelSpec", "NetworkSpec", "available", "build", "network", "spec"]
