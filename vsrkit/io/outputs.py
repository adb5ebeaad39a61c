"""Output safety, written once: may this path be written, and publishing several outputs as one transaction.

Every command that writes something (``upscale``, ``degrade`` with ``--save-hr``, ``eval-model --save``, ``convert``,
the batch and segment outputs added later) goes through this module, so the rules below hold everywhere:

* :func:`check_output` decides, before any work starts and on resolved real paths, whether an output may be written.
  It refuses an output that is an input, a hard link or symlink to one, a folder that contains an input, or a path
  inside an input frame folder. An existing output needs ``overwrite``, and is only replaced when vsrkit wrote it
  and nobody changed it since: every file and folder vsrkit publishes carries its mark (:mod:`vsrkit.io.marks`: an
  extended attribute, or a hidden marker file / a per-folder ledger of content hashes where the file system has no
  user attributes), and the mark is checked again under a lock when the output is moved into place. It also cleans
  up what a killed earlier run left next to that output (:func:`recover`).
* :func:`check_distinct` refuses output names that would collide (``a.jpg`` and ``a.png`` both giving ``a.png``, or
  names equal up to case, which is one file on case-insensitive file systems) before any work starts.
* :class:`OutputSet` publishes several outputs (frames + sidecars, ``lr/`` + ``gt/``, a folder of images, batch
  items, segment folders) all or none. Each part is written to :meth:`OutputSet.temp` (a hidden sibling of the final
  path, same file system) and :meth:`OutputSet.commit` moves all parts into place with stop signals held back, after
  writing a journal beside the first output. If the process is killed (SIGKILL, power loss) while publishing, the
  next :func:`check_output` of the same output finds the journal and either completes the set (every part had been
  moved) or restores the earlier set, and says which.

Typical use by a command with several parts::

    with OutputSet([lr, kernels, meta], inputs=[src], overwrite=overwrite) as outs:
        write_frames(outs.temp(lr))          # any writer; nothing under a final name yet
        np.save(outs.temp(kernels), k)
        outs.remove(meta)                    # a stale part of an earlier run: deleted on commit
    # leaving the block commits; an exception (or SIGTERM) discards every temporary part

:func:`published` lists the outputs committed since :func:`reset_published` (the CLI's "no output was written" is
printed only when it is empty).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable, Literal, Sequence

from vsrkit import interrupt
from vsrkit.errors import VsrkitError
from vsrkit.io import atomic, marks

log = logging.getLogger(__name__)

Kind = Literal["file", "folder", "any"]
PathLike = str | os.PathLike
# The marks that let --overwrite tell vsrkit's outputs from the user's files live in vsrkit.io.marks.
MARKER_XATTR, MARKER, LEDGER = marks.MARKER_XATTR, marks.FOLDER_MARKER, marks.LEDGER
write_marker, is_vsrkit_folder, is_vsrkit_file = marks.write_marker, marks.is_vsrkit_folder, marks.is_vsrkit_file


# ---------------------------------------------------------------------------------------------------- checks


def _real(p: PathLike) -> Path:
    return Path(os.path.realpath(os.path.abspath(p)))


def _inside(child: Path, parent: Path) -> bool:
    return child != parent and parent in child.parents


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: PathLike, *, inputs: Iterable[PathLike | None] = (), overwrite: bool = False,
                 kind: Kind = "any", parent_must_exist: bool = True) -> Path:
    """Decide whether ``path`` may be written; return it as a :class:`Path` or raise a one-line :class:`VsrkitError`.

    ``inputs``: every file or folder the command reads (``None`` entries are skipped). ``kind``: what the command
    will put there (an existing output of the other kind is refused). Stale temporary parts of an earlier killed
    run beside ``path`` are cleaned first (:func:`recover`).
    """
    out = check_apart_from_inputs(path, inputs)
    if parent_must_exist and not out.parent.exists():
        raise VsrkitError(f"output directory '{out.parent}' does not exist: create it first or choose another path")
    atomic.check_writable(out.parent)
    recover(out)
    if os.path.lexists(out):
        if not overwrite:
            raise atomic.exists_error(out)
        is_dir = out.is_dir() and not out.is_symlink()
        if kind == "folder" and not is_dir:
            raise VsrkitError(f"output {str(out)!r} is a file, not a folder: choose a folder name or a video suffix")
        if kind == "file" and is_dir:
            raise VsrkitError(f"output {str(out)!r} is a folder: --overwrite replaces only a file here; choose "
                              "another name")
        atomic.check_replaceable(out)
    return out


def check_apart_from_inputs(path: PathLike, inputs: Iterable[PathLike | None]) -> Path:
    """The input half of :func:`check_output`: refuse ``path`` when it is an input (same real path or a hard link),
    contains one, or lies inside an input folder. For outputs that are added to (``--save-aux`` folders)."""
    out = Path(path)
    real = _real(out)
    for src in inputs:
        if src is None or str(src).startswith("sample:"):
            continue
        src_real = _real(src)
        if real == src_real or (out.exists() and _same_file(out, Path(src))):
            what = "the same as" if real == src_real else "a hard link to"
            raise VsrkitError(f"output {str(out)!r} is the input ({what} the input {str(src)!r} once links are "
                              "resolved): choose a different output name")
        if _inside(src_real, real):
            raise VsrkitError(f"output {str(out)!r} contains the input {str(src)!r}: writing it would destroy the "
                              "input; choose an output outside it")
        if src_real.is_dir() and _inside(real, src_real):
            raise VsrkitError(f"output {str(out)!r} is inside the input folder {str(src)!r}: choose an output "
                              "outside the input folder")
    return out


def check_run_folder(out: PathLike) -> Path:
    """Refuse a training ``--out`` that is a file, or an existing non-empty folder that is not a vsrkit run (no
    ``config.json``, ``state/`` or ``weights/`` of an earlier run, no vsrkit mark): checkpoints would be mixed into
    somebody else's files, and ``--resume auto`` would look for states there."""
    folder = Path(out)
    if os.path.lexists(folder) and not folder.is_dir():
        raise VsrkitError(f"--out {str(folder)!r} is a file, not a run folder: choose a new folder name")
    if folder.is_dir() and any(folder.iterdir()) and not is_vsrkit_folder(folder) \
            and not any((folder / n).exists() for n in ("config.json", "state", "weights")):
        raise VsrkitError(f"--out {str(folder)!r} is a folder vsrkit did not write (no run of vsrkit train in it): "
                          "choose a new folder, or the folder of an earlier run to continue it with --resume auto")
    atomic.check_writable(folder.parent if not folder.exists() else folder)
    return folder


