"""`rtstyle live` in a real OpenCV window on Xvfb, driven with xdotool, checked by screenshots.
(Its parts' logic, without a display: test_live_parts.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import av
import cv2
import numpy as np
import pytest

from rtstyle.convert import SAMPLE_CLIP
from conftest import ffprobe, stream
from screens import BELOW_OVERLAY, diff, wait_for, wait_size, x
from servers import stop

pytestmark = pytest.mark.usefixtures("ffmpeg_tools")


@pytest.mark.timeout(240)
def test_live_window_styles_keys_and_quit(xvfb, tmp_path, photo_file):
    from rtstyle import available_styles, load_backend
    from rtstyle.models.library import needs_style_image

    # a still clip, so every frame stylizes to the same known image
    clip = tmp_path / "still.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-loop", "1", "-i", str(photo_file),
                    "-t", "4", "-r", "12", "-vf", "scale=320:-2", "-pix_fmt", "yuv420p", str(clip)], check=True)
    with av.open(str(clip)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    # live's n/b cycle: the styles that need no style image, lite variants left to --lite
    names = [n for n, s in available_styles().items()
             if not needs_style_image(s) and s.meta.architecture != "transformer_lite"]
    first, second = names[0], names[1]
    expected = {n: load_backend(n)(frame) for n in (first, second)}
    assert diff(expected[first], expected[second]) > 15  # the styles tell apart

    env = {**os.environ, "DISPLAY": xvfb}
    proc = subprocess.Popen([sys.executable, "-m", "rtstyle", "live", "--source", str(clip), "--realtime", "--loop",
                             "--style", first, "--snapshot-dir", str(tmp_path), "--quality", "max"],  # exact frames
                            env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wid = wait_size(xvfb, frame.shape[1], frame.shape[0])
        shot = wait_for(xvfb, expected[first])
        assert diff(shot, frame) > 15  # stylized, not the input
        band = (slice(10, 40), slice(10, 200))  # the overlay's first line: dark box, white text
        assert diff(shot[band], expected[first][band]) > 20
        # a darkened box (its median: text is a minority) with white text on it
        assert np.median(shot[band]) < np.median(expected[first][band])
        white = lambda a: int((a.min(axis=-1) > 235).sum())  # noqa: E731
        assert white(shot[band]) > white(expected[first][band]) + 50

        x(xvfb, "windowfocus", "--sync", wid, "key", "n")  # next style
        wait_for(xvfb, expected[second])

        x(xvfb, "key", "p")  # snapshot: the stylized frame, without the overlay
        x(xvfb, "key", "r")  # record a few seconds
        time.sleep(4)
        x(xvfb, "key", "r")
        x(xvfb, "key", "s")  # split: original | stylized
        w = frame.shape[1]
        wait_size(xvfb, 2 * w, frame.shape[0], timeout=20)
        split = wait_for(xvfb, np.hstack([frame, expected[second]]), timeout=20)
        assert diff(split[BELOW_OVERLAY, :w], frame[BELOW_OVERLAY]) < 4
        assert diff(split[BELOW_OVERLAY, w:], expected[second][BELOW_OVERLAY]) < 4

        x(xvfb, "key", "q")
        out, err = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    snaps = sorted(tmp_path.glob("rtstyle-*.png"))
    assert len(snaps) == 1
    snap = cv2.cvtColor(cv2.imread(str(snaps[0])), cv2.COLOR_BGR2RGB)
    assert diff(snap, expected[second]) < 4  # the whole frame: no overlay in snapshots
    recs = sorted(tmp_path.glob("rtstyle-*.mp4"))
    assert len(recs) == 1
    v = stream(ffprobe(recs[0]), "video")
    assert int(v["nb_read_frames"]) >= 2 and float(v["duration"]) > 1.5
    assert f"wrote {snaps[0]}" in err.replace("\n", "")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("display", [None, ":97"])
def test_no_display_fails_before_any_window(display, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if display:
        env["DISPLAY"] = display
    proc = subprocess.run([sys.executable, "-m", "rtstyle", "live", "--source", str(SAMPLE_CLIP)],
                          env=env, capture_output=True, text=True, timeout=50)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rtstyle: error: no display"), proc.stderr


def press_close_button(display: str, wid: str) -> None:
    """What a window manager's close button does: a WM_DELETE_WINDOW message to the window
    (xdotool 3.2016 can only destroy or kill it). Plain Xlib through ctypes."""
    import ctypes
    import ctypes.util

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    x11 = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    conn = x11.XOpenDisplay(display.encode())
    assert conn, f"cannot open {display}"
    event = XEvent()
    event.xclient.type, event.xclient.window, event.xclient.format = 33, int(wid), 32  # 33: ClientMessage
    event.xclient.message_type = x11.XInternAtom(conn, b"WM_PROTOCOLS", 0)
    event.xclient.data[0] = x11.XInternAtom(conn, b"WM_DELETE_WINDOW", 0)
    x11.XSendEvent(conn, int(wid), 0, 0, ctypes.byref(event))
    x11.XCloseDisplay(conn)  # flushes


@pytest.mark.timeout(120)
@pytest.mark.parametrize("close", ["close button", "xdotool windowclose"])
def test_closing_the_window_ends_live_like_q(xvfb, tmp_path, clip, close):
    """Closing the window ends `live` (exit 0): by its close button it used to come back,
    re-opened by the next frame; destroyed (`xdotool windowclose`) it left a process running
    with no window."""
    env = {**os.environ, "DISPLAY": xvfb}
    proc = subprocess.Popen([sys.executable, "-m", "rtstyle", "live", "--source", str(clip), "--realtime", "--loop",
                             "--style", "mosaic"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wid = wait_size(xvfb, 320, 180)
        time.sleep(1)
        if close == "close button":
            press_close_button(xvfb, wid)
        else:
            x(xvfb, "windowclose", wid)
        err = proc.communicate(timeout=30)[1]
    finally:
        stop(proc)
    assert proc.returncode == 0 and "Traceback" not in err, err


@pytest.mark.timeout(120)
def test_a_file_plays_at_its_own_pace(xvfb, tmp_path, clip):
    """`live` on a file: every frame read at the clip's rate (2 s), not decoded in a rush with
    nearly all frames dropped and the window gone after a moment."""
    env = {**os.environ, "DISPLAY": xvfb}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "rtstyle", "live", "--source", str(clip), "--style", "mosaic",
                           "--stats"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=100)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    summary = re.search(r"frames: (\d+) in, (\d+) out", proc.stderr)
    assert summary and int(summary.group(1)) == 48, proc.stderr[-600:]
    assert took >= 2.0  # the clip's own length, at least
    assert "quality auto: network" in proc.stdout + proc.stderr
