"""Shared ops: flow_warp, residual/upsampling blocks, losses, SpyNet (structure; numerics in test_basicvsr)."""

from __future__ import annotations

import math

import pytest
import torch

from vsrkit.errors import VsrkitError
from vsrkit.ops.blocks import ConvResidualBlocks, PixelShuffleUpsampler, ResidualBlockNoBN, make_layer
from vsrkit.ops.losses import CharbonnierLoss, L1Loss, charbonnier_loss, l1_loss
from vsrkit.ops.spynet import SPYNET_KEYS, SpyNet, convert_official_spynet_state_dict
from vsrkit.ops.warp import flow_warp, flow_warp_nchw


def _astronaut(h: int, w: int, top: int = 100, left: int = 180) -> torch.Tensor:
    """A real RGB crop ``(1, 3, h, w)`` in [0, 1] (skimage's astronaut, face region)."""
    data = pytest.importorskip("skimage.data")
    img = torch.from_numpy(data.astronaut()[top : top + h, left : left + w].copy())
    return img.permute(2, 0, 1).unsqueeze(0).double() / 255.0


# ---------------------------------------------------------------------------------------------------- flow_warp
def test_flow_warp_zero_flow_is_identity():
    x = _astronaut(21, 30)
    out = flow_warp(x, torch.zeros(1, 21, 30, 2, dtype=x.dtype))
    torch.testing.assert_close(out, x, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dx, dy", [(2, 0), (0, -3), (1, 2)])
def test_flow_warp_integer_shift_equals_roll_in_interior(dx, dy):
    x = _astronaut(24, 32)
    flow = torch.zeros(1, 24, 32, 2, dtype=x.dtype)
    flow[..., 0], flow[..., 1] = dx, dy
    out = flow_warp(x, flow)
    # Backward warp: out[y, x] = in[y + dy, x + dx], i.e. a roll by (-dy, -dx) away from the wrapped border.
    expected = torch.roll(x, shifts=(-dy, -dx), dims=(2, 3))
    m = 3
    torch.testing.assert_close(out[..., m:-m, m:-m], expected[..., m:-m, m:-m], atol=1e-12, rtol=0)
    # zeros padding outside the image
    if dx > 0:
        assert out[..., -dx:].abs().max() < 1e-12
    # border padding repeats the edge instead
    out_border = flow_warp(x, flow, padding_mode="border")
    if dx > 0:
        torch.testing.assert_close(out_border[..., m:-m, -1], x[..., m + dy : x.shape[2] - m + dy, -1])


def test_flow_warp_half_pixel_is_bilinear_and_nchw_layout():
    x = _astronaut(10, 12)
    flow = torch.zeros(1, 2, 10, 12, dtype=x.dtype)
    flow[:, 0] = 0.5
    out = flow_warp_nchw(x, flow)
    torch.testing.assert_close(out[..., :-1], 0.5 * (x[..., :-1] + x[..., 1:]), atol=1e-12, rtol=0)


def test_flow_warp_gradients_reach_input_and_flow():
    x = _astronaut(16, 16).float().requires_grad_()
    flow = (0.3 * torch.randn(1, 16, 16, 2)).requires_grad_()
    flow_warp(x, flow).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert flow.grad is not None and flow.grad.abs().sum() > 0


def test_flow_warp_rejects_wrong_layout():
    with pytest.raises(ValueError):
        flow_warp(torch.zeros(1, 3, 8, 8), torch.zeros(1, 2, 8, 8))


# ------------------------------------------------------------------------------------------------------- blocks
def test_residual_block_and_layer():
    block = ResidualBlockNoBN(num_feat=8, res_scale=0.0)
    x = torch.randn(2, 8, 5, 6)
    torch.testing.assert_close(block(x), x)  # res_scale 0 leaves only the identity path
    # BasicSR init: Kaiming-normal x 0.1 and zero bias
    assert torch.all(block.conv1.bias == 0) and block.conv1.weight.std() < 0.1
    assert len(make_layer(ResidualBlockNoBN, 3, num_feat=4)) == 3


def test_conv_residual_blocks_keys_and_shape():
    trunk = ConvResidualBlocks(in_channels=11, out_channels=8, num_blocks=2)
    assert trunk(torch.randn(1, 11, 7, 9)).shape == (1, 8, 7, 9)
    keys = set(trunk.state_dict())
    assert {"main.0.weight", "main.2.1.conv2.bias"} <= keys and len(keys) == 2 + 2 * 4


def test_pixel_shuffle_upsampler_shape():
    up = PixelShuffleUpsampler(in_channels=8, out_channels=(8, 64))
    assert up(torch.randn(2, 8, 5, 7)).shape == (2, 64, 20, 28)
    assert [tuple(c.weight.shape) for c in up.convs] == [(32, 8, 3, 3), (256, 8, 3, 3)]


# ------------------------------------------------------------------------------------------------------- losses
def test_charbonnier_known_values():
    pred, target = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 0.0])
    # sqrt(3^2 + 16) = 5, sqrt(0 + 16) = 4
    assert charbonnier_loss(pred, target, eps=16.0).item() == pytest.approx(4.5)
    assert charbonnier_loss(pred, target, eps=16.0, reduction="sum").item() == pytest.approx(9.0)
    # BasicSR default eps=1e-12 is added to the squared difference: a zero error costs sqrt(1e-12) = 1e-6
    assert charbonnier_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(1e-6)
    assert CharbonnierLoss(loss_weight=2.0, eps=16.0)(pred, target).item() == pytest.approx(9.0)
    assert l1_loss(pred, target).item() == pytest.approx(1.5)
    assert L1Loss(loss_weight=0.5, reduction="sum")(pred, target).item() == pytest.approx(1.5)
    with pytest.raises(ValueError):
        CharbonnierLoss(reduction="avg")


# ------------------------------------------------------------------------------------------------------- SpyNet
def test_spynet_param_count_and_keys():
    net = SpyNet()
    assert sum(p.numel() for p in net.parameters()) == 1_440_300
    assert set(net.state_dict()) == set(SPYNET_KEYS)
    torch.testing.assert_close(net.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))


def test_spynet_runs_on_shifted_real_image():
    torch.manual_seed(0)
    net = SpyNet().double().eval()
    frame = _astronaut(40, 70, left=150)
    shifted = _astronaut(40, 70, left=153)  # the same scene moved 3 px
    with torch.no_grad():
        flow = net(torch.cat([frame, frame]), torch.cat([shifted, frame]))
    assert flow.shape == (2, 2, 40, 70) and torch.isfinite(flow).all()


def test_spynet_refuses_small_frames_clearly():
    net = SpyNet()
    with pytest.raises(VsrkitError, match="at least 33"):
        net(torch.rand(1, 3, 32, 64), torch.rand(1, 3, 32, 64))


def test_spynet_converter_adds_imagenet_stats_for_release_file():
    # The released spynet_sintel_final file: {'params': convs only}; mean/std are added, everything else strict.
    convs = {k: v for k, v in SpyNet().state_dict().items() if k not in ("mean", "std")}
    report: dict = {}
    out = convert_official_spynet_state_dict({"params": convs}, report)
    assert report["added"] == ["mean", "std"] and not report["renamed"]
    SpyNet().load_state_dict(out, strict=True)
    with pytest.raises(VsrkitError):
        convert_official_spynet_state_dict({**convs, "extra.weight": torch.zeros(1)})
    assert math.isclose(out["std"].flatten()[2].item(), 0.225, rel_tol=1e-6)
