"""Multi-resolution hash encoding (Müller et al., "Instant Neural Graphics Primitives with a Multiresolution Hash
Encoding", SIGGRAPH 2022) in pure PyTorch, for any input dimension ``D``.

What is implemented
-------------------
* ``L`` levels with grid resolutions growing geometrically from ``base_resolution`` to ``finest_resolution``:
  ``N_l = floor(N_min · g^l)``, ``g = exp((ln N_max − ln N_min)/(L − 1))`` (:func:`level_resolutions`).
* A point ``u ∈ [0, 1]^D`` is scaled to ``v = u·N_l``; its lower grid vertex is ``z = floor(v)`` (clamped to
  ``N_l − 1`` so ``u = 1`` stays in the last cell) and its local offset ``o = v − z ∈ [0, 1]^D``. The ``2^D``
  corners are ``z + c`` for ``c ∈ {0, 1}^D``; **bit ``d`` of the corner index is the offset along dimension ``d``**
  (:func:`corner_bits`).
* Vertex → table row: the Instant-NGP spatial hash ``h(x) = (⊕_d x_d·π_d) mod T`` with the primes
  π = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737) and the products taken in
  32-bit unsigned arithmetic (computed here in int64 and masked to the low 32 bits, which is the same thing);
  ``T = 2^log2_table_size``. (:func:`spatial_hash`; tests compare it with a NumPy uint32 reference.)
* **Dense path**: a level whose vertex grid ``(N_l + 1)^D`` fits in ``T`` rows is indexed one-to-one (row-major,
  dimension 0 fastest) instead of hashed — no collisions, as in Instant-NGP.
* Each level owns a table of ``F`` features per row, initialised U(−1e-4, 1e-4). ``compact_tables=False`` (the
  default) gives every level the full ``T`` rows — that is what the SR-INR paper's parameter counts imply; with
  ``compact_tables=True`` dense levels keep only ``(N_l + 1)^D`` rows (Instant-NGP's memory saving).
* :meth:`HashGrid.corners` returns, per level, the ``2^D`` corner features and the offsets, so callers can combine
  corners with their own weights (SR-INR predicts them); :meth:`HashGrid.forward` is the standard encoding with
  ``2^D``-corner multilinear interpolation, concatenated over levels → ``(..., L·F)``.

Cost and memory
---------------
Everything is vectorised over points and corners; only the loop over levels is in Python. Memory per call is
``M·2^D`` int64 indices plus ``M·2^D·F`` gathered features per level for ``M`` points, so callers evaluate large
point sets in chunks. Gradients to the tables are dense (``index_select`` backward) — fine for CPU-sized tables and
for ``2^24``-row tables on a GPU (``L·T·F`` floats of gradient, 1.6 GB at L 12, F 2, T 2^24).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["PRIMES", "level_resolutions", "corner_bits", "spatial_hash", "dense_index", "multilinear_weights",
           "HashGrid"]

#: Instant-NGP / tiny-cuda-nn spatial-hash primes; dimension ``d`` uses ``PRIMES[d]`` (the first is 1).
PRIMES: tuple[int, ...] = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737)
_MASK32 = 0xFFFFFFFF


def level_resolutions(n_levels: int, base_resolution: int, finest_resolution: int) -> list[int]:
    """Grid resolution of each level: ``floor(N_min·g^l)`` with ``g`` the geometric growth to ``N_max``."""
    if n_levels < 1 or base_resolution < 1 or finest_resolution < base_resolution:
        raise ValueError(f"need n_levels >= 1 and 1 <= base <= finest (got {n_levels}, {base_resolution}, "
                         f"{finest_resolution})")
    if n_levels == 1:
        return [int(base_resolution)]
    g = math.exp((math.log(finest_resolution) - math.log(base_resolution)) / (n_levels - 1))
    # The small epsilon keeps exact powers (e.g. 4·2^5 = 128) from flooring to one less through float error.
    return [int(math.floor(base_resolution * g**lvl + 1e-6)) for lvl in range(n_levels)]


def corner_bits(dim: int, device: torch.device | str | None = None) -> Tensor:
    """``(2^D, D)`` int64: row ``c`` holds the bits of ``c`` (bit ``d`` = offset along dimension ``d``)."""
    c = torch.arange(2**dim, device=device)
    return (c[:, None] >> torch.arange(dim, device=device)[None, :]) & 1


def spatial_hash(coords: Tensor, log2_table_size: int) -> Tensor:
    """Instant-NGP hash of integer vertices ``(..., D)`` (int64, non-negative) → rows in ``[0, 2^log2T)``."""
    dim = coords.shape[-1]
    if dim > len(PRIMES):
        raise ValueError(f"the spatial hash has primes for up to {len(PRIMES)} dimensions, got {dim}")
    h = coords[..., 0] & _MASK32  # π_0 = 1
    for d in range(1, dim):
        h = h ^ ((coords[..., d] * PRIMES[d]) & _MASK32)
    return h & ((1 << log2_table_size) - 1)


def dense_index(coords: Tensor, resolution: int) -> Tensor:
    """Row-major index of vertices ``(..., D)`` in a ``(resolution + 1)^D`` grid, dimension 0 fastest."""
    dim = coords.shape[-1]
    stride = torch.tensor([(resolution + 1) ** d for d in range(dim)], device=coords.device, dtype=torch.int64)
    return (coords * stride).sum(-1)


def multilinear_weights(offsets: Tensor, bits: Tensor | None = None) -> Tensor:
    """``(..., D)`` offsets in [0, 1] → ``(..., 2^D)`` multilinear corner weights ``Π_d (o_d if c_d else 1 − o_d)``.

    Built dimension by dimension (corner index bit ``d`` ↔ dimension ``d``); ``bits`` is accepted for symmetry.
    """
    w = None
    for d in range(offsets.shape[-1]):
        o = offsets[..., d : d + 1]
        w = torch.cat([1.0 - o, o], dim=-1) if w is None else torch.cat([w * (1.0 - o), w * o], dim=-1)
    return w


class HashGrid(nn.Module):
    """Multi-resolution hash grid over ``[0, 1]^in_dim``: ``forward(u (..., D)) → (..., L·F)``."""

    def __init__(
        self,
        *,
        in_dim: int,
        n_levels: int = 16,
        n_features: int = 2,
        log2_table_size: int = 19,
        base_resolution: int = 16,
        finest_resolution: int = 512,
        compact_tables: bool = False,
        init_scale: float = 1e-4,
    ) -> None:
        super().__init__()
        if not 1 <= in_dim <= len(PRIMES):
            raise ValueError(f"in_dim must be 1..{len(PRIMES)} (got {in_dim})")
        self.in_dim, self.n_levels, self.n_features = in_dim, n_levels, n_features
        self.log2_table_size = log2_table_size
        self.table_size = 2**log2_table_size
        self.resolutions = level_resolutions(n_levels, base_resolution, finest_resolution)
        #: per level: True when the whole vertex grid fits in the table (dense, collision-free indexing)
        self.dense = [(n + 1) ** in_dim <= self.table_size for n in self.resolutions]
        rows = [(n + 1) ** in_dim if (compact_tables and d) else self.table_size
                for n, d in zip(self.resolutions, self.dense)]
        self.tables = nn.ParameterList(nn.Parameter(torch.empty(r, n_features)) for r in rows)
        self.init_scale = init_scale
        self.register_buffer("bits", corner_bits(in_dim), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for t in self.tables:
            if t.device.type != "meta":
                nn.init.uniform_(t, -self.init_scale, self.init_scale)

    @property
    def out_dim(self) -> int:
        return self.n_levels * self.n_features

    def locate(self, u: Tensor, level: int) -> tuple[Tensor, Tensor]:
        """Rows of the ``2^D`` corners ``(..., 2^D)`` int64 and local offsets ``(..., D)`` of points ``u`` at ``level``.

        Same result as ``spatial_hash``/``dense_index`` of the corner vertices, built dimension by dimension
        (``2 + 4 + … + 2^D`` operations per point instead of ``2^D·D``): XOR (hash) and sum (dense) both split over
        dimensions, and doubling the list per dimension keeps bit ``d`` of the corner index on dimension ``d``.
        """
        n = self.resolutions[level]
        v = u.clamp(0.0, 1.0) * n
        lower = v.detach().floor().clamp_(max=n - 1)
        offsets = v - lower
        z = lower.long()
        dense = self.dense[level]
        rows = None
        for d in range(self.in_dim):
            zd = z[..., d]
            if dense:
                stride = (n + 1) ** d
                lo = zd * stride
                hi = lo + stride
            else:
                lo = (zd * PRIMES[d]) & _MASK32
                hi = ((zd + 1) * PRIMES[d]) & _MASK32
            lo, hi = lo[..., None], hi[..., None]
            if rows is None:
                rows = torch.cat([lo, hi], dim=-1)
            elif dense:
                rows = torch.cat([rows + lo, rows + hi], dim=-1)
            else:
                rows = torch.cat([rows ^ lo, rows ^ hi], dim=-1)
        if not dense:
            rows = rows & (self.table_size - 1)
        return rows, offsets

    def corners(self, u: Tensor, level: int) -> tuple[Tensor, Tensor]:
        """Corner features ``(..., 2^D, F)`` and offsets ``(..., D)`` of points ``u (..., D)`` at ``level``."""
        rows, offsets = self.locate(u, level)
        table = self.tables[level]
        feats = table.index_select(0, rows.reshape(-1)).reshape(*rows.shape, self.n_features)
        return feats, offsets

    def forward(self, u: Tensor) -> Tensor:
        """Standard encoding: multilinear interpolation of the ``2^D`` corners per level, levels concatenated."""
        out = []
        for level in range(self.n_levels):
            feats, offsets = self.corners(u, level)
            w = multilinear_weights(offsets, self.bits)
            out.append((w[..., None] * feats).sum(-2))
        return torch.cat(out, dim=-1)

    def extra_repr(self) -> str:
        return (f"in_dim={self.in_dim}, levels={self.resolutions}, features={self.n_features}, "
                f"log2T={self.log2_table_size}, dense={self.dense}")
