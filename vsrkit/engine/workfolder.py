"""The work folder of a resumable run: the one place where vsrkit keeps unfinished work beside an output.

A segmented upscale (:mod:`vsrkit.engine.segments`) keeps each finished segment in ``.<output name>.vsrkit-work/``
next to the output. The folder holds

* ``run.json`` — the identity of the command that owns it (input size, mtime and a hash of its head and tail, model
  name, a hash of the model's weights, the inference options that change pixels, the segment length). A different
  command finds a different identity and is refused, so two runs are never mixed;
* ``seg-<start>.mkv`` + ``seg-<start>.json`` — one finished segment (lossless FFV1 frames, then its record: first
  frame, frame count, source timestamps). Both are written atomically, the record last, so a segment counts as
  finished exactly when its record exists.

Publishing the final file goes through the writers' atomic commit (:mod:`vsrkit.io.atomic`); :meth:`remove` deletes
the folder afterwards. Everything that creates, checks, commits into or deletes the folder is in this class, so a
project-wide output-safety mechanism (manifests, multi-part transactions) can take it over in one place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from vsrkit.errors import VsrkitError
from vsrkit.io import atomic, marks

_FORMAT = 1  # bump when the folder layout changes; older folders are then refused, never misread
_HASH_BYTES = 1 << 20  # bytes hashed at each end of the input (a full hash of a large video would take minutes)


def input_identity(path: str | os.PathLike) -> dict[str, Any]:
    """Size, mtime and a SHA-256 of the first and last MiB of an input file (or of a frame folder's listing)."""
    p = Path(path).resolve()
    st = p.stat()
    h = hashlib.sha256()
    if p.is_dir():
        for child in sorted(p.iterdir()):
            cst = child.stat()
            h.update(f"{child.name}\0{cst.st_size}\0{cst.st_mtime_ns}\n".encode())
    else:
        with open(p, "rb") as f:
            h.update(f.read(_HASH_BYTES))
            if st.st_size > 2 * _HASH_BYTES:
                f.seek(-_HASH_BYTES, os.SEEK_END)
            h.update(f.read(_HASH_BYTES))
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256_head_tail": h.hexdigest()}


def weights_digest(model: Any) -> str:
    """SHA-256 over the model's parameter and buffer names, dtypes, shapes and bytes (what its outputs depend on)."""
    h = hashlib.sha256(type(model).__name__.encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\n".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _write_json(path: Path, data: dict) -> None:
    tmp = atomic.temp_file_for(path)
    try:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except BaseException:
        atomic.discard(tmp)
        raise


class WorkFolder:
    """Finished segments of one run, beside its output ``output``."""

    def __init__(self, output: str | os.PathLike) -> None:
        out = Path(output)
        self.path = out.parent / f".{out.name}.vsrkit-work"

    def open(self, identity: dict[str, Any]) -> int:
        """Create the folder for ``identity``, or check that an existing one belongs to the same command.

        Returns the number of segments already finished (0 for a fresh folder).
        """
        identity = {"format": _FORMAT, **identity}
        run = self.path / "run.json"
        if self.path.is_dir() and run.is_file():
            try:
                saved = json.loads(run.read_text())
            except (OSError, json.JSONDecodeError):
                saved = None
            if saved != identity:
                what = _first_difference(saved, identity)
                raise VsrkitError(f"work folder '{self.path}' belongs to a different run ({what} differs): re-run the "
                                  "original command to finish it, or delete the folder to start over")
            return len(self.finished())
        self.path.mkdir(parents=True, exist_ok=True)
        _write_json(run, identity)
        return 0

    def segment_file(self, start: int) -> Path:
        return self.path / f"seg-{start:09d}.mkv"

    def finished(self) -> dict[int, dict[str, Any]]:
        """Records of the finished segments by first frame (a segment without its record is unfinished)."""
        records = {}
        for rec_path in sorted(self.path.glob("seg-*.json")):
            try:
                rec = json.loads(rec_path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if self.segment_file(rec["start"]).is_file():
                records[int(rec["start"])] = rec
        return records

    def commit_segment(self, record: dict[str, Any], data: bytes | None = None) -> dict[str, Any]:
        """Mark a segment finished. Its frames are already at :meth:`segment_file` (written there atomically), or
        are given as the bytes of that file (a remote worker's result)."""
        target = self.segment_file(record["start"])
        if data is not None:
            tmp = atomic.temp_file_for(target)
            try:
                tmp.write_bytes(data)
                marks.mark_file(tmp, target)  # a local re-run may replace it (VideoWriter, overwrite)
                os.replace(tmp, target)
            except BaseException:
                atomic.discard(tmp)
                raise
        _write_json(self.path / f"seg-{record['start']:09d}.json", record)
        return record

    def remove(self) -> None:
        """Delete the folder once the output is published."""
        shutil.rmtree(self.path, ignore_errors=True)


def _first_difference(saved: dict | None, wanted: dict, prefix: str = "") -> str:
    if not isinstance(saved, dict):
        return "its run.json is unreadable; the run"
    for key in sorted(set(saved) | set(wanted)):
        a, b = saved.get(key), wanted.get(key)
        if a != b:
            if isinstance(a, dict) and isinstance(b, dict):
                return _first_difference(a, b, f"{prefix}{key}.")
            return f"{prefix}{key}"
    return "the run"
