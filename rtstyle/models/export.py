"""ONNX export of registered style networks (dynamo exporter, dynamic H/W and batch)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from .registry import Style

DEFAULT_OPSET = 18


def weights_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def export_onnx(
    model: nn.Module,
    path: Path,
    *,
    height: int = 256,
    width: int = 256,
    dynamic: bool = True,
    opset: int = DEFAULT_OPSET,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Export `model` (NCHW float in, NCHW float out) to `path`.

    With `dynamic`, batch, height and width are free; height and width stay multiples
    of the network's stride (the exporter proves the shapes only for those).
    """
    stride = getattr(model, "stride", 1)
    example = torch.rand(1, 3, height, width) * 255
    shapes = None
    if dynamic:
        hdim = torch.export.Dim("height", min=2, max=4096)
        wdim = torch.export.Dim("width", min=2, max=4096)
        shapes = {"x": {0: torch.export.Dim("batch", min=1, max=64), 2: stride * hdim, 3: stride * wdim}}
    path.parent.mkdir(parents=True, exist_ok=True)
    quiet = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), _quiet_logger("torch"):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(), (example,), str(path), input_names=["input"], output_names=["output"],
            opset_version=opset, dynamic_shapes=shapes, dynamo=True, external_data=False,
        )
    proto = onnx.load(str(path))
    for key, value in (metadata or {}).items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return path


@contextlib.contextmanager
def _quiet_logger(name: str):
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def cached_onnx(style: Style) -> Path:
    """A dynamic-shape ONNX export of a PyTorch style, made once and kept in the cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "rtstyle" / "onnx" / f"{style.name}-{weights_hash(style.path)}.onnx"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        export_onnx(style.build(), tmp, metadata={"rtstyle.input_range": style.meta.input_range,
                                                  "rtstyle.provenance": f"export of {style.path.name}"})
        os.replace(tmp, path)
    return path
