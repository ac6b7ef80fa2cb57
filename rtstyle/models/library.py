"""The style library: built-in presets, the user's imports and plain files, looked up by name.

A `Style` is a name plus a weights file plus its `StyleMeta`; `Style.architecture` is its
family's descriptor (`models.architectures`), which says how everything downstream treats it.
Blends (`NAME:W,NAME:W`) are presets mixed in their condition. Importing a user's own network
into the library is `models.importing`. Torch-free: a preset is found, described and blended
without PyTorch, which loads only when `Style.build` makes the network.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RtstyleError
from ..paths import cache_dir, data_dir
from .architectures import ARCHITECTURES, Architecture, architecture, resolve
from .formats import (InputSpec, StyleMeta, load_arrays, load_torch_style, onnx_geometry, onnx_meta,
                      read_safetensors_header, save_style)

if TYPE_CHECKING:
    from torch import Tensor, nn

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TORCH_SUFFIXES = (".pth", ".model", ".pt")
SUFFIXES = TORCH_SUFFIXES + (".safetensors", ".onnx")


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

    @property
    def architecture(self) -> Architecture:
        """Its family's descriptor: how it is built, run and fed."""
        return architecture(self.meta.architecture)

    @cached_property
    def input_spec(self) -> InputSpec:
        """How frames must reach this style's network (`backends.transform.stylize` applies it)."""
        m = self.meta
        if self.format == "onnx":
            stride, fixed = onnx_geometry(self.path)
        else:
            family = ARCHITECTURES.get(m.architecture)  # an unknown one is refused when it is built
            stride, fixed = family.stride if family else 4, None
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


def build_model(name: str, state: dict[str, Tensor], meta: StyleMeta) -> nn.Module:
    """The module `meta` describes with `state` loaded, in eval mode; a clear error where they do not fit."""
    family = ARCHITECTURES.get(meta.architecture)
    if family is None:
        raise RtstyleError(f"style {name!r}: unknown architecture {meta.architecture!r}")
    model = family.build(meta)
    shared = resolve(family.shared_weights)(meta) if family.shared_weights else {}  # what the file leaves out
    try:
        model.load_state_dict(shared | state, strict=True)
    except RuntimeError as exc:
        detail = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise RtstyleError(f"style {name!r}: weights do not fit {meta.architecture}: {detail}") from None
    return model.eval().requires_grad_(False)


def styles_in(folder: Path, origin: str) -> dict[str, Style]:
    if not folder.is_dir():
        return {}
    found = {}
    for p in sorted(folder.iterdir()):
        if p.suffix in (".safetensors", ".onnx") and not p.name.startswith("."):  # not a file being written
            found[p.stem] = Style(p.stem, p, origin)
    return found


def available_styles() -> dict[str, Style]:
    """Built-in styles, then the user's library (a user style may shadow a built-in one)."""
    return {**styles_in(builtin_dir(), "built-in"), **styles_in(user_dir(), "user")}


DEFAULT_STYLE = "starry"
STYLE_IMAGE_DEFAULT = "magenta"  # the built-in network `--style-image` uses when no --style is given


def _family(style: Style) -> Architecture | None:
    """The style's descriptor, or None for an architecture rtstyle does not know (refused when built)."""
    return ARCHITECTURES.get(style.meta.architecture)


def is_condition(style: Style) -> bool:
    """A condition alone for one of Magenta's networks: a preset, or a preset's lite student (not
    an ONNX export of one, which holds the network too)."""
    family = _family(style)
    return style.format != "onnx" and bool(family and family.preset) and not needs_style_image(style)


def is_preset(style: Style) -> bool:
    """A preset users pick by name and blend (a lite student is `--lite`'s choice, not theirs)."""
    return is_condition(style) and "lite_of" not in style.meta.extra


def needs_style_image(style: Style) -> bool:
    """Styles with no look of their own: any image is the style (`--style-image`)."""
    family = _family(style)
    return bool(family and family.always_style_image) or style.meta.extra.get("style_image") == "required"


def describe(style: Style) -> str:
    """One line on what a style is (`rtstyle styles`): its network, size, defaults and input."""
    m = style.meta
    family = _family(style)
    detail = family.detail(m) if family else f"layout {m.layout}"
    if m.temporal_strength is not None:
        detail += f", smoothing {m.temporal_strength:g}"  # the --temporal-strength it defaults to
    return f"{detail}, input {m.input_range}"


LITE_SUFFIX = "_lite"  # the lite variant of style NAME is the style NAME_lite


def lite_variant(name: str | None) -> Style:
    """The lite (CPU) variant of a style: `NAME_lite` where there is one (a trained lite network or a
    distilled student, `rtstyle train --teacher`); else a preset is its own (`--lite` runs it smaller,
    see `backends.load_backend`). A lite style is its own variant."""
    styles = available_styles()
    name = name or DEFAULT_STYLE
    if name in styles and is_lite(styles[name]):
        return styles[name]
    if name + LITE_SUFFIX in styles and is_lite(styles[name + LITE_SUFFIX]):
        return styles[name + LITE_SUFFIX]
    style = resolve_style(name)  # a blend, a file, or an unknown name (one-line error)
    family = _family(style)
    if family and family.preset and not needs_style_image(style):
        return style
    have = ", ".join(n.removesuffix(LITE_SUFFIX) for n, s in styles.items() if is_lite(s))
    raise RtstyleError(f"--lite: style {name!r} has no lite variant (presets and styles with one: "
                       f"{have or 'none'}; train one with: rtstyle train --lite --name {name}{LITE_SUFFIX})")


def pick_style(spec: str | os.PathLike | None, lite: bool = False) -> Style:
    """The style `--style SPEC [--lite]` names: its lite variant with `lite`."""
    return lite_variant(spec) if lite else resolve_style(spec)


def is_lite(style: Style) -> bool:
    """A network made for --lite: the lite architecture, or a preset's distilled student."""
    family = _family(style)
    return bool(family and family.lite) or "lite_of" in style.meta.extra


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
    condition = sum(w * load_arrays(s.path)[0]["condition"] for s, w in weights)
    name = "+".join(f"{s.name}{round(100 * w)}" for s, w in weights)
    extra = {k: f"{sum(w * float(s.meta.extra[k]) for s, w in weights):.3g}"
             for k in ("stroke_long_side", "temporal_strength") if all(k in s.meta.extra for s, w in weights)}
    extra["strength"] = f"{sum(w * float(s.meta.extra.get('strength', 1.0)) for s, w in weights):.3g}"
    meta = StyleMeta(name=name, architecture=kinds.pop(), width=0, num_residual=0, input_range="0-1",
                     provenance=f"blend {spec}", license=weights[0][0].meta.license, extra=extra)
    path = cache_dir("blends") / f"{name}.safetensors"
    save_style(path, {"condition": condition}, meta, half=False)  # whole or not at all: jobs may race for it
    return Style(name, path, "blend")
