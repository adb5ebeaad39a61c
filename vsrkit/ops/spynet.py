"""SpyNet optical flow (Ranjan & Black, CVPR 2017), as re-implemented in BasicSR ``archs/spynet_arch.py``.

Used for alignment by BasicVSR, BasicVSR++, IART and BVSR-IK. The structure and every numerical step follow the
BasicSR forward so that its released weights (``spynet_sintel_final-3d2a1287.pth``) and the SpyNet part of every
BasicSR-lineage checkpoint load with identical key names (``basic_module.{level}.basic_module.{0,2,4,6,8}``) and
reproduce its flows. 1,440,300 parameters.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.checkpoint import load_checkpoint_file, load_strict, unwrap_checkpoint
from vsrkit.errors import VsrkitError
from vsrkit.ops.warp import flow_warp

__all__ = [
    "SpyNet",
    "SpyNetLevel",
    "SPYNET_MIN_SIZE",
    "SPYNET_KEYS",
    "convert_official_spynet_state_dict",
    "sad_search_init_",
]

#: Smallest legal height/width: the input is resized up to a multiple of 32 and pooled 5 times; at <= 32 px the
#: coarsest level is 1 px wide and the initial flow (half of it) would be empty.
SPYNET_MIN_SIZE = 33

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_NUM_LEVELS = 6


class SpyNetLevel(nn.Module):
    """Flow-residual estimator of one pyramid level (BasicSR ``BasicModule``).

    Five 7×7 convs 8 → 32 → 64 → 32 → 16 → 2 with ReLU between them (none after the last).
    Input ``(N, 8, h, w)`` = [ref (3), warped supp (3), upsampled flow (2)]; output flow residual ``(N, 2, h, w)``.
    The Sequential is called ``basic_module`` so that the official keys match.
    """

    def __init__(self) -> None:
        super().__init__()
        widths = (8, 32, 64, 32, 16, 2)
        layers: list[nn.Module] = []
        for k in range(len(widths) - 1):
            layers.append(nn.Conv2d(widths[k], widths[k + 1], kernel_size=7, stride=1, padding=3))
            if k < len(widths) - 2:
                layers.append(nn.ReLU(inplace=False))
        self.basic_module = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.basic_module(x)


class SpyNet(nn.Module):
    """Coarse-to-fine flow estimation over a 6-level image pyramid.

    ``forward(ref, supp)`` with two ``(N, 3, H, W)`` RGB images in [0, 1] returns the flow ``(N, 2, H, W)`` defined
    on ``ref``'s grid and pointing into ``supp`` (channel 0 = dx, channel 1 = dy, pixels), i.e.
    ``flow_warp(supp, flow.permute(0, 2, 3, 1)) ≈ ref``. ``H, W >= 33`` (:data:`SPYNET_MIN_SIZE`); smaller inputs
    raise :class:`~vsrkit.errors.VsrkitError` (pad them, e.g. replicate, before calling).

    Args:
        pretrained: optional path to a SpyNet checkpoint (``.pth``/``.safetensors``, BasicSR container or bare
            state dict) loaded strictly after construction.

    Buffers ``mean``/``std`` ``(1, 3, 1, 1)`` hold the ImageNet statistics in RGB order; they are part of the
    state dict because checkpoints of models embedding SpyNet carry them.
    """

    def __init__(self, *, pretrained: str | Path | None = None) -> None:
        super().__init__()
        self.basic_module = nn.ModuleList(SpyNetLevel() for _ in range(_NUM_LEVELS))
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        if pretrained is not None:
            state = convert_official_spynet_state_dict(load_checkpoint_file(pretrained))
            load_strict(self, state, lambda m: f"SpyNet weights {str(pretrained)!r} do not fit SpyNet (missing "
                        f"{m.missing[:2]}, unexpected {m.unexpected[:2]}, shape mismatch {m.mismatched[:2]}): pass a "
                        "SpyNet checkpoint (official or vsrkit)")

    def _pyramid(self, x: Tensor) -> list[Tensor]:
        """Normalised image and its 5 successive 2× average-pooled versions, coarsest first."""
        levels = [(x - self.mean) / self.std]
        for _ in range(_NUM_LEVELS - 1):
            levels.insert(0, F.avg_pool2d(levels[0], kernel_size=2, stride=2, count_include_pad=False))
        return levels

    def _estimate(self, ref: Tensor, supp: Tensor) -> list[Tensor]:
        """Flows of every pyramid level at the padded resolution (sizes multiples of 32), coarsest first; level
        ``k`` of 6 is ``(N, 2, H/2^(5-k), W/2^(5-k))`` in that level's pixels, the last one is the result."""
        ref_levels, supp_levels = self._pyramid(ref), self._pyramid(supp)
        n, _, h0, w0 = ref_levels[0].shape
        # BasicSR starts from a zero flow at half the coarsest size; the first ×2 upsampling restores that size.
        flow = ref_levels[0].new_zeros(n, 2, h0 // 2, w0 // 2)
        flows = []
        for level, (ref_l, supp_l) in enumerate(zip(ref_levels, supp_levels)):
            up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            # Odd sizes leave the upsampled flow one row/column short: replicate its last row/column.
            if up.shape[2] != ref_l.shape[2]:
                up = F.pad(up, [0, 0, 0, 1], mode="replicate")
            if up.shape[3] != ref_l.shape[3]:
                up = F.pad(up, [0, 1, 0, 0], mode="replicate")
            warped = flow_warp(supp_l, up.permute(0, 2, 3, 1), padding_mode="border")
            flow = self.basic_module[level](torch.cat([ref_l, warped, up], dim=1)) + up
            flows.append(flow)
        return flows

    def forward(self, ref: Tensor, supp: Tensor, *, return_levels: bool = False) -> Tensor | list[Tensor]:
        """Flow ``(N, 2, H, W)``; with ``return_levels`` (training with a multi-scale loss, sizes multiples of 32)
        the list of every level's flow, coarsest first, each in its own level's pixels."""
        if ref.shape != supp.shape or ref.dim() != 4 or ref.shape[1] != 3:
            raise ValueError(
                f"SpyNet expects two (N,3,H,W) tensors of one shape, got {tuple(ref.shape)}, {tuple(supp.shape)}"
            )
        h, w = ref.shape[-2:]
        if h < SPYNET_MIN_SIZE or w < SPYNET_MIN_SIZE:
            raise VsrkitError(
                f"SpyNet needs frames of at least {SPYNET_MIN_SIZE}x{SPYNET_MIN_SIZE} px, got {h}x{w}: "
                "pad the frames (replicate) to at least 33 px before computing flow"
            )
        h32, w32 = math.ceil(h / 32) * 32, math.ceil(w / 32) * 32
        if return_levels:
            if (h32, w32) != (h, w):
                raise VsrkitError(f"multi-scale SpyNet flows need sizes that are multiples of 32, got {h}x{w}: "
                                  "crop the training patches to a multiple of 32")
            return self._estimate(ref, supp)
        ref = F.interpolate(ref, size=(h32, w32), mode="bilinear", align_corners=False)
        supp = F.interpolate(supp, size=(h32, w32), mode="bilinear", align_corners=False)
        flow = F.interpolate(self._estimate(ref, supp)[-1], size=(h, w), mode="bilinear", align_corners=False)
        # Displacements were measured in padded-grid pixels: rescale each component to the original grid.
        scale = flow.new_tensor([w / w32, h / h32]).view(1, 2, 1, 1)
        return flow * scale




@torch.no_grad()
def sad_search_init_(net: SpyNet, *, gain: float = 8.0, step: float = 0.4, first_level: int = 0,
                     window: int = 7) -> SpyNet:
    """Write weights into ``net`` that make every pyramid level a one-step block-matching search, in place.

    Why: trained from random weights on a 2-core CPU, SpyNet stays on a plateau where it returns nearly the same
    flow whatever the motion (issue 18; the README's "Motion" section has the numbers). This construction gives the
    flow pre-training a start that already follows motion. Each level (five 7×7 convs, ReLU between) computes, per
    pixel, with ``W`` the supporting frame warped by the upsampled flow and ``R`` the reference:

    1. conv 1 (24 of 32 channels): ``D±(d) = ±[(W(q) + W(q+d))/2 - (R(q) + R(q-d))/2]`` per colour for the four
       unit displacements ``d`` (±x, ±y): the residual motion compared half a pixel each way, symmetric, so that
       a still pair gives zero (up to rounding, which high-contrast pixels amplify to a few hundredths of a pixel);
    2. conv 2 (4 channels): the sum of absolute differences over a ``window``² box, ``C(d)``, as
       ``relu(±Δ)`` with ``Δx = C(-x) - C(+x)`` (``≈ 2·r·Σ|∂I|`` for a residual ``r`` below one pixel);
    3. conv 3 (8 channels): ``s = gain · box(Δ)`` and the pieces of ``clip(s, -step, step) = relu(s) - relu(s -
       step) - relu(-s) + relu(-s - step)`` (every piece is zero at ``s = 0``, so zero padding reads as 'no motion');
    4. conv 4 and 5: 7×7 box averages, then the residual ``clip(s)`` per axis.

    Levels below ``first_level`` output zero. Across the 6 levels
    this is a coarse-to-fine search: each level moves at most ``step`` of its own pixels, i.e. ``step·2^(5-l)`` px
    of the input, and every finer level corrects what is left. Unused channels get zero weights. The defaults were
    chosen on the validation photos of ``vsrkit prepare-photos`` (known-shift EPE, issue 18); pre-training
    (``train.spynet_init: sad_search`` in the flow recipe) then adapts them. Returns ``net``.
    """
    if not 1 <= window <= 7 or window % 2 == 0:
        raise ValueError(f"window must be odd and at most 7 (the kernel size), got {window}")
    box = torch.full((window, window), 1.0 / window**2)
    o = (7 - window) // 2
    win = slice(o, o + window)
    # (dy, dx) of +x, -x, +y, -y
    units = ((0, 1), (0, -1), (1, 0), (-1, 0))
    for index, level in enumerate(net.basic_module):
        convs = [m for m in level.basic_module if isinstance(m, nn.Conv2d)]
        for conv in convs:
            conv.weight.zero_()
            conv.bias.zero_()
        c1, c2, c3, c4, c5 = (conv.weight for conv in convs)
        channel = {}
        for colour in range(3):
            for unit, (dy, dx) in enumerate(units):
                for sign in (1.0, -1.0):
                    ch = len(channel)
                    channel[colour, unit, sign] = ch
                    c1[ch, 3 + colour, 3, 3] += 0.5 * sign
                    c1[ch, 3 + colour, 3 + dy, 3 + dx] += 0.5 * sign
                    c1[ch, colour, 3, 3] -= 0.5 * sign
                    c1[ch, colour, 3 - dy, 3 - dx] -= 0.5 * sign
        for axis, (plus, minus) in enumerate(((0, 1), (2, 3))):
            for j, out_sign in enumerate((1.0, -1.0)):
                for colour in range(3):
                    for sign in (1.0, -1.0):
                        c2[2 * axis + j, channel[colour, minus, sign], win, win] += out_sign * box
                        c2[2 * axis + j, channel[colour, plus, sign], win, win] -= out_sign * box
            for j, (sign, bias) in enumerate(((1.0, 0.0), (1.0, -step), (-1.0, 0.0), (-1.0, -step))):
                c3[4 * axis + j, 2 * axis, win, win] += sign * gain * box
                c3[4 * axis + j, 2 * axis + 1, win, win] -= sign * gain * box
                convs[2].bias[4 * axis + j] = bias
            for j, sign in enumerate((1.0, -1.0, -1.0, 1.0)):
                c4[4 * axis + j, 4 * axis + j] = 1.0 / 49
                if index >= first_level:
                    c5[axis, 4 * axis + j] = sign / 49
    return net


def convert_official_spynet_state_dict(state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """BasicSR SpyNet state dict (or a ``params``/``params_ema`` container) -> :class:`SpyNet` state dict.

    Key names are identical (an explicit identity table). The released ``spynet_sintel_final`` file has no
    ``mean``/``std`` entries (BasicSR registers those buffers after loading), so the ImageNet statistics are added
    when both are absent; any other missing or unexpected key raises :class:`~vsrkit.errors.VsrkitError`.

    ``report``, when given, receives ``renamed`` (old -> new; empty here), ``dropped`` and ``added`` key lists.
    """
    state_dict = unwrap_checkpoint(state_dict)
    expected = set(SPYNET_KEYS)
    out = dict(state_dict)
    added: list[str] = []
    if "mean" not in out and "std" not in out:
        # At least float32, even for half-precision files: the statistics are constants, not trained weights.
        like = next(iter(out.values()), torch.zeros(()))
        dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
        out["mean"] = torch.tensor(_IMAGENET_MEAN, dtype=dtype).view(1, 3, 1, 1)
        out["std"] = torch.tensor(_IMAGENET_STD, dtype=dtype).view(1, 3, 1, 1)
        added = ["mean", "std"]
    missing, unexpected = sorted(expected - out.keys()), sorted(out.keys() - expected)
    if missing or unexpected:
        raise VsrkitError(
            f"not an official SpyNet state dict (missing {missing[:5]}, unexpected {unexpected[:5]}): "
            "pass BasicSR's spynet_sintel_final file or the 'spynet.*' part of a BasicSR checkpoint"
        )
    if report is not None:
        report.update(renamed={}, dropped=[], added=added)
    return out


#: Every key of :class:`SpyNet`'s state dict (and of BasicSR's, plus ``mean``/``std``).
SPYNET_KEYS: tuple[str, ...] = (
    *(
        f"basic_module.{level}.basic_module.{conv}.{kind}"
        for level in range(_NUM_LEVELS)
        for conv in (0, 2, 4, 6, 8)
        for kind in ("weight", "bias")
    ),
    "mean",
    "std",
)


def neighbour_flows(spynet: nn.Module, x: Tensor, *, reuse_mirrored: bool = False) -> tuple[Tensor, Tensor]:
    """SpyNet flows between neighbouring frames of ``x`` ``(B, T, 3, H, W)``, as recurrent VSR models use them.

    Returns ``(flows_forward, flows_backward)``, each ``(B, T-1, 2, H, W)``: ``flows_backward[:, i]`` is the flow
    from frame ``i`` into frame ``i+1`` (pulls the backward-propagated state from ``i+1`` to ``i``) and
    ``flows_forward[:, i]`` the flow from frame ``i+1`` into frame ``i``. A one-frame clip gives empty tensors.
    With ``reuse_mirrored`` (BasicVSR++/IART), a mirror-extended clip (second half = first half reversed) takes
    the flipped backward flows as its forward flows instead of running SpyNet again — checked on every call.
    """
    b, t, c, h, w = x.shape
    if t < 2:
        empty = x.new_zeros(b, 0, 2, h, w)
        return empty, empty
    earlier = x[:, :-1].reshape(-1, c, h, w)
    later = x[:, 1:].reshape(-1, c, h, w)
    flows_backward = spynet(earlier, later).view(b, t - 1, 2, h, w)
    if reuse_mirrored and t % 2 == 0 and torch.equal(x[:, : t // 2], x[:, t // 2 :].flip(1)):
        return flows_backward.flip(1), flows_backward
    flows_forward = spynet(later, earlier).view(b, t - 1, 2, h, w)
    return flows_forward, flows_backward
