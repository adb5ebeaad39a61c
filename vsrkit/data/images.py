"""Image collections for single-image training and evaluation (SR-INR's image setting).

Items follow the video datasets' batch format with ``T = 1``: ``lq (1, 3, h, w)``, ``gt (1, 3, H, W)``, ``key``,
so the generic training loop, validation and :func:`vsrkit.engine.evaluate.predict_clips` work unchanged.

Images are named as ``skimage:NAME`` (the photos bundled with scikit-image, e.g. ``skimage:astronaut``; grey ones
are repeated to RGB) or as file paths / folders of PNG/JPG files.

* :class:`ImageTrainDataset`: random ``gt_size`` crops, flips/rotations, LR by a :mod:`vsrkit.degrade` protocol
  (``bi`` = MATLAB bicubic); randomness is a pure function of ``(seed, epoch, index)`` like the clip datasets.
* :class:`ImageEvalDataset`: whole images centre-cropped to a multiple of ``crop_multiple`` (so every evaluated
  scale divides the size exactly), LR = MATLAB bicubic ``imresize(gt, 1/scale)`` rounded to 8 bits, for **any real
  scale** (e.g. 3.5; the ``bi`` protocol is integer-only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vsrkit.data.splits import PHOTOS
from vsrkit.errors import VsrkitError

__all__ = ["SKIMAGE_TRAIN", "SKIMAGE_HELDOUT", "load_image", "expand_images", "ImageTrainDataset", "ImageEvalDataset",
           "bicubic_lr"]

#: scikit-image photos used for training by ``configs/srinr_small_images.yaml`` (``cat`` is ``chelsea``: excluded)
SKIMAGE_TRAIN = tuple(p.split(":", 1)[1] for p in PHOTOS["train"] if p.startswith("skimage:"))
#: held out from training (they validated the shipped SR-INR; the test photos are ``PHOTOS["test"]``)
SKIMAGE_HELDOUT = tuple(p.split(":", 1)[1] for p in PHOTOS["validation"] if p.startswith("skimage:"))


def load_image(spec: str | Path) -> np.ndarray:
    """``skimage:NAME``, ``opencv:NAME`` (a photo of Debian's opencv-doc) or a file path → ``(H, W, 3)`` uint8 RGB."""
    text = str(spec)
    if text.startswith("opencv:"):
        from vsrkit.data.samples import OPENCV_DOC

        name = text[len("opencv:"):]
        found = [p for p in (OPENCV_DOC / "examples" / "data").glob(f"{name}.*") if p.suffix in (".jpg", ".png")]
        if not found:
            raise VsrkitError(f"photo {text!r} needs Debian's opencv-doc (apt-get install opencv-doc), or the name "
                              "is wrong: see /usr/share/doc/opencv-doc/examples/data")
        text = str(found[0])
    if text.startswith("skimage:"):
        try:
            import skimage.data
        except ImportError:  # an optional extra: the photos are the only thing vsrkit takes from it
            raise VsrkitError(f"photo {text!r} needs scikit-image: pip install scikit-image (or vsrkit[photos])") \
                from None

        name = text[len("skimage:"):]
        fn = getattr(skimage.data, name, None)
        if fn is None:
            raise VsrkitError(f"scikit-image has no sample image {name!r}: see skimage.data")
        img = np.asarray(fn())
    else:
        from vsrkit.io import read_image

        img = read_image(text)
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.shape[-1] == 4:
        img = img[..., :3]
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[-1] != 3:
        raise VsrkitError(f"image {text!r} is not 8-bit RGB/grey (shape {img.shape}, {img.dtype})")
    return np.ascontiguousarray(img)


def expand_images(specs: Sequence[str]) -> list[str]:
    """Expand folders into their PNG/JPG files (natural order); keep ``skimage:`` names and files."""
    out: list[str] = []
    for s in specs:
        p = Path(str(s))
        if not str(s).startswith(("skimage:", "opencv:")) and p.is_dir():
            from vsrkit.io import list_frames

            out.extend(str(f) for f in list_frames(p))
        else:
            out.append(str(s))
    if not out:
        raise VsrkitError("an images dataset needs 'images': e.g. images: [skimage:astronaut, photos/]")
    return out


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255.0)[None]


def bicubic_lr(gt: torch.Tensor, scale: float) -> torch.Tensor:
    """MATLAB bicubic ``imresize(gt, 1/scale)`` of ``(..., 3, H, W)`` in [0, 1], rounded to 8-bit levels."""
    from vsrkit.ops.resize import imresize

    return imresize(gt, 1.0 / float(scale)).mul(255.0).round().clamp(0, 255).div(255.0)


