"""Frame folders: read a directory of PNG/JPG frames, write ``%08d.png`` frames atomically.

Frame folders are the benchmark layout (REDS, Vid4, ...) and the lossless fallback output. They carry no frame rate,
so ``fps`` defaults to 25 unless given, and no colour tags: the pixels are RGB already (colour matrix ``'rgb'``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from vsrkit.errors import VsrkitError
from vsrkit.io import atomic, outputs
from vsrkit.io.streams import Dtype, Frame, VideoInfo, check_frame, want_uint16
from vsrkit.io.threads import Prefetcher, Worker

# The one set of image suffixes the whole package treats as frames (lower case, with the dot).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
DEFAULT_FOLDER_FPS = Fraction(25)


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``im2`` < ``im10``, ``00000009`` < ``00000010``.

    Text compares case-insensitively; equal numbers with different zero padding fall back to the digits themselves,
    so the order never depends on the directory listing.
    """
    # Tagged (kind, number, text) triples keep the tuple comparable element by element.
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p.lower()) for p in _DIGITS.split(name) if p != "")


def natural_sorted(paths: Iterable[Path]) -> list[Path]:
    """Paths sorted by :func:`natural_key` of their names."""
    return sorted(paths, key=lambda p: natural_key(p.name))


def list_frames(folder: str | os.PathLike, *, required: bool = True) -> list[Path]:
    """Image files (:data:`IMAGE_SUFFIXES`) directly inside ``folder``, natural-sorted; hidden files are ignored.

    A missing folder always raises :class:`VsrkitError`; a folder without images raises too unless ``required`` is
    False, in which case the empty list comes back.
    """
    p = Path(folder)
    if not p.is_dir():
        problem = "is not a folder" if p.exists() else "does not exist"
        raise VsrkitError(f"input '{p}' {problem}: check the path")
    files = natural_sorted(f for f in p.iterdir()
                           if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".") and f.is_file())
    if required and not files:
        raise VsrkitError(f"folder '{p}' contains no PNG/JPG frames: point to the folder holding the images")
    return files


# JPEG start-of-frame markers (they carry the size); C4/C8/CC share the range but are other segments.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(height, width)`` of an image file, from the header alone for PNG and JPEG (no decoding: a folder of
    thousands of frames is sized in milliseconds), by decoding for other formats; None if it cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")
            if head[:2] == b"\xff\xd8":
                f.seek(2)
                while True:
                    byte = f.read(1)
                    if byte != b"\xff":
                        break  # not at a marker: malformed, let the decoder judge
                    marker = f.read(1)
                    while marker == b"\xff":  # fill bytes
                        marker = f.read(1)
                    if not marker or marker == b"\xd9":
                        break
                    if marker[0] == 0x01 or 0xD0 <= marker[0] <= 0xD8:  # segments without a length
                        continue
                    length = int.from_bytes(f.read(2), "big")
                    if marker[0] in _JPEG_SOF:
                        sof = f.read(5)  # precision, height, width
                        return int.from_bytes(sof[1:3], "big"), int.from_bytes(sof[3:5], "big")
                    f.seek(length - 2, os.SEEK_CUR)
    except OSError:
        return None
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return None if img is None else img.shape[:2]


