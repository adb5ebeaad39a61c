"""Atomic output: write under a temporary sibling name, then move it into place.

A crash or Ctrl-C half-way through a long upscale must never leave a truncated file under the name the user asked
for (it looks finished and plays until it doesn't), and must never destroy an existing file the user did not ask to
replace. Both writers therefore write to a hidden sibling in the same directory (same filesystem, so the final move
is a rename) and commit only in ``close()``.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import signal
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from vsrkit import interrupt
from vsrkit.errors import VsrkitError
from vsrkit.io import marks


# Names of temporary and set-aside parts: ".<name>.partial-<pid>-..." / ".<name>.old-<pid>-..." (``~`` instead of
# the dot before "partial" for parts without a suffix, which must stay suffix-less to be written as folders). The pid
# lets a later run tell the leftovers of a killed process from the parts a live concurrent writer is still writing
# (vsrkit.io.outputs.recover).
TEMP_NAME = marks.TEMP_NAME

_published: list[Path] = []


def record_published(path: str | os.PathLike) -> None:
    """Note an output that was committed under its final name (temporary parts are not outputs)."""
    p = Path(path)
    if not TEMP_NAME.match(p.name):
        _published.append(p)


def published() -> list[Path]:
    """Outputs committed under their final names since :func:`reset_published` (the CLI's stop message)."""
    return list(_published)


def reset_published() -> None:
    _published.clear()


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGTERM/SIGINT back (main thread only) while outputs are moved into place, so a stop cannot leave a
    set half published; a signal that arrives meanwhile is delivered right after."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _cannot_write(folder: Path, exc: OSError) -> VsrkitError:
    return VsrkitError(f"cannot write into '{folder}' ({exc.strerror or exc}): choose an output folder you can write "
                       "to, or free some space there")


_NO_SPACE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_TEMP_PART = re.compile(r"^\.(.+)[.~](?:partial|old)-\d+-")


def shown(path: str | os.PathLike) -> str:
    """``path`` as the user knows it: temporary components (``.NAME.partial-PID-...``) shown as their final NAME."""
    parts = []
    for part in Path(path).parts:
        while (m := _TEMP_PART.match(part)) is not None:
            part = m.group(1)
        parts.append(part)
    return str(Path(*parts)) if parts else str(path)


def disk_error(output: str | os.PathLike, exc: BaseException) -> VsrkitError | None:
    """A one-line error for a write that failed for lack of space (a full disk, a quota, a file-size limit), naming
    ``output``; None for any other failure."""
    if getattr(exc, "errno", None) not in _NO_SPACE:
        return None
    reason = os.strerror(exc.errno)  # type: ignore[attr-defined]
    return VsrkitError(f"could not write {shown(output)!r} ({reason}): free some disk space or choose an output "
                       "folder on another disk; nothing was published there")


def check_writable(folder: Path) -> None:
    """Refuse (one line, before any work) an output in a folder that cannot be written: a read-only mount or an
    immutable folder, or missing write permission. A missing folder is judged by the nearest one that exists (the
    writers create the rest)."""
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        reason = "read-only file system" if os.statvfs(folder).f_flag & os.ST_RDONLY else "no write permission"
        raise VsrkitError(f"cannot write into '{folder}' ({reason}): choose an output folder you can write to")


def temp_file_for(path: Path) -> Path:
    """Return a fresh hidden sibling of ``path`` that keeps the suffix, so muxers still detect the container.

    mkstemp makes it 0600; it gets the permissions a plainly created file would have (0666 minus the umask), since
    it becomes the user's output."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.partial-{os.getpid()}-", suffix=path.suffix,
                                    dir=path.parent)
    except OSError as e:
        raise _cannot_write(path.parent, e) from None
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())
    return Path(name)


def temp_dir_for(path: Path) -> Path:
    """Return a fresh hidden sibling directory of ``path`` for a frame folder being written (0777 minus the umask,
    not mkdtemp's 0700)."""
    try:
        name = tempfile.mkdtemp(prefix=f".{path.name}.partial-{os.getpid()}-", dir=path.parent)
    except OSError as e:
        raise _cannot_write(path.parent, e) from None
    os.chmod(name, 0o777 & ~_umask())
    return Path(name)


def lock_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.vsrkit-lock")


@contextmanager
def output_lock(final: Path, *, blocking: bool = True) -> Iterator[None]:
    """Hold the lock of output ``final`` (a lock file beside it, deleted on release) while it is moved into place,
    so concurrent vsrkit processes writing the same output publish one after the other, each seeing what the other
    left. ``blocking=False`` raises :class:`BlockingIOError` when another process holds it."""
    path = lock_name(Path(final))
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            st = os.fstat(fd)
            now = os.stat(path)
        except FileNotFoundError:  # the holder deleted it as we waited: lock the new one
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        if (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino):
            break
        os.close(fd)
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)


def check_replaceable(final: Path) -> None:
    """Refuse (one line) to replace an existing ``final`` that vsrkit did not write, or that changed since vsrkit
    wrote it (:mod:`vsrkit.io.marks`): ``--overwrite`` replaces only vsrkit's own outputs."""
    final = Path(final)
    fix = "--overwrite replaces only vsrkit's own outputs; delete it yourself or choose another name"
    if final.is_symlink() or not (final.is_file() or final.is_dir()):
        if os.path.lexists(final):
            raise VsrkitError(f"output {str(final)!r} is a link or special file vsrkit did not write: {fix}")
        return
    if final.is_dir():
        if not marks.is_vsrkit_folder(final):
            raise VsrkitError(f"output {str(final)!r} is a folder vsrkit did not write (it lacks vsrkit's mark): {fix}")
    elif not marks.is_vsrkit_file(final):
        raise VsrkitError(f"output {str(final)!r} is a file vsrkit did not write (or one changed since vsrkit wrote "
                          f"it): {fix}")


def mark(tmp: Path, final: Path) -> None:
    """Mark the finished part ``tmp`` (a file or folder about to become ``final``) as vsrkit's output."""
    if tmp.is_dir():
        if not marks.is_vsrkit_folder(tmp):
            marks.write_marker(tmp)
    else:
        marks.mark_file(tmp, final)


def commit(tmp: Path, final: Path, *, overwrite: bool) -> None:
    """Mark the finished ``tmp`` as vsrkit's (:mod:`vsrkit.io.marks`) and move it onto ``final``.

    Without ``overwrite`` the move must not clobber something that appeared meanwhile: a hard link is used for files
    (fails atomically if the target exists) and a plain rename for directories (fails on a non-empty target). With
    ``overwrite``, an existing ``final`` is replaced only when it is vsrkit's (checked again here, under the
    output's lock, since the user or another process may have put something there during the work).
    After a stop request (SIGTERM/Ctrl-C, see :mod:`vsrkit.interrupt`) nothing is committed: the request is raised.
    Whether ``final`` may be replaced at all is decided before the work, by :func:`vsrkit.io.outputs.check_output`.
    """
    interrupt.check()
    with output_lock(final):
        if os.path.lexists(final):
            if not overwrite:
                raise exists_error(final)
            check_replaceable(final)  # before marking: in a ledger the new entry replaces the old one
        mark(tmp, final)
        with signals_held():
            _move_into_place(tmp, final, overwrite=overwrite)
    record_published(final)


def exists_error(path: str | os.PathLike) -> VsrkitError:
    """The one error for an output that is already there and may not be replaced (no ``--overwrite``)."""
    return VsrkitError(f"output {str(path)!r} already exists: pass --overwrite or choose another name")


def _move_into_place(tmp: Path, final: Path, *, overwrite: bool) -> None:
    if tmp.is_dir():
        if os.path.lexists(final):
            # A directory cannot be replaced atomically when it is non-empty: move the old one aside first so the
            # window without any output is a single rename, then delete it (a kill in between: outputs.recover
            # puts it back).
            trash = final.with_name(f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
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
        raise exists_error(final) from None
    except OSError:
        # Filesystems without hard links: other vsrkit processes are held off by the output's lock.
        if os.path.lexists(final):
            raise exists_error(final) from None
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
