"""FMA-Net two-stage training (Youk et al., CVPR 2024, Sec. 3.5, Eqs. 8-9).

* **Stage 1** (iterations ``1 … stage1_iters``): Net^D alone (Net^R gets no gradient), with

  ``L_D = l1(X̂_c, X_c) + λ1·l1(W(Y, s·f^Y↑)·m, Y_c) + λ2·l1(f^Y, f_teacher) + λ3·l1(X̂^D_sharp, X_sharp)``

  where ``X̂_c`` is the blurry LR centre re-degraded from the sharp HR clip by flow-guided dynamic downsampling,
  ``X_c`` the blurry LR centre (``batch["lq"]``), ``Y`` the sharp HR clip (``batch["gt"]``), ``X_sharp`` the sharp
  LR clip (``batch["lq_sharp"]`` from REDS ``*_sharp_bicubic``, or ``lr_sharp`` from the ``blur-avg`` protocol;
  MATLAB bicubic of ``Y`` otherwise) and ``f_teacher`` a pseudo-GT flow from the centre sharp-LR frame to each
  neighbour (``centre(p) ≈ neighbour(p + f)``, zero for the centre frame).
* **Stage 2**: both networks, ``L_total = l1(Ŷ_c, Y_c) + λ4·l1(W(X, f^X)·m, X_c) + λ5·l1(X̂^R_sharp, X_sharp) +
  λ6·L_D`` (Eq. 9). Net^D simply continues (its Adam state is kept, as the official trainer keeps it).
* λ2 = 1e-4, every other λ = 0.1 (paper = code). All l1 are means, and the warping terms average (not sum) over
  the T frames, as the official code computes them (the λ were tuned with that).
* **Schedule** (paper Sec. 4, implementation details; docs/methods.md §2.2): Adam 2e-4, halved at 70 / 85 / 95 % of *each* stage. The official
  trainer steps Net^D's scheduler twice per epoch in stage 2 and never steps Net^R's (bookkeeping bug): not
  reproduced. The recipe owns the schedule (its :meth:`FMANetRecipe.scheduler` hook replaces ``train.scheduler``):
  each iteration gets the MultiStepLR milestones of the current stage (stage 2's are offset by ``stage1_iters``, so the rate restarts at the base value), which keeps
  the rate a pure function of the iteration (bitwise resumable). Separate D/R optimisers are unnecessary: Adam is
  per-parameter and Net^R has no state until stage 2.
* The official stage 2 starts from the stage-1 *best* checkpoint selected on REDS4 (the test set, docs/methods.md §2.3 item 4); here it
  continues from the last stage-1 iterate.
* **Pseudo-GT flow teacher** (``train.fmanet.flow_teacher``): ``farneback`` (default) or ``dis`` (OpenCV, no
  weights, computed on the fly on the uint8 sharp-LR frames of the augmented batch, so flips/rotations stay
  consistent), ``batch`` (precomputed flows, e.g. the official RAFT ``.npy`` files, delivered by the dataset as
  ``batch["flow_gt"] (B, T, 2, h, w)``), or ``none`` (λ2 term dropped). The official RAFT targets use raft-small on
  BGR frames; with λ2·λ6 = 1e-5 in stage 2 the teacher matters little.

Config (``train.fmanet``): ``stage1_iters`` (default half of ``train.total_iter``), ``milestones`` (fractions,
default ``[0.7, 0.85, 0.95]``), ``gamma`` (0.5), ``lambdas`` (``{recon, warp_y, flow, anchor_d, restore, warp_x,
anchor_r, net_d}``), ``flow_teacher``. With DDP set ``train.find_unused_parameters: true`` (Net^R is idle in stage 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.engine.recipes import Recipe
from vsrkit.engine.schema import TrainConfig, opt
from vsrkit.errors import VsrkitError

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["FMANetRecipe", "LAMBDAS", "opencv_flow_teacher", "stage_scheduler"]

#: Loss weights (paper Sec. 4: λ2 = 1e-4, the others 0.1); ``recon`` and ``restore`` are the unweighted main terms.
LAMBDAS: dict[str, float] = {
    "recon": 1.0, "warp_y": 0.1, "flow": 1e-4, "anchor_d": 0.1,  # L_D (Eq. 8)
    "restore": 1.0, "warp_x": 0.1, "anchor_r": 0.1, "net_d": 0.1,  # L_total (Eq. 9)
}


def stage_scheduler(iteration: int, stage1_iters: int, total_iters: int, fractions=(0.7, 0.85, 0.95),
                    gamma: float = 0.5) -> dict[str, Any]:
    """The trainer's MultiStepLR spec for 1-based ``iteration``: milestones of the stage it belongs to."""
    if iteration <= stage1_iters:
        start, length = 0, stage1_iters
    else:
        start, length = stage1_iters, total_iters - stage1_iters
    return {"type": "MultiStepLR", "milestones": [start + int(round(f * length)) for f in fractions], "gamma": gamma}


