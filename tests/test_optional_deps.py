"""Optional packages that runtime code imports fail with one line naming the package and the install command."""

from __future__ import annotations

import sys

import pytest

from vsrkit.errors import VsrkitError


def test_skimage_photo_without_scikit_image(monkeypatch):
    from vsrkit.data.images import load_image

    monkeypatch.setitem(sys.modules, "skimage", None)  # import skimage -> ImportError, as when it is not installed
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    with pytest.raises(VsrkitError, match=r"needs scikit-image: pip install scikit-image") as info:
        load_image("skimage:astronaut")
    assert "\n" not in str(info.value)


def test_cli_names_the_missing_package(monkeypatch, capsys):
    from vsrkit import cli

    monkeypatch.setitem(sys.modules, "skimage", None)
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    rc = cli.main(["eval-model", "bicubic", "--layout", "images", "--dataset", "skimage:astronaut", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "needs scikit-image" in err[0], err
