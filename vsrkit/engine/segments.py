"""Resumable long runs: a video upscaled in segments, each kept losslessly until the whole file is assembled once.

The input is cut into segments of ``length`` output frames (a multiple of ``--chunk``). A segment is given
:meth:`Upscaler.segment_context <vsrkit.engine.infer.Upscaler.segment_context>` extra input frames on each side and
runs through the ordinary streaming engine with ``skip``/``limit`` (:meth:`Upscaler.stream
<vsrkit.engine.infer.Upscaler.stream>`): the context frames are recomputed and discarded exactly as between two
chunks of one run, so the frames a segment emits equal those of the uninterrupted whole-clip run. There is one
scheduler; segments only decide where it starts and stops.

Finished segments are FFV1 files (lossless RGB, ``bgr0`` / ``gbrp16le``) in the run's work folder
(:class:`~vsrkit.engine.workfolder.WorkFolder`) beside the output. After a kill the same command finds them, decodes
the input again (decoding is cheap next to the model), skips the finished segments and computes the rest. When all
are there, :func:`stitch` writes the output once through the ordinary writer: source timestamps, audio and subtitles
are muxed from the source in that one pass, the file appears atomically and the work folder is removed.

Segments are independent units of work: :class:`LocalSegments` renders them one after the other in this process,
:mod:`vsrkit.engine.ray_segments` spreads the same :func:`render_segment` calls over a Ray cluster.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np
from torch import nn
from tqdm import tqdm

from vsrkit import interrupt
from vsrkit.engine.infer import InferenceOptions, Upscaler
from vsrkit.engine.upscale import EncodeOptions, UpscaleStats
from vsrkit.engine.workfolder import WorkFolder, input_identity, weights_digest
from vsrkit.errors import VsrkitError
from vsrkit.io import IMAGE_SUFFIXES, atomic, open_reader, open_writer, outputs
from vsrkit.models.registry import ModelSpec

# Lossless intermediate: FFV1 keeps RGB bit for bit in these pixel formats (uint8 / uint16 frames).
_LOSSLESS_PIX_FMT = {np.dtype(np.uint8): "bgr0", np.dtype(np.uint16): "gbrp16le"}
_DECODE_FORMAT = {"uint8": "rgb24", "uint16": "rgb48le"}


@dataclass
class Segment:
    """Input of one segment: frames ``[start - context, start + count + context)`` of the clip (fewer at its ends)."""

    start: int  # first frame this segment emits (clip index)
    count: int  # frames it emits (the last segment may emit fewer; one that absorbs the clip's tail, more)
    context: int  # leading input frames that are context only
    frames: list[np.ndarray]  # (H, W, 3) uint8/uint16 LR frames
    times: list[float | None]  # source timestamps of frames start, start + 1, ... (as far as they were read)


#: Recurrent chunk length of segmented runs when the options leave it to the memory budget (segments are whole
#: chunks, so the chunk cannot depend on the frame size found later).
SEGMENT_CHUNK = 16


def segment_length(requested: int, options: InferenceOptions) -> int:
    """``requested`` frames rounded up to a multiple of ``options.chunk`` (chunks then start at the same frames as in
    the whole-clip run, which is what makes a segment's output equal it)."""
    if requested < 1:
        raise VsrkitError(f"--segment must be at least 1 frame (got {requested})")
    return -(-requested // options.chunk) * options.chunk


def split_segments(frames: Iterable[tuple[np.ndarray, float | None]], length: int, context: int,
                   finished: Container[int] = ()) -> Iterator[Segment]:
    """Cut a stream of ``(rgb, time)`` frames into :class:`Segment` inputs, reading it once.

    Segments whose start is in ``finished`` are read past but not yielded. Memory: ``length + 2·context`` frames.
    """
    it = iter(frames)
    buffer: deque[tuple[np.ndarray, float | None]] = deque()  # frames [first, first + len)
    first = 0
    start = 0
    exhausted = False
    while True:
        while not exhausted and first + len(buffer) < start + length + context:
            item = next(it, None)
            if item is None:
                exhausted = True
            else:
                buffer.append(item)
        end = first + len(buffer)
        if start >= end:
            return
        if start not in finished:
            lo = max(start - context, first)
            yield Segment(start=start, count=length, context=start - lo,
                          frames=[buffer[i - first][0] for i in range(lo, end)],
                          times=[buffer[i - first][1] for i in range(start, end)])
        start += length
        while first < start - context and buffer:
            buffer.popleft()
            first += 1


def render_segment(runner: Upscaler, segment: Segment, path: Path,
                   on_frame: Callable[[], None] | None = None) -> dict[str, Any]:
    """Upscale one segment into a lossless FFV1 file at ``path`` (written atomically); returns its record."""
    from vsrkit.io import VideoWriter

    writer = None
    n = 0
    try:
        for out in runner.stream(iter(segment.frames), skip=segment.context, limit=segment.count):
            interrupt.check()
            if writer is None:
                writer = VideoWriter(path, fps=25, width=out.shape[1], height=out.shape[0], codec="ffv1",
                                     pix_fmt=_LOSSLESS_PIX_FMT[out.dtype], overwrite=True, color_range="pc")
                dtype = str(out.dtype)
            writer.write(out)
            n += 1
            if on_frame is not None:
                on_frame()
        if writer is None:
            raise VsrkitError(f"segment at frame {segment.start} produced no frames: the input ended early")
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if n > len(segment.times):
        raise VsrkitError(f"segment at frame {segment.start} emitted {n} frames for {len(segment.times)} inputs")
    return {"start": segment.start, "frames": n, "times": segment.times[:n], "dtype": dtype}


def read_segment(path: Path, dtype: str) -> Iterator[np.ndarray]:
    """Decode a segment file back to ``(H, W, 3)`` RGB frames of ``dtype``, exactly as they were written."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format=_DECODE_FORMAT[dtype])


class SegmentExecutor(Protocol):
    """Turns segment inputs into committed segment records (in any order)."""

    def run(self, segments: Iterator[Segment], work: WorkFolder,
            on_frame: Callable[[], None]) -> Iterator[dict[str, Any]]: ...


class LocalSegments:
    """Renders segments one after the other with ``runner``, straight into the work folder."""

    def __init__(self, runner: Upscaler) -> None:
        self.runner = runner

    def run(self, segments: Iterator[Segment], work: WorkFolder,
            on_frame: Callable[[], None]) -> Iterator[dict[str, Any]]:
        for seg in segments:
            yield work.commit_segment(render_segment(self.runner, seg, work.segment_file(seg.start), on_frame))


def stitch(work: WorkFolder, records: dict[int, dict[str, Any]], total: int, dst: Path, *, info: Any,
           out_size: tuple[int, int], encode: EncodeOptions, src: Path, overwrite: bool) -> int:
    """Write the output once from the finished segments (in clip order), with the source's timestamps, and its
    audio and subtitles muxed in the same pass; the file appears atomically. Returns the frames written.

    A segment that absorbed the clip's short tail also covers the first frames of the next one; frames already
    written are skipped, so each clip frame is taken from the first segment that emits it.
    """
    width, height = out_size
    writer = open_writer(dst, like=info, fps=info.fps, width=width, height=height, codec=encode.codec,
                         crf=encode.crf, preset=encode.preset, pix_fmt=encode.pix_fmt, overwrite=overwrite,
                         copy_streams_from=str(src) if encode.copy_streams and src.is_file() else None)
    next_frame = 0
    try:
        with writer:
            for start in sorted(records):
                rec = records[start]
                if start > next_frame:
                    raise VsrkitError(f"segment at frame {next_frame} is missing from '{work.path}': re-run the "
                                      "command to compute it")
                for i, rgb in enumerate(read_segment(work.segment_file(start), rec["dtype"])):
                    if start + i < next_frame:
                        continue
                    interrupt.check()
                    writer.write(rgb, time=rec["times"][i])
                    next_frame = start + i + 1
            if next_frame != total:
                raise VsrkitError(f"the segments in '{work.path}' hold {next_frame} frames but the input has {total}: "
                                  "delete the folder and re-run")
    except av.error.FFmpegError as e:
        msg = " ".join(str(e).split())
        raise atomic.disk_error(dst, e) or VsrkitError(
            f"encoding {str(dst)!r} failed ({msg}): check --codec, --preset, --crf and --pix-fmt") from None
    return next_frame


def upscale_resumable(
    src: str | Path,
    dst: str | Path,
    *,
    model: nn.Module,
    model_spec: ModelSpec,
    segment: int,
    options: InferenceOptions | None = None,
    encode: EncodeOptions | None = None,
    overwrite: bool = False,
    progress: bool = True,
    allow_truncated: bool = False,
    executor: SegmentExecutor | None = None,
    on_frame: Callable[[], None] | None = None,
) -> UpscaleStats:
    """Upscale video ``src`` into video ``dst`` in segments of ``segment`` frames kept in a work folder beside
    ``dst``; re-running the same call after a kill resumes from the finished segments (see the module docstring).

    ``executor`` renders the segments (default: this process; :class:`~vsrkit.engine.ray_segments.RaySegments`
    for a Ray cluster). The output equals that of :func:`~vsrkit.engine.upscale.upscale_video` with the same
    options, frame for frame.
    """
    options = options or InferenceOptions()
    if options.chunk is None:  # segment borders must fall on chunk borders: a fixed chunk, not one from a budget
        options = replace(options, chunk=SEGMENT_CHUNK)
    encode = encode or EncodeOptions()
    src, dst = Path(src), Path(dst)
    if src.is_file() and src.suffix.lower() in IMAGE_SUFFIXES:
        raise VsrkitError(f"--segment is for videos, and '{src}' is an image: drop --segment")
    if dst.suffix == "" or dst.is_dir():
        raise VsrkitError(f"--segment writes a video file, and '{dst}' is a frame folder: give OUTPUT a video "
                          "suffix (.mkv, .mp4, ...) or drop --segment")
    if options.save_aux is not None:
        raise VsrkitError("--save-aux cannot be combined with --segment: drop one of them")
    outputs.check_output(dst, overwrite=overwrite, inputs=(src,), kind="file")
    runner = Upscaler(model, model_spec, options)
    executor = executor or LocalSegments(runner)
    length = segment_length(segment, options)
    identity = {
        "input": input_identity(src),
        "model": model_spec.name,
        "weights_sha256": weights_digest(model),
        "scale": runner.scale,
        "inference": {"chunk": options.chunk, "chunk_overlap": options.chunk_overlap, "tile": options.tile,
                      "tile_overlap": options.tile_overlap, "precision": options.precision,
                      "device": runner.device.type},
        "segment": length,
    }
    work = WorkFolder(dst)
    work.open(identity)
    records = work.finished()
    stats = UpscaleStats()
    stats.extra["segments_reused"] = len(records)
    start_time = time.perf_counter()
    with open_reader(src, dtype="auto", allow_truncated=allow_truncated) as reader:
        info = reader.info
        total = 0

        def frames() -> Iterator[tuple[np.ndarray, float | None]]:
            nonlocal total
            for f in reader:
                total += 1
                yield f.rgb, f.time

        done_frames = sum(r["frames"] for r in records.values())
        bar = tqdm(total=info.num_frames, initial=done_frames, unit="frame",
                   disable=not progress, dynamic_ncols=True)
        try:
            def frame_done() -> None:
                bar.update(1)
                if on_frame is not None:
                    on_frame()

            for rec in executor.run(split_segments(frames(), length, runner.segment_context(), records), work,
                                    frame_done):
                records[rec["start"]] = rec
        finally:
            bar.close()
    stats.frames = stitch(work, records, total, dst, info=info,
                          out_size=(runner.out_size(info.width), runner.out_size(info.height)), encode=encode,
                          src=src, overwrite=overwrite)
    work.remove()
    stats.seconds = time.perf_counter() - start_time
    stats.model_seconds = runner.model_seconds
    return stats
