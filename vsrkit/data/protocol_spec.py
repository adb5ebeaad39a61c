"""A config's ``protocol`` value → a :mod:`vsrkit.degrade` protocol (shared by every dataset builder)."""

from __future__ import annotations

from typing import Any

from vsrkit.errors import VsrkitError


def protocol_from_spec(spec: str | dict[str, Any] | None, scale: float):
    """``"bi"`` or ``{name: realistic, noise: 10, ...}`` → the protocol at ``scale``; ``None`` → ``None`` (LR frames
    are read from disk)."""
    from vsrkit.degrade import get_protocol

    if spec is None:
        return None
    if isinstance(spec, str):
        return get_protocol(spec, scale=scale)
    spec = dict(spec)
    name = spec.pop("name", None)
    if name is None:
        raise VsrkitError("a protocol mapping needs a 'name': e.g. protocol: {name: bi}")
    return get_protocol(name, scale=scale, **spec)
