"""SpyNet as a network of its own: the flow estimator inside BasicVSR, IART and BVSR-IK (:mod:`vsrkit.ops.spynet`)
has official weights (BasicSR ``spynet_sintel_final``) and may be pre-trained and shipped on its own
(``model.init_flow`` in training configs starts a video model's SpyNet from such a file)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from vsrkit.checkpoint import load_checkpoint_file
from vsrkit.models.spec import NetworkSpec, OfficialConverter
from vsrkit.ops.spynet import SpyNet, convert_official_spynet_state_dict

__all__ = ["SPECS", "load_spynet_file"]


def load_spynet_file(path: str | Path) -> nn.Module:
    """A SpyNet from a file: vsrkit safetensors, BasicSR ``.pth``, or a video model's file whose ``spynet.*`` part
    is used. Weights load strictly; the ImageNet ``mean``/``std`` buffers keep their exact values (they are
    constants, not trained, and an fp16 file rounds them)."""
    state = load_checkpoint_file(path)
    if any(k.startswith("spynet.") for k in state):
        state = {k[len("spynet."):]: v for k, v in state.items() if k.startswith("spynet.")}
    net = SpyNet()
    own = net.state_dict()
    state = convert_official_spynet_state_dict(state)
    state.update(mean=own["mean"], std=own["std"])
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    return net.eval()


SPECS = (
    # BasicSR basicsr/archs/spynet_arch.py SpyNet(load_path=None); forward(ref, supp) -> flow (N,2,H,W).
    NetworkSpec(
        name="spynet",
        builder=SpyNet,
        description="SpyNet optical flow (the alignment network of BasicVSR, IART and BVSR-IK)",
        role="flow",
        paper="Ranjan & Black, SpyNet, CVPR 2017 (BasicSR re-implementation)",
        converter=OfficialConverter(
            convert=convert_official_spynet_state_dict,
            key_table=None,  # BasicSR key names are kept
            official_defaults={"load_path": None},
            kwargs_from_official=lambda args: {},
            call=lambda model, ref, supp: model(ref, supp),
        ),
        load_file=load_spynet_file,
    ),
)
