"""Clip sources: a named sequence of frames stored as an image folder or as one video file.

A :class:`Clip` only knows how to count and read its frames; it returns ``(T, H, W, 3)`` uint8 RGB arrays.
Frame folders are listed in *natural* numeric order (``9.png`` before ``10.png``); an unsorted directory listing
would silently shuffle frames. Video files are decoded with PyAV inside this module: decoding runs sequentially
from the start up to the last frame needed (no seeking, so the frame index is exact for every codec), and the
decoded prefix may be cached in memory because training draws many samples from the same short clips.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from vsrkit.errors import VsrkitError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".y4m", ".gif"})

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``im2`` < ``im10``, ``00000009`` < ``00000010``."""
    parts = _DIGITS.split(name)
    # Alternate (text, number) pairs keep the tuple comparable element by element.
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p != "")


def natural_sorted(paths: Iterable[Path]) -> list[Path]:
    """Paths sorted by :func:`natural_key` of their names."""
    return sorted(paths, key=lambda p: natural_key(p.name))


def is_video_file(path: Path) -> bool:
    """True for a regular file whose extension is a known video container."""
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def list_frames(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, natural-sorted. Raises VsrkitError if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VsrkitError(f"frame folder '{folder}' does not exist: check the path")
    frames = natural_sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not frames:
        raise VsrkitError(
            f"frame folder '{folder}' holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}): "
            "point at a folder of frames"
        )
    return frames


def _read_image(path: Path) -> np.ndarray:
    # IMREAD_COLOR turns grey and 16-bit PNGs into 8-bit 3-channel images, so every frame has the same layout.
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise VsrkitError(f"cannot decode image '{path}': check that the file is a valid PNG/JPEG")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class Clip:
    """A named clip backed by an image folder, an explicit frame list, or a video file.

    Args:
        name: identifier used in dataset keys (``"000"``, ``"calendar"``, ``"00001/0266"``).
        source: a list of frame paths (kept in the given order), a folder of frames (natural-sorted), or a video file.
        cache_bytes: video files only — keep up to this many bytes of decoded frames in memory (0 disables).
            The cache holds a prefix of the clip; it is not pickled, so DataLoader workers each build their own.
    """

    def __init__(self, name: str, source: Sequence[Path | str] | Path | str, *, cache_bytes: int = 0) -> None:
        self.name = str(name)
        self.frames: list[Path] | None = None
        self.video: Path | None = None
        self.cache_bytes = int(cache_bytes)
        self._cache: list[np.ndarray] = []
        self._length: int | None = None
        if isinstance(source, (str, Path)):
            path = Path(source)
            if path.is_dir():
                self.frames = list_frames(path)
            elif is_video_file(path):
                self.video = path
            elif path.exists():
                raise VsrkitError(
                    f"'{path}' is neither a frame folder nor a video ({', '.join(sorted(VIDEO_EXTENSIONS))}): "
                    "pass a folder of frames or a video file"
                )
            else:
                raise VsrkitError(f"clip source '{path}' does not exist: check the path")
        else:
            self.frames = [Path(p) for p in source]
            if not self.frames:
                raise VsrkitError(f"clip '{self.name}' has an empty frame list: give at least one frame")

    def __repr__(self) -> str:
        where = self.video if self.video is not None else (self.frames[0].parent if self.frames else None)
        return f"Clip({self.name!r}, {where}, frames={len(self)})"

    def __len__(self) -> int:
        if self.frames is not None:
            return len(self.frames)
        if self._length is None:
            self._length = self._count_video_frames()
        return self._length

    # Drop the decoded cache when the clip is sent to DataLoader workers (it can be hundreds of MB).
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = []
        return state

    def read(self, indices: Sequence[int] | int) -> np.ndarray:
        """Read frames by 0-based index (any order, repeats allowed).

        Returns:
            ``(T, H, W, 3)`` uint8 RGB, ``T = len(indices)``.
        """
        idx = [int(indices)] if isinstance(indices, (int, np.integer)) else [int(i) for i in indices]
        if not idx:
            raise VsrkitError(f"no frame indices given for clip '{self.name}': ask for at least one frame")
        n = len(self)
        bad = [i for i in idx if i < 0 or i >= n]
        if bad:
            raise VsrkitError(f"frame {bad[0]} is out of range for clip '{self.name}' ({n} frames): use 0..{n - 1}")
        if self.frames is not None:
            imgs = [_read_image(self.frames[i]) for i in idx]
        else:
            decoded = self._decode_prefix(max(idx) + 1)
            imgs = [decoded[i] for i in idx]
        if any(im.shape != imgs[0].shape for im in imgs):
            raise VsrkitError(f"frames of clip '{self.name}' differ in size: re-export the clip with one frame size")
        return np.stack(imgs)

    def read_all(self, max_frames: int | None = None) -> np.ndarray:
        """All frames (or the first ``max_frames``) as ``(T, H, W, 3)`` uint8 RGB."""
        n = len(self) if max_frames is None else min(len(self), int(max_frames))
        return self.read(range(n))

    # ------------------------------------------------------------------ video decoding
    def _open(self):
        import av  # local import: only video clips need PyAV

        try:
            container = av.open(str(self.video))
        except Exception as exc:  # PyAV raises several error types for unreadable files
            raise VsrkitError(
                f"cannot open video '{self.video}' ({exc}): check that it is a valid video file"
            ) from None
        if not container.streams.video:
            container.close()
            raise VsrkitError(f"'{self.video}' has no video stream: pass a file that contains video")
        return container

    def _count_video_frames(self) -> int:
        container = self._open()
        try:
            stream = container.streams.video[0]
            # The header count is exact for MP4/MOV; other containers leave it 0, so count by decoding.
            if stream.frames and stream.frames > 0:
                return int(stream.frames)
            return sum(1 for _ in container.decode(stream))
        finally:
            container.close()

    def _decode_prefix(self, count: int) -> list[np.ndarray]:
        """The first ``count`` decoded frames (RGB uint8), from the cache when it already covers them."""
        if len(self._cache) >= count:
            return self._cache
        frames: list[np.ndarray] = []
        container = self._open()
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) >= count:
                    break
        finally:
            container.close()
        if len(frames) < count:
            # The header promised more frames than the stream holds: trust the decoder from now on.
            self._length = len(frames)
            raise VsrkitError(
                f"video '{self.video}' decodes to {len(frames)} frames, fewer than the {count} needed: "
                "re-encode the file or read fewer frames"
            )
        if self.cache_bytes > 0:
            kept: list[np.ndarray] = []
            used = 0
            for f in frames:
                if used + f.nbytes > self.cache_bytes:
                    break
                kept.append(f)
                used += f.nbytes
            if len(kept) > len(self._cache):
                self._cache = kept
        return frames
