"""NIQE (Mittal et al. 2013) in :mod:`vsrkit.metrics.niqe`: the distribution fits, the score on held-out photos, and
``vsrkit eval --niqe``.

No published NIQE values exist for scikit-image photos under the MATLAB release's pristine model, and that model is
not shipped (see the module docstring); the fits are checked against distributions with known parameters, the score
against what NIQE is defined to measure (blur and noise make a photo less natural), and the shipped model's values
on photos it was not fitted on are pinned.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from scipy.stats import gennorm

from vsrkit.cli import main
from vsrkit.metrics.niqe import fit_aggd, fit_ggd, niqe, pristine_model

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra) supplies the photos")


@pytest.mark.parametrize("shape", [0.8, 1.5, 2.0, 3.0])
def test_ggd_fit_recovers_the_shape_and_variance(shape):
    x = gennorm.rvs(shape, scale=0.7, size=400_000, random_state=np.random.default_rng(1))
    a, var = fit_ggd(x)
    assert a == pytest.approx(shape, rel=0.03)
    assert var == pytest.approx(gennorm.var(shape, scale=0.7), rel=0.02)


def test_aggd_fit_recovers_shape_sides_and_the_sign_of_the_mean():
    rng = np.random.default_rng(2)
    base = np.abs(gennorm.rvs(1.2, size=400_000, random_state=rng))
    # An AGGD with left scale 0.5 and right scale 1.5 puts mass 0.5 / (0.5 + 1.5) on the left.
    sign = rng.random(base.size) < 0.25
    x = np.where(sign, -0.5 * base, 1.5 * base)
    a, mean, left_var, right_var = fit_aggd(x)
    assert a == pytest.approx(1.2, rel=0.05)
    assert np.sqrt(right_var / left_var) == pytest.approx(3.0, rel=0.02)
    assert mean > 0


def _photo(name: str) -> np.ndarray:
    return skimage_data.stereo_motorcycle()[1] if name == "motorcycle_right" else getattr(skimage_data, name)()


@pytest.mark.parametrize("name, expected", [("chelsea", 4.326), ("motorcycle_right", 2.943), ("gravel", 7.607)])
def test_niqe_on_held_out_photos_and_what_it_measures(name, expected):
    img = _photo(name)
    score = niqe(img)
    assert score == pytest.approx(expected, abs=2e-3)  # the shipped model's value (photo not in its fit)
    assert niqe(cv2.GaussianBlur(img, (0, 0), 2)) > score + 5  # blur is unnatural
    if name != "gravel":  # a texture of stones hides added noise; photographs do not
        noisy = np.clip(img + np.random.default_rng(0).normal(0, 15, img.shape), 0, 255).astype(np.uint8)
        assert niqe(noisy) > score + 2


def test_the_pristine_model_records_its_provenance():
    mean, cov, provenance = pristine_model()
    assert mean.shape == (36,) and cov.shape == (36, 36) and np.allclose(cov, cov.T)
    assert "skimage.data.chelsea" not in provenance["photos"] and "MATLAB" in provenance["note"]


def test_eval_prints_niqe_beside_psnr_ssim(tmp_path, capsys, bikes_path):
    import av

    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir(), pred.mkdir()
    with av.open(str(bikes_path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            bgr = frame.to_ndarray(format="bgr24")
            cv2.imwrite(str(gt / f"{i:04d}.png"), bgr)
            cv2.imwrite(str(pred / f"{i:04d}.png"), cv2.GaussianBlur(bgr, (0, 0), 1.5))
            if i == 1:
                break
    assert main(["eval", "--pred", str(pred), "--gt", str(gt), "--niqe"]) == 0
    table = capsys.readouterr().out
    assert "NIQE" in table.splitlines()[2]
    assert main(["eval", "--pred", str(pred), "--gt", str(pred), "--niqe", "--json"]) == 0
    sharp = json.loads(capsys.readouterr().out)["mean"]["niqe"]
    assert main(["eval", "--pred", str(pred), "--gt", str(gt), "--niqe", "--json"]) == 0
    blurred = json.loads(capsys.readouterr().out)["mean"]
    assert blurred["niqe"] == pytest.approx(sharp) and blurred["psnr_rgb"] < 40
    assert main(["eval", "--pred", str(gt), "--gt", str(gt), "--niqe", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean"]["niqe"] < blurred["niqe"]
