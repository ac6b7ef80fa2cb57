"""ONNX export of registered style networks, checked against PyTorch.

`export_style` is what `rtstyle export` runs: the dynamo exporter (opset >= 17, so
InstanceNormalization stays one node that TensorRT parses natively), static or
dynamic height/width, optional fp16 weights and I/O, `onnx.checker`, a parity run in
ONNX Runtime against the fp32 PyTorch model, and a JSON sidecar that says how to
feed the file (layout, range, shapes, opset, hash of the source weights).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import RtstyleError, UsageError
from ..output_files import OutputFile
from ..paths import cache_dir
from .formats import range_scale, weights_hash
from .library import Style

if TYPE_CHECKING:  # torch and onnx load with the first export, not with `cached_export`'s lookup
    import onnx
    import torch
    from torch import nn

DEFAULT_OPSET = 18
MIN_OPSET = 17  # InstanceNormalization and Resize as TensorRT's parser reads them natively
MAX_DYNAMIC_SIDE = 4096
ENGINES_DIR = Path("engines")
# Parity bounds on the 0..255 scale: beyond these the export is wrong, not just rounded.
PARITY_TOL = {"fp32": 1.0, "fp16": 4.0}
EXPORT_FORMAT = 2  # raised when exports of the same weights change (2: AdaIN's constant kernels)
CACHE_CHECK_SIZES = [(1, 136, 200), (2, 96, 160)]  # a cached export's parity run: two sizes, a batch (stride 8 too)
# One export at a time in a process: torch.export is not thread-safe (two styles loading at once
# in `rtstyle serve` failed with TorchExportError), and the output capture below is process-wide.
_EXPORTING = threading.Lock()
_CACHING = threading.Lock()
log = logging.getLogger("rtstyle")


def export_onnx(
    model: nn.Module,
    path: Path,
    *,
    height: int = 256,
    width: int = 256,
    dynamic: bool = True,
    batch: int = 1,
    opset: int = DEFAULT_OPSET,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Export `model` (NCHW float in, NCHW float out) to `path`.

    With `dynamic`, batch, height and width are free; height and width stay multiples
    of the network's stride (the exporter proves the shapes only for those).
    """
    import onnx
    import torch

    if hasattr(model, "for_onnx"):  # a network whose graph for export differs (AdaIN: constant kernels)
        model = model.for_onnx()
    stride = getattr(model, "stride", 1)
    extra = extra_inputs(model)
    example = torch.rand(batch, 3, height, width) * 255
    shapes = None
    if dynamic:
        hdim = torch.export.Dim("height", min=2, max=MAX_DYNAMIC_SIDE // stride)
        wdim = torch.export.Dim("width", min=2, max=MAX_DYNAMIC_SIDE // stride)
        shapes = ({0: torch.export.Dim("batch", min=1, max=64), 2: stride * hdim, 3: stride * wdim},
                  *[None] * len(extra))
    path.parent.mkdir(parents=True, exist_ok=True)
    quiet = io.StringIO()
    with _EXPORTING, warnings.catch_warnings(), contextlib.redirect_stdout(quiet), _quiet_logger("torch"):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(), (example, *extra.values()), str(path), input_names=["input", *extra],
            output_names=["output"],
            opset_version=opset, dynamic_shapes=shapes, dynamo=True, external_data=False,
        )
    proto = onnx.load(str(path))
    for key, value in (metadata or {}).items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return path


def extra_inputs(model: nn.Module) -> dict[str, torch.Tensor]:
    """Example values of the model's inputs after the image, by name. Most networks take the
    image alone; AdaIN also takes the style statistics (`AdaINNet.extra_inputs`), which
    become inputs of the ONNX graph."""
    return model.extra_inputs() if hasattr(model, "extra_inputs") else {}


@contextlib.contextmanager
def _quiet_logger(name: str):
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def to_fp16(proto: onnx.ModelProto) -> onnx.ModelProto:
    """fp16 weights, activations and I/O; Resize's roi/scales stay fp32, as the operator requires."""
    import onnx
    from onnx import TensorProto, numpy_helper

    keep = {n.input[i] for n in proto.graph.node if n.op_type == "Resize" for i in (1, 2) if len(n.input) > i}
    for init in proto.graph.initializer:
        if init.data_type == TensorProto.FLOAT and init.name not in keep:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT and value.name not in keep:
            value.type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(proto)
    return proto


@dataclass
class ExportSpec:
    height: int = 360
    width: int = 640
    dynamic: bool = False
    batch: int = 1
    fp16: bool = False
    opset: int = DEFAULT_OPSET

    @property
    def precision(self) -> str:
        return "fp16" if self.fp16 else "fp32"

    def tag(self) -> str:
        """What the file name says about its shape and precision."""
        shape = "dynamic" if self.dynamic else f"{self.height}x{self.width}"
        return f"{shape}_b{self.batch}_{self.precision}_op{self.opset}"

    def check(self, stride: int) -> None:
        if self.opset < MIN_OPSET:
            raise RtstyleError(f"--opset {self.opset}: needs {MIN_OPSET} or newer (native InstanceNormalization)")
        if self.batch < 1:
            raise UsageError(f"--batch must be at least 1, got {self.batch}")
        for name, side in (("height", self.height), ("width", self.width)):
            if side < 2 * stride or side % stride or side > MAX_DYNAMIC_SIDE:
                raise RtstyleError(f"--{name} {side}: must be a multiple of {stride} between {2 * stride} and "
                                   f"{MAX_DYNAMIC_SIDE} (the network downsamples by {stride})")


def default_export_path(style: Style, spec: ExportSpec) -> Path:
    return ENGINES_DIR / style.name / f"{style.name}_{spec.tag()}.onnx"


def sidecar_path(onnx_path: Path) -> Path:
    return onnx_path.with_suffix(".json")


def export_style(style: Style, out: Path, spec: ExportSpec) -> dict:
    """Export, check and verify `style`; write `out` and its sidecar; return the sidecar's content."""
    model = style.build()
    spec.check(getattr(model, "stride", 1))
    meta = style.meta
    diffs = export_verified(model, out, style.name, meta.input_scale, check_sizes(spec), spec.precision,
                            height=spec.height, width=spec.width, dynamic=spec.dynamic, batch=spec.batch,
                            opset=spec.opset, metadata={"rtstyle.input_range": meta.input_range,
                                                        "rtstyle.provenance": f"export of {style.path.name}"})
    info = {
        "style": asdict(meta) | {"layout": "NCHW"},
        "export": {
            "input": {"name": "input", "layout": "NCHW", "dtype": "float16" if spec.fp16 else "float32",
                      "range": meta.input_range, "channels": "RGB",
                      "shape": ["batch", 3, "height", "width"] if spec.dynamic
                      else [spec.batch, 3, spec.height, spec.width]},
            "style_inputs": {k: list(v.shape) for k, v in extra_inputs(model).items()},  # AdaIN: per style image
            "output": {"name": "output", "layout": "NCHW", "range": meta.input_range, "clamp": [0, 255]},
            "dynamic": spec.dynamic, "stride": getattr(model, "stride", 1), "opset": spec.opset,
            "precision": spec.precision, "source": str(style.path), "source_sha256_16": weights_hash(style.path),
            "onnx_sha256_16": weights_hash(out),
            "max_abs_diff_vs_pytorch_fp32": {f"{b}x3x{h}x{w}": d for (b, h, w), d in diffs.items()},
        },
    }
    sidecar_path(out).write_text(json.dumps(info, indent=2) + "\n")
    return info


def export_verified(model: nn.Module, out: Path, name: str, scale: float, sizes: list[tuple[int, int, int]],
                    precision: str = "fp32", **export_args) -> dict:
    """`export_onnx` written whole or not at all: to a temporary file, checked against PyTorch on
    `sizes` (`verify_onnx`), and moved to `out` only if the two agree within PARITY_TOL. Returns
    the max |diff| per size."""
    import onnx

    output = OutputFile(out, overwrite=True)
    try:
        export_onnx(model, output.path, **export_args)
        if precision == "fp16":
            onnx.save(to_fp16(onnx.load(str(output.path))), str(output.path))
        diffs = verify_onnx(output.path, model, scale, sizes)
        worst = max(diffs.values())
        if not np.isfinite(worst) or worst > PARITY_TOL[precision]:
            raise RtstyleError(f"{name}: the ONNX export disagrees with PyTorch (max |diff| {worst:.3g} on the 0..255 "
                               f"scale, allowed {PARITY_TOL[precision]:g})")
    except BaseException:
        output.discard()
        raise
    output.commit()
    return diffs


def check_sizes(spec: ExportSpec) -> list[tuple[int, int, int]]:
    """(batch, height, width) inputs for the parity run: the export's own, plus other sizes if dynamic."""
    if not spec.dynamic:
        return [(spec.batch, spec.height, spec.width)]
    return [(spec.batch, spec.height, spec.width), (1, 136, 200), (2, 96, 160)]  # multiples of 8 and 4


def verify_onnx(path: Path, model: nn.Module, scale: float, sizes: list[tuple[int, int, int]]) -> dict:
    """Max |ONNX Runtime - PyTorch fp32| per input size, on the 0..255 scale, for seeded random frames."""
    import onnxruntime as ort
    import torch

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    dtype = np.float16 if "float16" in inp.type else np.float32
    extra = extra_inputs(model)
    rng = np.random.default_rng(0)
    diffs = {}
    for b, h, w in sizes:
        x = rng.integers(0, 256, (b, 3, h, w)).astype(np.float32) * scale
        with torch.inference_mode():
            ref = model(torch.from_numpy(x), *extra.values()).numpy() / scale
        feeds = {inp.name: x.astype(dtype)} | {k: v.numpy().astype(dtype) for k, v in extra.items()}
        got = session.run(None, feeds)[0].astype(np.float32) / scale
        # compare what a user sees: both clamped to the displayable range
        diffs[(b, h, w)] = float(np.abs(np.clip(got, 0, 255) - np.clip(ref, 0, 255)).max())
    return diffs


def cached_onnx(style: Style) -> Path:
    """A dynamic-shape ONNX export of a PyTorch style, made once and kept in the cache."""
    return cached_export(f"{style.name}-{weights_hash(style.path)}", style.build, style.meta.input_range,
                         style.path.name, f"style {style.name}'s network")


def cached_export(key: str, build, input_range: str, source: str, label: str) -> Path:
    """`cache_dir("onnx")/KEY.onnx`: the dynamic-shape export of the module `build()` makes, made
    once (the key names the weights it came from), checked against PyTorch as `rtstyle export`
    checks, and written whole or not at all. `label` names the network to the user while they wait."""
    path = cache_dir("onnx") / f"{key}-e{EXPORT_FORMAT}.onnx"  # a new export format makes them again
    with _CACHING:  # threads wanting one export at once: one makes it, the others then find it
        if path.exists():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        # the first use of a network on ONNX Runtime waits on torch.export (15-20 s on two cores): say so
        log.info(f"preparing {label} for ONNX Runtime: a one-time export, kept in {path.parent}")
        start = time.perf_counter()
        export_verified(build(), path, key, range_scale(input_range), CACHE_CHECK_SIZES,
                        dynamic=True, metadata={"rtstyle.input_range": input_range,
                                                "rtstyle.provenance": f"export of {source}"})
        log.info(f"network ready in {time.perf_counter() - start:.0f} s")
    return path
