"""Everyday UX of issue 19: device defaults, precision warnings, the optional TensorBoard, `vsrkit models` marks,
and the progress bar's rate."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

import numpy as np
import torch

from vsrkit.cli import main
from vsrkit.engine import infer
from vsrkit.engine.infer import InferenceOptions, Upscaler, resolve_device


def test_auto_picks_cuda_then_mps_then_cpu_and_the_api_defaults_to_auto(monkeypatch):
    assert InferenceOptions().device == "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"


def test_fp16_on_cpu_warns_once(monkeypatch, caplog):
    from vsrkit.engine.upscale import resolve_model

    monkeypatch.setattr(infer, "_warned_precisions", set())
    model, spec = resolve_model("bicubic", scale=2)
    with caplog.at_level(logging.WARNING, logger="vsrkit.engine.infer"):
        Upscaler(model, spec, InferenceOptions(device="cpu"))
        assert not caplog.records
        for _ in range(2):
            Upscaler(model, spec, InferenceOptions(device="cpu", precision="fp16"))
    assert len(caplog.records) == 1 and "slower than fp32" in caplog.records[0].getMessage()


def test_missing_tensorboard_is_one_warning(monkeypatch, caplog, tmp_path):
    from vsrkit.engine.train import Trainer

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    fake = SimpleNamespace(config=SimpleNamespace(logger=SimpleNamespace(use_tb_logger=True)), out_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="vsrkit.engine.train"):
        assert Trainer._tensorboard(fake) is None
    assert len(caplog.records) == 1 and "pip install tensorboard" in caplog.records[0].getMessage()


def test_models_marks_the_variant_upscale_runs(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    basicvsr = next(line for line in out.splitlines() if line.startswith("basicvsr "))
    assert "small*" in basicvsr and "paper*" not in basicvsr


def test_progress_rate_is_frames_finished_over_elapsed_time(monkeypatch, tmp_path, real_frames):
    """tqdm's default smoothing rates the last few updates; a chunk lands all at once, so that rate (and the ETA)
    is far off. The bar must use the plain average."""
    import cv2

    from vsrkit.engine import upscale as up

    seen = {}

    class Recorder(up.tqdm):
        def __init__(self, *a, **kw):
            seen.update(kw)
            super().__init__(*a, **kw)

    monkeypatch.setattr(up, "tqdm", Recorder)
    src = tmp_path / "in"
    src.mkdir()
    for i, f in enumerate(real_frames[:2]):
        cv2.imwrite(str(src / f"{i}.png"), np.ascontiguousarray(f[..., ::-1]))
    model, spec = up.resolve_model("bicubic", scale=2)
    up.upscale_video(src, tmp_path / "out", model=model, model_spec=spec, progress=False)
    assert seen.get("smoothing") == 0 and seen.get("mininterval") == 0


def test_a_bursty_chunk_gives_the_right_eta_with_those_settings():
    """What the settings buy: after 16 frames land at once (one chunk) the bar shows 16 done, so its rate and ETA
    count all of them (tqdm's defaults redraw only after the burst's first frame: rate and ETA 16x off)."""
    import io

    from tqdm import tqdm

    out = io.StringIO()
    bar = tqdm(total=160, file=out, smoothing=0, mininterval=0)
    for _ in range(16):
        bar.update(1)
    assert out.getvalue().split("\r")[-1].strip().split("|")[-1].lstrip().startswith("16/160")
    bar.close()
