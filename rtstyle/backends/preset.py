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

from ..models.formats import load_arrays, weights_hash
from ..models.library import Style
from ..models.magenta_files import LAYOUTS, package_file
from .base import Adapter, FrameOf
from .runtime import Inputs


def network_onnx(architecture: str) -> Path:
    """The network's dynamic-shape export with a `condition` input, made once per package version."""
    from ..models.export import cached_export

    def build():
        from ..models.magenta import WithCondition

        return WithCondition(architecture).eval()

    source = package_file(LAYOUTS[architecture].onnx_file)
    return cached_export(f"{architecture}-{weights_hash(source)}", build, "0-1", source.name,
                         f"the presets' {architecture} network")


class Condition(Adapter):
    """A preset (or blend) fed to its network's shared export: its condition is an input."""

    def __init__(self, style: Style):
        self.condition = load_arrays(style.path)[0]["condition"]

    def inputs(self, frame: FrameOf) -> Inputs:
        return {"condition": self.condition}
