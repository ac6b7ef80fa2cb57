"""The unit that travels through the pipeline: one video frame and its timing."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass
class Frame:
    index: int
    image: np.ndarray  # (H, W, 3) uint8 RGB
    pts: int | None = None
    duration: int | None = None
    time_base: Fraction | None = None
    rotation: int = 0  # display rotation in degrees, counter-clockwise
    captured_at: float = 0.0  # time.monotonic() when the source produced it
    original: np.ndarray | None = None  # the preprocessed input, kept after stylization
    styled_by: int = 0  # which model stylized it: changes when the style is switched mid-stream
    styled_at: float = 1.0  # the fraction of its size the network ran at (`--lite`: 0.5)

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, where the source knows it."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)
