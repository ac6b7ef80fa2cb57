"""Source -> stylize -> sink on their own threads, joined by bounded queues.

Offline policy: nothing is dropped, order is kept, and a full queue makes the stage
before it wait (back-pressure). The first exception in any stage stops every stage;
the sink is always closed, so the output file is finished and playable.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol

import numpy as np

from .frames import Frame

_END = object()


class Sink(Protocol):
    def write(self, frame: Frame) -> None: ...
    def close(self, truncated: bool = False) -> None: ...


@dataclass
class PipelineStats:
    frames_in: int = 0
    frames_out: int = 0
    started: float = 0.0
    finished: float = 0.0
    infer_seconds: float = 0.0

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def fps(self) -> float:
        return self.frames_out / self.elapsed if self.elapsed > 0 else 0.0


class Pipeline:
    """Runs `frames` through `stylize` (batched) into `sink`.

    `stylize` maps an (N, H, W, 3) uint8 batch to the same shape. `stop()` may be
    called from any thread (a signal handler, say): the source stops reading, what is
    already queued is finished, and the sink is closed as truncated.
    """

    def __init__(self, frames: Iterable[Frame], stylize: Callable[[np.ndarray], np.ndarray], sink: Sink,
                 batch: int = 1, queue_size: int = 8):
        self.frames, self.stylize, self.sink, self.batch = frames, stylize, sink, batch
        self.inbox: queue.Queue = queue.Queue(queue_size)
        self.outbox: queue.Queue = queue.Queue(queue_size)
        self.stats = PipelineStats()
        self.stopped = threading.Event()
        self.error: BaseException | None = None
        self._failed = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    def _put(self, q: queue.Queue, item: object) -> bool:
        """Blocking put that gives up when another stage failed."""
        while not self._failed.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue) -> object:
        while not self._failed.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return _END

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._failed.set()

    def _read(self) -> None:
        try:
            for frame in self.frames:
                if self.stopped.is_set() or not self._put(self.inbox, frame):
                    break
                self.stats.frames_in += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            self._fail(exc)
        finally:
            self._put(self.inbox, _END)

    def _infer(self) -> None:
        try:
            ended = False
            while not ended:
                first = self._get(self.inbox)
                if first is _END:
                    break
                group = [first]
                while len(group) < self.batch:  # fill a batch only from frames already waiting
                    try:
                        item = self.inbox.get_nowait()
                    except queue.Empty:
                        break
                    if item is _END:
                        ended = True
                        break
                    group.append(item)
                t0 = time.perf_counter()
                images = self._stylize_group(group)
                self.stats.infer_seconds += time.perf_counter() - t0
                for frame, image in zip(group, images):
                    frame.image = image
                    if not self._put(self.outbox, frame):
                        return
        except BaseException as exc:  # noqa: BLE001
            self._fail(exc)
        finally:
            self._put(self.outbox, _END)

    def _stylize_group(self, group: list[Frame]) -> list[np.ndarray]:
        shapes = {f.image.shape for f in group}
        if len(shapes) == 1:
            return list(self.stylize(np.stack([f.image for f in group])))
        return [self.stylize(f.image[None])[0] for f in group]

    def _write(self) -> None:
        try:
            while True:
                item = self._get(self.outbox)
                if item is _END:
                    break
                self.sink.write(item)
                self.stats.frames_out += 1
        except BaseException as exc:  # noqa: BLE001
            self._fail(exc)

    def run(self, on_tick: Callable[[PipelineStats], None] | None = None, tick: float = 0.25) -> PipelineStats:
        """Run to the end (or to `stop()`); re-raises the first stage error after cleanup."""
        self.stats.started = time.monotonic()
        threads = [threading.Thread(target=t, name=f"rtstyle-{t.__name__.strip('_')}", daemon=True)
                   for t in (self._read, self._infer, self._write)]
        for t in threads:
            t.start()
        try:
            while threads[-1].is_alive():
                threads[-1].join(tick)
                if on_tick:
                    on_tick(self.stats)
        except BaseException:
            self.stop()  # KeyboardInterrupt without a signal handler: still finish the file
            raise
        finally:
            for t in threads:
                t.join()
            self.stats.finished = time.monotonic()
            truncated = self.stopped.is_set() or self.error is not None
            try:
                self.sink.close(truncated=truncated)
            except BaseException as exc:  # noqa: BLE001
                self._fail(exc)
        if self.error is not None:
            raise self.error
        return self.stats
