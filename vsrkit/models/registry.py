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
# SR-INR variants (kwargs over the constructor's paper defaults), shared by the image and video entries; the same
# settings as vsrkit.models.srinr.VARIANTS (a test keeps them equal).
_SRINR_VARIANTS: dict[str, dict] = {
    "paper": {},
    "small": {"n_levels": 6, "log2_table_size": 14, "finest_resolution": 64},
    "small_residual": {"n_levels": 6, "log2_table_size": 14, "finest_resolution": 64, "residual": True,
                       "coords": "local", "texture": "pixel", "decoder_codes": True},
}
register(
    ModelSpec(
        name="srinr",
        target="vsrkit.models.srinr:SRINR",
        description="SR-INR (image mode): 6-D hash-grid INR over (x, y, t, texture code), any real scale",
        scale=None,
        arbitrary_scale=True,
        temporal="frame",  # image mode: every frame on its own (t = 0)
        variants={v: dict(kw) for v, kw in _SRINR_VARIANTS.items()},
        default_variant="paper",
        paper="Aiyetigbo et al., Implicit Neural Representation for Video and Image Super-Resolution",
        status="implemented",  # no official weights exist
        receptive_margin=None,  # global: coordinates and level images span the frame (not tileable)
    )
)
register(
    ModelSpec(
        name="srinr_video",
        target="vsrkit.models.srinr:SRINR",
        description="SR-INR (video mode, z_t = t/(T-1) over the clip): run fitted models with --chunk >= frames",
        scale=None,
        arbitrary_scale=True,
        temporal="recurrent",  # an output frame depends on the clip (its time coordinate spans the clip)
        variants={v: {"mode": "video", **kw} for v, kw in _SRINR_VARIANTS.items()},
        default_variant="paper",
        paper="Aiyetigbo et al., Implicit Neural Representation for Video and Image Super-Resolution",
        status="implemented",  # no official weights exist
        receptive_margin=None,
    )
)
register(
    ModelSpec(
        name="fmanet",
        target="vsrkit.models.fmanet:FMANet",
        description="FMA-Net: joint x4 VSR + deblurring with flow-guided dynamic filtering and FRMA (official weights load)",
        scale=4,
        temporal="window",
        num_frames=3,  # paper-t5 is a 5-frame model: build it directly (the registry window is the paper's T=3)
        variants={name: {**paper, **delta} for paper in [{
            "num_feat": 90, "num_frames": 3, "num_flows": 9, "kd": 20, "kr": 5, "num_rdb": 12, "growth_rate": 18,
            "num_dense_layers": 4, "num_frma": 4, "num_attn_blocks": 2, "num_heads": 6, "ffn_expansion_factor": 2.66,
            "bias": False, "layernorm_bias": True,
        }] for name, delta in {
            "paper": {}, "paper-t5": {"num_frames": 5}, "s": {"num_frma": 2},
            "small": {"num_feat": 24, "num_flows": 3, "num_rdb": 2, "growth_rate": 12, "num_dense_layers": 3,
                      "num_frma": 2, "num_attn_blocks": 1, "num_heads": 2},
        }.items()},
        default_variant="paper",
        # The official test loop drops the first/last T//2 frames (no padding, issue #28); vsrkit replicates the
        # end frames so every input frame gets an output (metrics on the paper protocol skip those frames).
        edge_padding="replicate",
        paper="Youk, Oh, Kim, FMA-Net, CVPR 2024",
        converter="vsrkit.models.fmanet:convert_official_state_dict",
        receptive_margin=None,  # channel attention over the whole frame
    )
)
register(
    ModelSpec(
        name="edvr",
        target="vsrkit.models.edvr:EDVR",
        description="EDVR (PCD deformable alignment + TSA fusion) as DynaVSR's backbone; pure-PyTorch DCNv2",
        scale=2,
        temporal="window",
        num_frames=5,
        variants={"m_x2": {"num_feat": 64, "num_frame": 5, "deformable_groups": 8, "num_extract_block": 5,
                           "num_reconstruct_block": 10, "scale": 2},
                  "l_x4": {"num_feat": 128, "num_frame": 5, "deformable_groups": 8, "num_extract_block": 5,
                           "num_reconstruct_block": 40, "scale": 4},
                  "tiny_x2": {"num_feat": 16, "num_frame": 5, "deformable_groups": 4, "num_extract_block": 1,
                              "num_reconstruct_block": 2, "scale": 2}},
        default_variant="m_x2",
        size_multiple=4,
        paper="Wang et al., EDVR, CVPRW 2019 (DynaVSR backbone, Lee et al., WACV 2021)",
        converter="vsrkit.models.edvr:convert_official_state_dict",
        receptive_margin=None,
        edge_padding="new_info",
    )
)
register(
    ModelSpec(
        name="toflow",
        target="vsrkit.models.toflow:TOFlow",
        description="TOFlow (BatchNorm SpyNet, 7 bicubic-upsampled frames) as DynaVSR's backbone",
        scale=2,
        temporal="window",
        num_frames=7,
        variants={"x2": {"scale": 2}},
        default_variant="x2",
        min_size=8,  # 16 px after the x2 pre-upsampling
        paper="Xue et al., TOFlow, IJCV 2019 (DynaVSR backbone, Lee et al., WACV 2021)",
        converter="vsrkit.models.toflow:convert_official_state_dict",
        receptive_margin=None,
        edge_padding="new_info",
    )
)
register(
    ModelSpec(
        name="duf",
        target="vsrkit.models.duf:DUF",
        description="DUF (dynamic upsampling filters, 16/28/52 layers) as DynaVSR's backbone",
        scale=2,
        temporal="window",
        num_frames=7,
        variants={"16l_x2": {"depth": 16, "scale": 2}, "16l_x4": {"depth": 16, "scale": 4},
                  "28l_x4": {"depth": 28, "scale": 4}, "52l_x4": {"depth": 52, "scale": 4}},
        default_variant="16l_x2",
        paper="Jo et al., DUF, CVPR 2018 (DynaVSR backbone, Lee et al., WACV 2021)",
        converter="vsrkit.models.duf:convert_official_state_dict",
        receptive_margin=None,
        edge_padding="new_info",
    )
)
register(
    ModelSpec(
        name="iart",
        target="vsrkit.models.iart:IART",
        description="IA-RT: PSRT-recurrent with implicit resampling-based alignment (official IART weights load)",
        scale=4,
        temporal="recurrent",
        variants={
            "paper": {"mid_channels": 64, "embed_dim": 120, "depths": [6, 6, 6], "num_heads": [6, 6, 6],
                      "window_size": [3, 8, 8]},
            "small": {"mid_channels": 32, "embed_dim": 24, "depths": [2], "num_heads": [2], "window_size": [3, 8, 8]},
        },
        default_variant="paper",
        min_size=64,  # official assert (LR H, W >= 64)
        paper="Xu et al., Enhancing Video Super-Resolution via Implicit Resampling-based Alignment, CVPR 2024",
        converter="vsrkit.models.iart:convert_official_state_dict",
        receptive_margin=None,
    )
)
register(
    ModelSpec(
        name="iacnn",
        target="vsrkit.models.iart:IACNN",
        description="IA-CNN (re-creation, no official code): BasicVSR with implicit alignment; alignment= selects "
        "nearest/bilinear/bicubic/implicit",
        scale=4,
        temporal="recurrent",
        variants={
            "paper": {"num_feat": 64, "num_block": 30, "num_heads": 8, "query_blocks": 30, "alignment": "implicit"},
            "small": {"num_feat": 32, "num_block": 5, "num_heads": 4, "query_blocks": 2, "alignment": "implicit"},
        },
        default_variant="paper",
        min_size=33,  # SpyNet
        paper="Xu et al., CVPR 2024 (IA-CNN; vsrkit re-creation, parameter-matched hypothesis)",
        converter=None,
        status="re-creation",
        receptive_margin=None,
    )
)
