"""Untrusted files (a pickle with a code-execution payload, forged safetensors headers, YAML with Python tags) and
the engine guards (non-finite output, --save-aux without auxiliary outputs): one line, nothing executed."""

from __future__ import annotations

import json
import os
import pickle
import struct

import pytest
import torch
from torch import nn

from vsrkit.engine.infer import InferenceOptions, Upscaler
from vsrkit.errors import VsrkitError
from vsrkit.models.registry import spec

from .adversarial_helpers import assert_one_line_error, run_cli


class _Payload:
    def __init__(self, flag: str):
        self.flag = flag

    def __reduce__(self):
        return (os.system, (f"touch {self.flag}",))


def test_a_pickle_payload_is_never_executed(tmp_path, capsys):
    flag = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"state_dict": _Payload(str(flag))}))
    rc, _, err = run_cli(capsys, "convert", "spynet", evil, "-o", tmp_path / "out.safetensors")
    assert_one_line_error(rc, err, "evil.pth")
    rc, _, err = run_cli(capsys, "upscale", "sample:carphone", "-o", tmp_path / "x.mp4", "--weights", evil)
    assert_one_line_error(rc, err, "evil.pth")
    assert not flag.exists() and not (tmp_path / "out.safetensors").exists()


def _safetensors(path, header: dict, payload: bytes = b"") -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + payload)


@pytest.mark.parametrize("header, payload", [
    ({"w": {"dtype": "F32", "shape": [1 << 40, 1 << 20], "data_offsets": [0, 16]}}, b"\0" * 16),  # absurd size
    ({"w": {"dtype": "NOPE", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),  # unknown dtype
    ({"__metadata__": {"vsrkit_card": json.dumps({"method": "no_such_model"})},
      "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),  # a card naming another model
])
def test_forged_safetensors_headers_are_one_line_errors(tmp_path, capsys, header, payload):
    forged = tmp_path / "forged.safetensors"
    _safetensors(forged, header, payload)
    rc, _, err = run_cli(capsys, "upscale", "sample:carphone", "-o", tmp_path / "x.mp4", "--weights", forged)
    assert_one_line_error(rc, err)
    rc, _, err = run_cli(capsys, "convert", "spynet", forged, "-o", tmp_path / "out.safetensors")
    assert_one_line_error(rc, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forged.safetensors"]


def test_yaml_python_tags_are_refused(tmp_path, capsys):
    flag = tmp_path / "pwned"
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(f"name: x\nmodel: !!python/object/apply:os.system ['touch {flag}']\n")
    rc, _, err = run_cli(capsys, "train", cfg, "--out", tmp_path / "run")
    assert_one_line_error(rc, err, "evil.yaml")
    assert not flag.exists() and not (tmp_path / "run").exists()


class _Exploding(nn.Module):
    scale = 2

    def forward(self, x):
        return torch.full((*x.shape[:3], x.shape[3] * 2, x.shape[4] * 2), float("nan"))


def test_non_finite_output_is_an_error_naming_model_and_precision():
    runner = Upscaler(_Exploding(), spec("bicubic"), InferenceOptions(device="cpu", precision="bf16"))
    with pytest.raises(VsrkitError, match=r"'bicubic' produced non-finite values.*bf16: run with --precision fp32"):
        runner.upscale_clip(torch.rand(2, 3, 8, 8))


def test_save_aux_is_refused_up_front_for_models_without_aux(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "upscale", "-m", "bicubic", "sample:carphone", "-o", tmp_path / "x.mp4",
                         "--save-aux", tmp_path / "aux", "--quiet")
    assert_one_line_error(rc, err, "no auxiliary outputs", "--save-aux")
    assert list(tmp_path.iterdir()) == []
