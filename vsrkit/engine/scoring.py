"""Scores and export of the shipped checkpoints (:mod:`vsrkit.models.catalogue`).

:func:`evaluate_entry` recomputes a card's held-out numbers from the shipped file (``benchmarks/shipped_scores.py``
prints card vs. re-measured); :func:`score_test_split` scores an entry on the declared test split; :func:`export`
writes a shipped file from a training run's weights (casting to fp16 only if the scores move by ≤ 0.01 dB).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vsrkit.errors import VsrkitError
from vsrkit.models.catalogue import SHIPPED, Shipped, index, load_shipped, shipped_path, weights_dir

__all__ = ["evaluate_entry", "score_test_split", "export", "hardware_summary"]


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
def _scored_runs(model: nn.Module, entry: Shipped, clips: list[str], frames: int,
                 baselines: tuple[str, ...] = ("bicubic",), others: tuple[str, ...] = (),
                 **metric_options: Any) -> dict[str, dict]:
    """Run the entry's model (and its DynaVSR adaptation, if any), the interpolation ``baselines`` and the shipped
    entries ``others`` over ``clips`` degraded by the entry's own protocol (the same LR for all);
    ``{"model"|"adapted"|baseline|other entry: evaluate_clips result}``."""
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
        adapting = AdaptingBackbone(model, model_spec, load_shipped(SHIPPED[ev["adapt"]["mfdn"]], mfdn_path),
                                    steps=int(ev["adapt"]["steps"]), lr=float(ev["adapt"]["lr"]))
        out["adapted"] = run(adapting, model_spec)
    interpolators = {"bicubic": Bicubic, "lanczos": Lanczos}
    for name in baselines:
        out[name] = run(interpolators[name](scale=scale), spec("bicubic"))
    for name in others:
        other, other_model = _entry_model(name, None)
        if int(other.evaluation.get("scale", 0)) != scale:
            raise VsrkitError(f"cannot compare {entry.name!r} (x{scale}) with {name!r} "
                              f"(x{other.evaluation.get('scale')}): choose an entry of the same scale")
        out[name] = run(other_model, spec(other.method))
    return out


_METRICS = ("psnr_rgb", "psnr_y", "ssim_rgb", "ssim_y")


def _rounded(scores: dict) -> dict[str, float]:
    return {k: round(float(scores[k]), 4) for k in _METRICS}


def _clip_scores(model: nn.Module, entry: Shipped, frames: int | None) -> dict[str, Any]:
    runs = _scored_runs(model, entry, [entry.evaluation["clip"]], frames or entry.evaluation["frames"])
    return {k: _rounded(r["mean"]) for k, r in runs.items()}


def score_test_split(name: str, path: str | Path | None = None, *, clips: list[str] | None = None,
                     frames: int | None = None, compare: tuple[str, ...] = ()) -> dict[str, Any]:
    """Score catalogue entry ``name`` on the declared test split (:mod:`vsrkit.data.splits`), under its own protocol,
    against MATLAB bicubic, OpenCV Lanczos and the shipped entries ``compare`` (e.g. the BI default for the
    real-world model) on the same LR.

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
    runs = _scored_runs(model, entry, clips, frames, baselines=("bicubic", "lanczos"), others=tuple(compare),
                        skip_border_frames=TEST_SKIP_BORDER_FRAMES)
    keys = list(runs["model"]["clips"])  # clip keys are file stems (Megamind for megamind), in the order asked
    per_clip = {c: {k: _rounded(r["clips"][key]) for k, r in runs.items()} for c, key in zip(clips, keys)}
    return {"split": {"clips": clips, "frames": frames, "skip_border_frames": TEST_SKIP_BORDER_FRAMES},
            "clips": per_clip,
            "mean": {k: _rounded(r["mean_clip_average"]) for k, r in runs.items()}}


def _entry_model(name: str, path: str | Path | None) -> tuple[Shipped, nn.Module]:
    """Catalogue entry ``name`` and its model loaded from ``path`` (default: the shipped file)."""
    entry = SHIPPED.get(name)
    if entry is None:
        raise VsrkitError(f"no shipped entry {name!r}: choose one of {', '.join(SHIPPED)}")
    path = Path(path) if path is not None else shipped_path(name)
    if path is None:
        raise VsrkitError(f"the shipped weights of {name!r} ({entry.file}) are missing: reinstall vsrkit")
    return entry, load_shipped(entry, path)


def _image_scores(model: nn.Module, entry: Shipped, images: list[str] | None = None) -> dict[str, Any]:
    from vsrkit.engine.evaluate import evaluate_scales

    ev = entry.evaluation
    res = evaluate_scales(model, images or ev["images"], ev["scales"], crop_multiple=int(ev["crop_multiple"]))
    return {k: {m: round(v, 4) for m, v in r["mean"].items()} for k, r in res.items()}


def evaluate_entry(name: str, path: str | Path | None = None, *, frames: int | None = None) -> dict[str, Any]:
    """Re-measure the held-out scores of catalogue entry ``name`` (from ``path`` or the shipped file).

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
    """Write catalogue entry ``name`` from the vsrkit weights ``src`` (a training run's ``latest.safetensors``).

    ``training`` goes into the card (data, protocol, iterations, hardware, notes); ``extra`` adds card fields (e.g.
    ``test_scores`` from :func:`score_test_split`). The file is stored in fp16 when
    its held-out score stays within ``tolerance_db`` of the fp32 one, else in fp32; returns the card written.
    """

    from vsrkit.models.weights import read_card, save_weights, sha256_file, tensor_sha256

    entry = SHIPPED[name]
    out_dir = Path(out_dir) if out_dir is not None else weights_dir()
    src_card = read_card(src)
    model = load_shipped(entry, Path(src))
    scores = evaluate_entry(name, src) if entry.evaluation.get("kind") != "none" else {}
    card = {k: v for k, v in src_card.items() if k not in ("best",)}
    card.update({"method": entry.method, "zoo_name": name, "role": entry.role, "config": entry.config,
                 "training": training, "evaluation": entry.evaluation, "source_sha256": sha256_file(src)})
    card.update(extra or {})
    dst = out_dir / entry.file
    storage = "fp32"
    if fp16:
        model.half()  # loading casts back to fp32, so the check scores the fp16-rounded weights as users run them
        # the check file keeps the real suffix: loaders that pick the format from it (SpyNet's) read it as such
        tmp = save_weights(model, out_dir / f".fp16check.{entry.file}", card)
        try:
            scores16 = evaluate_entry(name, tmp) if scores else {}
        finally:
            tmp.unlink(missing_ok=True)
        delta = abs(_headline(scores16) - _headline(scores)) if scores else 0.0
        if delta <= tolerance_db:
            storage = "fp16"
            card["fp16_delta_db"] = round(delta, 5)
            scores = scores16 or scores
        else:
            model = load_shipped(entry, Path(src))  # keep the fp32 weights
    card["storage"] = storage
    card["scores"] = scores
    card["tensor_sha256"] = tensor_sha256(model)
    save_weights(model, dst, card)
    load_shipped(entry, dst)  # it loads strictly through the normal path
    idx = index()
    idx[name] = {"file": entry.file, "sha256": sha256_file(dst), "bytes": dst.stat().st_size}
    tmp_index = out_dir / ".index.json.partial"
    tmp_index.write_text(json.dumps(idx, indent=2, sort_keys=True) + "\n")
    tmp_index.replace(out_dir / "index.json")
    return card
