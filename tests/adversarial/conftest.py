"""Fixtures of the adversarial suite."""

from __future__ import annotations

import numpy as np
import pytest

from .adversarial_helpers import real_frames


@pytest.fixture(scope="session")
def frames12() -> list[np.ndarray]:
    return real_frames(12)
