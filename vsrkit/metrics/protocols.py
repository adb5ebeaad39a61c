"""Named evaluation protocols: which channel, crop, frames and averaging a paper's table uses (docs/conventions.md §5).

A protocol never changes *what* is computed — :func:`vsrkit.metrics.evaluate_clips` always measures RGB and Y side by
side — it fixes the border crop, the frames scored, how means are formed, whether tOF is measured, and which channel
is the headline number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal

import numpy as np

from vsrkit.errors import VsrkitError
from vsrkit.metrics.image import _check_pair, _psnr_prepared, _ssim_prepared, rgb_to_y, to_uint8
from vsrkit.metrics.image import crop_border as _crop
from vsrkit.metrics.tof import _epe, _flow, to_grey

__all__ = ["EvalProtocol", "PROTOCOLS", "get_eval_protocol", "evaluate_clips"]


@dataclass(frozen=True)
class EvalProtocol:
    """One evaluation protocol.

    Attributes:
        name: registry key, e.g. ``"fmanet-reds4-rgb-crop4-skip1"``.
        channel: headline channel, ``"rgb"`` or ``"y"`` (both are always computed).
        crop_border: pixels removed from every side before PSNR/SSIM (never for tOF).
        skip_border_frames: K frames dropped at *each* end of a clip before scoring (K = T//2 for sliding-window
            models that emit no output without a full window; 3 of 7 leaves Vimeo's centre frame ``im4``).
        average: ``"clip"`` = mean per clip then over clips; ``"frame"`` = mean over all scored frames.
        tof: whether tOF is part of the protocol.
        scale: upscaling factor of the benchmark (informational; used for error hints).
        description: which paper/table the protocol reproduces.
    """

    name: str
    channel: Literal["rgb", "y"] = "rgb"
    crop_border: int = 0
    skip_border_frames: int = 0
    average: Literal["clip", "frame"] = "clip"
    tof: bool = False
    scale: int = 4
    description: str = ""

    def __post_init__(self) -> None:
        if self.channel not in ("rgb", "y"):
            raise VsrkitError(f"protocol {self.name!r}: channel must be 'rgb' or 'y', got {self.channel!r}")
        if self.average not in ("clip", "frame"):
            raise VsrkitError(f"protocol {self.name!r}: average must be 'clip' or 'frame', got {self.average!r}")
        if self.crop_border < 0 or self.skip_border_frames < 0:
            raise VsrkitError(f"protocol {self.name!r}: crop_border and skip_border_frames must be >= 0")

    def to_dict(self) -> dict:
        """Plain dict of the fields (JSON-able)."""
        return asdict(self)


def _table(*protocols: EvalProtocol) -> dict[str, EvalProtocol]:
    return {p.name: p for p in protocols}


PROTOCOLS: dict[str, EvalProtocol] = _table(
    EvalProtocol(
        "reds4-rgb-crop0-clipavg", "rgb", 0, 0, "clip", False, 4,
        "IART T2 / BasicVSR REDS4 (BI x4): RGB, no crop, all 100 frames, clip average",
    ),
    EvalProtocol(
        "vid4-y-crop0-clipavg", "y", 0, 0, "clip", False, 4,
        "IART T2 / BasicVSR Vid4 (BI or BD x4): Y, no crop, all frames, clip average",
    ),
    EvalProtocol(
        "vimeo-y-crop0-center", "y", 0, 3, "clip", False, 4,
        "Vimeo-90K-T (x4): Y, no crop, centre frame im4 of each 7-frame sequence only (skip 3 at each end)",
    ),
    EvalProtocol(
        "fmanet-reds4-rgb-crop4-skip1", "rgb", 4, 1, "frame", True, 4,
        "FMA-Net T1/T3-T9 REDS4 (blur + bicubic x4): RGB PSNR/SSIM, 4-px crop, frames 1..98, frame average, tOF",
    ),
    EvalProtocol(
        "fmanet-gopro-rgb-crop4-skip1", "rgb", 4, 1, "frame", True, 4,
        "FMA-Net T2 GoPro (x4): protocol not documented by the paper; assumed equal to the REDS4 one",
    ),
    EvalProtocol(
        "bvsrik-y-crop4-skip2-frameavg", "y", 4, 2, "frame", True, 4,
        "BVSR-IK T1/T3-T5 (REDS4, Vid4, UDM10 x4): Y PSNR/SSIM, 4-px crop, 2 frames dropped at each end, "
        "frame average, tOF",
    ),
    EvalProtocol(
        "dynavsr-rgb-crop0", "rgb", 0, 0, "clip", False, 2,
        "DynaVSR T1-T3 (Vid4, REDS-val = REDS4, x2): RGB PSNR, no crop, every frame, clip average",
    ),
)


def get_eval_protocol(name: str | EvalProtocol) -> EvalProtocol:
    """Look up a protocol by name (an :class:`EvalProtocol` is returned unchanged)."""
    if isinstance(name, EvalProtocol):
        return name
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise VsrkitError(
            f"unknown evaluation protocol {name!r}: choose one of {', '.join(sorted(PROTOCOLS))}"
        ) from None


# ---------------------------------------------------------------------------------------------------------------------
# Evaluation of whole clips under a protocol

_METRICS = ("psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y")


def _json_num(x: float | None) -> float | None:
    """JSON has no inf/NaN: a non-finite value (PSNR of identical frames) is stored as ``None``."""
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _mean(values: Sequence[float]) -> float | None:
    # Plain float mean so that one identical frame (PSNR +inf) makes the mean +inf, as mathematically it is;
    # _json_num turns that into None afterwards.
    return float(np.mean(values)) if len(values) else None


def _resolve_protocol(
    protocol: str | EvalProtocol | None, overrides: dict[str, object]
) -> EvalProtocol:
    base = get_eval_protocol(protocol) if protocol is not None else EvalProtocol("custom")
    changed = {k: v for k, v in overrides.items() if v is not None and getattr(base, k) != v}
    if not changed:
        return base
    if protocol is None:
        return replace(base, **changed)
    # A named protocol with different settings is no longer that protocol: say so in the name that gets printed.
    note = ", ".join(f"{k}={v}" for k, v in changed.items())
    return replace(base, name=f"{base.name} (modified: {note})", **changed)


def _scored_indices(clip: str, n_gt: int, n_pred: int, k: int) -> list[tuple[int, int]]:
    """(gt index, pred index) pairs scored for one clip.

    The prediction may hold every frame (the K border frames are then dropped from both sides) or only the
    N − 2K frames a sliding-window model emits (then it lines up with GT frames K … N−K−1).
    """
    if n_gt - 2 * k <= 0:
        raise VsrkitError(
            f"clip {clip!r} has {n_gt} frames, too few to drop {k} at each end: check the protocol or the clip"
        )
    if n_pred == n_gt:
        return [(i, i) for i in range(k, n_gt - k)]
    if k > 0 and n_pred == n_gt - 2 * k:
        return [(i, i - k) for i in range(k, n_gt - k)]
    expected = f"{n_gt}" if k == 0 else f"{n_gt} (all) or {n_gt - 2 * k} (without {k} border frames at each end)"
    raise VsrkitError(
        f"clip {clip!r}: prediction has {n_pred} frames, ground truth {n_gt}; expected {expected}: "
        "check that both folders hold the same clip"
    )


def _size_error(clip: str, label: str, pred: np.ndarray, gt: np.ndarray, scale: int) -> VsrkitError:
    ph, pw = pred.shape[:2]
    gh, gw = gt.shape[:2]
    hint = "check the scale factor, or mod-crop the ground truth to a multiple of the scale"
    if scale > 1 and (ph * scale, pw * scale) == (gh, gw):
        hint = f"the prediction is exactly x{scale} smaller: it looks like the LR input, not the SR output"
    return VsrkitError(
        f"clip {clip!r} frame {label}: prediction is {pw}x{ph} but ground truth is {gw}x{gh} (WxH): {hint}"
    )


def _frame_scores(pred: np.ndarray, gt: np.ndarray, border: int) -> dict[str, float]:
    """PSNR/SSIM on RGB and Y of one frame pair, sharing the crop and the Y conversion."""
    pred, gt = _check_pair(pred, gt)
    if pred.ndim != 3:
        raise VsrkitError(f"frames must be (H, W, 3) RGB, got shape {pred.shape}")
    pred, gt = _crop(pred, border), _crop(gt, border)
    y_pred, y_gt = rgb_to_y(pred), rgb_to_y(gt)
    return {
        "psnr_rgb": _psnr_prepared(pred, gt),
        "ssim_rgb": _ssim_prepared(pred, gt),
        "psnr_y": _psnr_prepared(y_pred, y_gt),
        "ssim_y": _ssim_prepared(y_pred, y_gt),
    }


def evaluate_clips(
    pred: Mapping[str, Sequence[np.ndarray]],
    gt: Mapping[str, Sequence[np.ndarray]],
    *,
    protocol: str | EvalProtocol | None = None,
    crop_border: int | None = None,
    skip_border_frames: int | None = None,
    tof: bool | None = None,
    channel: Literal["rgb", "y"] | None = None,
    average: Literal["clip", "frame"] | None = None,
) -> dict:
    """Score predicted clips against ground truth: PSNR/SSIM on RGB *and* Y for every frame, optional tOF.

    Args:
        pred: clip name → sequence of N (or N − 2K, see below) output frames ``(H, W, 3)`` RGB uint8
            (float in [0, 1] is quantised first). Sequences are indexed once per frame, so a lazy loader works;
            if it has a ``names`` attribute (list of str) those names label frames in errors and ``per_frame``.
        gt: clip name → sequence of the N ground-truth frames; same clip names as ``pred``.
        protocol: an :class:`EvalProtocol` or its name; ``None`` = ``"custom"`` (RGB headline, crop 0, all frames,
            clip average, no tOF).
        crop_border, skip_border_frames, tof, channel, average: override the protocol's field when not ``None``
            (a named protocol is then reported as ``"<name> (modified: …)"``).

    Frames scored: with K = ``skip_border_frames``, GT frames K … N−K−1 of every clip. The prediction may contain
    all N frames (its K border frames are ignored) or exactly N − 2K (it then starts at GT frame K). tOF is
    computed on consecutive *scored* frames, without border crop.

    Returns:
        A JSON-able dict::

            {"protocol": {...EvalProtocol fields...},
             "clips": {name: {"frames": n, "psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y", "tof",
                              "identical_frames": k, "per_frame": [{"index", "name"?, "psnr_rgb", "ssim_rgb",
                                                                   "psnr_y", "ssim_y", "tof"}, ...]}},
             "mean": {"psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y", "psnr", "ssim", "tof", "channel",
                      "average", "frames", "clips"},
             "mean_clip_average": {"psnr_rgb", ...}, "mean_frame_average": {"psnr_rgb", ...}}

        ``mean`` uses the protocol's averaging; ``psnr``/``ssim`` there repeat the headline channel's values.
        tOF in ``mean`` is always the average over all frame pairs of all clips (how FMA-Net/BVSR-IK report it);
        a clip's ``tof`` is the mean over its pairs; a frame's ``tof`` belongs to the pair (previous, this) and is
        ``None`` on the first scored frame. ``tof`` is ``None`` everywhere when tOF is off.

        Infinite PSNR (identical frames) is stored as ``None`` (JSON ``null``) — never capped — and any mean that
        includes it is ``None`` too; ``identical_frames`` counts such frames so a ``None`` can be told apart.
    """
    proto = _resolve_protocol(
        protocol,
        {"crop_border": crop_border, "skip_border_frames": skip_border_frames, "tof": tof,
         "channel": channel, "average": average},
    )
    if set(pred) != set(gt):
        missing = sorted(set(gt) - set(pred))
        extra = sorted(set(pred) - set(gt))
        raise VsrkitError(
            f"clip names differ: missing in prediction {missing[:5]}, not in ground truth {extra[:5]}: "
            "pass the same clips on both sides"
        )
    if not gt:
        raise VsrkitError("no clips to evaluate: pass at least one clip")

    clips_out: dict[str, dict] = {}
    all_frames: dict[str, list[float]] = {m: [] for m in _METRICS}
    all_pairs: list[float] = []
    raw_clip_means: list[dict[str, float]] = []
    for clip, gt_seq in gt.items():
        pred_seq = pred[clip]
        names = getattr(gt_seq, "names", None)
        per_frame: list[dict] = []
        values: dict[str, list[float]] = {m: [] for m in _METRICS}
        pairs: list[float] = []
        prev_grey: tuple[np.ndarray, np.ndarray] | None = None
        for gi, pi in _scored_indices(clip, len(gt_seq), len(pred_seq), proto.skip_border_frames):
            label = names[gi] if names is not None else str(gi)
            p, g = to_uint8(pred_seq[pi], "prediction"), to_uint8(gt_seq[gi], "ground truth")
            if p.shape[:2] != g.shape[:2]:
                raise _size_error(clip, label, p, g, proto.scale)
            try:
                scores = _frame_scores(p, g, proto.crop_border)
            except VsrkitError as err:
                raise VsrkitError(f"clip {clip!r} frame {label}: {err}") from None
            pair_tof = None
            if proto.tof:
                grey = (to_grey(p), to_grey(g))
                if prev_grey is not None:
                    pair_tof = _epe(_flow(prev_grey[1], grey[1]), _flow(prev_grey[0], grey[0]))
                    pairs.append(pair_tof)
                prev_grey = grey
            for m in _METRICS:
                values[m].append(scores[m])
            entry: dict = {"index": gi}
            if names is not None:
                entry["name"] = label
            entry.update({m: _json_num(scores[m]) for m in _METRICS})
            entry["tof"] = pair_tof
            per_frame.append(entry)

        clip_means = {m: _mean(values[m]) for m in _METRICS}
        clips_out[clip] = {
            "frames": len(per_frame),
            **{m: _json_num(clip_means[m]) for m in _METRICS},
            "tof": _mean(pairs) if proto.tof and pairs else None,
            "identical_frames": sum(1 for v in values["psnr_rgb"] if math.isinf(v)),
            "per_frame": per_frame,
        }
        raw_clip_means.append(clip_means)  # unrounded, inf kept, for the clip average
        for m in _METRICS:
            all_frames[m].extend(values[m])
        all_pairs.extend(pairs)

    by_clip = {m: _json_num(_mean([c[m] for c in raw_clip_means])) for m in _METRICS}
    by_frame = {m: _json_num(_mean(all_frames[m])) for m in _METRICS}
    chosen = by_clip if proto.average == "clip" else by_frame
    suffix = "rgb" if proto.channel == "rgb" else "y"
    mean = {
        **chosen,
        "psnr": chosen[f"psnr_{suffix}"],
        "ssim": chosen[f"ssim_{suffix}"],
        "tof": _mean(all_pairs) if proto.tof and all_pairs else None,
        "channel": proto.channel,
        "average": proto.average,
        "frames": len(all_frames["psnr_rgb"]),
        "clips": len(clips_out),
    }
    return {
        "protocol": proto.to_dict(),
        "clips": clips_out,
        "mean": mean,
        "mean_clip_average": by_clip,
        "mean_frame_average": by_frame,
    }
