"""Readers for the standard VSR dataset layouts (docs/conventions.md §2).

Every reader returns a :class:`ClipLists` — ``gt`` clips, the matching ``lq`` clips where the layout has them (else
``None``: degrade on the fly with a protocol), and optional ``extra`` clip lists (e.g. ``lq_sharp``) aligned with
``gt`` — so ``gt, lq, extra = vid4(root)`` works. Clip and frame order is always natural-sorted.

Missing roots or sub-folders raise a one-line :class:`~vsrkit.errors.VsrkitError` naming the layout expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from vsrkit.data.clips import Clip
from vsrkit.errors import VsrkitError
from vsrkit.io.frames import IMAGE_SUFFIXES, list_frames, natural_sorted
from vsrkit.io.video import is_video_file

REDS4_CLIPS = ("000", "011", "015", "020")
REDS_SPLITS = ("train", "val", "reds4", "train-no-reds4")
REDS_KINDS = ("sharp", "sharp_bicubic", "blur", "blur_bicubic", "blur_comp")


class ClipLists(NamedTuple):
    """GT clips plus, index-aligned with them, the LQ clips and any extra clip lists of a layout."""

    gt: list[Clip]
    lq: list[Clip] | None
    extra: dict[str, list[Clip]]


def _require_dir(path: Path, layout: str) -> Path:
    if not path.is_dir():
        raise VsrkitError(f"'{path}' not found: expected the layout {layout}")
    return path


def _subdirs(folder: Path) -> list[Path]:
    return natural_sorted(p for p in folder.iterdir() if p.is_dir())


def _clip_folders(folder: Path, layout: str) -> dict[str, Path]:
    """Clip sub-folders of ``folder`` by name (natural order)."""
    _require_dir(folder, layout)
    found = {p.name: p for p in _subdirs(folder)}
    if not found:
        raise VsrkitError(f"'{folder}' holds no clip folders: expected the layout {layout}")
    return found


def _pick(folders: dict[str, Path], names: list[str], where: Path, layout: str) -> list[Path]:
    missing = [n for n in names if n not in folders]
    if missing:
        raise VsrkitError(f"clip '{missing[0]}' is missing from '{where}': expected the layout {layout}")
    return [folders[n] for n in names]


# ----------------------------------------------------------------------------------------------------------- REDS
_REDS_LAYOUT = "<root>/{train,val}_sharp/<clip>/00000000.png (official) or <root>/REDS4/{train,val}_<kind>/<clip>/…"


def _reds_find(base: Path, split: str, kind: str) -> Path | None:
    """``<base>/<split>_<kind>``, or ``<base>/<split>/<split>_<kind>`` as the official zips unpack; None if absent."""
    for folder in (base / f"{split}_{kind}", base / split / f"{split}_{kind}"):
        if folder.is_dir():
            return folder
    return None


def _reds_base(root: Path) -> Path:
    """The folder that holds the ``<split>_sharp`` folders (the root itself, or its ``REDS4`` sub-folder)."""
    for base in (root, root / "REDS4"):
        if _reds_find(base, "train", "sharp") or _reds_find(base, "val", "sharp"):
            return base
    raise VsrkitError(f"no train_sharp/ or val_sharp/ under '{root}': expected the layout {_REDS_LAYOUT}")


def _reds_variant_dir(base: Path, split: str, kind: str, scale: int) -> Path:
    """The clip folders of one split and variant (adding ``X<scale>`` for the bicubic variants when it exists)."""
    folder = _reds_find(base, split, kind)
    if folder is None:
        raise VsrkitError(f"'{base / f'{split}_{kind}'}' not found: expected the layout {_REDS_LAYOUT}")
    if kind.endswith("bicubic") and (folder / f"X{scale}").is_dir():
        folder = folder / f"X{scale}"
    return folder


def reds(
    root: str | Path,
    split: str = "reds4",
    kind: str = "sharp",
    *,
    scale: int = 4,
    cache_bytes: int = 0,
) -> ClipLists:
    """REDS clips (docs/conventions.md §2.1). GT is always ``*_sharp``; ``kind`` picks the input variant.

    Args:
        root: folder with the official ``train_sharp/000/00000000.png`` … layout, or the regrouped
            ``REDS4/{train,val}_<kind>/…`` layout (REDS4 clips moved into ``val_*``; ``root`` may be that ``REDS4``
            folder or its parent).
        split: ``"train"`` — the ``train_*`` folder as stored (240 clips officially); ``"val"`` — ``val_*`` as stored;
            ``"reds4"`` — clips 000, 011, 015, 020; ``"train-no-reds4"`` — the usual REDS4 training split, 266 clips:
            train minus REDS4 (236) plus the 30 val clips renamed 240–269 (in a regrouped layout: the ``train_*``
            folder minus any REDS4 clip).
        kind: ``"sharp"`` (GT only, ``lq=None``: degrade on the fly), ``"sharp_bicubic"`` / ``"blur_bicubic"`` (×scale
            LR in ``<split>_<kind>/X<scale>/``), ``"blur"`` / ``"blur_comp"`` (HR-size degraded frames; pair them with a
            downscaling protocol). For ``"blur_bicubic"`` the ``sharp_bicubic`` frames, when present, come back as
            ``extra["lq_sharp"]`` (FMA-Net's sharp-LR target).
        scale: the ``X<scale>`` sub-folder of the bicubic variants.
        cache_bytes: passed to every :class:`Clip` (only matters for video clips).
    """
    if split not in REDS_SPLITS:
        raise VsrkitError(f"unknown REDS split '{split}': use one of {', '.join(REDS_SPLITS)}")
    if kind not in REDS_KINDS:
        raise VsrkitError(f"unknown REDS kind '{kind}': use one of {', '.join(REDS_KINDS)}")
    root = _require_dir(Path(root), _REDS_LAYOUT)
    base = _reds_base(root)

    # (name, stored split, stored clip name) for each clip of the requested split.
    entries: list[tuple[str, str, str]]
    if split in ("train", "val"):
        folders = _clip_folders(_reds_variant_dir(base, split, "sharp", scale), _REDS_LAYOUT)
        entries = [(n, split, n) for n in folders]
    elif split == "reds4":
        val_dir = _reds_find(base, "val", "sharp")
        val = _clip_folders(val_dir, _REDS_LAYOUT) if val_dir is not None else {}
        # Regrouped layout: REDS4 lives in val_*; official layout: REDS4 are train clips.
        stored = "val" if all(n in val for n in REDS4_CLIPS) and len(val) == len(REDS4_CLIPS) else "train"
        folders = _clip_folders(_reds_variant_dir(base, stored, "sharp", scale), _REDS_LAYOUT)
        _pick(folders, list(REDS4_CLIPS), base / f"{stored}_sharp", _REDS_LAYOUT)
        entries = [(n, stored, n) for n in REDS4_CLIPS]
    else:  # train-no-reds4
        train = _clip_folders(_reds_variant_dir(base, "train", "sharp", scale), _REDS_LAYOUT)
        entries = [(n, "train", n) for n in train if n not in REDS4_CLIPS]
        regrouped = len(train) > 240 or any(n.isdigit() and int(n) >= 240 for n in train)
        if not regrouped:
            val = _clip_folders(_reds_variant_dir(base, "val", "sharp", scale), _REDS_LAYOUT)
            # BasicSR/FMA-Net renaming: val clip v becomes training clip 240 + v.
            entries += [(f"{240 + int(n):03d}", "val", n) for n in val if n.isdigit()]

    def clips_of(variant: str) -> list[Clip]:
        stored_splits = {e[1] for e in entries}
        dirs = {s: _clip_folders(_reds_variant_dir(base, s, variant, scale), _REDS_LAYOUT) for s in stored_splits}
        out = []
        for name, stored, stored_name in entries:
            path = _pick(dirs[stored], [stored_name], base / f"{stored}_{variant}", _REDS_LAYOUT)[0]
            out.append(Clip(name, path, cache_bytes=cache_bytes))
        return out

    gt = clips_of("sharp")
    if kind == "sharp":
        return ClipLists(gt, None, {})
    extra: dict[str, list[Clip]] = {}
    if kind == "blur_bicubic" and all(_reds_find(base, s, "sharp_bicubic") for s in {e[1] for e in entries}):
        extra["lq_sharp"] = clips_of("sharp_bicubic")
    return ClipLists(gt, clips_of(kind), extra)


# -------------------------------------------------------------------------------------------------- Vid4 / UDM10
def _gt_lq_layout(root: Path, name: str, lr: str | Path | None, gt_folder: str, cache_bytes: int) -> ClipLists:
    layout = f"<root>/{{{gt_folder},BIx4,BDx4}}/<clip>/<frame>.png ({name})"
    root = _require_dir(Path(root), layout)
    gt_dirs = _clip_folders(_require_dir(root / gt_folder, layout), layout)
    gt = [Clip(n, p, cache_bytes=cache_bytes) for n, p in gt_dirs.items()]
    if lr is None:
        return ClipLists(gt, None, {})
    lr_root = Path(lr) if Path(lr).is_absolute() else root / lr
    lq_dirs = _clip_folders(_require_dir(lr_root, layout), layout)
    lq = [Clip(n, p, cache_bytes=cache_bytes) for n, p in zip(gt_dirs, _pick(lq_dirs, list(gt_dirs), lr_root, layout))]
    return ClipLists(gt, lq, {})


def vid4(root: str | Path, lr: str | Path | None = "BIx4", *, cache_bytes: int = 0) -> ClipLists:
    """Vid4 (docs/conventions.md §2.2): ``<root>/GT/<clip>/`` and ``<root>/<lr>/<clip>/`` (``BIx4``, ``BDx4``, or a path).

    Clips come back in natural order (calendar, city, foliage, walk); frames are counted on disk.
    ``lr=None`` returns GT only.
    """
    return _gt_lq_layout(Path(root), "Vid4", lr, "GT", cache_bytes)


def udm10(
    root: str | Path, lr: str | Path | None = "BDx4", *, gt_folder: str = "GT", cache_bytes: int = 0
) -> ClipLists:
    """UDM10 (docs/conventions.md §2.3): ``<root>/GT/<clip>/`` and ``<root>/<lr>/<clip>/``; clip and frame counts are read
    from disk. For BVSR-IK's regenerated copies pass ``gt_folder="HR", lr="LR_blurdown_x4"``."""
    return _gt_lq_layout(Path(root), "UDM10", lr, gt_folder, cache_bytes)


# ---------------------------------------------------------------------------------------------------- Vimeo-90K
_VIMEO_LAYOUT = "<root>/sequences/<5-digit>/<4-digit>/im1.png … im7.png with <root>/sep_trainlist.txt"


def vimeo90k(
    root: str | Path,
    list_file: str | Path = "sep_testlist.txt",
    lr: str | Path | None = None,
    *,
    cache_bytes: int = 0,
) -> ClipLists:
    """Vimeo-90K septuplets (docs/conventions.md §2.4), one 7-frame clip per line of ``list_file`` (e.g. ``00001/0266``).

    Args:
        root: the ``vimeo_septuplet`` folder holding ``sequences/`` and the list files.
        list_file: ``"sep_trainlist.txt"`` (64,612 entries), ``"sep_testlist.txt"`` (7,824, Vimeo-90K-T), or any path.
        lr: LR folder with the same sub-paths (``BIx4``, ``BDx4``, relative to ``root``, or an absolute path); the
            ``<lr>/sequences/<sub>`` form is accepted too. ``None`` returns GT only.
    """
    root = _require_dir(Path(root), _VIMEO_LAYOUT)
    seq = _require_dir(root / "sequences", _VIMEO_LAYOUT)
    lf = Path(list_file) if Path(list_file).is_absolute() else root / list_file
    if not lf.is_file():
        raise VsrkitError(f"list file '{lf}' not found: expected the layout {_VIMEO_LAYOUT}")
    subs = [line.strip().strip("/") for line in lf.read_text().splitlines() if line.strip()]
    lr_root = None
    if lr is not None:
        lr_root = _require_dir(Path(lr) if Path(lr).is_absolute() else root / lr, _VIMEO_LAYOUT)
        if (lr_root / "sequences").is_dir():
            lr_root = lr_root / "sequences"
    gt, lq = [], []
    for sub in subs:
        # Explicit im1..im7 order: it is the septuplet's definition, not whatever else lies in the folder.
        gt.append(Clip(sub, _septuplet(seq / sub), cache_bytes=cache_bytes))
        if lr_root is not None:
            lq.append(Clip(sub, _septuplet(lr_root / sub), cache_bytes=cache_bytes))
    return ClipLists(gt, lq if lr_root is not None else None, {})


def _septuplet(folder: Path) -> list[Path]:
    frames = [folder / f"im{i}.png" for i in range(1, 8)]
    missing = [f for f in frames if not f.is_file()]
    if missing:
        raise VsrkitError(f"'{missing[0]}' not found: expected the layout {_VIMEO_LAYOUT}")
    return frames


# -------------------------------------------------------------------------------------------------------- GoPro
_GOPRO_LAYOUT = "<root>/{train,test}/<sequence>/{blur,blur_gamma,sharp}/<frame>.png (GOPRO_Large)"


def gopro(root: str | Path, split: str = "test", blur_folder: str = "blur", *, cache_bytes: int = 0) -> ClipLists:
    """GoPro (GOPRO_Large, docs/conventions.md §2.5): ``gt`` = ``sharp`` frames, ``lq`` = the HR-size ``blur_folder``
    frames of the same sequences. ``lq`` is *not* downscaled: pair it with a protocol (vsrkit's default for
    FMA-Net's GoPro table is BI ×4 of ``blur``)."""
    if split not in ("train", "test"):
        raise VsrkitError(f"unknown GoPro split '{split}': use 'train' or 'test'")
    if blur_folder not in ("blur", "blur_gamma"):
        raise VsrkitError(f"unknown GoPro blur folder '{blur_folder}': use 'blur' or 'blur_gamma'")
    root = _require_dir(Path(root), _GOPRO_LAYOUT)
    seqs = _clip_folders(root / split, _GOPRO_LAYOUT)
    gt, lq = [], []
    for name, path in seqs.items():
        sharp = list_frames(_require_dir(path / "sharp", _GOPRO_LAYOUT))
        blur = list_frames(_require_dir(path / blur_folder, _GOPRO_LAYOUT))
        if [p.name for p in sharp] != [p.name for p in blur]:
            raise VsrkitError(f"'{path}' has unpaired sharp/{blur_folder} frames: every frame needs both versions")
        gt.append(Clip(name, sharp, cache_bytes=cache_bytes))
        lq.append(Clip(name, blur, cache_bytes=cache_bytes))
    return ClipLists(gt, lq, {})


# ---------------------------------------------------------------------------------------------- anything else
def folder_or_video(path: str | Path, *, cache_bytes: int = 0) -> list[Clip]:
    """Clips from a video file, a folder of frames, or a folder of clip sub-folders / video files.

    Clip names are the video's stem or the folder's name; multiple clips come back in natural order.
    """
    path = Path(path)
    layout = "a video file, a folder of frames, or a folder of clip folders/videos"
    if is_video_file(path):
        return [Clip(path.stem, path, cache_bytes=cache_bytes)]
    if not path.is_dir():
        raise VsrkitError(f"'{path}' not found or not a video: expected {layout}")
    entries = list(path.iterdir())
    if any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in entries):
        return [Clip(path.name, path, cache_bytes=cache_bytes)]
    clips = []
    for p in natural_sorted(entries):
        if p.is_dir() and any(q.suffix.lower() in IMAGE_SUFFIXES for q in p.iterdir()):
            clips.append(Clip(p.name, p, cache_bytes=cache_bytes))
        elif is_video_file(p):
            clips.append(Clip(p.stem, p, cache_bytes=cache_bytes))
    if not clips:
        raise VsrkitError(f"'{path}' holds no frames, clip folders or videos: expected {layout}")
    return clips
