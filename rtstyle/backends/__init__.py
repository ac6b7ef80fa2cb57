"""One forward for every format: `create_backend(style, "auto" | "torch" | "onnxruntime" | "tensorrt")`."""

from __future__ import annotations

import importlib.util

import torch

from ..errors import RtstyleError
from ..models.magenta import STYLE_VECTOR
from ..runtimes import BACKEND_NAMES, check_request
from ..models.registry import PRESET_ARCHITECTURES, Style, is_condition, needs_style_image
from .adain import ARCHITECTURE as ADAIN, AdaINOnnxBackend, AdaINTorchBackend
from .arbitrary import ARCHITECTURE as ARBITRARY, ArbitraryStyleBackend
from .base import Backend, StyleImages
from .onnx_backend import OnnxBackend
from .preset import PresetOnnxBackend
from .style_vector import StyleVectorBackend, StyleVectorOnnxBackend
from .torch_backend import TensorBackend, TorchBackend



def tensorrt_available() -> bool:
    return importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


def auto_backend(style: Style) -> str:
    """On a GPU: TensorRT where it is installed, else the CUDA fast path (PyTorch) or ONNX Runtime for
    ONNX files. On a CPU: ONNX Runtime for presets and ONNX files, PyTorch for other weights.
    External arbitrary-style pairs run on ONNX Runtime, AdaIN on PyTorch."""
    if style.meta.architecture == ARBITRARY:
        return "onnxruntime"
    if style.meta.architecture == ADAIN or (_any_image(style) and torch.cuda.is_available()):
        return "torch"
    if tensorrt_available() and not _any_image(style):
        return "tensorrt"
    if style.meta.architecture in PRESET_ARCHITECTURES and not torch.cuda.is_available():
        return "onnxruntime"  # 4-5x PyTorch's speed on a CPU for these networks (docs/benchmarks/history.md)
    return "onnxruntime" if style.format == "onnx" else "torch"


def _any_image(style: Style) -> bool:
    """The built-in arbitrary network: its style vector comes from --style-image."""
    return style.meta.architecture == STYLE_VECTOR and needs_style_image(style)


def create_backend(style: Style, backend: str = "auto", device: str | None = None,
                   precision: str | None = None, **options) -> Backend:
    """The backend for `style`; `options` go to the backend (e.g. `cuda_graphs`, `compile` for torch)."""
    if backend == "auto":
        backend = auto_backend(style)
    if backend not in BACKEND_NAMES:
        raise RtstyleError(f"unknown backend {backend!r} (choose from auto, {', '.join(BACKEND_NAMES)})")
    check_request(backend, precision, options)
    if style.meta.architecture == ARBITRARY:
        if backend != "onnxruntime":
            raise RtstyleError(f"style {style.name!r} is an arbitrary-style ONNX pair: it runs on onnxruntime")
        return ArbitraryStyleBackend(style, device=device, precision=precision)
    if _any_image(style):
        if backend == "tensorrt":
            raise RtstyleError(f"style {style.name!r} with --style-image runs on torch or onnxruntime (a preset runs "
                               f"on any backend)")
        cls = StyleVectorBackend if backend == "torch" else StyleVectorOnnxBackend
        return cls(style, device=device, precision=precision, **options)
    if style.meta.architecture == ADAIN:
        if backend == "tensorrt":
            from .tensorrt_backend import AdaINTensorRTBackend

            return AdaINTensorRTBackend(style, device=device, precision=precision, **options)
        if backend == "torch":
            return AdaINTorchBackend(style, device=device, precision=precision, **options)
        return AdaINOnnxBackend(style, device=device, precision=precision)
    if backend == "torch" and style.format == "onnx":
        raise RtstyleError(f"style {style.name!r} is an ONNX model: use --backend onnxruntime, tensorrt or auto")
    if backend == "tensorrt":
        from .tensorrt_backend import TensorRTBackend  # needs the compile package only here

        return TensorRTBackend(style, device=device, precision=precision, **options)
    if backend == "onnxruntime" and is_condition(style):
        return PresetOnnxBackend(style, device=device, precision=precision, **options)
    cls = TorchBackend if backend == "torch" else OnnxBackend
    return cls(style, device=device, precision=precision, **options)


__all__ = ["AdaINOnnxBackend", "AdaINTorchBackend", "ArbitraryStyleBackend", "BACKEND_NAMES", "Backend",
           "OnnxBackend", "PresetOnnxBackend", "StyleImages", "StyleVectorBackend", "StyleVectorOnnxBackend",
           "TensorBackend", "TorchBackend", "auto_backend", "create_backend", "tensorrt_available"]
