"""`rtstyle live`'s parts without a display: the style switcher, the quality ladder, the
overlay, and the app's keys with a stand-in for the window. Every test runs with DISPLAY
unset. (The real window, on Xvfb, checked by screenshot: test_live.py.)"""

from __future__ import annotations

import itertools
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import steady_style
from rtstyle.convert import SAMPLE_CLIP
from rtstyle.errors import RtstyleError
from rtstyle.live.keys import STROKE_STEP, help_lines
from rtstyle.live.quality import RUNGS, QualityLadder
from rtstyle.live.switcher import BACKENDS_KEPT, StyleCycle, StyleSwitcher
from rtstyle.live.view import overlay_lines
from rtstyle.pipeline import PipelineStats
from rtstyle.sinks.window import draw_text_box


@pytest.fixture(autouse=True)
def no_display(monkeypatch):
    """None of this may need a display."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


# The style switcher

class Loads:
    """A style loader that holds some names back until released and fails others; records the
    threads the loads ran on."""

    def __init__(self, hold=(), fail=None):
        self.hold, self.fail, self.release, self.threads = set(hold), fail or {}, threading.Event(), []

    def __call__(self, name: str):
        self.threads.append(threading.current_thread().name)
        if name in self.hold:
            assert self.release.wait(30)
        if name in self.fail:
            raise self.fail[name]
        return SimpleNamespace(name=name)


def switcher(labels, load, **hooks):
    """A switcher over `labels`, with what it put on screen and what it said."""
    shown, said = [], []
    styles = StyleSwitcher(StyleCycle(labels, load), show=lambda name, b: shown.append((name, b.name)),
                           say=lambda text, seconds: said.append(text), **hooks)
    return styles, shown, said


def test_a_style_loads_off_the_ui_thread_while_the_old_one_stays():
    load, prepared = Loads(hold={"udnie"}), []
    styles, shown, said = switcher(["starry", "udnie"], load,
                                   prepare=lambda b: prepared.append((b.name, threading.current_thread().name)))
    assert styles.active == "starry" and styles.shown.name == "starry" and shown == []  # loaded at once
    t0 = time.monotonic()
    styles.step(1)
    assert time.monotonic() - t0 < 1.0  # the UI thread did not wait for the load
    styles.poll()
    assert styles.active == "starry" and said == ["loading udnie…"]
    load.release.set()
    styles.settle()
    assert styles.active == "udnie" and shown == [("udnie", "udnie")] and said[-1] == "style: udnie"
    assert load.threads == ["MainThread", "rtstyle-style-load"] and prepared == [("udnie", "rtstyle-style-load")]
    styles.step(-1)  # loaded already: at once
    assert styles.active == "starry" and shown[-1] == ("starry", "starry") and len(load.threads) == 2


def test_only_the_last_few_styles_shown_stay_loaded():
    labels = ["starry", "udnie", "mosaic", "candy", "frost", "dusk"]
    assert len(labels) > BACKENDS_KEPT
    styles, shown, _ = switcher(labels, Loads())
    for _ in labels:
        styles.step(1)
        styles.settle()
    assert styles.active == "starry" and [name for name, _ in shown] == labels[1:] + ["starry"]
    assert list(styles.loaded) == (labels[1:] + ["starry"])[-BACKENDS_KEPT:]  # the oldest went


def test_a_style_that_fails_to_load_is_said_and_the_old_one_stays():
    load = Loads(fail={"frost": RtstyleError("frost: damaged"), "buggy": ValueError("oops")})
    styles, shown, said = switcher(["starry", "frost", "buggy"], load)
    styles.step(1)
    styles.settle()
    assert styles.active == "starry" and styles.selected == 0 and said[-1] == "cannot load frost: frost: damaged"
    styles.step(-1)  # a bug in a style's code: said too, the window stays up
    styles.settle()
    assert styles.active == "starry" and said[-1] == "cannot load buggy: internal error: ValueError: oops"
    assert shown == [] and list(styles.loaded) == ["starry"]


def test_the_selection_runs_ahead_of_a_load():
    """`n` twice while the first load runs: the one selected last is shown, the other only loaded."""
    load = Loads(hold={"udnie"})
    styles, shown, said = switcher(["starry", "udnie", "mosaic"], load)
    styles.step(1)
    styles.step(1)  # one load at a time: mosaic's starts once udnie's is done
    assert said == ["loading udnie…"] and styles.active == "starry"
    load.release.set()
    styles.settle()
    assert styles.active == "mosaic" and shown == [("mosaic", "mosaic")]
    assert list(styles.loaded) == ["starry", "udnie", "mosaic"]


# The quality ladder

def test_quality_ladder_holds_the_frame_rate():
    """On a real network: the measurement picks the largest network size within the budget, and
    the running adaptation steps down when inference is slow, up when there is room, and turns
    smoothing off when it alone is over the budget."""
    from rtstyle import load_backend
    from rtstyle.temporal import TemporalSmoother

    roomy, backend = QualityLadder((360, 640), target_fps=0.5), load_backend("mosaic")  # 1.8 s a frame: fits
    roomy.choose(backend)
    assert roomy.rung == 0 and roomy.network_size(backend) == (512, 288)  # mosaic's strokes at 512 px
    tight, backend = QualityLadder((360, 640), target_fps=1e6), load_backend("mosaic")  # nothing fits: smallest
    tight.choose(backend)
    assert tight.rung == len(RUNGS) - 1 and tight.network_size(backend) == (128, 72)

    ladder, backend = QualityLadder((360, 640), target_fps=20), load_backend("mosaic")  # budget 45 ms
    ladder.fit(backend)
    clock = itertools.count(0, 100)

    def looked_at(inference_ms: float, smoothing_ms: float = 5.0, smoother=None) -> str:
        stats = PipelineStats()
        for _ in range(20):
            stats.stage("inference").add(inference_ms)
            stats.stage("postprocess").add(smoothing_ms)
        return ladder.adapt(backend, stats, smoother, now=next(clock))

    assert looked_at(80.0) and ladder.rung == 1 and backend.infer_scale == pytest.approx(0.8 * 0.75)
    assert looked_at(60.0) and ladder.rung == 2
    assert not looked_at(40.0) and ladder.rung == 2  # fits, but the bigger size would not
    assert looked_at(10.0) and ladder.rung == 1  # plenty of room: back up
    smoother = TemporalSmoother("fast")
    assert looked_at(30.0, smoothing_ms=70.0, smoother=smoother).startswith("smoothing off")
    assert not smoother.active and ladder.rung == 1


# The overlay

def test_overlay_text_fits_a_small_frame():
    """At 320x180 the status line and the help break at " | " and shrink to fit: nothing is
    drawn past the frame's right edge (the rightmost columns stay the picture)."""
    image = np.full((180, 320, 3), 200, np.uint8)
    status = "udnie | temporal fast (strength 0.5) | 19.8 fps | latency 140 ms | dropped 12 | REC"
    draw_text_box(image, [status, "h: help | quality auto: network 256x144 (0.5 of full)"])
    assert (image[:, -6:] == 200).all() and (image[:60, :40] < 200).any()
    help_image = np.full((180, 320, 3), 200, np.uint8)
    draw_text_box(help_image, help_lines())
    assert (help_image[:, -6:] == 200).all()


