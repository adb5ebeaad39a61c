"""YAML training configs with BasicSR-familiar keys, ``--set a.b=value`` overrides, and the builders that turn a
config section into datasets and protocols.

:func:`read_config` reads the YAML mapping and applies overrides; checking it against the schema and the chosen
recipe's options (unknown keys and wrong types fail with one line) is the training layer's
:func:`vsrkit.engine.recipes.load_config`, since only that layer knows the recipes. Every key is listed in
``configs/README.md``, generated from the schema.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from vsrkit.data.protocol_spec import protocol_from_spec
from vsrkit.engine.schema import (DATASET_TYPES, ClipDatasetSection, DatasetSection, ImagesDataset, MotionDataset,
                                  check_section)
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


def read_config(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read a YAML config and apply ``key.sub=value`` overrides (values parsed as YAML: ``1e-4``, ``[1, 2]``) → the
    plain mapping, not yet checked against the schema (:func:`vsrkit.engine.recipes.load_config` checks it). A
    missing, binary or malformed file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise VsrkitError(f"config {str(path)!r} does not exist: check the path (examples are in configs/)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise VsrkitError(f"config {str(path)!r} is not a text file (not UTF-8): give a YAML config "
                          "(examples are in configs/)") from None
    try:
        cfg = _load_yaml(text) or {}
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
    """``get(cfg, "train.optim_g.lr", 1e-4)``: a nested lookup in a raw mapping with a default (the engine reads
    the typed :class:`~vsrkit.engine.schema.TrainConfig` instead; kept for scripts and tests)."""
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
def build_protocol(section: dict[str, Any] | DatasetSection, scale: int):
    """A dataset section's ``protocol`` (``bi`` or ``{name: realistic, noise: 10, ...}``) → a :mod:`vsrkit.degrade`
    protocol, or ``None``."""
    spec = section.protocol if isinstance(section, DatasetSection) else section.get("protocol")
    return protocol_from_spec(spec, scale)


def dataset_section(section: dict[str, Any] | DatasetSection, path: str = "dataset") -> DatasetSection:
    """A dataset mapping → its typed section (per ``type``). Types are checked; keys that the type does not take are
    ignored here (a mapping built by a command may carry keys for several layouts; config files are checked whole
    by :func:`vsrkit.engine.recipes.check_config`)."""
    if isinstance(section, DatasetSection):
        return section
    kind = section.get("type", "folder")
    if kind not in DATASET_TYPES:
        raise VsrkitError(f"unknown dataset type {kind!r}: use {', '.join(DATASET_TYPES)}")
    cls = DATASET_TYPES[kind]
    known = {f for f in cls.__dataclass_fields__}
    return check_section(cls, {k: v for k, v in section.items() if k in known}, path)


def _cache_bytes(section: ClipDatasetSection | MotionDataset) -> int:
    return int(float(section.cache_mb) * 2**20)


def _required(value: Any, key: str) -> Any:
    if value is None:
        raise VsrkitError(f"config is missing {key!r}: add it to the dataset section")
    return value


def build_clip_lists(section: dict[str, Any] | DatasetSection):
    """The ``type`` of a clip dataset section → ``ClipLists`` (gt, lq, extra)."""
    from vsrkit.data import ClipLists, folder_or_video, gopro, reds, sample_clip, udm10, vid4, vimeo90k

    s = dataset_section(section)
    kind, cache = s.type, _cache_bytes(s)
    if kind == "samples":
        from vsrkit.data.clips import Clip

        if s.split is not None and s.clips:
            raise VsrkitError("a 'samples' dataset takes 'clips' or 'split', not both: drop one")
        if s.split is not None:
            from vsrkit.data.splits import split_clips

            names = list(split_clips(str(s.split)))
        else:
            names = s.clips
        if not names:
            raise VsrkitError("a 'samples' dataset needs 'split' or 'clips': e.g. split: train, or clips: [bikes]")
        paths = [sample_clip(n) for n in names]
        return ClipLists([Clip(p.stem, p, cache_bytes=cache) for p in paths], None, {})
    if kind == "folder":
        gt = folder_or_video(_required(s.dataroot_gt, "dataroot_gt"), cache_bytes=cache)
        lq = folder_or_video(s.dataroot_lq, cache_bytes=cache) if s.dataroot_lq else None
        return ClipLists(gt, lq, {})
    if kind not in ("reds", "vid4", "udm10", "vimeo90k", "gopro"):
        raise VsrkitError(f"dataset type {kind!r} is not a clip dataset: use samples, folder, reds, vid4, udm10, "
                          "vimeo90k or gopro")
    root = _required(s.dataroot, "dataroot")
    if kind == "reds":
        return reds(root, split=s.split, kind=s.kind, cache_bytes=cache)
    if kind == "vid4":
        return vid4(root, lr=s.lr, cache_bytes=cache)
    if kind == "udm10":
        return udm10(root, lr=s.lr, cache_bytes=cache)
    if kind == "vimeo90k":
        return vimeo90k(root, list_file=s.list_file, lr=s.lr, cache_bytes=cache)
    return gopro(root, split=s.split, blur_folder=s.blur_folder, cache_bytes=cache)


def build_motion_dataset(section: dict[str, Any] | MotionDataset, scale: int, seed: int, *, train: bool):
    """``type: motion``: clips with known camera motion rendered from photos (:mod:`vsrkit.data.motion`); the keys
    are :class:`~vsrkit.engine.schema.MotionDataset`'s. Validation sets render the same clips on every call
    (epoch 0, their own seed)."""
    from vsrkit.data.motion import MotionClipDataset, MotionSettings, photo_sources

    s = dataset_section(section)
    photos = list(s.photos)
    if s.photo_split:
        from vsrkit.data.wallpapers import split_files

        photos = [f for p in photos for f in split_files(p, s.photo_split)]
    sources = photo_sources(photos, s.clips, s.clip_frame_step)
    return MotionClipDataset(
        sources, num_frame=s.num_frame, gt_size=s.gt_size, protocol=build_protocol(s, scale), scale=scale,
        settings=MotionSettings.from_dict(s.motion), dataset_enlarge_ratio=s.dataset_enlarge_ratio,
        seed=seed if train else seed + 7919, kernel_size=s.kernel_size, random_reverse=s.random_reverse and train,
        flip_sequence=s.flip_sequence, cache_bytes=_cache_bytes(s),
    )


def _image_dataset(s: ImagesDataset, scale: float, seed: int, *, train: bool):
    from vsrkit.data.images import build_image_dataset

    return build_image_dataset(s.images, scale, seed, train=train, protocol=s.protocol, gt_size=s.gt_size,
                               use_hflip=s.use_hflip, use_rot=s.use_rot,
                               dataset_enlarge_ratio=s.dataset_enlarge_ratio, eval_scale=s.eval_scale,
                               crop_multiple=s.crop_multiple, max_side=s.max_side)


def build_train_dataset(section: dict[str, Any] | DatasetSection, scale: int, seed: int):
    """A ``datasets.train`` section → the training dataset of its ``type``."""
    from vsrkit.data import TrainClipDataset

    s = dataset_section(section, "datasets.train")
    if isinstance(s, MotionDataset):
        return build_motion_dataset(s, scale, seed, train=True)
    if isinstance(s, ImagesDataset):
        return _image_dataset(s, scale, seed, train=True)
    lists = build_clip_lists(s)
    protocol = build_protocol(s, scale)
    return TrainClipDataset(
        lists.gt, num_frame=s.num_frame, gt_size=s.gt_size, scale=scale, protocol=protocol, lr_clips=lists.lq,
        extra_clips=lists.extra or None if protocol is None else None, interval_list=s.interval_list,
        random_reverse=s.random_reverse, use_hflip=s.use_hflip, use_rot=s.use_rot,
        dataset_enlarge_ratio=s.dataset_enlarge_ratio, seed=seed, kernel_size=s.kernel_size,
        flip_sequence=s.flip_sequence,
    )


def build_eval_dataset(section: dict[str, Any] | DatasetSection, scale: float, seed: int = 0):
    """A ``datasets.val`` section (or one built by a command) → the evaluation dataset of its ``type``."""
    from vsrkit.data import EvalClipDataset

    s = dataset_section(section, "datasets.val")
    if isinstance(s, MotionDataset):
        return build_motion_dataset(s, scale, seed, train=False)
    if isinstance(s, ImagesDataset):
        return _image_dataset(s, scale, seed, train=False)
    lists = build_clip_lists(s)
    protocol = build_protocol(s, scale)
    return EvalClipDataset(
        lists.gt, scale=scale, protocol=protocol, lr_clips=lists.lq,
        extra_clips=lists.extra or None if protocol is None else None, max_frames=s.max_frames,
        center_only=s.center_only, seed=seed,
    )
