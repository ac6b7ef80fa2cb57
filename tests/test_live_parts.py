"""`rtstyle live`'s parts without a display: the key table, the style switcher, the quality
ladder, recording, and the loop joining them with a stand-in for the window. Every test runs
with DISPLAY unset. (The real window, on Xvfb, checked by screenshot: test_live.py.)"""

from __future__ import annotations

import itertools
import threading
import time
from fractions import Fraction
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest

from conftest import ROOT, steady_style
from rtstyle.convert import SAMPLE_CLIP
from rtstyle.errors import RtstyleError
from rtstyle.frames import Frame
from rtstyle.live.captures import Captures
from rtstyle.live.keys import BINDINGS, ESC, KEYS, STRENGTH_STEP, STROKE_STEP, Key, bindings, dispatch, help_lines
from rtstyle.live.quality import ADAPT_EVERY, RUNGS, QualityLadder, first_within, next_rung, smoothing_over
from rtstyle.live.switcher import BACKENDS_KEPT, StyleCycle, StyleSwitcher
from rtstyle.live.view import ViewState, overlay_lines
from rtstyle.pipeline import PipelineStats
from rtstyle.sinks.window import LatestFrame, Window, draw_text_box


@pytest.fixture(autouse=True)
def no_display(monkeypatch):
    """None of this may need a display."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def test_the_window_checks_the_display_when_made():
    with pytest.raises(RtstyleError, match="^no display: DISPLAY is not set"):
        Window()


# The key table

class Controls:
    """Records what the keys ask for; each call returns a line to show, as the app's do."""

    def __init__(self):
        self.state, self.calls, self.said = ViewState(), [], []

    def say(self, text: str) -> None:
        self.said.append(text)

    def __getattr__(self, name: str):
        def call(*args):
            self.calls.append((name, *args))
            return f"{name} done"
        return call


ACTIONS = {"n": ("step_style", 1), "b": ("step_style", -1), "t": ("toggle_smoothing",),
           "[": ("change_smoothing", -STRENGTH_STEP), "]": ("change_smoothing", STRENGTH_STEP),
           ",": ("change_stroke", 1 / STROKE_STEP), ".": ("change_stroke", STROKE_STEP),
           "p": ("snapshot",), "r": ("toggle_recording",)}
SWITCHES = {"s": "split", " ": "paused", "h": "help"}


@pytest.mark.parametrize("key, call", ACTIONS.items())
def test_a_key_asks_for_its_action_and_shows_what_it_says(key, call):
    controls = Controls()
    assert dispatch(ord(key), controls)
    assert controls.calls == [call] and controls.said == [f"{call[0]} done"]


@pytest.mark.parametrize("key, switch", SWITCHES.items())
def test_a_view_key_turns_its_switch_over(key, switch):
    controls = Controls()
    assert dispatch(ord(key), controls) and getattr(controls.state, switch)
    assert dispatch(ord(key), controls) and controls.state == ViewState()
    assert controls.calls == [] and controls.said == []


def test_q_and_esc_quit_and_unbound_keys_do_nothing():
    controls = Controls()
    assert not dispatch(ord("q"), controls) and not dispatch(ESC, controls)
    for code in (ord("x"), ord("Q"), 0, 255):
        assert dispatch(code, controls)
    assert controls.calls == [] and controls.said == [] and controls.state == ViewState()


def test_the_help_and_the_docs_name_every_key_the_table_binds():
    named = {"space": ord(" "), "Esc": ESC}
    for key in KEYS:
        assert {named.get(name) or ord(name) for name in key.label.split(" / ")} == set(key.actions), key.label
    assert set(BINDINGS) == {ord(k) for k in (*ACTIONS, *SWITCHES, "q")} | {ESC}
    assert help_lines()[0] == "n / b    next / previous style" and len(help_lines()) == len(KEYS)
    assert "\n".join(help_lines()) in (ROOT / "docs" / "cli.md").read_text()  # generated from the table


def test_a_key_bound_twice_is_refused():
    with pytest.raises(ValueError, match="'x' is bound twice"):
        bindings((Key("x", "one", {ord("x"): print}), Key("x", "two", {ord("x"): print})))


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

def test_the_ladder_decides_from_measured_times():
    budget = 45.0  # 20 fps
    assert first_within(budget, lambda rung: 100 * RUNGS[rung] ** 2) == (2, 25.0)
    assert first_within(budget, lambda rung: 1000.0) == (len(RUNGS) - 1, 1000.0)  # nothing fits: the smallest
    assert next_rung(0, 80, budget) == 1 and next_rung(len(RUNGS) - 1, 80, budget) == len(RUNGS) - 1
    assert next_rung(2, 40, budget) == 2  # fits, and the bigger size would take 90 ms
    assert next_rung(1, 10, budget) == 0 and next_rung(0, 10, budget) == 0
    assert smoothing_over(70, budget) and not smoothing_over(40, budget) and not smoothing_over(None, budget)


