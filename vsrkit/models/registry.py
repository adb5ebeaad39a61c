"""One explicit table from model names to constructors (no import-time scanning).

Each entry is a :class:`ModelSpec`. The model module is imported only when that model is built, so a broken or
heavy method never breaks the others. The engine relies on the contract documented in :class:`ModelSpec`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from torch import nn

from vsrkit.errors import VsrkitError

Temporal = Literal["frame", "window", "recurrent"]


@dataclass(frozen=True)
class ModelSpec:
    """What the engine may rely on for one registered model.

    Contract of the built ``nn.Module``: ``forward(x)`` takes ``(B, T, C, H, W)`` RGB in [0, 1] and returns
    ``(B, T_out, C, scale*H, scale*W)``; ``T_out == T`` for ``"frame"`` and ``"recurrent"`` models and
    ``T_out == 1`` (the centre frame) for ``"window"`` models with ``num_frames`` inputs. The engine clamps,
    pads inputs to ``size_multiple``/``min_size`` and crops the output.
    """

    name: str
    target: str  # "module.path:ClassName" (or factory function), imported lazily
    description: str
    scale: int | None = 4  # None when arbitrary_scale
    arbitrary_scale: bool = False
    temporal: Temporal = "frame"
    num_frames: int = 1  # window length for "window" models
    variants: dict[str, dict[str, Any]] = field(default_factory=lambda: {"default": {}})
    default_variant: str = "default"
    min_size: int = 1
    size_multiple: int = 1
    status: str = "implemented"
    paper: str = ""
    converter: str | None = None  # "module.path:function" for official checkpoints
    receptive_margin: int | None = None  # LR pixels that influence an output pixel; None = global/unknown
    edge_padding: str = "replicate"  # how "window" models see frames before the start/after the end of a clip

    def constructor(self) -> Callable[..., nn.Module]:
        module_name, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module_name), attr)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def available() -> list[str]:
    """Names of every registered model, sorted."""
    return sorted(_REGISTRY)


def spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise VsrkitError(
            f"unknown model {name!r}: choose one of {', '.join(available())} (see `vsrkit models`)"
        ) from None


def build(name: str, variant: str | None = None, **overrides: Any) -> nn.Module:
    """Build model ``name`` in ``variant`` (default: the spec's default variant), with keyword overrides."""
    s = spec(name)
    variant = variant or s.default_variant
    if variant not in s.variants:
        raise VsrkitError(
            f"model {name!r} has no variant {variant!r}: choose one of {', '.join(sorted(s.variants))}"
        )
    kwargs = {**s.variants[variant], **overrides}
    return s.constructor()(**kwargs)


# --------------------------------------------------------------------------------------------------------------
# The table. Add one `register(...)` per method; keep it sorted by the order the methods landed.
# --------------------------------------------------------------------------------------------------------------
register(
    ModelSpec(
        name="bicubic",
        target="vsrkit.models.bicubic:Bicubic",
        description="MATLAB-compatible bicubic upscaling (the baseline every table compares with)",
        scale=4,
        temporal="frame",
        variants={"default": {"scale": 4}, "x2": {"scale": 2}, "x3": {"scale": 3}, "x4": {"scale": 4}},
        receptive_margin=3,
        status="baseline",
    )
)
register(
    ModelSpec(
        name="basicvsr",
        target="vsrkit.models.basicvsr:BasicVSR",
        description="BasicVSR: bidirectional recurrent propagation with SpyNet flow alignment (BasicSR weights load)",
        scale=4,
        temporal="recurrent",
        variants={"paper": {"num_feat": 64, "num_block": 30}, "small": {"num_feat": 32, "num_block": 5}},
        default_variant="paper",
        min_size=33,  # SpyNet's 6-level pyramid needs H, W > 32
        paper="Chan et al., BasicVSR, CVPR 2021",
        converter="vsrkit.models.basicvsr:convert_official_state_dict",
        receptive_margin=None,  # recurrent propagation: every frame sees the whole clip
    )
)
register(
    ModelSpec(
        name="bvsr_ik",
        target="vsrkit.models.bvsr_ik:BVSRIK",
        description="BVSR-IK: blind VSR with SIREN multi-scale kernel dictionaries, ISC correction and ITA alignment",
        scale=4,
        # Handles any T (bidirectional recurrence). The authors evaluate their weights on 5-frame windows keeping
        # the centre output; the engine runs overlapping recurrent chunks instead (use --chunk 5 to stay close to
        # the length the official feature_order="official" weights were trained on).
        temporal="recurrent",
        num_frames=5,
        variants={
            "paper": {},
            "small": {
                "num_feat": 32, "isc_feat": 8, "ita_feat": 16, "siren_hidden": 48, "isc_blocks": 2,
                "ita_fusion_blocks": 1, "prop_blocks": 3, "recon_blocks": 2, "feature_order": "fixed",
                "flow_source": "corrected",
            },
        },
        default_variant="paper",
        min_size=33,  # SpyNet; the model pads to multiples of 4 itself
        size_multiple=4,
        paper="Zhu et al., Blind Video Super-Resolution based on Implicit Kernels, ICCV 2025",
        converter="vsrkit.models.bvsr_ik:convert_official_state_dict",
        receptive_margin=None,
    )
)
