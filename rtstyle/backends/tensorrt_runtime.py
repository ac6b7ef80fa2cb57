"""The TensorRT runtime: a cached engine run on torch tensors that never leave the GPU.

The engine is chosen for the job: `prepare` gets the shapes the job will feed the network
(its frame size after --lite or a preset's stroke size, its --batch; `Backend.network_shapes`),
and the runtime loads a cached engine whose profile takes them, or builds one and says so
first. Without `prepare` the first call chooses: the default 360p-1080p range, widened to
take that call. A later shape outside the profile widens it (another engine, with a
warning); a profile the caller pinned (`profile=`) is never widened, and a shape outside it is
a one-line error. Swapping engines waits for the old one's work, and calls and swaps are
locked against each other (the service shares one runtime between clients).

The engine runs on its own CUDA stream, ordered after and before the caller's stream with
events, so it composes with the pipeline's copy/compute streams; every TensorRT call is made
with the runtime's device current, so `cuda:1` builds and runs on GPU 1. Input and output
buffers are allocated once per shape and bound by address: frames arrive as uint8 on the
device, are converted there, and leave as uint8. The model's other inputs (AdaIN's
statistics and alpha) are fixed-size inputs bound by address, so one engine serves every
style image.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable

import onnx
import torch

from ..compile.cache import EngineCache
from ..compile.profiles import (DEFAULT_MAX, DEFAULT_MIN, Profile, Shape, fixed_dims, onnx_input,
                                profile_covering, shape_text)
from ..compile.tensorrt_build import BuildPlan, engine_for, require_tensorrt
from ..errors import RtstyleError
from ..models.formats import InputSpec
from .tensor_runtime import TensorRuntime

log = logging.getLogger("rtstyle")
ONNX_DTYPES = {onnx.TensorProto.FLOAT: torch.float32, onnx.TensorProto.FLOAT16: torch.float16,
               onnx.TensorProto.BFLOAT16: torch.bfloat16}


class TensorRTRuntime(TensorRuntime):
    name = "tensorrt"

    def __init__(self, onnx_file: Callable[[], Path], spec: InputSpec, device: str | None = None,
                 precision: str | None = None, *, profile: Profile | None = None, cache: EngineCache | None = None):
        """`onnx_file()` gives the network's ONNX file; it is asked for only once TensorRT and a GPU
        are there (making a style's export takes a while). `profile` pins the engine's shapes."""
        super().__init__(spec)
        self._trt = require_tensorrt()
        self._device = torch.device(device or "cuda")
        if self._device.type != "cuda":
            raise RtstyleError("the TensorRT backend runs on a CUDA GPU only")
        self._precision = precision or "fp16"
        self.onnx_path = onnx_file()
        self.input_name, self.dims = onnx_input(self.onnx_path)
        self.dtype = onnx_dtype(self.onnx_path, self.input_name)
        self.pinned = profile
        self._plan: BuildPlan | None = None  # the first made; others differ in their profile only
        self.cache = cache or EngineCache()
        self.profile: Profile | None = None  # of the loaded engine
        self.engine = self.context = None
        self.trt_runtime = self._trt.Runtime(self._trt.Logger(self._trt.Logger.WARNING))
        self.stream = torch.cuda.Stream(self._device)
        self._buffers: dict[Shape, tuple[torch.Tensor, torch.Tensor]] = {}
        self._lock = threading.RLock()  # one engine swap or call at a time
        if profile:
            self._load(profile)

    @property
    def precision(self) -> str:
        return self._precision

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        if self.pinned and self.pinned.static:
            return self.pinned.opt[2:]
        h, w = fixed_dims(self.dims)[2:]
        return (h, w) if h and w else self.spec.fixed_size

    def prepare(self, shapes: list[Shape]) -> None:
        self._ensure(shapes, for_job=True)

    def profile_for(self, shapes: list[Shape], for_job: bool) -> Profile:
        """The profile an engine needs to take `shapes` as well as what the loaded one takes: the
        job's own shapes, or the default range widened to a call made without a job."""
        if self.pinned:
            outside = next((s for s in shapes if not self.pinned.covers(s)), None)
            if outside:
                raise RtstyleError(f"input {shape_text(outside)} is outside the engine's profile {self.pinned}: "
                                   f"rebuild it with rtstyle build-engine --min/--max, or leave the profile to the job")
            return self.pinned
        if self.profile:
            shapes = [self.profile.opt, *shapes, self.profile.min, self.profile.max]
        elif not for_job and not self.fixed_size:
            n = shapes[0][0]
            shapes = [*shapes, (n, 3, *DEFAULT_MIN[2:]), (n, 3, *DEFAULT_MAX[2:])]
        return profile_covering(self.dims, shapes, self.spec.stride)

    def has_engine_for(self, shapes: list[Shape]) -> bool:
        """Whether an engine taking `shapes` is loaded or cached (no build needed)."""
        if self.profile and all(self.profile.covers(s) for s in shapes):
            return True
        try:
            plan = self.plan(self.profile_for(shapes, for_job=True))
        except RtstyleError:  # outside a pinned profile, or shapes the model cannot take
            return False
        return self.cache.covering(plan.key(self._device)) is not None

    def plan(self, profile: Profile) -> BuildPlan:
        """The build plan for `profile`; the ONNX graph is read for it once."""
        if self._plan is None:
            self._plan = BuildPlan.from_onnx(self.onnx_path, profile, self._precision)
        return replace(self._plan, profile=profile)

    def _ensure(self, shapes: list[Shape], for_job: bool) -> None:
        with self._lock:
            outside = [s for s in shapes if not (self.profile and self.profile.covers(s))]
            if not outside:
                return
            profile = self.profile_for(shapes, for_job)
            if self.profile:
                log.warning(f"TensorRT: input {shape_text(outside[0])} is outside the engine's profile "
                            f"{self.profile}: loading one for {profile}")
                self.stream.synchronize()  # the old context's work ends before it goes
            self._load(profile)

    def _load(self, profile: Profile) -> None:
        """Load an engine taking `profile`: a cached one built the same way (a wider one will do),
        else one built now (`engine_for` says so first: it takes a minute or more)."""
        plan = self.plan(profile)
        with torch.cuda.device(self._device):
            found = self.cache.covering(plan.key(self._device))
            path, profile = found if found else (engine_for(plan, self.cache, device=self._device)[0], profile)
            engine = self.trt_runtime.deserialize_cuda_engine(Path(path).read_bytes())
            if engine is None:
                raise RtstyleError(f"{path}: TensorRT cannot load this engine (delete it to rebuild)")
            self.context = engine.create_execution_context()
        self.engine, self.engine_path, self.profile = engine, path, profile
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        self.output_name = next(n for n in names if engine.get_tensor_mode(n) == self._trt.TensorIOMode.OUTPUT)
        self._buffers = {}

    def _bind(self, shape: Shape) -> tuple[torch.Tensor, torch.Tensor]:
        """Device buffers for `shape`, allocated once per engine and bound to the context."""
        if shape not in self._buffers:
            self._set_shape(shape)
            out_shape = tuple(self.context.get_tensor_shape(self.output_name))
            self._buffers[shape] = (torch.empty(shape, dtype=self.input_dtype(self.input_name), device=self._device),
                                    torch.empty(out_shape, dtype=self.input_dtype(self.output_name),
                                                device=self._device))
        return self._buffers[shape]

    def _set_shape(self, shape: Shape) -> None:
        """TensorRT 10 answers a shape it cannot take with False (and a log line), not an exception:
        running on would read the previous shape's bindings."""
        if not self.context.set_input_shape(self.input_name, shape):
            raise RtstyleError(f"TensorRT refused input {shape_text(shape)} for {self.input_name!r} "
                               f"(engine profile {self.profile}): rebuild with rtstyle build-engine --min/--max")

    def input_dtype(self, name: str) -> torch.dtype:
        return _torch_dtype(self._trt, self.engine.get_tensor_dtype(name))

    def forward(self, frames: torch.Tensor, inputs) -> torch.Tensor:
        n, h, w, _ = frames.shape
        with self._lock:
            self._ensure([(n, 3, h, w)], for_job=False)  # the engine decides the other inputs' dtypes
            with torch.cuda.device(self._device):
                return super().forward(frames, inputs)

    def network(self, x: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """One engine run between the caller's stream and the engine's. The bound buffers are shared
        by every caller (the service runs clients on their own streams), so the input is written
        only after the engine's earlier runs, and the output leaves as a copy that the next run
        waits for."""
        shape = tuple(x.shape)
        inp, out = self._bind(shape)  # type: ignore[arg-type]
        caller = torch.cuda.current_stream(self._device)
        caller.wait_stream(self.stream)  # earlier runs are done with the buffers
        inp.copy_(x)
        self._set_shape(shape)
        self.context.set_tensor_address(self.input_name, inp.data_ptr())
        for name, tensor in inputs.items():  # held by `device_inputs` while the engine reads them
            self.context.set_tensor_address(name, tensor.data_ptr())
        self.context.set_tensor_address(self.output_name, out.data_ptr())
        self.stream.wait_stream(caller)  # the input copy above is on the caller's stream
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RtstyleError("TensorRT failed to run the engine")
        caller.wait_stream(self.stream)
        result = out.clone()
        self.stream.wait_stream(caller)  # the next run overwrites `out` only after this copy
        return result


def onnx_dtype(path: Path, name: str) -> torch.dtype:
    """The torch dtype of ONNX input `name` (what the frames are converted to before the engine)."""
    graph = onnx.load(str(path), load_external_data=False).graph
    elem = next(i.type.tensor_type.elem_type for i in graph.input if i.name == name)
    if elem not in ONNX_DTYPES:
        raise RtstyleError(f"{path}: input {name!r} has ONNX type {elem}; style networks take float16/32")
    return ONNX_DTYPES[elem]


def _torch_dtype(trt, dtype) -> torch.dtype:
    return {trt.float32: torch.float32, trt.float16: torch.float16, trt.bfloat16: torch.bfloat16}[dtype]
