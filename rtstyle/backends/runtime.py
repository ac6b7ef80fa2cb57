"""Runtimes: what executes a network (PyTorch, ONNX Runtime, TensorRT), whatever model it is.

A runtime makes one network call on frames the network accepts as they are: NHWC uint8 in,
NHWC uint8 out, converted to and from the network's layout and range (`InputSpec`). The
model's inputs besides the image (a preset's condition, AdaIN's statistics: its adapter's
`inputs`) arrive by name as numpy arrays; each runtime feeds them its own way (keyword
arguments, session feeds, engine bindings). Everything around the call is
`transform.stylize`, applied by `Backend`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from ..models.formats import InputSpec
from .tensor_ops import from_network, to_network

Inputs = dict[str, np.ndarray]


class Runtime(ABC):
    name: str = "base"

    def __init__(self, spec: InputSpec):
        self.spec = spec

    @property
    @abstractmethod
    def device(self) -> str:
        """Where the network runs: "cpu", "cuda:0"..."""

    @property
    @abstractmethod
    def precision(self) -> str:
        """"fp32", "fp16" or "bf16"."""

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        """(height, width) where the network (or an engine built for one shape) takes only one size."""
        return self.spec.fixed_size

    def prepare(self, shapes: list[tuple[int, int, int, int]]) -> None:
        """Get ready for calls with these NCHW shapes (the usual one first). Only runtimes that
        compile for shapes (TensorRT) do anything."""

    @abstractmethod
    def run(self, batch: np.ndarray, inputs: Inputs) -> np.ndarray:
        """Stylize an (N, H, W, 3) uint8 batch of a size the network accepts as is."""


class TensorRuntime(Runtime):
    """A runtime whose network takes torch tensors on `self._device` at `self.dtype`.

    `forward` is the device-side path: uint8 frames already on the device in, uint8 frames out,
    converted there (`tensor_ops`). The pipeline's CUDA-streams runner calls it (through
    `Backend.forward`), so frames never round-trip through the host inside it.
    """

    _device: torch.device
    dtype: torch.dtype
    channels_last: bool = False

    def __init__(self, spec: InputSpec):
        super().__init__(spec)
        self._uploaded: dict[str, tuple[np.ndarray, torch.Tensor]] = {}

    @property
    def device(self) -> str:
        return str(self._device)

    @abstractmethod
    def network(self, x: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(N, 3, H, W) in the network's range and dtype, plus the other inputs -> the network's output."""

    def input_dtype(self, name: str) -> torch.dtype:
        """The dtype the network wants for input `name`."""
        return self.dtype

    @torch.inference_mode()
    def forward(self, frames: torch.Tensor, inputs: Inputs) -> torch.Tensor:
        """(N, H, W, 3) uint8 on this device, of a size the network accepts -> the same, stylized."""
        scale = self.spec.scale
        x = to_network(frames, self.dtype, scale, channels_last=self.channels_last)
        return from_network(self.network(x, self.device_inputs(inputs)), scale)

    def run(self, batch: np.ndarray, inputs: Inputs) -> np.ndarray:
        return self.forward(torch.from_numpy(batch).to(self._device), inputs).cpu().numpy()

    def device_inputs(self, inputs: Inputs) -> dict[str, torch.Tensor]:
        """`inputs` as device tensors, each uploaded once while the adapter holds the same array
        (a style's statistics stay put for thousands of frames; TensorRT reads them by address)."""
        out = {}
        for name, value in inputs.items():
            held = self._uploaded.get(name)
            if held is None or held[0] is not value:
                held = self._uploaded[name] = (value, torch.from_numpy(value).to(self._device, self.input_dtype(name)).contiguous())
            out[name] = held[1]
        return out
