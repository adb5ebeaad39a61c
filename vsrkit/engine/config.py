"""YAML training configs with BasicSR-familiar keys, ``--set a.b=value`` overrides, and the builders that turn a
config section into models, datasets and protocols.

A config is a plain nested ``dict``; the keys are documented in ``configs/README.md`` and in each config file.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from vsrkit.errors import VsrkitError


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-4`` (no dot) as a string; configs are full of such learning rates, so read them as floats."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def load_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read a YAML config and apply ``key.sub=value`` overrides (values parsed as YAML: ``1e-4``, ``[1, 2]``)."""
    path = Path(path)
    if not path.is_file():
        raise VsrkitError(f"config {str(path)!r} does not exist: check the path (examples are in configs/)")
    try:
        cfg = _load_yaml(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise VsrkitError(f"config {str(path)!r} is not valid YAML ({str(exc).splitlines()[0]}): fix the file") from None
    if not isinstance(cfg, dict):
        raise VsrkitError(f"config {str(path)!r} must be a mapping of keys: fix the file")
    for item in overrides or []:
        apply_override(cfg, item)
    return cfg


def apply_override(cfg: dict[str, Any], item: str) -> None:
    """Set ``cfg[a][b] = value`` for ``item = "a.b=value"`` (creating intermediate mappings)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise VsrkitError(f"override {item!r} is not key=value: write e.g. --set train.total_iter=1000")
    try:
        value = _load_yaml(raw) if raw else None
    except yaml.YAMLError:
        value = raw
    node = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise VsrkitError(f"override {item!r}: {part!r} is not a section: check the key path")
        node = nxt
    node[parts[-1]] = value


def get(cfg: dict[str, Any], key: str, default: Any = None) -> Any:
    """``get(cfg, "train.optim_g.lr", 1e-4)``: a nested lookup with a default."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def require(cfg: dict[str, Any], key: str) -> Any:
    value = get(cfg, key)
    if value is None:
        raise VsrkitError(f"config is missing {key!r}: add it to the YAML file or pass --set {key}=...")
    return value


def deep_copy(cfg: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(cfg)


# ----------------------------------------------------------------------------------------------------------------
# Builders: config section -> object
# ----------------------------------------------------------------------------------------------------------------
def build_protocol(section: dict[str, Any], scale: int):
    """``protocol: bi`` or ``protocol: {name: realistic, noise: 10, ...}`` → a :mod:`vsrkit.degrade` protocol."""
    from vsrkit.degrade import get_protocol

    spec = section.get("protocol")
    if spec is None:
        return None
    if isinstance(spec, str):
        return get_protocol(spec, scale=scale)
    spec = dict(spec)
    name = spec.pop("name", None)
    if name is None:
        raise VsrkitError("a protocol mapping needs a 'name': e.g. protocol: {name: bi}")
    return get_protocol(name, scale=scale, **spec)


def build_clip_lists(section: dict[str, Any]):
    """The ``type`` of a dataset section → ``ClipLists`` (gt, lq, extra)."""
    from vsrkit.data import ClipLists, folder_or_video, gopro, reds, sample_clip, udm10, vid4, vimeo90k

    kind = section.get("type", "folder")
    cache = int(float(section.get("cache_mb", 512)) * 2**20)
    if kind == "samples":
        from vsrkit.data.clips import Clip

        if section.get("split") is not None and section.get("clips"):
            raise VsrkitError("a 'samples' dataset takes 'clips' or 'split', not both: drop one")
        if section.get("split") is not None:
            from vsrkit.data.splits import split_clips

            names = list(split_clips(str(section["split"])))
        else:
            names = section.get("clips") or []
        if not names:
            raise VsrkitError("a 'samples' dataset needs 'split' or 'clips': e.g. split: train, or clips: [bikes]")
        paths = [sample_clip(n) for n in names]
        return ClipLists([Clip(p.stem, p, cache_bytes=cache) for p in paths], None, {})
    if kind == "folder":
        gt = folder_or_video(require(section, "dataroot_gt"), cache_bytes=cache)
        lq = folder_or_video(section["dataroot_lq"], cache_bytes=cache) if section.get("dataroot_lq") else None
        return ClipLists(gt, lq, {})
    root = require(section, "dataroot")
    if kind == "reds":
        return reds(root, split=section.get("split", "train-no-reds4"), kind=section.get("kind", "sharp"),
                    cache_bytes=cache)
    if kind == "vid4":
        return vid4(root, lr=section.get("lr"), cache_bytes=cache)
    if kind == "udm10":
        return udm10(root, lr=section.get("lr"), cache_bytes=cache)
    if kind == "vimeo90k":
        return vimeo90k(root, list_file=section.get("list_file", "sep_trainlist.txt"), lr=section.get("lr"),
                        cache_bytes=cache)
    if kind == "gopro":
        return gopro(root, split=section.get("split", "train"), blur_folder=section.get("blur_folder", "blur"),
                     cache_bytes=cache)
    raise VsrkitError(f"unknown dataset type {kind!r}: use samples, folder, reds, vid4, udm10, vimeo90k or gopro")


def build_motion_dataset(section: dict[str, Any], scale: int, seed: int, *, train: bool):
    """``type: motion``: clips with known camera motion rendered from photos (:mod:`vsrkit.data.motion`).

    Keys: ``photos`` (files, folders, ``skimage:NAME``), ``photo_split`` (``train``/``val``: only that split of a
    folder prepared by ``vsrkit prepare-photos``, read from its manifest), ``clips`` (sample clips / videos whose
    every ``clip_frame_step``-th frame is a photo), ``motion`` (:class:`~vsrkit.data.motion.MotionSettings`
    fields), ``num_frame``, ``gt_size``, ``protocol``, ``dataset_enlarge_ratio``, ``random_reverse``,
    ``flip_sequence``, ``kernel_size``, ``cache_mb`` (photos kept decoded). Validation sets render the same clips on
    every call (epoch 0, their own seed)."""
    from vsrkit.data.motion import MotionClipDataset, MotionSettings, photo_sources

    photos = list(section.get("photos") or [])
    split = section.get("photo_split")
    if split:
        from vsrkit.data.wallpapers import split_files

        photos = [f for p in photos for f in split_files(p, split)]
    sources = photo_sources(photos, section.get("clips") or [], int(section.get("clip_frame_step", 25)))
    return MotionClipDataset(
        sources,
        num_frame=int(section.get("num_frame", 7)),
        gt_size=int(section.get("gt_size", 128)),
        protocol=build_protocol(section, scale),
        scale=scale,
        settings=MotionSettings.from_dict(section.get("motion")),
        dataset_enlarge_ratio=int(section.get("dataset_enlarge_ratio", 1)),
        seed=seed if train else seed + 7919,
        kernel_size=section.get("kernel_size"),
        random_reverse=bool(section.get("random_reverse", False)) and train,
        flip_sequence=bool(section.get("flip_sequence", False)),
        cache_bytes=int(float(section.get("cache_mb", 512)) * 2**20),
    )


def build_train_dataset(section: dict[str, Any], scale: int, seed: int):
    from vsrkit.data import TrainClipDataset

    if section.get("type") == "motion":
        return build_motion_dataset(section, scale, seed, train=True)
    if section.get("type") == "images":  # single-image collections (vsrkit.data.images)
        from vsrkit.data.images import build_image_dataset

        return build_image_dataset(section, scale, seed, train=True)
    lists = build_clip_lists(section)
    protocol = build_protocol(section, scale)
    return TrainClipDataset(
        lists.gt,
        num_frame=int(section.get("num_frame", 7)),
        gt_size=int(section.get("gt_size", 128)),
        scale=scale,
        protocol=protocol,
        lr_clips=lists.lq,
        extra_clips=lists.extra or None if protocol is None else None,
        interval_list=section.get("interval_list", [1]),
        random_reverse=bool(section.get("random_reverse", False)),
        use_hflip=bool(section.get("use_hflip", True)),
        use_rot=bool(section.get("use_rot", True)),
        dataset_enlarge_ratio=int(section.get("dataset_enlarge_ratio", 1)),
        seed=seed,
        kernel_size=section.get("kernel_size"),
        flip_sequence=bool(section.get("flip_sequence", False)),
    )


def build_eval_dataset(section: dict[str, Any], scale: int, seed: int = 0):
    from vsrkit.data import EvalClipDataset

    if section.get("type") == "motion":
        return build_motion_dataset(section, scale, seed, train=False)
    if section.get("type") == "images":  # single-image collections (vsrkit.data.images)
        from vsrkit.data.images import build_image_dataset

        return build_image_dataset(section, scale, seed, train=False)
    lists = build_clip_lists(section)
    protocol = build_protocol(section, scale)
    return EvalClipDataset(
        lists.gt,
        scale=scale,
        protocol=protocol,
        lr_clips=lists.lq,
        extra_clips=lists.extra or None if protocol is None else None,
        max_frames=section.get("max_frames"),
        center_only=bool(section.get("center_only", False)),
        seed=seed,
    )
