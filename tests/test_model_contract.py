"""The model contract (:class:`vsrkit.models.spec.ModelSpec`), checked on every registered model and variant.

For each variant: the built module's ``scale`` is the variant's declared scale; output shape per temporal kind on
the smallest legal size; ``return_aux`` returns exactly the declared auxiliary outputs (and is not accepted by
models that declare none); odd sizes go through the engine's padding and come back at ``scale × size``; the output
is finite in fp32 and bf16. For every declared converter: a state dict in the official layout, made from the model's
own weights through the inverse of the key table, converts back to the same keys and values and loads strictly.
And the tables derived from the declarations agree with each other (registry, catalogue, ``vsrkit convert``).
"""

from __future__ import annotations

import functools
import inspect
import os

import pytest
import torch

from vsrkit.engine.fastpath import cpu_has_native_bf16
from vsrkit.engine.infer import InferenceOptions, Upscaler, _legal_size
from vsrkit.models import registry

#: A forward costs about parameters × LR pixels × input frames multiply-adds. The forward checks run on the cheapest
#: variant of each model (the tiny/small one) and on any other variant cheaper than this; paper-size variants have
#: their declaration and parameter count checked on the meta device only, which keeps this file near a minute on
#: 2 CPU cores (bf16 autocast is emulated, and slow, on CPUs without native bf16).
FORWARD_BUDGET = 1e6

#: bf16 runs on every model where it is native (or when asked); elsewhere on the models small enough to emulate.
_BF16_FAST = cpu_has_native_bf16() or os.environ.get("VSRKIT_SLOW_TESTS") == "1"

VARIANTS = [(name, variant) for name in registry.available() for variant in registry.spec(name).variants]


def _build(name: str, variant: str, device: str | None = None) -> torch.nn.Module:
    torch.manual_seed(0)
    if device == "meta":
        try:
            with torch.device("meta"):
                return registry.build(name, variant)
        except (NotImplementedError, RuntimeError):  # a constructor that computes on tensors: allocate
            pass
    return registry.build(name, variant).eval()


def _frames_in(spec, model) -> int:
    """Input frames of one forward: the window for window models, two frames otherwise (enough for flows)."""
    return int(getattr(model, "num_frames", spec.num_frames)) if spec.temporal == "window" else 2


def _smallest_legal(spec) -> int:
    return _legal_size(1, spec)


@functools.cache
def _cost(name: str, variant: str) -> float:
    spec = registry.spec(name)
    model = _build(name, variant, "meta")
    size = _smallest_legal(spec)
    return sum(p.numel() for p in model.parameters()) * size * size * _frames_in(spec, model)


def _cheapest(name: str) -> str:
    return min(registry.spec(name).variants, key=lambda v: _cost(name, v))


def _light(name: str, variant: str, budget: float = FORWARD_BUDGET) -> None:
    if variant != _cheapest(name) and _cost(name, variant) > budget:
        pytest.skip(f"{name}/{variant}: {_cost(name, variant):.1e} multiply-adds per forward at the smallest size; "
                    f"the forward contract is checked on {name}/{_cheapest(name)}, this variant's declaration and "
                    "parameter count on the meta device")


