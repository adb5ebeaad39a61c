"""``python -m vsrkit`` (used by ``torchrun --nproc_per_node=N -m vsrkit train ...``)."""

import sys

from vsrkit.cli import main

sys.exit(main())
