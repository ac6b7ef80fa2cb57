"""Backends whose network takes torch tensors, and the PyTorch backend itself.

`TensorBackend.forward` is the device-side path every such backend shares: uint8
frames already on the device in, uint8 frames out, with conversion on the device
(`tensor_ops`). Subclasses supply only `_core`, the network on an NCHW tensor. The
pipeline's CUDA-streams runner calls `forward` directly, so frames never round-trip
through the host inside it.

The PyTorch backend's CUDA fast path: fp16 (default) or bf16, channels_last (default;
Tensor Cores read NHWC without transposes), and opt-in CUDA graphs for fixed shapes
(one replay instead of ~60 kernel launches a frame) and `torch.compile`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import RtstyleError
from ..models.registry import Style
from ..runtimes import PRECISIONS, torch_dtype
from .base import Backend
from .tensor_ops import from_network, to_network
from .transform import stylize

COMPILERS = ("inductor", "tensorrt")  # torch.compile backends: PyTorch's own, torch-tensorrt's


class TensorBackend(Backend):
    """A backend with a torch-tensor core on `self._device` at `self.dtype`."""

    _device: torch.device
    dtype: torch.dtype
    channels_last: bool = False

    @property
    def device(self) -> str:
        return str(self._device)

    def _core(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in the network's range and dtype -> the network's output."""
        raise NotImplementedError

    @torch.inference_mode()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) uint8 of any size on this device -> the same, stylized: the host path's
        `transform.stylize`, on the device."""
        return stylize(frames, self, self._forward)

    @torch.inference_mode()
    def _forward(self, frames: torch.Tensor) -> torch.Tensor:
        scale = self.meta.input_scale
        return from_network(self._core(to_network(frames, self.dtype, scale, channels_last=self.channels_last)),
                            scale)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """The host path: `Backend.__call__` has done the rest (`transform.stylize`)."""
        return self._forward(torch.from_numpy(batch).to(self._device)).cpu().numpy()


class CudaGraphs:
    """Calls `fn` through one captured CUDA graph per input shape.

    A width-32 TransformerNet is ~60 small kernels; at 1080p on an H100 their launch
    cost is a sizeable part of the ~1 ms of work, and a graph replay removes it. The
    input is copied into the graph's own buffer; the output is the graph's buffer, so
    callers must consume it (as `forward` does, on the same stream) before the next call.
    """

    def __init__(self, fn):
        self.fn = fn
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape), x.dtype, x.stride())
        entry = self._graphs.get(key)
        if entry is None:
            static_in = x.clone()
            side = torch.cuda.Stream(x.device)
            side.wait_stream(torch.cuda.current_stream(x.device))
            with torch.cuda.stream(side):  # warm-up outside capture: cuDNN picks its algorithms here
                for _ in range(2):
                    self.fn(static_in)
            torch.cuda.current_stream(x.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = self.fn(static_in)
            entry = self._graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = entry
        static_in.copy_(x)
        graph.replay()
        return static_out


class TorchBackend(TensorBackend):
    name = "torch"

    def __init__(self, style: Style, device: str | None = None, precision: str | None = None, *,
                 channels_last: bool | None = None, cuda_graphs: bool | None = None, compile: str | None = None):
        super().__init__(style)
        self._device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        cuda = self._device.type == "cuda"
        self._precision = precision or ("fp16" if cuda else "fp32")
        if self._precision not in PRECISIONS:
            raise RtstyleError(f"precision {self._precision!r}: choose one of {', '.join(PRECISIONS)}")
        if not cuda and self._precision != "fp32":
            raise RtstyleError(f"precision {self._precision} needs a CUDA GPU; the CPU backend runs fp32")
        self.dtype = torch_dtype(self._precision)
        self.channels_last = cuda if channels_last is None else channels_last
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model = style.build().to(self._device, self.dtype, memory_format=fmt)
        self.compiled = compile
        core = self.model
        if compile:
            core = _compiled(self.model, compile, self._precision)
        self.cuda_graphs = bool(cuda_graphs)
        if self.cuda_graphs and not cuda:
            raise RtstyleError("CUDA graphs need a CUDA GPU")
        self._call = CudaGraphs(core) if self.cuda_graphs else core

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def stride(self) -> int:
        return getattr(self.model, "stride", 1)

    def _core(self, x: torch.Tensor) -> torch.Tensor:
        return self._call(x)


def _compiled(model: torch.nn.Module, compiler: str, precision: str):
    """`torch.compile` with PyTorch's inductor, or torch-tensorrt's backend (engines cached on disk)."""
    if compiler not in COMPILERS:
        raise RtstyleError(f"--compile {compiler!r}: choose one of {', '.join(COMPILERS)}")
    if compiler == "inductor":
        return torch.compile(model, dynamic=False)
    from ..compile.torch_trt import compile_options, require_torch_tensorrt

    require_torch_tensorrt()
    return torch.compile(model, backend="torch_tensorrt", dynamic=False, options=compile_options(precision))
