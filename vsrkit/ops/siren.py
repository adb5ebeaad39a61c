"""SIREN kernel atoms: blur-kernel dictionaries parameterised by implicit neural representations.

A SIREN atom (Sitzmann et al., NeurIPS 2020, "sine representation networks") is a small coordinate MLP
``φ(row, col) = W₃ · sin(w₀ · (W₂ · sin(w₀ · (W₁ · [row, col] + b₁)) + b₂))`` evaluated on a ``k × k`` grid of
normalised coordinates ``(row/(k−1), col/(k−1)) ∈ [0, 1]²``. Sampling the *same* continuous function on grids of
different sizes gives a multi-scale family of atoms (BVSR-IK Eq. 4: ``d_n^r[x, y] = φ_n(x, y)``): the atom is
stretched, not extended, when ``k`` grows.

* :class:`SirenAtom` – one atom: ``Linear(2→hidden)`` → sine → ``Linear(hidden→hidden)`` → sine →
  ``Linear(hidden→1, no bias)``. The sine frequency ``w0`` is **one** learnable scalar shared by both sine layers
  (BVSR-IK ties them; its checkpoints store the same tensor under two names). Linear layers keep PyTorch's default
  initialisation (BVSR-IK does not use the SIREN initialisation scheme).
* :class:`SirenAtomBank` – ``N`` independent atoms evaluated together: ``bank(k)`` → ``(N, k, k)`` times the
  size normalisation ``9/k²`` (an atom sampled on more taps is scaled down so the filter response stays of the
  same order; BVSR-IK keeps this constant in float32 even in float64 runs, and so does this module). There is no
  softmax or sum-to-one normalisation.
* :func:`delta_atom` – the fixed (non-learnable) 1×1 identity kernel, padded to any odd size.

Coordinates are built on the fly in the parameters' dtype and device (no hard-coded device), so a float64 model
samples exact float64 coordinates.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

__all__ = ["SirenAtom", "SirenAtomBank", "atom_coordinates", "atom_normalisation", "delta_atom"]


def atom_coordinates(size: int, *, dtype: torch.dtype, device: torch.device | None = None) -> Tensor:
    """``(size², 2)`` grid ``(row/(size−1), col/(size−1))`` in row-major order (feature 0 = row).

    ``size == 1`` gives the single coordinate ``(0, 0)``.
    """
    if size < 1:
        raise ValueError(f"atom size must be >= 1, got {size}")
    steps = torch.arange(size, dtype=dtype, device=device)
    if size > 1:
        steps = steps / (size - 1)
    rows, cols = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack((rows.reshape(-1), cols.reshape(-1)), dim=1)


def atom_normalisation(size: int, *, dtype: torch.dtype, device: torch.device | None = None) -> Tensor:
    """The size normalisation ``9/size²`` as a 0-d tensor: rounded to float32 first (as BVSR-IK stores it), then
    cast to ``dtype``."""
    return torch.tensor(9.0 / size**2, dtype=torch.float32, device=device).to(dtype)


def delta_atom(size: int = 1, *, dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> Tensor:
    """The fixed identity (Dirac) kernel: ``(size, size)`` zeros with a one at the centre (``size`` odd)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"delta atom size must be odd and >= 1, got {size}")
    out = torch.zeros(size, size, dtype=dtype, device=device)
    out[size // 2, size // 2] = 1.0
    return out


class _Sine(nn.Module):
    """``sin(w0 · x)`` with ``w0`` owned by the parent atom (so the two sine layers share one parameter)."""

    def forward(self, x: Tensor, w0: Tensor) -> Tensor:
        return torch.sin(w0 * x)


class SirenAtom(nn.Module):
    """One implicit kernel atom ``φ: [0,1]² → ℝ`` (see the module docstring).

    Args:
        hidden: width of the two hidden layers (360 in BVSR-IK).
        w0: initial sine frequency.

    Parameters: ``fc_in`` (2→hidden), ``fc_hidden`` (hidden→hidden), ``fc_out`` (hidden→1, no bias), ``w0`` (0-d).
    """

    def __init__(self, *, hidden: int = 360, w0: float = 2.0) -> None:
        super().__init__()
        self.fc_in = nn.Linear(2, hidden)
        self.fc_hidden = nn.Linear(hidden, hidden)
        self.fc_out = nn.Linear(hidden, 1, bias=False)
        self.w0 = nn.Parameter(torch.tensor(float(w0)))
        self.sine = _Sine()

    def forward(self, coords: Tensor) -> Tensor:
        """``coords (P, 2)`` → values ``(P,)``."""
        x = self.sine(self.fc_in(coords), self.w0)
        x = self.sine(self.fc_hidden(x), self.w0)
        return self.fc_out(x).squeeze(-1)


class SirenAtomBank(nn.Module):
    """``num_atoms`` independent :class:`SirenAtom` s, sampled together at any size.

    Args:
        num_atoms: atoms per dictionary ``N`` (8 in BVSR-IK).
        hidden: SIREN width (360).
        freq_init: ``"linear"`` – frequencies ``w_lo + (w_hi − w_lo)·n/(N−1)`` (BVSR-IK code: 2, 4, …, 16);
            ``"random"`` – ``U(w_lo, w_hi)`` per atom (the paper's wording), drawn from torch's global RNG.
        freq_range: ``(w_lo, w_hi)``, default ``(2, 16)``.

    ``forward(size)`` → ``(N, size, size)`` atoms (already multiplied by :func:`atom_normalisation`).
    ``dictionary(sizes)`` → list of those, one per size.
    """

    def __init__(
        self,
        *,
        num_atoms: int = 8,
        hidden: int = 360,
        freq_init: str = "linear",
        freq_range: tuple[float, float] = (2.0, 16.0),
    ) -> None:
        super().__init__()
        lo, hi = float(freq_range[0]), float(freq_range[1])
        if freq_init == "linear":
            freqs = [lo + (hi - lo) * n / max(num_atoms - 1, 1) for n in range(num_atoms)]
        elif freq_init == "random":
            freqs = (lo + (hi - lo) * torch.rand(num_atoms)).tolist()
        else:
            raise ValueError(f"freq_init must be 'linear' or 'random', got {freq_init!r}")
        self.num_atoms = num_atoms
        self.atoms = nn.ModuleList(SirenAtom(hidden=hidden, w0=f) for f in freqs)

    def frequencies(self) -> Tensor:
        """``(N,)`` current sine frequencies (detached)."""
        return torch.stack([a.w0.detach() for a in self.atoms])

    def forward(self, size: int) -> Tensor:
        ref = self.atoms[0].fc_in.weight
        coords = atom_coordinates(size, dtype=ref.dtype, device=ref.device)
        norm = atom_normalisation(size, dtype=ref.dtype, device=ref.device)
        return torch.stack([atom(coords).reshape(size, size) * norm for atom in self.atoms])

    def dictionary(self, sizes: Sequence[int]) -> list[Tensor]:
        return [self(k) for k in sizes]
