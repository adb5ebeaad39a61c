"""Known-shift check of flow networks (issue 18): does a flow network follow motion it is shown?

One real frame is cut twice with its content moved by a known shift (:func:`vsrkit.data.motion.translated_pair`),
so the true flow is that shift everywhere; the check reports the flow network's mean flow and its end-point error
(EPE, px) away from the borders. A network that returns the same flow whatever the shift (what BasicVSR-style
training from scratch at a small learning rate produces) shows EPE ≈ |shift|.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from vsrkit.data.motion import translated_pair
from vsrkit.ops.losses import endpoint_error

__all__ = ["KNOWN_SHIFTS", "known_shift_epe", "shipped_flow_networks", "mean_epe"]

#: Integer shifts named in the issue, then sub-pixel ones ``(dx, dy)``, px.
KNOWN_SHIFTS: tuple[tuple[float, float], ...] = (
    (0, 0), (1, 0), (3, 2), (-4, 3), (0.5, 0), (0.25, -0.75), (-1.5, 2.5), (2.5, -3.5),
)

FlowFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float() / 255.0


@torch.no_grad()
def known_shift_epe(flow_net: nn.Module | FlowFn, frame: np.ndarray,
                    shifts: Sequence[Sequence[float]] = KNOWN_SHIFTS, *, margin: int = 6,
                    border: int = 8) -> list[dict[str, Any]]:
    """EPE of ``flow_net(ref, supp)`` (``(1, 3, H, W)`` in [0, 1] → ``(1, 2, H, W)``, SpyNet's convention) on
    ``frame`` ``(H, W, 3)`` uint8 shifted by each of ``shifts``.

    Returns one dict per shift: ``shift``, ``mean_flow`` (dx, dy) and ``epe`` over the frame minus ``border`` px.
    """
    rows = []
    for shift in shifts:
        ref, supp = translated_pair(frame, shift, margin=margin)
        ref_t, supp_t = _tensor(ref), _tensor(supp)
        if isinstance(flow_net, nn.Module):
            p = next(flow_net.parameters(), None)
            if p is not None:
                ref_t, supp_t = ref_t.to(p.device), supp_t.to(p.device)
        flow = flow_net(ref_t, supp_t).float().cpu()
        inner = flow[..., border:-border, border:-border] if border else flow
        truth = torch.tensor([float(shift[0]), float(shift[1])]).view(1, 2, 1, 1).expand_as(inner)
        rows.append({"shift": (float(shift[0]), float(shift[1])),
                     "mean_flow": tuple(float(v) for v in inner.mean((0, 2, 3))),
                     "epe": float(endpoint_error(inner, truth))})
    return rows


def mean_epe(rows: Sequence[dict[str, Any]], low: float = 1.0, high: float = 4.0) -> float:
    """Mean EPE of the rows whose shift magnitude (max of |dx|, |dy|) lies in ``[low, high]`` (issue 18: 1–4 px)."""
    sel = [r["epe"] for r in rows if low <= max(abs(r["shift"][0]), abs(r["shift"][1])) <= high]
    return float(np.mean(sel)) if sel else float("nan")


def shipped_flow_networks() -> Iterator[tuple[str, nn.Module]]:
    """``(catalogue name, SpyNet)`` for every shipped checkpoint with a flow network (and the shipped SpyNet itself)."""
    from vsrkit.models import catalogue
    from vsrkit.engine.upscale import resolve_model

    for name, entry in catalogue.SHIPPED.items():
        if catalogue.shipped_path(name) is None:
            continue
        if entry.method == "spynet":
            yield name, catalogue.load_spynet(f"shipped:{name}")
            continue
        if entry.method in ("mfdn",):
            continue
        model, _ = resolve_model(name)
        net = getattr(model, "spynet", None)
        if net is not None:
            yield name, net.eval()
