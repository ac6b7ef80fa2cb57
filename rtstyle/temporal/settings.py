"""The smoother's settings, checked in one place: the motion analysis modes and the strength.
Light to import, since every command's options name them (`rtstyle --help`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RtstyleError, UsageError


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
    if mode not in MODE_NAMES:
        raise RtstyleError(f"--temporal {mode!r}: choose one of {', '.join(MODE_NAMES)}")
    if not 0.0 <= strength <= 1.0:
        raise UsageError(f"--temporal-strength must be between 0 and 1, got {strength}")
