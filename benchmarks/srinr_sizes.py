"""SR-INR parameter counts and training memory at the paper's table sizes (built on the meta device: no allocation).

    python benchmarks/srinr_sizes.py

Compares vsrkit's count with the paper's Tables 5-7 (hash tables dominate: levels x features x 2^log2T) and prints
the fp32 memory of parameters, gradients and Adam state (4 copies) that training at that size needs.
"""

from __future__ import annotations

import torch

from vsrkit.models.srinr import SRINR, VARIANTS

# (table, row label, overrides of the paper default, the paper's parameter count)
ROWS = [
    ("6", "log2T 10", {"log2_table_size": 10}, 1.259e6),
    ("6", "log2T 20", {"log2_table_size": 20}, 2.640e7),
    ("6", "log2T 22", {"log2_table_size": 22}, 1.019e8),
    ("6", "log2T 24 (default)", {}, 4.039e8),
    ("6", "log2T 26", {"log2_table_size": 26}, 1.612e9),
    ("5", "F 4", {"n_features": 4}, 8.066e8),
    ("7", "levels 2", {"n_levels": 2}, 6.7e7),
    ("7", "levels 4", {"n_levels": 4}, 1.35e8),
    ("7", "levels 6", {"n_levels": 6}, 2.0e8),
]


def count(**overrides) -> tuple[int, int]:
    with torch.device("meta"):
        m = SRINR(**{**VARIANTS["paper"], **overrides})
    total = sum(p.numel() for p in m.parameters())
    return total, sum(p.numel() for p in m.grid.parameters())


def main() -> None:
    print(f"{'table':<6} {'row':<20} {'vsrkit params':>15} {'hash part':>13} {'paper':>10} {'ratio':>6} "
          f"{'train fp32 GiB':>15}")
    for table, label, kw, paper in ROWS:
        total, hashed = count(**kw)
        print(f"{table:<6} {label:<20} {total:>15,} {hashed:>13,} {paper:>10.3e} {total / paper:>6.3f} "
              f"{4 * 4 * total / 2**30:>15.2f}")
    small, _ = count(**{k: v for k, v in VARIANTS["small_residual"].items()})
    print(f"shipped small_residual: {small:,} parameters")


if __name__ == "__main__":
    main()