class Network:
    """A backend's sizing on an imagined machine: `full_ms` a frame at its own size, the time
    growing with the pixels."""

    network_long_side, infer_min_side = 0, 0

    def __init__(self, full_ms: float):
        self.full_ms, self.infer_scale = full_ms, 1.0

    def scale_for(self, h: int, w: int) -> float:
        return self.infer_scale

    def measured(self) -> PipelineStats:
        stats = PipelineStats()
        for _ in range(20):
            stats.stage("inference").add(self.full_ms * self.infer_scale ** 2)
        return stats


@pytest.mark.parametrize("full_ms, start, settles_at", [(30, 0, 1.0), (70, 0, 0.75), (100, 0, 0.5), (300, 0, 0.35),
                                                         (2000, 0, 0.25), (20, len(RUNGS) - 1, 1.0)])
def test_the_ladder_settles_on_the_largest_size_that_holds_20_fps(full_ms, start, settles_at):
    """Fed the inference times a machine measures, it steps to the largest size within the
    budget (45 ms), from the top or the bottom, and stays there."""
    ladder, network = QualityLadder((360, 640)), Network(full_ms)
    ladder.rung = start
    ladder.fit(network)
    rungs = []
    for look in range(12):
        ladder.adapt(network, network.measured(), now=look * 2 * ADAPT_EVERY)
        rungs.append(ladder.rung)
    assert RUNGS[ladder.rung] == settles_at and rungs[-6:] == [ladder.rung] * 6
    assert ladder.network_size(network) == (round(640 * settles_at), round(360 * settles_at))


def test_the_ladder_looks_every_few_seconds_and_says_what_it_chose():
    ladder, network = QualityLadder((360, 640)), Network(100)
    ladder.fit(network)
    assert ladder.adapt(network, network.measured(), now=10.0) == "quality auto: network 480x270 (0.75 of full)"
    assert not ladder.adapt(network, network.measured(), now=10.0 + 2 * ADAPT_EVERY - 0.1)  # the new size shows first
    assert ladder.adapt(network, network.measured(), now=10.0 + 2 * ADAPT_EVERY) and ladder.rung == 2
    assert not ladder.adapt(network, PipelineStats(), now=100.0)  # nothing measured: nothing changes


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


# Recording and the overlay

def test_recording_starts_and_stops_mid_stream(tmp_path):
    """`r` starts an mp4 of what reaches the sink from then on, timestamps from zero; `r` again
    ends it. Frames before and after are not in it."""
    sink, captures = LatestFrame(), Captures(tmp_path, Fraction(12))
    frames = iter([Frame(i, np.full((72, 128, 3), 20 * i, np.uint8), pts=100 + i, time_base=Fraction(1, 12))
                   for i in range(12)])
    for frame in itertools.islice(frames, 3):
        sink.write(frame)
    said = captures.toggle_recording(sink)
    (path,) = captures.recordings
    assert said == f"recording to {path}" and path.parent == tmp_path and path.suffix == ".mp4"
    for frame in itertools.islice(frames, 6):
        sink.write(frame)
    assert captures.toggle_recording(sink) == f"recorded {path}" and sink.recorder is None
    for frame in frames:
        sink.write(frame)
    with av.open(str(path)) as container:
        got = list(container.decode(video=0))
    assert len(got) == 6 and got[0].time == 0
    assert abs(got[0].to_ndarray(format="rgb24").mean() - 60) < 3  # frame 3, the first after `r`
    assert sink.count == 12 and sink.latest()[1].index == 11 and captures.snapshots == []


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
    from rtstyle.stream_job import SourceOptions

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


@pytest.mark.timeout(120)
def test_the_loop_shows_the_newest_frame_and_runs_the_keys(tmp_path):
    """The loop over a real pipeline: the window gets each frame with the overlay, and a key's
    effect at the next turn: `p` saves what is on screen (without the overlay), `s` splits,
    `h` shows the help, `q` ends it with the pipeline's stats."""
    window = FakeWindow("pshq")
    app = live_app(["mosaic"], window=window, loop=True, snapshot_dir=tmp_path, quality="max")
    stats = app.run()
    assert window.opened and window.ended and window.keys == [] and stats.frames_out > 0
    images, overlays = zip(*window.shown)
    height, width = images[0].shape[:2]
    assert [image.shape[:2] for image in images[-2:]] == [(height, 2 * width)] * 2  # split, then help
    assert overlays[0][0].startswith("mosaic | temporal") and overlays[0][-1] == "h: help | quality max"
    assert overlays[-1][-len(KEYS):] == help_lines()
    (snapshot,) = app.captures.snapshots
    assert (np.array_equal(cv2.cvtColor(cv2.imread(str(snapshot)), cv2.COLOR_BGR2RGB), images[0])
            and app.captures.recordings == [])
