"""``upscale_video``: a real video (or frame folder) in, an upscaled one out, streamed in bounded memory.

Glue between :mod:`vsrkit.io` (threaded decode/encode, atomic output), the model registry and
:class:`~vsrkit.engine.infer.Upscaler`. The input is never modified; the output appears only when complete.
"""

from __future__ import annotations

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
from vsrkit.engine.infer import InferenceOptions, Upscaler
from vsrkit.errors import VsrkitError
from vsrkit.io import open_reader, open_writer
from vsrkit.models.registry import ModelSpec, build, spec
from vsrkit.models.weights import load_model


@dataclass
class EncodeOptions:
    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "yuv420p"
    copy_streams: bool = True  # audio and subtitles from the input


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
    checkpoint of ``name`` (:mod:`vsrkit.zoo`); ``name=None`` means bicubic. ``untrained=True`` builds random
    weights instead (smoke tests, speed measurements); a learned model with neither is a one-line error.

    Arbitrary-scale models (``ModelSpec.arbitrary_scale``) take any real ``scale`` > 0, also with a weights file;
    every other model needs an integer ``scale`` equal to its own.
    """
    if scale is not None and not scale > 0:
        raise VsrkitError(f"--scale must be positive (got {scale}): use e.g. --scale 4 or drop it")
    name = name or ("bicubic" if weights is None else None)
    if weights is None and name != "bicubic" and not untrained:
        from vsrkit import zoo

        spec(name)  # one-line error for unknown names
        weights = zoo.shipped_path(name)
        if weights is None:
            raise VsrkitError(f"model {name!r} has no shipped weights: pass --weights FILE (from `vsrkit train`, or an "
                              f"official checkpoint via `vsrkit convert`)")
        shipped_variant = zoo.shipped_card(name).get("variant")
        if variant is not None and variant != shipped_variant:
            raise VsrkitError(f"the shipped {name} weights are variant {shipped_variant!r}, not {variant!r}: drop "
                              "--variant or pass --weights for that variant")
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
    """Upscale one image file (PNG/JPG/...) into ``dst`` (written as PNG; 16-bit inputs stay 16-bit)."""
    import cv2

    from vsrkit.io import atomic, read_image

    src, dst = Path(src), Path(dst)
    if dst.suffix.lower() != ".png":
        raise VsrkitError(f"output {str(dst)!r} for an image input must end in .png: e.g. -o out.png")
    if dst.exists() and dst.resolve() == src.resolve():
        raise VsrkitError(f"output {str(dst)!r} is the input: choose another output name")
    if dst.exists() and not overwrite:
        raise VsrkitError(f"output {str(dst)!r} already exists: pass --overwrite or choose another name")
    runner = Upscaler(model, model_spec, options)
    start = time.perf_counter()
    rgb = read_image(src, dtype="auto")
    out = next(runner.stream(iter([rgb])))
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic.temp_file_for(dst)
    try:
        if not cv2.imwrite(str(tmp), np.ascontiguousarray(out[..., ::-1])):
            raise VsrkitError(f"could not write {str(dst)!r}: check the folder and the free disk space")
        atomic.commit(tmp, dst, overwrite=overwrite)
    except BaseException:
        atomic.discard(tmp)
        raise
    return UpscaleStats(frames=1, seconds=time.perf_counter() - start, model_seconds=runner.model_seconds)


def upscale_images(src: str | Path, dst: str | Path, *, model: nn.Module, model_spec: ModelSpec,
                   options: InferenceOptions | None = None, overwrite: bool = False) -> UpscaleStats:
    """Upscale every image of folder ``src`` on its own into folder ``dst`` as ``<stem>.png`` (sizes may differ)."""
    from vsrkit.io import list_frames

    src, dst = Path(src), Path(dst)
    files = list_frames(src)
    if dst.exists() and not overwrite:
        raise VsrkitError(f"output {str(dst)!r} already exists: pass --overwrite or choose another name")
    stats = UpscaleStats()
    start = time.perf_counter()
    for f in files:
        one = upscale_image(f, dst / f"{f.stem}.png", model=model, model_spec=model_spec, options=options,
                            overwrite=True)
        stats.frames += 1
        stats.model_seconds += one.model_seconds
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
    on_frame: Callable[[], None] | None = None,
) -> UpscaleStats:
    """Upscale ``src`` (video file or frame folder) into ``dst`` (video by suffix, else a PNG frame folder).
    ``on_frame`` is called after each written frame (a batch's progress).

    A single image file goes to :func:`upscale_image` (``dst`` a .png) and a folder of images of different sizes
    to :func:`upscale_images` (one ``<stem>.png`` per image); same-size folders are frame sequences, as before.
    """
    encode = encode or EncodeOptions()
    src, dst = Path(src), Path(dst)
    if dst.exists() and dst.resolve() == src.resolve():
        raise VsrkitError(f"output {str(dst)!r} is the input: choose another output name")
    if dst.exists() and not overwrite:
        raise VsrkitError(f"output {str(dst)!r} already exists: pass --overwrite or choose another name")
    from vsrkit.io import IMAGE_SUFFIXES

    if src.is_file() and src.suffix.lower() in IMAGE_SUFFIXES:  # one picture → one PNG
        return upscale_image(src, dst, model=model, model_spec=model_spec, options=options, overwrite=overwrite)
    if _mixed_size_folder(src):  # photos of different sizes → one PNG per photo, names kept
        return upscale_images(src, dst, model=model, model_spec=model_spec, options=options, overwrite=overwrite)
    runner = Upscaler(model, model_spec, options)
    stats = UpscaleStats()
    start = time.perf_counter()
    with open_reader(src, dtype="auto", allow_truncated=allow_truncated) as reader:
        info = reader.info
        times: deque[float | None] = deque()  # timestamps of decoded, not yet written frames

        def frames() -> Iterator[np.ndarray]:
            it = iter(reader)
            while True:
                t0 = time.perf_counter()
                frame = next(it, None)
                stats.read_wait_seconds += time.perf_counter() - t0
                if frame is None:
                    return
                times.append(frame.time)
                yield frame.rgb

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
        bar = tqdm(total=info.num_frames, unit="frame", disable=not progress, dynamic_ncols=True)
        try:
            with writer:
                for out in runner.stream(frames()):
                    interrupt.check()
                    t0 = time.perf_counter()
                    writer.write(out, time=times.popleft())
                    stats.write_wait_seconds += time.perf_counter() - t0
                    stats.frames += 1
                    bar.update(1)
                    if on_frame is not None:
                        on_frame()
                t0 = time.perf_counter()
        except av.error.FFmpegError as e:
            # The encoder opens lazily on the first frame: bad --preset/--crf/codec options surface here.
            msg = " ".join(str(e).split())
            raise VsrkitError(f"encoding {str(dst)!r} failed ({msg}): check --codec, --preset, --crf and "
                              "--pix-fmt") from None
        finally:
            bar.close()
        stats.write_wait_seconds += time.perf_counter() - t0  # finalising the encoder and renaming
    stats.seconds = time.perf_counter() - start
    stats.model_seconds = runner.model_seconds
    return stats
