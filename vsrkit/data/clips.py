"""Clip sources: a named sequence of frames stored as an image folder or as one video file.

A :class:`Clip` only knows how to count and read its frames; it returns ``(T, H, W, 3)`` uint8 RGB arrays.
Frame folders are listed in *natural* numeric order (``9.png`` before ``10.png``); an unsorted directory listing
would silently shuffle frames. Video files are decoded by :mod:`vsrkit.io` (the one decoder of the package, which
converts with the stream's own colour matrix and range), so training, ``eval-model`` and ``upscale`` see identical
pixels. Decoding runs sequentially from the start up to the last frame needed (no seeking, so the frame index is
exact for every codec), and the decoded prefix may be cached in memory because training draws many samples from
the same short clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vsrkit.errors import VsrkitError
from vsrkit.io.frames import image_size, list_frames, read_image
from vsrkit.io.video import VIDEO_EXTENSIONS, VideoReader, count_frames, is_video_file


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
        if self.frames:
            _check_one_size(self.frames)

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
            imgs = [read_image(self.frames[i]) for i in idx]
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
    def _count_video_frames(self) -> int:
        return count_frames(self.video)

    def _decode_prefix(self, count: int) -> list[np.ndarray]:
        """The first ``count`` decoded frames (RGB uint8), from the cache when it already covers them.

        Decoding goes through :class:`vsrkit.io.VideoReader`, the reader ``vsrkit upscale`` and ``vsrkit degrade``
        use, so training and evaluation see the same pixels (the stream's colour matrix and range) as upscaling.
        """
        if len(self._cache) >= count:
            return self._cache
        frames: list[np.ndarray] = []
        with VideoReader(self.video, dtype="uint8", threaded=False, allow_truncated=True) as reader:
            for frame in reader:
                frames.append(frame.rgb)
                if len(frames) >= count:
                    break
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


def _check_one_size(frames: Sequence[Path]) -> None:
    """Refuse a clip whose frames differ in size before any work (from the image headers, milliseconds for
    thousands of frames), not when a training crop first happens to span the odd frame."""
    first = image_size(frames[0])
    for f in frames[1:]:
        size = image_size(f)
        if first is not None and size is not None and size != first:
            raise VsrkitError(f"frame '{f}' is {size[1]}x{size[0]} but '{frames[0].name}' is {first[1]}x{first[0]}: "
                              "all frames of a clip must have one size; re-export the clip with one frame size")

