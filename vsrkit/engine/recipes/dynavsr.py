"""DynaVSR training (Lee, Choi, Lee, WACV 2021): MFDN pre-training, backbone pre-training and meta-training.

The trained module is a :class:`DynaVSRPair` (``vsr`` = a registered backbone, ``mfdn`` = the downscaling network);
``forward`` is the backbone's, so the trainer validates the backbone as usual. One stage per config
(``dynavsr.stage``), each starting from the previous stage's weights (``dynavsr.init``: a ``latest.safetensors``
of a previous run, keys ``vsr.*``/``mfdn.*``):

* ``mfdn`` (docs/methods.md §3.2): ``L1(MFDN(LR), SLR)`` on the ``dynavsr-train`` protocol (random anisotropic Gaussian
  kernel per clip, σ1, σ2 ~ U[0.2, 2], θ ~ U[−π, π]; SLR = the same kernel applied to the LR). Only φ gets
  gradients.
* ``dynavsr.downscaler: sfdn`` puts the single-frame SFDN in the ``mfdn`` slot instead (paper §5.5.1, Table 2: the
  same stages with the per-frame 2-D downscaler; ×2 only). The pair's keys stay ``mfdn.*``, whichever network.
* ``backbone``: plain supervised ``L_VSR(S(LR), HR)`` (the "baseline" the paper starts from).
* ``meta`` (Algorithm 1; docs/methods.md §3.3): per task (one clip + kernel of the batch), with functional parameter
  dictionaries (``torch.func.functional_call``; no module copies):
  inner loss ``L_in = L_VSR(S_θ(D_φ(LR)), LR_c) + λ_in·‖D_φ(LR) − SLR‖₁`` (λ_in = 1, Eq. 8), adapted parameters
  ``θ' , φ'`` by ``inner_steps`` steps of the *test-time rule* (``inner_rule: adam1``: ``Δ = α·g/(|g|+ε)``, the
  first step of a fresh Adam; or ``sgd``: ``Δ = α·g``, Eq. 1) with α_θ = ``alpha`` and α_φ = ``alpha_mfdn``;
  outer losses at the adapted parameters ``L_HR = L_VSR(S_θ'(LR), HR_c)`` and ``λ_out·‖D_φ'(LR) − SLR‖₁``
  (λ_out = 0.1, the code's 1/10), averaged over tasks. ``second_order: false`` (default) detaches the inner step —
  first-order MAML, gradients ∇_θ' L_HR / ∇_φ' L_SLR land on θ / φ; ``true`` differentiates through it
  (meaningful with ``inner_rule: sgd``). The outer optimiser, schedule and β come from ``train.optim_g`` (paper:
  Adam (0.9, 0.99), β = 1e-5, MultiStep [20k, 25k] γ 0.2, 30k iterations; the official schedule's off-by-one is
  not reproduced). The official code's inner step is a no-op (docs/methods.md §3.4 item 1); vsrkit does real MAML.

Unadapted vs adapted HR losses are kept in :attr:`DynaVSRRecipe.last` and returned by
:meth:`DynaVSRRecipe.diagnostics`, which the trainer prints every ``logger.print_freq`` iterations and writes to
``log.jsonl`` (the trainer sums every returned loss, so they are not returned as losses): every iteration in the
meta stage; in the backbone stage, every ``print_freq`` iterations on the batch's first clip, so the log shows what
one adaptation step would gain on the baseline being trained.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.engine.adapt import inner_loss, inner_update, vsr_loss_for
from vsrkit.engine.recipes import Recipe, centre_target
from vsrkit.engine.schema import TrainConfig, opt
from vsrkit.errors import VsrkitError

__all__ = ["DynaVSRPair", "DynaVSRRecipe", "meta_task_losses", "load_pair", "split_pair_state"]

log = logging.getLogger(__name__)


class DynaVSRPair(nn.Module):
    """Backbone ``vsr`` + downscaling network ``mfdn``; ``forward`` = ``vsr.forward`` (model contract)."""

    def __init__(self, vsr: nn.Module, mfdn: nn.Module) -> None:
        super().__init__()
        self.vsr = vsr
        self.mfdn = mfdn
        self.scale = getattr(vsr, "scale", None)

    def forward(self, x: Tensor, **kwargs: Any):
        return self.vsr(x, **kwargs)


def split_pair_state(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``vsr.*`` / ``mfdn.*`` halves of a :class:`DynaVSRPair` state dict (prefixes removed)."""
    vsr = {k[4:]: v for k, v in state.items() if k.startswith("vsr.")}
    mfdn = {k[5:]: v for k, v in state.items() if k.startswith("mfdn.")}
    if not vsr and not mfdn:
        raise VsrkitError("not a DynaVSR pair checkpoint (no 'vsr.'/'mfdn.' keys)")
    return vsr, mfdn


