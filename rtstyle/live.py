"""`rtstyle live`: the stylized stream in an OpenCV window, with hotkeys.

The pipeline runs on its own threads under the live policy; its sink only keeps the
newest frame (and feeds the recorder while recording). The main thread owns the
window, as GUI toolkits require: it shows the newest frame with an overlay and turns
key presses into actions. Switching style hands the next batch to another backend;
the pipeline keeps running.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .backends import Backend
from .errors import RtstyleError
from .frames import Frame
from .models.library import (DEFAULT_STYLE, LITE_SUFFIX, available_styles, is_lite,
                              needs_style_image)
from .pipeline import PipelineStats
from .sinks import EncoderSettings, VideoFileSink
from .stream import SourceOptions, StreamJob
from .temporal import TemporalSmoother
from .x11 import XWindows

WINDOW = "rtstyle live"
STRENGTH_STEP = 0.1  # the [ and ] keys
STROKE_STEP = 1.25  # the , and . keys: a factor
STROKE_RANGE = (0.25, 4.0)
BACKENDS_KEPT = 4  # styles kept loaded, so n/b back and forth is instant without holding every style
KEYS = [("n / b", "next / previous style"), ("s", "split: original | stylized"),
        ("t", "temporal smoothing on / off"), ("[ / ]", "smoothing strength down / up"),
        (", / .", "presets: finer / coarser strokes"), ("p", "snapshot to PNG"),
        ("r", "start / stop recording to mp4"), ("space", "pause"), ("h", "this help"), ("q / Esc", "quit")]


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

    def __init__(self, path: Path, rate):
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
    """The live sink: keeps the newest frame for the window; records when asked."""

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


@dataclass
class ViewState:
    style: int = 0
    split: bool = False
    paused: bool = False
    help: bool = False
    message: str = ""
    message_until: float = 0.0

    def say(self, text: str, seconds: float = 2.5) -> None:
        self.message, self.message_until = text, time.monotonic() + seconds


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


def overlay_lines(style: str, stats: PipelineStats, state: ViewState, recording: bool,
                  temporal: str = "off", quality: str = "") -> list[str]:
    s = stats.snapshot(recent=True)
    lat = s["latency"]["median_ms"]
    first = f"{style} | temporal {temporal}"
    first += f" | {s['fps']:.1f} fps | latency {lat:.0f} ms" if lat is not None else " | starting"
    lines = [first + f" | dropped {s['dropped']}" + (" | REC" if recording else "") + (" | PAUSED" if state.paused
                                                                                        else "")]
    if state.message and time.monotonic() < state.message_until:
        lines.append(state.message)
    if state.help:
        lines += [f"{k:8s} {v}" for k, v in KEYS]
    else:
        lines.append(f"h: help | {quality}" if quality else "h: help")
    return lines


def window_open(name: str) -> bool:
    """Whether OpenCV's window is still up; once closed, Qt's backend has no window to ask."""
    try:
        return cv2.getWindowProperty(name, cv2.WND_PROP_VISIBLE) >= 1
    except cv2.error:
        return False


LIVE_FPS = 20.0  # what `--quality auto` holds on any machine
RUNGS = (1.0, 0.75, 0.5, 0.35, 0.25)  # the network's size, as a fraction of what the style asks for
ADAPT_EVERY = 2.0  # seconds between looks at the inference time


class QualityLadder:
    """`--quality auto`: the largest network size that holds LIVE_FPS here. Chosen from a
    short measurement at start (`choose`), stepped down or up while running (`adapt`) from
    the inference stage's recent time, applied to every style the user switches to (`fit`).
    Inference runs on its own thread while decoding, smoothing and display share the other
    cores, so its time per frame is what sets the frame rate."""

    def __init__(self, size: tuple[int, int], target_fps: float = LIVE_FPS):
        self.size = size  # (height, width) of the frames
        self.budget_ms = 0.9 * 1000.0 / target_fps
        self.rung = 0
        self._bases: dict[int, float] = {}
        self._next_look = 0.0

    def fit(self, backend: Backend) -> Backend:
        """Run `backend` at the current rung (a fraction of the scale it would run at)."""
        key = id(backend)
        if key not in self._bases:
            self._bases[key] = backend.scale_for(*self.size)
            backend.infer_min_side = 0  # the ladder decides, not --lite's automatic floor
        backend.infer_scale = self._bases[key] * RUNGS[self.rung]
        return backend

    def refit(self, backend: Backend) -> Backend:
        """`fit` again after the backend's own scale changed (a new stroke size)."""
        self._bases.pop(id(backend), None)
        return self.fit(backend)

    def network_size(self, backend: Backend) -> tuple[int, int]:
        h, w = self.size
        scale = backend.scale_for(h, w)
        return round(w * scale), round(h * scale)

    def choose(self, backend: Backend) -> float:
        """Time the network on a frame of the source's size at each rung, from the top, and keep
        the first within the budget (the last if none is); returns its time in ms."""
        frame = np.random.default_rng(0).integers(0, 256, (*self.size, 3), dtype=np.uint8)
        for self.rung in range(len(RUNGS)):
            self.fit(backend)
            backend(frame)  # warm-up: first runs allocate
            times = []
            for _ in range(3):
                t = time.perf_counter()
                backend(frame)
                times.append((time.perf_counter() - t) * 1000)
            ms = sorted(times)[1]
            if ms <= self.budget_ms:
                break
        return ms

    def adapt(self, backend: Backend, stats: PipelineStats, smoother: TemporalSmoother | None = None) -> str:
        """A step down when inference takes longer than the budget, up when the bigger size would
        fit with room to spare. Smoothing works at the frame's full size (at its analysis size once
        the network runs at or below that), so where it alone is over the budget, it goes off
        (`smoother`, unless the user has set it). Returns what changed ("" when nothing did)."""
        now = time.monotonic()
        if now < self._next_look:
            return ""
        self._next_look = now + ADAPT_EVERY
        stages = stats.snapshot(recent=True)["stages"]
        ms = stages.get("inference", {}).get("median_ms")
        smoothing_ms = stages.get("postprocess", {}).get("median_ms")
        if smoother and smoother.active and smoothing_ms and smoothing_ms > 1.1 * self.budget_ms:
            smoother.toggle()
            self._next_look = now + 2 * ADAPT_EVERY
            return f"smoothing off: it took {smoothing_ms:.0f} ms a frame (t turns it back on)"
        if ms is None:
            return ""
        rung = self.rung
        if ms > 1.1 * self.budget_ms and rung + 1 < len(RUNGS):
            rung += 1
        elif rung > 0 and ms * (RUNGS[rung - 1] / RUNGS[rung]) ** 2 < 0.75 * self.budget_ms:
            rung -= 1  # time grows with the pixels: the square of the scale
        if rung == self.rung:
            return ""
        self.rung = rung
        self.fit(backend)
        self._next_look = now + 2 * ADAPT_EVERY  # let the new size show in the numbers first
        return "network size changed"


