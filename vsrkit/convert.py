"""Equivalence interface between official checkpoints/forwards and vsrkit models.

* :func:`from_official` builds the vsrkit model that matches an official constructor call and strictly loads a
  converted official state dict into it.
* :func:`official_forward` calls a vsrkit model the way the official ``forward`` is called and returns the outputs
  in the official order (what parity tests and the golden fixtures compare).
* :func:`load_checkpoint_file` / :func:`convert_file` read official ``.pth``/``.safetensors`` files and write vsrkit
  safetensors with a JSON model card (used by ``vsrkit convert``).

Each method is one row of :data:`METHODS`: how to build the model from the official constructor kwargs, the
converter (official keys → vsrkit keys, an explicit table in the model's own file) and how to call it. Model
modules are imported lazily so that one broken method never breaks the others.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from vsrkit.errors import VsrkitError
from vsrkit.io import marks
from vsrkit.models import registry, weights
from vsrkit.checkpoint import KeyMismatch, load_checkpoint_file, load_strict

__all__ = [
    "METHODS",
    "OfficialMethod",
    "build_from_official_args",
    "convert_file",
    "convert_state_dict",
    "from_official",
    "load_checkpoint_file",
    "official_forward",
]

log = logging.getLogger(__name__)


def _resolve(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class OfficialMethod:
    """How one official implementation maps onto vsrkit.

    Attributes:
        target: ``"module:Class"`` of the vsrkit model.
        converter: ``"module:function"``; ``function(state_dict, report=None) -> state_dict``.
        official_defaults: the official constructor kwargs of the paper configuration.
        kwargs_from_official: official kwargs (defaults merged in) → vsrkit constructor kwargs. Official kwargs that
            only load files (e.g. ``spynet_path``) are ignored: the weights come from the converted state dict.
        call: ``(model, *official_inputs) -> official outputs`` (tuple or tensor, official order).
    """

    target: str
    converter: str
    official_defaults: dict[str, Any]
    kwargs_from_official: Callable[[dict[str, Any]], dict[str, Any]]
    call: Callable[..., Tensor | tuple[Tensor, ...]]
    loader: str | None = None  # "module:function" reading an official file/folder; default load_checkpoint_file


def _basicvsr_kwargs(args: dict[str, Any]) -> dict[str, Any]:
    return {"num_feat": int(args["num_feat"]), "num_block": int(args["num_block"])}


def _require(args: dict[str, Any], key: str, value: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    if args[key] != value:
        raise VsrkitError(f"only {key}={value!r} is supported (what the released weights need), got {args[key]!r}")
    return kwargs


def _edvr_kwargs(a: dict[str, Any]) -> dict[str, Any]:
    if a["predeblur"] or a["HR_in"] or a["center"] not in (None, int(a["nframes"]) // 2):
        raise VsrkitError("EDVR: predeblur/HR_in/off-centre reference are not used by DynaVSR and not supported")
    return {"num_feat": int(a["nf"]), "num_frame": int(a["nframes"]), "deformable_groups": int(a["groups"]),
            "num_extract_block": int(a["front_RBs"]), "num_reconstruct_block": int(a["back_RBs"]),
            "scale": int(a["scale"]), "with_tsa": bool(a["w_TSA"])}


#: Method name → mapping. Add one entry per method (explicit, no discovery).
METHODS: dict[str, OfficialMethod] = {
    # BasicSR basicsr/archs/spynet_arch.py SpyNet(load_path=None); forward(ref, supp) -> flow (N,2,H,W).
    "spynet": OfficialMethod(
        target="vsrkit.ops.spynet:SpyNet",
        converter="vsrkit.ops.spynet:convert_official_spynet_state_dict",
        official_defaults={"load_path": None},
        kwargs_from_official=lambda args: {},
        call=lambda model, ref, supp: model(ref, supp),
    ),
    # BasicSR basicsr/archs/basicvsr_arch.py BasicVSR(num_feat=64, num_block=30, spynet_path=None);
    # forward(x (B,T,3,H,W)) -> (B,T,3,4H,4W).
    "basicvsr": OfficialMethod(
        target="vsrkit.models.basicvsr:BasicVSR",
        converter="vsrkit.models.basicvsr:convert_official_state_dict",
        official_defaults={"num_feat": 64, "num_block": 30, "spynet_path": None},
        kwargs_from_official=_basicvsr_kwargs,
        call=lambda model, x: model(x),
    ),
    # QZ1-boy/BVSR-IK model_KCA.py KCANet(config); the config fields it reads are below (every other size is
    # hard-coded). forward(lrs (B,T,3,H,W) BGR) -> {'outputs': (B,T,3,4H,4W), 'lr_corrs': (B,T,3,H,W)} (BGR).
    "bvsr_ik": OfficialMethod(
        target="vsrkit.models.bvsr_ik:BVSRIK",
        converter="vsrkit.models.bvsr_ik:convert_official_state_dict",
        official_defaults={"in_channels": 3, "dim": 64, "num_seq": 5, "bias": False, "scale": 4},
        kwargs_from_official=lambda args: {} if int(args["dim"]) == 64 else {"num_feat": int(args["dim"])},
        call=lambda model, lrs: (lambda r: (r["outputs"], r["lr_corrs"]))(model.forward_bgr(lrs)),
    ),
    # KAIST-VICLab/FMA-Net model.py FMANet(config) (experiment.cfg keys); forward(x [B,3,T,h,w] BGR, y=None) ->
    # dict: recon, hr_warp, image_flow, F_sharp_D (only with y), output, lr_warp, F_sharp_R. Releases: the combined
    # state dict, or model_D_best.pt + model_R_best.pt (pass their folder; see fmanet.load_official_files).
    "fmanet": OfficialMethod(
        target="vsrkit.models.fmanet:FMANet",
        converter="vsrkit.models.fmanet:convert_official_state_dict",
        official_defaults={
            "in_channels": 3, "dim": 90, "ds_kernel_size": 20, "us_kernel_size": 5, "num_RDB": 12, "growth_rate": 18,
            "num_dense_layer": 4, "num_flow": 9, "num_FRMA": 4, "num_transformer_block": 2, "num_heads": 6,
            "LayerNorm_type": "WithBias", "ffn_expansion_factor": 2.66, "bias": False, "scale": 4, "num_seq": 3,
            "stage": 2,
        },
        kwargs_from_official=lambda args: _resolve("vsrkit.models.fmanet:kwargs_from_official_config")(args),
        call=lambda model, x, y=None: model.official_forward(x, y),
        loader="vsrkit.models.fmanet:load_official_files",
    ),
    # esw0116/DynaVSR codes/models/archs/LRimg_estimator.py DirectKernelEstimatorVideo(nf=64, in_nc=3, scale=2)
    # (MFDN); forward(x (B,3,T,H,W)) -> (B,3,T,H/s,W/s).
    "mfdn": OfficialMethod(
        target="vsrkit.models.dynavsr:MFDN",
        converter="vsrkit.models.dynavsr:convert_official_state_dict",
        official_defaults={"nf": 64, "in_nc": 3, "scale": 2},
        kwargs_from_official=lambda a: {"num_feat": int(a["nf"]), "scale": int(a["scale"]), "in_channels": int(a["in_nc"])},
        call=lambda model, x: model.forward_official(x),
    ),
    # DynaVSR DirectKernelEstimator_CMS(nf=64) (SFDN, x2); forward(x (N,3,H,W)) -> (N,3,H/2,W/2).
    "sfdn": OfficialMethod(
        target="vsrkit.models.dynavsr:SFDN",
        converter="vsrkit.models.dynavsr:convert_official_state_dict",
        official_defaults={"nf": 64},
        kwargs_from_official=lambda a: {"num_feat": int(a["nf"])},
        call=lambda model, x: model.forward_images(x),
    ),
    # DynaVSR codes/models/archs/EDVR_arch.py EDVR(nf, nframes, groups, front_RBs, back_RBs, center, predeblur,
    # HR_in, w_TSA, scale); defaults = EDVR-M x2 of the DynaVSR option files. forward(x (B,N,3,h,w)) -> (B,3,sh,sw).
    "edvr": OfficialMethod(
        target="vsrkit.models.edvr:EDVR",
        converter="vsrkit.models.edvr:convert_official_state_dict",
        official_defaults={"nf": 64, "nframes": 5, "groups": 8, "front_RBs": 5, "back_RBs": 10, "center": None,
                           "predeblur": False, "HR_in": False, "w_TSA": True, "scale": 2},
        kwargs_from_official=lambda a: _edvr_kwargs(a),
        call=lambda model, x: model.restore(x),
    ),
    # DynaVSR codes/models/archs/TOF_arch.py TOFlow(adapt_official=True); forward(x (B,7,3,H,W) already bicubic-
    # upsampled) -> (B,3,H,W).
    "toflow": OfficialMethod(
        target="vsrkit.models.toflow:TOFlow",
        converter="vsrkit.models.toflow:convert_official_state_dict",
        official_defaults={"adapt_official": True},
        kwargs_from_official=lambda a: _require(a, "adapt_official", True, {"scale": 2}),
        call=lambda model, x: model.restore(x),
    ),
    # DynaVSR codes/models/archs/DUF_arch.py DUF_16L(scale=2, adapt_official=True); forward(x (B,7,3,h,w)) ->
    # (B,3,sh,sw). (DUF_28L/DUF_52L: vsrkit DUF(depth=28/52), same converter.)
    "duf": OfficialMethod(
        target="vsrkit.models.duf:DUF",
        converter="vsrkit.models.duf:convert_official_state_dict",
        official_defaults={"scale": 2, "adapt_official": True},
        kwargs_from_official=lambda a: {"depth": 16, "scale": int(a["scale"]), "adapt_official": bool(a["adapt_official"])},
        call=lambda model, x: model.restore(x),
    ),
    # kai422/IART archs/iart_arch.py IART(in_channels=3, mid_channels=64, embed_dim=120, depths=[6,6,6],
    # num_heads=[6,6,6], window_size=[3,8,8], num_frames=3, img_size=64, patch_size=1, cpu_cache_length=100,
    # is_low_res_input=True, spynet_path=None, use_checkpoint=[True]*4); forward(lqs (B,T,3,H,W) RGB, H,W >= 64)
    # -> (B,T,3,4H,4W). img_size, cpu_cache_length and use_checkpoint have no numerical effect.
    "iart": OfficialMethod(
        target="vsrkit.models.iart:IART",
        converter="vsrkit.models.iart:convert_official_state_dict",
        official_defaults={"in_channels": 3, "mid_channels": 64, "embed_dim": 120, "depths": [6, 6, 6],
                           "num_heads": [6, 6, 6], "window_size": [3, 8, 8], "num_frames": 3, "img_size": 64,
                           "patch_size": 1, "cpu_cache_length": 100, "is_low_res_input": True, "spynet_path": None,
                           "use_checkpoint": [True] * 4},
        kwargs_from_official=lambda a: _require(a, "in_channels", 3, _require(a, "num_frames", 3, _require(
            a, "patch_size", 1, _require(a, "is_low_res_input", True, {
                "mid_channels": int(a["mid_channels"]), "embed_dim": int(a["embed_dim"]),
                "depths": [int(d) for d in a["depths"]], "num_heads": [int(h) for h in a["num_heads"]],
                "window_size": [int(v) for v in a["window_size"]]})))),
        call=lambda model, lqs: model(lqs),
    ),
}


def _method(method: str) -> OfficialMethod:
    try:
        return METHODS[method]
    except KeyError:
        raise VsrkitError(
            f"no official-weights converter for {method!r}: choose one of {', '.join(sorted(METHODS))}"
        ) from None


def convert_state_dict(method: str, state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """Run ``method``'s converter (official keys → vsrkit keys); ``report`` receives renamed/dropped/added keys."""
    return _resolve(_method(method).converter)(state_dict, report=report)


