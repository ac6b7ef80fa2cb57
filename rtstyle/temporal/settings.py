"""The smoother's settings: the motion analysis modes and the strength, checked as `spec`
checks every job's. Light to import, since every command's options name them (`rtstyle --help`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mode:
    """How hard to look at the motion: DIS preset and the analysis size (long side, pixels)."""

    preset: str
    long_side: int | None


MODES = {
    "fast": Mode("ultrafast", 320),
    "quality": Mode("medium", 640),
}
MODE_NAMES = ("off", *MODES)
DEFAULT_MODE = "fast"
DEFAULT_STRENGTH = 0.5  # for networks that do not name their own


def check_settings(mode: str, strength: float) -> None:
    """The smoother's settings within `spec`'s choices and ranges (a `SpecError` names the field)."""
    from ..spec import check_choice, check_range  # `spec` reads this module's names

    check_choice("temporal", mode, MODE_NAMES)
    check_range("temporal_strength", strength)
