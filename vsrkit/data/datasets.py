"""Torch datasets over :class:`~vsrkit.data.clips.Clip` lists, for training (random patches) and evaluation
(whole clips).

Items are dicts of float32 tensors ``(T, 3, H, W)``, RGB in [0, 1] (uint8 / 255; float32 LR from a protocol is kept
as is), plus a string ``key``. LR comes from one of two places:

* **pre-made** (``lr_clips``): LR frames on disk, index-aligned with the GT clips (REDS ``*_bicubic``, Vid4 ``BIx4``);
* **on the fly** (``protocol``): a degradation protocol from :mod:`vsrkit.degrade` applied to the GT (or, when
  ``lr_clips`` is also given, to those HR-size frames — e.g. GoPro ``blur`` → BI ×4, GT = ``sharp``).

Randomness is derived per item from ``(seed, epoch, index)`` (:meth:`TrainClipDataset.set_epoch`), never from
global or per-worker state: the same seed gives the same samples whatever the number of DataLoader workers, and
no two workers repeat each other's crops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from vsrkit.data.augment import apply_flips, draw_flips, paired_random_crop, random_crop
from vsrkit.data.clips import Clip
from vsrkit.degrade.blur import mod_crop
from vsrkit.errors import VsrkitError


class Degraded(Protocol):
    """What a degradation protocol returns (implemented in :mod:`vsrkit.degrade`)."""

    lr: np.ndarray  # (T, h, w, 3) uint8, or float32 in [0, 1]
    hr: np.ndarray  # (T, H, W, 3) uint8, the GT mod-cropped to match lr
    kernels: list[np.ndarray] | None  # one (k, k) kernel per frame, or None
    params: list[dict]
    extra: dict[str, np.ndarray]


class DegradationProtocol(Protocol):
    """A callable degradation: ``protocol(hr (T,H,W,3) uint8, rng) -> Degraded`` with an integer ``scale``."""

    scale: int

    def __call__(self, hr: np.ndarray, rng: np.random.Generator) -> Degraded: ...


def frames_to_tensor(frames: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """``(T, H, W, C)`` (or a list of ``(H, W, C)``) → float32 ``(T, C, H, W)`` in [0, 1].

    uint8 is divided by 255 and uint16 by 65535 (full 16-bit scale, as vsrkit.io reads >8-bit video); float
    input is kept as is.
    """
    arr = np.ascontiguousarray(np.asarray(frames).transpose(0, 3, 1, 2))
    peak = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(arr.dtype)
    t = torch.from_numpy(arr.astype(np.int32) if arr.dtype == np.uint16 else arr).float()
    return t.div_(peak) if peak else t


def _array_to_tensor(value: np.ndarray) -> torch.Tensor:
    """Protocol extras: frame stacks ``(T, h, w, 1|3)`` go through :func:`frames_to_tensor`, others stay as shaped."""
    value = np.asarray(value)
    if value.ndim == 4 and value.shape[-1] in (1, 3):
        return frames_to_tensor(value)
    t = torch.from_numpy(np.ascontiguousarray(value))
    return t.float().div_(255.0) if value.dtype == np.uint8 else t.float()


def stack_kernels(kernels: Sequence[np.ndarray], size: int | None = None) -> torch.Tensor:
    """Stack per-frame kernels into ``(T, K, K)`` float32, zero-padding each one centred to a common ``K``.

    Kernels may differ in size within a clip (BVSR-IK draws 5…13 taps per frame); ``K`` is ``size`` if given (set it
    when batching, so every item has the same ``K``) else the largest kernel. Padding an odd kernel by the same
    amount on each side keeps its centre tap at the centre, so the padded kernel filters identically.
    """
    K = size if size is not None else max(max(k.shape) for k in kernels)
    out = np.zeros((len(kernels), K, K), np.float32)
    for i, k in enumerate(kernels):
        kh, kw = k.shape
        if kh > K or kw > K:
            raise VsrkitError(f"a {kh}x{kw} kernel does not fit kernel_size {K}: raise kernel_size")
        top, left = (K - kh) // 2, (K - kw) // 2
        out[i, top : top + kh, left : left + kw] = k
    return torch.from_numpy(out)


def _resolve_scale(scale: int | None, protocol: DegradationProtocol | None, lr_clips: Sequence[Clip] | None) -> int:
    if protocol is None and lr_clips is None:
        raise VsrkitError("no LR source: pass protocol=<degradation> or lr_clips=<pre-made LR clips>")
    if protocol is not None:
        if scale is not None and int(scale) != int(protocol.scale):
            raise VsrkitError(f"scale {scale} differs from the protocol's scale {protocol.scale}: drop one of them")
        return int(protocol.scale)
    if scale is None:
        raise VsrkitError("scale is unknown for pre-made LR clips: pass scale=<GT/LR size ratio>")
    return int(scale)


def _check_aligned(clips: Sequence[Clip], other: Sequence[Clip] | None, what: str) -> None:
    if other is None:
        return
    if len(other) != len(clips):
        raise VsrkitError(f"{len(clips)} GT clips but {len(other)} {what} clips: give index-aligned clip lists")
    for gt, x in zip(clips, other):
        if len(gt) != len(x):
            raise VsrkitError(
                f"clip '{gt.name}' has {len(gt)} GT frames but {len(x)} {what} frames: fix the {what} folder"
            )


def _check_degrade_source(gt: np.ndarray, src: np.ndarray, name: str) -> None:
    # With a protocol, lr_clips are the HR-size frames to degrade (GoPro blur), not an LR set.
    if src.shape[1:3] != gt.shape[1:3]:
        raise VsrkitError(
            f"clip '{name}': with a protocol, lr_clips must match the GT size {gt.shape[1]}x{gt.shape[2]} "
            f"(got {src.shape[1]}x{src.shape[2]}): drop the protocol to use pre-made LR, or drop lr_clips"
        )


def _degraded_item(deg: Degraded, kernel_size: int | None) -> dict[str, Any]:
    item: dict[str, Any] = {"lq": frames_to_tensor(deg.lr)}
    if deg.kernels is not None:
        item["kernels"] = stack_kernels(deg.kernels, kernel_size)
    for name, value in (deg.extra or {}).items():
        item[name] = _array_to_tensor(value)
    return item


class TrainClipDataset(Dataset):
    """Random ``num_frame``-frame training patches (BasicSR-style keys).

    Each item: pick clip ``index % len(clips)``, a temporal interval from ``interval_list`` (shrunk if the clip is
    too short) and a random start; read the frames; crop; flip/rotate all frames alike; optionally reverse time.

    * Pre-made LR: the crop position is drawn on the LR grid and multiplied by ``scale`` (GT patch ``gt_size``,
      LR patch ``gt_size/scale``), which keeps whatever sampling phase the LR generator used. The patches are then
      flipped together, which is exact for block-centred LR (every pre-made set in docs/conventions.md §3.7); for
      phase-0 LR on disk, set ``use_hflip=use_rot=False`` or degrade on the fly instead.
    * On-the-fly LR: the ``gt_size`` HR patch is cropped and flipped **first**, then degraded. Every protocol is a
      local filter (kernels ≤ 31 HR px) followed by subsampling, so inside the patch this equals degrading the full
      frame and cropping, except for a band of about one kernel radius at the patch edge where the protocol's
      border padding stands in for the real neighbours; the official BVSR-IK/DynaVSR loaders do the same, and it
      is ~(H·W)/gt_size² times cheaper than degrading full 720p frames. Flipping before degrading also matters:
      for phase-0 protocols (BVSR-IK: LR k ↔ HR s·k) flipping the LR afterwards would misalign it by s−1 HR pixels.

    Returns per item ``{"lq": (T,3,h,w), "gt": (T,3,H,W), "key": "<clip>/<start:08d>"}``, plus ``"kernels"``
    ``(T,K,K)`` when the protocol returns kernels, the protocol's extras (e.g. ``"lq_sharp"``), and pre-made
    ``extra_clips`` cropped like the LR.

    Args:
        clips: GT clips.
        num_frame: frames per sample (``T``).
        gt_size: GT patch side; a multiple of the scale.
        scale: GT/LR ratio; taken from ``protocol.scale`` when a protocol is given.
        protocol: degradation applied on the fly to each HR patch (``rng`` per item).
        lr_clips: LR clips aligned with ``clips``; without ``protocol`` they are the LR, with it they are the HR-size
            frames to degrade (GT stays ``clips``).
        extra_clips: more pre-made clips cropped like the LR (e.g. ``{"lq_sharp": ...}``); pre-made mode only.
        interval_list: temporal strides to draw from (BasicSR ``interval_list``).
        random_reverse: reverse the frame order with p = 0.5.
        use_hflip, use_rot: BasicSR flips (hflip; vflip + transpose for the rotations).
        dataset_enlarge_ratio: repeat the clip list this many times per epoch (long clips, few items).
        seed: base seed; items use ``SeedSequence([seed, epoch, index])``.
        kernel_size: pad returned kernels to this size (needed for batching variable-size kernels).
        flip_sequence: mirror-extend every sample in time (``T`` frames → ``2T``: 1..T, T..1), as the official
            Vimeo-90K recipes of BasicVSR and IART train recurrent models on 7-frame septuplets.
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        *,
        num_frame: int,
        gt_size: int,
        scale: int | None = None,
        protocol: DegradationProtocol | None = None,
        lr_clips: Sequence[Clip] | None = None,
        extra_clips: Mapping[str, Sequence[Clip]] | None = None,
        interval_list: Sequence[int] = (1,),
        random_reverse: bool = False,
        use_hflip: bool = True,
        use_rot: bool = True,
        dataset_enlarge_ratio: int = 1,
        seed: int = 0,
        kernel_size: int | None = None,
        flip_sequence: bool = False,
    ) -> None:
        if not clips:
            raise VsrkitError("TrainClipDataset got no clips: check the dataset root and split")
        self.clips = list(clips)
        self.scale = _resolve_scale(scale, protocol, lr_clips)
        if gt_size % self.scale:
            raise VsrkitError(f"gt_size {gt_size} is not a multiple of the scale {self.scale}: pick one that is")
        if not interval_list or min(interval_list) < 1:
            raise VsrkitError("interval_list must hold positive integers: e.g. interval_list=[1]")
        if extra_clips and protocol is not None:
            raise VsrkitError("extra_clips are only cropped in pre-made LR mode: drop them or drop the protocol")
        _check_aligned(self.clips, lr_clips, "LR")
        for name, extra in (extra_clips or {}).items():
            _check_aligned(self.clips, extra, name)
        short = [c for c in self.clips if len(c) < num_frame]
        if short:
            raise VsrkitError(
                f"clip '{short[0].name}' has {len(short[0])} frames, fewer than num_frame={num_frame}: lower num_frame"
            )
        self.num_frame = int(num_frame)
        self.gt_size = int(gt_size)
        self.protocol = protocol
        self.lr_clips = list(lr_clips) if lr_clips is not None else None
        self.extra_clips = {k: list(v) for k, v in (extra_clips or {}).items()}
        self.interval_list = [int(i) for i in interval_list]
        self.random_reverse = random_reverse
        self.use_hflip = use_hflip
        self.use_rot = use_rot
        self.enlarge = max(1, int(dataset_enlarge_ratio))
        self.seed = int(seed)
        self.kernel_size = kernel_size
        self.flip_sequence = flip_sequence
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch mixed into every item's seed. Call before each epoch; with ``persistent_workers=True``
        the workers keep their own copy, so recreate the DataLoader iterator or use non-persistent workers."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips) * self.enlarge

    def _frame_indices(self, n: int, rng: np.random.Generator) -> tuple[int, np.ndarray]:
        interval = int(rng.choice(self.interval_list))
        if self.num_frame > 1:
            # Shrink the stride rather than fail when a clip is too short for it.
            interval = max(1, min(interval, (n - 1) // (self.num_frame - 1)))
        span = (self.num_frame - 1) * interval + 1
        start = int(rng.integers(0, n - span + 1))
        idx = start + interval * np.arange(self.num_frame)
        if self.random_reverse and rng.random() < 0.5:
            idx = idx[::-1]
        return start, idx

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        # Two independent streams: augmentation choices never shift the degradation draws (and vice versa).
        seeds = np.random.SeedSequence([self.seed, self.epoch, index]).spawn(2)
        crop_rng, deg_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
        ci = index % len(self.clips)
        clip = self.clips[ci]
        start, idx = self._frame_indices(len(clip), crop_rng)
        gt = clip.read(idx)
        flips = draw_flips(crop_rng, self.use_hflip, self.use_rot)
        item: dict[str, Any]
        if self.protocol is None:
            names = list(self.extra_clips)
            lqs = [self.lr_clips[ci].read(idx)] + [self.extra_clips[k][ci].read(idx) for k in names]
            gt, lqs = paired_random_crop(gt, lqs, self.gt_size, self.scale, crop_rng)
            lqs = [apply_flips(x, flips) for x in lqs]
            item = {"lq": frames_to_tensor(lqs[0])}
            item.update({k: frames_to_tensor(x) for k, x in zip(names, lqs[1:])})
            gt = apply_flips(gt, flips)
        else:
            arrays = [gt] if self.lr_clips is None else [gt, self.lr_clips[ci].read(idx)]
            _check_degrade_source(gt, arrays[-1], clip.name)
            arrays = [np.ascontiguousarray(apply_flips(a, flips)) for a in random_crop(arrays, self.gt_size, crop_rng)]
            deg = self.protocol(arrays[-1], deg_rng)
            item = _degraded_item(deg, self.kernel_size)
            # Degrading the GT itself: the protocol's mod-cropped hr is the target; else crop the GT to match it.
            gt = deg.hr if self.lr_clips is None else arrays[0][:, : deg.hr.shape[1], : deg.hr.shape[2]]
        item["gt"] = frames_to_tensor(gt)
        if self.flip_sequence:
            # BasicSR's flip_sequence (Vimeo-90K recipes): frames 1..T then T..1, for every per-frame entry.
            t = item["gt"].shape[0]
            item = {k: torch.cat([v, v.flip(0)]) if torch.is_tensor(v) and v.dim() and v.shape[0] == t else v
                    for k, v in item.items()}
        item["key"] = f"{clip.name}/{start:08d}"
        return item


class EvalClipDataset(Dataset):
    """One item per whole clip, for validation and benchmarks.

    Returns ``{"lq": (T,3,h,w), "gt": (T,3,H,W), "key": clip_name, "eval_frames": (E,) int64}`` (+ ``"kernels"``
    and protocol extras / ``extra_clips``), where GT is mod-cropped to a multiple of ``scale`` and ``H = scale·h``.
    ``eval_frames`` lists the frames that count for metrics: all of them, or only the centre frame ``T // 2`` with
    ``center_only=True`` — Vimeo-90K-T is this dataset over :func:`~vsrkit.data.layouts.vimeo90k` septuplets with
    ``center_only=True`` (the model sees all 7 frames, only ``im4`` is scored).

    On-the-fly protocols get ``default_rng([seed, index])`` per clip, so random test degradations (e.g. DynaVSR's
    mixed kernels) are the same on every run and in every loader order.

    Args:
        clips: GT clips.
        scale: GT/LR ratio (from ``protocol.scale`` when a protocol is given).
        protocol / lr_clips / extra_clips: as in :class:`TrainClipDataset`.
        max_frames: read at most this many frames per clip (from the start).
        center_only: score only the centre frame.
        seed: base seed for on-the-fly degradations.
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        *,
        scale: int | None = None,
        protocol: DegradationProtocol | None = None,
        lr_clips: Sequence[Clip] | None = None,
        extra_clips: Mapping[str, Sequence[Clip]] | None = None,
        max_frames: int | None = None,
        center_only: bool = False,
        seed: int = 0,
    ) -> None:
        if not clips:
            raise VsrkitError("EvalClipDataset got no clips: check the dataset root and split")
        self.clips = list(clips)
        self.scale = _resolve_scale(scale, protocol, lr_clips)
        if extra_clips and protocol is not None:
            raise VsrkitError("extra_clips are only read in pre-made LR mode: drop them or drop the protocol")
        _check_aligned(self.clips, lr_clips, "LR")
        for name, extra in (extra_clips or {}).items():
            _check_aligned(self.clips, extra, name)
        self.protocol = protocol
        self.lr_clips = list(lr_clips) if lr_clips is not None else None
        self.extra_clips = {k: list(v) for k, v in (extra_clips or {}).items()}
        self.max_frames = max_frames
        self.center_only = center_only
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.clips)

    def _lr_matched_gt(self, gt: np.ndarray, lr_shape: tuple[int, ...], name: str) -> np.ndarray:
        gt = mod_crop(gt, self.scale)
        h, w = lr_shape[1:3]
        if gt.shape[1:3] != (h * self.scale, w * self.scale):
            raise VsrkitError(
                f"clip '{name}': GT {gt.shape[1]}x{gt.shape[2]} (mod-cropped) is not {self.scale}x the LR {h}x{w}: "
                "check the scale and the LR folder"
            )
        return gt

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        clip = self.clips[index]
        gt = clip.read_all(self.max_frames)
        item: dict[str, Any]
        if self.protocol is None:
            lq = self.lr_clips[index].read_all(self.max_frames)
            gt = self._lr_matched_gt(gt, lq.shape, clip.name)
            item = {"lq": frames_to_tensor(lq)}
            item.update({k: frames_to_tensor(v[index].read_all(self.max_frames)) for k, v in self.extra_clips.items()})
        else:
            src = gt if self.lr_clips is None else self.lr_clips[index].read_all(self.max_frames)
            _check_degrade_source(gt, src, clip.name)
            deg = self.protocol(src, np.random.default_rng([self.seed, index]))
            item = _degraded_item(deg, None)
            gt = deg.hr if self.lr_clips is None else self._lr_matched_gt(gt, deg.lr.shape, clip.name)
        T = gt.shape[0]
        item["gt"] = frames_to_tensor(gt)
        item["key"] = clip.name
        item["eval_frames"] = torch.tensor([T // 2] if self.center_only else list(range(T)), dtype=torch.int64)
        return item
