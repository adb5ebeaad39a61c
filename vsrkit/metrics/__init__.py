"""Video SR metrics: PSNR/SSIM on RGB and Y, tOF, named paper protocols, folder evaluation (docs/conventions.md §4–5).

All functions take RGB uint8 frames ``(H, W, 3)`` (float in [0, 1] is quantised like the official code saves
images: clamp, ×255, round half-to-even).
"""

from vsrkit.io.frames import list_frames
from vsrkit.metrics.folders import evaluate_folders, format_table, read_rgb
from vsrkit.metrics.image import crop_border, psnr, rgb_to_y, ssim, to_uint8
from vsrkit.metrics.protocols import PROTOCOLS, EvalProtocol, evaluate_clips, get_eval_protocol
from vsrkit.metrics.tof import to_grey, tof, tof_crop_size, tof_pair

__all__ = [
    "psnr",
    "ssim",
    "rgb_to_y",
    "to_uint8",
    "crop_border",
    "tof",
    "tof_pair",
    "tof_crop_size",
    "to_grey",
    "EvalProtocol",
    "PROTOCOLS",
    "get_eval_protocol",
    "evaluate_clips",
    "evaluate_folders",
    "format_table",
    "read_rgb",
    "list_frames",
]
