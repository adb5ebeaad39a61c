"""The training loop: one process or ``torchrun --nproc_per_node=N -m vsrkit train CONFIG``.

What every method shares lives here; what differs lives in a :class:`~vsrkit.engine.recipes.Recipe`.

Design choices that make runs honest and restartable:

* **Batches are a pure function of the iteration number** (:class:`IterationSampler`): sample ``g`` of the run is
  item ``perm_epoch[g mod N]`` of the dataset with ``epoch = g div N``, and every item's randomness comes from
  ``(seed, epoch, index)``. Resuming at iteration ``k`` therefore sees exactly the batches an uninterrupted run
  would have seen — with or without DataLoader workers — which, with the saved RNG, optimiser, scaler and EMA
  states, makes a resumed CPU run bitwise identical to an uninterrupted one.
* **Learning rates are a pure function of the iteration** (:func:`scheduled_lr`), set on every step; there is no
  scheduler object whose stepping can drift.
* **Freezing** (e.g. the flow network for its first N iterations) drops those parameters' gradients before the
  optimiser step instead of toggling ``requires_grad``, so DDP's graph never changes and unfreezing needs no
  restart; Adam keeps no state for them while frozen.
* **Checkpoints** are written to a temporary name and renamed: a kill at any moment leaves the previous complete
  checkpoint. Weights (EMA when enabled) are also exported as safetensors with a model card after every save.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import random
import re
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from vsrkit.engine.config import build_eval_dataset, build_train_dataset
from vsrkit.engine.schema import TrainConfig
from vsrkit.engine.evaluate import comparison_strip, predict_clips
from vsrkit.engine.infer import InferenceOptions
from vsrkit.engine.recipes import Recipe, check_config, get_recipe
from vsrkit.errors import VsrkitError
from vsrkit.metrics import evaluate_clips
from vsrkit.models.weights import load_into, save_weights, sha256_file

log = logging.getLogger(__name__)

STATE_PATTERN = re.compile(r"iter_(\d{8})\.pt$")


# ----------------------------------------------------------------------------------------------------------------
# Distributed context
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def init_distributed(device: str = "auto") -> DistContext:
    """Rank and world size from the environment ``torchrun`` sets; NCCL on GPU, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    dev = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev)


# ----------------------------------------------------------------------------------------------------------------
# Iteration-indexed data
# ----------------------------------------------------------------------------------------------------------------
class IterationSampler(Sampler[int]):
    """Infinite stream of global sample ids for this rank, starting at ``start_iter``.

    Iteration ``it`` (1-based) of rank ``r`` takes ids ``((it-1)·world + r)·batch + j``, ``j < batch``.
    """

    def __init__(self, batch_size: int, *, start_iter: int = 1, rank: int = 0, world_size: int = 1) -> None:
        self.batch_size, self.start_iter, self.rank, self.world_size = batch_size, start_iter, rank, world_size

    def __iter__(self) -> Iterator[int]:
        it = self.start_iter
        while True:
            base = ((it - 1) * self.world_size + self.rank) * self.batch_size
            yield from range(base, base + self.batch_size)
            it += 1

    def __len__(self) -> int:  # pragma: no cover - infinite; DataLoader only needs it for len()
        return 2**62


class EpochPermuted(Dataset):
    """Maps a global sample id to ``(epoch, item)``: a fresh seeded permutation of the dataset every epoch."""

    def __init__(self, base: Any, seed: int) -> None:
        self.base, self.seed = base, seed
        self._perm_epoch, self._perm = -1, None

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, sample_id: int) -> dict[str, Any]:
        epoch, pos = divmod(int(sample_id), len(self.base))
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.base))
            self._perm_epoch = epoch
        self.base.set_epoch(epoch)
        return self.base[int(self._perm[pos])]


