"""`--quality auto`: the largest network size that holds LIVE_FPS on this machine.

The decisions are plain functions of measured times (`first_within`, `next_rung`,
`smoothing_over`); `QualityLadder` applies them to a backend and to the pipeline's stats.
Inference runs on its own thread while decoding, smoothing and display share the other
cores, so its time per frame is what sets the frame rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..backends import Backend
from ..pipeline import PipelineStats
from ..temporal import TemporalSmoother

LIVE_FPS = 20.0  # what `--quality auto` holds on any machine
RUNGS = (1.0, 0.75, 0.5, 0.35, 0.25)  # the network's size, as a fraction of what the style asks for
ADAPT_EVERY = 2.0  # seconds between looks at the inference time
OVER, ROOM = 1.1, 0.75  # over the budget: above 1.1 times it; room to spare: below 0.75 times it


def budget_ms(target_fps: float) -> float:
    """Inference's share of a frame at `target_fps`: 90 %, the rest for everything else."""
    return 0.9 * 1000.0 / target_fps


def first_within(budget: float, time_at: Callable[[int], float]) -> tuple[int, float]:
    """The first rung from the top whose time (`time_at(rung)`, ms) is within `budget`, the last
    if none is; with its time."""
    for rung in range(len(RUNGS)):
        ms = time_at(rung)
        if ms <= budget:
            break
    return rung, ms


def next_rung(rung: int, inference_ms: float, budget: float) -> int:
    """A step down when inference takes longer than the budget, up when the bigger size would fit
    with room to spare (time grows with the pixels: the square of the scale)."""
    if inference_ms > OVER * budget and rung + 1 < len(RUNGS):
        return rung + 1
    if rung > 0 and inference_ms * (RUNGS[rung - 1] / RUNGS[rung]) ** 2 < ROOM * budget:
        return rung - 1
    return rung


def smoothing_over(smoothing_ms: float | None, budget: float) -> bool:
    """Whether smoothing alone takes longer than the frame's budget."""
    return bool(smoothing_ms) and smoothing_ms > OVER * budget


def time_ms(backend: Backend, frame: np.ndarray, runs: int = 3) -> float:
    """The median of `runs` timed calls, after a warm-up one (first runs allocate)."""
    backend(frame)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        backend(frame)
        times.append((time.perf_counter() - t) * 1000)
    return sorted(times)[runs // 2]


class QualityLadder:
    """Chosen from a short measurement at start (`choose`), stepped down or up while running
    (`adapt`), applied to every style the user switches to (`fit`)."""

    def __init__(self, size: tuple[int, int], target_fps: float = LIVE_FPS):
        self.size = size  # (height, width) of the frames
        self.budget_ms = budget_ms(target_fps)
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

    def describe(self, backend: Backend) -> str:
        """What the ladder chose, for the overlay: the network's size and the fraction of full."""
        w, h = self.network_size(backend)
        return f"quality auto: network {w}x{h} ({RUNGS[self.rung]:g} of full)"

    def choose(self, backend: Backend) -> float:
        """Time the network on a frame of the source's size at each rung, from the top, and keep
        the first within the budget; returns its time in ms."""
        frame = np.random.default_rng(0).integers(0, 256, (*self.size, 3), dtype=np.uint8)

        def time_at(rung: int) -> float:
            self.rung = rung
            return time_ms(self.fit(backend), frame)

        self.rung, ms = first_within(self.budget_ms, time_at)
        return ms

    def adapt(self, backend: Backend, stats: PipelineStats, smoother: TemporalSmoother | None = None,
              now: float | None = None) -> str:
        """Look at the inference stage's recent time (every ADAPT_EVERY s) and step the rung. Smoothing
        works at the frame's full size (at its analysis size once the network runs at or below that),
        so where it alone is over the budget, it goes off (`smoother`, unless the user has set it).
        Returns what to tell the user ("" when nothing changed)."""
        now = time.monotonic() if now is None else now
        if now < self._next_look:
            return ""
        self._next_look = now + ADAPT_EVERY
        stages = stats.snapshot(recent=True)["stages"]
        ms = stages.get("inference", {}).get("median_ms")
        smoothing_ms = stages.get("postprocess", {}).get("median_ms")
        if smoother and smoother.active and smoothing_over(smoothing_ms, self.budget_ms):
            smoother.toggle()
            self._next_look = now + 2 * ADAPT_EVERY
            return f"smoothing off: it took {smoothing_ms:.0f} ms a frame (t turns it back on)"
        if ms is None or (rung := next_rung(self.rung, ms, self.budget_ms)) == self.rung:
            return ""
        self.rung = rung
        self.fit(backend)
        self._next_look = now + 2 * ADAPT_EVERY  # let the new size show in the numbers first
        return self.describe(backend)