def _to_uint8_grey(frames: Tensor) -> np.ndarray:
    """``(N, 3, h, w)`` RGB in [0, 1] → ``(N, h, w)`` uint8 luma."""
    rgb = (frames.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    import cv2

    return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in rgb])


def opencv_flow_teacher(method: str = "farneback") -> Callable[[Tensor], Tensor]:
    """Pseudo-GT flow ``(B, T, 3, h, w)`` sharp LR → ``(B, T, 2, h, w)``: centre → each neighbour (``centre(p) ≈
    neighbour(p + f)``, dx then dy, LR pixels), zeros for the centre frame. ``method``: ``farneback`` or ``dis``."""
    import cv2

    if method not in ("farneback", "dis"):
        raise VsrkitError(f"unknown OpenCV flow teacher {method!r}: farneback or dis")

    def teacher(sharp_lr: Tensor) -> Tensor:
        b, t, _, h, w = sharp_lr.shape
        grey = _to_uint8_grey(sharp_lr.flatten(0, 1)).reshape(b, t, h, w)
        out = np.zeros((b, t, 2, h, w), np.float32)
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) if method == "dis" else None
        c = t // 2
        for i in range(b):
            for j in range(t):
                if j == c:
                    continue
                if dis is not None:
                    flow = dis.calc(grey[i, c], grey[i, j], None)
                else:
                    flow = cv2.calcOpticalFlowFarneback(grey[i, c], grey[i, j], None, 0.5, 3, 9, 3, 5, 1.1, 0)
                out[i, j] = flow.transpose(2, 0, 1)
        return torch.from_numpy(out).to(sharp_lr.device, sharp_lr.dtype)

    return teacher


@dataclass
class FMANetOptions:
    stage1_iters: int | None = opt(None, "iterations of stage 1 (Net^D alone); default half of train.total_iter")
    milestones: list = opt([0.7, 0.85, 0.95], "learning-rate halvings, as fractions of each stage")
    gamma: float = opt(0.5, "learning-rate factor at each milestone")
    lambdas: dict = opt({}, f"loss weights replacing the paper's ({', '.join(LAMBDAS)})")
    flow_teacher: str = opt("farneback", "pseudo-GT flow: farneback, dis, batch (the batch's flow_gt) or none")
    own_scheduler: bool = opt(True, "use the per-stage schedule above instead of train.scheduler")


