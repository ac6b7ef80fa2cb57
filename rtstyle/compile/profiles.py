"""Optimisation profiles: the min/opt/max input shapes a TensorRT engine is built for.

An engine runs any shape inside its profile and is tuned for `opt`. A static ONNX
file has exactly one shape; a dynamic one takes what the user asks (`rtstyle
build-engine --min/--opt/--max`), what a job will feed it (`profile_covering`: its frame
size after --lite or a preset's stroke size, its --batch), else a default range covering
360p to 1080p, tuned for 720p.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import RtstyleError

Shape = tuple[int, int, int, int]  # N, C, H, W
DEFAULT_MIN: Shape = (1, 3, 256, 256)
DEFAULT_OPT: Shape = (1, 3, 720, 1280)
DEFAULT_MAX: Shape = (1, 3, 1088, 1920)  # 1080p, with room for 1080 padded to a multiple of 32


def shape_text(shape) -> str:
    """1x3x720x1280: a shape (or an ONNX input's dims) as the CLI writes it."""
    return "x".join(map(str, shape))


def fixed_dims(dims: list[int | str]) -> list[int | None]:
    """An ONNX input's dims with the free ones (names, or 0) as None."""
    return [d if isinstance(d, int) and d > 0 else None for d in dims]


@dataclass(frozen=True)
class Profile:
    min: Shape
    opt: Shape
    max: Shape

    @property
    def static(self) -> bool:
        return self.min == self.opt == self.max

    def covers(self, shape: Shape) -> bool:
        return all(lo <= s <= hi for lo, s, hi in zip(self.min, shape, self.max))

    def as_dict(self) -> dict[str, list[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}

    def __str__(self) -> str:
        if self.static:
            return shape_text(self.opt)
        return " / ".join(shape_text(s) for s in (self.min, self.opt, self.max))


def parse_shape(text: str, what: str = "shape") -> Shape:
    """'1x3x720x1280', '720x1280' (batch 1) or '2x720x1280' (batch 2): N, C, H, W."""
    if not re.fullmatch(r"\d+(x\d+){1,3}", text.strip().lower()):
        raise RtstyleError(f"--{what} {text!r}: expected HxW, NxHxW or NxCxHxW, e.g. 720x1280")
    dims = [int(v) for v in text.lower().split("x")]
    if len(dims) == 2:
        dims = [1, 3, *dims]
    elif len(dims) == 3:
        dims = [dims[0], 3, dims[1], dims[2]]
    if dims[1] != 3:
        raise RtstyleError(f"--{what} {text!r}: style networks take 3 channels, not {dims[1]}")
    if min(dims) < 1:
        raise RtstyleError(f"--{what} {text!r}: every dimension must be at least 1")
    return tuple(dims)  # type: ignore[return-value]


IMAGE_INPUT = "input"  # what `rtstyle export` names the image; other inputs (AdaIN's statistics) are fixed-size


def onnx_inputs(path: Path) -> dict[str, list[int | str]]:
    """Every graph input (weights excluded) with its dims: ints, or names for dynamic ones."""
    import onnx  # here: `shape_text` and the profiles serve jobs that never read an ONNX graph

    try:
        model = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise RtstyleError(f"{path}: no such file") from None
    except Exception as exc:
        raise RtstyleError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    weights = {t.name for t in model.graph.initializer}
    return {i.name: [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                     for d in i.type.tensor_type.shape.dim]
            for i in model.graph.input if i.name not in weights}


def onnx_input(path: Path) -> tuple[str, list[int | str]]:
    """Name and dims of the model's image input: its only input, or the one named `IMAGE_INPUT`
    beside fixed-size ones (an AdaIN export's style statistics and alpha)."""
    inputs = onnx_inputs(path)
    name = next(iter(inputs)) if len(inputs) == 1 else IMAGE_INPUT
    if name not in inputs:
        raise RtstyleError(f"{path}: {len(inputs)} inputs and none named {IMAGE_INPUT!r}: cannot tell the image "
                           f"input apart")
    dynamic = [n for n, dims in inputs.items() if n != name and not all(isinstance(d, int) and d > 0 for d in dims)]
    if dynamic:
        raise RtstyleError(f"{path}: input {dynamic[0]!r} has a dynamic shape; only the image input may")
    dims = inputs[name]
    if len(dims) != 4:
        raise RtstyleError(f"{path}: expected a 4-d image input, got {len(dims)} dims")
    return name, dims


def profile_for(dims: list[int | str], min_shape: Shape | None = None, opt_shape: Shape | None = None,
                max_shape: Shape | None = None, stride: int = 4) -> Profile:
    """The profile for an input with `dims` (NCHW), from what the user asked and the defaults.

    Fixed dimensions of the model win over defaults and must match what the user asked;
    free ones take the user's value or the default. Every shape keeps H and W multiples
    of `stride` and min <= opt <= max.
    """
    fixed = fixed_dims(dims)
    if fixed[1] not in (None, 3):
        raise RtstyleError(f"the model takes {fixed[1]} channels; style networks take 3 (NCHW)")

    def resolve(asked: Shape | None, default: Shape, what: str) -> Shape:
        shape = list(asked or default)
        for i, f in enumerate(fixed):
            if f is None:
                continue
            if asked and asked[i] != f:
                raise RtstyleError(f"--{what} {shape_text(asked)}: the model's input is fixed at "
                                   f"{shape_text(dims)}")
            shape[i] = f
        return tuple(shape)  # type: ignore[return-value]

    opt = resolve(opt_shape, DEFAULT_OPT, "opt")
    # an unasked bound is the default one, widened to take in opt
    lo = resolve(min_shape, tuple(map(min, DEFAULT_MIN, opt)), "min")
    hi = resolve(max_shape, tuple(map(max, DEFAULT_MAX, opt)), "max")
    profile = Profile(lo, opt, hi)
    for name, shape in (("min", lo), ("opt", opt), ("max", hi)):
        if shape[2] % stride or shape[3] % stride:
            raise RtstyleError(f"--{name} {shape_text(shape)}: height and width must be multiples of "
                               f"{stride} (the network's stride)")
    if not (all(a <= b for a, b in zip(lo, opt)) and all(a <= b for a, b in zip(opt, hi))):
        raise RtstyleError(f"optimisation profile {profile}: needs min <= opt <= max in every dimension")
    return profile


def profile_covering(dims: list[int | str], shapes: list[Shape], stride: int = 4) -> Profile:
    """The tightest profile that takes every shape in `shapes` (the NCHW shapes a job will feed,
    `Backend.network_shapes`), tuned for the first. The model's fixed dimensions must agree."""
    for shape in shapes:
        for i, (d, s) in enumerate(zip(fixed_dims(dims), shape)):
            if d is not None and d != s:
                what = "images per call (--batch)" if i == 0 else f"{'CHW'[i - 1]} of {shape_text(shape)}"
                raise RtstyleError(f"the model's input is fixed at {shape_text(dims)}: it cannot take {s} {what}")
    lo, hi = tuple(map(min, *shapes, shapes[0])), tuple(map(max, *shapes, shapes[0]))
    return profile_for(dims, lo, shapes[0], hi, stride)  # type: ignore[arg-type]