def check_distinct(names: Iterable[tuple[PathLike, str]], *, where: PathLike) -> None:
    """Refuse, before any work, two sources whose output names (``(source, output name)`` pairs) are equal up to
    case: ``a.jpg`` and ``a.png`` both become ``a.png`` and one result would be lost."""
    seen: dict[str, PathLike] = {}
    for src, name in names:
        key = name.casefold()
        if key in seen:
            raise VsrkitError(f"'{Path(seen[key]).name}' and '{Path(src).name}' would both be written as "
                              f"'{Path(where) / name}': rename one of the inputs")
        seen[key] = src


# Outputs committed in this command (the CLI's stop message), kept by io.atomic where every commit passes.
published, reset_published, record_published = atomic.published, atomic.reset_published, atomic.record_published


def describe_published() -> str:
    """What a stopped command leaves behind: the outputs published whole before the stop (each output set is all or
    nothing), or that none was written."""
    done = published()
    if done:
        return "complete before the stop: " + ", ".join(str(p) for p in done) + "; nothing else was written"
    return "no output was written"

# ---------------------------------------------------------------------------------------------------- recovery


def _journal(path: Path) -> Path:
    return path.with_name(f".{path.name}.vsrkit-txn.json")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _delete(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    elif os.path.lexists(p):
        p.unlink(missing_ok=True)


def recover(path: PathLike) -> list[str]:
    """Clean what a killed run left beside output ``path``; return what was done (also logged as warnings).

    * a publishing journal (:class:`OutputSet`) of a dead process: completed if every part had been moved into
      place, otherwise the earlier outputs are restored and the new parts removed;
    * temporary parts (``.NAME.partial-PID-*``) of a dead process: deleted;
    * an earlier output set aside (``.NAME.old-PID-*``) by a replace that was killed: put back when the output is
      missing, else deleted;
    * the output's lock file (``.NAME.vsrkit-lock``, :func:`vsrkit.io.atomic.output_lock`) when no process holds it.

    Parts of a live process (a concurrent writer) are left alone.
    """
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    notes: list[str] = []
    journal = _journal(out)
    if journal.exists():
        notes += _recover_journal(journal)
    if not parent.is_dir():
        return notes
    if os.path.lexists(atomic.lock_name(out)):  # left by a killed run (a live one holds it: then leave it)
        try:
            with atomic.output_lock(out, blocking=False):
                pass
        except OSError:
            pass
    prefix = re.compile(r"^\.+" + re.escape(out.name) + r"[.~](partial|old)-(\d+)-")
    for entry in sorted(parent.iterdir()):
        m = prefix.match(entry.name)
        if not m or _alive(int(m.group(2))):
            continue
        if m.group(1) == "old" and not os.path.lexists(out):
            os.replace(entry, out)
            notes.append(f"restored '{out}' that a killed run had set aside")
        else:
            _delete(entry)
    for note in notes:
        log.warning("%s", note)
    return notes


def _recover_journal(journal: Path) -> list[str]:
    try:
        record = json.loads(journal.read_text())
        pid, parts = int(record["pid"]), record["parts"]
    except (OSError, ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)
        return []
    if _alive(pid):
        return []
    moved = [p for p in parts if p["temp"] is None or not os.path.lexists(p["temp"])]
    names = ", ".join(Path(p["final"]).name for p in parts)
    if len(moved) == len(parts):  # every new part is in place: finish by dropping the set-aside old ones
        for p in parts:
            if p["trash"]:
                _delete(Path(p["trash"]))
        note = f"a killed run had published all of {names}; removed the earlier copies it had set aside"
    else:  # roll back to the earlier set
        for p in parts:
            final = Path(p["final"])
            if p["temp"] is not None and not os.path.lexists(p["temp"]):
                _delete(final)  # a new part that had been moved into place
            elif p["temp"] is not None:
                _delete(Path(p["temp"]))
            if p["trash"] and os.path.lexists(p["trash"]):
                _delete(final)
                os.replace(p["trash"], final)
        note = f"a killed run was publishing {names}: restored the earlier outputs and removed the partial new ones"
    journal.unlink(missing_ok=True)
    return [note]


# ---------------------------------------------------------------------------------------------------- transaction


class OutputSet:
    """Several outputs published all or none (see the module docstring for the protocol and an example).

    ``finals``: every path the command may publish (checked with :func:`check_output` against ``inputs`` now,
    before any work); ``kinds`` optionally gives each one's :data:`Kind`. Parts are written with :meth:`temp`;
    :meth:`remove` schedules an existing final path for deletion (a stale part of an earlier set).
    """

    def __init__(self, finals: Sequence[PathLike], *, inputs: Iterable[PathLike | None] = (),
                 overwrite: bool = False, kinds: Sequence[Kind] | None = None):
        inputs = list(inputs)
        kinds = list(kinds) if kinds is not None else ["any"] * len(finals)
        self.finals = [check_output(p, inputs=inputs, overwrite=overwrite, kind=k) for p, k in zip(finals, kinds)]
        real = [_real(p) for p in self.finals]
        for i, a in enumerate(real):
            for b in real[i + 1:]:
                if a == b or _inside(a, b) or _inside(b, a):
                    raise VsrkitError(f"outputs '{a}' and '{b}' overlap: give each output its own path")
        self.overwrite = overwrite
        self._temps: dict[Path, Path] = {}
        self._removals: set[Path] = set()
        self._done = False

    def _part(self, final: PathLike) -> Path:
        f = Path(final)
        if f not in self.finals:
            raise ValueError(f"{f} is not one of this output set's paths")
        return f

    def temp(self, final: PathLike) -> Path:
        """A fresh temporary path (not created; same folder, same suffix) to write part ``final`` to."""
        f = self._part(final)
        if f in self._temps:
            return self._temps[f]
        tag = f"partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Same suffix, so writers pick the same format; a suffix-less part (a folder) must stay suffix-less.
        t = f.with_name(f".{f.name}.{tag}{f.suffix}" if f.suffix else f".{f.name}~{tag}")
        self._temps[f] = t
        return t

    def remove(self, final: PathLike) -> None:
        """Delete part ``final`` when the set is committed (it would not describe the new set)."""
        f = self._part(final)
        if os.path.lexists(f):
            self._removals.add(f)

    def commit(self) -> list[Path]:
        """Publish every written part (and the removals) as one step; return the published paths."""
        interrupt.check()
        written = {f: t for f, t in self._temps.items() if os.path.lexists(t)}
        missing = [f for f, t in self._temps.items() if f not in written]
        if missing:
            raise VsrkitError(f"no output was produced for {', '.join(map(str, missing))}: nothing was published")
        with ExitStack() as held:
            for f in sorted(self.finals):  # one order everywhere: two sets sharing outputs cannot deadlock
                held.enter_context(atomic.output_lock(f))
            return self._publish(written)

    def _publish(self, written: dict[Path, Path]) -> list[Path]:
        parts = []
        for f in self.finals:
            if f not in written and f not in self._removals:
                continue
            exists = os.path.lexists(f)
            if exists and not self.overwrite:
                raise atomic.exists_error(f)
            if exists:
                atomic.check_replaceable(f)  # again: something may have appeared there during the work
            trash = f.with_name(f".{f.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}") if exists else None
            parts.append({"final": str(f), "temp": str(written[f]) if f in written else None,
                          "trash": str(trash) if trash else None})
        for f, t in written.items():  # after the checks: in a ledger the new entry replaces the old one
            atomic.mark(t, f)
        journal = _journal(self.finals[0])
        with atomic.signals_held():
            tmp = journal.with_name(journal.name + f".partial-{os.getpid()}-j")
            tmp.write_text(json.dumps({"pid": os.getpid(), "parts": parts}))
            os.replace(tmp, journal)
            for p in parts:
                if p["trash"]:
                    os.replace(p["final"], p["trash"])
            for p in parts:
                if p["temp"]:
                    os.replace(p["temp"], p["final"])
            journal.unlink()
            for p in parts:
                if p["trash"]:
                    _delete(Path(p["trash"]))
            self._done = True
        for p in parts:
            if p["temp"]:
                record_published(p["final"])
        return [Path(p["final"]) for p in parts if p["temp"]]

    def abort(self) -> None:
        """Delete every temporary part; the final paths are untouched."""
        for t in self._temps.values():
            atomic.discard(t)
        self._done = True

    def __enter__(self) -> "OutputSet":
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()
