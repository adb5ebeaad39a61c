"""Known-motion clips from photos (vsrkit.data.motion), the wallpaper manifest, SpyNet pre-training and the
known-shift check. Photos are scikit-image's (no wallpaper package is needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsrkit.data.images import load_image
from vsrkit.data.motion import (
    MotionClipDataset,
    MotionSettings,
    draw_camera_path,
    render_motion_clip,
    translated_pair,
)
from vsrkit.degrade import get_protocol
from vsrkit.engine.flow_check import known_shift_epe, mean_epe
from vsrkit.errors import VsrkitError
from vsrkit.ops.losses import endpoint_error, multiscale_epe
from vsrkit.ops.warp import flow_warp

SETTINGS = MotionSettings(max_speed=6.0, max_accel=0.4, downscale=(1.0, 1.5))


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_image("skimage:astronaut")


def _t(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).permute(0, 3, 1, 2).double() / 255.0


def _inner(mask: torch.Tensor, border: int) -> torch.Tensor:
    out = torch.zeros_like(mask)
    out[..., border:-border, border:-border] = mask[..., border:-border, border:-border]
    return out


def _erode(mask: np.ndarray, r: int) -> np.ndarray:
    """Pixels whose whole (2r+1)² neighbourhood is in ``mask``."""
    import cv2

    return cv2.erode(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)


def warp_residual(frames: np.ndarray, flows: np.ndarray, valid: np.ndarray, border: int = 4) -> list[float]:
    """Mean |frame_t − warp(frame_{t+1}, flow_t)| (0–255) over valid pixels away from the borders, per pair."""
    x = _t(frames)
    out = []
    for t in range(len(flows)):
        warped = flow_warp(x[t + 1 : t + 2], torch.from_numpy(flows[t : t + 1]).double())
        m = _inner(torch.from_numpy(valid[t]), border)
        out.append(float((warped[0] - x[t]).abs().mean(0)[m].mean() * 255))
    return out


def test_flow_warps_next_frame_onto_this_one(astronaut):
    clip = render_motion_clip(astronaut, np.random.default_rng(4), num_frames=5, size=96, settings=SETTINGS)
    assert clip.frames.shape == (5, 96, 96, 3) and clip.frames.dtype == np.uint8
    assert clip.flows.shape == (4, 96, 96, 2)
    residual = warp_residual(clip.frames, clip.flows, clip.valid)
    # Frames move (the unwarped difference is large), the known flow explains the motion up to resampling.
    moved = [float(np.abs(clip.frames[t + 1].astype(float) - clip.frames[t]).mean()) for t in range(4)]
    assert min(moved) > 3.0
    assert max(residual) < 2.5 and max(r / m for r, m in zip(residual, moved)) < 0.25
    # A wrong flow (the negated one) does not explain it.
    wrong = warp_residual(clip.frames, -clip.flows, clip.valid)
    assert min(w - r for w, r in zip(wrong, residual)) > 1.0


def test_flow_with_foreground_layer(astronaut):
    settings = MotionSettings(max_speed=4.0, downscale=(1.0, 1.0), foreground_prob=1.0, foreground_speed=6.0)
    clip = render_motion_clip(astronaut, np.random.default_rng(2), num_frames=4, size=96, settings=settings)
    assert clip.foreground.any() and not clip.foreground.all()
    x = _t(clip.frames)
    for t in range(3):
        fg = _erode(clip.foreground[t], 2)
        flow = clip.flows[t]
        # the foreground moves on its own: its flow differs from the background's
        assert np.abs(flow[fg].mean(0) - flow[_erode(~clip.foreground[t], 2)].mean(0)).max() > 0.5
        warped = flow_warp(x[t + 1 : t + 2], torch.from_numpy(flow[None]).double())[0]
        err = (warped - x[t]).abs().mean(0).numpy() * 255
        assert err[fg & clip.valid[t]].mean() < 3.0
        # Where the background gets covered in t+1 the flow is (correctly) marked invalid.
        bg_ok = _erode(~clip.foreground[t], 2) & _erode(clip.valid[t], 2)
        assert err[bg_ok].mean() < 3.0


def test_motion_is_seeded_and_smooth():
    a = draw_camera_path(np.random.default_rng(7), 8, 64, SETTINGS)
    b = draw_camera_path(np.random.default_rng(7), 8, 64, SETTINGS)
    c = draw_camera_path(np.random.default_rng(8), 8, 64, SETTINGS)
    assert all(np.array_equal(x.M, y.M) and np.array_equal(x.b, y.b) for x, y in zip(a, b))
    assert not all(np.array_equal(x.b, y.b) for x, y in zip(a, c))
    centre = np.array([m.apply(np.array([31.5, 31.5])) for m in a])
    step = np.diff(centre, axis=0)
    accel = np.diff(step, axis=0)
    # velocity changes by at most the acceleration bound (plus the tiny zoom/rotation terms), never jumps
    assert np.abs(accel).max() <= SETTINGS.max_accel * 1.1 + 0.05
    assert np.linalg.norm(step, axis=1).max() <= (SETTINGS.max_speed + 7 * SETTINGS.max_accel) * 1.1


def test_dataset_seeded_aligned_and_degraded_after_motion():
    protocol = get_protocol("gauss", scale=4, sigma=1.6)
    ds = MotionClipDataset(["skimage:astronaut", "skimage:coffee"], num_frame=3, gt_size=96, protocol=protocol,
                           settings=SETTINGS, seed=5)
    item = ds[1]
    again = MotionClipDataset(["skimage:astronaut", "skimage:coffee"], num_frame=3, gt_size=96,
                              protocol=protocol, settings=SETTINGS, seed=5)[1]
    assert all(torch.equal(item[k], again[k]) for k in ("lq", "gt", "flow"))
    assert item["lq"].shape == (3, 3, 24, 24) and item["gt"].shape == (3, 3, 96, 96)
    assert item["flow"].shape == (2, 2, 96, 96) and item["flow_lq"].shape == (2, 2, 24, 24)
    # GT = the sharp moving frames; LR = the protocol applied to exactly those frames (blur after motion).
    clip, deg_rng = ds.render(1)
    assert torch.equal(item["gt"], torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float() / 255)
    lr = protocol(clip.frames, deg_rng).lr
    assert torch.equal(item["lq"], torch.from_numpy(lr).permute(0, 3, 1, 2).float() / 255)
    # The LR frames move with the LR flow (HR flow / 4): HR and LR stay aligned.
    lq = item["lq"].double()
    for t in range(2):
        flow = item["flow_lq"][t : t + 1].permute(0, 2, 3, 1).double()
        warped = flow_warp(lq[t + 1 : t + 2], flow)[0]
        still = (lq[t + 1] - lq[t]).abs()[:, 3:-3, 3:-3].mean()
        assert (warped - lq[t]).abs()[:, 3:-3, 3:-3].mean() < 0.35 * still
    other = MotionClipDataset(["skimage:astronaut", "skimage:coffee"], num_frame=3, gt_size=96, protocol=protocol,
                              settings=SETTINGS, seed=6)[1]
    assert not torch.equal(other["gt"], item["gt"])


def test_flip_sequence_recomputes_flows(astronaut):
    ds = MotionClipDataset(["skimage:astronaut"], num_frame=3, gt_size=64, scale=1, settings=SETTINGS,
                           flip_sequence=True)
    item = ds[0]
    assert item["gt"].shape[0] == 6 and item["flow"].shape[0] == 5
    assert item["flow"][2].abs().max() < 1e-6  # frame 3 then frame 3 again
    # pair (4 -> 5) is pair (1 -> 0): flow ≈ minus the flow of pair (0 -> 1), taken where it lands
    assert torch.allclose(item["flow"][4].mean((1, 2)), -item["flow"][0].mean((1, 2)), atol=0.05)


def test_too_small_photo_is_one_clear_error():
    tiny = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(VsrkitError, match="too small"):
        render_motion_clip(tiny, np.random.default_rng(0), num_frames=3, size=64, settings=SETTINGS)


def test_translated_pair_and_known_shift_epe(astronaut):
    frame = astronaut[100:180, 120:220]
    ref, supp = translated_pair(frame, (3, 2))
    assert np.array_equal(ref[:-2, :-3], supp[2:, 3:])  # integer shift: an exact copy, content moved by (3, 2)

    def oracle(r, s):  # a flow network that knows the answer: the integer shift that best explains the pair
        size = r.shape[-2:]
        candidates = [(dx, dy) for dx in range(-4, 5) for dy in range(-4, 5)]
        errors = [float((flow_warp(s, torch.tensor([dx, dy], dtype=r.dtype).expand(1, *size, 2)) - r)
                        [..., 8:-8, 8:-8].abs().mean()) for dx, dy in candidates]
        dx, dy = candidates[int(np.argmin(errors))]
        return torch.tensor([dx, dy], dtype=r.dtype).view(1, 2, 1, 1).expand(1, 2, *size)

    rows = known_shift_epe(oracle, frame, [(0, 0), (1, 0), (3, 2), (-4, 3)])
    assert [r["epe"] for r in rows] == pytest.approx([0, 0, 0, 0], abs=1e-5)
    still = known_shift_epe(lambda r, s: torch.zeros(1, 2, *r.shape[-2:]), frame, [(1, 0), (3, 2), (-4, 3)])
    assert [r["epe"] for r in still] == pytest.approx([1, 13**0.5, 5], abs=1e-5)
    assert mean_epe(still) == pytest.approx((1 + 13**0.5 + 5) / 3, abs=1e-5)



def test_sad_search_init_follows_known_shifts_and_is_still_for_a_still_pair(astronaut):
    from vsrkit.ops.spynet import SpyNet, sad_search_init_

    net = sad_search_init_(SpyNet()).eval()
    frame = astronaut[40:200, 60:260]  # a real frame (120x176 after the margin): texture, edges and flat skin
    still = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():  # symmetric comparisons: no motion reads as none (high-contrast pixels amplify rounding)
        flow = net(still, still).abs()
    assert float(flow.mean()) < 0.01 and float(flow.max()) < 0.2
    rows = known_shift_epe(net, frame, [(1, 0), (3, 2), (-4, 3), (-1.5, 2.5)])
    for row in rows:  # the mean flow follows each shift; a random or plateaued SpyNet returns ~0 whatever the shift
        assert np.allclose(row["mean_flow"], row["shift"], atol=0.6), row
    assert mean_epe(rows) < 0.8
    with pytest.raises(ValueError, match="window"):
        sad_search_init_(SpyNet(), window=8)

def test_multiscale_epe_is_zero_for_the_true_pyramid():
    flow = torch.randn(2, 2, 64, 64)
    levels = [torch.nn.functional.avg_pool2d(flow, 2**k) / 2**k for k in (5, 4, 3, 2, 1)] + [flow]
    assert float(multiscale_epe(levels, flow)) < 1e-5
    assert float(endpoint_error(flow + torch.tensor([3.0, 4.0]).view(1, 2, 1, 1), flow)) == pytest.approx(5.0)


def test_flow_recipe_trains_spynet_and_video_models_start_from_it(tmp_path):
    from vsrkit.engine.train import Trainer
    from vsrkit.models import build
    from vsrkit.models.weights import load_state_dict
    from vsrkit.models.catalogue import load_flow_init

    section = {"type": "motion", "photos": ["skimage:astronaut", "skimage:coffee"], "num_frame": 2,
               "gt_size": 64, "motion": {"max_speed": 3.0, "downscale": [1.0, 1.0]}, "batch_size_per_gpu": 1}
    cfg = {"name": "flow_tiny", "manual_seed": 0, "scale": 1, "device": "cpu", "model": {"name": "spynet"},
           "datasets": {"train": section, "val": {**section, "photos": ["skimage:chelsea"]}},
           "train": {"recipe": "flow", "flow_input": "gt", "total_iter": 2, "optim_g": {"type": "Adam", "lr": 1e-4}},
           "val": {"val_freq": 2, "best_metric": "epe"}, "logger": {"save_checkpoint_freq": 2, "use_tb_logger": False}}
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    summary = trainer.fit()
    assert summary["best"]["metric"] == "epe" and summary["best"]["value"] > 0
    spynet_file = tmp_path / "run" / "weights" / "latest.safetensors"
    model = build("basicvsr", "small")
    load_flow_init(model, spynet_file)
    trained = load_state_dict(spynet_file)
    assert all(torch.equal(model.spynet.state_dict()[k], v) for k, v in trained.items() if k not in ("mean", "std"))
    with pytest.raises(VsrkitError, match="no SpyNet"):
        load_flow_init(build("bicubic"), spynet_file)


def test_copyright_parsing_and_licence_lookup():
    from vsrkit.data.wallpapers import _licence_for, parse_copyright

    text = ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
            "Files: *\nCopyright: 2019 Someone\nLicense: GPL-2+\n\n"
            "Files: 16.04/Bridge_by_X.jpg\nCopyright: 2018 X\n           and Y\nLicense: CC-BY-SA-4.0\n\n"
            "Files: debian/*\nCopyright: 2020 Packager\nLicense: GPL-2+\n")
    stanzas = parse_copyright(text)
    assert [s["license"] for s in stanzas] == ["GPL-2+", "CC-BY-SA-4.0", "GPL-2+"]
    assert stanzas[1]["copyright"] == "2018 X and Y"
    from pathlib import Path

    assert _licence_for(Path("/usr/share/backgrounds/Bridge_by_X.jpg"), stanzas)["license"] == "CC-BY-SA-4.0"
    assert _licence_for(Path("/usr/share/backgrounds/other.png"), stanzas)["license"] == "GPL-2+"


def test_known_shift_check_runs_on_every_shipped_flow_network(astronaut):
    from vsrkit.engine.flow_check import shipped_flow_networks

    nets = dict(shipped_flow_networks())
    assert {"basicvsr", "iart", "iacnn", "bvsr_ik"} <= set(nets)
    frame = astronaut[200:280, 200:300]
    for name, net in nets.items():
        rows = known_shift_epe(net, frame, [(0, 0), (3, 2)])
        assert [r["shift"] for r in rows] == [(0.0, 0.0), (3.0, 2.0)]
        assert all(np.isfinite(r["epe"]) for r in rows), name


@pytest.fixture(scope="module")
def lq_motion_batch() -> dict:
    """One 2-clip batch of 64×64 LR pairs (bicubic ×4 after the motion) with their exact LR flows."""
    ds = MotionClipDataset(["skimage:astronaut", "skimage:coffee"], num_frame=2, gt_size=256,
                           protocol=get_protocol("bi", scale=4), settings=MotionSettings(max_speed=12.0,
                                                                                       downscale=(1.0, 1.5)), seed=2)
    items = [ds[0], ds[1]]
    return {k: torch.stack([it[k] for it in items]) for k in ("lq", "gt", "flow", "flow_lq")}


def test_flow_recipe_pairs_point_from_ref_into_supp_at_every_pyramid_level(lq_motion_batch):
    """The training target follows SpyNet's warp convention (flow_warp(supp, flow) ≈ ref) in LR pixels, and each
    level's target (the block-averaged flow / factor) does so on that level's pooled images."""
    import torch.nn.functional as F

    from vsrkit.engine.recipes.flow import flow_pairs

    ref, supp, flow = flow_pairs(lq_motion_batch, "lq")
    assert ref.shape == (2, 3, 64, 64) and flow.shape == (2, 2, 64, 64)
    assert float(flow.norm(dim=1).mean()) > 1.0  # the pairs move
    for factor in (1, 2):
        r, s = (F.avg_pool2d(x, factor) if factor > 1 else x for x in (ref, supp))
        f = F.avg_pool2d(flow, factor) / factor if factor > 1 else flow
        b = 6 // factor + 1
        still = (s - r).abs()[..., b:-b, b:-b].mean()
        right = (flow_warp(s, f.permute(0, 2, 3, 1), padding_mode="border") - r).abs()[..., b:-b, b:-b].mean()
        wrong = (flow_warp(s, -f.permute(0, 2, 3, 1), padding_mode="border") - r).abs()[..., b:-b, b:-b].mean()
        swapped = (flow_warp(s, f.flip(1).permute(0, 2, 3, 1), padding_mode="border") - r).abs()[..., b:-b, b:-b]
        assert right < 0.5 * still, factor  # pooled frames resample less exactly
        assert right < 0.5 * wrong and right < 0.75 * swapped.mean(), factor


def test_flow_recipe_steps_reduce_the_epe_of_a_fixed_pair(lq_motion_batch):
    """20 Adam steps of the recipe's loss from scratch lower SpyNet's final-flow EPE on a fixed pair well below
    both its start and a zero flow: gradients reach every level's module."""
    from vsrkit.engine.recipes.flow import FlowRecipe, flow_pairs

    torch.manual_seed(0)
    recipe = FlowRecipe({"model": {"name": "spynet"}, "train": {"flow_input": "lq"}})
    net = recipe.build_model()
    batch = {k: v[:1] for k, v in lq_motion_batch.items()}
    ref, supp, flow = flow_pairs(batch, "lq")
    with torch.no_grad():
        start = float(endpoint_error(net(ref, supp), flow))
    zero = float(flow.norm(dim=1).mean())
    opt = torch.optim.Adam(net.parameters(), lr=4e-4)
    for it in range(20):
        loss = recipe.compute_losses(net, batch, it)["l_epe"]
        opt.zero_grad()
        loss.backward()
        if it == 0:
            assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in net.parameters())
        opt.step()
    with torch.no_grad():
        end = float(endpoint_error(net(ref, supp), flow))
    assert end < 0.5 * start and end < 0.5 * zero, (start, zero, end)


def test_flow_recipe_starts_from_the_sad_search_or_refuses_an_unknown_start():
    from vsrkit.engine.recipes.flow import FlowRecipe
    from vsrkit.ops.spynet import SpyNet, sad_search_init_

    section = {"type": "motion", "photos": ["skimage:astronaut"], "num_frame": 2, "gt_size": 64}
    cfg = {"name": "flow_init", "scale": 1, "model": {"name": "spynet"}, "datasets": {"train": section},
           "train": {"recipe": "flow", "spynet_init": "sad_search", "total_iter": 2,
                     "optim_g": {"type": "Adam", "lr": 1e-4}}}
    built = FlowRecipe(cfg).build_model().state_dict()
    expected = sad_search_init_(SpyNet()).state_dict()
    assert all(torch.equal(built[k], v) for k, v in expected.items())
    cfg["train"]["spynet_init"] = "imagenet"
    with pytest.raises(VsrkitError, match="spynet_init must be random or sad_search"):
        FlowRecipe(cfg)
