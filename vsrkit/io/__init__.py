"""Video and frame I/O: probe, streamed decoding to RGB, streamed atomic encoding (no torch here).

See :mod:`vsrkit.io.video` for the colour rules (stream matrix/range honoured; untagged streams: BT.709 for
height >= 720, BT.601 below; output tagged and converted with the same matrix, default BT.709 limited range).
"""

from vsrkit.io.frames import FolderReader, FrameFolderWriter, list_frames
from vsrkit.io.video import Frame, FrameReader, VideoInfo, VideoReader, VideoWriter, open_reader, open_writer, probe

__all__ = [
    "FolderReader", "Frame", "FrameFolderWriter", "FrameReader", "VideoInfo", "VideoReader", "VideoWriter",
    "list_frames", "open_reader", "open_writer", "probe",
]
