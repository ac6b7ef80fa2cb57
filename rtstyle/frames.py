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
    styled_at: float = 1.0  # the fraction of its size the network ran at (`--lite`: 0.5); see `network_scale`

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, where the source knows it."""
        if self.pts is None or self.time_base is None:
            return None
        return float(self.pts * self.time_base)


def network_scale(model, h: int, w: int) -> float:
    """The fraction of an h x w frame's size `model` runs its network at: a backend's `scale_for`,
    1 for models that do not say (the smoother then treats the frame as painted at full size)."""
    scale_for = getattr(model, "scale_for", None)
    return scale_for(h, w) if scale_for else 1.0
