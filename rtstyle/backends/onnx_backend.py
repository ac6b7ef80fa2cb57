"""ONNX Runtime backend: CPU execution provider, CUDA where onnxruntime-gpu has it.

Runs imported ONNX styles directly; PyTorch styles are exported once to a cached
dynamic-shape ONNX file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..errors import RtstyleError
from ..models.export import cached_onnx
from ..models.registry import Style
from .base import Backend
from .color import to_uint8


def _fixed_dims(shape: list) -> tuple[int, int] | None:
    return (shape[0], shape[1]) if all(isinstance(d, int) and d > 0 for d in shape) else None


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


class OnnxBackend(Backend):
    name = "onnxruntime"

    def __init__(self, style: Style, device: str | None = None, precision: str | None = None,
                 threads: int | None = None):
        super().__init__(style)
        path = self._onnx_path()
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
        self.nhwc = self.meta.layout == "NHWC"
        spatial = inp.shape[1:3] if self.nhwc else inp.shape[2:4]
        self._fixed = _fixed_dims(list(spatial))
        self._batch1 = inp.shape[0] == 1
        self.scale = self.meta.input_scale

    def _onnx_path(self) -> Path:
        """The file the session runs: the style's own, or its cached export."""
        return self.style.path if self.style.format == "onnx" else cached_onnx(self.style)

    @property
    def device(self) -> str:
        return "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"

    @property
    def precision(self) -> str:
        return "fp16" if self.input_dtype == np.float16 else "fp32"

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        return self._fixed

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self._batch1 and len(batch) > 1:
            return np.concatenate([self._run(f[None]) for f in batch])
        x = batch.astype(self.input_dtype) * self.input_dtype(self.scale)
        if not self.nhwc:
            x = x.transpose(0, 3, 1, 2)
        y = self.session.run(None, self._feeds(np.ascontiguousarray(x), batch))[0].astype(np.float32)
        if not self.nhwc:
            y = y.transpose(0, 2, 3, 1)
        return to_uint8(y / self.scale)

    def _feeds(self, x: np.ndarray, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The session's inputs for network-ready `x` (made from the uint8 `batch`)."""
        return {self.input_name: x}
