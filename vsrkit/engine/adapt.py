"""DynaVSR test-time adaptation (Lee, Choi, Lee, WACV 2021, Sec. 3.3 and Algorithm 1, meta-test part) for any
registered window, recurrent or frame backbone.

From the input LR clip itself, the downscaling network (MFDN, :class:`vsrkit.models.dynavsr.MFDN`) predicts the
super-low-resolution clip ``SLR^ = D_φ(LR)``; the backbone is then fitted to the pair (SLR^ → LR) with a few
gradient steps (Eq. 8), and the adapted backbone upscales the LR clip:

    L = L_VSR(S_θ(D_φ(LR)), LR_c) + λ · ‖D_φ(LR) − D_fixed(LR)‖₁

``D_fixed`` is the frozen pre-trained MFDN (the official ``fixed_E``) that replaces the unknown GT SLR at test time;
θ and φ both adapt (one Adam, betas (0.9, 0.99)). The official test preset is one step of a fresh Adam with
α = 1e-5 per output window with full reset, λ = 10, backbone in train mode (BatchNorm batch statistics) — call
:func:`adapt_and_upscale` with ``per="window"`` and the defaults. ``per="clip"`` (vsrkit's default for
``vsrkit upscale``, docs/methods.md §3.4 item 5) adapts once per sequence on windows sampled from it and then runs the
normal engine schedule; parameters are always reset between sequences (each call works on fresh copies, the
caller's modules are never modified).

:func:`inner_loss` and :func:`inner_update` are shared with meta-training (:mod:`vsrkit.engine.recipes.dynavsr`),
which calls them with functional parameter dictionaries (``torch.func.functional_call``).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Callable, Iterable, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.degrade.protocols import DYNAVSR_ANISO_THETAS_DEG, DYNAVSR_ISO_SIGMAS
from vsrkit.engine.infer import InferenceOptions, Upscaler, _pad_index, tensor_to_frames
from vsrkit.errors import VsrkitError
from vsrkit.metrics.image import IDENTICAL_FRAMES_DB, psnr
from vsrkit.models.registry import ModelSpec
from vsrkit.ops.losses import centre_target, charbonnier_loss

__all__ = [
    "vsr_loss_for",
    "inner_loss",
    "inner_update",
    "window_batch",
    "adapt_and_upscale",
    "evaluate_protocols",
    "psnr_rgb_uint8",
]

LossFn = Callable[[Tensor, Tensor], Tensor]


def huber_loss(pred: Tensor, target: Tensor, delta: float = 0.01) -> Tensor:
    """DUF's loss: ``mean(0.5·d² if |d| ≤ δ else δ|d| − 0.5δ²)``."""
    return F.huber_loss(pred, target, delta=delta)


#: Each backbone's own L_VSR as DynaVSR trains it (Charbonnier ε = 1e-6 on d², L1, Huber δ = 0.01).
BACKBONE_LOSSES: dict[str, LossFn] = {
    "charbonnier": lambda p, t: charbonnier_loss(p, t, eps=1e-6),
    "l1": lambda p, t: F.l1_loss(p, t),
    "huber": huber_loss,
}
_DEFAULT_LOSS = {"edvr": "charbonnier", "toflow": "l1", "duf": "huber"}

#: Most LR pixels (batch × frames × h × w) one adaptation step back-propagates through when no ``patch`` is given.
#: Without a bound, one step on a batch of 16 EDVR windows of 384×288 covers 8.8 M LR pixels with a backward pass
#: (one window's inference alone peaks at 1.3 GB). 2^19 is the largest power of two that still adapts the card's
#: carphone ×2 input (16 windows of 5 × 88 × 72 = 506,880 px) on whole frames, so the shipped scores do not change.
ADAPT_MAX_LR_PIXELS = 2**19


