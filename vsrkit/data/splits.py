"""The one declared train / validation / test split of the real clips and photos vsrkit uses.

Rules (issue 16, "honest evaluation"): training reads only ``train``; every decision (iterations, learning rates,
variants, which checkpoint ships) is made on ``validation``; ``test`` is scored and reported, never used to decide
anything. Configs name a split (``type: samples``, ``split: train``), the shipped-model benchmark
(``benchmarks/shipped_scores.py``) reads the test split from here, and :func:`check_disjoint` keeps the three apart.

History the split has to respect: every shipped checkpoint trained on bikes + bigbuckbunny, and the carphone clip
chose their iteration counts; so carphone is validation, never test. SR-INR's photos follow the same rule.
Clip provenance and licences: :data:`vsrkit.data.samples.SAMPLE_SOURCES`.
"""

from __future__ import annotations

from vsrkit.errors import VsrkitError

SPLITS = ("train", "validation", "test")

#: Sample clips (``sample:<name>``) per split.
CLIPS: dict[str, tuple[str, ...]] = {
    "train": ("bikes", "bigbuckbunny"),
    "validation": ("carphone_pristine",),
    "test": ("vtest", "box", "cup", "tree", "megamind"),
}

#: How many leading frames of each test clip are upscaled (enough motion for the recurrent models, CPU-affordable),
#: and how many at each end are left out of the scores (megamind opens on a black frame, whose PSNR is infinite).
TEST_FRAMES = 20
TEST_SKIP_BORDER_FRAMES = 1

#: Photos per split, as :func:`vsrkit.data.images.load_image` names them (``skimage:NAME`` bundled with
#: scikit-image; ``opencv:NAME`` from Debian's opencv-doc, see :data:`vsrkit.data.samples.SAMPLE_SOURCES`).
#: chelsea, coins and gravel validated SR-INR's shipped training, so they are validation.
PHOTOS: dict[str, tuple[str, ...]] = {
    "train": tuple(f"skimage:{n}" for n in ("astronaut", "coffee", "rocket", "immunohistochemistry",
                                            "hubble_deep_field", "retina", "brick", "grass", "camera", "moon",
                                            "text", "page")),
    "validation": ("skimage:chelsea", "skimage:coins", "skimage:gravel"),
    "test": tuple(f"opencv:{n}" for n in ("building", "fruits", "home", "leuvenA", "butterfly")),
}


def split_clips(split: str) -> tuple[str, ...]:
    """Sample clip names of ``split`` (``train``, ``validation`` or ``test``)."""
    return CLIPS[_check(split)]


def split_photos(split: str) -> tuple[str, ...]:
    """scikit-image photo names of ``split``."""
    return PHOTOS[_check(split)]


def _check(split: str) -> str:
    if split not in SPLITS:
        raise VsrkitError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    return split


def check_disjoint() -> None:
    """Raise if a clip or photo is in two splits (a test item used for training or decisions)."""
    for table, what in ((CLIPS, "clip"), (PHOTOS, "photo")):
        seen: dict[str, str] = {}
        for split in SPLITS:
            for name in table[split]:
                if name in seen:
                    raise VsrkitError(f"{what} {name!r} is in both the {seen[name]} and the {split} split")
                seen[name] = split
