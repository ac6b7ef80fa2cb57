"""One validated description of a job, built by every surface: the command line, the HTTP
service and Ray's tasks make a `JobSpec` (or, for one image, a `BackendSettings`) and pass it on.

Every range and choice is checked here, once, when the spec is made: a `SpecError` names the
field, and each surface words it its own way (`--stroke must be...` on the command line,
`stroke: must be...` in a 422). The specs are frozen plain data, so Ray carries them and a
cache can key on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import UsageError
from .capabilities import BACKEND_CHOICES, PRECISIONS
from .temporal.settings import DEFAULT_MODE, MODE_NAMES

if TYPE_CHECKING:
    from .backends import Backend, Workload
    from .models.library import Style
    from .sinks import EncoderSettings
    from .temporal import TemporalSmoother

# the ranges of the numbers a job takes (inclusive)
RANGES: dict[str, tuple[float, float]] = {
    "strength": (0.0, 1.0),  # 0 keeps the content
    "stroke": (0.25, 4.0),  # presets: 2 twice as coarse
    "infer_scale": (0.25, 1.0),  # the network's size, a fraction of the frame's
    "temporal_strength": (0.0, 1.0),  # 0 is off
    "crf": (0, 63),  # x264/x265 take up to 51, VP9/AV1 63
}
COMPILERS = ("inductor", "tensorrt")


class SpecError(UsageError):
    """A field out of its range or choices. `str()` is the command line's wording."""

    def __init__(self, name: str, detail: str):
        self.field, self.detail = name, detail
        super().__init__(f"--{name.replace('_', '-')} {detail}")


def check_range(name: str, value: float | None) -> None:
    """`value` (None: not given) within `RANGES[name]`, as a finite number."""
    if value is None:
        return
    low, high = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise SpecError(name, f"must be between {low:g} and {high:g}, got {value:g}" if isinstance(value, (int, float))
                        else f"must be a number between {low:g} and {high:g}, got {value!r}")


def check_choice(name: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise SpecError(name, f"{str(value)[:32]!r}: choose one of {', '.join(choices)}")


@dataclass(frozen=True)
class BackendSettings:
    """Which network, on which runtime, painting how: what `backends.load_backend` takes."""

    style: str | None = None  # a name, a blend (starry:0.7,udnie:0.3) or a weights file; None: the default
    backend: str = "auto"
    precision: str | None = None
    lite: bool = False  # the style's lite variant, at half size on frames of 360 lines or more
    strength: float | None = None  # None: the preset's own (per-style networks), full style (style images)
    stroke: float | None = None  # presets' stroke size; None: the preset's own
    infer_scale: float | None = None
    preserve_color: bool = False
    cuda_graphs: bool = False
    compile: str | None = None

    def __post_init__(self) -> None:
        check_choice("backend", self.backend, BACKEND_CHOICES)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("compile", self.compile, COMPILERS)
        for name in ("strength", "stroke", "infer_scale"):
            check_range(name, getattr(self, name))

    @property
    def runtime_options(self) -> dict:
        """The options PyTorch's runtime takes (`capabilities.RUNTIMES`), as given."""
        return ({"cuda_graphs": True} if self.cuda_graphs else {}) | ({"compile": self.compile} if self.compile else {})

    @property
    def alpha(self) -> float:
        """The strength a style-image model binds its images at: full style unless given."""
        return 1.0 if self.strength is None else self.strength

    def load(self, style: Style | None = None, workload: Workload | None = None, **options) -> Backend:
        """The backend these settings describe, unbound where it takes style images (`with_style`).
        `style` stands in for `self.style` (a `Style` already resolved); `options` go to the runtime
        on top of `runtime_options` (Ray's tasks give ONNX Runtime its thread count)."""
        from .backends.factory import configure

        return configure(self, style, workload, **(self.runtime_options | options))


@dataclass(frozen=True)
class JobSpec:
    """A video job (`convert`, `batch`, a service job, a Ray segment): the network's settings,
    the size it runs at, the smoothing and the encoder."""

    backend: BackendSettings = field(default_factory=BackendSettings)
    height: int | None = None  # resize to this height first (aspect kept)
    scale: float | None = None  # ...or by this factor
    temporal: str = DEFAULT_MODE
    temporal_strength: float | None = None  # None: the style's own
    codec: str = "libx264"
    crf: int = 20
    preset: str = "veryfast"
    batch: int = 1  # frames per network call

    def __post_init__(self) -> None:
        if self.height is not None and self.scale is not None:
            raise SpecError("height", "and --scale are alternatives: give one")
        if self.height is not None and (isinstance(self.height, bool) or not isinstance(self.height, int)
                                        or self.height < 1):
            raise SpecError("height", f"must be a whole number of at least 1, got {self.height}")
        if self.scale is not None and not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale)
                                           and self.scale > 0):
            raise SpecError("scale", f"must be a finite number above 0, got {self.scale}")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise SpecError("batch", f"must be at least 1, got {self.batch}")
        check_choice("temporal", self.temporal, MODE_NAMES)
        check_range("temporal_strength", self.temporal_strength)
        check_range("crf", self.crf)

    def smoother(self) -> TemporalSmoother:
        from .temporal import TemporalSmoother

        return TemporalSmoother(self.temporal, self.temporal_strength)

    def encoder(self) -> EncoderSettings:
        from .sinks import EncoderSettings

        return EncoderSettings(codec=self.codec, crf=self.crf, preset=self.preset)
