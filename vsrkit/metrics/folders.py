"""Evaluate folders of saved frames (the ``vsrkit eval`` command) and print paper-style tables.

Two layouts are accepted, the same on both sides:

* frame folders: ``pred_dir/*.png`` vs ``gt_dir/*.png`` — one clip, named after ``gt_dir``;
* clip folders: ``pred_dir/<clip>/*.png`` vs ``gt_dir/<clip>/*.png`` — clips matched by name; the ground truth
  decides which clips are scored (extra prediction clips are listed, not scored).

Frames are ordered by natural numeric order of the file name (``2.png`` before ``10.png``) and matched by file
stem, so ``00000001.png`` may be compared with ``00000001.jpg``. Images are read with OpenCV and converted to RGB.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vsrkit.errors import VsrkitError
from vsrkit.io.frames import list_frames, natural_sorted, read_image
from vsrkit.metrics.protocols import EvalProtocol, evaluate_clips, get_eval_protocol

__all__ = ["evaluate_folders", "format_table", "read_rgb"]


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an 8-bit image as ``(H, W, 3)`` RGB uint8 (:func:`vsrkit.io.frames.read_image`).

    Grey images are replicated to three channels, an alpha channel is dropped. 16-bit images are refused: the
    metrics are defined on the 8-bit PNGs the official code saves, and guessing a rescaling would change scores.
    """
    img = read_image(path, dtype="auto")
    if img.dtype != np.uint8:
        raise VsrkitError(
            f"image '{path}' is {img.dtype} (e.g. a 16-bit PNG): metrics need 8-bit images; "
            "save the frames as 8-bit PNG"
        )
    return img


class _FrameFolder(Sequence):
    """Lazy list of RGB frames: a clip is read one frame at a time, never held in memory whole."""

    def __init__(self, paths: list[Path]):
        self.paths = paths
        self.names = [p.name for p in paths]  # picked up by evaluate_clips for labels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return _FrameFolder(self.paths[i])
        return read_rgb(self.paths[i])


def _subdirs_with_frames(folder: Path) -> dict[str, list[Path]]:
    out = {}
    for sub in natural_sorted(p for p in folder.iterdir() if p.is_dir()):
        frames = list_frames(sub, required=False)
        if frames:
            out[sub.name] = frames
    return out


def _match_frames(clip: str, pred: list[Path], gt: list[Path], skip: int) -> list[Path]:
    """Check that prediction frames carry the GT stems (all of them, or all but ``skip`` at each end)."""
    pred_stems = [p.stem for p in pred]
    gt_stems = [p.stem for p in gt]
    if pred_stems == gt_stems:
        return pred
    if skip > 0 and pred_stems == gt_stems[skip : len(gt_stems) - skip]:
        return pred
    where = f"clip '{clip}'"
    if len(pred) != len(gt) and not (skip > 0 and len(pred) == len(gt) - 2 * skip):
        allowed = f"{len(gt)}" + (f" or {len(gt) - 2 * skip}" if skip > 0 else "")
        raise VsrkitError(
            f"{where}: prediction has {len(pred)} frames, ground truth {len(gt)} (expected {allowed}): "
            "check that both folders hold the same clip"
        )
    ref = gt_stems if len(pred) == len(gt) else gt_stems[skip : len(gt_stems) - skip]
    first = next(i for i, (a, b) in enumerate(zip(pred_stems, ref)) if a != b)
    raise VsrkitError(
        f"{where}: frame names differ (prediction '{pred[first].name}' vs ground truth '{ref[first]}.*'): "
        "name the outputs like the ground-truth frames"
    )


