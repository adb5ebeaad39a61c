"""How a model runs fast on this machine: precision, memory layout and chunk length, chosen from measured data.

``--precision auto`` never guesses. :file:`vsrkit/models/fast_paths.json` holds, per registered model and per
*hardware class* (:func:`hardware_class`: ``cuda``, ``cpu-amx-bf16``, ``cpu-avx512-bf16``, ``cpu-avx2``, ...), the
fastest measured setting whose 8-bit output stays within :data:`AUTO_TOLERANCE_DB` PSNR of the fp32 output of the
same model (``benchmarks/fast_paths.py`` measures it with ``vsrkit.engine.bench`` and writes the file). A model or
hardware class with no record runs in fp32 with the contiguous layout, which is exact.

Recurrent chunks are sized from a memory budget (:func:`chunk_from_budget`): the longer the chunk, the smaller the
share of context frames computed twice at chunk borders (``2·overlap / chunk``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from vsrkit.errors import VsrkitError

__all__ = [
    "AUTO_TOLERANCE_DB",
    "FastPath",
    "choose_from_measurements",
    "chunk_from_budget",
    "cpu_has_native_bf16",
    "default_memory_budget",
    "hardware_class",
    "parse_memory",
    "records",
    "resolve",
]

#: ``--precision auto`` accepts a faster setting only if its output is within this many dB PSNR of fp32.
AUTO_TOLERANCE_DB = 0.05
#: Used when a model has no measured memory per LR pixel and frame (bytes; conservative: ~ BasicVSR-paper size).
DEFAULT_BYTES_PER_LR_PIXEL = 4096
RECORDS_FILE = Path(__file__).resolve().parents[1] / "models" / "fast_paths.json"


@dataclass(frozen=True)
class FastPath:
    """A resolved setting: autocast ``precision`` (fp32/bf16/fp16) and whether weights/activations are NHWC."""

    precision: str
    channels_last: bool
    source: str  # "measured <hardware class>", "requested" or "no record for <hardware class>: exact fp32"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 matmuls/convolutions natively (AMX-bf16 or AVX-512-bf16)."""
    flags = _cpu_flags()
    return bool({"amx_bf16", "avx512_bf16"} & flags) or "AMX" in torch.backends.cpu.get_cpu_capability()


def hardware_class(device: torch.device | str = "cpu") -> str:
    """The key fast-path records are stored under: ``cuda`` for any NVIDIA GPU, else the CPU's best bf16/SIMD
    level (``cpu-amx-bf16``, ``cpu-avx512-bf16``, or ``cpu-<capability>`` such as ``cpu-avx2``)."""
    device = torch.device(device)
    if device.type != "cpu":
        return device.type
    flags = _cpu_flags()
    if "amx_bf16" in flags:
        return "cpu-amx-bf16"
    if "avx512_bf16" in flags:
        return "cpu-avx512-bf16"
    return "cpu-" + torch.backends.cpu.get_cpu_capability().lower()


@lru_cache(maxsize=1)
def _load_records(path: str) -> dict:
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else {}


def records() -> dict:
    """``{model: {"memory_bytes_per_lr_pixel": n, "paths": {hardware_class: {...measurements, "choice": {...}}}}}``."""
    return _load_records(str(RECORDS_FILE))


def choose_from_measurements(rows: list[dict], tolerance_db: float = AUTO_TOLERANCE_DB) -> dict:
    """Pick the fastest candidate whose PSNR against the ground truth moves at most ``tolerance_db`` from fp32's.

    ``rows``: one dict per candidate with ``precision``, ``channels_last``, ``seconds_per_frame`` and ``delta_db``
    (``|PSNR(candidate, GT) - PSNR(fp32, GT)|`` on the same real frames; 0 for the fp32 reference, which therefore
    always qualifies). Returns ``{"precision": ..., "channels_last": ...}``.
    """
    ok = [r for r in rows if abs(r["delta_db"]) <= tolerance_db]
    if not ok:
        raise ValueError("no candidate is within the tolerance (include the fp32 contiguous reference row)")
    best = min(ok, key=lambda r: r["seconds_per_frame"])
    return {"precision": best["precision"], "channels_last": bool(best["channels_last"])}


