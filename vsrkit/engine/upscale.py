"""``upscale_video``: a real video (or frame folder) in, an upscaled one out, streamed in bounded memory.

Glue between :mod:`vsrkit.io` (threaded decode/encode, atomic output), the model registry and
:class:`~vsrkit.engine.infer.Upscaler`. The input is never modified; the output appears only when complete.
"""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from torch import nn
from tqdm import tqdm

from vsrkit import interrupt
from vsrkit.engine.fastpath import set_threads
from vsrkit.engine.infer import InferenceOptions, Upscaler
from vsrkit.errors import VsrkitError
from vsrkit.io import atomic, open_reader, open_writer
from vsrkit.io.deinterlace import deinterlace as deinterlace_frames
from vsrkit.models.registry import ModelSpec, build, spec
from vsrkit.models.weights import load_model


@dataclass
class EncodeOptions:
    codec: str | None = None  # None: from the output container (and libx265 for HDR sources), see io.default_codec
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str | None = None  # None: the source's chroma and bit depth, see io.video.output_pix_fmt
    copy_streams: bool = True  # audio and subtitles from the input (container/stream tags and chapters always)


@dataclass
class UpscaleStats:
    frames: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    read_wait_seconds: float = 0.0  # time the model loop waited for decoded frames
    write_wait_seconds: float = 0.0  # time the model loop waited for the encoder to accept frames
    extra: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def io_wait_fraction(self) -> float:
        return (self.read_wait_seconds + self.write_wait_seconds) / self.seconds if self.seconds else 0.0


def resolve_model(
    name: str | None, *, variant: str | None = None, weights: str | Path | None = None,
    scale: int | float | None = None, untrained: bool = False,
) -> tuple[nn.Module, ModelSpec]:
    """Build the model to run, with trained weights: ``weights`` (its card names the model), else the shipped
    checkpoint of ``name`` (:mod:`vsrkit.models.catalogue`); ``name=None`` means bicubic. ``untrained=True`` builds random
    weights instead (smoke tests, speed measurements); a learned model with neither is a one-line error.

    Arbitrary-scale models (``ModelSpec.arbitrary_scale``) take any real ``scale`` > 0, also with a weights file;
    every other model needs an integer ``scale`` equal to its own.
    """
    if scale is not None and not scale > 0:
        raise VsrkitError(f"--scale must be positive (got {scale}): use e.g. --scale 4 or drop it")
    name = name or ("bicubic" if weights is None else None)
    if weights is None and name != "bicubic" and not untrained:
        from vsrkit.models import catalogue

        entry = catalogue.shipped(name)  # a model name or a catalogue entry such as basicvsr_real
        if entry is None:
            spec(name)  # one-line error for unknown names
        weights = catalogue.shipped_path(name)
        if weights is None:
            raise VsrkitError(f"model {name!r} has no shipped weights: pass --weights FILE (from `vsrkit train`, or an "
                              f"official checkpoint via `vsrkit convert`)")
        shipped_variant = catalogue.shipped_card(name).get("variant")
        if variant is not None and variant != shipped_variant:
            raise VsrkitError(f"the shipped {name} weights are variant {shipped_variant!r}, not {variant!r}: drop "
                              "--variant or pass --weights for that variant")
        name = entry.method if entry is not None else name
    if weights is not None:
        model = load_model(weights, name=name, variant=variant)
        from vsrkit.models.weights import read_card

        name = read_card(weights).get("method") or name
    else:
        s = spec(name)
        overrides = {}
        if scale is not None and s.arbitrary_scale:
            overrides["scale"] = float(scale)
        elif scale is not None and s.name == "bicubic" and float(scale).is_integer():
            overrides["scale"] = int(scale)
        model = build(name, variant, **overrides)
    s = spec(name)
    if scale is not None and s.arbitrary_scale:
        model.scale = float(scale)  # e.g. weights trained at x4, run at x3.5
        return model, s
    if scale is not None and not float(scale).is_integer():
        raise VsrkitError(f"model {name!r} only upscales by an integer factor, not x{scale:g}: use an integer "
                          "--scale or an arbitrary-scale model (e.g. -m srinr)")
    model_scale = int(getattr(model, "scale", s.scale or 1))
    if scale is not None and int(scale) != model_scale:
        raise VsrkitError(f"model {name!r} upscales ×{model_scale}, not ×{int(scale)}: drop --scale or pick another "
                          "model")
    return model, s


