"""The typed training config (vsrkit/engine/schema.py): unknown keys and wrong types fail with one line, every shipped
config validates, defaults apply, and configs/README.md is generated from the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vsrkit.engine.recipes import RECIPE_MODULES, config_docs, get_recipe, load_config, load_train_config
from vsrkit.engine.recipes import check_config as validate
from vsrkit.engine.schema import DOCS_PATH
from vsrkit.errors import VsrkitError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml")) + sorted((ROOT / "configs" / "ship").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(ROOT / "configs").as_posix())
def test_every_shipped_config_validates(path):
    raw, config = load_train_config(path)
    assert isinstance(raw, dict) and "model" in raw  # the mapping as read (what config.json records)
    assert config.model.name and config.train.total_iter and config.datasets.train is not None
    assert get_recipe(config.train.recipe) is not None


def _error(cfg) -> str:
    with pytest.raises(VsrkitError) as info:
        validate(cfg)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


BASE = {"model": {"name": "basicvsr"}, "train": {"total_iter": 2},
        "datasets": {"train": {"type": "samples", "split": "train"}}}


def _with(**sections):
    return {**BASE, **sections}


@pytest.mark.parametrize("cfg, key, hint", [
    (_with(manul_seed=1), "manul_seed", "manual_seed"),
    (_with(train={"total_iter": 2, "ema_dcay": 0.999}), "train.ema_dcay", "train.ema_decay"),
    (_with(logger={"print_frq": 5}), "logger.print_frq", "logger.print_freq"),
    (_with(datasets={"train": {"type": "samples", "split": "train", "gt_sise": 64}}), "datasets.train.gt_sise",
     "datasets.train.gt_size"),
    (_with(datasets={"train": {"type": "images", "images": ["skimage:astronaut"], "num_frame": 3}}),
     "datasets.train.num_frame", None),  # a key of another dataset type
    (_with(train={"total_iter": 2, "recipe": "srinr", "srinr": {"querys": 64}}), "train.srinr.querys",
     "train.srinr.queries"),
    (_with(train={"total_iter": 2, "recipe": "fmanet", "fmanet": {"stage1_iter": 1}}), "train.fmanet.stage1_iter",
     "train.fmanet.stage1_iters"),
    (_with(train={"total_iter": 2, "recipe": "bvsr_ik", "corection_weight": 0.1}), "train.corection_weight",
     "train.correction_weight"),
    (_with(dynavsr={"stage": "meta", "inner_step": 2}, train={"total_iter": 2, "recipe": "dynavsr"}),
     "dynavsr.inner_step", "dynavsr.inner_steps"),
    # a recipe's options are refused under another recipe
    (_with(train={"total_iter": 2, "srinr": {"queries": 64}}), "train.srinr", None),
])
def test_unknown_key_is_refused_with_the_nearest_valid_key(cfg, key, hint):
    msg = _error(cfg)
    assert f"unknown config key '{key}'" in msg
    if hint:
        assert f"did you mean '{hint}'?" in msg


@pytest.mark.parametrize("cfg, key", [
    (_with(scale="four"), "scale"),
    (_with(train={"total_iter": 2, "ema_decay": "0.999x"}), "train.ema_decay"),
    (_with(train={"total_iter": True}), "train.total_iter"),
    (_with(datasets={"train": {"type": "samples", "clips": "bikes"}}), "datasets.train.clips"),
    (_with(train={"total_iter": 2, "recipe": "srinr", "srinr": {"queries": 1.5}}), "train.srinr.queries"),
    (_with(model="basicvsr"), "model"),
])
def test_wrong_type_is_refused_in_one_line(cfg, key):
    assert f"config key '{key}' must be" in _error(cfg)


def test_unknown_recipe_and_dataset_type_are_refused():
    assert "did you mean 'srinr'?" in _error(_with(train={"total_iter": 2, "recipe": "sriinr"}))
    assert "did you mean 'samples'?" in _error(_with(datasets={"train": {"type": "sample"}}))


def test_overrides_go_through_the_same_checks(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    with pytest.raises(VsrkitError, match=r"unknown config key 'train.ema_dcay' \(did you mean 'train.ema_decay'\?\)"):
        load_config(path, ["train.ema_dcay=0.999"])
    with pytest.raises(VsrkitError, match="config key 'train.precision' must be str"):
        load_config(path, ["train.precision=[1]"])
    _, config = load_train_config(path, ["train.ema_decay=0.999", "datasets.train.gt_size=64"])
    assert config.train.ema_decay == 0.999 and config.datasets.train.gt_size == 64


def test_defaults_are_applied():
    config = validate(_with(train={"total_iter": 2, "recipe": "fmanet"}))
    assert (config.scale, config.manual_seed, config.device) == (4, 0, "auto")
    assert config.train.precision == "fp32" and config.train.ema_decay == 0.0 and config.train.warmup_iter == 0
    assert config.val.best_metric == "psnr" and config.logger.keep_states == 2
    assert config.datasets.train.num_frame == 7 and config.datasets.train.use_hflip is True
    assert config.datasets.val is None
    assert config.recipe_options.milestones == [0.7, 0.85, 0.95] and config.recipe_options.stage1_iters is None
    # list defaults are not shared between instances
    config.recipe_options.milestones.append(1.0)
    assert validate(_with(train={"total_iter": 2, "recipe": "fmanet"})).recipe_options.milestones == [0.7, 0.85, 0.95]


def test_fmanet_schedule_is_a_recipe_hook_not_a_config_edit():
    from vsrkit.engine.recipes.fmanet import stage_scheduler

    cfg = _with(train={"total_iter": 300, "recipe": "fmanet", "fmanet": {"stage1_iters": 100}})
    before = yaml.safe_dump(cfg)
    recipe = get_recipe("fmanet")(cfg)
    assert recipe.scheduler(150) == stage_scheduler(150, 100, 300)
    assert yaml.safe_dump(cfg) == before and recipe.config.train.scheduler is None
    plain = get_recipe("default")(_with(train={"total_iter": 3, "scheduler": {"type": "ConstantLR"}}))
    assert plain.scheduler(2) == {"type": "ConstantLR"}


def test_recipe_names_come_from_the_recipe_modules():
    assert set(RECIPE_MODULES) == {"default", "bvsr_ik", "dynavsr", "flow", "fmanet", "srinr"}
    for name in RECIPE_MODULES:
        assert get_recipe(name).__name__.endswith("Recipe")


def test_configs_readme_is_generated_from_the_schema():
    assert DOCS_PATH.read_text() == config_docs(), (
        "configs/README.md is stale: run `python -m vsrkit.engine.train --write-config-docs`")
    text = DOCS_PATH.read_text()
    for key in ("`train.ema_decay`", "`manual_seed`", "`train.srinr.queries`", "`dynavsr.inner_steps`",
                "### type: motion", "`photo_split`"):
        assert key in text


def test_data_does_not_import_engine():
    """data is a library below engine (the former data/images.py <-> engine/config.py circle)."""
    import ast

    for path in (ROOT / "vsrkit" / "data").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("vsrkit.engine"), (path.name, node.module)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("vsrkit.engine") for a in node.names), path.name
