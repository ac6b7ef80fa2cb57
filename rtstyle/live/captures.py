"""The live window's snapshots (`p`) and recordings (`r`), into one folder, named by when
they were taken; the paths are kept for the summary printed at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..sinks.window import LatestFrame, Recorder


def stamp() -> str:
    """The time to the millisecond: two presses in one second get two files."""
    return datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]


@dataclass
class Captures:
    """`folder`: where they go; `rate`: the source's frame rate, for recordings."""

    folder: Path
    rate: Fraction
    snapshots: list[Path] = field(default_factory=list)
    recordings: list[Path] = field(default_factory=list)

    def snapshot(self, image: np.ndarray) -> str:
        """`image` (RGB) to a PNG; returns what the window says."""
        path = self.folder / f"rtstyle-{stamp()}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self.snapshots.append(path)
        return f"saved {path}"

    def toggle_recording(self, sink: LatestFrame) -> str:
        """Start recording what reaches `sink` to an mp4, or stop the recording under way; returns
        what the window says."""
        if sink.recorder:
            return f"recorded {sink.set_recorder(None).path}"
        path = self.folder / f"rtstyle-{stamp()}.mp4"
        sink.set_recorder(Recorder(path, self.rate))
        self.recordings.append(path)
        return f"recording to {path}"
