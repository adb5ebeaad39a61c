"""Frame folders: read a directory of PNG/JPG frames, write ``%08d.png`` frames atomically.

Frame folders are the benchmark layout (REDS, Vid4, ...) and the lossless fallback output. They carry no frame rate,
so ``fps`` defaults to 25 unless given, and no colour tags: the pixels are RGB already (colour matrix ``'rgb'``).
"""

from __future__ import annotations

import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from vsrkit.errors import VsrkitError
from vsrkit.io import atomic
from vsrkit.io.video import Dtype, Frame, VideoInfo, _check_frame, _Prefetcher, _want_uint16, _Worker

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
DEFAULT_FOLDER_FPS = Fraction(25)


def _natural_key(name: str) -> list[Any]:
    # "frame10" after "frame9": compare digit runs as numbers, the rest as lower-case text.
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """Image files of ``folder`` in natural numeric order (hidden files ignored)."""
    p = Path(folder)
    if not p.exists():
        raise VsrkitError(f"input '{p}' does not exist: check the path")
    files = [f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".") and f.is_file()]
    if not files:
        raise VsrkitError(f"folder '{p}' contains no PNG/JPG frames: point to the folder holding the images")
    return sorted(files, key=lambda f: _natural_key(f.name))


def _imread(path: Path) -> np.ndarray:
    """Read an image as (H, W, 3) RGB in its own dtype (uint8 or uint16)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise VsrkitError(f"frame '{path}' cannot be read as an image: remove or replace the file")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)  # alpha is dropped: VSR models take RGB
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.dtype not in (np.uint8, np.uint16):
        raise VsrkitError(f"frame '{path}' has {img.dtype} samples: convert the frames to 8- or 16-bit PNG")
    return img


def _convert(img: np.ndarray, out16: bool) -> np.ndarray:
    if out16 and img.dtype == np.uint8:
        return img.astype(np.uint16) * 257  # 255 -> 65535 exactly
    if not out16 and img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return img


def probe_folder(folder: str | os.PathLike, *, fps: float | Fraction | None = None) -> VideoInfo:
    """Describe a frame folder from its file list and first image."""
    files = list_frames(folder)
    first = _imread(files[0])
    rate = Fraction(fps).limit_denominator(1_000_000) if fps is not None else DEFAULT_FOLDER_FPS
    depth = 16 if first.dtype == np.uint16 else 8
    return VideoInfo(
        path=str(folder), width=first.shape[1], height=first.shape[0], fps=rate, num_frames=len(files),
        duration=len(files) / float(rate), pix_fmt="rgb48le" if depth == 16 else "rgb24", bit_depth=depth,
        color_matrix="rgb", color_range="pc", has_audio=False, has_subtitles=False,
        codec=files[0].suffix.lower().lstrip("."), is_folder=True,
    )


class FolderReader:
    """Reads a frame folder in natural order, prefetching images in a background thread."""

    def __init__(self, folder: str | os.PathLike, *, dtype: Dtype = "uint8", threaded: bool = True,
                 queue_size: int = 8, fps: float | Fraction | None = None):
        self.info = probe_folder(folder, fps=fps)
        self._files = list_frames(folder)
        self._out16 = _want_uint16(dtype, self.info.bit_depth)
        self._pump: _Prefetcher[Frame] = _Prefetcher(self._read, threaded=threaded, queue_size=queue_size,
                                                     name=f"vsrkit-read:{Path(folder).name}")

    def _read(self) -> Iterator[Frame]:
        h, w = self.info.height, self.info.width
        for i, f in enumerate(self._files):
            img = _imread(f)
            if img.shape[:2] != (h, w):
                raise VsrkitError(f"frame '{f.name}' is {img.shape[1]}x{img.shape[0]} but the first frame is "
                                  f"{w}x{h}: all frames in a folder must have the same size")
            yield Frame(_convert(img, self._out16), i, i / float(self.info.fps))

    def __iter__(self) -> Iterator[Frame]:
        return iter(self._pump)

    def close(self) -> None:
        self._pump.close()

    def __enter__(self) -> "FolderReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameFolderWriter:
    """Writes frames as ``%08d.png`` (8- or 16-bit, following the array dtype) into a folder, atomically.

    Frames go to a hidden temporary sibling directory that is renamed onto ``path`` in :meth:`close`; PNG encoding
    runs in a background thread. ``time`` arguments are accepted for interface parity and ignored (PNG has none).
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False, threaded: bool = True,
                 queue_size: int = 8, compression: int = 3):
        self.path = atomic.check_output_path(path, overwrite=overwrite)
        if self.path.exists() and not self.path.is_dir():
            raise VsrkitError(f"output '{self.path}' is a file, not a folder: choose a folder name or a video suffix")
        self._overwrite = overwrite
        self._compression = int(compression)
        self._tmp: Path | None = atomic.temp_dir_for(self.path)
        self.frames_written = 0
        self._shape: tuple[int, ...] | None = None
        self._closed = False
        self._worker: _Worker[np.ndarray] = _Worker(self._write_one, threaded=threaded, queue_size=queue_size,
                                                    name=f"vsrkit-png:{self.path.name}")

    def _write_one(self, rgb: np.ndarray) -> None:
        assert self._tmp is not None
        name = self._tmp / f"{self.frames_written:08d}.png"
        if not cv2.imwrite(str(name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, self._compression]):
            raise VsrkitError(f"could not write '{name}': check free disk space and permissions")
        self.frames_written += 1

    def write(self, frame: np.ndarray, time: float | None = None) -> None:
        """Queue one (H, W, 3) uint8/uint16 RGB frame."""
        if self._closed:
            raise VsrkitError(f"writer for '{self.path}' is closed: open a new writer")
        # The first frame fixes the size; later frames must match it.
        shape = self._shape or tuple(getattr(frame, "shape", ()))
        _check_frame(frame, shape[1] if len(shape) > 1 else -1, shape[0] if shape else -1)
        self._shape = frame.shape
        self._worker.put(np.ascontiguousarray(frame))

    def close(self) -> None:
        """Finish pending PNGs and rename the folder into place."""
        if self._closed:
            return
        self._closed = True
        try:
            self._worker.finish()
            if self.frames_written == 0:
                raise VsrkitError(f"no frames were written to '{self.path}': the input produced zero frames")
            assert self._tmp is not None
            atomic.commit(self._tmp, self.path, overwrite=self._overwrite)
            self._tmp = None
        except BaseException:
            atomic.discard(self._tmp)
            self._tmp = None
            raise

    def abort(self) -> None:
        """Stop writing and delete the temporary folder."""
        if not self._closed:
            self._closed = True
            self._worker.finish(discard=True)
        atomic.discard(self._tmp)
        self._tmp = None

    def __enter__(self) -> "FrameFolderWriter":
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