def evaluate_folders(
    pred_dir: str | Path,
    gt_dir: str | Path,
    *,
    crop_border: int | None = 0,
    y_only: bool | None = False,
    tof: bool | None = False,
    protocol: str | EvalProtocol | None = None,
    niqe: bool = False,
) -> dict:
    """Evaluate saved output frames against ground-truth frames.

    Args:
        pred_dir, gt_dir: two frame folders, or two folders of clip sub-folders (see the module docstring).
        crop_border: border crop in pixels.
        y_only: make Y the headline channel (RGB is still computed and shown beside it).
        tof: also compute tOF.
        protocol: a protocol name or :class:`EvalProtocol`. With a protocol, ``0``/``False``/``None`` above mean
            "not requested" and the protocol's own value is used (so CLI defaults never weaken it); a non-zero
            crop, ``y_only=True`` or ``tof=True`` that differs from the protocol overrides it, and the protocol
            is then reported as ``"<name> (modified: …)"``.
        niqe: also score every predicted frame (after the border crop) with NIQE (:mod:`vsrkit.metrics.niqe`, no
            reference; about a second per 512×512 frame): ``"niqe"`` per clip (frame mean) and in the mean
            (mean over all frames).

    Returns:
        The dict of :func:`vsrkit.metrics.evaluate_clips` plus ``"pred_dir"``, ``"gt_dir"``, ``"layout"``
        (``"frames"`` or ``"clips"``) and ``"unmatched_pred_clips"``.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    for label, d in (("prediction", pred_dir), ("ground-truth", gt_dir)):
        if not d.is_dir():
            raise VsrkitError(f"{label} folder '{d}' does not exist or is not a folder: check the path")
    proto = get_eval_protocol(protocol) if protocol is not None else None
    skip = proto.skip_border_frames if proto is not None else 0

    gt_frames, pred_frames = list_frames(gt_dir, required=False), list_frames(pred_dir, required=False)
    unmatched: list[str] = []
    if gt_frames:
        if not pred_frames:
            raise VsrkitError(
                f"ground truth '{gt_dir}' holds frames but prediction '{pred_dir}' has no PNG/JPG images: "
                "point --pred at the folder with the output frames"
            )
        clip = gt_dir.resolve().name or "clip"
        pairs = {clip: (_match_frames(clip, pred_frames, gt_frames, skip), gt_frames)}
        layout = "frames"
    else:
        gt_clips = _subdirs_with_frames(gt_dir)
        if not gt_clips:
            raise VsrkitError(
                f"no PNG/JPG images in '{gt_dir}' or its sub-folders: point --gt at a frame or clip folder"
            )
        pred_clips = _subdirs_with_frames(pred_dir)
        missing = [c for c in gt_clips if c not in pred_clips]
        if missing:
            raise VsrkitError(
                f"prediction '{pred_dir}' has no frames for clip(s) {', '.join(missing[:5])}"
                f"{' …' if len(missing) > 5 else ''}: clip sub-folders must be named like the ground truth's"
            )
        unmatched = [c for c in pred_clips if c not in gt_clips]
        pairs = {c: (_match_frames(c, pred_clips[c], gt_clips[c], skip), gt_clips[c]) for c in gt_clips}
        layout = "clips"

    if proto is not None:
        # Falsy values are the CLI's defaults, not a request to switch the protocol's crop/Y/tOF off.
        overrides = {"crop_border": crop_border or None, "tof": tof or None, "channel": "y" if y_only else None}
    else:
        overrides = {"crop_border": crop_border or 0, "tof": bool(tof), "channel": "y" if y_only else "rgb"}
    result = evaluate_clips(
        {c: _FrameFolder(p) for c, (p, _) in pairs.items()},
        {c: _FrameFolder(g) for c, (_, g) in pairs.items()},
        protocol=proto,
        **overrides,
    )
    result.update(pred_dir=str(pred_dir), gt_dir=str(gt_dir), layout=layout, unmatched_pred_clips=unmatched)
    if niqe:
        _add_niqe(result, {c: p for c, (p, _) in pairs.items()}, result["protocol"]["crop_border"])
    return result


def _add_niqe(result: dict, pred_frames: dict[str, list[Path]], border: int) -> None:
    from vsrkit.metrics.image import crop_border
    from vsrkit.metrics.niqe import niqe

    scores = []
    for clip, files in pred_frames.items():
        clip_scores = [niqe(crop_border(read_rgb(f), border)) for f in files]
        result["clips"][clip]["niqe"] = float(np.mean(clip_scores))
        scores += clip_scores
    result["mean"]["niqe"] = float(np.mean(scores))


def _fmt(value: float | None, digits: int, inf_possible: bool = False) -> str:
    if value is None:
        return "inf" if inf_possible else "-"
    return f"{value:.{digits}f}"


def format_table(result: dict) -> str:
    """Paper-style text table of an :func:`evaluate_clips`/:func:`evaluate_folders` result.

    One row per clip and a mean row, RGB and Y side by side, tOF when measured, and a header naming the protocol,
    the crop, the frames scored and the kind of average. The headline channel's columns are marked with ``*``.
    """
    proto = result["protocol"]
    mean = result["mean"]
    with_tof = bool(proto.get("tof"))
    head = {"rgb": ("PSNR-RGB*", "SSIM-RGB*", "PSNR-Y", "SSIM-Y"), "y": ("PSNR-RGB", "SSIM-RGB", "PSNR-Y*", "SSIM-Y*")}
    with_niqe = "niqe" in mean
    cols = list(head[proto["channel"]]) + (["tOF"] if with_tof else []) + (["NIQE"] if with_niqe else [])
    names = list(result["clips"])
    width = max([len("mean"), *(len(n) for n in names)])
    skip = proto["skip_border_frames"]
    lines = [
        f"protocol: {proto['name']}",
        f"  crop {proto['crop_border']} px | frames: "
        + ("all" if skip == 0 else f"{skip} dropped at each clip end")
        + f" | average: {mean['average']} | headline: {proto['channel'].upper()} (*)",
    ]
    header = f"{'clip':<{width}}  {'frames':>6}  " + "  ".join(f"{c:>9}" for c in cols)
    lines += [header, "-" * len(header)]

    def row(label: str, rec: dict, frames: int, identical: bool) -> str:
        cells = [
            _fmt(rec["psnr_rgb"], 4, identical),
            _fmt(rec["ssim_rgb"], 4),
            _fmt(rec["psnr_y"], 4, identical),
            _fmt(rec["ssim_y"], 4),
        ]
        if with_tof:
            cells.append(_fmt(rec.get("tof"), 4))
        if with_niqe:
            cells.append(_fmt(rec.get("niqe"), 3))
        return f"{label:<{width}}  {frames:>6}  " + "  ".join(f"{c:>9}" for c in cells)

    any_identical = False
    for name in names:
        rec = result["clips"][name]
        identical = rec.get("identical_frames", 0) > 0
        any_identical |= identical
        lines.append(row(name, rec, rec["frames"], identical))
    lines.append("-" * len(header))
    lines.append(row("mean", mean, mean["frames"], any_identical))
    if with_tof:
        lines.append("tOF: mean end-point error over all frame pairs of all clips (lower is better)")
    if with_niqe:
        lines.append("NIQE: no-reference naturalness of the predictions (lower is better), vsrkit's pristine model: "
                     "not comparable with MATLAB NIQE values")
    if any_identical:
        lines.append("inf: at least one frame is identical to its ground truth (PSNR = +inf)")
    return "\n".join(lines)