def upscale_image(src: str | Path, dst: str | Path, *, model: nn.Module, model_spec: ModelSpec,
                  options: InferenceOptions | None = None, overwrite: bool = False) -> UpscaleStats:
    """Upscale one image file (PNG/JPG/...) into ``dst``: PNG or TIFF (16-bit inputs stay 16-bit), JPEG or WebP
    (8-bit), by the suffix of ``dst``."""
    from vsrkit.io import read_image
    from vsrkit.io.frames import IMAGE_OUTPUT_SUFFIXES, write_image
    from vsrkit.io.outputs import check_output

    src, dst = Path(src), Path(dst)
    if dst.suffix.lower() not in IMAGE_OUTPUT_SUFFIXES:
        raise VsrkitError(f"output {str(dst)!r} for an image input must be a picture: end it in .png, .tif, .jpg or "
                          ".webp (e.g. -o out.png)")
    check_output(dst, inputs=[src], overwrite=overwrite, kind="file", parent_must_exist=False)
    runner = Upscaler(model, model_spec, options)
    start = time.perf_counter()
    out = next(runner.stream(iter([read_image(src, dtype="auto")])))
    write_image(dst, out, overwrite=overwrite)
    return UpscaleStats(frames=1, seconds=time.perf_counter() - start, model_seconds=runner.model_seconds)


def upscale_images(src: str | Path, dst: str | Path, *, model: nn.Module, model_spec: ModelSpec,
                   options: InferenceOptions | None = None, overwrite: bool = False) -> UpscaleStats:
    """Upscale every image of folder ``src`` on its own into folder ``dst`` as ``<stem>.png`` (sizes may differ).

    The folder is published whole or not at all (:class:`~vsrkit.io.outputs.OutputSet`); two images whose output
    names collide (``a.jpg`` and ``a.png``) are refused before any work.
    """
    from vsrkit.io import list_frames, read_image, write_png
    from vsrkit.io.outputs import OutputSet, check_distinct, write_marker

    src, dst = Path(src), Path(dst)
    files = list_frames(src)
    check_distinct(((f, f"{f.stem}.png") for f in files), where=dst)
    runner = Upscaler(model, model_spec, options)
    stats = UpscaleStats()
    start = time.perf_counter()
    with OutputSet([dst], inputs=[src], overwrite=overwrite, kinds=["folder"]) as outs:
        folder = outs.temp(dst)
        folder.mkdir()
        for f in files:
            interrupt.check()
            write_png(folder / f"{f.stem}.png", next(runner.stream(iter([read_image(f, dtype="auto")]))))
            stats.frames += 1
        write_marker(folder, images=stats.frames)
    stats.model_seconds = runner.model_seconds
    stats.seconds = time.perf_counter() - start
    return stats


def _mixed_size_folder(src: Path) -> bool:
    """True for a folder of images that do not all share one size (a photo collection, not a frame sequence)."""
    if not src.is_dir():
        return False
    from vsrkit.io.frames import image_size, list_frames

    sizes = set()
    for f in list_frames(src, required=False):
        sizes.add(image_size(f))
        if len(sizes) > 1:
            return True
    return False