def build_from_official_args(method: str, official_args: dict[str, Any] | None = None) -> nn.Module:
    """The vsrkit model matching the official constructor call (paper configuration when ``official_args`` is
    ``None``; given kwargs override the official defaults)."""
    m = _method(method)
    unknown = set(official_args or {}) - set(m.official_defaults)
    if unknown:
        raise VsrkitError(
            f"{method}: unknown official constructor arguments {sorted(unknown)}: "
            f"expected some of {sorted(m.official_defaults)}"
        )
    args = {**m.official_defaults, **(official_args or {})}
    return _resolve(m.target)(**m.kwargs_from_official(args))


def from_official(
    method: str,
    state_dict: dict,
    official_args: dict[str, Any] | None = None,
    *,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Build the vsrkit ``method`` model for ``official_args`` and strictly load the converted ``state_dict``.

    ``state_dict`` may be a BasicSR container (``params_ema``/``params``). ``dtype`` (e.g. ``torch.float64`` for
    parity runs) is applied to the model *before* loading so no precision is lost on the way. Returns the model in
    eval mode; renamed/dropped/added keys are logged at INFO level.
    """
    model = build_from_official_args(method, official_args)
    if dtype is not None:
        model = model.to(dtype)
    report: dict[str, Any] = {}
    _load_strict(method, model, convert_state_dict(method, state_dict, report), official_args)
    if report.get("renamed") or report.get("dropped") or report.get("added"):
        log.info(
            "%s: %d keys renamed, dropped %s, added %s",
            method, len(report.get("renamed", {})), report.get("dropped", []), report.get("added", []),
        )
    return model.eval()


def _load_strict(method: str, model: nn.Module, converted: dict[str, Tensor], official_args: Any) -> None:
    def explain(m: KeyMismatch) -> str:
        mismatched = [f"{k} {got} vs {expected}" for k, got, expected in m.mismatched]
        return (f"{method}: converted weights do not fit the model built from {official_args or 'the paper defaults'} "
                f"(missing {m.missing[:3]}, unexpected {m.unexpected[:3]}, shape mismatch {mismatched[:3]}): "
                "pass the official constructor arguments the checkpoint was trained with")

    load_strict(model, converted, explain)


def official_forward(method: str, model: nn.Module, *official_inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
    """Call ``model`` with inputs in the official layout and return outputs in the official order.

    ``spynet``: ``(ref, supp)`` → ``flow``; ``basicvsr``: ``(x,)`` → ``output``.
    """
    return _method(method).call(model, *official_inputs)




def _variant_name(method: str, kwargs: dict[str, Any]) -> str | None:
    """Name of the registry variant whose kwargs equal ``kwargs`` (``None`` for custom sizes or unregistered
    methods such as ``spynet``)."""
    if method not in registry.available():
        return None
    variants = registry.spec(method).variants
    return next((name for name, kw in variants.items() if kw == kwargs), None)


def convert_file(
    method: str, src: str | Path, dst: str | Path, official_args: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Convert an official checkpoint file to vsrkit safetensors with its JSON model card in the metadata.

    The card follows :mod:`vsrkit.models.weights` (``method``, ``variant``, ``overrides``, so
    ``weights.load_model(dst)`` rebuilds the model) and adds the official constructor kwargs, the source file name
    and sha256 and the key report (renamed/dropped/added). The weights are loaded strictly into the matching model
    before anything is written. Returns the card.
    """
    src, dst = Path(src), Path(dst)
    m = _method(method)
    args = {**m.official_defaults, **(official_args or {})}
    kwargs = m.kwargs_from_official(args)
    variant = _variant_name(method, kwargs)
    report: dict[str, Any] = {}
    model = build_from_official_args(method, official_args)
    state = _resolve(m.loader)(src) if m.loader else load_checkpoint_file(src)
    _load_strict(method, model, convert_state_dict(method, state, report), official_args)
    card = {
        "method": method,
        "variant": variant,
        "overrides": {} if variant is not None else kwargs,
        "official": {
            "args": {k: v for k, v in args.items() if isinstance(v, (int, float, str, bool)) or v is None},
            "file": src.name,
            "sha256": weights.sha256_file(src) if src.is_file()  # a release folder (FMA-Net D + R files):
            else {str(f.relative_to(src)): weights.sha256_file(f) for f in sorted(src.rglob("*")) if f.is_file()},
        },
        "conversion": report,
    }
    weights.save_weights(model, dst, card)
    marks.mark_file(dst)  # vsrkit's output: a later --overwrite may replace it
    return card