def vsr_loss_for(name: str | None, loss: str | None = None) -> LossFn:
    """The loss named ``loss``, or the backbone's own (EDVR Charbonnier, TOFlow L1, DUF Huber; else Charbonnier)."""
    key = loss or _DEFAULT_LOSS.get(name or "", "charbonnier")
    if key not in BACKBONE_LOSSES:
        raise VsrkitError(f"unknown adaptation loss {key!r}: use one of {', '.join(BACKBONE_LOSSES)}")
    return BACKBONE_LOSSES[key]


def _call(module: nn.Module, params: dict[str, Tensor] | None, x: Tensor) -> Tensor:
    if params is None:
        return module(x)
    return torch.func.functional_call(module, params, (x,), strict=False)


def inner_loss(
    vsr: nn.Module,
    mfdn: nn.Module,
    lq: Tensor,
    slr_target: Tensor,
    loss_fn: LossFn,
    *,
    slr_weight: float = 1.0,
    vsr_params: dict[str, Tensor] | None = None,
    mfdn_params: dict[str, Tensor] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """DynaVSR's inner loss (Eq. 8): LR fidelity ``L_VSR(S(D(lq)), lq_c)`` + ``slr_weight``·SLR guidance
    ``‖D(lq) − slr_target‖₁``. ``lq`` ``(B, T, 3, h, w)``; returns ``(loss, {"fidelity", "guidance", "slr"})``."""
    slr = _call(mfdn, mfdn_params, lq)
    pred = _call(vsr, vsr_params, slr)
    fidelity = loss_fn(pred, centre_target(pred, lq))
    guidance = F.l1_loss(slr, slr_target)
    return fidelity + slr_weight * guidance, {"fidelity": fidelity, "guidance": guidance, "slr": slr}


def inner_update(
    params: dict[str, Tensor],
    grads: Iterable[Tensor | None],
    lr: float,
    *,
    rule: Literal["adam1", "sgd"] = "adam1",
    eps: float = 1e-8,
    create_graph: bool = False,
) -> dict[str, Tensor]:
    """One inner step on a parameter dictionary (differentiable when ``create_graph``; otherwise the step is
    detached, which makes the outer gradient first-order MAML).

    ``"adam1"``: the first step of a freshly initialised Adam, ``Δ = α·g/(|g| + ε)`` (what the official test
    procedure does); ``"sgd"``: ``Δ = α·g`` (the paper's Eq. 1).
    """
    out = {}
    for (name, p), g in zip(params.items(), grads):
        if g is None:
            out[name] = p
            continue
        step = g / (g.abs() + eps) if rule == "adam1" else g
        if not create_graph:
            step = step.detach()
        out[name] = p - lr * step
    return out


def _legal_crop(lq: Tensor, spec: ModelSpec, scale: int, patch: int | None) -> Tensor:
    """Crop ``(B, T, 3, h, w)`` so that MFDN (÷scale) and the backbone on the SLR (size_multiple) are legal."""
    m = scale * max(spec.size_multiple, 1)
    h, w = lq.shape[-2:]
    th, tw = (min(h, patch), min(w, patch)) if patch else (h, w)
    th, tw = th // m * m, tw // m * m
    if th // scale < spec.min_size or tw // scale < spec.min_size or th == 0 or tw == 0:
        raise VsrkitError(
            f"{spec.name}: the LR {h}x{w} is too small for adaptation (the SLR must be at least {spec.min_size} px "
            f"and a multiple of {spec.size_multiple}): use larger frames or a larger --adapt-patch"
        )
    y0, x0 = (h - th) // 2, (w - tw) // 2
    return lq[..., y0 : y0 + th, x0 : x0 + tw]


def budget_patch(shape: Sequence[int], max_pixels: int) -> int | None:
    """Side of the centre crop that keeps a ``(B, T, C, h, w)`` adaptation input within ``max_pixels`` LR pixels
    (``B·T·side²``), or ``None`` when the whole frames already fit. The output still covers every full frame; only
    the adaptation loss sees the crop."""
    b, t, h, w = shape[0], shape[1], shape[-2], shape[-1]
    if b * t * h * w <= max_pixels:
        return None
    return max(1, int(math.sqrt(max_pixels / (b * t))))


def _window(lq: Tensor, centre: int, spec: ModelSpec) -> Tensor:
    t, r = lq.shape[0], spec.num_frames // 2
    idx = [j if 0 <= j < t else _pad_index(j, t, spec.edge_padding, centre=centre, radius=r)
           for j in range(centre - r, centre + r + 1)]
    return lq[idx]


def window_batch(lq: Tensor, spec: ModelSpec, centres: Iterable[int]) -> Tensor:
    """``(T, 3, h, w)`` → ``(len(centres), N, 3, h, w)`` windows padded like the engine (``spec.edge_padding``)."""
    return torch.stack([_window(lq, c, spec) for c in centres])


def _adaptation_input(lq: Tensor, spec: ModelSpec, max_windows: int) -> Tensor:
    t = lq.shape[0]
    if spec.temporal == "window":
        centres = np.unique(np.linspace(0, t - 1, min(max_windows, t)).round().astype(int)).tolist()
        return window_batch(lq, spec, centres)
    return lq[None]  # recurrent / frame models: the clip is one sequence


def _adapted_copy(
    model: nn.Module, mfdn: nn.Module, fixed: nn.Module, lq: Tensor, spec: ModelSpec, scale: int, loss_fn: LossFn, *,
    steps: int, lr: float, slr_weight: float, adapt_mfdn: bool, bn_train: bool, patch: int | None, stats: dict,
) -> nn.Module:
    """Fresh copies of ``model`` and ``mfdn`` adapted on a legal crop of ``lq (B, T, 3, h, w)`` (pseudo-GT SLR from
    the frozen ``fixed``); returns the adapted backbone. The callers' modules are never modified."""
    vsr, est = copy.deepcopy(model), copy.deepcopy(mfdn)
    crop = _legal_crop(lq, spec, scale, patch).to(next(model.parameters()).device)
    stats["adapt_pixels"] = max(stats.get("adapt_pixels", 0), crop[..., 0, :, :].numel())
    with torch.no_grad():
        slr_target = fixed(crop)
    params = list(vsr.parameters()) + (list(est.parameters()) if adapt_mfdn else [])
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99))
    vsr.train(bn_train)
    est.train(bn_train)
    start = time.perf_counter()
    for _ in range(steps):
        with torch.enable_grad():
            loss, _ = inner_loss(vsr, est, crop, slr_target, loss_fn, slr_weight=slr_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
        opt.step()
        stats.setdefault("losses", []).append(float(loss.detach()))
    if crop.device.type == "cuda":
        torch.cuda.synchronize(crop.device)
    stats["adapt_seconds"] = stats.get("adapt_seconds", 0.0) + time.perf_counter() - start
    return vsr.eval()


def adapt_and_upscale(
    model: nn.Module,
    spec: ModelSpec,
    mfdn: nn.Module,
    lq_clip: Tensor,
    steps: int = 1,
    lr: float = 1e-5,
    per: Literal["clip", "window"] = "clip",
    *,
    mfdn_fixed: nn.Module | None = None,
    slr_weight: float = 10.0,
    loss: str | None = None,
    adapt_mfdn: bool = True,
    bn_train: bool = True,
    max_windows: int = 8,
    patch: int | None = None,
    options: InferenceOptions | None = None,
    stats: dict | None = None,
) -> Tensor:
    """Adapt ``model`` to one LR sequence with DynaVSR's inner loss, then upscale it.

    Args:
        model: a registered backbone (window/recurrent/frame contract); never modified (adapted copies are used,
            so every call — every sequence — starts from the same meta-trained parameters).
        spec: its :class:`~vsrkit.models.registry.ModelSpec` (window length, padding rules, legal sizes).
        mfdn: the (meta-trained) downscaling network D_φ, adapted together with the backbone.
        lq_clip: ``(T, 3, h, w)`` or ``(1, T, 3, h, w)`` RGB in [0, 1].
        steps / lr: adaptation steps of a fresh Adam (betas 0.9, 0.99) and its learning rate (official: 1, 1e-5).
        per: ``"clip"`` — adapt once on up to ``max_windows`` windows sampled evenly from the clip (recurrent and
            frame models: on the whole clip), then upscale with the engine; ``"window"`` (window models) — the
            official protocol, reset + adapt + upscale for every output window.
        mfdn_fixed: the frozen pre-trained MFDN giving the pseudo-GT SLR (default: ``mfdn`` before adaptation).
        slr_weight: λ of the SLR guidance (official test preset 10).
        loss: ``"charbonnier" | "l1" | "huber"``; default: the backbone's own loss.
        adapt_mfdn: adapt φ as well (official: yes).
        bn_train: run the adaptation forward in train mode (official; matters for BatchNorm backbones).
        patch: optional LR crop size for the adaptation loss (speed; the output always covers the full frame).
        stats: filled with ``adapt_seconds`` (timed adaptation steps only), ``sr_seconds``, ``losses``, ``steps``.

    Returns:
        ``(T, 3, s·h, s·w)`` float on CPU (not clamped), like :meth:`Upscaler.upscale_clip`.
    """
    stats = {} if stats is None else stats
    lq = lq_clip[0] if lq_clip.dim() == 5 else lq_clip
    if lq.dim() != 4 or lq.shape[1] != 3:
        raise VsrkitError(f"adapt_and_upscale expects a (T, 3, h, w) clip, got {tuple(lq_clip.shape)}")
    if per not in ("clip", "window"):
        raise VsrkitError(f"per must be 'clip' or 'window', got {per!r}")
    if per == "window" and spec.temporal != "window":
        raise VsrkitError(f"{spec.name} is a {spec.temporal} model: per-window adaptation needs a window model")
    scale = int(getattr(mfdn, "scale", 2))
    model_scale = int(getattr(model, "scale", spec.scale or 0))
    if scale != model_scale:
        raise VsrkitError(f"MFDN x{scale} does not match the x{model_scale} backbone {spec.name}")
    loss_fn = vsr_loss_for(spec.name, loss)
    fixed = copy.deepcopy(mfdn_fixed if mfdn_fixed is not None else mfdn).eval().requires_grad_(False)
    options = options or InferenceOptions()
    stats.update(adapt_seconds=0.0, sr_seconds=0.0, losses=[], steps=steps, per=per)

    def run(batch: Tensor) -> nn.Module:
        return _adapted_copy(model, mfdn, fixed, batch, spec, scale, loss_fn, steps=steps, lr=lr,
                             slr_weight=slr_weight, adapt_mfdn=adapt_mfdn, bn_train=bn_train, patch=patch, stats=stats)

    if per == "clip":
        vsr = run(_adaptation_input(lq, spec, max_windows))
        start = time.perf_counter()
        out = Upscaler(vsr, spec, options).upscale_clip(lq)
        stats["sr_seconds"] = time.perf_counter() - start
        return out
    outs = []
    for i in range(lq.shape[0]):
        win = window_batch(lq, spec, [i])
        vsr = run(win)
        start = time.perf_counter()
        outs.append(Upscaler(vsr, spec, options).forward(win)[:, 0].cpu())
        stats["sr_seconds"] += time.perf_counter() - start
    return torch.cat(outs, dim=0)


def psnr_rgb_uint8(pred: Tensor, gt: Tensor) -> float:
    """DynaVSR's metric: RGB PSNR (:func:`vsrkit.metrics.image.psnr`) on uint8-quantised frames (clamp, ×255, round),
    full frame, mean over the frames of ``(T, 3, H, W)`` clips; identical frames count as
    :data:`IDENTICAL_FRAMES_DB`, so the mean stays finite."""
    pairs = zip(tensor_to_frames(pred), tensor_to_frames(gt))
    return float(np.mean([min(psnr(p, g), IDENTICAL_FRAMES_DB) for p, g in pairs]))


def dynavsr_test_protocols(families: Iterable[str] = ("iso", "aniso", "mixed")) -> list[tuple[str, dict[str, Any]]]:
    """DynaVSR's test settings as ``(protocol, options)`` pairs: ``iso`` — σ 0.8, 0.9, …, 1.6; ``aniso`` — (0.8, 1.6)
    at 0/45/90/135°; ``mixed`` — random kernels (seed 0). The paper's 9 + 4 + 1."""
    table = {
        "iso": [("dynavsr-iso", {"sigma": sigma}) for sigma in DYNAVSR_ISO_SIGMAS],
        "aniso": [("dynavsr-aniso", {"theta_deg": theta}) for theta in DYNAVSR_ANISO_THETAS_DEG],
        "mixed": [("mixed", {"seed": 0})],
    }
    return [p for f in families for p in table[f]]


def evaluate_protocols(
    model: nn.Module,
    spec: ModelSpec,
    mfdn: nn.Module,
    hr_clip: np.ndarray,
    *,
    protocols: Iterable[tuple[str, dict[str, Any]]] | None = None,
    steps: int = 1,
    lr: float = 1e-5,
    per: Literal["clip", "window"] = "clip",
    **adapt_kwargs: Any,
) -> list[dict[str, Any]]:
    """Baseline vs adapted RGB PSNR (uint8, full frame) on one HR clip ``(T, H, W, 3)`` uint8 under DynaVSR's test
    protocols: isotropic σ sweep (``dynavsr-iso``), anisotropic four rotations (``dynavsr-aniso``), ``mixed``.

    ``protocols``: ``(name, options)`` pairs for :func:`vsrkit.degrade.get_protocol` (scale from the MFDN); default
    the paper's 9 + 4 + 1 settings. Returns one row per setting with ``psnr_base``, ``psnr_adapted``, ``gain``,
    ``adapt_seconds``, ``sr_seconds``.
    """
    from vsrkit.degrade import get_protocol
    from vsrkit.data.datasets import frames_to_tensor

    scale = int(getattr(mfdn, "scale", 2))
    if protocols is None:
        protocols = dynavsr_test_protocols()
    rows = []
    for name, opts in protocols:
        deg = get_protocol(name, scale=scale, **{"slr": False, **opts} if name != "dynavsr-train" else opts)(hr_clip)
        lq = frames_to_tensor(deg.lr).float()
        gt = frames_to_tensor(deg.hr).float()
        start = time.perf_counter()
        base = Upscaler(model, spec, adapt_kwargs.get("options")).upscale_clip(lq)
        base_seconds = time.perf_counter() - start
        stats: dict[str, Any] = {}
        out = adapt_and_upscale(model, spec, mfdn, lq, steps, lr, per, stats=stats, **adapt_kwargs)
        row = {"protocol": name, **opts, "psnr_base": psnr_rgb_uint8(base, gt), "psnr_adapted": psnr_rgb_uint8(out, gt),
               "adapt_seconds": stats["adapt_seconds"], "sr_seconds": stats["sr_seconds"],
               "base_seconds": base_seconds}
        row["gain"] = row["psnr_adapted"] - row["psnr_base"]
        rows.append(row)
    return rows


def format_adaptation_rows(rows: list[dict[str, Any]]) -> str:
    """:func:`evaluate_protocols` rows as a text table (with a ``clip`` column when the rows carry one)."""
    clip = any("clip" in r for r in rows)
    lines = [(f"{'clip':<20}" if clip else "") + f"{'protocol':<16}{'setting':<14}{'base dB':>9}{'adapted':>9}"
             f"{'gain':>8}{'adapt s':>9}{'SR s':>8}"]
    for r in rows:
        setting = ",".join(f"{k}={r[k]}" for k in ("sigma", "theta_deg", "seed") if k in r)
        lines.append((f"{r['clip']:<20}" if clip else "") + f"{r['protocol']:<16}{setting:<14}{r['psnr_base']:>9.3f}"
                     f"{r['psnr_adapted']:>9.3f}{r['gain']:>+8.3f}{r['adapt_seconds']:>9.2f}{r['sr_seconds']:>8.2f}")
    return "\n".join(lines)


class AdaptingBackbone(nn.Module):
    """A backbone that adapts itself to every input it sees (DynaVSR at inference, bounded memory).

    The streaming engine calls ``forward`` once per temporal chunk (recurrent models) or per batch of windows
    (window models); each call copies the meta-trained backbone and MFDN, takes ``steps`` adaptation steps on that
    very input (pseudo-GT SLR from the frozen MFDN) and upscales it with the adapted copy. Parameters therefore
    reset between chunks and sequences, and memory is that of one chunk. ``stats`` accumulates the time spent
    adapting (``adapt_seconds``) so the CLI can report it.
    """

    def __init__(self, backbone: nn.Module, spec: ModelSpec, mfdn: nn.Module, *, steps: int = 1, lr: float = 1e-5,
                 slr_weight: float = 10.0, patch: int | None = None) -> None:
        super().__init__()
        scale = int(getattr(mfdn, "scale", 2))
        if scale != int(getattr(backbone, "scale", spec.scale or 0)):
            raise VsrkitError(f"MFDN x{scale} does not match the x{getattr(backbone, 'scale', spec.scale)} backbone "
                              f"{spec.name}: use an MFDN trained for the backbone's scale")
        if steps < 1 or lr <= 0:
            raise VsrkitError(f"--adapt-steps must be >= 1 and --adapt-lr > 0 (got {steps}, {lr})")
        self.backbone, self.mfdn, self.spec = backbone, mfdn, spec
        self.scale = scale
        self.num_frames = int(getattr(backbone, "num_frames", spec.num_frames))  # the engine's window length
        self.steps, self.lr, self.slr_weight, self.patch = steps, lr, slr_weight, patch
        self.fixed = copy.deepcopy(mfdn).eval().requires_grad_(False)
        self.loss_fn = vsr_loss_for(spec.name)
        self.stats: dict[str, Any] = {"adapt_seconds": 0.0, "calls": 0}

    def forward(self, x: Tensor) -> Tensor:
        # The engine runs models under inference_mode; adaptation needs autograd on a normal copy of the input.
        with torch.inference_mode(False):
            batch = x.clone()
            patch = self.patch or budget_patch(batch.shape, ADAPT_MAX_LR_PIXELS)
            vsr = _adapted_copy(self.backbone, self.mfdn, self.fixed, batch, self.spec, self.scale, self.loss_fn,
                                steps=self.steps, lr=self.lr, slr_weight=self.slr_weight, adapt_mfdn=True,
                                bn_train=True, patch=patch, stats=self.stats)
            self.stats["calls"] += 1
            with torch.no_grad():
                return vsr(batch)


def load_mfdn(path: str) -> nn.Module:
    """A DynaVSR downscaler (MFDN/SFDN: the helper networks declared with ``role="downscaler"``) from a vsrkit
    safetensors file (``vsrkit convert mfdn …`` or a DynaVSR training run)."""
    from vsrkit.models.registry import with_role
    from vsrkit.models.weights import load_network, read_card

    method = read_card(path).get("method")
    if method not in with_role("downscaler"):
        raise VsrkitError(f"--mfdn {path!r} holds {method or 'no model card'}, not an MFDN: pass weights written by "
                          "`vsrkit convert mfdn …` or a DynaVSR training run")
    return load_network(path)