def resolve(model_name: str, precision: str, channels_last: bool | None, device: torch.device) -> FastPath:
    """Turn the user's ``precision`` (``auto``/``fp32``/``bf16``/``fp16``) and layout (``None`` = automatic) into
    a :class:`FastPath` for ``model_name`` on ``device``."""
    if precision != "auto":
        # fp16 on a CPU is allowed (slow; the Upscaler warns once), never chosen by auto.
        return FastPath(precision, bool(channels_last), "requested")
    hw = hardware_class(device)
    entry = records().get(model_name, {}).get("paths", {}).get(hw)
    if entry is None:
        return FastPath("fp32", bool(channels_last), f"no record for {hw}: exact fp32")
    choice = entry["choice"]
    layout = choice["channels_last"] if channels_last is None else channels_last
    return FastPath(choice["precision"], bool(layout), f"measured on {hw}")


# ----------------------------------------------------------------------------------------------------------------
# Chunk length from a memory budget
# ----------------------------------------------------------------------------------------------------------------
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
          "g": 2**30, "gb": 2**30, "gib": 2**30}


def parse_memory(text: str) -> int:
    """``"2G"``, ``"1500M"``, ``"3.5GiB"`` → bytes (binary units); a one-line error otherwise."""
    t = text.strip().lower()
    num = t.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = t[len(num):].strip()
    try:
        value = float(num)
    except ValueError:
        value = -1.0
    if unit not in _UNITS or not value > 0:
        raise VsrkitError(f"--max-memory {text!r} is not a size: use e.g. 2G, 1500M or 8GiB")
    return int(value * _UNITS[unit])


def default_memory_budget() -> int:
    """Half of the memory available now (``MemAvailable``), at most 8 GiB and at least 512 MiB."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            avail = 4 * 2**30
    return int(min(max(avail // 2, 512 * 2**20), 8 * 2**30))


def chunk_from_budget(budget_bytes: int, *, lr_pixels: int, overlap: int, bytes_per_lr_pixel: int | None,
                      minimum: int = 8, maximum: int = 512) -> int:
    """Frames emitted per recurrent chunk so that a chunk with its ``2·overlap`` context frames fits the budget.

    A chunk of ``n`` emitted frames holds ``n + 2·overlap`` frames of activations, ``bytes_per_lr_pixel`` bytes per
    LR pixel each (measured per model by ``benchmarks/fast_paths.py``; :data:`DEFAULT_BYTES_PER_LR_PIXEL` if not).
    The result is clipped to ``[minimum, maximum]``: below ``minimum`` the context share would dominate, above
    ``maximum`` it is already under ``2·overlap/maximum``.
    """
    per_frame = max(lr_pixels, 1) * (bytes_per_lr_pixel or DEFAULT_BYTES_PER_LR_PIXEL)
    n = budget_bytes // per_frame - 2 * overlap
    return int(min(max(n, minimum), maximum))


def memory_per_lr_pixel(model_name: str) -> int | None:
    """Measured activation bytes per LR pixel and frame for ``model_name`` (``None`` if not measured)."""
    value = records().get(model_name, {}).get("memory_bytes_per_lr_pixel")
    return int(value) if value else None


def set_threads(intra_op: int | None = None) -> int:
    """Intra-op threads = the cores this process may use (decode/encode threads are light and I/O bound)."""
    if intra_op is None:
        try:
            intra_op = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - non-Linux
            intra_op = os.cpu_count() or 1
    torch.set_num_threads(max(int(intra_op), 1))
    return torch.get_num_threads()


def set_layout(model: torch.nn.Module, channels_last: bool) -> torch.nn.Module:
    """Store every 4-D parameter and buffer of ``model`` in place as NHWC (``channels_last``) or NCHW.

    Convolutions whose weight is NHWC produce NHWC activations, so the layout propagates through a network without
    touching its code. 5-D weights (Conv3d) keep their layout (``Module.to(memory_format=...)`` refuses them).
    """
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.dim() == 4 and not t.is_contiguous(memory_format=fmt):
                t.data = t.data.contiguous(memory_format=fmt)
    return model
