"""Importing a user's own network into the style library (`rtstyle styles import`).

Every file is checked before it is stored, so `convert` never meets a broken one: PyTorch
checkpoints are built and loaded, then kept as safetensors (the pickle is never opened
again); ONNX files are checked, run once on a small frame, and copied with a JSON sidecar;
pytorch-AdaIN's two checkpoints become one AdaIN style; Magenta's arbitrary ONNX pair is kept
as the transformer plus its predictor.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import RtstyleError
from ..output_files import write_whole
from .formats import StyleMeta, load_pytorch_checkpoint, load_torch_style, onnx_meta, save_style
from .library import DEFAULT_STYLE, SUFFIXES, TORCH_SUFFIXES, Style, styles_in, build_model, builtin_dir, user_dir

if TYPE_CHECKING:
    from torch import Tensor

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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
    if not force and name in styles_in(builtin_dir(), "built-in"):
        raise RtstyleError(f"{name!r} is a built-in style: choose another --name, or --force to shadow it "
                           f"(then {name!r} means your import everywhere, the default style too if it is "
                           f"{DEFAULT_STYLE!r})")
    dest_dir = user_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    if predictor is not None:
        dest = _import_arbitrary(src, predictor, name, dest_dir)
    elif vgg is not None:
        from .adain import decoder_width

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
    from .adain import STATS_CHANNELS, build_encoder

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
    import onnx

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
    import onnx

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
