"""FMA-Net: golden parity, exact sizes, converter coverage, FGDF ops, engine contract, recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vsrkit import convert
from vsrkit.errors import VsrkitError
from vsrkit.models.fmanet import VARIANTS, FMANet, convert_official_state_dict, kwargs_from_official_config
from vsrkit.ops.dynamic_filter import (
    dynamic_downsample,
    dynamic_downsample_unfold,
    dynamic_upsample,
    dynamic_upsample_unfold,
)

TINY = {**VARIANTS["small"], "num_feat": 12, "num_rdb": 1, "growth_rate": 6, "num_dense_layers": 2, "kd": 8}


@pytest.fixture(scope="module")
def golden(golden_dir):
    from safetensors.torch import load_file

    root = golden_dir / "fmanet"
    if not root.is_dir():
        pytest.skip(f"no FMA-Net golden fixture at {root}")
    meta = json.loads((root / "meta.json").read_text())
    return meta, load_file(str(root / "weights.safetensors")), load_file(str(root / "io.safetensors")), root


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_golden_parity(golden, dtype):
    meta, weights, io, _ = golden
    model = convert.from_official("fmanet", weights, meta["constructor"]["config_overrides"], dtype=dtype)
    x, y = io["input.x"].to(dtype), io["input.y"].to(dtype)
    with torch.no_grad():
        out = convert.official_forward("fmanet", model, x, y)
        infer = convert.official_forward("fmanet", model, x)
    assert list(out) == list(meta["outputs"])
    key = "float64_atol" if dtype == torch.float64 else "float32_atol"
    for name, value in out.items():
        err = (value.double() - io[f"output.{name}"]).abs().max().item()
        assert err <= meta["tolerance"]["per_output"][name][key], (name, err)
    assert list(infer) == meta["checks"]["forward_without_y_returns"]
    for name, value in infer.items():
        assert torch.equal(value, out[name])


def test_vsrkit_forward_is_rgb_of_official(golden):
    meta, weights, io, _ = golden
    model = convert.from_official("fmanet", weights, meta["constructor"]["config_overrides"], dtype=torch.float64)
    x = io["input.x"]  # (B, 3, T, h, w) BGR
    with torch.no_grad():
        out = model(x.transpose(1, 2).flip(2))  # vsrkit: (B, T, 3, h, w) RGB
    assert out.shape == (1, 1, 3, 48, 64)
    assert (out[:, 0].flip(1) - io["output.output"]).abs().max().item() < 1e-9


@pytest.mark.parametrize("variant,count,count_d", [("paper", 9_766_503, 3_225_837), ("paper-t5", 9_941_463, 3_280_917),
                                                    ("s", 7_569_603, 2_450_229)])
def test_paper_parameter_counts(variant, count, count_d):
    with torch.device("meta"):
        model = FMANet(**VARIANTS[variant])
    assert sum(p.numel() for p in model.parameters()) == count
    assert sum(p.numel() for p in model.net_d.parameters()) == count_d


def test_manifest_key_coverage(golden):
    _, _, _, root = golden
    manifest = json.loads((root / "manifest_paper.json").read_text())
    official = {k: torch.empty(v["shape"], device="meta") for k, v in manifest["state_dict"].items()}
    assert len(official) == manifest["num_state_dict_entries"] == 585
    report: dict = {}
    converted = convert_official_state_dict(official, report=report)
    with torch.device("meta"):
        model = FMANet(**kwargs_from_official_config(convert.METHODS["fmanet"].official_defaults))
    expected = model.state_dict()
    assert set(converted) == set(expected) and not report["dropped"]
    for key, value in converted.items():
        assert value.shape == expected[key].shape, key
    assert sum(v.numel() for v in converted.values()) == manifest["num_parameters"]


def test_release_containers_and_folder(golden, tmp_path):
    meta, weights, io, _ = golden
    split = {"D": "degradation_learning_network.", "R": "restoration_network."}
    for tag, prefix in split.items():
        part = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        torch.save({"epoch": 3, f"model_{tag}_state_dict": part, f"optimizer_{tag}_state_dict": {}},
                   tmp_path / f"model_{tag}_best.pt")
    with pytest.raises(VsrkitError, match="model_R_best.pt"):
        convert_official_state_dict(torch.load(tmp_path / "model_D_best.pt", weights_only=True))
    card = convert.convert_file("fmanet", tmp_path, tmp_path / "out.safetensors",
                                meta["constructor"]["config_overrides"])
    assert card["conversion"]["reshaped"] and not card["conversion"]["dropped"]
    from vsrkit.models.weights import load_model

    model = load_model(tmp_path / "out.safetensors").double().eval()
    with torch.no_grad():
        out = model.official_forward(io["input.x"])["output"]
    assert (out - io["output.output"]).abs().max().item() < 1e-9


def test_dynamic_filters_match_unfold_definition():
    g = torch.Generator().manual_seed(0)
    b, c, t, h, w = 2, 3, 3, 5, 7
    x = torch.rand(b, c, t, 4 * h, 4 * w, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.rand(b, t, 20, 20, h, w, generator=g, dtype=torch.float64, requires_grad=True)
    lean, ref = dynamic_downsample(x, k, stride=4), dynamic_downsample_unfold(x, k, stride=4)
    assert lean.shape == (b, c, h, w) and torch.allclose(lean, ref, atol=1e-12)
    ga = torch.autograd.grad(lean.sin().sum(), (x, k))
    gb = torch.autograd.grad(ref.sin().sum(), (x, k))
    assert all(torch.allclose(p, q, atol=1e-12) for p, q in zip(ga, gb))
    # One explicit tap against the definition: LR pixel (1, 2) sees HR rows 4·1 − 8 + i (replicate padded).
    xp = torch.nn.functional.pad(x.detach()[0].reshape(c * t, 4 * h, 4 * w), (8,) * 4, mode="replicate")
    direct = (xp.view(c, t, 4 * h + 16, 4 * w + 16)[:, :, 4:24, 8:28] * k.detach()[0, :, :, :, 1, 2]).sum((1, 2, 3))
    assert torch.allclose(lean[0, :, 1, 2].detach(), direct, atol=1e-12)

    xl = torch.rand(b, c, t, h, w, generator=g, dtype=torch.float64, requires_grad=True)
    ku = torch.randn(b, 4, 4, t, 5, 5, h, w, generator=g, dtype=torch.float64, requires_grad=True)
    lean, ref = dynamic_upsample(xl, ku, scale=4), dynamic_upsample_unfold(xl, ku, scale=4)
    assert lean.shape == (b, c, 4 * h, 4 * w) and torch.allclose(lean, ref, atol=1e-12)
    ga = torch.autograd.grad(lean.sin().sum(), (xl, ku))
    gb = torch.autograd.grad(ref.sin().sum(), (xl, ku))
    assert all(torch.allclose(p, q, atol=1e-12) for p, q in zip(ga, gb))
    # HR pixel (4·2 + 1, 4·3 + 2) = sub-pixel (1, 2) of LR (2, 3); tap (i, j) reads LR (2 + i − 2, 3 + j − 2).
    xpl = torch.nn.functional.pad(xl.detach()[0].reshape(c * t, h, w), (2,) * 4, mode="replicate").view(c, t, h + 4, w + 4)
    direct = (xpl[:, :, 2:7, 3:8] * ku.detach()[0, 1, 2, :, :, :, 2, 3]).sum((1, 2, 3))
    assert torch.allclose(lean[0, :, 9, 14].detach(), direct, atol=1e-12)


def _blurry_batch(real_frames, t=3):
    from vsrkit.data.datasets import _degraded_item, frames_to_tensor
    from vsrkit.degrade import get_protocol

    deg = get_protocol("blur-avg", scale=4, window=3)(np.stack(real_frames[: t + 2])[:, :48, :64])
    item = _degraded_item(deg, None)
    return {"lq": item["lq"][None], "gt": frames_to_tensor(deg.hr)[None], "lr_sharp": item["lr_sharp"][None]}


def test_small_shapes_aux_and_gradients(real_frames):
    torch.manual_seed(0)
    model = FMANet(**TINY)
    batch = _blurry_batch(real_frames)
    lq, gt = batch["lq"], batch["gt"]
    assert lq.shape == (1, 3, 3, 12, 16) and gt.shape == (1, 3, 3, 48, 64)
    with torch.no_grad():
        out, aux = model(lq, return_aux=True)
    assert out.shape == (1, 1, 3, 48, 64) and torch.isfinite(out).all()
    assert aux["flow_x"].shape == (1, 3, 2, 12, 16) and aux["mask_x"].shape == (1, 3, 1, 12, 16)
    assert torch.allclose(aux["kernels_d"].sum(dim=(1, 2, 3)), torch.ones(1, 12, 16))
    pics = model.render_aux(aux)
    assert set(pics) >= {"flow_x", "mask_x", "kernels_d", "kernels_r", "lr_warp"}
    assert all(len(v) == 1 and v[0].dtype == np.uint8 and v[0].shape[2] == 3 for v in pics.values())

    from vsrkit.engine.recipes.fmanet import FMANetRecipe

    recipe = FMANetRecipe({"train": {"total_iter": 2, "fmanet": {"stage1_iters": 1}}})
    losses = recipe.compute_losses(model, batch, 2)  # stage 2: every parameter gets a gradient
    sum(losses.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing[:5]
    model.zero_grad(set_to_none=True)
    sum(recipe.compute_losses(model, batch, 1).values()).backward()  # stage 1: Net^R idle
    assert all(p.grad is None for p in model.net_r.parameters())
    assert all(p.grad is not None for p in model.net_d.parameters())


def test_recipe_losses_decrease_and_schedule(real_frames):
    from vsrkit.engine.recipes.fmanet import FMANetRecipe, stage_scheduler
    from vsrkit.engine.train import scheduled_lr

    s = [scheduled_lr(2e-4, i, stage_scheduler(i, 100, 300)) for i in (1, 70, 71, 100, 101, 240, 241, 300)]
    assert s == pytest.approx([2e-4, 2e-4, 1e-4, 2.5e-5, 2e-4, 2e-4, 1e-4, 2.5e-5])
    torch.manual_seed(0)
    model = FMANet(**TINY)
    batch = _blurry_batch(real_frames)
    recipe = FMANetRecipe({"train": {"total_iter": 12, "fmanet": {"stage1_iters": 6}}})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = {1: [], 2: []}
    for it in range(1, 13):
        losses = recipe.compute_losses(model, batch, it)
        total = sum(losses.values())
        assert all(torch.isfinite(v) for v in losses.values())
        history[recipe.stage(it)].append(float(total.detach()))
        opt.zero_grad()
        total.backward()
        opt.step()
    assert "l_flow" in losses and "l_restore" in losses
    assert history[1][-1] < history[1][0] and history[2][-1] < history[2][0], history