# ----------------------------------------------------------------------------------------------------------------
# Learning rate
# ----------------------------------------------------------------------------------------------------------------
def scheduled_lr(base_lr: float, iteration: int, sched: dict[str, Any] | None, warmup_iter: int = 0) -> float:
    """Learning rate at 1-based ``iteration`` for the BasicSR schedulers, as a pure function.

    * ``CosineAnnealingRestartLR``: ``periods``, ``restart_weights``, ``eta_min`` — cosine from ``w·base`` to
      ``eta_min`` over each period.
    * ``MultiStepLR`` / ``MultiStepRestartLR``: ``milestones``, ``gamma`` — ``base·gamma^(#milestones passed)``.
    * ``None`` / ``ConstantLR``: ``base``.
    Linear warm-up over the first ``warmup_iter`` iterations multiplies any of them.
    """
    step = iteration - 1  # steps taken before this iteration
    lr = base_lr
    kind = (sched or {}).get("type", "ConstantLR")
    if kind == "CosineAnnealingRestartLR":
        periods = list(sched["periods"])
        weights = list(sched.get("restart_weights", [1] * len(periods)))
        eta_min = float(sched.get("eta_min", 0.0))
        start = 0
        for period, weight in zip(periods, weights):
            if step < start + period or (period, weight) == (periods[-1], weights[-1]):
                t = min(step - start, period)
                lr = eta_min + weight * 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * t / period))
                break
            start += period
    elif kind in ("MultiStepLR", "MultiStepRestartLR"):
        passed = sum(1 for m in sched.get("milestones", []) if step >= int(m))
        lr = base_lr * float(sched.get("gamma", 0.5)) ** passed
    elif kind != "ConstantLR":
        raise VsrkitError(f"unknown scheduler {kind!r}: use CosineAnnealingRestartLR, MultiStepLR or ConstantLR")
    if warmup_iter > 0 and iteration <= warmup_iter:
        lr *= iteration / warmup_iter
    return lr


# ----------------------------------------------------------------------------------------------------------------
# Atomic torch.save
# ----------------------------------------------------------------------------------------------------------------
def atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def find_latest_state(out_dir: Path) -> Path | None:
    states = sorted((p for p in (out_dir / "state").glob("iter_*.pt") if STATE_PATTERN.search(p.name)),
                    key=lambda p: int(STATE_PATTERN.search(p.name).group(1)))
    return states[-1] if states else None


