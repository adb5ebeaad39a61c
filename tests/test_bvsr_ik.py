"""BVSR-IK: golden parity, parameter count, converter coverage, SIREN atoms, engine contract, recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vsrkit.models.bvsr_ik import (
    BVSRIK,
    OFFICIAL_KEYS_DROPPED,
    VARIANTS,
    KernelDictionaryFilter,
    convert_official_state_dict,
)
from vsrkit.ops.siren import SirenAtomBank, atom_coordinates, atom_normalisation, delta_atom

PAPER_PARAMS = 9_304_445


def _clip(frames: list[np.ndarray], t: int, h: int = 36, w: int = 40) -> torch.Tensor:
    arr = np.stack(frames[:t])[:, :h, :w].astype(np.float32) / 255.0
    return torch.from_numpy(arr).permute(0, 3, 1, 2).unsqueeze(0).contiguous()


# ------------------------------------------------------------------------------------------------------------
# Golden parity, parameter count, converter
# ------------------------------------------------------------------------------------------------------------
def test_golden_parity_float64(golden_dir):
    from safetensors.torch import load_file

    from vsrkit.convert import from_official, official_forward

    d = golden_dir / "bvsr_ik"
    if not d.is_dir():
        pytest.skip(f"no BVSR-IK golden fixture in {golden_dir}")
    meta = json.loads((d / "meta.json").read_text())
    weights = {k: v.to(torch.float64) for k, v in load_file(str(d / "weights.safetensors")).items()}
    io = load_file(str(d / "io.safetensors"))
    args = meta["constructor"]["config_read_by_constructor"]
    model = from_official("bvsr_ik", weights, args, dtype=torch.float64)
    with torch.no_grad():
        outputs, lr_corrs = official_forward("bvsr_ik", model, io["input.lrs"])
    tol = meta["tolerance"]["per_output"]
    for name, got in (("outputs", outputs), ("lr_corrs", lr_corrs)):
        ref = io[f"output.{name}"]
        assert got.shape == ref.shape
        err = (got - ref).abs().max().item()
        assert err <= tol[name]["float64_atol"], f"{name}: max error {err:.3e}"


def test_paper_parameter_count():
    with torch.device("meta"):
        model = BVSRIK(**VARIANTS["paper"])
    assert sum(p.numel() for p in model.parameters()) == PAPER_PARAMS


def test_converter_covers_manifest(golden_dir):
    manifest_path = golden_dir / "bvsr_ik" / "manifest_paper.json"
    if not manifest_path.is_file():
        pytest.skip("no BVSR-IK manifest")
    manifest = json.loads(manifest_path.read_text())
    official = {k: torch.zeros(v["shape"]) for k, v in manifest["state_dict"].items()}
    assert len(official) == 720
    report: dict = {}
    converted = convert_official_state_dict({"epoch": 400, "model_R_state_dict": official}, report=report)
    with torch.device("meta"):
        model = BVSRIK()
    expected = model.state_dict()
    assert set(converted) == set(expected)
    for key, value in converted.items():
        assert tuple(value.shape) == tuple(expected[key].shape), key
    assert sorted(report["dropped"]) == sorted(OFFICIAL_KEYS_DROPPED) and len(report["dropped"]) == 24
    # Every tied pair of the manifest is one of the dropped duplicates.
    assert {b for _, b in manifest["tied_keys"]} == set(OFFICIAL_KEYS_DROPPED)
    # A DataParallel prefix is accepted; untied frequencies are refused.
    assert set(convert_official_state_dict({f"module.{k}": v for k, v in official.items()})) == set(expected)
    bad = dict(official)
    bad[OFFICIAL_KEYS_DROPPED[0]] = torch.ones(())
    with pytest.raises(Exception, match="tied"):
        convert_official_state_dict(bad)


def test_registry_variants_match_model():
    from vsrkit.models.registry import spec

    s = spec("bvsr_ik")
    assert s.variants == VARIANTS and s.temporal == "recurrent" and s.scale == 4


# ------------------------------------------------------------------------------------------------------------
# SIREN atoms and the dictionary filter
# ------------------------------------------------------------------------------------------------------------
def test_siren_atoms_sizes_normalisation_and_frequencies():
    torch.manual_seed(0)
    bank = SirenAtomBank(num_atoms=8, hidden=16)
    # Tied frequencies: one parameter per atom, initialised 2, 4, ..., 16 (the released code).
    assert torch.equal(bank.frequencies(), torch.arange(2.0, 17.0, 2.0))
    assert sum(1 for n, _ in bank.named_parameters() if n.endswith("w0")) == 8
    for k in (1, 3, 5, 7, 9, 11, 13):
        atoms = bank(k)
        assert atoms.shape == (8, k, k)
        coords = atom_coordinates(k, dtype=torch.float32)
        raw = bank.atoms[2](coords).reshape(k, k)
        assert torch.allclose(atoms[2], raw * atom_normalisation(k, dtype=torch.float32))
    # The size normalisation is float32(9/k^2) even in float64.
    assert atom_normalisation(7, dtype=torch.float64).item() == float(np.float32(9 / 49))
    assert atom_normalisation(7, dtype=torch.float64).item() != 9 / 49
    # Coordinates span [0, 1]^2, row-major, feature 0 = row.
    c = atom_coordinates(3, dtype=torch.float64)
    assert c[0].tolist() == [0.0, 0.0] and c[1].tolist() == [0.0, 0.5] and c[-1].tolist() == [1.0, 1.0]
    rand = SirenAtomBank(num_atoms=8, hidden=4, freq_init="random")
    assert ((rand.frequencies() >= 2) & (rand.frequencies() <= 16)).all()


def test_delta_atom_is_fixed_identity_path():
    d = delta_atom(5)
    assert d.sum() == 1 and d[2, 2] == 1 and not d.requires_grad
    torch.manual_seed(0)
    filt = KernelDictionaryFilter(3, num_atoms=4, sizes=(3, 5), hidden=8)
    x = torch.rand(1, 3, 10, 12)
    mu = torch.zeros(1, 3, 10, 12)
    mu[:, 0] = 1.0  # all weight on the null scale = the fixed delta atom
    omega = torch.randn(1, 4, 10, 12)
    out = filt(x, mu, omega)
    assert torch.allclose(out, x + filt.sum.bias.view(1, 3, 1, 1))
    # Effective kernels: null scale → exactly the delta; otherwise delta + Σ μ ω d.
    atoms = torch.stack([torch.nn.functional.pad(a, [1, 1, 1, 1]) if a.shape[-1] == 3 else a for a in filt.atoms()])
    eff = BVSRIK.effective_kernels(mu, omega, atoms)
    assert eff.shape == (1, 10, 12, 5, 5)
    assert torch.allclose(eff, delta_atom(5).expand_as(eff))


# ------------------------------------------------------------------------------------------------------------
# Engine contract on real frames, gradients, recipe
# ------------------------------------------------------------------------------------------------------------
def test_small_shapes_aux_and_gradients(real_frames):
    torch.manual_seed(0)
    model = BVSRIK(**VARIANTS["small"])
    x = _clip(real_frames, 2, 35, 38)  # not multiples of 4: exercises the internal pad/crop
    out, aux = model(x, return_aux=True)
    assert out.shape == (1, 2, 3, 140, 152)
    assert aux["corrected"].shape == x.shape
    assert aux["isc_mu"].shape == (1, 2, 7, 35, 38) and aux["isc_omega"].shape == (1, 2, 8, 35, 38)
    assert torch.allclose(aux["isc_mu"].sum(2), torch.ones(1, 2, 35, 38), atol=1e-5)
    assert aux["isc_atoms"].shape == (6, 8, 13, 13)
    pics = model.render_aux(aux)
    assert set(pics) == {"corrected", "kernel_dictionary", "effective_kernels"}
    assert all(len(v) == 2 and v[0].dtype == np.uint8 and v[0].ndim == 3 for v in pics.values())
    (out.mean() + aux["corrected"].mean()).backward()
    dead = {n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)}
    # Only the discarded deepest-encoder FFNs have no influence (as in the official model).
    assert all(".Encoder.2.layers.0.ffn1." in n for n in dead), sorted(dead)[:5]
    for group in ("isc.", "ita_forward.", "ita_backward.", "spynet.", "backward_trunk.", "forward_trunk.",
                  "upsampler.", "inr_conv.dictionary.atoms.0.w0"):
        assert any(group in n for n, _ in model.named_parameters() if n not in dead), group


def test_rgb_bgr_and_feature_order(real_frames):
    torch.manual_seed(0)
    model = BVSRIK(**{**VARIANTS["small"], "feature_order": "official", "flow_source": "lr"}).eval()
    x = _clip(real_frames, 2)
    with torch.no_grad():
        rgb = model(x)
        bgr = model.forward_bgr(x.flip(2))["outputs"]
        model.feature_order = "fixed"
        fixed = model(x)
    assert torch.equal(rgb, bgr.flip(2))
    # The mirrored ISC features change the forward branch; a single frame is unaffected.
    assert not torch.allclose(rgb, fixed, atol=1e-4)
    with torch.no_grad():
        one_fixed = model(x[:, :1])
        model.feature_order = "official"
        one_official = model(x[:, :1])
    assert torch.equal(one_fixed, one_official)


def test_recipe_loss_finite_and_decreasing(real_frames):
    from vsrkit.degrade import get_protocol
    from vsrkit.engine.recipes import get_recipe

    torch.manual_seed(0)
    # Real frames, reflect-padded to 144 px so that the LR (36 px) is legal for SpyNet.
    hr = np.pad(np.stack(real_frames[:2]), ((0, 0), (40, 40), (24, 24), (0, 0)), mode="reflect")
    deg = get_protocol("bvsrik-gaussian", mode="train")(np.ascontiguousarray(hr), rng=0)
    batch = {
        "lq": torch.from_numpy(deg.lr).permute(0, 3, 1, 2).unsqueeze(0).float(),
        "gt": torch.from_numpy(deg.hr).permute(0, 3, 1, 2).unsqueeze(0).float() / 255.0,
    }
    assert batch["lq"].shape == (1, 2, 3, 36, 36)
    cfg = {"scale": 4, "train": {"recipe": "bvsr_ik", "correction_weight": 0.2,
                                 "pixel_opt": {"type": "CharbonnierLoss", "eps": 1e-6}}}
    recipe = get_recipe("bvsr_ik")(cfg)
    # The small variant, thinned further so three optimiser steps stay quick on 2 cores.
    model = BVSRIK(**{**VARIANTS["small"], "num_feat": 16, "siren_hidden": 16, "prop_blocks": 1, "recon_blocks": 1,
                      "kernel_sizes": (3, 5)})
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    totals = []
    for it in range(3):
        losses = recipe.compute_losses(model, batch, it + 1)
        assert set(losses) == {"l_sr", "l_corr"}
        total = sum(losses.values())
        assert torch.isfinite(total)
        totals.append(total.item())
        opt.zero_grad()
        total.backward()
        opt.step()
    assert totals[-1] < totals[0], totals
