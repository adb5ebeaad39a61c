"""BasicVSR: bidirectional recurrent video super-resolution (Chan, Wang, Yu, Dong, Loy, CVPR 2021).

"BasicVSR: The Search for Essential Components in Video Super-Resolution and Beyond" reduces VSR to four
components, which this module implements as in BasicSR ``archs/basicvsr_arch.py`` (the official code):

* **propagation** – bidirectional and recurrent: a backward branch runs from the last frame to the first, a
  forward branch from the first to the last, each carrying a ``num_feat``-channel hidden state;
* **alignment** – flow-based, at feature level: SpyNet flows between neighbouring frames warp the hidden state
  onto the current frame (:func:`~vsrkit.ops.warp.flow_warp`, zeros padding);
* **aggregation** – each branch concatenates the current LR image (no separate feature extractor) with the warped
  state and refines it with a conv + ``num_block`` residual blocks (:class:`~vsrkit.ops.blocks.ConvResidualBlocks`);
  a 1×1 ``fusion`` conv merges the two branch states per frame;
* **upsampling** – two pixel-shuffle ×2 stages, ``conv_hr``, ``conv_last``, added to the bilinear ×4 of the input.

Official parameter names are kept (``spynet.*``, ``backward_trunk.*``, ``forward_trunk.*``, ``fusion``,
``conv_hr``, ``conv_last``) except the upsampler, which is one module here (``upsampler.convs.{0,1}`` for the
official ``upconv1``/``upconv2``); :func:`convert_official_state_dict` holds the explicit table.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.checkpoint import rename_by_prefix, unwrap_checkpoint
from vsrkit.errors import VsrkitError
from vsrkit.models.spec import ModelSpec, OfficialConverter
from vsrkit.ops.blocks import ConvResidualBlocks, PixelShuffleUpsampler
from vsrkit.ops.spynet import SPYNET_MIN_SIZE, SpyNet, neighbour_flows
from vsrkit.ops.warp import flow_warp_nchw

__all__ = ["BasicVSR", "VARIANTS", "OFFICIAL_KEY_PREFIXES", "convert_official_state_dict"]

#: Constructor kwargs per variant. ``paper``: 6,291,311 parameters (REDS/Vimeo releases). ``small``: 1,797,199
#: parameters, for quick experiments and CPU tests (SpyNet alone is 1,440,300 of them).
VARIANTS: dict[str, dict[str, int]] = {
    "paper": {"num_feat": 64, "num_block": 30},
    "small": {"num_feat": 32, "num_block": 5},
}


class BasicVSR(nn.Module):
    """BasicVSR ×4 (Chan et al., CVPR 2021).

    ``forward(x)``: ``x`` ``(B, T, 3, H, W)`` RGB in [0, 1], ``H, W >= 33`` (SpyNet) → ``(B, T, 3, 4H, 4W)``
    (not clamped). With ``return_aux=True`` returns ``(out, {"flows_forward": f, "flows_backward": b})``, both
    ``(B, T-1, 2, H, W)``: ``flows_backward[:, i]`` = flow from frame ``i`` into frame ``i+1`` (used to pull the
    backward state from ``i+1`` to ``i``) and ``flows_forward[:, i]`` = flow from frame ``i+1`` into frame ``i``.

    Args:
        num_feat: width of the propagation states (64 in the paper). The upsampler's second stage, ``conv_hr``
            and ``conv_last`` are 64 channels wide whatever ``num_feat`` is, as in the official code.
        num_block: residual blocks per propagation branch (30 in the paper).
        spynet_pretrained: optional path to SpyNet weights (BasicSR ``spynet_sintel_final-3d2a1287.pth`` or a
            safetensors conversion), loaded strictly into the flow estimator; training starts from it.
    """

    scale = 4

    def __init__(self, *, num_feat: int = 64, num_block: int = 30, spynet_pretrained: str | Path | None = None) -> None:
        super().__init__()
        self.num_feat = num_feat
        self.spynet = SpyNet(pretrained=spynet_pretrained)
        # Each branch sees [image (3), warped state (num_feat)] with the image first.
        self.backward_trunk = ConvResidualBlocks(in_channels=3 + num_feat, out_channels=num_feat, num_blocks=num_block)
        self.forward_trunk = ConvResidualBlocks(in_channels=3 + num_feat, out_channels=num_feat, num_blocks=num_block)
        self.fusion = nn.Conv2d(2 * num_feat, num_feat, 1, 1, 0, bias=True)
        self.upsampler = PixelShuffleUpsampler(in_channels=num_feat, out_channels=(num_feat, 64))
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

    def compute_flows(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """SpyNet flows between neighbours of ``x`` ``(B, T, 3, H, W)``.

        Returns ``(flows_forward, flows_backward)``, each ``(B, T-1, 2, H, W)`` (see the class docstring).
        """
        return neighbour_flows(self.spynet, x)

    def _align_context(self, x: Tensor) -> Tensor | None:
        """Per-clip data that :meth:`_align` needs, computed once per forward (subclass hook; BasicVSR: none)."""
        return None

    def _align(self, state: Tensor, flow: Tensor, frame: int, context: Tensor | None) -> Tensor:
        """Move the hidden ``state`` onto frame ``frame``'s grid with ``flow`` ``(B, 2, H, W)`` (subclass hook,
        e.g. IA-CNN's implicit alignment); BasicVSR: bilinear :func:`~vsrkit.ops.warp.flow_warp`, zeros padding."""
        return flow_warp_nchw(state, flow)

    def _reconstruct(self, backward_state: Tensor, forward_state: Tensor, lr: Tensor) -> Tensor:
        """Fuse both branch states of one frame and upsample: ``(B, num_feat, H, W)`` ×2, ``(B, 3, H, W)`` →
        ``(B, 3, 4H, 4W)``."""
        out = self.lrelu(self.fusion(torch.cat([backward_state, forward_state], dim=1)))
        out = self.upsampler(out)
        out = self.lrelu(self.conv_hr(out))
        out = self.conv_last(out)
        # The network predicts the residual over a bilinear upscaling of the LR frame.
        return out + F.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False)

    def forward(self, x: Tensor, *, return_aux: bool = False) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        if x.dim() != 5 or x.shape[2] != 3:
            raise ValueError(f"BasicVSR expects (B, T, 3, H, W), got {tuple(x.shape)}")
        b, t, _, h, w = x.shape
        if h < SPYNET_MIN_SIZE or w < SPYNET_MIN_SIZE:
            raise VsrkitError(
                f"BasicVSR needs frames of at least {SPYNET_MIN_SIZE}x{SPYNET_MIN_SIZE} px (SpyNet), got {h}x{w}: "
                "pad the clip (replicate) first; the engine does this from the registry's min_size"
            )
        flows_forward, flows_backward = self.compute_flows(x)
        context = self._align_context(x)

        # Backward branch: last frame → first; the state starts at zero.
        backward_states: list[Tensor] = []
        state = x.new_zeros(b, self.num_feat, h, w)
        for i in range(t - 1, -1, -1):
            if i < t - 1:
                state = self._align(state, flows_backward[:, i], i, context)
            state = self.backward_trunk(torch.cat([x[:, i], state], dim=1))
            backward_states.append(state)
        backward_states.reverse()  # index i = frame i

        # Forward branch: first frame → last, reconstructing each frame as soon as both states exist.
        outputs: list[Tensor] = []
        state = x.new_zeros(b, self.num_feat, h, w)
        for i in range(t):
            if i > 0:
                state = self._align(state, flows_forward[:, i - 1], i, context)
            state = self.forward_trunk(torch.cat([x[:, i], state], dim=1))
            outputs.append(self._reconstruct(backward_states[i], state, x[:, i]))
        out = torch.stack(outputs, dim=1)
        if return_aux:
            return out, {"flows_forward": flows_forward, "flows_backward": flows_backward}
        return out


