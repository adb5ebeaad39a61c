"""Training engine: learning on real frames, bitwise resume after SIGKILL, DDP on CPU, schedules, freezing, EMA."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from vsrkit.engine.config import apply_override
from vsrkit.engine.recipes import load_config
from vsrkit.engine.train import Trainer, find_latest_state, scheduled_lr, train
from vsrkit.errors import VsrkitError
from vsrkit.models.weights import load_model, read_card

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clip_dirs(tmp_path_factory, bikes_path) -> tuple[Path, Path]:
    """Two real clips as PNG folders: 8 training frames and 4 held-out frames (176×176 crops of bikes)."""
    import av

    root = tmp_path_factory.mktemp("clips")
    train_dir, val_dir = root / "train" / "bikes", root / "val" / "bikes_late"
    train_dir.mkdir(parents=True)
    val_dir.mkdir(parents=True)
    with av.open(str(bikes_path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            rgb = frame.to_ndarray(format="rgb24")
            if i < 8:
                cv2.imwrite(str(train_dir / f"{i:08d}.png"), rgb[40:216, 200:376, ::-1])
            elif 200 <= i < 204:
                cv2.imwrite(str(val_dir / f"{i - 200:08d}.png"), rgb[48:208, 240:400, ::-1])
            elif i >= 204:
                break
    return root / "train", root / "val"


def tiny_config(clip_dirs, **changes) -> dict:
    train_dir, val_dir = clip_dirs
    cfg = {
        "name": "tiny",
        "manual_seed": 3,
        "scale": 4,
        "device": "cpu",
        "model": {"name": "basicvsr", "variant": "small", "overrides": {"num_feat": 8, "num_block": 1}},
        "datasets": {
            "train": {"type": "folder", "dataroot_gt": str(train_dir), "protocol": "bi", "num_frame": 3,
                      "gt_size": 136, "batch_size_per_gpu": 1, "num_worker_per_gpu": 0},
            "val": {"type": "folder", "dataroot_gt": str(val_dir), "protocol": "bi"},
        },
        "train": {"total_iter": 6, "optim_g": {"type": "Adam", "lr": 1e-3},
                  "scheduler": {"type": "CosineAnnealingRestartLR", "periods": [6], "eta_min": 1e-5},
                  "param_groups": [{"prefix": "spynet.", "lr_mul": 0.5, "freeze_iters": 2}],
                  "ema_decay": 0.9},
        "val": {"val_freq": 3},
        "logger": {"print_freq": 1, "save_checkpoint_freq": 2, "keep_states": 3, "use_tb_logger": False},
    }
    for key, value in changes.items():
        apply_override(cfg, f"{key}={json.dumps(value)}")
    return cfg


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _assert_bitwise_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ----------------------------------------------------------------------------------------------------------------
def test_scheduled_lr_values():
    cos = {"type": "CosineAnnealingRestartLR", "periods": [10, 10], "restart_weights": [1, 0.5], "eta_min": 0.0}
    assert scheduled_lr(1.0, 1, cos) == pytest.approx(1.0)
    assert scheduled_lr(1.0, 6, cos) == pytest.approx(0.5)  # half-way through the first period
    assert scheduled_lr(1.0, 11, cos) == pytest.approx(0.5)  # restart at weight 0.5
    assert scheduled_lr(1.0, 16, cos) == pytest.approx(0.25)
    step = {"type": "MultiStepLR", "milestones": [3, 5], "gamma": 0.1}
    assert [round(scheduled_lr(1.0, i, step), 6) for i in (1, 3, 4, 5, 6)] == [1.0, 1.0, 0.1, 0.1, 0.01]
    assert scheduled_lr(1.0, 2, None, warmup_iter=4) == pytest.approx(0.5)
    with pytest.raises(VsrkitError, match="unknown scheduler"):
        scheduled_lr(1.0, 1, {"type": "Nope"})


def test_config_overrides_parse_yaml_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"train": {"total_iter": 5}}))
    # (issue 14: the config is checked, so the list-valued override is a declared key, not the former val.metrics)
    cfg = load_config(path, ["train.total_iter=1000", "train.optim_g.lr=2e-4", "datasets.train.interval_list=[1, 2]"])
    assert cfg["train"]["total_iter"] == 1000 and cfg["train"]["optim_g"]["lr"] == 2e-4
    assert cfg["datasets"]["train"]["interval_list"] == [1, 2]
    with pytest.raises(VsrkitError, match="unknown config key 'val.metrics'"):
        load_config(path, ["val.metrics=[1, 2]"])
    with pytest.raises(VsrkitError, match="key=value"):
        load_config(path, ["oops"])
    with pytest.raises(VsrkitError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_training_lowers_loss_freezes_flow_and_keeps_ema(clip_dirs, tmp_path):
    cfg = tiny_config(clip_dirs, **{"train.total_iter": 12, "train.scheduler": None, "train.ema_decay": 0.5,
                                    "val.val_freq": 0, "logger.save_checkpoint_freq": 0,
                                    "train.param_groups": [{"prefix": "spynet.", "lr_mul": 0.5, "freeze_iters": 4}]})
    # A fixed patch (no flips, one start) so the loss curve reflects learning rather than sampling noise.
    cfg["datasets"]["train"].update(use_hflip=False, use_rot=False)
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    spynet0 = {k: v.clone() for k, v in trainer.model.spynet.state_dict().items()}
    batch = next(iter(trainer.loader))
    losses = []
    for it in range(1, 13):
        trainer.iteration = it
        losses.append(trainer.train_step(batch)["l_total"])
        if it == 4:  # still frozen: SpyNet untouched, and the optimiser holds no state for it
            assert all(torch.equal(v, trainer.model.spynet.state_dict()[k]) for k, v in spynet0.items())
            assert not any(p in trainer.optimizer.state for p in trainer.model.spynet.parameters())
    assert any(not torch.equal(v, trainer.model.spynet.state_dict()[k]) for k, v in spynet0.items())
    assert losses[-1] < 0.7 * losses[0], losses
    # EMA: a lagging average, not a copy.
    ema_w, w = trainer.ema.conv_last.weight, trainer.model.conv_last.weight
    assert not torch.equal(ema_w, w) and (ema_w - w).abs().max() < 1.0


def test_flow_frozen_for_the_whole_run_gets_no_backward(clip_dirs, tmp_path):
    # issue 18: video models keep the shipped SpyNet as is; its backward is skipped, the rest still learns
    cfg = tiny_config(clip_dirs, **{"train.total_iter": 3, "train.ema_decay": 0.0,
                                    "train.param_groups": [{"prefix": "spynet.", "lr_mul": 0.0, "freeze_iters": 0}]})
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    spynet0 = {k: v.clone() for k, v in trainer.model.spynet.state_dict().items()}
    head0 = trainer.model.conv_last.weight.detach().clone()
    assert not any(p.requires_grad for p in trainer.model.spynet.parameters())
    batch = next(iter(trainer.loader))
    for it in range(1, 4):
        trainer.iteration = it
        trainer.train_step(batch)
        assert all(p.grad is None for p in trainer.model.spynet.parameters())
    assert all(torch.equal(v, trainer.model.spynet.state_dict()[k]) for k, v in spynet0.items())
    assert not torch.equal(head0, trainer.model.conv_last.weight)
    # freeze_iters covering the run freezes the same way
    cfg = tiny_config(clip_dirs, **{"train.total_iter": 3,
                                    "train.param_groups": [{"prefix": "spynet.", "lr_mul": 1.0, "freeze_iters": 3}]})
    assert not any(p.requires_grad for p in Trainer(cfg, tmp_path / "run2", progress=False).model.spynet.parameters())


def test_fit_writes_checkpoints_weights_and_validation(clip_dirs, tmp_path):
    out = tmp_path / "run"
    summary = train(tiny_config(clip_dirs), out, progress=False)
    assert summary["iter"] == 6
    assert sorted(p.name for p in (out / "state").glob("*.pt")) == [f"iter_{i:08d}.pt" for i in (2, 4, 6)]
    for name in ("latest", "best", "iter_00000006"):
        assert (out / "weights" / f"{name}.safetensors").is_file()
    card = read_card(out / "weights" / "latest.safetensors")
    assert card["method"] == "basicvsr" and card["overrides"] == {"num_feat": 8, "num_block": 1} and card["ema"]
    model = load_model(out / "weights" / "latest.safetensors")  # rebuilds the tiny variant from the card
    assert sum(p.numel() for p in model.parameters()) < 1.6e6
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    vals = [r for r in log if "val" in r]
    assert [r["iter"] for r in vals] == [3, 6] and all(math.isfinite(r["val"]["psnr_y"]) for r in vals)
    assert len(list((out / "images").glob("*.png"))) == 2
    assert not list(out.rglob("*.partial"))
    # The exported weights drive `vsrkit upscale` directly (the card names model and variant).
    from vsrkit.cli import main

    frames_out = tmp_path / "upscaled"
    assert main(["upscale", str(clip_dirs[1] / "bikes_late"), "-o", str(frames_out), "--model", "basicvsr",
                 "--weights", str(out / "weights" / "latest.safetensors"), "--quiet"]) == 0
    pictures = sorted(frames_out.iterdir())
    assert len(pictures) == 4 and cv2.imread(str(pictures[0])).shape == (640, 640, 3)


def test_resume_is_bitwise_identical(clip_dirs, tmp_path):
    cfg = tiny_config(clip_dirs)
    train(cfg, tmp_path / "full", progress=False)
    # Interrupted run: stop after iteration 4 (a checkpoint), then resume to 6.
    partial = tiny_config(clip_dirs)
    trainer = Trainer(partial, tmp_path / "cut", progress=False)
    trainer.total_iter = 4
    trainer.fit()
    train(tiny_config(clip_dirs), tmp_path / "cut", resume="auto", progress=False)
    _assert_bitwise_equal(_weights(tmp_path / "full/weights/latest.safetensors"),
                          _weights(tmp_path / "cut/weights/latest.safetensors"))
    full_state = torch.load(tmp_path / "full/state/iter_00000006.pt", weights_only=True)
    cut_state = torch.load(tmp_path / "cut/state/iter_00000006.pt", weights_only=True)
    _assert_bitwise_equal(full_state["model"], cut_state["model"])


def _run_cli(args: list[str], env_extra: dict | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.slow
def test_sigkill_then_resume_auto_matches_uninterrupted_run(clip_dirs, tmp_path):
    cfg = tiny_config(clip_dirs, **{"train.total_iter": 10, "val.val_freq": 0, "logger.save_checkpoint_freq": 1})
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    ref = _run_cli(["-m", "vsrkit", "train", str(cfg_path), "--out", str(tmp_path / "ref"), "--quiet"])
    victim = _run_cli(["-m", "vsrkit", "train", str(cfg_path), "--out", str(tmp_path / "cut"), "--quiet"])
    deadline = time.time() + 120
    while time.time() < deadline:
        latest = find_latest_state(tmp_path / "cut")
        if latest is not None and int(latest.stem.split("_")[1]) >= 4:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    latest = find_latest_state(tmp_path / "cut")
    assert latest is not None and int(latest.stem.split("_")[1]) < 10, "the run finished before it could be killed"
    torch.load(latest, weights_only=True)  # the newest state file is complete
    resumed = _run_cli(["-m", "vsrkit", "train", str(cfg_path), "--out", str(tmp_path / "cut"), "--resume", "auto",
                        "--quiet"])
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "resumed from" in out
    ref_out, _ = ref.communicate(timeout=300)
    assert ref.returncode == 0, ref_out
    _assert_bitwise_equal(_weights(tmp_path / "ref/weights/latest.safetensors"),
                          _weights(tmp_path / "cut/weights/latest.safetensors"))


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(clip_dirs, tmp_path):
    cfg = tiny_config(clip_dirs, **{"train.total_iter": 4, "val.val_freq": 4, "logger.save_checkpoint_freq": 2})
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    proc = _run_cli(["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", "-m", "vsrkit",
                     "train", str(cfg_path), "--out", str(tmp_path / "ddp"), "--quiet"])
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    weights = tmp_path / "ddp/weights/latest.safetensors"
    assert read_card(weights)["iterations"] == 4
    load_model(weights)  # a DDP checkpoint loads into a plain model
    # ... and a single process resumes from the two-process state.
    summary = train(tiny_config(clip_dirs, **{"train.total_iter": 6, "val.val_freq": 0}), tmp_path / "ddp",
                    resume="auto", progress=False)
    assert summary["iter"] == 6
    assert np.isfinite(summary["last_losses"]["l_total"])
