"""Per-stage timings, throughput, drops and capture-to-sink latency.

Stage threads record into `PipelineStats` while it runs; `snapshot()` reads it from any
thread. Percentiles come from a log-spaced histogram (1 % wide buckets) for the whole
run and from a short window for the live line, so memory stays constant however long
the pipeline runs.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

_BUCKET = math.log(1.01)  # bucket width: 1 % of the value
_MIN_MS = 0.001


class Distribution:
    """Median/p95 of millisecond samples: over the last `window` and over the whole run."""

    def __init__(self, window: int = 256):
        self.recent: deque[float] = deque(maxlen=window)
        self.counts: dict[int, int] = {}
        self.n = 0

    def add(self, ms: float) -> None:
        self.recent.append(ms)
        b = int(math.log(max(ms, _MIN_MS) / _MIN_MS) / _BUCKET)
        self.counts[b] = self.counts.get(b, 0) + 1
        self.n += 1

    def recent_percentile(self, q: float) -> float | None:
        values = list(self.recent)
        return float(np.percentile(values, q)) if values else None

    def percentile(self, q: float) -> float | None:
        """Whole-run percentile, exact to the 1 % bucket width."""
        if not self.n:
            return None
        rank, seen = q / 100 * (self.n - 1), 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen > rank:
                return _MIN_MS * math.exp((b + 0.5) * _BUCKET)
        return None

    def summary(self, recent: bool = False) -> dict[str, float | None]:
        pick = self.recent_percentile if recent else self.percentile
        return {"median_ms": pick(50), "p95_ms": pick(95)}


@dataclass
class PipelineStats:
    """What a pipeline run has done so far. Written by the stage threads."""

    stages: dict[str, Distribution] = field(default_factory=dict)
    latency: Distribution = field(default_factory=Distribution)  # capture -> written by the sink
    frames_in: int = 0
    frames_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # by the queue that dropped them
    started: float = 0.0
    finished: float = 0.0
    _out_times: deque = field(default_factory=lambda: deque(maxlen=64))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def stage(self, name: str) -> Distribution:
        with self._lock:
            return self.stages.setdefault(name, Distribution())

    def drop(self, where: str, n: int = 1) -> None:
        with self._lock:
            self.dropped[where] = self.dropped.get(where, 0) + n

    def written(self, captured_at: float) -> None:
        now = time.monotonic()
        self.frames_out += 1
        self._out_times.append(now)
        if captured_at:
            self.latency.add((now - captured_at) * 1000)

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def elapsed(self) -> float:
        return ((self.finished or time.monotonic()) - self.started) if self.started else 0.0

    @property
    def fps(self) -> float:
        """Average output rate over the whole run."""
        return self.frames_out / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def current_fps(self) -> float:
        """Output rate over the last frames (up to 64, at most 3 s back)."""
        times = [t for t in list(self._out_times) if t > time.monotonic() - 3]
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def snapshot(self, recent: bool = False) -> dict:
        """The numbers as plain data: whole-run figures, or the recent window's with `recent`."""
        with self._lock:
            stages = dict(self.stages)
            dropped = dict(self.dropped)
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "dropped": sum(dropped.values()),
            "dropped_by_queue": dropped,
            "drop_rate": sum(dropped.values()) / self.frames_in if self.frames_in else 0.0,
            "fps": self.current_fps if recent else self.fps,
            "elapsed_s": self.elapsed,
            "stages": {name: d.summary(recent) for name, d in stages.items()},
            "latency": self.latency.summary(recent),
        }

    def line(self) -> str:
        """One status line from the recent window (what `--stats` prints each second)."""
        s = self.snapshot(recent=True)
        parts = [f"{s['fps']:5.1f} fps", f"out {s['frames_out']}", f"dropped {s['dropped']}"]
        lat = s["latency"]
        if lat["median_ms"] is not None:
            parts.append(f"latency {lat['median_ms']:.0f}/{lat['p95_ms']:.0f} ms")
        for name, d in s["stages"].items():
            if d["median_ms"] is not None:
                parts.append(f"{name} {d['median_ms']:.1f}/{d['p95_ms']:.1f}")
        return " | ".join(parts) + " (median/p95 ms)"

    def report(self) -> str:
        """The end-of-run summary, several lines."""
        s = self.snapshot()

        def ms(d: dict) -> str:
            if d["median_ms"] is None:
                return "-"
            return f"median {d['median_ms']:.1f} ms, p95 {d['p95_ms']:.1f} ms"

        lines = [f"frames: {s['frames_in']} in, {s['frames_out']} out, {s['dropped']} dropped "
                 f"({100 * s['drop_rate']:.1f} %) in {s['elapsed_s']:.1f} s, {s['fps']:.2f} fps",
                 f"capture -> sink latency: {ms(s['latency'])}"]
        lines += [f"  {name:12s} {ms(d)}" for name, d in s["stages"].items()]
        if s["dropped_by_queue"]:
            lines.append("  dropped before: " + ", ".join(f"{k} {v}" for k, v in s["dropped_by_queue"].items()))
        return "\n".join(lines)
