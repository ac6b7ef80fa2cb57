"""Runtimes: what executes a network (PyTorch, ONNX Runtime, TensorRT), whatever model it is.

A runtime makes one network call on frames the network accepts as they are: NHWC uint8 in,
NHWC uint8 out, converted to and from the network's layout and range (`InputSpec`). The
model's inputs besides the image (a preset's condition, AdaIN's statistics: its adapter's
`inputs`) arrive by name as numpy arrays; each runtime feeds them its own way (keyword
arguments, session feeds, engine bindings). Everything around the call is
`transform.stylize`, applied by `Backend`. Runtimes on torch tensors share `TensorRuntime`
(`tensor_runtime.py`), loaded with torch only where one runs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..models.formats import InputSpec

Inputs = dict[str, np.ndarray]


class Runtime(ABC):
    name: str = "base"
    takes_tensors: bool = False  # `forward` runs torch tensors where they are (`TensorRuntime`)

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
