"""Reading and writing style weights safely.

Our own format is safetensors with the model's description in the header metadata
(like torchvision's weights enums: the file says what it is and how to feed it).
pytorch/examples checkpoints are pickles: they are opened only with
`torch.load(weights_only=True)`, which refuses anything but tensors and containers.
ONNX styles are described from their graph, or from the sidecar `rtstyle export` writes.

Torch-free at import: a preset's condition and an ONNX file's metadata are read with numpy
and onnx alone (`load_arrays`, `onnx_meta`); PyTorch loads only with `load_style`.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_numpy, save as save_numpy

from ..errors import RtstyleError
from ..output_files import write_whole

if TYPE_CHECKING:
    import onnx
    from torch import Tensor

FORMAT_TAG = "rtstyle.style.v1"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks: weights, exports and engines are identified by it."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_hash(path: Path) -> str:
    """Short sha256 of a weights file: enough to name cached exports and to record provenance."""
    return file_sha256(path)[:16]


def range_scale(input_range: str) -> float:
    """Factor from 0..255 pixels to a network's input range ("0-255" or "0-1")."""
    return 1.0 if input_range == "0-255" else 1.0 / 255.0


@dataclass(frozen=True)
class InputSpec:
    """How frames must reach a network, carried with its weights (as torchvision's weights carry
    their transforms; `Style.input_spec`) and applied in one place, `backends.transform.stylize`:
    the input's layout and value range, the stride its sides must be multiples of, and the one
    (height, width) a fixed-shape network takes."""

    layout: str = "NCHW"
    input_range: str = "0-255"
    stride: int = 4
    fixed_size: tuple[int, int] | None = None

    @property
    def scale(self) -> float:
        """Factor from 0..255 pixels to the network's input."""
        return range_scale(self.input_range)


