"""The training config's schema: one dataclass per section, every key with its type, default and meaning.

:func:`validate` checks a loaded YAML mapping against it (unknown keys and wrong types fail with one line that
names the key and, for a typo, the nearest valid key) and returns the typed :class:`TrainConfig`. Recipes declare
their own option sections (``OPTIONS`` in each module of :mod:`vsrkit.engine.recipes`), checked once the recipe is
known: the recipe layer passes them in (:func:`vsrkit.engine.recipes.check_config`), so this module never imports
a recipe. :func:`render_docs` renders ``configs/README.md`` from these declarations and the recipes' (written by
``python -m vsrkit.engine.train --write-config-docs``); ``tests/test_config.py`` keeps that file current.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

from vsrkit.errors import VsrkitError


def opt(default: Any, doc: str) -> Any:
    """A config key: its default (a list/dict default is copied per instance) and its one-line meaning."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


# ----------------------------------------------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class ModelSection:
    name: str | None = opt(None, "registered model name (`vsrkit models`); required")
    variant: str | None = opt(None, "model variant; the model's default variant when empty")
    overrides: dict = opt({}, "constructor arguments that replace the variant's (e.g. num_feat: 32)")
    init_weights: str | None = opt(None, "weights file to start from (strict load); a resume state overrides it")
    init_flow: str | None = opt(None, "flow-network weights to start a video model's flow branch from "
                                      "(e.g. shipped:spynet)")


@dataclass
class DatasetSection:
    """Keys every dataset type takes."""

    type: str = opt("folder", "dataset type; decides which other keys apply (see the per-type tables)")
    batch_size_per_gpu: int = opt(1, "training samples per GPU per iteration")
    num_worker_per_gpu: int = opt(0, "DataLoader worker processes per GPU")
    protocol: str | dict | None = opt(None, "degradation making LR from GT: a name (bi, bd, ...) or "
                                            "{name: ..., option: value}; none = LR read from disk")


@dataclass
class ClipDatasetSection(DatasetSection):
    """Keys of the clip dataset types (samples, folder, reds, vid4, udm10, vimeo90k, gopro)."""

    cache_mb: float = opt(512, "decoded frames kept in memory per clip list, MiB")
    num_frame: int = opt(7, "frames per training sample")
    gt_size: int = opt(128, "GT crop side of a training sample, pixels")
    interval_list: list = opt([1], "frame strides to sample from (one chosen at random per sample)")
    random_reverse: bool = opt(False, "reverse a training sample's frame order at random")
    use_hflip: bool = opt(True, "random horizontal flips")
    use_rot: bool = opt(True, "random vertical flips and transposes")
    dataset_enlarge_ratio: int = opt(1, "repeat the clip list this many times per epoch")
    kernel_size: int | None = opt(None, "side of the blur kernel returned with a sample (kernel-aware methods)")
    flip_sequence: bool = opt(False, "append the reversed sequence to each training sample (BasicVSR style)")
    max_frames: int | None = opt(None, "validation: score at most this many frames per clip")
    center_only: bool = opt(False, "validation: score only the centre frame of each clip")


@dataclass
class SamplesDataset(ClipDatasetSection):
    split: str | None = opt(None, "a named split of the bundled sample clips (train, val, test)")
    clips: list = opt([], "sample clip names (instead of split)")


@dataclass
class FolderDataset(ClipDatasetSection):
    dataroot_gt: str | None = opt(None, "GT frames: a folder of clip folders, one clip folder, or a video; required")
    dataroot_lq: str | None = opt(None, "matching LR frames (else LR comes from protocol)")


@dataclass
class RedsDataset(ClipDatasetSection):
    dataroot: str | None = opt(None, "REDS root folder; required")
    split: str = opt("train-no-reds4", "REDS split (train-no-reds4, reds4, val, ...)")
    kind: str = opt("sharp", "REDS frame kind (sharp, blur, ...)")


@dataclass
class Vid4Dataset(ClipDatasetSection):
    dataroot: str | None = opt(None, "Vid4 root folder; required")
    lr: str | None = opt(None, "LR folder name inside the root (else LR comes from protocol)")


@dataclass
class Udm10Dataset(Vid4Dataset):
    dataroot: str | None = opt(None, "UDM10 root folder; required")


@dataclass
class Vimeo90kDataset(ClipDatasetSection):
    dataroot: str | None = opt(None, "Vimeo-90K septuplet root folder; required")
    list_file: str = opt("sep_trainlist.txt", "list of septuplets to use")
    lr: str | None = opt(None, "LR folder name inside the root (else LR comes from protocol)")


@dataclass
class GoproDataset(ClipDatasetSection):
    dataroot: str | None = opt(None, "GoPro root folder; required")
    split: str = opt("train", "GoPro split (train, test)")
    blur_folder: str = opt("blur", "folder of blurred frames inside each clip")


