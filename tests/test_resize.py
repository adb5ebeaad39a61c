"""MATLAB-compatible bicubic imresize (vsrkit.ops.resize) against an independent scalar reference."""

import math

import numpy as np
import pytest
import torch
from skimage import data

from vsrkit.errors import VsrkitError
from vsrkit.ops.resize import imresize


def _keys(t: float) -> float:
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


def _mirror(j: int, n: int) -> int:
    """1-based symmetric reflection ..., 2, 1, 1, 2, ..., n, n, n-1, ... by repeated folding (not a modulo)."""
    while j < 1 or j > n:
        j = 1 - j if j < 1 else 2 * n + 1 - j
    return j


def _ref_resize_1d(v: np.ndarray, out_len: int, scale: float) -> np.ndarray:
    """Resize axis 0 of ``v`` with MATLAB's formula, one output sample and one tap at a time (float64)."""
    n = v.shape[0]
    aa = scale < 1
    width = 4 / scale if aa else 4.0
    out = np.zeros((out_len,) + v.shape[1:])
    for x in range(1, out_len + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [(j, scale * _keys(scale * (u - j)) if aa else _keys(u - j)) for j in range(left, left + math.ceil(width) + 2)]
        total = sum(w for _, w in taps)
        for j, w in taps:
            out[x - 1] += (w / total) * v[_mirror(j, n) - 1]
    return out


def _ref_imresize(img: np.ndarray, out_hw: tuple[int, int], scales: tuple[float, float]) -> np.ndarray:
    y = _ref_resize_1d(img, out_hw[0], scales[0])  # H first
    return _ref_resize_1d(y.T, out_hw[1], scales[1]).T  # then W


@pytest.mark.parametrize(
    "shape, scale",
    [((23, 31), 0.25), ((37, 29), 0.25), ((30, 19), 1 / 3), ((21, 17), 0.5), ((9, 13), 4.0), ((7, 11), 2.0), ((12, 12), 1.5)],
)
def test_matches_scalar_reference(shape, scale):
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, size=shape)
    out = imresize(torch.from_numpy(img), scale).numpy()
    expected_hw = (math.ceil(round(shape[0] * scale, 9)), math.ceil(round(shape[1] * scale, 9)))
    assert out.shape == expected_hw
    ref = _ref_imresize(img, expected_hw, (scale, scale))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-9)


def test_size_argument_uses_per_axis_scales():
    img = np.random.default_rng(1).uniform(0, 1, size=(20, 30))
    out = imresize(torch.from_numpy(img), size=(7, 12)).numpy()
    ref = _ref_imresize(img, (7, 12), (7 / 20, 12 / 30))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)


def test_real_photo_downscale_shapes_and_batch():
    img = torch.from_numpy(data.chelsea()).permute(2, 0, 1).double()  # (3, 300, 451)
    out = imresize(img[None], 0.25)  # (1, 3, 75, 113): ceil(451/4) = 113
    assert out.shape == (1, 3, 75, 113)
    ref = _ref_imresize(img[1].numpy(), (75, 113), (0.25, 0.25))
    assert np.abs(out[0, 1].numpy() - ref).max() < 1e-9


def test_ramp_lands_on_block_centres():
    """A linear ramp is reproduced exactly by the normalised cubic: LR k must read HR 4k + 1.5 (×1/4) and
    HR (k + 0.5)/4 − 0.5 (×4) away from the mirrored borders."""
    ramp = torch.arange(64, dtype=torch.float64)[None, :].repeat(8, 1)
    down = imresize(ramp, 0.25)[0]
    k = torch.arange(16, dtype=torch.float64)
    assert torch.allclose(down[2:-2], 4 * k[2:-2] + 1.5, atol=1e-12)
    up = imresize(ramp[:, :16], 4.0)[0]
    k = torch.arange(64, dtype=torch.float64)
    assert torch.allclose(up[8:-8], (k[8:-8] + 0.5) / 4 - 0.5, atol=1e-12)


@pytest.mark.parametrize("scale", [4.0, 0.25, 1 / 3])
def test_constant_stays_constant(scale):
    x = torch.full((2, 3, 17, 22), 0.37, dtype=torch.float32)
    y = imresize(x, scale)
    assert torch.allclose(y, torch.full_like(y, 0.37), atol=1e-6)


def test_identity_at_scale_one():
    x = torch.rand(3, 10, 12, dtype=torch.float64)
    assert torch.equal(imresize(x, 1.0), x)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.bfloat16, 2.0), (torch.float16, 0.5)])
def test_dtypes_follow_input(dtype, tol):
    x = torch.from_numpy(data.astronaut()[:64, :64, 0].astype(np.float64))
    ref = imresize(x, 0.25)
    out = imresize(x.to(dtype), 0.25)
    assert out.dtype == dtype
    assert (out.double() - ref).abs().max() < tol


def test_gradient_flows():
    x = torch.rand(1, 1, 6, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: imresize(t, 0.5), (x,))
    assert torch.autograd.gradcheck(lambda t: imresize(t, 2.0), (x,))
    y = torch.rand(1, 3, 16, 16, requires_grad=True)
    imresize(y, 4.0).sum().backward()
    # every input pixel feeds 4×4 outputs with weights summing to 1 per axis: d(sum)/dx totals 16 per pixel
    assert abs(y.grad.sum().item() - 3 * 16 * 16 * 16) < 1e-1


def test_bad_arguments_raise_vsrkit_error():
    with pytest.raises(VsrkitError):
        imresize(torch.zeros(4, 4, dtype=torch.uint8), 0.5)
    with pytest.raises(VsrkitError):
        imresize(torch.zeros(4, 4), 0.5, size=(2, 2))
    with pytest.raises(VsrkitError):
        imresize(torch.zeros(4, 4))
    with pytest.raises(VsrkitError):
        imresize(torch.zeros(4, 4), -1.0)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_cubic_sample_equals_imresize_on_pixel_centres(scale):
    from vsrkit.models.srinr import make_coords
    from vsrkit.ops.resize import cubic_sample

    img = torch.rand(2, 3, 11, 17, dtype=torch.float64)
    ref = imresize(img, scale)
    h, w = ref.shape[-2:]
    xy = make_coords(h, w, dtype=torch.float64)[None].expand(2, -1, -1)
    out = cubic_sample(img, xy).transpose(1, 2).reshape(2, 3, h, w)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)
    # off-grid points: a constant image stays constant (weights normalised, mirrored taps in range)
    pts = torch.rand(1, 500, 2, dtype=torch.float64) * 1.2 - 0.1
    torch.testing.assert_close(cubic_sample(torch.full((1, 2, 5, 4), 0.3, dtype=torch.float64), pts),
                               torch.full((1, 500, 2), 0.3, dtype=torch.float64))


def test_lanczos_baseline_matches_opencv_per_frame() -> None:
    """The Lanczos baseline is cv2.INTER_LANCZOS4 on each float frame, in (B, T, C, H, W) order (a channel or frame
    mix-up would break the equality)."""
    import cv2
    import numpy as np
    import skimage.data
    import torch

    from vsrkit.models.bicubic import Lanczos

    photo = skimage.data.astronaut()[:48, :40].astype(np.float32) / 255
    frames = np.stack([photo, photo[::-1].copy()])  # two different frames
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)[None]  # (1, 2, 3, 48, 40)
    y = Lanczos(scale=3)(x)
    assert y.shape == (1, 2, 3, 144, 120)
    for t in range(2):
        ref = cv2.resize(frames[t], (120, 144), interpolation=cv2.INTER_LANCZOS4)
        assert np.allclose(y[0, t].permute(1, 2, 0).numpy(), ref)
