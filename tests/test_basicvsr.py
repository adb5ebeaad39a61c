"""BasicVSR and the official-weights interface: sizes, forward/gradients, converter tables, golden parity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vsrkit import convert
from vsrkit.errors import VsrkitError
from vsrkit.models import build, spec
from vsrkit.models.basicvsr import OFFICIAL_KEY_PREFIXES, VARIANTS, BasicVSR, convert_official_state_dict

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "golden"


def _golden(name: str) -> Path:
    folder = GOLDEN / name
    if not (folder / "meta.json").is_file():
        pytest.skip(f"golden fixtures not found at {folder}: they live in ../shared beside the checkout")
    return folder


def _load_fixture(name: str) -> tuple[dict, dict, dict, dict]:
    from safetensors.torch import load_file

    folder = _golden(name)
    meta = json.loads((folder / "meta.json").read_text())
    manifest = json.loads((folder / "manifest_paper.json").read_text())
    weights = load_file(str(folder / "weights.safetensors"))
    io = load_file(str(folder / "io.safetensors"))
    return meta, manifest, weights, io


def _real_clip(t: int, h: int, w: int) -> torch.Tensor:
    """``(1, t, 3, h, w)`` crops of skimage's astronaut, panning 2 px per frame (a tiny real 'video')."""
    data = pytest.importorskip("skimage.data")
    img = torch.from_numpy(data.astronaut().copy()).permute(2, 0, 1).float() / 255.0
    return torch.stack([img[:, 120 : 120 + h, 190 + 2 * i : 190 + 2 * i + w] for i in range(t)]).unsqueeze(0)


def _num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def paper_model() -> BasicVSR:
    """Built once (never run): construction alone is what the size and key-set tests need."""
    return BasicVSR(**VARIANTS["paper"])


# -------------------------------------------------------------------------------------------------------- sizes
def test_paper_size_param_count(paper_model):
    assert _num_params(paper_model) == 6_291_311


def test_registry_entry_matches_module():
    s = spec("basicvsr")
    assert s.variants == VARIANTS and s.default_variant == "paper" and s.temporal == "recurrent"
    assert s.scale == 4 and s.min_size == 33
    assert _num_params(build("basicvsr", "small")) == 1_797_199


# ------------------------------------------------------------------------------------------------------ forward
def test_small_forward_shape_aux_and_gradients():
    torch.manual_seed(0)
    model = BasicVSR(**VARIANTS["small"])
    clip = _real_clip(3, 34, 36)
    out, aux = model(clip, return_aux=True)
    assert out.shape == (1, 3, 3, 136, 144)
    assert aux["flows_forward"].shape == aux["flows_backward"].shape == (1, 2, 2, 34, 36)
    out.square().mean().backward()
    for name in ("spynet.basic_module.5.basic_module.8.weight", "backward_trunk.main.0.weight",
                 "forward_trunk.main.2.4.conv2.weight", "upsampler.convs.1.weight", "conv_last.bias"):
        grad = model.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_single_frame_and_too_small_input():
    model = BasicVSR(num_feat=4, num_block=1).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 1, 3, 33, 34)).shape == (1, 1, 3, 132, 136)
    with pytest.raises(VsrkitError, match="at least 33"):
        model(torch.rand(1, 2, 3, 32, 40))


# ---------------------------------------------------------------------------------------------------- converter
def test_manifest_keys_map_completely_onto_paper_model(paper_model):
    _, manifest, _, _ = _load_fixture("basicvsr")
    official = manifest["state_dict"]
    placeholders = {k: torch.empty(v["shape"]) for k, v in official.items()}
    report: dict = {}
    converted = convert_official_state_dict({"params": placeholders}, report)
    ours = paper_model.state_dict()
    assert set(converted) == set(ours)
    assert {k: tuple(v.shape) for k, v in converted.items()} == {k: tuple(v.shape) for k, v in ours.items()}
    assert report["renamed"] == {
        f"upconv{i}.{kind}": f"upsampler.convs.{i - 1}.{kind}" for i in (1, 2) for kind in ("weight", "bias")
    }
    assert not report["dropped"]
    assert manifest["num_parameters"] == _num_params(paper_model)


