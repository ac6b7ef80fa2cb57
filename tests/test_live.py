"""`rtstyle live` in a real OpenCV window on Xvfb, driven with xdotool, checked by screenshots."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

import av
import cv2
import numpy as np
import pytest

from rtstyle.convert import SAMPLE_CLIP
from conftest import ffprobe, steady_style, stream
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


def test_t_key_toggles_temporal_smoothing(xvfb, monkeypatch):
    """The hotkey handler, without a window: `t` turns smoothing off and on again, the overlay says so."""
    from rtstyle import load_backend
    from rtstyle.live import LiveApp, overlay_lines
    from rtstyle.stream import SourceOptions
    from rtstyle.temporal import TemporalSmoother

    monkeypatch.setenv("DISPLAY", xvfb)
    app = LiveApp(str(SAMPLE_CLIP), ["starry"], 0, load_backend,
                  source=SourceOptions(realtime=True), temporal=TemporalSmoother("quality", 0.6), quality="max")
    try:
        assert app.temporal.active and app.job.pipeline.stages[-1].steps == [app.temporal]
        assert app.on_key(ord("t"), None)
        assert not app.temporal.active and app.state.message == "temporal smoothing: off"
        lines = overlay_lines("starry", app.job.pipeline.stats, app.state, False, app.temporal.describe())
        assert "temporal off" in lines[0]
        app.on_key(ord("t"), None)
        assert app.temporal.active and app.temporal.describe() == "quality (strength 0.6)"
    finally:
        app.job.source.close()


def test_keys_steer_smoothing_strength_and_stroke_while_it_runs(xvfb, monkeypatch):
    """[ and ] move the smoothing strength (and keep it over style switches), , and . the presets'
    stroke size, for the style shown and the next one; the overlay says the new values."""
    from rtstyle import load_backend
    from rtstyle.live import STROKE_STEP, LiveApp
    from rtstyle.stream import SourceOptions
    from rtstyle.temporal import TemporalSmoother

    monkeypatch.setenv("DISPLAY", xvfb)
    app = LiveApp(str(SAMPLE_CLIP), ["starry", "udnie"], 0, load_backend,
                  source=SourceOptions(realtime=True), temporal=TemporalSmoother("fast"), quality="auto")
    try:
        start = app.temporal.strength
        app.on_key(ord("]"), None)
        assert app.temporal.strength == round(start + 0.1, 2) and f"strength {start + 0.1:g}" in app.state.message
        for _ in range(20):
            app.on_key(ord("["), None)
        assert app.temporal.strength == 0.0 and not app.temporal.active  # clamped: strength 0 is off
        app.on_key(ord("]"), None)
        shown = app.job.pipeline.inference.model
        h, w = app.job.source.info.height, app.job.source.info.width
        before = shown.scale_for(h, w)
        app.on_key(ord("."), None)  # coarser: the network runs smaller
        assert shown.stroke == STROKE_STEP and app.state.message == f"stroke {STROKE_STEP:.2f}"
        assert shown.scale_for(h, w) < before and app.style_label() == f"starry (stroke {STROKE_STEP:.2f})"
        app.on_key(ord("n"), None)
        app.settle()
        assert app.job.pipeline.inference.model.stroke == STROKE_STEP  # the next preset too
        assert app.temporal.strength == 0.1  # the user's strength, not udnie's own
    finally:
        app.job.source.close()


def test_style_switch_takes_the_new_styles_smoothing_strength(xvfb, monkeypatch, network):
    """Without --temporal-strength, `n` to a network that names no strength (a user's import)
    falls back to the default."""
    from rtstyle import load_backend
    from rtstyle.live import LiveApp
    from rtstyle.models import import_style, resolve_style
    from rtstyle.stream import SourceOptions
    from rtstyle.temporal import DEFAULT_STRENGTH, TemporalSmoother

    monkeypatch.setenv("DISPLAY", xvfb)
    steady = steady_style(network, "steady-live", 0.3)  # a network fine-tuned for stability names its own
    plain = import_style(network, "plain-live").name
    own = resolve_style(steady).meta.temporal_strength
    assert own == 0.3 and resolve_style(plain).meta.temporal_strength is None
    app = LiveApp(str(SAMPLE_CLIP), [steady, plain], 0, load_backend,
                  source=SourceOptions(realtime=True), temporal=TemporalSmoother("fast"), quality="max")
    try:
        assert app.temporal.strength == own
        app.on_key(ord("n"), None)
        app.settle()
        assert app.temporal.strength == DEFAULT_STRENGTH
        app.on_key(ord("b"), None)  # loaded already: at once
        assert app.temporal.strength == own
    finally:
        app.job.source.close()


def test_styles_load_off_the_ui_thread_and_only_a_few_stay_loaded(xvfb, monkeypatch):
    """`n` on a style not yet loaded returns at once (the window keeps showing the old style, and
    says so); the switch happens when the load is done; a style that fails to load is said, and
    the old one stays. At most BACKENDS_KEPT stay loaded."""
    from rtstyle import load_backend
    from rtstyle.errors import RtstyleError
    from rtstyle.live import BACKENDS_KEPT, LiveApp
    from rtstyle.stream import SourceOptions

    monkeypatch.setenv("DISPLAY", xvfb)
    styles = ["starry", "udnie", "mosaic", "candy", "frost", "dusk"]
    assert len(styles) > BACKENDS_KEPT
    release = threading.Event()

    def slow_load(name):
        if name == "udnie":
            release.wait(30)  # an export or an engine build, as long as the test likes
        if name == "frost" and broken.is_set():
            raise RtstyleError("frost: damaged")
        return load_backend(name)

    broken = threading.Event()

    app = LiveApp(str(SAMPLE_CLIP), styles, 0, slow_load, source=SourceOptions(realtime=True), quality="max")
    try:
        t0 = time.monotonic()
        app.on_key(ord("n"), None)
        assert time.monotonic() - t0 < 1.0  # the UI thread did not wait for the load
        app.poll_load()
        assert app.active == "starry" and "loading udnie" in app.state.message
        release.set()
        app.settle()
        assert app.active == "udnie" and app.state.message == "style: udnie"
        for _ in styles:
            app.on_key(ord("n"), None)
            app.settle()
        assert app.active == "udnie" and len(app._backends) <= BACKENDS_KEPT
        app._backends.pop("frost", None)
        broken.set()  # a style that fails to load: said in the window, the old one stays
        app.state.style = styles.index("candy")
        app.on_key(ord("n"), None)
        app.settle()
        assert app.active == "udnie" and "cannot load frost: frost: damaged" in app.state.message
        assert styles[app.state.style] == "udnie"
    finally:
        release.set()
        app.job.source.close()


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


def test_quality_ladder_holds_the_frame_rate():
    """`--quality auto` without a window: the measurement picks the largest network size
    within the budget, and the running adaptation steps down when inference is slow, up when
    there is room, and turns smoothing off when it alone is over the budget."""
    from rtstyle import load_backend
    from rtstyle.live import RUNGS, QualityLadder
    from rtstyle.pipeline import PipelineStats
    from rtstyle.temporal import TemporalSmoother

    roomy, backend = QualityLadder((360, 640), target_fps=0.5), load_backend("mosaic")  # 1.8 s a frame: fits
    roomy.choose(backend)
    assert roomy.rung == 0 and roomy.network_size(backend) == (512, 288)  # mosaic's strokes at 512 px
    tight, backend = QualityLadder((360, 640), target_fps=1e6), load_backend("mosaic")  # nothing fits: smallest
    tight.choose(backend)
    assert tight.rung == len(RUNGS) - 1 and tight.network_size(backend) == (128, 72)

    ladder, backend = QualityLadder((360, 640), target_fps=20), load_backend("mosaic")  # budget 45 ms
    ladder.fit(backend)

    def looked_at(inference_ms: float, smoothing_ms: float = 5.0, smoother=None) -> str:
        stats = PipelineStats()
        for _ in range(20):
            stats.stage("inference").add(inference_ms)
            stats.stage("postprocess").add(smoothing_ms)
        ladder._next_look = 0.0
        return ladder.adapt(backend, stats, smoother)

    assert looked_at(80.0) and ladder.rung == 1 and backend.infer_scale == pytest.approx(0.8 * 0.75)
    assert looked_at(60.0) and ladder.rung == 2
    assert not looked_at(40.0) and ladder.rung == 2  # fits, but the bigger size would not
    assert looked_at(10.0) and ladder.rung == 1  # plenty of room: back up
    smoother = TemporalSmoother("fast")
    assert looked_at(30.0, smoothing_ms=70.0, smoother=smoother).startswith("smoothing off")
    assert not smoother.active and ladder.rung == 1


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


def test_overlay_text_fits_a_small_frame():
    """At 320x180 the status line and the help break at " | " and shrink to fit: nothing is
    drawn past the frame's right edge (the rightmost columns stay the picture)."""
    from rtstyle.live import KEYS, draw_text_box

    image = np.full((180, 320, 3), 200, np.uint8)
    status = "udnie | temporal fast (strength 0.5) | 19.8 fps | latency 140 ms | dropped 12 | REC"
    draw_text_box(image, [status, "h: help | quality auto: network 256x144 (0.5 of full)"])
    assert (image[:, -6:] == 200).all() and (image[:60, :40] < 200).any()
    help_image = np.full((180, 320, 3), 200, np.uint8)
    draw_text_box(help_image, [f"{k:8s} {v}" for k, v in KEYS])
    assert (help_image[:, -6:] == 200).all()
