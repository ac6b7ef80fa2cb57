"""The options a request may carry, read into typed values (one-line 422 errors).

The job's own ranges and choices are `spec`'s, checked where `BackendSettings` and `JobSpec`
are made (`ImageOptions.settings`, `SmoothedOptions.spec`); what is checked here is the
server's: that a value is a number at all, the largest frame it paints, and that a style is
named, never given as a path: a client picks from the server's styles (or blends them as
`starry:0.7,udnie:0.3`), so no request makes the server open a file it names.
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Iterator

from ..models.library import DEFAULT_STYLE, STYLE_IMAGE_DEFAULT, available_styles
from ..spec import BackendSettings, JobSpec, SpecError
from ..temporal import DEFAULT_MODE
from .http import ApiError

_BLEND = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(:[0-9]*\.?[0-9]+)?$")
MAX_HEIGHT = 2160


def style_name(value: object) -> str:
    """A registered style or a blend of registered styles."""
    if value in (None, ""):
        return DEFAULT_STYLE
    if not isinstance(value, str) or len(value) > 512:
        raise ApiError(422, "style: expected a style name (GET /v1/styles lists them)")
    styles = available_styles()
    if value in styles:
        return value
    parts = value.split(",")
    if (len(parts) > 1 or ":" in value) and all(_BLEND.match(p.strip()) for p in parts):
        unknown = [p.split(":")[0].strip() for p in parts if p.split(":")[0].strip() not in styles]
        if not unknown:
            return value
        value = unknown[0]
    raise ApiError(422, f"style: unknown style {value[:64]!r} (GET /v1/styles lists them)")


@dataclass
class ImageOptions:
    style: str = DEFAULT_STYLE
    strength: float | None = None  # None: the style's own
    stroke: float | None = None  # presets: 2 twice as coarse
    height: int | None = None  # resize to this height first
    lite: bool = False

    @classmethod
    def parse(cls, form: dict) -> "ImageOptions":
        opts = cls()
        style_image = form.get("style_image") is not None and not isinstance(form.get("style_image"), str)
        # a style image alone: the built-in arbitrary network, as in the CLI
        opts.style = style_name(form.get("style") or (STYLE_IMAGE_DEFAULT if style_image else None))
        opts.strength = cls.number(form, "strength")
        opts.stroke = cls.number(form, "stroke")
        height = cls.number(form, "height", (8, MAX_HEIGHT))
        opts.height = None if height is None else int(height)
        opts.lite = cls.flag(form, "lite")
        opts.settings  # the ranges, checked as every surface checks them
        return opts

    @staticmethod
    def number(form: dict, name: str, bounds: tuple[float, float] | None = None) -> float | None:
        """A field as a number; `bounds`: the server's own limits (a job's ranges are `spec`'s)."""
        value = form.get(name)
        if value is None or value == "":
            return None
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise ApiError(422, f"{name}: expected a number, got {str(value)[:32]!r}") from None
        if not math.isfinite(x) or (bounds and not bounds[0] <= x <= bounds[1]):
            span = f"between {bounds[0]:g} and {bounds[1]:g}" if bounds else "a finite number"
            raise ApiError(422, f"{name}: must be {span}, got {str(value)[:32]}")
        return x

    @property
    def settings(self) -> BackendSettings:
        """The network's settings these options ask for (a 422 where one is out of its range)."""
        with _checked():
            return BackendSettings(style=self.style, lite=self.lite, strength=self.strength, stroke=self.stroke)

    @staticmethod
    def flag(form: dict, name: str) -> bool:
        value = form.get(name, False)
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("", "0", "false", "no", "off"):
            return False
        raise ApiError(422, f"{name}: expected true or false, got {str(value)[:32]!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ImageOptions":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class SmoothedOptions(ImageOptions):
    """The image options plus the temporal smoothing of a video or a live view."""

    temporal: str = DEFAULT_MODE
    temporal_strength: float | None = None  # None: the style's own

    @classmethod
    def parse(cls, form: dict) -> "SmoothedOptions":
        opts = super().parse(form)
        opts.temporal = str(form.get("temporal") or DEFAULT_MODE)
        opts.temporal_strength = cls.number(form, "temporal_strength")
        opts.spec
        return opts

    @property
    def spec(self) -> JobSpec:
        """The video job these options ask for (a 422 where a setting is out of its range)."""
        with _checked():
            return JobSpec(backend=self.settings, height=self.height, temporal=self.temporal,
                           temporal_strength=self.temporal_strength)


@contextlib.contextmanager
def _checked() -> Iterator[None]:
    """`spec`'s errors as the service words them: `stroke: must be between 0.25 and 4, got 9`."""
    try:
        yield
    except SpecError as exc:
        raise ApiError(422, f"{exc.field}: {exc.detail}") from None
