"""Which model ``vsrkit upscale`` runs when the user names none, or asks for a shipped one by purpose.

``--blurry`` picks the shipped deblurring model, ``--real`` the shipped real-world checkpoint (its card names the
model), and no choice at all the shipped general ×4 model (:data:`vsrkit.models.catalogue.DEFAULT_SHARP`).
"""

from __future__ import annotations

from vsrkit.errors import VsrkitError


def choose_model(name: str | None, weights: str | None, *, blurry: bool = False, real: bool = False,
                 scale: float | None = None) -> tuple[str | None, str | None]:
    """``(model name, weights file)`` to build from the user's ``-m``, ``--weights``, ``--blurry``, ``--real`` and
    ``--scale``; refuses contradicting choices with a one-line error."""
    from vsrkit.models import catalogue

    if blurry and real:
        raise VsrkitError("--blurry and --real each pick a shipped model: keep one")
    if blurry:
        if name is not None or weights is not None:
            raise VsrkitError("--blurry picks the shipped deblurring model: drop --model/--weights or drop --blurry")
        return catalogue.DEFAULT_BLURRY, None
    if real:
        if name is not None or weights is not None:
            raise VsrkitError("--real picks the shipped real-world model: drop --model/--weights or drop --real")
        return None, str(catalogue.shipped_path(catalogue.require_shipped(catalogue.DEFAULT_REAL)))  # its card names the model
    if name is None and weights is None:
        if scale is not None and scale != 4:
            raise VsrkitError(f"the default model upscales x4, not x{scale:g}: add -m srinr (any scale) or "
                              "-m bicubic")
        return catalogue.DEFAULT_SHARP, None
    return name, weights
