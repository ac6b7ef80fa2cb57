"""Webcams and capture devices through OpenCV (V4L2 on Linux).

The requested resolution and frame rate are asked of the driver, which may pick the
nearest mode it has; `info` reports what was granted. Frames are stamped from the
capture clock (90 kHz), as network sources are.
"""

from __future__ import annotations

import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2

from ..errors import RtstyleError
from ..frames import Frame
from .files import VideoInfo, output_size
from .network import CLOCK


def _open(device: int | str) -> cv2.VideoCapture:
    """VideoCapture without OpenCV's warnings on stderr; on Linux only V4L2 (no fallbacks
    that print their own errors), and only for a device node that exists."""
    if sys.platform.startswith("linux"):
        node = Path(f"/dev/video{device}" if isinstance(device, int) else device)
        if not node.exists():
            raise RtstyleError(f"camera {device}: {node} does not exist (no camera connected?); "
                               f"use --source FILE or URL for other inputs")
        api = cv2.CAP_V4L2
    else:
        api = cv2.CAP_ANY
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(device, api)
    finally:
        cv2.utils.logging.setLogLevel(previous)


class CameraSource:
    def __init__(self, device: int | str, height: int | None = None, scale: float | None = None, *,
                 width: int | None = None, capture_height: int | None = None, fps: float | None = None):
        self.device = device
        self.name = f"camera {device}"
        self.cap = _open(device)
        if not self.cap.isOpened():
            raise RtstyleError(f"{self.name}: cannot open (no such camera, or it is busy); "
                               f"use --source FILE or URL for other inputs")
        if width:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if capture_height:
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, capture_height)
        if fps:
            self.cap.set(cv2.CAP_PROP_FPS, fps)
        ok, first = self.cap.read()
        if not ok:
            self.cap.release()
            raise RtstyleError(f"{self.name}: opened but delivers no frames")
        self._first = first
        sh, sw = first.shape[:2]
        w, h = output_size(sw, sh, height, scale)
        rate = Fraction(self.cap.get(cv2.CAP_PROP_FPS) or 30).limit_denominator(1001)
        self.info = VideoInfo(w, h, sw, sh, rate, CLOCK, 0, None, "camera")
        self._stop = threading.Event()

    def describe(self) -> str:
        return f"{self.name} ({self.info.source_width}x{self.info.source_height} at {float(self.info.rate):.3g} fps)"

    def __iter__(self) -> Iterator[Frame]:
        origin, index, image = time.monotonic(), 0, self._first
        size = (self.info.width, self.info.height)
        while not self._stop.is_set():
            if image is None:
                ok, image = self.cap.read()
                if not ok:
                    raise RtstyleError(f"{self.name}: stopped delivering frames (unplugged?)")
            now = time.monotonic()
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            if (rgb.shape[1], rgb.shape[0]) != size:
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            yield Frame(index, rgb, round((now - origin) / CLOCK), None, CLOCK, 0, now)
            index, image = index + 1, None

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.cap.release()
