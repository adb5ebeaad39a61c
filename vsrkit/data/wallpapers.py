"""A folder of real photographs from installed Debian/Ubuntu wallpaper packages, with a licence manifest.

Nothing is downloaded: the packages are installed by the user (``apt-get install plasma-workspace-wallpapers
lomiri-wallpapers ukui-wallpapers gnome-backgrounds``) and :func:`prepare_photo_folder` copies their raster images
(the largest rendition of each KDE wallpaper) into one flat folder that :class:`vsrkit.data.motion.MotionClipDataset`
and the ``images`` datasets read. ``manifest.json`` beside the photos names, per file, the package, the installed
path, the licence and copyright holders read from ``/usr/share/doc/<package>/copyright`` (Debian's machine-readable
format: the last ``Files:`` stanza whose pattern matches wins), and a fixed train/val split, so model cards can cite
their training sources.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence

from vsrkit.errors import VsrkitError
from vsrkit.io.atomic import exists_error

__all__ = ["DEFAULT_PACKAGES", "prepare_photo_folder", "package_images", "read_copyright", "parse_copyright",
           "split_files", "licence_summary"]

#: Wallpaper packages with raster photographs and art in Debian/Ubuntu (checked in their copyright files:
#: GPL-2+, CC-BY-SA-3.0, CC-BY-4.0 / CC-BY-SA-4.0 / CC0-1.0, CC-BY-SA-3.0/4.0).
DEFAULT_PACKAGES = ("plasma-workspace-wallpapers", "lomiri-wallpapers", "lomiri-wallpapers-20.04",
                    "ukui-wallpapers", "gnome-backgrounds")
_RASTER = (".jpg", ".jpeg", ".png", ".webp")
#: Every ``VAL_EVERY``-th photo (in name order of its content hash) is held out for validation.
VAL_EVERY = 5


def _installed_files(package: str) -> list[Path]:
    try:
        out = subprocess.run(["dpkg-query", "-L", package], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise VsrkitError("dpkg-query is missing: prepare the photo folder on a Debian/Ubuntu system") from None
    if out.returncode != 0:
        raise VsrkitError(f"package {package!r} is not installed: sudo apt-get install {package}")
    return [Path(line) for line in out.stdout.splitlines() if line.lower().endswith(_RASTER) and Path(line).is_file()]


def package_images(package: str) -> list[Path]:
    """Raster images of an installed package; of several renditions in one ``contents/images`` folder (KDE) only
    the one with most pixels."""
    from vsrkit.io.frames import image_size

    files = [f for f in _installed_files(package) if not f.stem.startswith("screenshot")]
    best: dict[Path, tuple[int, Path]] = {}
    single: list[Path] = []
    for f in files:
        if "contents" in f.parts and f.parent.name != "images":
            continue  # KDE's images_dark/ and portrait renditions repeat the same picture
        if f.parent.name == "images" and f.parent.parent.name == "contents":
            size = image_size(f)
            pixels = size[0] * size[1] if size else 0
            key = f.parent
            if key not in best or pixels > best[key][0]:
                best[key] = (pixels, f)
        else:
            single.append(f)
    return sorted(single + [f for _, f in best.values()])


def read_copyright(package: str) -> list[dict[str, str]]:
    """``Files:`` stanzas of ``/usr/share/doc/<package>/copyright``: ``[{files, copyright, license}]``."""
    path = Path("/usr/share/doc") / package / "copyright"
    return parse_copyright(path.read_text(errors="replace")) if path.is_file() else []


def parse_copyright(text: str) -> list[dict[str, str]]:
    """Stanzas of a Debian machine-readable copyright file that have ``Files:`` (``[{files, copyright, license}]``;
    only the licence's short name is kept)."""
    stanzas: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    key = None
    for line in text.splitlines() + [""]:
        if not line.strip():
            if "files" in cur:
                stanzas.append(cur)
            cur, key = {}, None
        elif line[0] in " \t" and key:
            cur[key] = (cur[key] + " " + line.strip()).strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            cur[key] = value.strip()
    return [{"files": s["files"], "copyright": s.get("copyright", ""), "license": s.get("license", "").split(" ")[0]}
            for s in stanzas]


def _short_name(file: Path) -> str:
    """``.../wallpapers/Autumn/contents/images/2560x1600.jpg`` → ``Autumn_2560x1600.jpg``; else the file name."""
    if file.parent.name == "images" and file.parent.parent.name == "contents":
        return f"{file.parent.parent.parent.name}_{file.name}"
    return file.name


def _licence_for(file: Path, stanzas: Sequence[dict[str, str]]) -> dict[str, str]:
    match: dict[str, str] = {}
    for s in stanzas:
        if s["files"].startswith("debian/"):
            continue
        for pattern in s["files"].split():
            if fnmatch.fnmatch(file.name, Path(pattern).name) or fnmatch.fnmatch(str(file), "*" + pattern):
                match = s
    # Packages without a machine-readable copyright file (gnome-backgrounds) state licences per image in prose.
    return {"license": match.get("license", "see copyright file"), "copyright": match.get("copyright", "")}


def prepare_photo_folder(out_dir: str | Path, packages: Sequence[str] = DEFAULT_PACKAGES, *,
                         overwrite: bool = False, min_side: int = 720) -> dict[str, Any]:
    """Copy the images of ``packages`` into ``out_dir`` (flat, ``<package>__<name>``) with ``manifest.json``.

    Images whose shorter side is below ``min_side`` (icons, thumbnails) are skipped. Packages that are not installed are listed in the manifest's ``missing`` and skipped; with none installed this
    raises. The folder appears complete or not at all (built beside it, then renamed). Returns the manifest.
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise exists_error(out)
    if out.exists() and not (out / "manifest.json").is_file():
        raise VsrkitError(f"'{out}' was not written by vsrkit (no manifest.json): choose another folder")
    if not out.parent.exists():
        raise VsrkitError(f"output directory '{out.parent}' does not exist: create it first")
    entries, missing = [], []
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for package in packages:
            try:
                images = package_images(package)
            except VsrkitError:
                missing.append(package)
                continue
            stanzas = read_copyright(package)
            for f in images:
                from vsrkit.io.frames import image_size

                size = image_size(f)
                if size is not None and min(size) < min_side:
                    continue
                name = f"{package}__{_short_name(f)}"
                shutil.copyfile(f, tmp / name)
                digest = hashlib.sha256((tmp / name).read_bytes()).hexdigest()
                entries.append({"file": name, "package": package, "source": str(f), "sha256": digest,
                                "copyright_file": f"/usr/share/doc/{package}/copyright",
                                **_licence_for(f, stanzas)})
        if not entries:
            raise VsrkitError(f"none of {', '.join(packages)} is installed: sudo apt-get install {' '.join(packages)}")
        # Split by content hash: stable when packages are added, and duplicates land in the same split.
        for rank, e in enumerate(sorted(entries, key=lambda e: e["sha256"])):
            e["split"] = "val" if rank % VAL_EVERY == VAL_EVERY - 1 else "train"
        manifest = {"packages": [p for p in packages if p not in missing], "missing": missing,
                    "photos": sorted(entries, key=lambda e: e["file"])}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def split_files(folder: str | Path, split: str) -> list[str]:
    """Files of ``split`` (``train``/``val``) listed in ``folder/manifest.json``."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise VsrkitError(f"'{folder}' has no manifest.json: prepare it with `vsrkit prepare-photos {folder}`")
    photos = json.loads(path.read_text())["photos"]
    return [str(Path(folder) / e["file"]) for e in photos if e["split"] == split]


def licence_summary(folder: str | Path) -> dict[str, Any]:
    """What a model card records about a prepared photo folder: packages, photos per licence and split, and the
    manifest's sha256 (the per-file licences and copyright holders stay in ``manifest.json``)."""
    from collections import Counter

    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise VsrkitError(f"'{folder}' has no manifest.json: prepare it with `vsrkit prepare-photos {folder}`")
    manifest = json.loads(path.read_text())
    photos = manifest["photos"]
    return {"packages": manifest["packages"],
            "licences": dict(Counter(f"{e['package']}: {e['license']}" for e in photos)),
            "splits": dict(Counter(e["split"] for e in photos)),
            "copyright_files": sorted({e["copyright_file"] for e in photos}),
            "manifest_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
