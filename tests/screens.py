"""A real X display for the window tests: xdotool, screenshots, and waiting for a window to show a frame."""

from __future__ import annotations

import os
import subprocess
import time

import cv2
import numpy as np


def x(display: str, *args: str, timeout: float = 30) -> str:
    out = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


def window(display: str) -> tuple[str, dict[str, int]]:
    wid = x(display, "search", "--sync", "--name", "^rtstyle live$", timeout=90).split()[0]
    geo = dict(line.split("=") for line in x(display, "getwindowgeometry", "--shell", wid).split())
    return wid, {k: int(v) for k, v in geo.items() if k in ("X", "Y", "WIDTH", "HEIGHT")}


def wait_size(display: str, width: int, height: int, timeout: float = 60) -> str:
    """The window's id once it has taken the frame's size (it starts tiny, before the first frame)."""
    deadline = time.monotonic() + timeout
    while True:
        wid, g = window(display)
        if (g["WIDTH"], g["HEIGHT"]) == (width, height):
            return wid
        assert time.monotonic() < deadline, f"window stayed {g['WIDTH']}x{g['HEIGHT']}, expected {width}x{height}"
        time.sleep(0.3)


def screenshot(display: str) -> np.ndarray:
    png = subprocess.run(["ffmpeg", "-v", "error", "-f", "x11grab", "-video_size", "1280x720", "-i", display,
                          "-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-"],
                         capture_output=True, timeout=30, check=True).stdout
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def window_image(display: str) -> np.ndarray:
    _, g = window(display)
    return screenshot(display)[g["Y"]:g["Y"] + g["HEIGHT"], g["X"]:g["X"] + g["WIDTH"]]


BELOW_OVERLAY = slice(140, None)  # rows the overlay (two lines) never covers


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) if a.shape == b.shape else 255.0


def reexpose(display: str) -> None:
    """Unmap and map the window. Under a bare Xvfb (no window manager), Qt now and then never
    paints a new window (all black) although the app keeps calling imshow; mapping it again
    makes it paint. Measured under CPU load: 17 black starts in 121; all 11 re-mapped ones painted."""
    wid, _ = window(display)
    x(display, "windowunmap", "--sync", wid)
    x(display, "windowmap", "--sync", wid)


def wait_for(display: str, expected: np.ndarray, timeout: float = 45) -> np.ndarray:
    """Screenshots of the window until its part below the overlay shows `expected`."""
    start = time.monotonic()
    shot, reexposed = None, False
    while time.monotonic() < start + timeout:
        shot = window_image(display)
        if diff(shot[BELOW_OVERLAY], expected[BELOW_OVERLAY]) < 4:
            return shot
        if not shot.any() and time.monotonic() > start + 3 and not reexposed:
            reexpose(display)
            reexposed = True
        time.sleep(0.5)
    what = ("never painted (all black)" if shot is not None and not shot.any() else
            f"diff {diff(shot[BELOW_OVERLAY], expected[BELOW_OVERLAY]):.1f}" if shot is not None else "no screenshot")
    raise AssertionError(f"the window never showed the expected frame in {timeout:.0f} s (last: {what}"
                         f"{', after re-exposing it' if reexposed else ''})")
