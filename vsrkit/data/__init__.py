"""Datasets: clip sources, the standard layouts (REDS, Vid4, UDM10, Vimeo-90K, GoPro), torch datasets and samples.

Everything here works on ``(T, H, W, 3)`` uint8 RGB numpy frames until a dataset turns them into float32 tensors
``(T, 3, H, W)`` in [0, 1].
"""

from vsrkit.data.clips import Clip
from vsrkit.data.datasets import EvalClipDataset, TrainClipDataset, frames_to_tensor, stack_kernels
from vsrkit.data.layouts import REDS4_CLIPS, ClipLists, folder_or_video, gopro, reds, udm10, vid4, vimeo90k
from vsrkit.data.samples import resolve_input, sample_clip, sample_clips
from vsrkit.io.frames import list_frames, natural_key

__all__ = [
    "Clip",
    "ClipLists",
    "EvalClipDataset",
    "REDS4_CLIPS",
    "TrainClipDataset",
    "folder_or_video",
    "frames_to_tensor",
    "gopro",
    "list_frames",
    "natural_key",
    "reds",
    "resolve_input",
    "sample_clip",
    "sample_clips",
    "stack_kernels",
    "udm10",
    "vid4",
    "vimeo90k",
]
