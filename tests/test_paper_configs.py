"""Paper-scale configs (issue 18 item 5): each builds its paper-size model (parameter count as the paper/official
code), names a known recipe, and its degradation protocols resolve. Nothing is trained (the data is not here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vsrkit.engine.config import build_protocol, get
from vsrkit.engine.recipes import load_config
from vsrkit.engine.recipes import get_recipe
from vsrkit.models import build

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

#: config file -> (model, parameters of its paper variant, as `vsrkit models` and the README list them)
PAPER_CONFIGS = {
    "basicvsr_reds_bi.yaml": ("basicvsr", 6_291_311),
    "bvsrik_reds_realistic.yaml": ("bvsr_ik", 9_304_445),
    "fmanet_reds_blur.yaml": ("fmanet", 9_766_503),
    "dynavsr_reds_edvr_x2.yaml": ("edvr", 3_152_419),
    "srinr_div2k_x32.yaml": ("srinr", 402_684_521),
    "iart_reds_bi.yaml": ("iart", 13_410_503),
    "iacnn_reds_bi.yaml": ("iacnn", 8_521_263),
}


@pytest.mark.parametrize("name", sorted(PAPER_CONFIGS))
def test_paper_config_builds_the_paper_model(name):
    cfg = load_config(CONFIGS / name)
    model_name, params = PAPER_CONFIGS[name]
    m = cfg["model"]
    assert m["name"] == model_name
    with torch.device("meta"):
        model = build(m["name"], m.get("variant"), **(m.get("overrides") or {}))
    assert sum(p.numel() for p in model.parameters()) == params
    get_recipe(get(cfg, "train.recipe", "default"))
    for split in ("train", "val"):
        build_protocol(cfg["datasets"][split], int(cfg["scale"]))
    if m.get("init_flow"):
        assert hasattr(model, "spynet")