class ImageTrainDataset(Dataset):
    """Random crops of an image collection, degraded by ``protocol``; ``len = n_images · enlarge``."""

    def __init__(self, images: Sequence[str], *, gt_size: int, scale: int, protocol: Any, use_hflip: bool = True,
                 use_rot: bool = True, dataset_enlarge_ratio: int = 1, seed: int = 0) -> None:
        self.names = expand_images(images)
        self.images = [load_image(n) for n in self.names]
        small = [n for n, im in zip(self.names, self.images) if min(im.shape[:2]) < gt_size]
        if small:
            raise VsrkitError(f"images smaller than gt_size {gt_size}: {', '.join(small)}: lower gt_size")
        if protocol is None:
            raise VsrkitError("an images training set needs a protocol (e.g. protocol: bi)")
        self.gt_size, self.scale, self.protocol = gt_size, scale, protocol
        self.use_hflip, self.use_rot, self.enlarge, self.seed = use_hflip, use_rot, dataset_enlarge_ratio, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.images) * self.enlarge

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        crop_seed, deg_seed = np.random.SeedSequence([self.seed, self.epoch, index]).spawn(2)
        rng = np.random.default_rng(crop_seed)
        i = index % len(self.images)
        img = self.images[i]
        h, w = img.shape[:2]
        y, x = int(rng.integers(0, h - self.gt_size + 1)), int(rng.integers(0, w - self.gt_size + 1))
        crop = img[y : y + self.gt_size, x : x + self.gt_size]
        if self.use_hflip and rng.random() < 0.5:
            crop = crop[:, ::-1]
        if self.use_rot and rng.random() < 0.5:
            crop = crop[::-1]
        if self.use_rot and rng.random() < 0.5:
            crop = crop.transpose(1, 0, 2)
        deg = self.protocol(np.ascontiguousarray(crop), np.random.default_rng(deg_seed))
        lr = deg.lr[0]
        lq = _to_tensor(lr) if lr.dtype == np.uint8 else torch.from_numpy(lr).permute(2, 0, 1)[None].float()
        return {"lq": lq, "gt": _to_tensor(deg.hr[0]), "key": f"{Path(self.names[i]).stem}/{index:08d}"}


class ImageEvalDataset(Dataset):
    """Whole images (centre-cropped to a multiple of ``crop_multiple``), LR by MATLAB bicubic at any real scale."""

    def __init__(self, images: Sequence[str], *, scale: float, crop_multiple: int | None = None,
                 max_side: int | None = None) -> None:
        self.names = expand_images(images)
        self.scale = float(scale)
        self.crop_multiple = crop_multiple
        self.max_side = max_side

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict[str, Any]:
        img = load_image(self.names[index])
        h, w = img.shape[:2]
        if self.max_side:
            h, w = min(h, self.max_side), min(w, self.max_side)
        m = self.crop_multiple
        if m is None:  # the smallest multiple that makes scale·(LR size) an integer for this scale
            from fractions import Fraction

            m = Fraction(self.scale).limit_denominator(64).numerator
        h, w = h - h % m, w - w % m
        y, x = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
        gt = _to_tensor(img[y : y + h, x : x + w])
        return {"lq": bicubic_lr(gt, self.scale), "gt": gt, "key": Path(self.names[index]).stem,
                "eval_frames": torch.tensor([0])}


def build_image_dataset(images: Sequence[str], scale: float, seed: int, *, train: bool, protocol: Any = None,
                        gt_size: int = 96, use_hflip: bool = True, use_rot: bool = True,
                        dataset_enlarge_ratio: int = 1, eval_scale: float | None = None,
                        crop_multiple: int | None = None, max_side: int | None = None):
    """A ``type: images`` dataset: :class:`ImageTrainDataset` (``train``) or :class:`ImageEvalDataset`.
    ``protocol``: a config protocol spec (:func:`vsrkit.data.protocol_spec.protocol_from_spec`)."""
    images = list(images or [])
    if not images:
        raise VsrkitError("an 'images' dataset needs 'images': e.g. images: [skimage:astronaut]")
    if train:
        from vsrkit.data.protocol_spec import protocol_from_spec

        return ImageTrainDataset(
            images, gt_size=int(gt_size), scale=int(scale), protocol=protocol_from_spec(protocol, scale),
            use_hflip=use_hflip, use_rot=use_rot, dataset_enlarge_ratio=int(dataset_enlarge_ratio), seed=seed)
    return ImageEvalDataset(images, scale=float(scale if eval_scale is None else eval_scale),
                            crop_multiple=crop_multiple, max_side=max_side)