def _clip(t: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """A smooth random clip ``(1, t, 3, h, w)`` in [0, 1] (smooth so that flow networks see structure)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1 * t, 3, max(h // 4, 2), max(w // 4, 2), generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False).view(1, t, 3, h, w)


# ----------------------------------------------------------------------------------------------------------------
# Declarations
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, variant", VARIANTS)
def test_the_built_variant_is_what_its_declaration_says(name, variant):
    spec = registry.spec(name)
    model = _build(name, variant, "meta")
    if spec.arbitrary_scale:
        assert spec.variant_scale(variant) is None and float(model.scale) > 0
    else:
        assert model.scale == spec.variant_scale(variant), "the module's scale is the variant's declared scale"
    if spec.temporal == "window":
        assert int(getattr(model, "num_frames", spec.num_frames)) % 2 == 1, "a window has a centre frame"
    takes_aux = "return_aux" in inspect.signature(model.forward).parameters
    assert takes_aux == bool(spec.aux_outputs), "return_aux is accepted iff aux outputs are declared"


def test_every_declaring_module_declares_exactly_the_names_mapped_to_it():
    import importlib

    tables = {**registry.MODELS, **registry.HELPER_NETWORKS}
    for module_name in set(tables.values()):
        module = importlib.import_module(f"vsrkit.models.{module_name}")
        declared = sorted(s.name for s in module.SPECS)
        assert declared == sorted(n for n, m in tables.items() if m == module_name), module_name
    for name in registry.MODELS:
        assert isinstance(registry.spec(name), registry.ModelSpec) and registry.spec(name).role == "sr"
    for name in registry.HELPER_NETWORKS:
        assert not isinstance(registry.network(name), registry.ModelSpec) and registry.network(name).role != "sr"


def test_a_variant_defined_in_a_model_file_is_buildable_at_its_own_scale():
    """Regression: edvr.py defined l_x4_7f but the registry restated an older table without it, and registered
    every EDVR variant as x2 (the default's scale)."""
    spec = registry.spec("edvr")
    assert spec.variant_scale("l_x4") == 4 and spec.variant_scale("m_x2") == 2
    with torch.device("meta"):
        model = registry.build("edvr", "l_x4_7f")
    assert model.scale == 4 and model.num_frames == 7


def test_the_catalogue_names_registered_variants_at_their_declared_scale():
    from vsrkit.models import catalogue

    for name, entry in catalogue.SHIPPED.items():
        declared = registry.network(entry.method)  # every shipped method is a declared network
        card = catalogue.shipped_card(name)
        if card:
            assert card["method"] == entry.method
            assert card.get("variant") is None or card["variant"] in declared.variants, name
        if isinstance(declared, registry.ModelSpec) and entry.evaluation.get("kind") == "clip":
            assert declared.variant_scale(card.get("variant")) == entry.evaluation["scale"], name
        adapt = entry.evaluation.get("adapt")
        if adapt:
            assert catalogue.SHIPPED[adapt["mfdn"]].method in registry.with_role("downscaler")
    for default in (catalogue.DEFAULT_SHARP, catalogue.DEFAULT_BLURRY, catalogue.DEFAULT_REAL):
        assert catalogue.SHIPPED[default].method in registry.MODELS


def test_convert_accepts_exactly_the_declared_converters():
    from vsrkit import convert

    declared = {n for n in registry.networks() if registry.network(n).converter is not None}
    assert set(convert.official_methods()) == declared == set(convert.METHODS)
    assert convert.METHODS["fmanet"].official_defaults is __import__("vsrkit.models.fmanet").models.fmanet.OFFICIAL_CONFIG


# ----------------------------------------------------------------------------------------------------------------
# Forward contract
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, variant", VARIANTS)
def test_forward_shape_aux_and_finiteness_on_the_smallest_legal_size(name, variant):
    _light(name, variant)
    spec = registry.spec(name)
    model = _build(name, variant)
    size = _smallest_legal(spec)
    t = _frames_in(spec, model)
    x = _clip(t, size, size)
    scale = float(model.scale)
    with torch.no_grad():
        out = model(x)
        if spec.aux_outputs:
            out_aux, aux = model(x, return_aux=True)
            assert set(aux) == set(spec.aux_outputs)
            assert torch.allclose(out_aux, out, atol=1e-5), "return_aux does not change the output"
    t_out = 1 if spec.temporal == "window" else t
    s = round(size * scale)
    assert tuple(out.shape) == (1, t_out, 3, s, s)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("name, variant", VARIANTS)
def test_odd_sizes_go_through_the_engine_padding(name, variant, precision):
    """An illegal size (below ``min_size``, not a multiple of ``size_multiple``) is padded by the engine and the
    output cropped back to ``scale × size``, finite in fp32 and under bf16 autocast."""
    _light(name, variant, budget=0)
    spec = registry.spec(name)
    model = _build(name, variant)
    if precision == "bf16" and not _BF16_FAST and sum(p.numel() for p in model.parameters()) > 300_000:
        pytest.skip(f"bf16 autocast is emulated on this CPU (no native bf16): {name}/{variant} takes minutes on 2 "
                    "cores; checked here in fp32, and in bf16 on a bf16 CPU/GPU or with VSRKIT_SLOW_TESTS=1")
    h = max(spec.min_size - 1, 1)
    w = max(spec.min_size, spec.size_multiple) + 1
    lq = _clip(2, h, w, seed=1)[0]  # (T, 3, h, w)
    runner = Upscaler(model, spec, InferenceOptions(device="cpu", precision=precision, chunk=2))
    out = runner.upscale_clip(lq)
    assert tuple(out.shape) == (2, 3, runner.out_size(h), runner.out_size(w))
    assert runner.out_size(h) == round(h * float(model.scale))
    assert torch.isfinite(out).all()


# ----------------------------------------------------------------------------------------------------------------
# Converters
# ----------------------------------------------------------------------------------------------------------------
def _official_layout(state: dict[str, torch.Tensor], table: dict[str, str] | None) -> dict[str, torch.Tensor]:
    """Invert a ``{official prefix: vsrkit prefix}`` table: the vsrkit state dict in official key names."""
    if table is None:
        return dict(state)
    out = {}
    for key, value in state.items():
        matches = [(theirs, ours) for theirs, ours in table.items() if key.startswith(ours)]
        assert matches, f"{key} is covered by no entry of the key table"
        theirs, ours = max(matches, key=lambda m: len(m[1]))
        out[theirs + key[len(ours):]] = value
    return out


def _converter_variants() -> list[tuple[str, str]]:
    """One light variant per network with a converter (the one whose forward is cheapest)."""
    rows = []
    for name in registry.networks():
        declared = registry.network(name)
        if declared.converter is None:
            continue
        variants = list(declared.variants)
        if isinstance(declared, registry.ModelSpec):
            variants.sort(key=lambda v: _cost(name, v))
        rows.append((name, variants[0]))
    return rows


@pytest.mark.parametrize("name, variant", _converter_variants())
def test_converter_key_table_round_trips_strictly(name, variant):
    declared = registry.network(name)
    torch.manual_seed(0)
    model = declared.build(variant)
    own = model.state_dict()
    official = _official_layout(own, declared.converter.key_table)
    report: dict = {}
    converted = declared.converter.convert(official, report=report)
    assert sorted(converted) == sorted(own)
    assert all(torch.equal(converted[k], own[k]) for k in own)
    fresh = declared.build(variant)
    fresh.load_state_dict(converted, strict=True)
