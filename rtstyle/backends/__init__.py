"""One forward for every format: `create_backend(style, "auto" | "torch" | "onnxruntime" | "tensorrt")`.

A `Backend` is a `Runtime` (what executes the network: `runtime.py`) composed with an
`Adapter` (what the style's family feeds it besides the image); `factory` makes them. The
names that need torch (PyTorch's runtime, AdaIN's adapter) load on first use.
"""

from __future__ import annotations

import importlib

from ..capabilities import BACKEND_NAMES
from .base import Adapter, Backend, StyleImages, Workload
from .factory import (auto_backend, auto_choice, create_backend, lite_cpu_threads, load_backend, onnx_file,
                      tensorrt_available)
from .onnx_runtime import OnnxRuntime
from .preset import Condition
from .runtime import Runtime

_LAZY = {
    "AdaINStats": ".adain",
    "PairVector": ".onnx_pair",
    "StyleVector": ".style_vector",
    "TensorRuntime": ".tensor_runtime",
    "TorchRuntime": ".torch_runtime",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Adapter", "AdaINStats", "BACKEND_NAMES", "Backend", "Condition", "OnnxRuntime", "PairVector", "Runtime",
           "StyleImages", "StyleVector", "TensorRuntime", "TorchRuntime", "Workload", "auto_backend", "auto_choice",
           "create_backend", "lite_cpu_threads", "load_backend", "onnx_file", "tensorrt_available"]
