"""The ONNX Runtime runtime: CPU execution provider, CUDA where onnxruntime-gpu has it.

It runs one ONNX file: an imported ONNX style as it is, a PyTorch style's cached
dynamic-shape export, or a network's shared export fed the preset's condition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..errors import RtstyleError
from ..models.formats import InputSpec
from .color import to_uint8
from .runtime import Inputs, Runtime


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Measured on 2 CPU cores (docs/benchmarks/history.md, issue #7): full graph optimisation (starry
    at 640x360: 135 ms against 181 with basic), the memory arena on (off: 162 ms); `threads`
    intra-op threads (default: one per core)."""
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # Idle intra-op threads spin by default, taking CPU from the decoder and encoder
    # threads of the pipeline; blocking instead keeps convert within 10% of the bare model.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


class OnnxRuntime(Runtime):
    name = "onnxruntime"

    def __init__(self, path: Path, spec: InputSpec, device: str | None = None, precision: str | None = None,
                 threads: int | None = None):
        super().__init__(spec)
        available = ort.get_available_providers()
        want_cuda = device is None or device.startswith("cuda")
        providers = ["CUDAExecutionProvider"] if want_cuda and "CUDAExecutionProvider" in available else []
        providers.append("CPUExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(path), session_options(threads), providers=providers)
        except Exception as exc:
            raise RtstyleError(f"{path}: ONNX Runtime cannot load it: {str(exc).splitlines()[0]}") from None
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.float16 if "float16" in inp.type else np.float32
        if precision and precision != self.precision:
            raise RtstyleError(f"--precision {precision}: {path.name} is an {self.precision} model and ONNX Runtime "
                               f"runs it as it is (rtstyle export --fp16 makes fp16 files)")
        self.nhwc = spec.layout == "NHWC"
        self._batch1 = inp.shape[0] == 1

    @property
    def device(self) -> str:
        return "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"

    @property
    def precision(self) -> str:
        return "fp16" if self.input_dtype == np.float16 else "fp32"

    def run(self, batch: np.ndarray, inputs: Inputs) -> np.ndarray:
        if self._batch1 and len(batch) > 1:
            return np.concatenate([self.run(f[None], inputs) for f in batch])
        scale = self.spec.scale
        x = batch.astype(self.input_dtype) * self.input_dtype(scale)
        if not self.nhwc:
            x = x.transpose(0, 3, 1, 2)
        feeds = {self.input_name: np.ascontiguousarray(x)} | {k: v.astype(self.input_dtype) for k, v in inputs.items()}
        y = self.session.run(None, feeds)[0].astype(np.float32)
        if not self.nhwc:
            y = y.transpose(0, 2, 3, 1)
        return to_uint8(y / scale)