@dataclass
class StyleCycle:
    """What the live `n`/`b` keys step through: style labels, how to load one, and (optionally)
    `warm_up(stop)`, work a helper thread can do ahead so that a later switch is quick."""

    labels: list[str]
    load: Callable[[str], Backend]
    start: int = 0  # the label shown first
    warm_up: Callable[[threading.Event], None] | None = None


def style_cycle(first: str | None, lite: bool, load: Callable[[str], Backend]) -> StyleCycle:
    """Every style that needs no style image, starting at `first` (default: the default style).
    Lite variants come in through `lite` (each style's, where it has one; presets are their own),
    and a style file given by path joins the cycle."""
    styles = available_styles()
    names = [n for n, st in styles.items() if not needs_style_image(st) and not is_lite(st)]
    if lite:
        names = [n for n in names if f"{n}{LITE_SUFFIX}" in styles
                 or styles[n].architecture.preset]
    first = first or DEFAULT_STYLE
    if first not in names:
        names.insert(0, first)
    return StyleCycle(names, load, names.index(first))


def style_image_cycle(base: Backend, paths: list[Path], alpha: float = 1.0,
                      preserve_color: bool = False) -> StyleCycle:
    """An arbitrary-style model stepping through style images, each bound when chosen. Where the
    model caches what it computes of a style image (AdaIN's statistics), `warm_up` does that for
    every image ahead, so a switch costs milliseconds. The first image is read here: a bad one
    fails with one line before a window opens."""
    from .images import read_image

    by_label: dict[str, Path] = {}
    for p in paths:
        by_label[p.stem if p.stem not in by_label else f"{p.stem}-{len(by_label)}"] = p
    read_image(paths[0])

    def load(label: str) -> Backend:
        return base.with_style([read_image(by_label[label])], alpha=alpha, preserve_color=preserve_color)

    def warm_up(stop: threading.Event) -> None:
        for label in list(by_label)[1:]:
            if stop.is_set():
                return
            try:
                load(label)
            except RtstyleError:
                pass  # reported when the user picks it

    return StyleCycle(list(by_label), load, warm_up=warm_up if base.adapter.caches_styles else None)


