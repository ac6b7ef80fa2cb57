"""What the live window shows: the picture (stylized, or split with the original) and the
overlay's lines. Plain functions of the view's state, so they are checked without a window."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..frames import Frame
from ..pipeline import PipelineStats
from .keys import help_lines


@dataclass
class ViewState:
    """The window's switches (the keys turn them) and its passing message."""

    split: bool = False
    paused: bool = False
    help: bool = False
    message: str = ""
    message_until: float = 0.0

    def say(self, text: str, seconds: float = 2.5) -> None:
        self.message, self.message_until = text, time.monotonic() + seconds


def compose(frame: Frame, split: bool) -> np.ndarray:
    """The picture on screen (and in snapshots): the stylized frame, or original | stylized."""
    image = frame.image
    if split and frame.original is not None and frame.original.shape == image.shape:
        image = np.hstack([frame.original, image])
    return image


def overlay_lines(style: str, stats: PipelineStats, state: ViewState, recording: bool,
                  temporal: str = "off", quality: str = "") -> list[str]:
    """The status line, the passing message, then the help (or where to find it)."""
    s = stats.snapshot(recent=True)
    lat = s["latency"]["median_ms"]
    first = f"{style} | temporal {temporal}"
    first += f" | {s['fps']:.1f} fps | latency {lat:.0f} ms" if lat is not None else " | starting"
    lines = [first + f" | dropped {s['dropped']}" + (" | REC" if recording else "") + (" | PAUSED" if state.paused
                                                                                        else "")]
    if state.message and time.monotonic() < state.message_until:
        lines.append(state.message)
    if state.help:
        lines += help_lines()
    else:
        lines.append(f"h: help | {quality}" if quality else "h: help")
    return lines