# ----------------------------------------------------------------------------------------------------------------
# The trainer
# ----------------------------------------------------------------------------------------------------------------
class Trainer:
    """Builds everything from a config and runs ``fit()``. See the module docstring for the guarantees."""

    def __init__(self, cfg: dict[str, Any], out_dir: str | Path, *, resume: str | None = None,
                 progress: bool = True) -> None:
        self.cfg = cfg  # the mapping as given: recorded in config.json and in every resumable state
        config = check_config(cfg)
        self.config: TrainConfig = config
        self.out_dir = Path(out_dir)
        self.ctx = init_distributed(config.device)
        self.progress = progress and self.ctx.is_main
        self.seed = config.manual_seed
        if config.train.total_iter is None:
            raise VsrkitError("config is missing 'train.total_iter': add it to the YAML file or pass "
                              "--set train.total_iter=...")
        self.total_iter = config.train.total_iter
        self.scale = config.scale
        self._seed_everything(self.seed + self.ctx.rank)

        self.recipe: Recipe = get_recipe(config.train.recipe)(config)
        model = self.recipe.build_model()
        init = config.model.init_weights
        self.init_weights: dict[str, str] | None = None
        if init:
            # fine-tuning / staged recipes: start from a trained file (strict); a resume state loaded below overrides it
            load_into(model, init)
            self.init_weights = {"file": Path(init).name, "sha256": sha256_file(init)}
        model = model.to(self.ctx.device)
        init_flow = config.model.init_flow
        if init_flow:
            # video models start their flow network from a pre-trained one (issue 18: shipped:spynet)
            from vsrkit.models.catalogue import load_flow_init

            load_flow_init(model, init_flow)
        self.model_name = config.model.name
        self.spec = self.recipe.model_spec()
        self.model = model
        ema_decay = float(config.train.ema_decay)
        self.ema_decay = ema_decay
        self.ema = copy.deepcopy(model).eval().requires_grad_(False) if ema_decay > 0 else None
        self.train_model: nn.Module = model
        # before DDP: groups frozen for the whole run turn requires_grad off, and DDP must not expect their gradients
        self.groups = self._param_groups()
        if self.ctx.enabled:
            self.train_model = nn.parallel.DistributedDataParallel(
                model,
                device_ids=[self.ctx.device.index] if self.ctx.device.type == "cuda" else None,
                find_unused_parameters=config.train.find_unused_parameters,
            )

        self.optimizer = self._optimizer()
        precision = config.train.precision
        self.amp_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, "bad")
        if self.amp_dtype == "bad":
            raise VsrkitError(f"train.precision {precision!r} is not fp32, bf16 or fp16")
        self.scaler = torch.amp.GradScaler(self.ctx.device.type, enabled=self.amp_dtype == torch.float16)
        self.grad_clip = config.train.grad_clip

        self.iteration = 0
        self.best: dict[str, Any] = {"metric": None, "value": None, "iter": None}
        if resume:
            self._resume(resume)

        train_data = config.datasets.train
        if train_data is None:
            raise VsrkitError("config is missing 'datasets.train': add a training dataset section (configs/README.md)")
        batch = train_data.batch_size_per_gpu
        self.train_set = build_train_dataset(train_data, self.scale, self.seed)
        workers = train_data.num_worker_per_gpu
        self.loader = DataLoader(
            EpochPermuted(self.train_set, self.seed),
            batch_size=batch,
            sampler=IterationSampler(batch, start_iter=self.iteration + 1, rank=self.ctx.rank,
                                     world_size=self.ctx.world_size),
            num_workers=workers,
            persistent_workers=False,
            pin_memory=self.ctx.device.type == "cuda",
        )
        val_data = config.datasets.val
        self.val_set = build_eval_dataset(val_data, self.scale, self.seed) if val_data is not None else None
        self.tb = self._tensorboard() if self.ctx.is_main else None

    # -- set-up helpers ----------------------------------------------------------------------------------------
    @staticmethod
    def _seed_everything(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    def _param_groups(self) -> list[dict[str, Any]]:
        """Split parameters by name prefix: ``train.param_groups: [{prefix: spynet., lr_mul: 0.125,
        freeze_iters: 5000}]`` (BasicSR's ``flow_lr_mul``/``fix_flow`` are accepted as a ``spynet.`` group)."""
        t = self.config.train
        specs = list(t.param_groups)
        if t.flow_lr_mul is not None or t.fix_flow is not None:
            fix = int(t.fix_flow or 0)
            specs.append({"prefix": "spynet.", "lr_mul": float(1.0 if t.flow_lr_mul is None else t.flow_lr_mul),
                          "freeze_iters": max(fix, 0)})  # BasicSR treats fix_flow -1 as "always"; we: never
        named = list(self.model.named_parameters())
        groups: list[dict[str, Any]] = []
        taken: set[str] = set()
        for s in specs:
            params = [(n, p) for n, p in named if n.startswith(s["prefix"]) and n not in taken]
            if not params:
                raise VsrkitError(f"param group prefix {s['prefix']!r} matches no parameter of {self.model_name}: "
                                  "fix train.param_groups")
            taken.update(n for n, _ in params)
            groups.append({"name": s["prefix"], "params": [p for _, p in params],
                           "lr_mul": float(s.get("lr_mul", 1.0)), "freeze_iters": int(s.get("freeze_iters", 0))})
        rest = [p for n, p in named if n not in taken and p.requires_grad]
        groups.insert(0, {"name": "main", "params": rest, "lr_mul": 1.0, "freeze_iters": 0})
        for g in groups:
            if g["lr_mul"] == 0 or g["freeze_iters"] >= self.total_iter:
                # frozen for the whole run (e.g. a pre-trained flow network kept as is, issue 18): no gradient is
                # wanted, so autograd skips the group's backward instead of computing and dropping it
                for p in g["params"]:
                    p.requires_grad_(False)
        return groups

    def _optimizer(self) -> torch.optim.Optimizer:
        opt = dict(self.config.train.optim_g or {"type": "Adam", "lr": 2e-4})
        kind = opt.pop("type", "Adam")
        self.base_lr = float(opt.pop("lr", 2e-4))
        if "betas" in opt:
            opt["betas"] = tuple(float(b) for b in opt["betas"])
        classes = {"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW, "SGD": torch.optim.SGD}
        if kind not in classes:
            raise VsrkitError(f"unknown optimiser {kind!r}: use Adam, AdamW or SGD")
        groups = [{"params": g["params"], "lr": self.base_lr * g["lr_mul"]} for g in self.groups]
        return classes[kind](groups, **opt)

    def _tensorboard(self):
        if not self.config.logger.use_tb_logger:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional: say so once instead of silently not logging
            log.warning("logger.use_tb_logger is on but TensorBoard is not installed: no TensorBoard logs (pip "
                        "install tensorboard, or set logger.use_tb_logger: false)")
            return None
        return SummaryWriter(str(self.out_dir / "tb"))

    # -- checkpoints -------------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "iter": self.iteration,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": _rng_state(),
            "best": json.dumps(self.best),
            "config": json.dumps(self.cfg),
        }

    def _resume(self, resume: str) -> None:
        path = find_latest_state(self.out_dir) if resume == "auto" else Path(resume)
        if path is None:
            return  # nothing saved yet: a fresh start
        if not path.is_file():
            raise VsrkitError(f"resume state {str(path)!r} does not exist: pass --resume auto or a state file")
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        self.best = json.loads(state["best"])
        self.iteration = int(state["iter"])
        if self.ctx.is_main:
            print(f"resumed from {path} at iteration {self.iteration}")

    def export_model(self) -> nn.Module:
        """The weights to ship: the EMA copy when enabled, else the trained model."""
        return self.ema if self.ema is not None else self.model

    def card(self) -> dict[str, Any]:
        m = self.config.model
        return {
            "method": self.model_name,
            "variant": m.variant or (self.spec.default_variant if self.spec is not None else None),
            "overrides": m.overrides,
            "iterations": self.iteration,
            "config_name": self.config.name,
            # as written in the config (null when the type was left at its default)
            "training_data": ((self.cfg.get("datasets") or {}).get("train") or {}).get("type"),
            "protocol": json.dumps(self.config.datasets.train.protocol),
            "ema": self.ema is not None,
            "best": self.best,
            "init_weights": self.init_weights,
            "init_flow": self.config.model.init_flow,
        }

    def save_checkpoint(self) -> None:
        if self.ctx.is_main:
            state_dir = self.out_dir / "state"
            weights_dir = self.out_dir / "weights"
            state_dir.mkdir(parents=True, exist_ok=True)
            atomic_torch_save(self._state(), state_dir / f"iter_{self.iteration:08d}.pt")
            card = self.card()
            save_weights(self.export_model(), weights_dir / f"iter_{self.iteration:08d}.safetensors", card)
            save_weights(self.export_model(), weights_dir / "latest.safetensors", card)
            keep = self.config.logger.keep_states
            states = sorted(state_dir.glob("iter_*.pt"))
            for old in states[:-keep] if keep > 0 else []:
                old.unlink(missing_ok=True)
        self.ctx.barrier()

    # -- one iteration -----------------------------------------------------------------------------------------
    def _set_learning_rates(self) -> None:
        sched = self.recipe.scheduler(self.iteration)
        lr = scheduled_lr(self.base_lr, self.iteration, sched, self.config.train.warmup_iter)
        for group, g in zip(self.optimizer.param_groups, self.groups):
            group["lr"] = lr * g["lr_mul"]

    def _drop_frozen_grads(self) -> None:
        for g in self.groups:
            if self.iteration <= g["freeze_iters"]:
                for p in g["params"]:
                    p.grad = None

    def _update_ema(self) -> None:
        if self.ema is None:
            return
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.model.parameters()):
                e.lerp_(p.detach(), 1.0 - self.ema_decay)
            for e, b in zip(self.ema.buffers(), self.model.buffers()):
                e.copy_(b)

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        batch = {k: v.to(self.ctx.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
        self.recipe.on_iteration(self, self.iteration)
        self._set_learning_rates()
        self.train_model.train()
        autocast = (torch.autocast(self.ctx.device.type, dtype=self.amp_dtype) if self.amp_dtype is not None
                    else nullcontext())
        with autocast:
            losses = self.recipe.compute_losses(self.train_model, batch, self.iteration)
        total = sum(losses.values())
        if not torch.isfinite(total):
            raise VsrkitError(f"loss became {total.item()} at iteration {self.iteration}: lower the learning rate "
                              "or enable train.grad_clip")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self._drop_frozen_grads()
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(self.grad_clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self._update_ema()
        logs = {name: float(v.detach()) for name, v in losses.items()}
        logs["l_total"] = float(total.detach())
        logs.update(self.recipe.diagnostics())
        return self._reduce_logs(logs)

    def _reduce_logs(self, logs: dict[str, float]) -> dict[str, float]:
        if not self.ctx.enabled:
            return logs
        names = sorted(logs)
        t = torch.tensor([logs[n] for n in names], dtype=torch.float64, device=self.ctx.device)
        dist.all_reduce(t)
        return {n: float(v) / self.ctx.world_size for n, v in zip(names, t.tolist())}

    # -- validation --------------------------------------------------------------------------------------------
    def validate(self) -> dict[str, Any] | None:
        """Score the export model on the held-out clips (sharded over ranks), log, track the best checkpoint."""
        if self.val_set is None:
            return None
        custom = self.recipe.validate(self)
        if custom is not None:
            return custom
        val = self.config.val
        model = self.export_model()
        options = InferenceOptions(chunk=val.chunk, chunk_overlap=val.chunk_overlap,
                                   device=str(self.ctx.device))
        mine = range(self.ctx.rank, len(self.val_set), self.ctx.world_size)
        pred, gt, lq = predict_clips(model, self.spec, self.val_set, indices=mine, options=options)
        self.model.train()
        if self.ctx.enabled:
            gathered: list[Any] = [None] * self.ctx.world_size
            dist.all_gather_object(gathered, (pred, gt, lq))
            pred, gt, lq = {}, {}, {}
            for p, g, q in gathered:
                pred.update(p), gt.update(g), lq.update(q)
        result = evaluate_clips(
            pred, gt, protocol=val.protocol,
            **({} if val.protocol else {"crop_border": val.crop_border,
                                        "channel": "y" if val.test_y_channel else "rgb"}),
        )
        if self.ctx.is_main:
            self._log_validation(result, pred, gt, lq)
        return result

    def record_validation(self, values: dict[str, Any], *, lower_is_better: bool = False) -> None:
        """Log validation numbers and keep ``weights/best.safetensors`` at the best ``val.best_metric``."""
        if not self.ctx.is_main:
            return
        metric = self.config.val.best_metric
        value = values.get(metric)
        record = {"iter": self.iteration, "val": {k: v for k, v in values.items() if isinstance(v, (int, float))}}
        self._log_jsonl(record)
        if self.tb is not None:
            for k, v in record["val"].items():
                self.tb.add_scalar(f"val/{k}", v, self.iteration)
        better = (lambda a, b: a < b) if lower_is_better else (lambda a, b: a > b)
        if value is not None and (self.best["value"] is None or better(value, self.best["value"])):
            self.best = {"metric": metric, "value": value, "iter": self.iteration}
            save_weights(self.export_model(), self.out_dir / "weights" / "best.safetensors", self.card())
        tqdm.write(f"[val {self.iteration}] " + "  ".join(
            f"{k} {v:.4f}" for k, v in record["val"].items() if k.startswith(("psnr", "ssim", "tof", "epe", "shift_epe"))))

    def _log_validation(self, result: dict, pred: dict, gt: dict, lq: dict) -> None:
        self.record_validation(result["mean"])
        clip = sorted(pred)[0]
        k = len(pred[clip]) // 2
        strip = comparison_strip(lq[clip][k], pred[clip][k], gt[clip][k])
        image_dir = self.out_dir / "images"
        image_dir.mkdir(parents=True, exist_ok=True)
        from vsrkit.io import write_png

        write_png(image_dir / f"iter_{self.iteration:08d}_{clip}.png", strip)
        if self.tb is not None:
            self.tb.add_image(f"val/{clip}", strip, self.iteration, dataformats="HWC")

    def _log_jsonl(self, record: dict) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.out_dir / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    # -- the loop ----------------------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        if self.ctx.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "config.json").write_text(json.dumps(self.cfg, indent=1))
        val_freq = self.config.val.val_freq
        save_freq = self.config.logger.save_checkpoint_freq
        print_freq = self.config.logger.print_freq or 10
        bar = tqdm(total=self.total_iter, initial=self.iteration, unit="it", disable=not self.progress,
                   dynamic_ncols=True)
        data = iter(self.loader)
        logs: dict[str, float] = {}
        if self.config.val.at_start and self.iteration == 0:
            self.validate()  # a fine-tune must beat its start to replace it as best
        while self.iteration < self.total_iter:
            self.iteration += 1
            logs = self.train_step(next(data))
            bar.update(1)
            if self.ctx.is_main and (self.iteration % print_freq == 0 or self.iteration == self.total_iter):
                lr = self.optimizer.param_groups[0]["lr"]
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()} | {"lr": f"{lr:.3g}"})
                diagnostics = self.recipe.diagnostics()
                if diagnostics:  # printed as a line of its own, so the log keeps them
                    tqdm.write(f"[iter {self.iteration}] " + "  ".join(f"{k} {logs.get(k, v):.6f}"
                                                                    for k, v in diagnostics.items()))
                self._log_jsonl({"iter": self.iteration, "lr": lr, **logs})
                if self.tb is not None:
                    for k, v in logs.items():
                        self.tb.add_scalar(f"train/{k}", v, self.iteration)
            last = self.iteration == self.total_iter
            if val_freq and (self.iteration % val_freq == 0 or last):
                self.validate()
            if (save_freq and self.iteration % save_freq == 0) or last:
                self.save_checkpoint()
        bar.close()
        if self.tb is not None:
            self.tb.close()
        return {"iter": self.iteration, "last_losses": logs, "best": self.best}


def train(cfg: dict[str, Any], out_dir: str | Path, *, resume: str | None = None, progress: bool = True) -> dict:
    """Train from a config dict into ``out_dir``; returns a summary. Cleans up the process group afterwards."""
    trainer = Trainer(cfg, out_dir, resume=resume, progress=progress)
    try:
        return trainer.fit()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":  # pragma: no cover - `python -m vsrkit.engine.train --write-config-docs`
    import sys

    from vsrkit.engine.recipes import config_docs
    from vsrkit.engine.schema import DOCS_PATH

    if sys.argv[1:] != ["--write-config-docs"]:
        raise SystemExit("usage: python -m vsrkit.engine.train --write-config-docs")
    DOCS_PATH.write_text(config_docs())
    print(f"wrote {DOCS_PATH}")
