"""Tests for vsrkit.data: layout readers on fake trees, clip reading, training/eval datasets, sample clips."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vsrkit.data import (
    REDS4_CLIPS,
    Clip,
    EvalClipDataset,
    TrainClipDataset,
    folder_or_video,
    gopro,
    natural_key,
    reds,
    resolve_input,
    sample_clip,
    sample_clips,
    stack_kernels,
    udm10,
    vid4,
    vimeo90k,
)
from vsrkit.errors import VsrkitError


# ------------------------------------------------------------------------------------------------ helpers
def write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def flat_png(path: Path, value: int, size: tuple[int, int] = (4, 4)) -> None:
    """A tiny frame whose pixel value identifies it (value mod 256)."""
    write_png(path, np.full((*size, 3), value % 256, np.uint8))


def make_clip(folder: Path, n: int, size=(4, 4), base: int = 0, names=None) -> None:
    for i in range(n):
        name = names(i) if names else f"{i:08d}.png"
        flat_png(folder / name, base + i, size)


def block_mean(frames: np.ndarray, s: int) -> np.ndarray:
    """(T, H, W, C) uint8 → (T, H/s, W/s, C) uint8 by averaging s×s blocks (a block-centred LR)."""
    T, H, W, C = frames.shape
    return frames.reshape(T, H // s, s, W // s, s, C).astype(np.float64).mean(axis=(2, 4)).round().astype(np.uint8)


@dataclass
class BoxDegraded:
    lr: np.ndarray
    hr: np.ndarray
    kernels: list | None
    params: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


class BoxProtocol:
    """Stand-in for a vsrkit.degrade protocol: ×4 box downscale, one random 3×3 'kernel' per frame."""

    scale = 4

    def __call__(self, hr: np.ndarray, rng: np.random.Generator) -> BoxDegraded:
        hr = hr[:, : hr.shape[1] // 4 * 4, : hr.shape[2] // 4 * 4]
        lr = block_mean(hr, 4).astype(np.float32) / 255.0  # float LR must pass through unchanged
        kernels = [rng.random((3, 3)) for _ in range(len(hr))]
        return BoxDegraded(lr, hr, kernels, [{} for _ in hr], {"lq_sharp": block_mean(hr, 4)})


def random_video_clip(tmp_path: Path, name: str, T: int, H: int, W: int, seed: int = 0) -> tuple[Clip, np.ndarray]:
    frames = np.random.default_rng(seed).integers(0, 256, (T, H, W, 3), dtype=np.uint8)
    for t in range(T):
        write_png(tmp_path / name / f"{t:08d}.png", frames[t])
    return Clip(name, tmp_path / name), frames


# ------------------------------------------------------------------------------------------------ clips
def test_natural_sort_and_clip_read(tmp_path: Path) -> None:
    # Unpadded names: a plain sort would give 0, 1, 10, 11, 2, …
    make_clip(tmp_path / "c", 12, names=lambda i: f"frame{i}.png")
    clip = Clip("c", tmp_path / "c")
    assert [p.name for p in clip.frames][:3] == ["frame0.png", "frame1.png", "frame2.png"]
    assert clip.frames[-1].name == "frame11.png"
    frames = clip.read([9, 10, 2])
    assert frames.shape == (3, 4, 4, 3) and frames.dtype == np.uint8
    assert frames[:, 0, 0, 0].tolist() == [9, 10, 2]
    assert natural_key("00000009.png") < natural_key("00000010.png") and natural_key("im2") < natural_key("im10")
    with pytest.raises(VsrkitError, match="out of range"):
        clip.read([12])


def test_rgb_channel_order(tmp_path: Path) -> None:
    img = np.zeros((2, 2, 3), np.uint8)
    img[..., 0] = 200  # red
    write_png(tmp_path / "r" / "0.png", img)
    assert Clip("r", tmp_path / "r").read([0])[0, 0, 0].tolist() == [200, 0, 0]


def test_video_clip_bikes() -> None:
    clip = Clip("bikes", sample_clip("bikes"), cache_bytes=64 << 20)
    assert len(clip) == 250
    a = clip.read([0, 3, 7])
    assert a.shape == (3, 272, 640, 3) and a.dtype == np.uint8
    # Cached prefix answers later reads with identical frames; a fresh clip decodes the same pixels.
    assert np.array_equal(clip.read([7, 3]), a[[2, 1]])
    assert np.array_equal(Clip("b2", sample_clip("bikes")).read([3])[0], a[1])
    assert not np.array_equal(a[0], a[2])  # the clip moves: frames really are different
    # The decoded cache stays behind when the clip is pickled to DataLoader workers.
    assert clip._cache and pickle.loads(pickle.dumps(clip))._cache == []


def test_sample_clips_and_resolve_input(tmp_path: Path) -> None:
    clips = sample_clips()
    assert {"bikes", "bigbuckbunny", "carphone_pristine"} <= set(clips)
    import av

    for name, size in [("bikes", (640, 272)), ("bigbuckbunny", (1280, 720)), ("carphone_pristine", (176, 144))]:
        with av.open(str(sample_clip(name))) as c:
            assert (c.streams.video[0].width, c.streams.video[0].height) == size
    assert resolve_input("sample:bikes") == clips["bikes"]
    assert resolve_input(str(tmp_path)) == tmp_path
    with pytest.raises(VsrkitError, match="bikes"):
        sample_clip("nope")
    with pytest.raises(VsrkitError, match="does not exist"):
        resolve_input(str(tmp_path / "missing.mp4"))


def test_folder_or_video(tmp_path: Path) -> None:
    make_clip(tmp_path / "one", 3)
    assert [c.name for c in folder_or_video(tmp_path / "one")] == ["one"]
    for name in ["clip10", "clip9"]:
        make_clip(tmp_path / "many" / name, 2)
    assert [c.name for c in folder_or_video(tmp_path / "many")] == ["clip9", "clip10"]
    [v] = folder_or_video(sample_clip("carphone_pristine"))
    assert v.name == "carphone_pristine" and v.read([0]).shape == (1, 144, 176, 3)
    with pytest.raises(VsrkitError, match="expected"):
        folder_or_video(tmp_path / "nothing")


# ------------------------------------------------------------------------------------------------ layouts
def _official_reds(root: Path) -> None:
    # One frame per clip except clip 000 (11 frames, to check 00000009 < 00000010); GT 8×8, LR 2×2.
    for i in range(240):
        n = 11 if i == 0 else 1
        make_clip(root / "train_sharp" / f"{i:03d}", n, (8, 8), base=i)
    for i in range(30):
        make_clip(root / "val_sharp" / f"{i:03d}", 1, (8, 8), base=100 + i)
        make_clip(root / "val_blur_bicubic" / "X4" / f"{i:03d}", 1, (2, 2), base=100 + i)
        make_clip(root / "val_sharp_bicubic" / "X4" / f"{i:03d}", 1, (2, 2), base=100 + i)


def test_reds_official_layout(tmp_path: Path) -> None:
    _official_reds(tmp_path)
    gt, lq, _ = reds(tmp_path, "train")
    assert len(gt) == 240 and lq is None
    assert [p.name for p in gt[0].frames][9:11] == ["00000009.png", "00000010.png"]
    assert [c.name for c in reds(tmp_path, "reds4").gt] == list(REDS4_CLIPS)
    train = reds(tmp_path, "train-no-reds4").gt
    names = [c.name for c in train]
    assert len(train) == 266 and not set(REDS4_CLIPS) & set(names)
    assert names[-30:] == [str(240 + i) for i in range(30)]
    # Renamed val clip 245 reads val_sharp/005 (pixel value 105).
    assert train[names.index("245")].read([0])[0, 0, 0, 0] == 105
    val = reds(tmp_path, "val", "blur_bicubic")
    assert len(val.gt) == len(val.lq) == 30 and len(val.extra["lq_sharp"]) == 30
    assert val.lq[3].read([0]).shape == (1, 2, 2, 3)
    with pytest.raises(VsrkitError, match="train_blur"):
        reds(tmp_path, "train", "blur")


def test_reds_regrouped_reds4_layout(tmp_path: Path) -> None:
    base = tmp_path / "REDS4"
    for kind, size in [("sharp", (8, 8)), ("blur_bicubic", (2, 2))]:
        sub = "X4" if kind.endswith("bicubic") else ""
        for i in [n for n in range(270) if f"{n:03d}" not in REDS4_CLIPS]:
            make_clip(base / f"train_{kind}" / sub / f"{i:03d}", 1, size)
        for name in REDS4_CLIPS:
            make_clip(base / f"val_{kind}" / sub / name, 2, size)
    r4 = reds(tmp_path, "reds4", "blur_bicubic")  # root may be the parent of REDS4/
    assert [c.name for c in r4.gt] == list(REDS4_CLIPS) and "val_sharp" in str(r4.gt[0].frames[0])
    assert [c.name for c in r4.lq] == list(REDS4_CLIPS) and "X4" in str(r4.lq[0].frames[0])
    assert len(reds(base, "train-no-reds4").gt) == 266


def test_reds_missing_root_errors(tmp_path: Path) -> None:
    with pytest.raises(VsrkitError, match="expected the layout") as err:
        reds(tmp_path / "nope")
    assert "\n" not in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(VsrkitError, match="train_sharp"):
        reds(tmp_path / "empty")
    with pytest.raises(VsrkitError, match="unknown REDS split"):
        reds(tmp_path, "test2")


def test_vid4_and_udm10(tmp_path: Path) -> None:
    counts = {"calendar": 5, "city": 3, "foliage": 4, "walk": 2}
    for name, n in counts.items():
        make_clip(tmp_path / "Vid4" / "GT" / name, n, (8, 8))
        make_clip(tmp_path / "Vid4" / "BIx4" / name, n, (2, 2))
    gt, lq, _ = vid4(tmp_path / "Vid4", "BIx4")
    assert [c.name for c in gt] == list(counts) and [len(c) for c in gt] == list(counts.values())
    assert [c.name for c in lq] == list(counts)
    with pytest.raises(VsrkitError, match="GT,BIx4,BDx4"):
        vid4(tmp_path / "Vid4", "BDx4")
    for i in range(10):
        make_clip(tmp_path / "UDM10" / "GT" / f"clip{i}", 3 + i, (8, 8))
        make_clip(tmp_path / "UDM10" / "BDx4" / f"clip{i}", 3 + i, (2, 2))
    u = udm10(tmp_path / "UDM10")
    assert len(u.gt) == 10 and [len(c) for c in u.gt] == [3 + i for i in range(10)]  # counted on disk
    assert u.gt[2].name == "clip2"


def test_vimeo90k(tmp_path: Path) -> None:
    root = tmp_path / "vimeo_septuplet"
    subs = ["00001/0266", "00001/0268", "00002/0010"]
    for sub in subs:
        for i in range(1, 8):
            flat_png(root / "sequences" / sub / f"im{i}.png", i, (8, 8))
            flat_png(root / "BIx4" / sub / f"im{i}.png", i, (2, 2))
    (root / "sep_testlist.txt").write_text("\n".join(subs[:2]) + "\n\n")
    (root / "sep_trainlist.txt").write_text(subs[2] + "\n")
    gt, lq, _ = vimeo90k(root, "sep_testlist.txt", lr="BIx4")
    assert [c.name for c in gt] == subs[:2] and len(lq) == 2
    assert gt[0].read(range(7))[:, 0, 0, 0].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert len(vimeo90k(root, "sep_trainlist.txt").gt) == 1
    with pytest.raises(VsrkitError, match="sep_trainlist"):
        vimeo90k(root, "missing.txt")


def test_gopro(tmp_path: Path) -> None:
    for seq in ["GOPR0384_11_00", "GOPR0372_07_00"]:
        for folder in ["blur", "blur_gamma", "sharp"]:
            make_clip(tmp_path / "test" / seq / folder, 3, names=lambda i: f"{i:06d}.png")
    gt, lq, _ = gopro(tmp_path, "test", "blur_gamma")
    assert [c.name for c in gt] == ["GOPR0372_07_00", "GOPR0384_11_00"]
    assert "blur_gamma" in str(lq[0].frames[0]) and "sharp" in str(gt[0].frames[0])
    with pytest.raises(VsrkitError, match="GOPRO_Large"):
        gopro(tmp_path, "train")


# ------------------------------------------------------------------------------------------------ datasets
@pytest.fixture()
def premade(tmp_path: Path) -> tuple[list[Clip], list[Clip], list[np.ndarray]]:
    """Two 6-frame 32×40 random GT clips with LR made by 4×4 block averaging."""
    gts, lqs, arrays = [], [], []
    for k in range(2):
        clip, frames = random_video_clip(tmp_path / "gt", f"c{k}", 6, 32, 40, seed=k)
        lr = block_mean(frames, 4)
        for t in range(6):
            write_png(tmp_path / "lq" / f"c{k}" / f"{t:08d}.png", lr[t])
        gts.append(clip)
        lqs.append(Clip(f"c{k}", tmp_path / "lq" / f"c{k}"))
        arrays.append(frames)
    return gts, lqs, arrays


def test_train_premade_alignment(premade) -> None:
    gts, lqs, _ = premade
    ds = TrainClipDataset(
        gts, lr_clips=lqs, scale=4, num_frame=3, gt_size=16, use_hflip=True, use_rot=True, seed=1,
        dataset_enlarge_ratio=8,
    )
    assert len(ds) == 16
    for i in range(len(ds)):
        item = ds[i]
        assert item["lq"].shape == (3, 3, 4, 4) and item["gt"].shape == (3, 3, 16, 16)
        assert item["gt"].dtype == torch.float32 and 0 <= item["gt"].min() and item["gt"].max() <= 1
        # The LR patch is exactly the block average of the GT patch, after any flip/rotation of both.
        gt_u8 = (item["gt"].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        lq_u8 = (item["lq"].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        assert np.array_equal(block_mean(gt_u8, 4), lq_u8)


def test_train_crop_location_and_flips(premade) -> None:
    gts, lqs, arrays = premade
    plain = TrainClipDataset(
        gts, lr_clips=lqs, scale=4, num_frame=2, gt_size=16, use_hflip=False, use_rot=False, seed=3
    )
    item = plain[1]
    clip_name, start = item["key"].split("/")
    frames = arrays[int(clip_name[1:])][int(start) : int(start) + 2]
    gt = (item["gt"].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    # Locate the patch in the source: its top-left must be on the ×4 grid.
    hits = [
        (y, x) for y in range(32 - 15) for x in range(40 - 15) if np.array_equal(frames[:, y : y + 16, x : x + 16], gt)
    ]
    assert len(hits) == 1 and hits[0][0] % 4 == 0 and hits[0][1] % 4 == 0
    # Flips: over many items every flip combination appears, and each GT patch is a flipped source crop.
    flipped = TrainClipDataset(gts, lr_clips=lqs, scale=4, num_frame=2, gt_size=16, seed=3, dataset_enlarge_ratio=16)
    seen_flipped = 0
    for i in range(len(flipped)):
        it = flipped[i]
        g = (it["gt"].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        name, s = it["key"].split("/")
        src = arrays[int(name[1:])][int(s) : int(s) + 2]
        found = False
        for y in range(0, 17, 4):
            for x in range(0, 25, 4):
                patch = src[:, y : y + 16, x : x + 16]
                for tr in (False, True):
                    p = patch.transpose(0, 2, 1, 3) if tr else patch
                    for hf in (False, True):
                        for vf in (False, True):
                            q = p[:, :, ::-1] if hf else p
                            q = q[:, ::-1] if vf else q
                            if np.array_equal(q, g):
                                found = True
                                seen_flipped += int(hf or vf or tr)
        assert found, it["key"]
    assert seen_flipped > 0


def test_train_reproducible_and_varied(premade) -> None:
    gts, lqs, _ = premade
    kw = dict(lr_clips=lqs, scale=4, num_frame=2, gt_size=16, interval_list=[1, 2], random_reverse=True)
    a = TrainClipDataset(gts, seed=7, dataset_enlarge_ratio=8, **kw)
    b = TrainClipDataset(gts, seed=7, dataset_enlarge_ratio=8, **kw)
    assert all(torch.equal(a[i]["gt"], b[i]["gt"]) and a[i]["key"] == b[i]["key"] for i in range(len(a)))
    assert len({a[i]["gt"].sum().item() for i in range(len(a))}) > len(a) // 2  # indices differ
    a.set_epoch(1)
    assert any(not torch.equal(a[i]["gt"], b[i]["gt"]) for i in range(4))  # epochs differ
    # Worker count does not change the samples (seeds depend on index, not on worker state).
    b0 = next(iter(DataLoader(b, batch_size=4, num_workers=0)))
    b2 = next(iter(DataLoader(b, batch_size=4, num_workers=2)))
    assert torch.equal(b0["gt"], b2["gt"]) and b0["key"] == b2["key"]


def test_train_on_the_fly_protocol(tmp_path: Path) -> None:
    clip, frames = random_video_clip(tmp_path, "c", 5, 30, 34)
    ds = TrainClipDataset([clip], protocol=BoxProtocol(), num_frame=3, gt_size=16, seed=0)
    item = ds[0]
    assert item["lq"].shape == (3, 3, 4, 4) and item["gt"].shape == (3, 3, 16, 16)
    assert item["kernels"].shape == (3, 3, 3) and item["kernels"].dtype == torch.float32
    assert item["lq_sharp"].shape == (3, 3, 4, 4)
    # Float LR passes through unchanged (no /255); uint8 extras are divided by 255.
    gt_u8 = (item["gt"].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    expected = block_mean(gt_u8, 4).astype(np.float32) / 255.0
    np.testing.assert_allclose(item["lq"].permute(0, 2, 3, 1).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(item["lq_sharp"].permute(0, 2, 3, 1).numpy(), expected, atol=1e-6)
    with pytest.raises(VsrkitError, match="multiple of the scale"):
        TrainClipDataset([clip], protocol=BoxProtocol(), num_frame=3, gt_size=18)
    with pytest.raises(VsrkitError, match="lr_clips must match the GT size"):
        lr_dir = tmp_path / "lr"
        for t in range(5):
            write_png(lr_dir / f"{t:08d}.png", block_mean(frames[t : t + 1, :28, :32], 4)[0])
        TrainClipDataset([clip], protocol=BoxProtocol(), lr_clips=[Clip("c", lr_dir)], num_frame=3, gt_size=4)[0]
    with pytest.raises(VsrkitError, match="no LR source"):
        TrainClipDataset([clip], num_frame=3, gt_size=16, scale=4)


def test_eval_dataset(premade, tmp_path: Path) -> None:
    gts, lqs, arrays = premade
    ds = EvalClipDataset(gts, lr_clips=lqs, scale=4, max_frames=5)
    item = ds[1]
    assert item["key"] == "c1" and item["lq"].shape == (5, 3, 8, 10) and item["gt"].shape == (5, 3, 32, 40)
    assert item["eval_frames"].tolist() == [0, 1, 2, 3, 4]
    # On the fly from GT whose size is not a multiple of 4: GT is mod-cropped to match.
    clip, _ = random_video_clip(tmp_path / "odd", "v", 7, 30, 34)
    it = EvalClipDataset([clip], protocol=BoxProtocol(), center_only=True)[0]
    assert it["lq"].shape == (7, 3, 7, 8) and it["gt"].shape == (7, 3, 28, 32) and it["eval_frames"].tolist() == [3]
    assert torch.equal(it["kernels"], EvalClipDataset([clip], protocol=BoxProtocol())[0]["kernels"])  # seeded
    with pytest.raises(VsrkitError, match="scale"):
        EvalClipDataset(gts, lr_clips=lqs, scale=2)[0]


def test_stack_kernels_pads_centred() -> None:
    k3 = np.arange(9, dtype=np.float64).reshape(3, 3)
    k5 = np.ones((5, 5))
    out = stack_kernels([k3, k5])
    assert out.shape == (2, 5, 5) and out.dtype == torch.float32
    assert out[0, 2, 2] == 4 and out[0, 0].abs().sum() == 0 and torch.equal(out[0, 1:4, 1:4], torch.tensor(k3).float())
    assert stack_kernels([k3], size=7).shape == (1, 7, 7)
    with pytest.raises(VsrkitError, match="kernel_size"):
        stack_kernels([k5], size=3)


def test_with_real_bi_protocol(premade) -> None:
    # vsrkit.degrade is written concurrently: use it only once it imports and offers get_protocol.
    try:
        from vsrkit.degrade import get_protocol
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        pytest.skip("vsrkit.degrade.get_protocol not available yet")
    gts, _, _ = premade
    ds = TrainClipDataset(gts, protocol=get_protocol("bi"), num_frame=2, gt_size=16, seed=0)
    item = ds[0]
    assert item["lq"].shape == (2, 3, 4, 4) and item["gt"].shape == (2, 3, 16, 16)
    ev = EvalClipDataset(gts, protocol=get_protocol("bi"))[0]
    assert ev["lq"].shape == (6, 3, 8, 10) and ev["gt"].shape == (6, 3, 32, 40)


def test_flip_sequence_mirror_extends_every_per_frame_entry(premade) -> None:
    gts, lqs, _ = premade
    kw = dict(lr_clips=lqs, scale=4, num_frame=3, gt_size=16, seed=5)
    plain, mirrored = TrainClipDataset(gts, **kw)[0], TrainClipDataset(gts, flip_sequence=True, **kw)[0]
    for key in ("lq", "gt"):
        assert mirrored[key].shape[0] == 6
        assert torch.equal(mirrored[key][:3], plain[key]) and torch.equal(mirrored[key][3:], plain[key].flip(0))
    assert mirrored["key"] == plain["key"]


def test_hd_clip_same_pixels_for_training_evaluation_and_upscaling() -> None:
    """bigbuckbunny (1280x720, untagged: BT.709 by the HD rule) decodes to the same RGB in the trainer's dataset,
    the eval-model dataset and the upscaler's reader; a BT.601 decode (what vsrkit.data once did) differs."""
    import av

    from vsrkit.engine.config import build_eval_dataset, build_train_dataset
    from vsrkit.io import open_reader

    path = sample_clip("bigbuckbunny")
    with open_reader(path, dtype="uint8", threaded=False) as reader:  # the path engine/upscale.py takes
        upscale_frames = [f.rgb for _, f in zip(range(2), reader)]
    assert upscale_frames[0].shape == (720, 1280, 3)

    section = {"type": "samples", "clips": ["bigbuckbunny"], "protocol": "bi", "max_frames": 2}
    eval_gt = build_eval_dataset(section, 4)[0]["gt"]  # (T, 3, H, W) float in [0, 1]
    eval_frames = (eval_gt.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    assert np.array_equal(eval_frames, np.stack(upscale_frames))

    train = build_train_dataset({**section, "num_frame": 1, "gt_size": 32, "use_hflip": False, "use_rot": False},
                                4, seed=0)
    crop = (train[0]["gt"][0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    # Which frame the trainer drew (the dataset's own seeded draw), then that frame through the upscaler's reader.
    crop_rng = np.random.default_rng(np.random.SeedSequence([0, 0, 0]).spawn(2)[0])
    frame_index = int(train._frame_indices(len(train.clips[0]), crop_rng)[1][0])
    with open_reader(path, dtype="uint8", threaded=False) as reader:
        frame = next(f.rgb for f in reader if f.index == frame_index)
    match = cv2.matchTemplate(frame.astype(np.float32), crop.astype(np.float32), cv2.TM_SQDIFF)
    assert float(match.min()) == 0.0, "the training crop is not an exact crop of the io-decoded frame"

    with av.open(str(path)) as container:  # the BT.601 conversion the data layer used to apply
        bt601 = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(bt601.astype(int) - upscale_frames[0].astype(int)).max() >= 8


def test_declared_split_is_disjoint_and_drives_the_configs() -> None:
    """One split: no clip or photo in two splits, every clip has a recorded source, and the shipped configs train on
    the train split and validate on the validation split (never on a test clip)."""
    import yaml

    from vsrkit.data.samples import SAMPLE_SOURCES
    from vsrkit.data.splits import CLIPS, PHOTOS, check_disjoint, split_clips
    from vsrkit.engine.config import build_clip_lists

    check_disjoint()
    assert all(name in SAMPLE_SOURCES for names in CLIPS.values() for name in names)
    assert len(CLIPS["test"]) >= 3 and len(PHOTOS["test"]) >= 3
    test_clips = set(split_clips("test"))
    for cfg_path in sorted(Path(__file__).resolve().parents[1].glob("configs/**/*.yaml")):
        for section in yaml.safe_load(cfg_path.read_text()).get("datasets", {}).values():
            if section.get("type") == "samples":
                named = set(section.get("clips") or split_clips(section["split"]))
                assert not named & test_clips, f"{cfg_path.name} uses a test clip"
            if section.get("type") == "images":
                assert not {str(i) for i in section["images"]} & set(PHOTOS["test"]), cfg_path.name
    lists = build_clip_lists({"type": "samples", "split": "train"})
    assert [c.name for c in lists.gt] == ["bikes", "bigbuckbunny"]
    with pytest.raises(VsrkitError, match="not both"):
        build_clip_lists({"type": "samples", "split": "train", "clips": ["bikes"]})
    with pytest.raises(VsrkitError, match="unknown split"):
        build_clip_lists({"type": "samples", "split": "tset"})


def test_opencv_doc_samples_resolve_or_name_the_package(monkeypatch, tmp_path: Path) -> None:
    """opencv-doc clips resolve to readable videos (a gzipped one unpacked once into the cache); without the package
    the error names the install command."""
    import vsrkit.data.samples as samples

    if samples._opencv_clips():
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        box = sample_clip("box")
        assert box.parent == tmp_path / "vsrkit" / "samples" and box.suffix == ".mp4"
        assert Clip("box", box).read([0]).shape == (1, 480, 640, 3)
        assert sample_clip("box") == box  # cached: not unpacked again
    monkeypatch.setattr(samples, "OPENCV_DOC", tmp_path / "absent")
    with pytest.raises(VsrkitError, match="apt-get install opencv-doc"):
        sample_clip("vtest")
