"""`rtstyle live`'s loop: the pipeline into the window sink, key presses into actions.

The pipeline runs on its own threads under the live policy; its sink (`LatestFrame`) only
keeps the newest frame. The main thread owns the window: each turn (`step`) it takes that
frame, lets the style switcher and the quality ladder act, redraws, and reads a key, which
the key table turns into an action. Switching style hands the next batch to another
backend; the pipeline keeps running.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ..backends import Backend
from ..frames import Frame
from ..pipeline import PipelineStats
from ..spec import RANGES
from ..sinks.window import LatestFrame, Window
from ..stream_job import SourceOptions, StreamJob
from ..temporal import TemporalSmoother
from .captures import Captures
from .keys import dispatch
from .quality import QualityLadder
from .switcher import StyleCycle, StyleSwitcher
from .view import ViewState, compose, overlay_lines

REDRAW_EVERY = 0.25  # s: the overlay's numbers refresh even when no new frame comes (paused)
KEY_WAIT_MS = 15


class LiveApp:
    """The parts joined: `window` (a `Window`, or anything with its methods) shows what the
    pipeline makes of `src`; `cycle` is what n/b step through."""

    def __init__(self, src: str, cycle: StyleCycle, window: Window, *, source: SourceOptions,
                 snapshot_dir: Path = Path("."), temporal: TemporalSmoother | None = None, quality: str = "auto"):
        """`quality`: "auto" holds LIVE_FPS by running the network smaller where needed
        (`QualityLadder`); "max" runs every style at its own size, however slow."""
        self.window = window
        self.state = ViewState()
        self.sink = LatestFrame()
        self.styles = StyleSwitcher(cycle, show=self._show, prepare=self._prepare, say=self.state.say)
        self.job = StreamJob(src, None, self.styles.shown, source=source, policy="live", sink=self.sink,
                             temporal=temporal)
        info = self.job.source.info
        self.ladder = QualityLadder((info.height, info.width)) if quality == "auto" else None
        if self.ladder:
            self.ladder.choose(self.styles.shown)
        self.stroke: float | None = None  # set by the , and . keys
        self.temporal = self.job.temporal
        self.smoothing_set_by_user = temporal is not None and temporal.fixed
        self.captures = Captures(snapshot_dir, info.rate)
        self.current: Frame | None = None  # the frame on screen
        self._seen, self._redraw_at = -1, 0.0  # the sink's count at the last redraw; when to redraw anyway

    # The parts' hooks

    def _fitted(self, backend: Backend) -> Backend:
        """`backend` at the stroke size the keys chose, fitted to the ladder."""
        if self.stroke is not None and backend.network_long_side and backend.stroke != self.stroke:
            backend.stroke = self.stroke
            return self.ladder.refit(backend) if self.ladder else backend
        return self.ladder.fit(backend) if self.ladder else backend

    def _show(self, name: str, backend: Backend) -> None:
        """The switcher's: put a loaded style on screen."""
        backend = self._fitted(backend)
        self.temporal.follow(backend.meta)  # frames still in flight take the new strength too
        self.job.pipeline.inference.set_model(backend)

    def _prepare(self, backend: Backend) -> None:
        """The switcher's, on its loader thread: ready for the stream's frames (a TensorRT engine
        is found or built here, while the old style stays on screen)."""
        workload = self.job.pipeline.inference.workload
        if workload:
            backend.prepare(workload)

    # What the keys do (`keys.Controls`)

    def say(self, text: str) -> None:
        self.state.say(text)

    def step_style(self, step: int) -> None:
        self.styles.step(step)

    def toggle_smoothing(self) -> str:
        self.smoothing_set_by_user = True  # the ladder leaves it alone from now on
        self.temporal.toggle()
        return f"temporal smoothing: {self.temporal.describe()}"

    def change_smoothing(self, step: float) -> str:
        """Smoothing strength up or down by `step`; turns smoothing on if it was off."""
        self.smoothing_set_by_user = True
        self.temporal.set_strength(round(self.temporal.strength + step, 2))
        if not self.temporal.enabled:
            self.temporal.toggle()
        return f"temporal smoothing: {self.temporal.describe()}"

    def change_stroke(self, factor: float) -> str:
        """Presets' stroke size times `factor`, for this style and the next ones."""
        shown = self.styles.shown
        if not shown.network_long_side:
            return f"{self.styles.active} has no stroke size to change (presets do)"
        self.stroke = min(max(shown.stroke * factor, RANGES["stroke"][0]), RANGES["stroke"][1])  # as far as --stroke goes
        self.job.pipeline.inference.set_model(self._fitted(shown))
        return f"stroke {self.stroke:.2f}"

    def snapshot(self) -> str | None:
        """What is on screen, without the overlay."""
        if self.current is None:
            return None
        return self.captures.snapshot(compose(self.current, self.state.split))

    def toggle_recording(self) -> str:
        return self.captures.toggle_recording(self.sink)

    def on_key(self, key: int) -> bool:
        """Handle one key (its low byte); False to quit."""
        return dispatch(key, self)

    # The overlay

    def style_label(self) -> str:
        """The style on screen, with the stroke size where the keys changed it."""
        active = self.styles.active
        return active if self.stroke is None else f"{active} (stroke {self.stroke:.2f})"

    def quality_line(self) -> str:
        return self.ladder.describe(self.styles.shown) if self.ladder else "quality max"

    def overlay(self) -> list[str]:
        return overlay_lines(self.style_label(), self.job.pipeline.stats, self.state, self.sink.recorder is not None,
                             self.temporal.describe(), self.quality_line())

    # The loop

    def step(self) -> bool:
        """One turn of the window's loop; False when the user ends it (a quit key, or the window closed)."""
        count, frame = self.sink.latest()
        if frame is not None and not self.state.paused:
            self.current = frame
        now = time.monotonic()
        self.styles.poll()
        if self.ladder and not self.state.paused:
            smoother = None if self.smoothing_set_by_user else self.temporal
            changed = self.ladder.adapt(self.styles.shown, self.job.pipeline.stats, smoother)
            if changed:
                self.state.say(changed, 4)
        if self.current is not None and (count != self._seen or now >= self._redraw_at):
            self._seen, self._redraw_at = count, now + REDRAW_EVERY
            self.window.show(compose(self.current, self.state.split), self.overlay())
        key = self.window.key(KEY_WAIT_MS)
        if self.window.closed():
            return False
        if key == -1:
            return True
        self._redraw_at = 0.0  # show what the key changed at once
        return self.on_key(key)

    def run(self) -> PipelineStats:
        result: list = []
        worker = threading.Thread(target=lambda: result.append(self._run_pipeline()), name="rtstyle-pipeline",
                                  daemon=True)
        self.window.open()
        worker.start()
        try:
            while worker.is_alive() and self.step():
                pass
        finally:
            self.stop()
            worker.join()
            self.styles.join()
            self.window.close()
        if isinstance(result[0], BaseException):
            raise result[0]
        return result[0]

    def stop(self) -> None:
        self.job.stop()

    def _run_pipeline(self) -> PipelineStats | BaseException:
        try:
            return self.job.run()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            return exc
