"""One forward for every format: `create_backend(style, "auto" | "torch" | "onnxruntime")`."""

from __future__ import annotations

from ..errors import RtstyleError
from ..models.registry import Style
from .base import Backend
from .onnx_backend import OnnxBackend
from .torch_backend import TorchBackend

BACKENDS: dict[str, type[Backend]] = {"torch": TorchBackend, "onnxruntime": OnnxBackend}


def create_backend(style: Style, backend: str = "auto", device: str | None = None,
                   precision: str | None = None) -> Backend:
    """The backend for `style`. "auto": PyTorch for PyTorch weights, ONNX Runtime for ONNX files."""
    if backend == "auto":
        backend = "onnxruntime" if style.format == "onnx" else "torch"
    if backend not in BACKENDS:
        raise RtstyleError(f"unknown backend {backend!r} (choose from auto, {', '.join(BACKENDS)})")
    if backend == "torch" and style.format == "onnx":
        raise RtstyleError(f"style {style.name!r} is an ONNX model: use --backend onnxruntime or auto")
    return BACKENDS[backend](style, device=device, precision=precision)


__all__ = ["BACKENDS", "Backend", "OnnxBackend", "TorchBackend", "create_backend"]
