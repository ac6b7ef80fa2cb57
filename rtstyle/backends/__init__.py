"""One forward for every format: `create_backend(style, "auto" | "torch" | "onnxruntime" | "tensorrt")`."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Callable

import torch

from ..errors import RtstyleError
from ..models.adain import AdaINNet
from ..models.magenta import STYLE_VECTOR
from ..runtimes import BACKEND_NAMES, check_request
from ..models.registry import PRESET_ARCHITECTURES, Style, is_condition, needs_style_image
from .adain import ARCHITECTURE as ADAIN, AdaINStats
from .arbitrary import ARCHITECTURE as ARBITRARY, PairVector
from .base import Adapter, Backend, StyleImages, Workload
from .onnx_runtime import OnnxRuntime
from .preset import Condition, network_onnx
from .runtime import Runtime, TensorRuntime
from .style_vector import StyleVector
from .torch_runtime import TorchRuntime


def tensorrt_available() -> bool:
    return importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


def auto_backend(style: Style) -> str:
    """The backend `--backend auto` runs `style` on (`auto_choice` says why)."""
    return auto_choice(style)[0]


def auto_choice(style: Style) -> tuple[str, str]:
    """(backend, why not TensorRT where it is installed). On a GPU: TensorRT where it is installed,
    else the CUDA fast path (PyTorch) or ONNX Runtime for ONNX files. On a CPU: ONNX Runtime for
    presets and ONNX files, PyTorch for other weights. External arbitrary-style pairs run on ONNX
    Runtime, AdaIN on PyTorch."""
    if style.meta.architecture == ARBITRARY:
        return "onnxruntime", "an arbitrary-style ONNX pair runs on ONNX Runtime only"
    if style.meta.architecture == ADAIN or (_any_image(style) and torch.cuda.is_available()):
        return "torch", "style-image models compute each style's inputs in PyTorch"
    if tensorrt_available() and not _any_image(style):
        return "tensorrt", ""
    if style.meta.architecture in PRESET_ARCHITECTURES and not torch.cuda.is_available():
        # 4-5x PyTorch's speed on a CPU for these networks (docs/benchmarks/history.md)
        return "onnxruntime", "no CUDA GPU"
    return ("onnxruntime" if style.format == "onnx" else "torch"), "no CUDA GPU"


def _any_image(style: Style) -> bool:
    """The built-in arbitrary network: its style vector comes from --style-image."""
    return style.meta.architecture == STYLE_VECTOR and needs_style_image(style)


def create_backend(style: Style, backend: str = "auto", device: str | None = None,
                   precision: str | None = None, **options) -> Backend:
    """The backend for `style`: the runtime `backend` names (auto: `auto_backend`) composed with the
    adapter for the kind of model; `options` go to the runtime (e.g. `cuda_graphs`, `compile` for torch)."""
    if backend == "auto":
        backend = auto_backend(style)
    if backend not in BACKEND_NAMES:
        raise RtstyleError(f"unknown backend {backend!r} (choose from auto, {', '.join(BACKEND_NAMES)})")
    check_request(backend, precision, options)
    architecture = style.meta.architecture
    if architecture == ARBITRARY:
        if backend != "onnxruntime":
            raise RtstyleError(f"style {style.name!r} is an arbitrary-style ONNX pair: it runs on onnxruntime")
        runtime = OnnxRuntime(style.path, style.input_spec, device, precision, **options)
        return Backend(style, runtime, PairVector.load(style, runtime))
    any_image = _any_image(style)
    if (any_image or architecture == ADAIN) and (options.get("cuda_graphs") or options.get("compile")):
        raise RtstyleError("--cuda-graphs and --compile apply to per-style networks and presets, not to "
                           "--style-image models")
    if any_image and backend == "tensorrt":
        raise RtstyleError(f"style {style.name!r} with --style-image runs on torch or onnxruntime (a preset runs "
                           f"on any backend)")
    if backend == "torch" and style.format == "onnx":
        raise RtstyleError(f"style {style.name!r} is an ONNX model: use --backend onnxruntime, tensorrt or auto")
    if backend == "torch" and architecture == ADAIN:
        # NHWC on the CPU too: oneDNN runs these plain VGG-style convolutions faster in it
        # (a 640x360 frame 629 -> 485 ms, a 256 px style image 76 -> 63 ms; docs/benchmarks/history.md)
        options.setdefault("channels_last", True)
    fed_condition = backend == "onnxruntime" and is_condition(style)  # a preset on its network's shared export
    runtime = _runtime(style, backend, device, precision, options, shared_export=any_image or fed_condition)
    if architecture == ADAIN:
        return Backend(style, runtime, AdaINStats(style, _adain_encoder(style, runtime)))
    if any_image:
        return Backend(style, runtime, StyleVector(style))
    if fed_condition:
        return Backend(style, runtime, Condition(style))
    return Backend(style, runtime)


def _runtime(style: Style, backend: str, device: str | None, precision: str | None, options: dict,
             shared_export: bool) -> Runtime:
    """The runtime for `style`'s network; `shared_export`: ONNX Runtime runs the network's one export
    with the condition as an input (presets, style vectors) instead of an export of this style."""
    spec = style.input_spec
    if backend == "torch":
        return TorchRuntime(style.build(), spec, device, precision, **options)
    if backend == "onnxruntime":
        if style.format != "onnx" and precision not in (None, "fp32"):  # said before an export of seconds
            raise RtstyleError(f"--precision {precision}: {style.name}'s ONNX export is an fp32 model and ONNX "
                               f"Runtime runs it as it is (rtstyle export --fp16 makes fp16 files)")
        path = network_onnx(style.meta.architecture) if shared_export else _onnx_file(style)
        return OnnxRuntime(path, spec, device, precision, **options)
    from .tensorrt_runtime import TensorRTRuntime  # needs the compile package only here

    return TensorRTRuntime(lambda: _onnx_file(style), spec, device, precision, **options)


def _onnx_file(style: Style) -> Path:
    """The ONNX file of a style: its own, or its cached export."""
    from ..models.export import cached_onnx

    return style.path if style.format == "onnx" else cached_onnx(style)


def _adain_encoder(style: Style, runtime: Runtime) -> Callable[[], AdaINNet]:
    """The fp32 PyTorch encoder AdaIN's statistics come from: the runtime's own network where it is
    one, else a CPU copy built on first use."""
    if isinstance(runtime, TorchRuntime) and runtime.dtype == torch.float32:
        return lambda: runtime.model
    return cache(lambda: style.build().to(memory_format=torch.channels_last))


__all__ = ["Adapter", "AdaINStats", "BACKEND_NAMES", "Backend", "Condition", "OnnxRuntime", "PairVector", "Runtime",
           "StyleImages", "StyleVector", "TensorRuntime", "TorchRuntime", "Workload", "auto_backend", "auto_choice",
           "create_backend", "tensorrt_available"]