class LiveApp:
    def __init__(self, src: str, styles: list[str], first: int, load: Callable[[str], Backend], *,
                 source: SourceOptions, snapshot_dir: Path = Path("."), window: str = WINDOW,
                 temporal: TemporalSmoother | None = None, quality: str = "auto"):
        """`quality`: "auto" holds LIVE_FPS by running the network smaller where needed
        (`QualityLadder`); "max" runs every style at its own size, however slow."""
        check_display()  # before any window is opened
        self.styles, self.load, self.window = styles, load, window
        self.snapshot_dir = snapshot_dir
        self.state = ViewState(style=first)
        self._backends: OrderedDict[str, Backend] = OrderedDict()  # the last BACKENDS_KEPT styles shown
        self._loading: tuple[str, threading.Thread, list] | None = None  # (name, loader, [backend or error])
        self.sink = LatestFrame()
        self.ladder: QualityLadder | None = None
        first_backend = self.load(styles[first])
        self.job = StreamJob(src, None, first_backend, source=source, policy="live", sink=self.sink,
                             temporal=temporal)
        if quality == "auto":
            info = self.job.source.info
            self.ladder = QualityLadder((info.height, info.width))
            self.ladder.choose(first_backend)
        self.stroke: float | None = None  # set by the , and . keys
        self.active = styles[first]  # the style on screen (the selection runs ahead while one loads)
        self._backends[self.active] = first_backend
        self.temporal = self.job.temporal
        self.smoothing_set_by_user = temporal is not None and temporal.fixed
        self.rate = self.job.source.info.rate
        self.snapshots: list[Path] = []
        self.recordings: list[Path] = []

    def backend(self, name: str) -> Backend:
        """A style that is loaded (the one shown, or one of the last few), fitted to the ladder, at
        the stroke size the keys chose."""
        self._backends.move_to_end(name)
        backend = self._backends[name]
        if self.stroke is not None and backend.network_long_side and backend.stroke != self.stroke:
            backend.stroke = self.stroke
            return self.ladder.refit(backend) if self.ladder else backend
        return self.ladder.fit(backend) if self.ladder else backend

    def change_stroke(self, factor: float) -> str:
        """Presets' stroke size times `factor` (the , and . keys), for this style and the next ones."""
        shown = self._backends[self.active]
        if not shown.network_long_side:
            return f"{self.active} has no stroke size to change (presets do)"
        self.stroke = min(max(shown.stroke * factor, STROKE_RANGE[0]), STROKE_RANGE[1])
        self.job.pipeline.inference.set_model(self.backend(self.active))
        return f"stroke {self.stroke:.2f}"

    def style_label(self) -> str:
        """The style on screen, with the stroke size where the keys changed it (the overlay)."""
        return self.active if self.stroke is None else f"{self.active} (stroke {self.stroke:.2f})"

    def change_smoothing(self, step: float) -> str:
        """Smoothing strength up or down by `step` (the [ and ] keys); turns smoothing on if it was off."""
        self.smoothing_set_by_user = True  # the ladder leaves it alone from now on
        self.temporal.set_strength(round(self.temporal.strength + step, 2))
        if not self.temporal.enabled:
            self.temporal.toggle()
        return f"temporal smoothing: {self.temporal.describe()}"

    def _activate(self, name: str) -> None:
        backend = self.backend(name)
        self.temporal.follow(backend.meta)  # frames still in flight take the new strength too
        self.job.pipeline.inference.set_model(backend)
        self.active = name
        while len(self._backends) > BACKENDS_KEPT:  # the oldest goes, never the one shown
            self._backends.popitem(last=False)
        self.state.say(f"style: {name}")

    def _select(self, name: str) -> None:
        """Show `name`: at once if it is loaded, else once a helper thread has loaded it (an ONNX
        export or an engine build takes a while; the window keeps running with the old style)."""
        if name in self._backends:
            self._activate(name)
        elif self._loading is None:
            result: list = []
            loader = threading.Thread(target=self._load_into, args=(name, result), name="rtstyle-style-load",
                                      daemon=True)
            self._loading = (name, loader, result)
            loader.start()
            self.state.say(f"loading {name}…", 60)
        # else: one load at a time; `poll_load` starts the next once this one is done

    def _load_into(self, name: str, result: list) -> None:
        """On the loader thread: load `name` and get it ready for the stream's frames (a TensorRT
        engine is found or built here, while the old style stays on screen)."""
        try:
            backend = self.load(name)
            workload = self.job.pipeline.inference.workload
            if workload:
                backend.prepare(workload)
            result.append(backend)
        except RtstyleError as exc:
            result.append(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one style must not take the window down
            result.append(RtstyleError(f"internal error: {type(exc).__name__}: {exc}"))

    def poll_load(self) -> None:
        """On the UI thread: take a finished load, and switch to it if it is still the one selected."""
        if self._loading is None or self._loading[1].is_alive():
            return
        name, _, (result,) = self._loading
        self._loading = None
        if isinstance(result, RtstyleError):
            self.state.say(f"cannot load {name}: {result}", 5)
            if self.styles[self.state.style] == name:
                self.state.style = self.styles.index(self.active)
                return
        else:
            self._backends[name] = result
        self._select(self.styles[self.state.style])  # the selection may have moved on meanwhile

    def settle(self, timeout: float = 600.0) -> None:
        """Wait until the selected style is loaded and shown (scripted use and tests)."""
        deadline = time.monotonic() + timeout
        while self._loading is not None and time.monotonic() < deadline:
            self._loading[1].join(max(0.0, deadline - time.monotonic()))
            self.poll_load()

    def quality_line(self) -> str:
        """What the ladder chose, for the overlay: the network's size and the fraction of full."""
        if not self.ladder:
            return "quality max"
        w, h = self.ladder.network_size(self.backend(self.active))
        return f"quality auto: network {w}x{h} ({RUNGS[self.ladder.rung]:g} of full)"

    def stop(self) -> None:
        self.job.stop()

    def _stamp(self) -> str:
        return datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]

    def _compose(self, frame: Frame) -> np.ndarray:
        image = frame.image
        if self.state.split and frame.original is not None and frame.original.shape == image.shape:
            image = np.hstack([frame.original, image])
        return image

    def on_key(self, key: int, current: Frame | None) -> bool:
        """Handle one key (`current`: the frame on screen); False to quit."""
        st, ch = self.state, chr(key) if 0 <= key < 256 else ""
        if key == 27 or ch == "q":
            return False
        if ch in ("n", "b"):
            st.style = (st.style + (1 if ch == "n" else -1)) % len(self.styles)
            self._select(self.styles[st.style])
        elif ch == "s":
            st.split = not st.split
        elif ch == "t":
            self.smoothing_set_by_user = True  # the ladder leaves it alone from now on
            self.temporal.toggle()
            st.say(f"temporal smoothing: {self.temporal.describe()}")
        elif ch in ("[", "]"):
            st.say(self.change_smoothing(STRENGTH_STEP if ch == "]" else -STRENGTH_STEP))
        elif ch in (",", "."):
            st.say(self.change_stroke(STROKE_STEP if ch == "." else 1 / STROKE_STEP))
        elif ch == " ":
            st.paused = not st.paused
        elif ch == "h":
            st.help = not st.help
        elif ch == "p" and current is not None:  # what is on screen, without the overlay
            path = self.snapshot_dir / f"rtstyle-{self._stamp()}.png"
            cv2.imwrite(str(path), cv2.cvtColor(self._compose(current), cv2.COLOR_RGB2BGR))
            self.snapshots.append(path)
            st.say(f"saved {path}")
        elif ch == "r":
            if self.sink.recorder:
                path = self.sink.set_recorder(None).path
                st.say(f"recorded {path}")
            else:
                path = self.snapshot_dir / f"rtstyle-{self._stamp()}.mp4"
                self.sink.set_recorder(Recorder(path, self.rate))
                self.recordings.append(path)
                st.say(f"recording to {path}")
        return True

    def run(self) -> PipelineStats:
        result: list = []
        worker = threading.Thread(target=lambda: result.append(self._run_pipeline()), name="rtstyle-pipeline",
                                  daemon=True)
        cv2.namedWindow(self.window, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        worker.start()
        seen, current, redraw_at, shown = -1, None, 0.0, False
        x_server = XWindows() if sys.platform.startswith("linux") else None
        in_x, look_at = False, 0.0  # whether the X server has listed our window yet; when to ask next
        try:
            while worker.is_alive():
                count, frame = self.sink.latest()
                if frame is not None and not self.state.paused:
                    current = frame
                now = time.monotonic()
                self.poll_load()
                if self.ladder and not self.state.paused:
                    smoother = None if self.smoothing_set_by_user else self.temporal
                    changed = self.ladder.adapt(self.backend(self.active),
                                                self.job.pipeline.stats, smoother)
                    if changed:
                        self.state.say(changed if changed.startswith("smoothing") else self.quality_line(), 4)
                if current is not None and (count != seen or now >= redraw_at):  # new frame, or refresh the overlay
                    seen, redraw_at = count, now + 0.25
                    view = cv2.cvtColor(self._compose(current), cv2.COLOR_RGB2BGR)
                    draw_text_box(view, overlay_lines(self.style_label(), self.job.pipeline.stats,
                                                      self.state, self.sink.recorder is not None,
                                                      self.temporal.describe(), self.quality_line()))
                    cv2.imshow(self.window, view)
                    shown = True
                key = cv2.waitKey(15)
                if shown and not window_open(self.window):
                    break  # closed by its close button (the window manager): like `q`, not reopened
                if shown and x_server and now >= look_at:  # destroyed behind Qt's back (xdotool windowclose)
                    look_at, listed = now + 0.5, x_server.exists(self.window)
                    if listed is False and in_x:
                        break
                    in_x = in_x or bool(listed)
                if key != -1:
                    if not self.on_key(key & 0xFF, current):
                        break
                    redraw_at = 0.0
        finally:
            self.stop()
            worker.join()
            if self._loading:  # never leave a thread inside torch as the process exits
                self._loading[1].join()
            cv2.destroyAllWindows()
            if x_server:
                x_server.close()
        if isinstance(result[0], BaseException):
            raise result[0]
        return result[0]

    def _run_pipeline(self) -> PipelineStats | BaseException:
        try:
            return self.job.run()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            return exc
