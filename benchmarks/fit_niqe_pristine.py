"""Fit the NIQE pristine model shipped as ``vsrkit/metrics/niqe_pristine.npz`` (see :mod:`vsrkit.metrics.niqe`).

The authors fitted theirs on 125 pristine photographs that are not available offline here; this fits the same
model (sharp 96×96 patches, 36 features, mean and covariance) on photographs that are: seven scikit-image photos
and eight photographs of the Debian package ``lomiri-wallpapers`` (CC-BY-SA / CC-BY, see
/usr/share/doc/lomiri-wallpapers-16.04/copyright; ``apt-get install lomiri-wallpapers``), each reduced 4× with
pixel-area averaging (which also removes their JPEG artefacts). chelsea, motorcycle_right and gravel are kept out
of the fit: the tests score them.

    python benchmarks/fit_niqe_pristine.py            # rewrites vsrkit/metrics/niqe_pristine.npz
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vsrkit.metrics.niqe import SHARPNESS_THRESHOLD, _MODEL_FILE, fit_pristine  # noqa: E402

FIT_PHOTOS = ("astronaut", "coffee", "rocket", "motorcycle_left", "camera", "brick", "grass")
WALLPAPERS = Path("/usr/share/backgrounds")
WALLPAPER_PHOTOS = ("Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Kleiber_by_Lukas_Baubkus",
                    "aitzgorri_by_Aitzol_Berasategi", "friends_by_Aitzol_Berasategi", "life_by_Aitzol_Berasategi",
                    "picosdeeuropa_by_Aitzol_Berasategi", "seeding_by_Clements_Engelhardt")


def main() -> None:
    import skimage
    import skimage.data

    images = [skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(skimage.data, name)()
              for name in FIT_PHOTOS]
    import cv2

    used = [f"skimage.data.{n}" for n in FIT_PHOTOS]  # motorcycle_left: stereo_motorcycle()[0]
    for name in WALLPAPER_PHOTOS:
        bgr = cv2.imread(str(WALLPAPERS / f"{name}.jpg"))
        if bgr is None:
            print(f"skipping {name}: not installed (apt-get install lomiri-wallpapers)")
            continue
        small = cv2.resize(bgr, (bgr.shape[1] // 4, bgr.shape[0] // 4), interpolation=cv2.INTER_AREA)
        images.append(np.ascontiguousarray(small[..., ::-1]))
        used.append(f"lomiri-wallpapers:{name}.jpg (1/4 size, INTER_AREA)")
    mean, cov = fit_pristine(images)
    provenance = {
        "fitted_by": "benchmarks/fit_niqe_pristine.py",
        "photos": used,
        "scikit_image": skimage.__version__,
        "patch": 96, "sharpness_threshold": SHARPNESS_THRESHOLD,
        "note": "not the MATLAB release's model (125 LIVE photographs): values differ from MATLAB NIQE",
    }
    np.savez(_MODEL_FILE, mean=mean, cov=cov, provenance=np.array(json.dumps(provenance)))
    print(f"wrote {_MODEL_FILE}: mean[:4] {np.round(mean[:4], 4).tolist()}, {len(used)} photos")


if __name__ == "__main__":
    main()
