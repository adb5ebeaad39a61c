"""Many inputs, one command: ``vsrkit upscale IN1 IN2 DIR/ 'GLOB' -o OUTDIR/``.

Inputs are files, folders holding videos (their videos, sorted; a folder of frames stays one input), globs and
``sample:NAME`` clips. Each input gets ``OUTDIR/<stem><ext>`` (``.png`` for a single image). An input that fails is
reported with its one-line error and the batch goes on; outputs that already exist are complete (outputs only
appear when complete), so a re-run skips them and finishes the batch. Each file goes through
:func:`~vsrkit.engine.upscale.upscale_video`, or :func:`~vsrkit.engine.segments.upscale_resumable` when segments
are asked for (then a killed batch also resumes inside the file it was on).
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
from tqdm import tqdm

from vsrkit.data.samples import SAMPLE_PREFIX, resolve_input
from vsrkit.errors import VsrkitError
from vsrkit.io import IMAGE_SUFFIXES, VIDEO_EXTENSIONS, probe

_GLOB_CHARS = set("*?[")


@dataclass
class BatchItem:
    """One input of a batch and what happened to it."""

    input: str
    output: str
    status: str = "pending"  # "done", "skipped" (output already there), "failed"
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fps": round(self.fps, 3), "seconds": round(self.seconds, 3)}


def is_batch(inputs: list[str], output: str) -> bool:
    """True when the command names several inputs, a glob, a folder of videos, or an output ending in '/'."""
    if len(inputs) > 1 or output.endswith(("/", "\\")):
        return True
    text = inputs[0]
    if _GLOB_CHARS & set(text) and not Path(text).exists():
        return True
    return _videos_in(Path(text)) is not None


def _videos_in(folder: Path) -> list[Path] | None:
    """The video files of ``folder`` (sorted) if it holds videos rather than frames, else None."""
    if not folder.is_dir():
        return None
    videos = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    return videos or None


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files, folders of videos, globs and sample clips → input paths in command-line order, duplicates dropped.

    A glob that matches nothing is an error (a typo would otherwise finish 'successfully' with nothing done); a
    missing file is kept, so it fails on its own line while the others run.
    """
    out: list[Path] = []
    for text in inputs:
        if text.startswith(SAMPLE_PREFIX):
            out.append(resolve_input(text))
        elif _GLOB_CHARS & set(text) and not Path(text).exists():
            matches = sorted(Path(m) for m in glob.glob(text))
            if not matches:
                raise VsrkitError(f"pattern '{text}' matches no file: check it (quote it so vsrkit expands it)")
            out.extend(matches)
        else:
            out.extend(_videos_in(Path(text)) or [Path(text)])
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def plan_outputs(inputs: list[Path], outdir: Path, ext: str) -> list[BatchItem]:
    """``OUTDIR/<stem><ext>`` for each input (``.png`` for images); two inputs with one output name are an error."""
    if not ext.startswith("."):
        ext = "." + ext
    items, owners = [], {}
    for src in inputs:
        suffix = ".png" if src.suffix.lower() in IMAGE_SUFFIXES else ext
        dst = outdir / f"{src.stem if src.suffix else src.name}{suffix}"
        if dst in owners:
            raise VsrkitError(f"inputs '{owners[dst]}' and '{src}' would both write '{dst}': rename one or run them "
                              "in separate commands")
        owners[dst] = src
        items.append(BatchItem(str(src), str(dst)))
    return items


def _estimate_frames(path: Path) -> int:
    try:
        return int(probe(path).num_frames or 0)
    except (VsrkitError, OSError, av.error.FFmpegError):
        return 0


UpscaleOne = Callable[..., Any]  # (src, dst, *, progress, on_frame) -> stats with .frames


def upscale_batch(items: list[BatchItem], upscale_one: UpscaleOne, *, overwrite: bool = False,
                  progress: bool = True, on_item: Callable[[BatchItem], None] | None = None) -> list[BatchItem]:
    """Run ``upscale_one(src, dst, progress=..., on_frame=...)`` for each item; one failure never stops the rest.

    ``on_item`` is called when an item is finished (done, skipped or failed), e.g. to print its error at once.
    A stop request (Ctrl-C, SIGTERM) ends the whole batch: finished outputs stay, the current one is discarded (or
    kept in its work folder with segments) and a re-run continues.
    """
    outdir = Path(items[0].output).parent if items else None
    created = outdir is not None and not outdir.exists()
    if outdir is not None:
        outdir.mkdir(parents=True, exist_ok=True)
    total = sum(_estimate_frames(Path(it.input)) for it in items)
    bar = tqdm(total=total or None, unit="frame", disable=not progress, dynamic_ncols=True, position=0,
               desc=f"batch 0/{len(items)} files")
    try:
        for k, item in enumerate(items):
            src, dst = Path(item.input), Path(item.output)
            if dst.exists() and not overwrite:
                item.status = "skipped"
            else:
                start = time.perf_counter()
                try:
                    stats = upscale_one(src, dst, progress=progress, on_frame=lambda: bar.update(1))
                    item.status, item.frames = "done", int(stats.frames)
                except (VsrkitError, OSError, av.error.FFmpegError) as e:
                    item.status, item.error = "failed", _one_line(e)
                item.seconds = time.perf_counter() - start
            bar.set_description(f"batch {k + 1}/{len(items)} files")
            if on_item is not None:
                on_item(item)
    finally:
        bar.close()
        if created and not any(outdir.iterdir()):  # stopped or failed before any output: leave no trace either
            outdir.rmdir()
    return items


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and not isinstance(e, av.error.FFmpegError):
        where = f" '{e.filename}'" if e.filename else ""
        return f"cannot access{where} ({e.strerror or e})"
    return " ".join(str(e).split())


def format_batch_table(items: list[BatchItem]) -> str:
    """A plain-text summary: input, frames, seconds, fps, status (errors under their input), then totals."""
    width = max([len("input")] + [len(it.input) for it in items])
    lines = [f"{'input':<{width}}  {'frames':>7}  {'seconds':>8}  {'fps':>7}  status"]
    for it in items:
        lines.append(f"{it.input:<{width}}  {it.frames:>7}  {it.seconds:>8.1f}  {it.fps:>7.2f}  {it.status}")
        if it.error:
            lines.append(f"{'':<{width}}  error: {it.error}")
    counts = {s: sum(it.status == s for it in items) for s in ("done", "skipped", "failed")}
    frames = sum(it.frames for it in items)
    seconds = sum(it.seconds for it in items)
    lines.append(f"{len(items)} inputs: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed; "
                 f"{frames} frames in {seconds:.1f} s")
    return "\n".join(lines)


def batch_summary(items: list[BatchItem]) -> dict[str, Any]:
    """The ``--json`` form of a batch's result."""
    return {"items": [it.as_dict() for it in items],
            "done": sum(it.status == "done" for it in items),
            "skipped": sum(it.status == "skipped" for it in items),
            "failed": sum(it.status == "failed" for it in items),
            "frames": sum(it.frames for it in items)}