@dataclass
class MotionDataset(DatasetSection):
    """Clips with known camera motion rendered from photos (``vsrkit.data.motion``)."""

    photos: list = opt([], "photo files, folders or skimage:NAME")
    photo_split: str | None = opt(None, "only this split (train/val) of a folder made by `vsrkit prepare-photos`")
    clips: list = opt([], "sample clips or videos whose every clip_frame_step-th frame is used as a photo")
    clip_frame_step: int = opt(25, "frame step when taking photos from clips")
    motion: dict | None = opt(None, "MotionSettings fields (vsrkit.data.motion)")
    num_frame: int = opt(7, "frames per rendered clip")
    gt_size: int = opt(128, "GT side of a rendered clip, pixels")
    dataset_enlarge_ratio: int = opt(1, "rendered clips per photo per epoch")
    random_reverse: bool = opt(False, "training: reverse a clip's frame order at random")
    flip_sequence: bool = opt(False, "append the reversed sequence to each sample")
    kernel_size: int | None = opt(None, "side of the blur kernel returned with a sample")
    cache_mb: float = opt(512, "decoded photos kept in memory, MiB")


@dataclass
class ImagesDataset(DatasetSection):
    """Single-image collections (``vsrkit.data.images``)."""

    images: list = opt([], "image files, folders, skimage:NAME or sample photo names")
    gt_size: int = opt(96, "training: GT crop side, pixels")
    use_hflip: bool = opt(True, "training: random horizontal flips")
    use_rot: bool = opt(True, "training: random vertical flips and transposes")
    dataset_enlarge_ratio: int = opt(1, "training: repeat the image list this many times per epoch")
    eval_scale: float | None = opt(None, "validation: scale factor (may be fractional); default the config's scale")
    crop_multiple: int | None = opt(None, "validation: crop GT to a multiple of this")
    max_side: int | None = opt(None, "validation: centre-crop GT to at most this side")


DATASET_TYPES: dict[str, type[DatasetSection]] = {
    "samples": SamplesDataset, "folder": FolderDataset, "reds": RedsDataset, "vid4": Vid4Dataset,
    "udm10": Udm10Dataset, "vimeo90k": Vimeo90kDataset, "gopro": GoproDataset, "motion": MotionDataset,
    "images": ImagesDataset,
}


@dataclass
class DatasetsSection:
    train: DatasetSection | None = opt(None, "training data; required")
    val: DatasetSection | None = opt(None, "validation data; none = no validation")


@dataclass
class TrainSection:
    total_iter: int | None = opt(None, "iterations to train; required")
    recipe: str = opt("default", "training recipe (see Recipes below)")
    optim_g: dict = opt({"type": "Adam", "lr": 2e-4}, "optimiser: {type: Adam|AdamW, lr, betas, weight_decay}")
    scheduler: dict | None = opt(None, "BasicSR-style schedule: {type: CosineAnnealingRestartLR|MultiStepLR|"
                                       "ConstantLR, ...}; a recipe may replace it")
    warmup_iter: int = opt(0, "linear learning-rate warm-up iterations")
    pixel_opt: dict | None = opt(None, "one loss: {type: CharbonnierLoss|L1Loss, loss_weight, eps}")
    losses: dict | None = opt(None, "named losses {name: {type, loss_weight, ...}} (instead of pixel_opt)")
    ema_decay: float = opt(0.0, "exponential moving average of the weights (0 = off; e.g. 0.999)")
    precision: str = opt("fp32", "fp32, bf16 or fp16 (mixed precision)")
    grad_clip: float | None = opt(None, "clip the gradient norm to this value")
    param_groups: list = opt([], "[{prefix, lr_mul, freeze_iters}]: per-parameter-prefix learning rates")
    flow_lr_mul: float | None = opt(None, "BasicSR alias: lr_mul of the spynet. group")
    fix_flow: int | None = opt(None, "BasicSR alias: freeze_iters of the spynet. group")
    find_unused_parameters: bool = opt(False, "DDP: allow parameters without gradients")


@dataclass
class ValSection:
    val_freq: int = opt(0, "validate every this many iterations (0 = only at the end)")
    chunk: int = opt(1000, "frames per inference chunk during validation")
    chunk_overlap: int = opt(0, "frames shared by consecutive chunks")
    crop_border: int = opt(0, "pixels cropped from each border before scoring")
    test_y_channel: bool = opt(False, "score PSNR/SSIM on Y instead of RGB")
    protocol: str | None = opt(None, "score with a named evaluation protocol (overrides crop_border/test_y_channel)")
    best_metric: str = opt("psnr", "metric that picks weights/best.safetensors")
    at_start: bool = opt(False, "also validate the starting weights (iteration 0): best.safetensors may be the start")


