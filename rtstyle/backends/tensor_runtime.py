"""Runtimes whose network takes torch tensors: PyTorch's and TensorRT's share the device path."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch

from ..models.formats import InputSpec
from .runtime import Inputs, Runtime
from .tensor_ops import from_network, to_network


class TensorRuntime(Runtime):
    """A runtime whose network takes torch tensors on `self._device` at `self.dtype`.

    `forward` is the device-side path: uint8 frames already on the device in, uint8 frames out,
    converted there (`tensor_ops`). The pipeline's CUDA-streams runner calls it (through
    `Backend.forward`), so frames never round-trip through the host inside it.
    """

    _device: torch.device
    dtype: torch.dtype
    channels_last: bool = False
    takes_tensors = True

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
