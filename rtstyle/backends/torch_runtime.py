"""The PyTorch runtime (CPU and CUDA).

The CUDA fast path: fp16 (default) or bf16, channels_last (default; Tensor Cores read NHWC
without transposes), and opt-in CUDA graphs for fixed shapes (one replay instead of ~60
kernel launches a frame) and `torch.compile`; both for image-only networks.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..errors import RtstyleError
from ..models.formats import InputSpec
from ..capabilities import PRECISIONS, torch_dtype
from .tensor_runtime import TensorRuntime

COMPILERS = ("inductor", "tensorrt")  # torch.compile backends: PyTorch's own, torch-tensorrt's

class CudaGraphs:
    """Calls `fn` through one captured CUDA graph per input shape, for the last `MAX_SHAPES` shapes.

    A width-32 TransformerNet is ~60 small kernels; at 1080p on an H100 their launch
    cost is a sizeable part of the ~1 ms of work, and a graph replay removes it. The
    input is copied into the graph's own buffer; the output is the graph's buffer, so
    callers must consume it (as `forward` does, on the same stream) before the next call.

    Each graph holds a private memory pool the size of its activations, so graphs of shapes
    no longer seen (live's quality ladder changes the size) are reset, freeing it. Capture is
    thread-local: another thread using CUDA meanwhile (live loads the next style onto the GPU)
    neither breaks the capture nor gets into it.
    """

    MAX_SHAPES = 4

    def __init__(self, fn):
        self.fn = fn
        self._graphs: OrderedDict[tuple, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = OrderedDict()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape), x.dtype, x.stride())
        entry = self._graphs.pop(key, None) or self._capture(x)
        self._graphs[key] = entry  # the most recent last
        while len(self._graphs) > self.MAX_SHAPES:
            self._graphs.popitem(last=False)[1][0].reset()
        graph, static_in, static_out = entry
        static_in.copy_(x)
        graph.replay()
        return static_out

    def _capture(self, x: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        static_in = x.clone()
        side = torch.cuda.Stream(x.device)
        side.wait_stream(torch.cuda.current_stream(x.device))
        with torch.cuda.stream(side):  # warm-up outside capture: cuDNN picks its algorithms here
            for _ in range(2):
                self.fn(static_in)
        torch.cuda.current_stream(x.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            static_out = self.fn(static_in)
        return graph, static_in, static_out


class TorchRuntime(TensorRuntime):
    name = "torch"

    def __init__(self, model: nn.Module, spec: InputSpec, device: str | None = None, precision: str | None = None, *,
                 channels_last: bool | None = None, cuda_graphs: bool | None = None, compile: str | None = None):
        super().__init__(spec)
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
        self.model = model.to(self._device, self.dtype, memory_format=fmt)
        self.compiled = compile
        core = _compiled(self.model, compile, self._precision) if compile else self.model
        self.cuda_graphs = bool(cuda_graphs)
        if self.cuda_graphs and not cuda:
            raise RtstyleError("CUDA graphs need a CUDA GPU")
        self._call = CudaGraphs(core) if self.cuda_graphs else core

    @property
    def precision(self) -> str:
        return self._precision

    def network(self, x: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The module called with the other inputs by name (graphs and compiled calls take the image only)."""
        return self._call(x, **inputs) if inputs else self._call(x)


def _compiled(model: torch.nn.Module, compiler: str, precision: str):
    """`torch.compile` with PyTorch's inductor, or torch-tensorrt's backend (engines cached on disk)."""
    if compiler not in COMPILERS:
        raise RtstyleError(f"--compile {compiler!r}: choose one of {', '.join(COMPILERS)}")
    if compiler == "inductor":
        return torch.compile(model, dynamic=False)
    from ..compile.torch_trt import compile_options, require_torch_tensorrt

    require_torch_tensorrt()
    return torch.compile(model, backend="torch_tensorrt", dynamic=False, options=compile_options(precision))
