"""Model registry: ``vsrkit.models.build(name, variant=..., **overrides)`` and ``vsrkit.models.available()``."""

from vsrkit.models.registry import ModelSpec, available, build, register, spec

__all__ = ["ModelSpec", "available", "build", "register", "spec"]