# The app: the parts joined, on a real pipeline, with a stand-in for the window

class FakeWindow:
    """The window sink's methods without a display: keeps what it was shown, and presses `keys`
    one a turn once a frame is on screen."""

    def __init__(self, keys: str = ""):
        self.keys, self.shown, self.opened, self.ended = list(keys), [], False, False

    def open(self) -> None:
        self.opened = True

    def show(self, image: np.ndarray, lines: list[str]) -> None:
        self.shown.append((image.copy(), lines))

    def key(self, wait_ms: int = 15) -> int:
        time.sleep(wait_ms / 1000)
        return ord(self.keys.pop(0)) if self.shown and self.keys else -1

    def closed(self) -> bool:
        return False

    def close(self) -> None:
        self.ended = True


def live_app(styles: list[str], load=None, window=None, loop: bool = False, **options):
    from rtstyle import load_backend
    from rtstyle.live.app import LiveApp
    from rtstyle.stream import SourceOptions

    return LiveApp(str(SAMPLE_CLIP), StyleCycle(styles, load or load_backend), window or FakeWindow(),
                   source=SourceOptions(realtime=True, loop=loop), **options)


def test_t_key_toggles_temporal_smoothing():
    """`t` turns smoothing off and on again, the overlay says so."""
    from rtstyle.temporal import TemporalSmoother

    app = live_app(["starry"], temporal=TemporalSmoother("quality", 0.6), quality="max")
    try:
        assert app.temporal.active and app.job.pipeline.stages[-1].steps == [app.temporal]
        assert app.on_key(ord("t"))
        assert not app.temporal.active and app.state.message == "temporal smoothing: off"
        lines = overlay_lines("starry", app.job.pipeline.stats, app.state, False, app.temporal.describe())
        assert "temporal off" in lines[0]
        app.on_key(ord("t"))
        assert app.temporal.active and app.temporal.describe() == "quality (strength 0.6)"
    finally:
        app.job.source.close()


