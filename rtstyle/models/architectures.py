"""The families of style networks rtstyle runs: one descriptor each, in one table.

An `Architecture` says everything the rest of rtstyle asks of a family, the way torchvision's
model registry does: how to build its PyTorch network, what its weight files leave out, what it
feeds besides the image, which runtimes run it and which one `--backend auto` picks on a CPU,
whether `rtstyle train` fine-tunes it, and how `rtstyle styles` describes one. Backends, export,
training and the CLI read these fields and branch on no names, so a new family is its model
module plus one row of `ARCHITECTURES`.

The table is torch-free: what it names in other modules (`"module:attribute"`) is imported only
when it is used, so a preset on ONNX Runtime never imports PyTorch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import RtstyleError
from .formats import StyleMeta

RUNTIMES = ("torch", "onnxruntime", "tensorrt")


def _plain(m: StyleMeta) -> str:
    return f"width {m.width}, {m.num_residual} res blocks" if m.width else f"layout {m.layout}"


def _preset(m: StyleMeta) -> str:
    if "lite_of" in m.extra:
        return f"lite student of {m.extra['lite_of']} (rtstyle train --teacher)"
    if m.stroke_long_side:
        detail = f"{m.extra.get('summary', 'preset')}, strokes at {m.stroke_long_side} px"
        return detail + (f", strength {float(m.extra['strength']):g}" if "strength" in m.extra else "")
    if m.extra.get("style_image") == "required":
        return "Magenta's arbitrary network, any --style-image"
    return _plain(m)


@dataclass(frozen=True)
class Architecture:
    """One family of style networks. References to code are `"module:attribute"` strings,
    imported on first use (`resolve`)."""

    name: str  # as StyleMeta.architecture names it
    detail: Callable[[StyleMeta], str] = _plain  # `rtstyle styles`' words for one network
    network: str | None = None  # (StyleMeta) -> nn.Module; None: ONNX files only, no PyTorch network
    stride: int = 4  # what the input's sides must be multiples of
    runtimes: tuple[str, ...] = RUNTIMES
    cpu_runtime: str = "torch"  # what --backend auto runs its weights on without a CUDA GPU
    # A preset family: its style files hold a condition alone, for a network a package ships.
    # `shared_weights` (StyleMeta) -> the state the files leave out; `shared_export`
    # (architecture name) -> ONNX Runtime's one export of the network, fed each preset's condition.
    preset: bool = False
    shared_weights: str | None = None
    shared_export: str | None = None
    clean_state: str = "rtstyle.models.transformer_net:clean_state_dict"  # state_dict -> what `network` loads
    # What it feeds besides the image, from --style-image: a `backends.StyleImages` adapter class
    # with `create(style, runtime)`. `always_style_image`: it has no look of its own.
    # `style_image_runtimes`: where that works (a style vector is fed only to PyTorch's network
    # and ONNX Runtime's shared export; a TensorRT engine holds one preset's condition).
    style_image: str | None = None
    always_style_image: bool = False
    style_image_runtimes: tuple[str, ...] = RUNTIMES
    channels_last: bool = False  # PyTorch runs it in NHWC even on a CPU (oneDNN is faster so)
    single_input: bool = True  # takes the image alone (torch-tensorrt compiles only such networks)
    trainable: bool = False  # `rtstyle train --init` fine-tunes it
    lite: bool = False  # made for --lite on CPUs

    def build(self, meta: StyleMeta) -> Any:
        """The PyTorch module for `meta`, without weights."""
        if self.network is None:
            raise RtstyleError(f"style {meta.name!r} is an ONNX model: it runs on the onnxruntime backend only")
        return resolve(self.network)(meta)


def resolve(ref: str) -> Any:
    """The object a `"module:attribute"` reference names, imported now."""
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)


_M = "rtstyle.models"
ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture("transformer_net", network=f"{_M}.transformer_net:build", trainable=True),
    Architecture("transformer_lite", network=f"{_M}.lite:build", trainable=True, lite=True,
                 detail=lambda m: f"lite (CPU) variant, width {m.width}, {m.num_residual} separable blocks"),
    Architecture("cyclegan_resnet", network=f"{_M}.cyclegan:build", clean_state=f"{_M}.cyclegan:clean_cyclegan_state",
                 detail=lambda m: f"ngf {m.width}, {m.num_residual} res blocks, {m.extra.get('norm', 'instance')} norm"),
    # NHWC: a 640x360 frame 629 -> 485 ms, a 256 px style image 76 -> 63 ms (docs/benchmarks/history.md)
    Architecture("adain", network=f"{_M}.adain:build", stride=8, shared_weights=f"{_M}.adain:shared_weights",
                 style_image="rtstyle.backends.adain:AdaINStats", always_style_image=True, single_input=False,
                 channels_last=True, detail=lambda m: f"decoder width {m.width}, any --style-image"),
    # Magenta's networks (models.magenta): presets of the 26-painting network, and of the
    # arbitrary network's style vectors, which also takes any --style-image. ONNX Runtime
    # runs them 4-5x faster than PyTorch's oneDNN path on a CPU (docs/benchmarks/history.md).
    *(Architecture(name, network=f"{_M}.magenta:build", preset=True, cpu_runtime="onnxruntime", detail=_preset,
                   shared_weights=f"{_M}.magenta:shared_weights", shared_export="rtstyle.backends.preset:network_onnx",
                   style_image="rtstyle.backends.style_vector:StyleVector" if name == "style_vector" else None,
                   style_image_runtimes=("torch", "onnxruntime"))
      for name in ("multistyle26", "style_vector")),
    # ONNX files: a plain imported style, and Magenta's arbitrary pair (transformer + predictor)
    Architecture("onnx", runtimes=("onnxruntime", "tensorrt"), cpu_runtime="onnxruntime"),
    Architecture("magenta_arbitrary", runtimes=("onnxruntime",), cpu_runtime="onnxruntime", always_style_image=True,
                 style_image="rtstyle.backends.onnx_pair:PairVector"),
)}


def architecture(name: str) -> Architecture:
    """The descriptor of the family `name`; a one-line error for a name rtstyle does not know."""
    found = ARCHITECTURES.get(name)
    if found is None:
        raise RtstyleError(f"unknown architecture {name!r} (rtstyle knows {', '.join(ARCHITECTURES)})")
    return found