# ----------------------------------------------------------------------------------------------------------------
# Official checkpoint conversion
# ----------------------------------------------------------------------------------------------------------------

#: Explicit rename table, BasicSR ``BasicVSR`` prefix → vsrkit prefix. Every official key must start with exactly
#: one of these prefixes; within a prefix the remainder of the key is unchanged (same sub-module layout).
OFFICIAL_KEY_PREFIXES: dict[str, str] = {
    "spynet.": "spynet.",
    "backward_trunk.": "backward_trunk.",
    "forward_trunk.": "forward_trunk.",
    "fusion.": "fusion.",
    "upconv1.": "upsampler.convs.0.",
    "upconv2.": "upsampler.convs.1.",
    "conv_hr.": "conv_hr.",
    "conv_last.": "conv_last.",
}

#: Official keys that vsrkit does not use (none for BasicVSR: every parameter influences the output).
OFFICIAL_KEYS_DROPPED: tuple[str, ...] = ()


def convert_official_state_dict(state_dict: dict, report: dict | None = None) -> dict[str, Tensor]:
    """BasicSR ``BasicVSR`` checkpoint → :class:`BasicVSR` state dict, via :data:`OFFICIAL_KEY_PREFIXES`.

    Accepts the bare state dict or a BasicSR container (``params_ema`` preferred over ``params``). Keys matching
    no table entry raise :class:`~vsrkit.errors.VsrkitError` (MMEditing/MMagic releases need their own table);
    load the result with ``strict=True``. ``report`` receives ``renamed``, ``dropped`` and ``added`` lists.
    """
    return rename_by_prefix(unwrap_checkpoint(state_dict), OFFICIAL_KEY_PREFIXES, dropped=OFFICIAL_KEYS_DROPPED,
                            what="BasicSR BasicVSR", report=report)


SPECS = (
    ModelSpec(
        name="basicvsr",
        builder=BasicVSR,
        description="BasicVSR: bidirectional recurrent propagation with SpyNet flow alignment (BasicSR weights load)",
        scale=4,
        temporal="recurrent",
        variants=VARIANTS,
        default_variant="paper",
        min_size=SPYNET_MIN_SIZE,  # SpyNet's 6-level pyramid needs H, W > 32
        aux_outputs=("flows_forward", "flows_backward"),
        paper="Chan et al., BasicVSR, CVPR 2021",
        # BasicSR basicsr/archs/basicvsr_arch.py BasicVSR(num_feat=64, num_block=30, spynet_path=None);
        # forward(x (B,T,3,H,W)) -> (B,T,3,4H,4W).
        converter=OfficialConverter(
            convert=convert_official_state_dict,
            key_table=OFFICIAL_KEY_PREFIXES,
            official_defaults={"num_feat": 64, "num_block": 30, "spynet_path": None},
            kwargs_from_official=lambda a: {"num_feat": int(a["num_feat"]), "num_block": int(a["num_block"])},
            call=lambda model, x: model(x),
        ),
    ),
)