@dataclass
class LoggerSection:
    print_freq: int = opt(10, "print and log losses every this many iterations")
    save_checkpoint_freq: int = opt(0, "save a resumable state every this many iterations (0 = only at the end)")
    keep_states: int = opt(2, "resumable states kept (older ones are deleted)")
    use_tb_logger: bool = opt(True, "write TensorBoard logs when tensorboard is installed")


@dataclass
class TrainConfig:
    name: str | None = opt(None, "run name (the output folder's name by default)")
    manual_seed: int = opt(0, "seed of every random choice (data, initialisation)")
    scale: int = opt(4, "upscaling factor")
    device: str = opt("auto", "auto, cpu, cuda or cuda:N")
    model: ModelSection = opt(None, "the network")
    datasets: DatasetsSection = opt(None, "training and validation data")
    train: TrainSection = opt(None, "optimisation")
    val: ValSection = opt(None, "validation scoring")
    logger: LoggerSection = opt(None, "printing, checkpoints, TensorBoard")
    recipe_options: Any = None  # the chosen recipe's OPTIONS instance (not a YAML key)


# ----------------------------------------------------------------------------------------------------------------
# Checking
# ----------------------------------------------------------------------------------------------------------------
def _keys(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.metadata.get("doc") is not None]


def _unknown(key: str, path: str, valid: list[str]) -> VsrkitError:
    where = f"{path}.{key}" if path else key
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f"did you mean '{path + '.' if path else ''}{near[0]}'?" if near else \
        f"valid keys here: {', '.join(valid)}; see configs/README.md"
    return VsrkitError(f"unknown config key '{where}' ({hint})")


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _matches(value: Any, tp: Any) -> bool:
    if tp is Any:
        return True
    if typing.get_origin(tp) in (Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if dataclasses.is_dataclass(tp):
        return isinstance(value, dict)
    return isinstance(value, tp)


def check_section(cls: type, mapping: Any, path: str, also: Sequence[str] = ()) -> Any:
    """``mapping`` → an instance of the dataclass ``cls`` (defaults for missing keys); one-line errors for an
    unknown key or a value of the wrong type. ``also``: more valid names to suggest (checked elsewhere)."""
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise VsrkitError(f"config key '{path}' must be a mapping of keys, not {type(mapping).__name__}")
    hints = typing.get_type_hints(cls)
    valid = _keys(cls)
    values = {}
    for key, value in mapping.items():
        if key not in valid:
            raise _unknown(str(key), path, [*valid, *also])
        tp = hints[key]
        where = f"{path}.{key}" if path else key
        if not _matches(value, tp):
            raise VsrkitError(f"config key '{where}' must be {_type_name(tp)}, not {value!r}: fix the value")
        values[key] = value
    return cls(**values)


def _dataset(mapping: Any, path: str) -> DatasetSection | None:
    if mapping is None:
        return None
    kind = mapping.get("type", "folder") if isinstance(mapping, dict) else None
    if kind is not None and not isinstance(kind, str):
        raise VsrkitError(f"config key '{path}.type' must be a dataset type name, not {kind!r}")
    if kind is not None and kind not in DATASET_TYPES:
        near = difflib.get_close_matches(str(kind), list(DATASET_TYPES), n=1)
        raise VsrkitError(f"unknown dataset type {kind!r} in '{path}.type' ("
                          + (f"did you mean {near[0]!r}?" if near else f"use one of {', '.join(DATASET_TYPES)}")
                          + ")")
    return check_section(DATASET_TYPES[kind] if kind else DatasetSection, mapping, path)


def validate(cfg: dict[str, Any], *, options: type | None = None, options_at: str = "") -> TrainConfig:
    """Check a whole training config → :class:`TrainConfig` with defaults filled in.

    ``options`` is the chosen recipe's options dataclass (``None``: the recipe has none) and ``options_at`` where its
    keys live (``train`` for keys kept flat in the train section, ``train.<name>``, or a top-level section); the
    recipe layer looks them up from ``train.recipe`` (:func:`vsrkit.engine.recipes.check_config`). A recipe's keys
    given without its options are refused as unknown keys."""
    if not isinstance(cfg, dict):
        raise VsrkitError("a config must be a mapping of keys: fix the file")
    cfg = dict(cfg)
    sections = {"model": ModelSection, "train": TrainSection, "val": ValSection, "logger": LoggerSection}
    train_raw = cfg.get("train")
    if not isinstance(train_raw, dict):
        train_raw = {} if train_raw is None else train_raw
    else:
        train_raw = cfg["train"] = dict(train_raw)
    # the recipe's own options are checked by its own class, not as part of the generic section
    raw_options: Any = None
    flat: list[str] = []
    if options is not None and isinstance(train_raw, dict):
        if options_at == "train":  # keys kept flat in the train section
            flat = _keys(options)
            raw_options = {k: train_raw.pop(k) for k in list(train_raw) if k in flat}
        elif options_at.startswith("train."):
            raw_options = train_raw.pop(options_at.partition(".")[2], None)
        else:
            raw_options = cfg.pop(options_at, None)
    top = {k: v for k, v in cfg.items() if k not in (*sections, "datasets")}
    out = check_section(TrainConfig, top, "")
    for name, cls in sections.items():
        setattr(out, name, check_section(cls, cfg.get(name), name, also=flat if name == "train" else ()))
    ds = cfg.get("datasets") or {}
    if not isinstance(ds, dict):
        raise VsrkitError("config key 'datasets' must be a mapping of keys (train:, val:)")
    for key in ds:
        if key not in ("train", "val"):
            raise _unknown(str(key), "datasets", ["train", "val"])
    out.datasets = DatasetsSection(train=_dataset(ds.get("train"), "datasets.train"),
                                   val=_dataset(ds.get("val"), "datasets.val"))
    out.recipe_options = check_section(options, raw_options, options_at) if options else None
    return out


# ----------------------------------------------------------------------------------------------------------------
# configs/README.md
# ----------------------------------------------------------------------------------------------------------------
def _table(cls: type, prefix: str) -> list[str]:
    hints = typing.get_type_hints(cls)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        doc = f.metadata.get("doc")
        if doc is None or dataclasses.is_dataclass(hints[f.name]):
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        shown = "—" if default is None else f"`{default!r}`".replace("|", "\\|")
        kind = _type_name(hints[f.name]).replace(" or ", " \\| ")
        rows.append(f"| `{prefix}{f.name}` | {kind} | {shown} | {doc.replace('|', '/')} |")
    return rows


def render_docs(recipes: Sequence[tuple[str, str, type | None, str]]) -> str:
    """The text of ``configs/README.md``: the sections above, then one entry per recipe given as
    ``(name, one-line summary, OPTIONS, OPTIONS_AT)`` (:func:`vsrkit.engine.recipes.config_docs` passes them)."""
    out = ["# Training config keys", "",
           "Generated from `vsrkit/engine/schema.py` and the recipes' `OPTIONS` by "
           "`python -m vsrkit.engine.train --write-config-docs`; do not edit by hand. A key not listed here is refused "
           "with the nearest valid key. Override any key on the command line with `--set KEY=VALUE`.", ""]
    for title, cls, prefix in [("Top level", TrainConfig, ""), ("model", ModelSection, "model."),
                               ("train", TrainSection, "train."), ("val", ValSection, "val."),
                               ("logger", LoggerSection, "logger.")]:
        out += [f"## {title}", "", *_table(cls, prefix), ""]
    out += ["## datasets.train / datasets.val", "",
            "The `type` key picks the dataset; each type takes the keys below.", ""]
    for kind, cls in DATASET_TYPES.items():
        out += [f"### type: {kind}", "", *_table(cls, ""), ""]
    out += ["## Recipes", "", "`train.recipe` picks one; each recipe reads its own options section.", ""]
    for name, summary, options, options_at in recipes:
        out += [f"### recipe: {name}", "", summary, ""]
        if options is not None:
            out += [*_table(options, options_at + "."), ""]
    return "\n".join(out).rstrip() + "\n"


DOCS_PATH = Path(__file__).resolve().parents[2] / "configs" / "README.md"


def render_ablation_docs(folder: Path) -> str:
    """The "Ablations" section of ``configs/README.md``: one table row per ``folder/*.yaml`` from its header lines
    (``# Paper:``, ``# Row:``, ``# Differs:``), then the rows listed in ``folder/not_buildable.yaml`` with their
    reasons (key ``not_buildable``: a list of ``{paper, row, reason}``). Empty when the folder is absent (an installed package without the configs)."""
    import yaml

    if not folder.is_dir():
        return ""
    rows = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "not_buildable.yaml":
            continue
        head: dict[str, str] = {}
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            key, _, value = line[1:].strip().partition(": ")
            head[key] = value
        cells = [head.get("Paper", ""), head.get("Row", ""), f"`ablations/{path.name}`", head.get("Differs", "")]
        rows.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    out = ["## Ablations", "",
           "Configs for the ablation rows the papers report, each derived from a paper config above (same data and "
           "recipe; only the ablated option differs). Train one with `vsrkit train configs/ablations/NAME.yaml`; "
           "each file's header names its base config and paper row.", "",
           "| paper | table / row | config | differs from the base config |", "|---|---|---|---|", *rows, ""]
    missing = folder / "not_buildable.yaml"
    if missing.is_file():
        out += ["Not built:", ""]
        out += [f"* {r['paper']}, {r['row']}: {r['reason']}." for r in (yaml.safe_load(missing.read_text()) or {}).get("not_buildable", [])]
    return "\n".join(out).rstrip() + "\n"
