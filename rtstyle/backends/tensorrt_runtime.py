"""The TensorRT runtime: a cached engine run on torch tensors that never leave the GPU.

The engine comes from the engine cache (built on first use from the style's ONNX
export, or from an ONNX style as it is). Its execution context runs on its own CUDA
stream, ordered after and before the caller's stream with events, so it composes
with the pipeline's copy/compute streams. Input and output buffers are allocated
once per shape and bound by address: frames arrive as uint8 on the device (the
pipeline's pinned upload), are converted there, and leave as uint8. The model's other
inputs (AdaIN's statistics and alpha) are fixed-size inputs bound by address, so one engine
serves every style image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..compile.cache import EngineCache
from ..compile.profiles import Profile, Shape, onnx_input, profile_for
from ..compile.tensorrt_build import BuildPlan, engine_for, require_tensorrt
from ..errors import RtstyleError
from ..models.formats import InputSpec
from .runtime import TensorRuntime


class TensorRTRuntime(TensorRuntime):
    name = "tensorrt"

    def __init__(self, onnx_file: Callable[[], Path], spec: InputSpec, device: str | None = None,
                 precision: str | None = None, *, profile: Profile | None = None, cache: EngineCache | None = None):
        """`onnx_file()` gives the network's ONNX file; it is asked for only once TensorRT and a GPU
        are there (making a style's export takes a while)."""
        super().__init__(spec)
        trt = require_tensorrt()
        self._device = torch.device(device or "cuda")
        if self._device.type != "cuda":
            raise RtstyleError("the TensorRT backend runs on a CUDA GPU only")
        self._precision = precision or "fp16"
        onnx_path = onnx_file()
        self.input_name, dims = onnx_input(onnx_path)
        self.profile = profile or profile_for(dims, stride=spec.stride)
        plan = BuildPlan.from_onnx(onnx_path, self.profile, self._precision)
        self.engine_path, _ = engine_for(plan, cache or EngineCache())
        self._trt = trt
        self.trt_runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.trt_runtime.deserialize_cuda_engine(Path(self.engine_path).read_bytes())
        if self.engine is None:
            raise RtstyleError(f"{self.engine_path}: TensorRT cannot load this engine (delete it to rebuild)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.output_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self.dtype = _torch_dtype(trt, self.engine.get_tensor_dtype(self.input_name))
        self.stream = torch.cuda.Stream(self._device)
        self._buffers: dict[Shape, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        return self.profile.opt[2:] if self.profile.static else self.spec.fixed_size

    def _bind(self, shape: Shape) -> tuple[torch.Tensor, torch.Tensor]:
        """Device buffers for `shape`, allocated once and bound to the context."""
        if shape not in self._buffers:
            if not self.profile.covers(shape):
                raise RtstyleError(f"input {'x'.join(map(str, shape))} is outside the engine's profile "
                                   f"{self.profile}: rebuild with rtstyle build-engine --min/--max")
            self._set_shape(shape)
            out_shape = tuple(self.context.get_tensor_shape(self.output_name))
            out_dtype = _torch_dtype(self._trt, self.engine.get_tensor_dtype(self.output_name))
            self._buffers[shape] = (torch.empty(shape, dtype=self.dtype, device=self._device),
                                    torch.empty(out_shape, dtype=out_dtype, device=self._device))
        return self._buffers[shape]

    def _set_shape(self, shape: Shape) -> None:
        """TensorRT 10 answers a shape it cannot take with False (and a log line), not an exception:
        running on would read the previous shape's bindings."""
        if not self.context.set_input_shape(self.input_name, shape):
            raise RtstyleError(f"TensorRT refused input {'x'.join(map(str, shape))} for {self.input_name!r} "
                               f"(engine profile {self.profile}): rebuild with rtstyle build-engine --min/--max")

    def input_dtype(self, name: str) -> torch.dtype:
        return _torch_dtype(self._trt, self.engine.get_tensor_dtype(name))

    def network(self, x: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        shape = tuple(x.shape)
        inp, out = self._bind(shape)  # type: ignore[arg-type]
        inp.copy_(x)
        self._set_shape(shape)
        self.context.set_tensor_address(self.input_name, inp.data_ptr())
        for name, tensor in inputs.items():  # held by `device_inputs` while the engine reads them
            self.context.set_tensor_address(name, tensor.data_ptr())
        self.context.set_tensor_address(self.output_name, out.data_ptr())
        caller = torch.cuda.current_stream(self._device)
        self.stream.wait_stream(caller)  # the input copy above is on the caller's stream
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RtstyleError("TensorRT failed to run the engine")
        caller.wait_stream(self.stream)
        return out


def _torch_dtype(trt, dtype) -> torch.dtype:
    return {trt.float32: torch.float32, trt.float16: torch.float16, trt.bfloat16: torch.bfloat16}[dtype]
