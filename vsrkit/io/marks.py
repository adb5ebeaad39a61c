"""How an output says "vsrkit wrote me", so that ``--overwrite`` replaces only vsrkit's own outputs.

* A **folder** carries an extended attribute (:data:`MARKER_XATTR`) or, on file systems without user attributes, a
  hidden marker file inside it (:data:`FOLDER_MARKER`; frame listings skip hidden files).
* A **file** carries the same extended attribute, recording its size and modification time: a file changed after
  vsrkit wrote it no longer matches and counts as the user's. Where the file system has no user attributes (FAT,
  some network and tmpfs mounts), the folder holding it keeps a ledger (:data:`LEDGER`) of the files vsrkit
  published there with their size and SHA-256, so an unrelated file that later takes the same name is never taken
  for vsrkit's.

Files are marked while still under their temporary name, just before the rename that publishes them
(:func:`vsrkit.io.atomic.commit`, :class:`vsrkit.io.outputs.OutputSet`), so a published output is recognisable from
the moment it appears.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from pathlib import Path

MARKER_XATTR = "user.vsrkit.output"
FOLDER_MARKER = ".vsrkit-output.json"
LEDGER = ".vsrkit-outputs.json"
# Temporary and set-aside parts: ".<name>.partial-<pid>-..." / ".<name>.old-<pid>-..." (see vsrkit.io.atomic).
TEMP_NAME = re.compile(r"^\.+.*[.~](partial|old)-(\d+)-")

PathLike = str | os.PathLike


def _record(**info: object) -> bytes:
    from vsrkit import __version__

    return json.dumps({"written_by": "vsrkit", "version": __version__, **info}).encode()


def _read_xattr(path: PathLike) -> dict | None:
    """vsrkit's attribute on ``path`` (never following a symlink), or None when absent or unreadable."""
    try:
        record = json.loads(os.getxattr(path, MARKER_XATTR, follow_symlinks=False))
    except (OSError, AttributeError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("written_by") == "vsrkit" else None


# ---------------------------------------------------------------------------------------------------- folders


def write_marker(folder: PathLike, **info: object) -> None:
    """Mark ``folder`` (usually the temporary folder before it is committed) as written by vsrkit."""
    record = _record(**info)
    try:
        os.setxattr(folder, MARKER_XATTR, record)
    except (OSError, AttributeError):  # no user xattrs here (some tmpfs, network and non-Linux file systems)
        Path(folder, FOLDER_MARKER).write_bytes(record)


def is_vsrkit_folder(folder: PathLike) -> bool:
    """True when ``folder`` carries the mark vsrkit leaves on the folders it writes (:func:`write_marker`)."""
    if _read_xattr(folder) is not None:
        return True
    try:
        record = json.loads(Path(folder, FOLDER_MARKER).read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("written_by") == "vsrkit"


# ---------------------------------------------------------------------------------------------------- files


def _sha256(path: PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def mark_file(path: PathLike, final: PathLike | None = None) -> None:
    """Mark the regular file ``path`` as vsrkit's output; ``final`` is the name it is about to be renamed to (default:
    ``path`` itself). Uses the extended attribute, else an entry in the ledger of ``final``'s folder."""
    p = Path(path)
    st = p.stat()
    try:
        os.setxattr(p, MARKER_XATTR, _record(size=st.st_size, mtime_ns=st.st_mtime_ns))
        return
    except (OSError, AttributeError):
        pass
    target = Path(final) if final is not None else p
    if TEMP_NAME.match(target.name):  # a part of a set, marked again under its final name when the set commits
        return
    digest = _sha256(p)
    with _ledger(target.parent) as files:
        entry: dict = {"size": st.st_size, "sha256": digest}
        old = files.get(target.name)
        if isinstance(old, dict) and "sha256" in old:  # the file still there until the rename (or a kill before it)
            entry["earlier"] = {"size": old.get("size"), "sha256": old["sha256"]}
        files[target.name] = entry


def is_vsrkit_file(path: PathLike) -> bool:
    """True when the regular file ``path`` is an output vsrkit published and nobody changed since (same size and
    modification time as recorded in the attribute, or same size and SHA-256 as in its folder's ledger)."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except OSError:
        return False
    if not os.path.isfile(p) or os.path.islink(p):
        return False
    record = _read_xattr(p)
    if record is not None:
        return record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns
    entry = _read_ledger(p.parent).get(p.name)
    if not isinstance(entry, dict):
        return False
    known = [e for e in (entry, entry.get("earlier")) if isinstance(e, dict) and e.get("size") == st.st_size]
    return bool(known) and _sha256(p) in {e.get("sha256") for e in known}


def _read_ledger(folder: Path) -> dict:
    try:
        data = json.loads((folder / LEDGER).read_text())
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get("written_by") == "vsrkit" else None
    return files if isinstance(files, dict) else {}


class _ledger:
    """The ledger of ``folder`` for update under an exclusive lock on the folder itself (concurrent vsrkit
    processes publishing into one folder each add their entry). Entries are never pruned here: the parts of a set
    are marked before any of them is renamed into place."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> dict:
        self._fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.files = _read_ledger(self.folder)
        return self.files

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        try:
            if exc_type is None:
                tmp = self.folder / f"{LEDGER}.partial-{os.getpid()}-ledger"
                try:
                    tmp.write_text(json.dumps({"written_by": "vsrkit", "files": self.files}, indent=1,
                                              sort_keys=True))
                    os.replace(tmp, self.folder / LEDGER)
                except BaseException:
                    tmp.unlink(missing_ok=True)
                    raise
        finally:
            os.close(self._fd)
