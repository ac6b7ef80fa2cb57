"""Choosing and making a backend: `create_backend(style, "auto" | "torch" | "onnxruntime" |
"tensorrt")` composes a runtime with the adapter the style's family feeds (its descriptor,
`models.architectures`), and `configure` applies a job's `spec.BackendSettings` (--lite,
--stroke, --infer-scale, --strength, a preset's own strength and stroke size) on top.

Torch loads here only for a runtime or an adapter that runs PyTorch: a preset or --lite on
ONNX Runtime never imports it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..compile.profiles import shape_text
from ..errors import RtstyleError
from ..models.architectures import resolve
from ..models.library import Style, is_lite, needs_style_image, pick_style
from ..capabilities import BACKEND_NAMES, check_request, cuda_available
from .base import Adapter, Backend, Workload
from .onnx_runtime import OnnxRuntime
from .preset import Condition
from .runtime import Runtime

if TYPE_CHECKING:
    from ..spec import BackendSettings

log = logging.getLogger("rtstyle")

LITE_INFER_SCALE, LITE_MIN_SIDE = 0.5, 180  # --lite: 640x360 runs at 320x180 (docs/benchmarks/history.md, issue #7)


def tensorrt_available() -> bool:
    return importlib.util.find_spec("tensorrt") is not None and cuda_available()


def auto_backend(style: Style) -> str:
    """The backend `--backend auto` runs `style` on (`auto_choice` says why)."""
    return auto_choice(style)[0]


def auto_choice(style: Style) -> tuple[str, str]:
    """(backend, why not TensorRT where it is installed). A family that runs on one runtime runs
    there; style-image models on PyTorch where their inputs are computed in it (on a GPU, or
    always for AdaIN); TensorRT where it is installed; on a CPU, the family's own choice (ONNX
    Runtime for presets and ONNX files, PyTorch for other weights)."""
    family = style.architecture
    if len(family.runtimes) == 1:
        return family.runtimes[0], f"{family.name} networks run on {family.runtimes[0]} only"
    any_image = needs_style_image(style)
    if any_image and (cuda_available() or family.cpu_runtime == "torch"):
        return "torch", "style-image models compute each style's inputs in PyTorch"
    if tensorrt_available() and "tensorrt" in (family.style_image_runtimes if any_image else family.runtimes):
        return "tensorrt", ""
    if not cuda_available() and style.format != "onnx":
        return family.cpu_runtime, "no CUDA GPU"
    return ("onnxruntime" if style.format == "onnx" else "torch"), "no CUDA GPU"


def create_backend(style: Style, backend: str = "auto", device: str | None = None,
                   precision: str | None = None, **options) -> Backend:
    """The backend for `style`: the runtime `backend` names (auto: `auto_backend`) composed with the
    adapter for its family; `options` go to the runtime (e.g. `cuda_graphs`, `compile` for torch)."""
    if backend == "auto":
        backend = auto_backend(style)
    if backend not in BACKEND_NAMES:
        raise RtstyleError(f"unknown backend {backend!r} (choose from auto, {', '.join(BACKEND_NAMES)})")
    check_request(backend, precision, options)
    family = style.architecture
    any_image = needs_style_image(style)
    if backend not in family.runtimes:
        raise RtstyleError(f"style {style.name!r} is a {family.name} network: it runs on "
                           f"{' or '.join(family.runtimes)}")
    if any_image and (options.get("cuda_graphs") or options.get("compile")):
        raise RtstyleError("--cuda-graphs and --compile apply to per-style networks and presets, not to "
                           "--style-image models")
    if any_image and backend not in family.style_image_runtimes:
        raise RtstyleError(f"style {style.name!r} with --style-image runs on {' or '.join(family.style_image_runtimes)}"
                           f" (a preset runs on any backend)")
    if backend == "torch" and style.format == "onnx":
        raise RtstyleError(f"style {style.name!r} is an ONNX model: use --backend onnxruntime, tensorrt or auto")
    if backend == "torch" and family.channels_last:
        options.setdefault("channels_last", True)
    # ONNX Runtime runs a preset family's one export, the condition (or a style vector) an input
    shared = backend == "onnxruntime" and style.format != "onnx" and family.shared_export is not None
    runtime = _runtime(style, backend, device, precision, options, shared)
    if any_image:
        return Backend(style, runtime, resolve(family.style_image).create(style, runtime))
    return Backend(style, runtime, Condition(style) if shared else Adapter())


def _runtime(style: Style, backend: str, device: str | None, precision: str | None, options: dict,
             shared: bool) -> Runtime:
    """The runtime for `style`'s network; `shared`: ONNX Runtime runs its family's shared export."""
    spec = style.input_spec
    if backend == "torch":
        from .torch_runtime import TorchRuntime

        return TorchRuntime(style.build(), spec, device, precision, **options)
    if backend == "onnxruntime":
        if style.format != "onnx" and precision not in (None, "fp32"):  # said before an export of seconds
            raise RtstyleError(f"--precision {precision}: {style.name}'s ONNX export is an fp32 model and ONNX "
                               f"Runtime runs it as it is (rtstyle export --fp16 makes fp16 files)")
        path = resolve(style.architecture.shared_export)(style.meta.architecture) if shared else onnx_file(style)
        return OnnxRuntime(path, spec, device, precision, **options)
    from .tensorrt_runtime import TensorRTRuntime  # needs the compile package only here

    return TensorRTRuntime(lambda: onnx_file(style), spec, device, precision, **options)


def onnx_file(style: Style) -> Path:
    """The ONNX file of a style: its own, or its cached export."""
    from ..models.export import cached_onnx

    return style.path if style.format == "onnx" else cached_onnx(style)


def lite_cpu_threads() -> int:
    """--lite on a CPU: the small network runs on ONNX Runtime with all cores but one, which is
    left to decoding, smoothing and encoding. Measured on 2 cores (docs/benchmarks/history.md, issue #7):
    `convert --lite` 20.1 fps on PyTorch with 2 threads, 33.7 fps on ONNX Runtime with 1. Only
    the session gets the count: the process's other thread pools are left as they are."""
    return max(1, (os.cpu_count() or 2) - 1)


def load_backend(style: str | Path | Style | None, backend: str = "auto", precision: str | None = None, *,
                 lite: bool = False, infer_scale: float | None = None, stroke: float | None = None,
                 workload: Workload | None = None, **options) -> Backend:
    """The backend for a style name, path or `Style`, as `BackendSettings(...).load()` makes it: the
    Python API's short form."""
    from ..spec import BackendSettings

    given = style if isinstance(style, Style) else None
    settings = BackendSettings(style=None if style is None or given else str(style), backend=backend,
                               precision=precision, lite=lite, infer_scale=infer_scale, stroke=stroke)
    return settings.load(given, workload, **options)


def configure(settings: BackendSettings, style: Style | None = None, workload: Workload | None = None,
              **options) -> Backend:
    """The backend `settings` describe (`style`: a resolved `Style` standing in for `settings.style`).
    `lite` takes the style's lite variant and, unless `infer_scale` is given, runs it at half size on
    frames of 360 lines or more (on a CPU, `auto` then means ONNX Runtime: `lite_cpu_threads`, as
    for any lite style however it was chosen). A preset runs at its own stroke size
    (`StyleMeta.stroke_long_side`) times `stroke`, and at its own strength unless one is given.
    `workload`, where the job is known before its backend, lets `auto` decline TensorRT for a
    short job no cached engine takes (building one costs a minute or more)."""
    lite, infer_scale, stroke, backend = settings.lite, settings.infer_scale, settings.stroke, settings.backend
    s = style or pick_style(settings.style, lite)
    cpu_lite = (lite or is_lite(s)) and not cuda_available()  # a lite style, however it was chosen
    if cpu_lite and backend in ("auto", "onnxruntime") and not options:
        backend, options = "onnxruntime", {"threads": lite_cpu_threads()}
    if stroke is not None and not s.meta.stroke_long_side:
        raise RtstyleError(f"--stroke: style {s.name!r} is not a preset (its strokes are set by its training)")

    def configured(name: str) -> Backend:
        b = create_backend(s, name, precision=settings.precision, **options)
        b.strength = float(s.meta.extra.get("strength", 1.0))  # a preset's own (its model card says why)
        if s.meta.stroke_long_side:
            b.network_long_side, b.stroke = s.meta.stroke_long_side, stroke or 1.0
        if infer_scale is None and lite:
            b.infer_scale, b.infer_min_side = LITE_INFER_SCALE, LITE_MIN_SIDE
        elif infer_scale is not None:
            if infer_scale < 1.0 and b.fixed_size:
                raise RtstyleError(f"--infer-scale: style {s.name!r} runs at a fixed "
                                   f"{b.fixed_size[1]}x{b.fixed_size[0]} already")
            b.infer_scale = infer_scale
        if not b.takes_style_images:  # a style-image model takes these when its images are bound
            b.strength = b.strength if settings.strength is None else settings.strength
            b.preserve_color = settings.preserve_color
        return b

    chosen, why_not = auto_choice(s) if backend == "auto" else (backend, "")
    if why_not and tensorrt_available():
        log.info(f"--backend auto: {chosen}, not TensorRT: {why_not}")
    b = configured(chosen)
    if backend == "auto" and chosen == "tensorrt" and workload and not workload.long:
        shapes = b.network_shapes(workload)
        if not b.runtime.has_engine_for(shapes):
            fallback = "onnxruntime" if s.format == "onnx" else "torch"
            log.info(f"--backend auto: {fallback}, not TensorRT: no cached engine takes {shape_text(shapes[0])}, "
                     f"and building one takes a minute or more (--backend tensorrt builds and keeps it)")
            b = configured(fallback)
    if workload:
        b.prepare(workload)  # the engine the check above found is the one the job loads
    return b
