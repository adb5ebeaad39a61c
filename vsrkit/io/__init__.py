"""Video and frame I/O: probe, streamed decoding to RGB, streamed atomic encoding (no torch here).

See :mod:`vsrkit.io.video` for the colour rules (stream matrix/range honoured; untagged streams: BT.709 for
height >= 720, BT.601 below; output tagged and converted with the same matrix, default BT.709 limited range).
"""

from vsrkit.io.frames import (
    IMAGE_SUFFIXES, FolderReader, FrameFolderWriter, list_frames, natural_key, natural_sorted, read_image,
    write_png,
)
from vsrkit.io.video import (
    VIDEO_EXTENSIONS, Frame, FrameReader, VideoInfo, VideoReader, VideoWriter, count_frames, is_video_file, open_reader,
    open_writer, probe,
)

__all__ = [
    "IMAGE_SUFFIXES", "VIDEO_EXTENSIONS", "FolderReader", "Frame", "FrameFolderWriter", "FrameReader", "VideoInfo",
    "VideoReader", "VideoWriter", "count_frames", "is_video_file", "list_frames", "natural_key", "natural_sorted",
    "open_reader", "open_writer", "probe", "read_image", "write_png",
]