def preview_range(fps: float, *, start: float | None = None, duration: float | None = None,
                  max_frames: int | None = None) -> range | None:
    """Frame indices of a preview: from ``start`` seconds (the first frame at or after it, counted at ``fps`` from
    the first frame) for ``duration`` seconds and at most ``max_frames`` frames; None when nothing limits the run."""
    if start is None and duration is None and max_frames is None:
        return None
    if start is not None and start < 0:
        raise VsrkitError(f"--start must be 0 or more seconds (got {start:g})")
    if duration is not None and not duration > 0:
        raise VsrkitError(f"--duration must be positive (got {duration:g}): e.g. --duration 5")
    if max_frames is not None and max_frames < 1:
        raise VsrkitError(f"--max-frames must be at least 1 (got {max_frames})")
    first = math.ceil((start or 0.0) * fps - 1e-6)
    count = sys.maxsize
    if duration is not None:
        count = max(1, math.ceil(duration * fps - 1e-6))
    if max_frames is not None:
        count = min(count, max_frames)
    return range(first, first + count if count < sys.maxsize else sys.maxsize)


def upscale_video(
    src: str | Path,
    dst: str | Path,
    *,
    model: nn.Module,
    model_spec: ModelSpec,
    options: InferenceOptions | None = None,
    encode: EncodeOptions | None = None,
    overwrite: bool = False,
    progress: bool = True,
    allow_truncated: bool = False,
    start: float | None = None,
    duration: float | None = None,
    max_frames: int | None = None,
    deinterlace: bool = False,
    compare: str | Path | None = None,
    on_frame: Callable[[], None] | None = None,
) -> UpscaleStats:
    """Upscale ``src`` (video file or frame folder) into ``dst`` (video by suffix, else a PNG frame folder).
    ``on_frame`` is called after each written frame (a batch's progress).

    A single image file goes to :func:`upscale_image` (``dst`` a picture) and a folder of images of different sizes
    to :func:`upscale_images` (one ``<stem>.png`` per image); same-size folders are frame sequences, as before.

    ``start``/``duration`` (seconds) and ``max_frames`` make a preview (:func:`preview_range`): only those frames,
    each equal to the same frame of a full run (temporal context comes from the frames around the range). Interlaced input is refused unless
    ``deinterlace`` (yadif, :mod:`vsrkit.io.deinterlace`). ``compare`` also writes a picture of the first output
    frame beside its input (nearest-neighbour enlarged) there.
    """
    encode = encode or EncodeOptions()
    src, dst = Path(src), Path(dst)
    from vsrkit.io import IMAGE_SUFFIXES
    from vsrkit.io.outputs import check_apart_from_inputs, check_output

    check_output(dst, inputs=[src], overwrite=overwrite, parent_must_exist=False)
    if compare is not None:
        check_output(compare, inputs=[src], overwrite=overwrite, kind="file", parent_must_exist=False)
    if options is not None and options.save_aux is not None:
        check_apart_from_inputs(options.save_aux, [src])

    if src.is_file() and src.suffix.lower() in IMAGE_SUFFIXES:  # one picture → one picture
        stats = upscale_image(src, dst, model=model, model_spec=model_spec, options=options, overwrite=overwrite)
        if compare is not None:
            from vsrkit.io import read_image

            _write_compare(compare, read_image(src, dtype="auto"), read_image(dst, dtype="auto"), model_spec.name,
                           overwrite)
        return stats
    if _mixed_size_folder(src):  # photos of different sizes → one PNG per photo, names kept
        return upscale_images(src, dst, model=model, model_spec=model_spec, options=options, overwrite=overwrite)
    set_threads()  # the model's intra-op pool gets every core; decode/encode threads only wait on PyAV
    runner = Upscaler(model, model_spec, options)
    stats = UpscaleStats()
    began = time.perf_counter()
    with open_reader(src, dtype="auto", allow_truncated=allow_truncated) as reader:
        info = reader.info
        frames = preview_range(float(info.fps), start=start, duration=duration, max_frames=max_frames)
        if info.field_order != "progressive" and not deinterlace:
            raise VsrkitError(f"input '{src}' is interlaced (field order {info.field_order}): pass --deinterlace to "
                              "deinterlace it (yadif) before upscaling, or deinterlace it first")
        times: deque[tuple[int, float | None]] = deque()  # (index, timestamp) of decoded, not yet written frames
        first_input: list[np.ndarray] = []  # the input and output of the first output frame, for --compare
        first_output: list[np.ndarray] = []
        first_index = frames.start if frames is not None else 0

        def decoded() -> Iterator[np.ndarray]:
            it = iter(reader)
            while True:
                t0 = time.perf_counter()
                frame = next(it, None)
                stats.read_wait_seconds += time.perf_counter() - t0
                if frame is None:
                    return
                times.append((frame.index, frame.time))
                yield frame.rgb

        def model_input() -> Iterator[np.ndarray]:
            source = deinterlace_frames(decoded(), info.field_order) if deinterlace else decoded()
            for i, rgb in enumerate(source):
                if i == first_index and compare is not None:
                    first_input.append(rgb)
                yield rgb

        def time_of(index: int) -> float | None:
            while times and times[0][0] < index:
                times.popleft()
            return times.popleft()[1]

        writer = open_writer(
            dst,
            like=info,
            fps=info.fps,
            width=runner.out_size(info.width),
            height=runner.out_size(info.height),
            codec=encode.codec,
            crf=encode.crf,
            preset=encode.preset,
            pix_fmt=encode.pix_fmt,
            copy_streams_from=str(src) if encode.copy_streams and src.is_file() else None,
            overwrite=overwrite,
        )
        total = info.num_frames
        if frames is not None and total is not None:
            total = max(0, min(frames.stop, total) - frames.start)
        # The ETA must come from frames finished / time elapsed. Chunking makes output bursty (a whole chunk lands at
        # once): tqdm's defaults (rate smoothed over recent updates, redraw at most every 0.1 s) then show the state
        # after the burst's first frame, e.g. ETA 80 s where 4.5 s is right after one 16-frame chunk of 160.
        # smoothing=0 + mininterval=0 redraw with the plain average after every frame.
        bar = tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True, smoothing=0, mininterval=0)
        try:
            with writer:
                index = first_index
                for out in runner.stream(model_input(), emit=frames):
                    interrupt.check()
                    if index == first_index and compare is not None:
                        first_output.append(out)
                    t0 = time.perf_counter()
                    writer.write(out, time=time_of(index))
                    stats.write_wait_seconds += time.perf_counter() - t0
                    stats.frames += 1
                    index += 1
                    bar.update(1)
                    if on_frame is not None:
                        on_frame()
                if stats.frames == 0 and frames is not None:
                    raise VsrkitError(f"--start is past the end of '{src}' (no frame there): choose an earlier start")
                t0 = time.perf_counter()
        except av.error.FFmpegError as e:
            # The encoder opens lazily on the first frame: bad --preset/--crf/codec options surface here.
            msg = " ".join(str(e).split())
            raise atomic.disk_error(dst, e) or VsrkitError(
                f"encoding {str(dst)!r} failed ({msg}): check --codec, --preset, --crf and --pix-fmt") from None
        finally:
            bar.close()
        stats.write_wait_seconds += time.perf_counter() - t0  # finalising the encoder and renaming
    if first_output:  # after the output is complete: a failed run leaves no picture either
        _write_compare(compare, first_input[0], first_output[0], model_spec.name, overwrite)
    stats.seconds = time.perf_counter() - began
    stats.model_seconds = runner.model_seconds
    stats.extra["fast_path"] = (f"{runner.fast_path.precision} {'NHWC' if runner.fast_path.channels_last else 'NCHW'}"
                                + (f", chunk {runner.chunk_used}" if runner.spec.temporal == "recurrent" else ""))
    return stats


def _write_compare(path: str | Path, lr: np.ndarray, sr: np.ndarray, name: str, overwrite: bool) -> None:
    """The ``--compare`` picture: the input enlarged by pixel replication beside the model's output."""
    from vsrkit.io.frames import write_image
    from vsrkit.io.pictures import side_by_side

    factor = sr.shape[1] / lr.shape[1]
    write_image(path, side_by_side([(f"input (nearest x{factor:g})", lr), (f"{name} x{factor:g}", sr)]),
                overwrite=overwrite)
