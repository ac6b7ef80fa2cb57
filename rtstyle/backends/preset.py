"""Presets on ONNX Runtime: one export per network, the preset's condition an input (`Condition`).

A preset is only a condition for one of Magenta's networks (`models.magenta`), so
instead of exporting every preset and blend, the network is exported once with the
condition as a second input and each preset feeds its own: switching presets (the live
`n`/`b` keys) or trying a blend costs no export. On a CPU this is the default backend for
presets: ONNX Runtime runs these networks 4-5x faster than PyTorch's oneDNN path
(docs/benchmarks/history.md, "Magenta's networks").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..models.formats import load_style
from ..models.magenta import LAYOUTS, MagentaNet, network_state, package_file
from ..models.registry import Style
from .base import Adapter, FrameOf
from .runtime import Inputs


class _WithCondition(nn.Module):
    """`MagentaNet` as an image-plus-condition module for `export_onnx` (its `extra_inputs`)."""

    def __init__(self, architecture: str):
        super().__init__()
        self.net = MagentaNet(LAYOUTS[architecture])
        self.net.load_state_dict({k.removeprefix("net."): v for k, v in network_state(architecture).items()})
        self.cond_dim = LAYOUTS[architecture].cond_dim
        self.stride = MagentaNet.stride

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        return self.net(x, condition)

    def extra_inputs(self) -> dict[str, Tensor]:
        return {"condition": torch.zeros(self.cond_dim)}


def network_onnx(architecture: str) -> Path:
    """The network's dynamic-shape export with a `condition` input, made once per package version."""
    from ..models.export import cached_export, weights_hash

    source = package_file(LAYOUTS[architecture].onnx_file)
    return cached_export(f"{architecture}-{weights_hash(source)}", lambda: _WithCondition(architecture).eval(), "0-1",
                         source.name, f"the presets' {architecture} network")


class Condition(Adapter):
    """A preset (or blend) fed to its network's shared export: its condition is an input."""

    def __init__(self, style: Style):
        state, _ = load_style(style.path)
        self.condition = state["condition"].numpy().astype(np.float32)

    def inputs(self, frame: FrameOf) -> Inputs:
        return {"condition": self.condition}
