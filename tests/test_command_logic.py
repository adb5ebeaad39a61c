"""The library functions behind the CLI commands (the CLI only parses and prints): model choice for ``upscale`` and
the dataset section of ``eval-model``."""

from __future__ import annotations

import pytest

from vsrkit.models import catalogue
from vsrkit.engine.evaluate import dataset_paths, eval_build_scale, eval_section
from vsrkit.engine.model_choice import choose_model
from vsrkit.errors import VsrkitError


def test_choose_model():
    assert choose_model(None, None) == (catalogue.DEFAULT_SHARP, None)
    assert choose_model(None, None, blurry=True) == (catalogue.DEFAULT_BLURRY, None)
    assert choose_model("srinr", None, scale=3.5) == ("srinr", None)
    assert choose_model(None, "w.safetensors") == (None, "w.safetensors")
    for kwargs, message in [({"blurry": True, "real": True}, "keep one"), ({"scale": 2}, "upscales x4, not x2")]:
        with pytest.raises(VsrkitError, match=message):
            choose_model(None, None, **kwargs)
    with pytest.raises(VsrkitError, match="drop --model/--weights or drop --blurry"):
        choose_model("basicvsr", None, blurry=True)


def test_eval_section_from_arguments(tmp_path):
    name, section = eval_section("bicubic", dataset="sample:carphone", max_frames=3)
    assert name == "bicubic" and section == {"type": "samples", "protocol": "bi", "clips": ["carphone"],
                                              "max_frames": 3}
    _, section = eval_section("bicubic", dataset=str(tmp_path / "gt"), lr=str(tmp_path / "lr"))
    assert section["protocol"] is None and dataset_paths(section) == [str(tmp_path / "gt"), str(tmp_path / "lr")]
    _, section = eval_section("srinr", dataset="a.png,b.png", layout="images", scale=2.5)
    assert section == {"type": "images", "images": ["a.png", "b.png"], "eval_scale": 2.5}
    assert dataset_paths(section) == ["a.png", "b.png"]
    assert eval_build_scale("srinr", 2.5) == 2.5 and eval_build_scale("basicvsr", 4) is None
    assert eval_build_scale(None, 4) == 4 and eval_build_scale("bicubic", 3) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({}, "no dataset: pass --dataset"),
    ({"dataset": "sample:carphone", "scale": 2.5}, "is not an integer"),
])
def test_eval_section_errors(kwargs, message):
    with pytest.raises(VsrkitError, match=message):
        eval_section("bicubic", **kwargs)