def load_pair(path: str, pair: DynaVSRPair, *, parts: tuple[str, ...] = ("vsr", "mfdn")) -> None:
    """Load (strictly) the named halves of a saved pair into ``pair``."""
    from vsrkit.checkpoint import load_checkpoint_file

    vsr, mfdn = split_pair_state(load_checkpoint_file(path))
    if "vsr" in parts and vsr:
        pair.vsr.load_state_dict(vsr, strict=True)
    if "mfdn" in parts and mfdn:
        pair.mfdn.load_state_dict(mfdn, strict=True)


def meta_task_losses(
    vsr: nn.Module,
    mfdn: nn.Module,
    lq: Tensor,
    gt: Tensor,
    slr: Tensor,
    loss_fn,
    *,
    alpha: float = 1e-5,
    alpha_mfdn: float = 1e-5,
    inner_steps: int = 1,
    inner_rule: str = "adam1",
    second_order: bool = False,
    slr_weight_inner: float = 1.0,
    slr_weight_outer: float = 0.1,
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Algorithm 1 for one task (``lq``/``gt``/``slr`` with batch 1). Returns the outer losses
    ``{"l_hr", "l_slr"}`` (differentiable w.r.t. the modules' parameters) and diagnostics: the inner losses before
    and after each step, and the adapted parameter dictionaries."""
    vp = dict(vsr.named_parameters())
    mp = dict(mfdn.named_parameters())
    inner_hist = []
    for _ in range(inner_steps):
        l_in, _ = inner_loss(vsr, mfdn, lq, slr, loss_fn, slr_weight=slr_weight_inner, vsr_params=vp, mfdn_params=mp)
        inner_hist.append(float(l_in.detach()))
        grads = torch.autograd.grad(l_in, list(vp.values()) + list(mp.values()), create_graph=second_order,
                                    allow_unused=True)
        gv, gm = grads[: len(vp)], grads[len(vp) :]
        vp = inner_update(vp, gv, alpha, rule=inner_rule, create_graph=second_order)
        mp = inner_update(mp, gm, alpha_mfdn, rule=inner_rule, create_graph=second_order)
    out = torch.func.functional_call(vsr, vp, (lq,), strict=False)
    l_hr = loss_fn(out, centre_target(out, gt))
    l_slr = F.l1_loss(torch.func.functional_call(mfdn, mp, (lq,), strict=False), slr)
    return {"l_hr": l_hr, "l_slr": slr_weight_outer * l_slr}, {"inner": inner_hist, "vsr_params": vp,
                                                                 "mfdn_params": mp}


@dataclass
class DynaVSROptions:
    stage: str = opt("meta", "training stage: mfdn (the LR estimator), backbone (the VSR model) or meta")
    downscaler: str = opt("mfdn", "the LR estimator: mfdn (multi-frame) or sfdn (single-frame, x2; Table 2 ablation)")
    mfdn: dict = opt({}, "MFDN constructor arguments (num_feat defaults to 64; the scale is the config's scale)")
    init: str | None = opt(None, "pair weights (VSR + MFDN) to start from")
    loss: str | None = opt(None, "backbone loss name; default the backbone's own")
    alpha: float = opt(1e-5, "inner (adaptation) learning rate of the VSR model")
    alpha_mfdn: float = opt(1e-5, "inner learning rate of the MFDN")
    inner_steps: int = opt(1, "adaptation steps per task")
    inner_rule: str = opt("adam1", "inner update rule (vsrkit.engine.adapt.inner_update)")
    second_order: bool = opt(False, "differentiate through the inner update (full MAML)")
    slr_weight_inner: float = opt(1.0, "weight of the SLR loss in the inner loss")
    slr_weight_outer: float = opt(0.1, "weight of the SLR loss in the outer (meta) loss")
    legacy_joint_training: bool = opt(False, "the official loop's effective objective instead of MAML")


class DynaVSRRecipe(Recipe):
    """DynaVSR's three stages: MFDN, backbone, then meta-training (config block ``dynavsr``; see
    :meth:`_legacy_joint_losses` for ``legacy_joint_training``)."""

    def __init__(self, cfg: "TrainConfig | dict[str, Any]") -> None:
        super().__init__(cfg)
        self.opts: DynaVSROptions = self.options
        self.stage = self.opts.stage
        if self.stage not in ("mfdn", "backbone", "meta"):
            raise VsrkitError(f"dynavsr.stage must be mfdn, backbone or meta, got {self.stage!r}")
        if self.opts.downscaler not in ("mfdn", "sfdn"):
            raise VsrkitError(f"dynavsr.downscaler must be mfdn or sfdn, got {self.opts.downscaler!r}")
        self.loss_fn = vsr_loss_for(self.config.model.name, self.opts.loss)
        self.print_freq = self.config.logger.print_freq
        self.last: dict[str, float] = {}

    def build_model(self) -> nn.Module:
        from vsrkit.models.dynavsr import MFDN, SFDN

        vsr = super().build_model()
        net = SFDN if self.opts.downscaler == "sfdn" else MFDN
        mfdn = net(**{"num_feat": 64, **self.opts.mfdn, "scale": self.config.scale})
        pair = DynaVSRPair(vsr, mfdn)
        if self.opts.init:
            load_pair(self.opts.init, pair)
        return pair

    def compute_losses(self, model: nn.Module, batch: dict[str, Any], iteration: int) -> dict[str, Tensor]:
        pair = model.module if hasattr(model, "module") else model
        lq, gt = batch["lq"], batch["gt"]
        if self.stage == "mfdn":
            return {"l_slr": F.l1_loss(pair.mfdn(lq), batch["slr"])}
        if self.stage == "backbone":
            out = pair.vsr(lq)
            if iteration % self.print_freq == 0 and "slr" in batch:
                # The baseline the paper adapts from: what one test-time adaptation step would do to it now
                # (task 0 of the batch; the adapted parameters are functional copies, training is untouched).
                losses, _ = meta_task_losses(pair.vsr, pair.mfdn, lq[:1], gt[:1], batch["slr"][:1], self.loss_fn,
                                             **self._meta_options())
                self._record(iteration, self._unadapted_loss(pair, lq[:1], gt[:1]), float(losses["l_hr"].detach()))
            return {"l_pix": self.loss_fn(out, centre_target(out, gt))}
        b = lq.shape[0]
        if self.opts.legacy_joint_training:
            return self._legacy_joint_losses(pair, lq, gt, batch["slr"])
        totals: dict[str, Tensor] = {}
        before, after = 0.0, 0.0
        for i in range(b):
            losses, info = meta_task_losses(pair.vsr, pair.mfdn, lq[i : i + 1], gt[i : i + 1],
                                            batch["slr"][i : i + 1], self.loss_fn, **self._meta_options())
            for k, v in losses.items():
                totals[k] = totals.get(k, 0.0) + v / b
            before += self._unadapted_loss(pair, lq[i : i + 1], gt[i : i + 1]) / b
            after += float(losses["l_hr"].detach()) / b
        self._record(iteration, before, after)
        return totals

    def _meta_options(self) -> dict[str, Any]:
        o = self.opts
        return {"alpha": float(o.alpha), "alpha_mfdn": float(o.alpha_mfdn), "inner_steps": o.inner_steps,
                "inner_rule": o.inner_rule, "second_order": o.second_order,
                "slr_weight_inner": float(o.slr_weight_inner), "slr_weight_outer": float(o.slr_weight_outer)}

    def _unadapted_loss(self, pair: DynaVSRPair, lq: Tensor, gt: Tensor) -> float:
        with torch.no_grad():
            out = pair.vsr(lq)
            return float(self.loss_fn(out, centre_target(out, gt)))

    def _record(self, iteration: int, before: float, after: float) -> None:
        self.last = {"l_hr_unadapted": before, "l_hr_adapted": after}
        if iteration % self.print_freq == 0:
            log.info("iter %d: HR loss unadapted %.6f, adapted %.6f", iteration, before, after)

    def diagnostics(self) -> dict[str, float]:
        """Unadapted vs adapted HR loss (meta stage: every iteration, over the batch; backbone stage: every
        ``logger.print_freq`` iterations, on the batch's first clip)."""
        return dict(self.last)

    def _legacy_joint_losses(self, pair: DynaVSRPair, lq: Tensor, gt: Tensor, slr: Tensor) -> dict[str, Tensor]:
        """What the official meta-training loop effectively optimises (docs/methods.md §3.4 item 1; for ablations and for
        re-training the way the released weights were made): no adaptation — per task the inner loss at the base
        point, plus ``L_HR/B`` and ``λ_out·L_SLR/B``, summed over the ``B`` tasks."""
        b = lq.shape[0]
        w_in = float(self.opts.slr_weight_inner)
        w_out = float(self.opts.slr_weight_outer)
        totals = {"l_inner": lq.new_zeros(()), "l_hr": lq.new_zeros(()), "l_slr": lq.new_zeros(())}
        for i in range(b):
            task_lq, task_gt, task_slr = lq[i : i + 1], gt[i : i + 1], slr[i : i + 1]
            l_in, _ = inner_loss(pair.vsr, pair.mfdn, task_lq, task_slr, self.loss_fn, slr_weight=w_in)
            out = pair.vsr(task_lq)
            totals["l_inner"] = totals["l_inner"] + l_in
            totals["l_hr"] = totals["l_hr"] + self.loss_fn(out, centre_target(out, task_gt)) / b
            totals["l_slr"] = totals["l_slr"] + w_out * F.l1_loss(pair.mfdn(task_lq), task_slr) / b
        return totals


RECIPE = DynaVSRRecipe
OPTIONS = DynaVSROptions
OPTIONS_AT = "dynavsr"
