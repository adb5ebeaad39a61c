"""Atomic output: write under a temporary sibling name, then move it into place.

A crash or Ctrl-C half-way through a long upscale must never leave a truncated file under the name the user asked
for (it looks finished and plays until it doesn't), and must never destroy an existing file the user did not ask to
replace. Both writers therefore write to a hidden sibling in the same directory (same filesystem, so the final move
is a rename) and commit only in ``close()``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from vsrkit import interrupt
from vsrkit.errors import VsrkitError


def check_output_path(path: str | os.PathLike, *, overwrite: bool, inputs: tuple[str | os.PathLike | None, ...] = ()) -> Path:
    """Validate an output path before any work starts and return it as a :class:`Path`.

    Refuses to write onto one of ``inputs`` (after resolving symlinks and ``..``), refuses an existing output unless
    ``overwrite`` and requires the parent directory to exist.
    """
    out = Path(path)
    resolved = out.resolve()
    for src in inputs:
        if src is not None and Path(src).resolve() == resolved:
            raise VsrkitError(f"output '{out}' is the same as the input: choose a different output name")
    if out.exists() and not overwrite:
        raise VsrkitError(f"output '{out}' exists: pass --overwrite or choose another name")
    if not out.parent.exists():
        raise VsrkitError(f"output directory '{out.parent}' does not exist: create it first or choose another path")
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_file_for(path: Path) -> Path:
    """Return a fresh hidden sibling of ``path`` that keeps the suffix, so muxers still detect the container.

    mkstemp makes it 0600; it gets the permissions a plainly created file would have (0666 minus the umask), since
    it becomes the user's output."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.partial-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())
    return Path(name)


def temp_dir_for(path: Path) -> Path:
    """Return a fresh hidden sibling directory of ``path`` for a frame folder being written (0777 minus the umask,
    not mkdtemp's 0700)."""
    name = tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent)
    os.chmod(name, 0o777 & ~_umask())
    return Path(name)


def commit(tmp: Path, final: Path, *, overwrite: bool) -> None:
    """Move the finished ``tmp`` onto ``final``.

    Without ``overwrite`` the move must not clobber something that appeared meanwhile: a hard link is used for files
    (fails atomically if the target exists) and a plain rename for directories (fails on a non-empty target).
    After a stop request (SIGTERM/Ctrl-C, see :mod:`vsrkit.interrupt`) nothing is committed: the request is raised.
    """
    interrupt.check()
    if tmp.is_dir():
        if final.exists():
            if not overwrite:
                raise VsrkitError(f"output '{final}' exists: pass --overwrite or choose another name")
            # A directory cannot be replaced atomically when it is non-empty: move the old one aside first so the
            # window without any output is a single rename, then delete it.
            trash = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(final, trash)
            os.replace(tmp, final)
            shutil.rmtree(trash, ignore_errors=True) if trash.is_dir() else trash.unlink(missing_ok=True)
        else:
            os.replace(tmp, final)
        return
    if overwrite:
        os.replace(tmp, final)
        return
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise VsrkitError(f"output '{final}' exists: pass --overwrite or choose another name") from None
    except OSError:
        # Filesystems without hard links: accept the tiny race between the check and the rename.
        if final.exists():
            raise VsrkitError(f"output '{final}' exists: pass --overwrite or choose another name") from None
        os.replace(tmp, final)
        return
    tmp.unlink()


def discard(tmp: Path | None) -> None:
    """Remove a temporary output (file or directory) if it is still there; never raises."""
    if tmp is None:
        return
    try:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    except OSError:
        pass


class AtomicWriter:
    """Context-manager half of vsrkit's writers: a clean exit commits (``close``), an exception discards
    (``abort``), so a failed run never leaves a partial output under the final name."""

    def close(self) -> None:  # pragma: no cover - implemented by each writer
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - implemented by each writer
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
