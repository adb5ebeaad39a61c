"""Streaming engine: chunk/window scheduling, tiling exactness, precision, and the contract with real frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vsrkit.engine.infer import InferenceOptions, Upscaler, _pad_index, frames_to_tensor, tensor_to_frames
from vsrkit.errors import VsrkitError
from vsrkit.models import build, spec
from vsrkit.models.registry import ModelSpec


class LocalConvSR(nn.Module):
    """A frame model with a known 2-pixel receptive radius: two 3×3 convs, then nearest ×2 upsampling."""

    scale = 2

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Tanh(), nn.Conv2d(8, 3, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        y = self.body(x.reshape(b * t, c, h, w)) + x.reshape(b * t, c, h, w)
        return F.interpolate(y, scale_factor=2, mode="nearest").reshape(b, t, c, 2 * h, 2 * w)


class TemporalBoxSR(nn.Module):
    """A 'recurrent' model whose frame t depends on frames t-2..t+2 (replicated at clip ends) — like propagation
    with a short memory, so chunking with ≥ 2 context frames must equal a whole-clip run exactly."""

    scale = 1

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.shape[1])
        t = x.shape[1]
        idx = torch.arange(t)
        weights = [1.0, 2.0, 4.0, 8.0, 16.0]
        out = sum(w * x[:, (idx + d).clamp(0, t - 1)] for w, d in zip(weights, range(-2, 3)))
        return out / sum(weights)


class WindowMixSR(nn.Module):
    """A window model (3 frames → centre frame) with distinct weights per window position."""

    scale = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == 3
        return (0.2 * x[:, 0] + 0.5 * x[:, 1] + 0.3 * x[:, 2])[:, None]


def _clip(t: int, h: int = 20, w: int = 24, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return list(rng.integers(0, 256, size=(t, h, w, 3), dtype=np.uint8))


def test_frames_tensor_round_trip_is_exact_for_uint8_and_uint16():
    frames = _clip(3)
    assert all(np.array_equal(a, b) for a, b in zip(frames, tensor_to_frames(frames_to_tensor(frames))))
    frames16 = [f.astype(np.uint16) * 257 for f in frames]
    back = tensor_to_frames(frames_to_tensor(frames16), np.uint16)
    assert all(np.array_equal(a, b) for a, b in zip(frames16, back))


@pytest.mark.parametrize("chunk,overlap", [(4, 2), (5, 3), (7, 2), (100, 0)])
def test_recurrent_chunks_equal_whole_clip_when_context_covers_memory(chunk, overlap):
    frames = _clip(23)
    model = TemporalBoxSR()
    s = ModelSpec(name="box", description="", scale=1, temporal="recurrent")
    whole = Upscaler(model, s, InferenceOptions(chunk=1000)).upscale_clip(frames_to_tensor(frames))
    model.calls.clear()
    streamed = list(Upscaler(model, s, InferenceOptions(chunk=chunk, chunk_overlap=overlap)).stream(iter(frames)))
    assert len(streamed) == 23
    expected = tensor_to_frames(whole)
    assert all(np.array_equal(a, b) for a, b in zip(expected, streamed))
    # Bounded memory: no call ever sees more than chunk + 2·overlap (+ a merged short tail) frames.
    assert max(model.calls) <= chunk + 2 * overlap + max(chunk // 4, 1)


def test_recurrent_chunks_without_context_differ_at_borders():
    """Guards the previous test: with no overlap, chunk borders do lose information."""
    frames = _clip(12)
    s = ModelSpec(name="box", description="", scale=1, temporal="recurrent")
    whole = list(Upscaler(TemporalBoxSR(), s, InferenceOptions(chunk=100)).stream(iter(frames)))
    cut = list(Upscaler(TemporalBoxSR(), s, InferenceOptions(chunk=4, chunk_overlap=0)).stream(iter(frames)))
    assert any(not np.array_equal(a, b) for a, b in zip(whole, cut))


@pytest.mark.parametrize("padding", ["replicate", "mirror"])
@pytest.mark.parametrize("chunk", [1, 4, 50])
def test_window_scheduler_matches_explicit_windows(padding, chunk):
    frames = _clip(9)
    s = ModelSpec(name="win", description="", scale=1, temporal="window", num_frames=3,
                  edge_padding=padding)
    out = list(Upscaler(WindowMixSR(), s, InferenceOptions(chunk=chunk)).stream(iter(frames)))
    assert len(out) == 9
    x = frames_to_tensor(frames)
    for i in range(9):
        idx = [_pad_index(j, 9, padding) if not 0 <= j < 9 else j for j in (i - 1, i, i + 1)]
        ref = tensor_to_frames((0.2 * x[idx[0]] + 0.5 * x[idx[1]] + 0.3 * x[idx[2]])[None])[0]
        assert np.array_equal(out[i], ref), i


def test_pad_index_modes():
    assert [_pad_index(j, 5, "replicate") for j in (-2, -1, 5, 6)] == [0, 0, 4, 4]
    assert [_pad_index(j, 5, "mirror") for j in (-2, -1, 5, 6)] == [2, 1, 3, 2]


@pytest.mark.parametrize("tile,overlap", [(8, 4), (11, 6), (16, 8)])
def test_tiled_equals_untiled_for_local_model(tile, overlap):
    frames = frames_to_tensor(_clip(2, 37, 45))
    s = ModelSpec(name="conv", description="", scale=2, temporal="frame")
    model = LocalConvSR()
    ref = Upscaler(model, s).upscale_clip(frames)
    tiled = Upscaler(model, s, InferenceOptions(tile=tile, tile_overlap=overlap)).upscale_clip(frames)
    assert tiled.shape == (2, 3, 74, 90)
    assert (tiled - ref).abs().max().item() < 1e-5


def test_tiled_bicubic_equals_untiled_on_real_frame(real_frames):
    model = build("bicubic")
    lq = frames_to_tensor(real_frames[:2])
    ref = Upscaler(model, spec("bicubic")).upscale_clip(lq)
    tiled = Upscaler(model, spec("bicubic"), InferenceOptions(tile=24, tile_overlap=8)).upscale_clip(lq)
    assert ref.shape[-2:] == (4 * lq.shape[-2], 4 * lq.shape[-1])
    assert (tiled - ref).abs().max().item() < 1e-5


def test_legal_size_padding_is_cropped_back():
    class NeedsMultipleOf8(nn.Module):
        scale = 2

        def forward(self, x):
            assert x.shape[-1] % 8 == 0 and x.shape[-2] % 8 == 0 and x.shape[-2] >= 16
            b, t, c, h, w = x.shape
            return F.interpolate(x.reshape(b * t, c, h, w), scale_factor=2).reshape(b, t, c, 2 * h, 2 * w)

    s = ModelSpec(name="m8", description="", scale=2, size_multiple=8, min_size=16)
    out = list(Upscaler(NeedsMultipleOf8(), s).stream(iter(_clip(2, 13, 21))))
    assert out[0].shape == (26, 42, 3)


def test_bf16_close_to_fp32():
    frames = frames_to_tensor(_clip(2, 16, 16))
    s = ModelSpec(name="conv", description="", scale=2)
    ref = Upscaler(LocalConvSR(), s).upscale_clip(frames)
    low = Upscaler(LocalConvSR(), s, InferenceOptions(precision="bf16")).upscale_clip(frames)
    assert low.dtype == torch.float32 and (low - ref).abs().max().item() < 0.05


def test_bad_options_are_one_line_errors():
    for opts in (InferenceOptions(chunk=0), InferenceOptions(tile=2), InferenceOptions(precision="fp8")):
        with pytest.raises(VsrkitError) as exc:
            opts.validate()
        assert "\n" not in str(exc.value)
    with pytest.raises(VsrkitError, match="no frames"):
        list(Upscaler(LocalConvSR(), ModelSpec(name="c", description="", scale=2)).stream(iter([])))


class AuxEchoSR(nn.Module):
    """Recurrent stand-in that reports its input frames as a per-frame aux image and a 2-channel 'flow'."""

    scale = 1

    def forward(self, x: torch.Tensor, return_aux: bool = False):
        if not return_aux:
            return x
        flow = torch.stack([x[:, :, 0], -x[:, :, 1]], dim=2) * 4  # (B, T, 2, H, W)
        return x, {"frames": x, "flow": flow, "scalar": x.mean()}


def test_save_aux_writes_one_picture_per_emitted_frame(tmp_path):
    from vsrkit.engine.aux import flow_to_color

    frames = _clip(10, 12, 14)
    s = ModelSpec(name="aux", description="", scale=1, temporal="recurrent", aux_outputs=("frames", "flow", "scalar"))
    opts = InferenceOptions(chunk=4, chunk_overlap=2, save_aux=str(tmp_path), aux_frames=frozenset(range(1, 10)))
    out = list(Upscaler(AuxEchoSR(), s, opts).stream(iter(frames)))
    assert len(out) == 10
    written = sorted(p.stem for p in (tmp_path / "frames").iterdir())
    assert written == [f"{i:08d}" for i in range(1, 10)]  # frame 0 filtered out by aux_frames; no duplicates
    import cv2

    pic = cv2.imread(str(tmp_path / "frames" / "00000007.png"))[..., ::-1]
    assert np.array_equal(pic, frames[7])  # the emitting chunk's picture, not a context copy
    assert len(list((tmp_path / "flow").iterdir())) == 9
    assert not (tmp_path / "scalar").exists()
    colour = flow_to_color(np.stack([np.ones((4, 4)), np.zeros((4, 4))]))
    assert colour.shape == (4, 4, 3) and colour.dtype == np.uint8 and (colour == colour[0, 0]).all()
    assert tuple(colour[0, 0]) == (255, 0, 0)  # rightward motion at full magnitude: saturated red


def test_save_aux_refuses_tiles():
    with pytest.raises(VsrkitError, match="--save-aux"):
        InferenceOptions(tile=32, save_aux="x").validate()


def test_window_length_comes_from_the_built_model():
    """A variant with a longer window (e.g. FMA-Net paper-t5) is fed windows of its own length."""

    class FiveFrameMix(WindowMixSR):
        num_frames = 5

        def forward(self, x):
            assert x.shape[1] == 5
            return x[:, 2:3]

    s = ModelSpec(name="win", description="", scale=1, temporal="window", num_frames=3)
    frames = _clip(6)
    out = list(Upscaler(FiveFrameMix(), s, InferenceOptions(chunk=4)).stream(iter(frames)))
    assert all(np.array_equal(a, b) for a, b in zip(out, frames))