def test_keys_steer_smoothing_strength_and_stroke_while_it_runs():
    """[ and ] move the smoothing strength (and keep it over style switches), , and . the presets'
    stroke size, for the style shown and the next one; the overlay says the new values."""
    from rtstyle.temporal import TemporalSmoother

    app = live_app(["starry", "udnie"], temporal=TemporalSmoother("fast"), quality="auto")
    try:
        start = app.temporal.strength
        app.on_key(ord("]"))
        assert app.temporal.strength == round(start + 0.1, 2) and f"strength {start + 0.1:g}" in app.state.message
        for _ in range(20):
            app.on_key(ord("["))
        assert app.temporal.strength == 0.0 and not app.temporal.active  # clamped: strength 0 is off
        app.on_key(ord("]"))
        shown = app.job.pipeline.inference.model
        h, w = app.job.source.info.height, app.job.source.info.width
        before = shown.scale_for(h, w)
        app.on_key(ord("."))  # coarser: the network runs smaller
        assert shown.stroke == STROKE_STEP and app.state.message == f"stroke {STROKE_STEP:.2f}"
        assert shown.scale_for(h, w) < before and app.style_label() == f"starry (stroke {STROKE_STEP:.2f})"
        app.on_key(ord("n"))
        app.styles.settle()
        assert app.job.pipeline.inference.model.stroke == STROKE_STEP  # the next preset too
        assert app.temporal.strength == 0.1  # the user's strength, not udnie's own
    finally:
        app.job.source.close()


def test_style_switch_takes_the_new_styles_smoothing_strength(network):
    """Without --temporal-strength, `n` to a network that names no strength (a user's import)
    falls back to the default."""
    from rtstyle.models import import_style, resolve_style
    from rtstyle.temporal import DEFAULT_STRENGTH, TemporalSmoother

    steady = steady_style(network, "steady-live", 0.3)  # a network fine-tuned for stability names its own
    plain = import_style(network, "plain-live").name
    own = resolve_style(steady).meta.temporal_strength
    assert own == 0.3 and resolve_style(plain).meta.temporal_strength is None
    app = live_app([steady, plain], temporal=TemporalSmoother("fast"), quality="max")
    try:
        assert app.temporal.strength == own
        app.on_key(ord("n"))
        app.styles.settle()
        assert app.temporal.strength == DEFAULT_STRENGTH
        app.on_key(ord("b"))  # loaded already: at once
        assert app.temporal.strength == own
    finally:
        app.job.source.close()