def test_converter_table_is_explicit_and_strict():
    assert "upconv1." in OFFICIAL_KEY_PREFIXES
    with pytest.raises(VsrkitError, match="rename table"):
        convert_official_state_dict({"backward_resblocks.main.0.weight": torch.zeros(1)})  # MMEditing naming
    # params_ema wins over params in a BasicSR container
    ema, plain = {"fusion.bias": torch.ones(1)}, {"fusion.bias": torch.zeros(1)}
    assert convert_official_state_dict({"params": plain, "params_ema": ema})["fusion.bias"].item() == 1.0


def test_spynet_manifest_keys_map_completely():
    _, manifest, _, _ = _load_fixture("spynet")
    from vsrkit.ops.spynet import SpyNet

    placeholders = {k: torch.empty(v["shape"]) for k, v in manifest["state_dict"].items()}
    converted = convert.convert_state_dict("spynet", placeholders)
    assert {k: tuple(v.shape) for k, v in converted.items()} == {
        k: tuple(v.shape) for k, v in SpyNet().state_dict().items()
    }


# ------------------------------------------------------------------------------------------------------- golden
@pytest.mark.parametrize("name", ["spynet", "basicvsr"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_golden_parity(name, dtype):
    meta, _, weights, io = _load_fixture(name)
    kwargs = {k: v for k, v in meta["constructor"]["kwargs"].items()}
    model = convert.from_official(name, weights, kwargs, dtype=dtype)
    inputs = [io[f"input.{arg}"].to(dtype) for arg in meta["inputs"]]
    with torch.no_grad():
        outputs = convert.official_forward(name, model, *inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert len(outputs) == len(meta["outputs"])
    tol_key = "float64_atol" if dtype == torch.float64 else "float32_atol"
    for out_name, out in zip(meta["outputs"], outputs):
        err = (out.double() - io[f"output.{out_name}"]).abs().max().item()
        atol = meta["tolerance"]["per_output"][out_name][tol_key]
        assert err <= atol, (name, out_name, dtype, err, atol)


# ---------------------------------------------------------------------------------------------------- files
def test_convert_file_roundtrip_and_pretrained_spynet(tmp_path):
    from safetensors import safe_open
    from vsrkit.models.weights import load_model

    meta, _, weights, _ = _load_fixture("basicvsr")
    src = tmp_path / "BasicVSR_tiny.pth"
    torch.save({"params": weights}, src)
    dst = tmp_path / "basicvsr_tiny.safetensors"
    card = convert.convert_file("basicvsr", src, dst, {"num_feat": 8, "num_block": 1})
    assert card["method"] == "basicvsr" and card["variant"] is None
    assert card["overrides"] == {"num_feat": 8, "num_block": 1} and len(card["official"]["sha256"]) == 64
    assert set(card["conversion"]["renamed"]) == {"upconv1.weight", "upconv1.bias", "upconv2.weight", "upconv2.bias"}
    with safe_open(str(dst), "pt") as f:
        assert json.loads(f.metadata()["vsrkit"]) == card
    # the engine's loader rebuilds the model from the card alone
    reloaded = load_model(dst)
    assert isinstance(reloaded, BasicVSR) and reloaded.num_feat == 8
    torch.testing.assert_close(reloaded.fusion.weight, weights["fusion.weight"].float())

    # A SpyNet release-style file (params container, no mean/std) loads through spynet_pretrained.
    spynet_only = {k[len("spynet."):]: v for k, v in weights.items() if k.startswith("spynet.basic_module")}
    spy_path = tmp_path / "spynet_sintel_final.pth"
    torch.save({"params": spynet_only}, spy_path)
    model = BasicVSR(num_feat=8, num_block=1, spynet_pretrained=spy_path)
    torch.testing.assert_close(model.spynet.basic_module[2].basic_module[4].bias, spynet_only[
        "basic_module.2.basic_module.4.bias"].float())
    torch.testing.assert_close(model.spynet.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))

    with pytest.raises(VsrkitError, match="do not fit"):
        convert.from_official("basicvsr", weights)  # paper defaults vs a tiny checkpoint
    with pytest.raises(VsrkitError, match="no official-weights converter"):
        convert.from_official("edsr", weights)
    # explicit container choice (BasicSR's loader default is 'params')
    assert set(convert.load_checkpoint_file(src, container="params")) == set(weights)
    with pytest.raises(VsrkitError, match="no 'params_ema' entry"):
        convert.load_checkpoint_file(src, container="params_ema")
    with pytest.raises(VsrkitError, match="does not exist"):
        convert.load_checkpoint_file(tmp_path / "missing.pth")