@dataclass
class StyleMeta:
    """What a style network is and how to call it."""

    name: str
    architecture: str = "transformer_net"
    width: int = 32
    num_residual: int = 5
    input_range: str = "0-255"  # "0-255" or "0-1"
    layout: str = "NCHW"
    provenance: str = ""
    license: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def temporal_strength(self) -> float | None:
        """The smoothing strength measured best for this network (docs/benchmarks/history.md), if it names one."""
        value = self.extra.get("temporal_strength")
        if value is None:
            return None
        try:
            strength = float(value)
        except (TypeError, ValueError):
            raise RtstyleError(f"style {self.name!r}: its temporal_strength {value!r} is not a number") from None
        if not 0.0 <= strength <= 1.0:
            raise RtstyleError(f"style {self.name!r}: its temporal_strength {strength} is not between 0 and 1")
        return strength

    @property
    def stroke_long_side(self) -> int | None:
        """Presets: the long side in pixels their network runs at (measured best for the look,
        model cards): strokes then keep one size relative to the frame at any resolution."""
        value = self.extra.get("stroke_long_side")
        return round(float(value)) if value is not None else None

    @property
    def input_scale(self) -> float:
        return range_scale(self.input_range)

    def to_header(self) -> dict[str, str]:
        d = asdict(self)
        d["extra"] = json.dumps(self.extra)
        return {"format": FORMAT_TAG, **{k: str(v) for k, v in d.items()}}

    @classmethod
    def from_header(cls, header: dict[str, str]) -> "StyleMeta":
        return cls(
            name=header["name"],
            architecture=header.get("architecture", "transformer_net"),
            width=int(header.get("width", 32)),
            num_residual=int(header.get("num_residual", 5)),
            input_range=header.get("input_range", "0-255"),
            layout=header.get("layout", "NCHW"),
            provenance=header.get("provenance", ""),
            license=header.get("license", ""),
            extra=json.loads(header.get("extra", "{}")),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "StyleMeta":
        """A style's JSON, or an export sidecar holding it under "style" (see `models.export`)."""
        data = json.loads(text)
        return cls(**data.get("style", data))


def save_style(path: Path, state: dict[str, np.ndarray | Tensor], meta: StyleMeta, half: bool = True) -> None:
    """Write weights (numpy arrays or torch tensors; fp16 by default: half the size, no visible
    change) plus metadata, whole or not at all."""
    dtype = np.float16 if half else np.float32
    arrays = {k: np.ascontiguousarray(_numpy(v), dtype=dtype) for k, v in state.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, save_numpy(arrays, metadata=meta.to_header()), overwrite=True)  # never half a file


def _numpy(value: np.ndarray | Tensor) -> np.ndarray:
    """A weight as numpy (fp32 first, numpy having no bfloat16)."""
    return value if isinstance(value, np.ndarray) else value.detach().float().cpu().numpy()


def read_safetensors_header(path: Path) -> dict[str, str]:
    """The metadata block alone, without reading the tensors."""
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 100_000_000:
                raise ValueError("bad header length")
            header = json.loads(f.read(n))
    except (OSError, ValueError) as exc:
        raise RtstyleError(f"{path}: not a readable safetensors file ({exc})") from None
    return header.get("__metadata__") or {}


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], StyleMeta]:
    """A safetensors style file as float32 numpy arrays and its metadata: what ONNX Runtime feeds
    (a preset's condition) and blends mix, without PyTorch."""
    header = read_safetensors_header(path)
    try:
        state = load_numpy(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as exc:  # TypeError: a dtype numpy lacks (bf16)
        raise RtstyleError(f"{path}: corrupt safetensors file ({exc})") from None
    return {k: v.astype(np.float32) for k, v in state.items()}, _meta_of(header, state, path)


def load_style(path: Path) -> tuple[dict[str, Tensor], StyleMeta]:
    """A safetensors style file as float32 torch tensors and its metadata (any float dtype)."""
    from safetensors.torch import load_file

    header = read_safetensors_header(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise RtstyleError(f"{path}: corrupt safetensors file ({exc})") from None
    return {k: v.float() for k, v in state.items()}, _meta_of(header, state, path)


def _meta_of(header: dict[str, str], state: dict, path: Path) -> StyleMeta:
    if header.get("format") == FORMAT_TAG:
        return StyleMeta.from_header(header)
    return describe_state_dict(state, name=path.stem)  # a bare state_dict saved by someone else: from its shapes


def load_torch_style(path: Path) -> tuple[dict[str, Tensor], StyleMeta]:
    """State dict and metadata from a safetensors file or a pytorch/examples checkpoint, checked
    for non-finite weights and cleaned as its architecture loads it."""
    import torch

    from .architectures import architecture, resolve

    if not path.is_file():
        raise RtstyleError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        state, meta = load_style(path)
    else:
        state = load_pytorch_checkpoint(path)
        meta = describe_state_dict(state, name=path.stem)
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise RtstyleError(f"{path}: its weight {key} holds NaN or infinite values (a diverged training run?)")
    return resolve(architecture(meta.architecture).clean_state)(state), meta


def load_pytorch_checkpoint(path: Path) -> dict[str, Tensor]:
    """A pytorch/examples `.pth`/`.model` file as a state_dict, without running pickle code."""
    import torch
    from torch import Tensor

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RtstyleError(f"{path}: no such file") from None
    except pickle.UnpicklingError as exc:  # torch's text suggests weights_only=False: never pass that on
        found = re.search(r"GLOBAL (\S+)", str(exc))
        names = f", it names {found.group(1)}" if found else ""
        raise RtstyleError(f"{path}: cannot load as plain weights: not a checkpoint of tensors alone{names} (rtstyle "
                           "never unpickles anything else, so nothing in it ran)") from None
    except Exception as exc:  # RuntimeError, EOFError... for damaged or foreign files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RtstyleError(f"{path}: cannot load as plain weights (only tensors are accepted): {first}") from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise RtstyleError(f"{path}: does not hold a state_dict of tensors")
    if obj and all(k.startswith("module.") for k in obj):  # saved from a DataParallel wrapper
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return dict(obj)


def describe_state_dict(state: dict[str, np.ndarray | Tensor], name: str) -> StyleMeta:
    """Recognise a TransformerNet or a CycleGAN ResNet generator of any width; refuse anything else."""
    from .cyclegan import ARCHITECTURE as CYCLEGAN, cyclegan_config, is_cyclegan_state
    from .transformer_net import TransformerNet

    if is_cyclegan_state(state):
        try:
            return StyleMeta(name=name, architecture=CYCLEGAN, **cyclegan_config(state))
        except KeyError as exc:
            raise RtstyleError(f"{name}: not a CycleGAN ResNet generator ({exc.args[0]} missing)") from None
    try:
        cfg = TransformerNet.config_from_state_dict(state)
    except KeyError:
        if any(k.startswith("model.model.") for k in state):
            raise RtstyleError(f"{name}: a pix2pix U-Net generator; rtstyle runs the ResNet generators "
                               f"(resnet_9blocks, resnet_6blocks)") from None
        first = state.get("1.weight")
        if first is not None and first.ndim == 4 and first.shape[1] == 512:
            raise RtstyleError(f"{name}: looks like a pytorch-AdaIN decoder.pth: import it with "
                               f"--vgg vgg_normalised.pth") from None
        keys = ", ".join(list(state)[:3])
        raise RtstyleError(
            f"{name}: neither a fast_neural_style TransformerNet (no conv1.conv2d.weight) nor a CycleGAN ResNet "
            f"generator (no model.1.weight); keys start {keys}"
        ) from None
    return StyleMeta(name=name, **cfg)


def _onnx_graph(path: Path) -> onnx.ModelProto:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise RtstyleError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None


def _graph_inputs(model: onnx.ModelProto) -> list:
    """The graph's inputs that are fed, not weights."""
    return [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]


def _image_dims(model: onnx.ModelProto) -> list:
    """The image input's dimensions (ints, or names for dynamic ones): the graph's first input."""
    inputs = _graph_inputs(model)
    return [d.dim_value or d.dim_param for d in inputs[0].type.tensor_type.shape.dim] if inputs else []


def _is_nhwc(dims: list) -> bool:
    return len(dims) == 4 and dims[3] == 3 and dims[1] != 3


def onnx_geometry(path: Path) -> tuple[int, tuple[int, int] | None]:
    """An ONNX network's stride (from the sidecar `rtstyle export` writes: 8 for AdaIN; else 4)
    and the (height, width) it is fixed to, if it is."""
    try:
        stride = int(json.loads(path.with_suffix(".json").read_text())["export"]["stride"])
    except (OSError, ValueError, KeyError, TypeError):
        stride = 4
    dims = _image_dims(_onnx_graph(path))
    spatial = dims[1:3] if _is_nhwc(dims) else dims[2:4]
    fixed = all(isinstance(d, int) and d > 0 for d in spatial) and len(spatial) == 2
    return stride, (spatial[0], spatial[1]) if fixed else None


def onnx_meta(path: Path, name: str) -> StyleMeta:
    """Metadata for an ONNX style: our sidecar JSON if present, else read from the graph."""
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        return StyleMeta.from_json(sidecar.read_text())
    model = _onnx_graph(path)
    props = {p.key: p.value for p in model.metadata_props}
    inputs = _graph_inputs(model)
    if len(inputs) != 1:
        raise RtstyleError(f"{path}: expected an ONNX style model with one image input, found {len(inputs)} inputs")
    layout = "NHWC" if _is_nhwc(_image_dims(model)) else "NCHW"
    return StyleMeta(
        name=name,
        architecture="onnx",
        width=0,
        num_residual=0,
        input_range=props.get("rtstyle.input_range", "0-255"),
        layout=layout,
        provenance=props.get("rtstyle.provenance", f"imported from {path.name}"),
    )