def read_image(path: str | os.PathLike, *, dtype: Dtype = "uint8") -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` RGB: grey is replicated to three channels, an alpha channel is dropped.

    ``dtype``: ``'uint8'`` or ``'uint16'`` convert to that depth (8 -> 16 bit: x·257, 16 -> 8 bit: rounded /257);
    ``'auto'`` keeps the file's own depth (uint8 or uint16). Other sample types (float TIFF/EXR) are refused.
    """
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise VsrkitError(f"frame '{path}' cannot be read as an image: remove or replace the file")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)  # alpha is dropped: VSR models take RGB
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        raise VsrkitError(f"image '{path}' has {img.shape[2]} channels: expected grey, RGB or RGBA")
    if img.dtype not in (np.uint8, np.uint16):
        raise VsrkitError(f"frame '{path}' has {img.dtype} samples: convert the frames to 8- or 16-bit PNG")
    out16 = want_uint16(dtype, 16 if img.dtype == np.uint16 else 8)
    if out16 and img.dtype == np.uint8:
        return img.astype(np.uint16) * 257  # 255 -> 65535 exactly
    if not out16 and img.dtype == np.uint16:
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return img


def _encode_to_file(path: Path, rgb: np.ndarray, suffix: str, params: list[int]) -> Path:
    """Encode ``rgb`` in memory as ``suffix`` and write it with ordinary file I/O, so a full disk, a size limit or a
    missing folder raise a one-line :class:`VsrkitError` instead of the silent ``False`` of ``cv2.imwrite``."""
    rgb = np.ascontiguousarray(rgb)
    bgr = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # (H, W) grey is written as is
    ok, data = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise VsrkitError(f"could not encode '{path}' as {suffix} ({rgb.dtype}, shape {rgb.shape}): pass uint8 or "
                          "uint16 RGB frames")
    try:
        with open(path, "wb") as f:
            f.write(data.tobytes())
    except OSError as e:
        if path.is_file():  # a partial file (never a device or anything else that was there)
            path.unlink(missing_ok=True)
        raise VsrkitError(f"could not write '{atomic.shown(path)}' ({e.strerror or e}): check the free disk space "
                          "and the folder's permissions") from None
    return path


def write_png(path: str | os.PathLike, rgb: np.ndarray, *, compression: int = 3) -> Path:
    """Write an ``(H, W, 3)`` (or ``(H, W)`` grey) uint8/uint16 RGB image as PNG (16-bit stays 16-bit), checked
    (see :func:`_encode_to_file`)."""
    return _encode_to_file(Path(path), rgb, ".png", [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])


# Still-image outputs by suffix; JPEG and WebP hold 8 bits, so 16-bit pictures are rounded to 8 bits there.
IMAGE_OUTPUT_SUFFIXES = {".png": 16, ".tif": 16, ".tiff": 16, ".jpg": 8, ".jpeg": 8, ".webp": 8}


def write_image(path: str | os.PathLike, rgb: np.ndarray, *, overwrite: bool = False, quality: int = 95) -> Path:
    """Write ``(H, W, 3)`` uint8/uint16 RGB to ``path`` atomically, format by suffix (PNG, TIFF: 8 or 16 bits;
    JPEG, WebP: 8 bits at ``quality``), checked like :func:`write_png`. Returns the path."""
    dst = Path(path)
    suffix = dst.suffix.lower()
    depth = IMAGE_OUTPUT_SUFFIXES.get(suffix)
    if depth is None:
        raise VsrkitError(f"cannot write image {str(dst)!r}: use a .png, .tif, .jpg or .webp name")
    outputs.check_output(dst, overwrite=overwrite, kind="file", parent_must_exist=False)
    dst.parent.mkdir(parents=True, exist_ok=True)  # image folders (upscale_images) are created as they fill
    if depth == 8 and rgb.dtype == np.uint16:
        rgb = ((rgb.astype(np.uint32) + 128) // 257).astype(np.uint8)
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    tmp = atomic.temp_file_for(dst)
    try:
        _encode_to_file(tmp, rgb, suffix, params)
        atomic.commit(tmp, dst, overwrite=overwrite)
    except BaseException:
        atomic.discard(tmp)
        raise
    return dst


def probe_folder(folder: str | os.PathLike, *, fps: float | Fraction | None = None) -> VideoInfo:
    """Describe a frame folder from its file list and first image."""
    files = list_frames(folder)
    first = read_image(files[0], dtype="auto")
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
        self._out16 = want_uint16(dtype, self.info.bit_depth)
        self._pump: Prefetcher[Frame] = Prefetcher(self._read, threaded=threaded, queue_size=queue_size,
                                                     name=f"vsrkit-read:{Path(folder).name}")

    def _read(self) -> Iterator[Frame]:
        h, w = self.info.height, self.info.width
        for i, f in enumerate(self._files):
            img = read_image(f, dtype="uint16" if self._out16 else "uint8")
            if img.shape[:2] != (h, w):
                raise VsrkitError(f"frame '{f.name}' is {img.shape[1]}x{img.shape[0]} but the first frame is "
                                  f"{w}x{h}: all frames in a folder must have the same size")
            yield Frame(img, i, i / float(self.info.fps))

    def __iter__(self) -> Iterator[Frame]:
        return iter(self._pump)

    def close(self) -> None:
        self._pump.close()

    def __enter__(self) -> "FolderReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameFolderWriter(atomic.AtomicWriter):
    """Writes frames as ``%08d.png`` (8- or 16-bit, following the array dtype) into a folder, atomically.

    Frames go to a hidden temporary sibling directory that is renamed onto ``path`` in :meth:`close`; PNG encoding
    runs in a background thread. ``time`` arguments are accepted for interface parity and ignored (PNG has none).
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False, threaded: bool = True,
                 queue_size: int = 8, compression: int = 3):
        self.path = outputs.check_output(path, overwrite=overwrite, kind="folder")
        self._overwrite = overwrite
        self._compression = int(compression)
        self._tmp: Path | None = atomic.temp_dir_for(self.path)
        self.frames_written = 0
        self._shape: tuple[int, ...] | None = None
        self._closed = False
        self._worker: Worker[np.ndarray] = Worker(self._write_one, threaded=threaded, queue_size=queue_size,
                                                    name=f"vsrkit-png:{self.path.name}")

    def _write_one(self, rgb: np.ndarray) -> None:
        assert self._tmp is not None
        write_png(self._tmp / f"{self.frames_written:08d}.png", rgb, compression=self._compression)
        self.frames_written += 1

    def write(self, frame: np.ndarray, time: float | None = None) -> None:
        """Queue one (H, W, 3) uint8/uint16 RGB frame."""
        if self._closed:
            raise VsrkitError(f"writer for '{self.path}' is closed: open a new writer")
        # The first frame fixes the size; later frames must match it.
        shape = self._shape or tuple(getattr(frame, "shape", ()))
        check_frame(frame, shape[1] if len(shape) > 1 else -1, shape[0] if shape else -1)
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
            outputs.write_marker(self._tmp, frames=self.frames_written)
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