class FMANetRecipe(Recipe):
    """Two-stage FMA-Net training; see the module docstring."""

    def __init__(self, cfg: "TrainConfig | dict[str, Any]") -> None:
        super().__init__(cfg)
        opts: FMANetOptions = self.options
        self.total_iters = int(self.config.train.total_iter or 1)
        self.stage1_iters = self.total_iters // 2 if opts.stage1_iters is None else opts.stage1_iters
        if not 0 <= self.stage1_iters <= self.total_iters:
            raise VsrkitError(f"train.fmanet.stage1_iters={self.stage1_iters} must lie in [0, train.total_iter]")
        self.fractions = tuple(float(f) for f in opts.milestones)
        self.gamma = float(opts.gamma)
        unknown = set(opts.lambdas) - set(LAMBDAS)
        if unknown:
            raise VsrkitError(f"unknown train.fmanet.lambdas {sorted(unknown)}: use {sorted(LAMBDAS)}")
        self.lambdas = {**LAMBDAS, **{k: float(v) for k, v in opts.lambdas.items()}}
        self.teacher_name = opts.flow_teacher
        if self.teacher_name in ("farneback", "dis"):
            self.teacher: Callable[[Tensor], Tensor] | None = opencv_flow_teacher(self.teacher_name)
        elif self.teacher_name in ("batch", "none"):
            self.teacher = None
        else:
            raise VsrkitError(f"unknown flow_teacher {self.teacher_name!r}: farneback, dis, batch or none")
        self.own_scheduler = opts.own_scheduler

    def stage(self, iteration: int) -> int:
        return 1 if iteration <= self.stage1_iters else 2

    def scheduler(self, iteration: int) -> dict[str, Any] | None:
        """The current stage's MultiStepLR (see the module docstring), or ``train.scheduler`` if not
        ``own_scheduler``."""
        if not self.own_scheduler:
            return super().scheduler(iteration)
        return stage_scheduler(iteration, self.stage1_iters, self.total_iters, self.fractions, self.gamma)

    # -- targets --------------------------------------------------------------------------------------------
    @staticmethod
    def sharp_lr(batch: dict[str, Any], lq: Tensor) -> Tensor:
        for key in ("lq_sharp", "lr_sharp"):
            if torch.is_tensor(batch.get(key)):
                return batch[key]
        from vsrkit.ops.resize import imresize

        return imresize(batch["gt"], 0.25)[..., : lq.shape[-2], : lq.shape[-1]]

    def flow_target(self, batch: dict[str, Any], sharp_lr: Tensor) -> Tensor | None:
        if self.teacher_name == "batch":
            if not torch.is_tensor(batch.get("flow_gt")):
                raise VsrkitError("flow_teacher: batch needs batch['flow_gt'] (B, T, 2, h, w) from the dataset")
            return batch["flow_gt"]
        return None if self.teacher is None else self.teacher(sharp_lr)

    # -- losses ---------------------------------------------------------------------------------------------
    def compute_losses(self, model: nn.Module, batch: dict[str, Any], iteration: int) -> dict[str, Tensor]:
        lq, gt = batch["lq"], batch["gt"]
        t = lq.shape[1]
        c = t // 2
        lam = self.lambdas
        sharp = self.sharp_lr(batch, lq)
        stage = self.stage(iteration)
        out = model(lq, hr=gt, net_d_only=stage == 1)
        scale_d = 1.0 if stage == 1 else lam["net_d"]
        losses = {
            "l_recon": scale_d * lam["recon"] * F.l1_loss(out["recon"], lq[:, c]),
            "l_warp_y": scale_d * lam["warp_y"] * F.l1_loss(out["hr_warp"], gt[:, c : c + 1].expand_as(gt)),
            "l_anchor_d": scale_d * lam["anchor_d"] * F.l1_loss(out["sharp_d"], sharp),
        }
        flow = self.flow_target(batch, sharp)
        if flow is not None and lam["flow"] > 0:
            losses["l_flow"] = scale_d * lam["flow"] * F.l1_loss(out["flow_y"][:, :, :2], flow)
        if stage == 2:
            losses["l_restore"] = lam["restore"] * F.l1_loss(out["output"][:, 0], gt[:, c])
            losses["l_warp_x"] = lam["warp_x"] * F.l1_loss(out["lr_warp"], lq[:, c : c + 1].expand_as(lq))
            losses["l_anchor_r"] = lam["anchor_r"] * F.l1_loss(out["sharp_r"], sharp)
        return losses


RECIPE = FMANetRecipe
OPTIONS = FMANetOptions
OPTIONS_AT = "train.fmanet"
