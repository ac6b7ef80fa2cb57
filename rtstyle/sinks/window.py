"""The window sink of `rtstyle live`: the pipeline's newest frame, shown in an OpenCV window.

The pipeline's threads write into `LatestFrame`, which keeps only the newest frame (and
feeds a `Recorder` while recording); the main thread owns the `Window`, as GUI toolkits
require, and shows that frame with an overlay. `Window` is made only where a display
answers (`check_display`): without one, OpenCV's GUI aborts the whole process.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import RtstyleError
from ..frames import Frame
from ..x11 import XWindows
from .encode import EncoderSettings, VideoFileSink

WINDOW = "rtstyle live"
X_LOOK_EVERY = 0.5  # s between asking the X server whether the window still exists


def check_display() -> None:
    """Fail with one line when no display can be reached: without one, OpenCV's GUI
    aborts the whole process instead of raising."""
    if sys.platform in ("win32", "darwin"):
        return
    display = os.environ.get("DISPLAY", "")
    if not display:
        hint = " (Wayland without XWayland is not supported)" if os.environ.get("WAYLAND_DISPLAY") else ""
        raise RtstyleError(f"no display: DISPLAY is not set{hint}; `rtstyle live` needs a desktop session "
                           f"(on a headless machine use `rtstyle stream`)")
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(f"/tmp/.X11-unix/X{int(number)}")
        else:
            socket.create_connection((host, 6000 + int(number)), timeout=2).close()
    except (OSError, ValueError):
        raise RtstyleError(f"no display: cannot reach the X server at DISPLAY={display}") from None


class Recorder:
    """An mp4 recording started mid-stream: timestamps start at zero."""

    def __init__(self, path: Path, rate: Fraction):
        self.path = path
        self.sink = VideoFileSink(path, EncoderSettings(), rate)
        self.first_pts: int | None = None

    def write(self, frame: Frame) -> None:
        if frame.pts is not None and self.first_pts is None:
            self.first_pts = frame.pts
        pts = frame.pts - self.first_pts if frame.pts is not None else None
        self.sink.write(replace(frame, pts=pts))

    def close(self) -> None:
        self.sink.close()


class LatestFrame:
    """The live pipeline's sink: keeps the newest frame for the window; records when asked."""

    def __init__(self):
        self._lock = threading.Lock()
        self.frame: Frame | None = None
        self.count = 0
        self.recorder: Recorder | None = None

    def write(self, frame: Frame) -> None:
        with self._lock:
            self.frame, self.count = frame, self.count + 1
            if self.recorder:
                self.recorder.write(frame)

    def latest(self) -> tuple[int, Frame | None]:
        with self._lock:
            return self.count, self.frame

    def set_recorder(self, recorder: Recorder | None) -> Recorder | None:
        """Swap the recorder; returns the previous one (closed)."""
        with self._lock:
            previous, self.recorder = self.recorder, recorder
            if previous:
                previous.close()
        return previous

    def close(self, truncated: bool = False) -> None:
        self.set_recorder(None)


def draw_text_box(image: np.ndarray, lines: list[str], origin: tuple[int, int] = (8, 8), scale: float = 0.5) -> None:
    """White text on a dark box, readable on any painting. Lines too wide for the frame break
    at their " | " separators, and the text shrinks (to 0.35) where one part is still too wide:
    at 320x180 the status and the help stay whole."""
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, 1
    x, y = origin
    room = image.shape[1] - 2 * x - 12

    def width(text: str, size: float) -> int:
        return cv2.getTextSize(text, font, size, thick)[0][0]

    fitted: list[str] = []
    for line in lines:
        parts = line.split(" | ")
        current = parts[0]
        for part in parts[1:]:
            if width(f"{current} | {part}", scale) <= room:
                current = f"{current} | {part}"
            else:
                fitted.append(current)
                current = part
        fitted.append(current)
    widest = max(width(line, scale) for line in fitted)
    if widest > room:
        scale = max(0.35, scale * room / widest)
    sizes = [cv2.getTextSize(line, font, scale, thick)[0] for line in fitted]
    line_h = max(h for _, h in sizes) + 8
    w = max(w for w, _ in sizes) + 12
    box = image[y:y + line_h * len(fitted) + 6, x:x + w]
    box[:] = (box * 0.35).astype(np.uint8)
    for i, line in enumerate(fitted):
        cv2.putText(image, line, (x + 6, y + (i + 1) * line_h), font, scale, (255, 255, 255), thick, cv2.LINE_AA)


def window_open(name: str) -> bool:
    """Whether OpenCV's window is still up; once closed, Qt's backend has no window to ask."""
    try:
        return cv2.getWindowProperty(name, cv2.WND_PROP_VISIBLE) >= 1
    except cv2.error:
        return False


class Window:
    """The OpenCV window: RGB pictures with an overlay in, key presses out, and whether the user
    closed it. Checks the display when made, before any window opens; `open` opens it."""

    def __init__(self, title: str = WINDOW):
        check_display()
        self.title = title
        self._x: XWindows | None = None  # our own connection to the X server (Linux)
        self._shown = False  # whether a picture has been shown (before, the window may not exist yet)
        self._listed = False  # whether the X server has listed the window yet
        self._look_at = 0.0  # when to ask it next

    def open(self) -> None:
        cv2.namedWindow(self.title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        self._x = XWindows() if sys.platform.startswith("linux") else None

    def show(self, image: np.ndarray, lines: list[str]) -> None:
        """`image` (RGB, left as it is) with `lines` over it."""
        view = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        draw_text_box(view, lines)
        cv2.imshow(self.title, view)
        self._shown = True

    def key(self, wait_ms: int = 15) -> int:
        """The key pressed within `wait_ms` (its low byte), -1 for none; lets the window redraw."""
        key = cv2.waitKey(wait_ms)
        return -1 if key == -1 else key & 0xFF

    def closed(self) -> bool:
        """Closed by its close button (the window manager: like `q`, not reopened), or destroyed
        behind Qt's back (`xdotool windowclose`), which only the X server can tell."""
        if not self._shown:
            return False
        if not window_open(self.title):
            return True
        now = time.monotonic()
        if self._x and now >= self._look_at:
            self._look_at, listed = now + X_LOOK_EVERY, self._x.exists(self.title)
            if listed is False and self._listed:
                return True
            self._listed = self._listed or bool(listed)
        return False

    def close(self) -> None:
        cv2.destroyAllWindows()
        if self._x:
            self._x.close()
