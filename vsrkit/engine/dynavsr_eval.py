"""DynaVSR's evaluation (``vsrkit eval-model --dynavsr``) and the inputs of test-time adaptation (``vsrkit upscale
--adapt dynavsr``): the MFDN to adapt with and the adaptation learning rate.

Every clip's HR frames are degraded under DynaVSR's test protocols (isotropic σ sweep, anisotropic kernels at four
rotations, mixed random kernels; :func:`vsrkit.engine.adapt.dynavsr_test_protocols`) and scored without and with
adaptation (RGB PSNR, uint8, full frame).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from vsrkit.engine.infer import InferenceOptions
from vsrkit.errors import VsrkitError
from vsrkit.models.registry import ModelSpec

OFFICIAL_ADAPT_LR = 1e-5  # the official code's adaptation step, used for weights that were not meta-trained here


def adaptation_inputs(backbone: str, *, mfdn: str | None, lr: float | None, weights: str | None,
                      flag: str) -> tuple[nn.Module, float]:
    """The MFDN (``mfdn`` or the shipped one) and the adaptation lr: ``lr``; else the step the shipped ``backbone``
    was meta-trained for when it runs its shipped weights (``weights`` is None); else :data:`OFFICIAL_ADAPT_LR`.
    ``flag`` names the option in the error when no MFDN is available."""
    from vsrkit.models import catalogue
    from vsrkit.engine.adapt import load_mfdn

    mfdn_path = mfdn or catalogue.shipped_path("mfdn")
    if mfdn_path is None:
        raise VsrkitError(f"{flag} needs --mfdn WEIGHTS (an MFDN for the backbone's scale)")
    if lr is None:
        entry = catalogue.SHIPPED.get(backbone) if weights is None else None
        lr = float(entry.evaluation["adapt"]["lr"]) if entry is not None and "adapt" in entry.evaluation \
            else OFFICIAL_ADAPT_LR
    return load_mfdn(str(mfdn_path)), lr


def evaluate_dynavsr(model: nn.Module, model_spec: ModelSpec, mfdn: nn.Module, section: dict[str, Any], *,
                     families: str = "all", steps: int = 1, lr: float, per: str = "clip",
                     options: InferenceOptions | None = None) -> list[dict[str, Any]]:
    """One row per clip of the dataset ``section`` and DynaVSR test setting (``families``: all, iso, aniso or
    mixed): base and adapted RGB PSNR, adaptation and SR seconds (:func:`vsrkit.engine.adapt.evaluate_protocols`)."""
    from vsrkit.engine.adapt import dynavsr_test_protocols, evaluate_protocols
    from vsrkit.engine.config import build_eval_dataset
    from vsrkit.engine.infer import tensor_to_frames

    scale = int(mfdn.scale)
    protocols = dynavsr_test_protocols(("iso", "aniso", "mixed") if families == "all" else (families,))
    dataset = build_eval_dataset({**section, "protocol": "bi"}, scale)  # only the (mod-cropped) HR frames are used
    multiple = 4 * scale * max(model_spec.size_multiple, 1)
    rows = []
    for i in range(len(dataset)):
        item = dataset[i]
        hr = np.stack(tensor_to_frames(item["gt"]))
        hr = hr[:, : hr.shape[1] // multiple * multiple, : hr.shape[2] // multiple * multiple]
        for r in evaluate_protocols(model.eval(), model_spec, mfdn, hr, protocols=protocols, steps=steps, lr=lr,
                                    per=per, options=options):
            rows.append({"clip": item["key"], **r})
    return rows


def dynavsr_summary(rows: list[dict[str, Any]], *, steps: int, lr: float, per: str) -> str:
    """The mean line under the :func:`evaluate_dynavsr` table."""
    return (f"mean: base {np.mean([r['psnr_base'] for r in rows]):.3f} dB, adapted "
            f"{np.mean([r['psnr_adapted'] for r in rows]):.3f} dB (RGB, uint8, full frame; {steps} step(s), "
            f"lr {lr:g}, per {per})")
