"""SR-INR and the multi-resolution hash encoding: hashing, dense path, 64-neighbour weighting, attention,
gradients, exact arbitrary-scale output sizes, the float-scale engine/CLI path and the PEA loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vsrkit.models.srinr import SRINR, VARIANTS, output_length, pea_loss
from vsrkit.ops.hash_encoding import PRIMES, HashGrid, corner_bits, level_resolutions, spatial_hash

TINY = dict(VARIANTS["tiny"])


def _tiny(**kw) -> SRINR:
    torch.manual_seed(0)
    return SRINR(**{**TINY, **kw})


def test_level_resolutions_paper_progression():
    res = level_resolutions(12, 4, 128)
    assert res[0] == 4 and res[-1] == 128 and res == sorted(res) and len(res) == 12


def test_hash_matches_instant_ngp_uint32_definition():
    rng = np.random.default_rng(0)
    coords = rng.integers(0, 5000, size=(500, 7), dtype=np.int64)
    for log2t in (10, 19, 24):
        ref = np.zeros(500, dtype=np.uint32)
        with np.errstate(over="ignore"):
            for d in range(7):
                ref ^= coords[:, d].astype(np.uint32) * np.uint32(PRIMES[d])  # uint32 wrap-around, as in tcnn
        ref = ref % np.uint32(2**log2t)
        got = spatial_hash(torch.from_numpy(coords), log2t).numpy()
        np.testing.assert_array_equal(got, ref.astype(np.int64))
    assert PRIMES[:3] == (1, 2654435761, 805459861)


def test_fast_corner_rows_equal_reference_hash_and_dense_index():
    grid = HashGrid(in_dim=6, n_levels=3, n_features=2, log2_table_size=12, base_resolution=2, finest_resolution=16)
    assert grid.dense == [True, False, False]
    u = torch.rand(200, 6)
    bits = corner_bits(6)
    for level, n in enumerate(grid.resolutions):
        rows, offsets = grid.locate(u, level)
        lower = (u * n).floor().clamp(max=n - 1).long()
        verts = lower[:, None, :] + bits
        if grid.dense[level]:
            ref = (verts * torch.tensor([(n + 1) ** d for d in range(6)])).sum(-1)
        else:
            ref = spatial_hash(verts, 12)
        assert torch.equal(rows, ref)
        assert torch.allclose(offsets, u * n - lower)


@pytest.mark.parametrize("dim", [2, 3])
def test_dense_level_equals_multilinear_interpolation(dim):
    n, feats = 7, 3
    grid = HashGrid(in_dim=dim, n_levels=1, n_features=feats, log2_table_size=12, base_resolution=n,
                    finest_resolution=n, compact_tables=True)
    assert grid.dense == [True] and grid.tables[0].shape == ((n + 1) ** dim, feats)
    with torch.no_grad():
        grid.tables[0].normal_()
    u = torch.rand(300, dim, dtype=torch.float32)
    u[0] = 1.0  # the far corner stays inside the last cell
    got = grid(u)
    # Row index = z0 + (n+1)·z1 (+ (n+1)²·z2): reshape to (z_{D-1}, …, z0) and let grid_sample interpolate.
    vol = grid.tables[0].detach().reshape(*([n + 1] * dim), feats).movedim(-1, 0)[None]
    g = (u * 2 - 1).reshape(1, *([1] * (dim - 1)), -1, dim)
    ref = F.grid_sample(vol, g, mode="bilinear", align_corners=True).reshape(feats, -1).T
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_paper_parameter_count_matches_table_sizes():
    with torch.device("meta"):
        m = SRINR(**VARIANTS["paper"])
    hash_params = sum(t.numel() for t in m.grid.tables)
    assert hash_params == 12 * 2 * 2**24 == 402_653_184
    assert sum(p.numel() for p in m.parameters()) == 402_684_521  # ≈ 4.03e8, paper Tables 5-7 print 4.039e8


def test_64_neighbour_weights_and_attention_shapes():
    m = _tiny()
    lr = torch.rand(2, 3, 10, 12)
    xy = torch.rand(2, 50, 2)
    rgb, aux = m.query(lr, xy, return_aux=True)
    L, Fd = m.n_levels, m.n_features
    assert rgb.shape == (2, 50, 3)
    assert aux["weights"].shape == (2, 50, L, 64)
    torch.testing.assert_close(aux["weights"].sum(-1), torch.ones(2, 50, L))
    assert aux["points"].shape == (2, 50, L, 6)
    assert aux["points"].min() >= 0 and aux["points"].max() <= 1
    assert aux["codes"].shape == (2, 50, L, 3) and aux["codes"].abs().max() <= 1
    assert aux["levels"].shape == (2, 50, L, Fd)
    # Top-down attention: level r+1 = sigmoid(f_att(attended level r)) ⊙ F_p^{r+1}; level 1 unchanged.
    u = aux["points"].reshape(-1, L, 6)
    raw = [m.level_feature(u[:, r], r) for r in range(L)]
    att = aux["levels"].reshape(-1, L, Fd)
    torch.testing.assert_close(att[:, 0], raw[0])
    for r in range(1, L):
        torch.testing.assert_close(att[:, r], torch.sigmoid(m.att(att[:, r - 1])) * raw[r])
    # The multilinear option gives Instant-NGP weights (also summing to one).
    ml = _tiny(weights="multilinear")
    _, aux = ml.query(lr, xy, return_aux=True)
    torch.testing.assert_close(aux["weights"].sum(-1), torch.ones(2, 50, L))


def test_gradients_reach_every_parameter_group():
    m = _tiny(residual=True)
    x = torch.rand(1, 2, 3, 12, 12)
    coords = torch.rand(1, 2, 300, 2)
    out = m(x, coords=coords)
    out.square().mean().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("scale", [2.0, 3.5, 8.0])
def test_exact_output_sizes(scale):
    m = _tiny(scale=scale)
    h, w = 13, 17
    with torch.no_grad():
        y = m(torch.rand(1, 2, 3, h, w))
    expect = (int(np.floor(h * scale + 0.5)), int(np.floor(w * scale + 0.5)))
    assert y.shape == (1, 2, 3, *expect) and (output_length(h, scale), output_length(w, scale)) == expect
    with torch.no_grad():
        assert m(torch.rand(1, 1, 3, h, w), size=(31, 29)).shape == (1, 1, 3, 31, 29)


def test_chunked_rendering_equals_one_chunk():
    m = _tiny(chunk_size=37)
    x = torch.rand(1, 1, 3, 9, 11)
    with torch.no_grad():
        a = m(x)
        m.chunk_size = 10**6
        b = m(x)
    torch.testing.assert_close(a, b)


def test_video_mode_time_coordinate():
    m = _tiny(mode="video")
    assert torch.equal(m.frame_times(5, torch.device("cpu"), torch.float32), torch.tensor([0, 0.25, 0.5, 0.75, 1.0]))
    assert torch.equal(_tiny().frame_times(3, torch.device("cpu"), torch.float32), torch.zeros(3))


def test_pea_literal_gradient_is_reweighted_mse():
    torch.manual_seed(0)
    pred = torch.rand(400, 3, requires_grad=True)
    target = pred.detach() + 0.02 * torch.randn(400, 3)
    tau, alpha = 4e-4, 0.5
    pea_loss(pred, target, tau=tau, eps=4e-4, delta=0.3, alpha=alpha).backward()
    g_pea = pred.grad.clone()
    pred.grad = None
    e = (pred - target).pow(2).mean(-1)
    weight = torch.where(e.detach() > tau, 1 + alpha, alpha)
    (e * weight).mean().backward()
    torch.testing.assert_close(g_pea, pred.grad)  # δ and the boost mask have no gradient effect
    pred.grad = None
    pea_loss(pred, target, eps=4e-4, delta=1.0, variant="amplify").backward()
    assert not torch.allclose(pred.grad, g_pea)


def test_fit_on_real_frames_reduces_loss(real_frames):
    from vsrkit.engine.recipes.srinr import fit_clip

    hr = torch.from_numpy(np.stack(real_frames[:2])).permute(0, 3, 1, 2).float() / 255
    from vsrkit.data.images import bicubic_lr

    lq = bicubic_lr(hr, 4)
    m = _tiny(mode="video")
    hist = fit_clip(m, lq, hr=hr, iters=40, queries=1024, lr=1e-2, loss="mse")
    assert np.mean(hist[-5:]) < 0.5 * np.mean(hist[:5])


def test_float_scale_engine_and_cli(tmp_path, real_frames):
    import cv2

    from vsrkit.cli import main
    from vsrkit.engine.infer import InferenceOptions, Upscaler
    from vsrkit.engine.upscale import resolve_model
    from vsrkit.errors import VsrkitError

    model, spec = resolve_model("srinr", variant="small", scale=3.5, untrained=True)
    assert spec.arbitrary_scale and model.scale == 3.5
    frames = [f[:20, :26] for f in real_frames[:2]]
    out = list(Upscaler(model, spec, InferenceOptions(chunk=2)).stream(iter(frames)))
    assert len(out) == 2 and out[0].shape == (70, 91, 3) and out[0].dtype == np.uint8  # round(26·3.5) = 91
    with pytest.raises(VsrkitError, match="not tileable"):
        Upscaler(model, spec, InferenceOptions(tile=16))
    with pytest.raises(VsrkitError, match="integer"):
        resolve_model("bicubic", scale=3.5)
    assert resolve_model("bicubic", scale=4.0)[0].scale == 4
    with pytest.raises(VsrkitError, match="not ×2"):
        resolve_model("basicvsr", variant="small", scale=2.0, untrained=True)

    # CLI: a single image in, one PNG of exactly round(scale·size) out; a mixed-size folder → one PNG per image.
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.ascontiguousarray(frames[0][..., ::-1]))
    dst = tmp_path / "out.png"
    assert main(["upscale", str(src), "-o", str(dst), "-m", "srinr", "--scale", "3.5",  # the shipped weights
                 "--device", "cpu", "--quiet"]) == 0
    assert cv2.imread(str(dst)).shape == (70, 91, 3)
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.ascontiguousarray(frames[0][..., ::-1]))
    cv2.imwrite(str(folder / "b.jpg"), np.ascontiguousarray(frames[1][:16, :12, ::-1]))
    assert main(["upscale", str(folder), "-o", str(tmp_path / "up"), "-m", "bicubic", "--scale", "2", "--quiet",
                 "--device", "cpu"]) == 0
    assert cv2.imread(str(tmp_path / "up" / "a.png")).shape == (40, 52, 3)
    assert cv2.imread(str(tmp_path / "up" / "b.png")).shape == (32, 24, 3)
    assert main(["upscale", str(src), "-o", str(tmp_path / "x.png"), "--scale", "2.5", "--quiet"]) == 2


def test_image_eval_dataset_exact_sizes():
    from vsrkit.data.images import ImageEvalDataset

    item = ImageEvalDataset(["skimage:chelsea"], scale=3.5, crop_multiple=56)[0]
    assert tuple(item["gt"].shape) == (1, 3, 280, 448) and tuple(item["lq"].shape) == (1, 3, 80, 128)


def test_residual_model_starts_at_matlab_bicubic():
    # The residual reading adds MATLAB-bicubic colour and starts with a near-zero decoder: an untrained model is the
    # bicubic baseline to a small tolerance, so training can only start from there (at any scale).
    from vsrkit.ops.resize import imresize

    m = _tiny(residual=True, scale=4.0).eval()
    lr = torch.rand(1, 1, 3, 10, 12)
    with torch.no_grad():
        out = m(lr)
    ref = imresize(lr[0, 0], 4)
    assert out.shape[-2:] == ref.shape[-2:]
    assert (out[0, 0] - ref).abs().max() < 0.05
    assert (out[0, 0] - ref).abs().mean() < 0.01


def test_registry_variants_are_the_module_table():
    """The registry reads the variants SR-INR declares (no second table to keep equal)."""
    from vsrkit.models import spec

    assert spec("srinr").variants is VARIANTS
    assert all(kw == {**VARIANTS[v], "mode": "video"} for v, kw in spec("srinr_video").variants.items())


def test_eval_model_takes_real_scales_on_image_sets(capsys):
    import json

    from vsrkit.cli import main

    assert main(["eval-model", "srinr", "--layout", "images", "--dataset", "skimage:coins", "--scale", "3.5",
                 "--crop-border", "4", "--json"]) == 0
    mean = json.loads(capsys.readouterr().out)["mean"]
    assert mean["frames"] == 1 and 20 < mean["psnr_rgb"] < 40
    assert main(["eval-model", "basicvsr", "--dataset", "sample:carphone", "--scale", "2.5"]) == 2
    assert "not an integer" in capsys.readouterr().err
