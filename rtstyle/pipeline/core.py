"""source -> preprocess -> inference -> postprocess -> sink, each on its own thread.

Stages are joined by bounded `FrameQueue`s whose policy decides what happens when a
stage falls behind: offline waits (nothing lost, order kept), live drops the oldest
waiting frame (latency bounded, drops counted). The first exception in any stage
aborts every queue so all threads end; the sink is always closed (a file stays
playable) and `run()` re-raises that one error.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable, Protocol

from ..frames import Frame
from .queues import END, TIMEOUT, FrameQueue, Policy
from .stages import Inference, Postprocess, Preprocess, Stage
from .stats import PipelineStats

JOIN_TIMEOUT = 10.0  # seconds to wait for a thread after the end; sources bound their own reads
POLL_S = 0.002  # while a stage has work in flight, how often it looks for finished frames between inputs


class Sink(Protocol):
    def write(self, frame: Frame) -> None: ...
    def close(self, truncated: bool = False) -> None: ...


class Pipeline:
    """Runs `source` frames through `stages` into `sink`.

    `stop()` may be called from any thread (a signal handler, say): the source stops,
    what is already queued is finished, and the sink is closed as truncated. A sink
    with an `idle()` method is called about every 0.1 s while no frame arrives (stream
    sinks use it to keep the output alive while a network source reconnects).
    """

    def __init__(self, source: Iterable[Frame], stages: list[Stage], sink: Sink, *,
                 policy: Policy | str = Policy.OFFLINE, queue_size: int | None = None):
        self.source, self.stages, self.sink = source, stages, sink
        self.policy = Policy(policy)
        size = queue_size or (1 if self.policy is Policy.LIVE else 8)  # live: only the newest frame waits
        self.stats = PipelineStats()
        names = [s.name for s in stages] + ["sink"]
        self.queues = [FrameQueue(n, size, self.policy, self.stats.drop) for n in names]
        self.stopped = threading.Event()
        self.error: BaseException | None = None
        self._error_lock = threading.Lock()

    @classmethod
    def standard(cls, source: Iterable[Frame], model: Callable, sink: Sink, *, batch: int = 1,
                 size: tuple[int, int] | None = None, postprocess: list | None = None,
                 policy: Policy | str = Policy.OFFLINE, queue_size: int | None = None) -> "Pipeline":
        """The usual chain: preprocess (resize to `size`), inference, postprocess. A source with
        `info` (every rtstyle source) tells inference the frame size ahead of the first frame."""
        info = getattr(source, "info", None)
        workload = None
        if info is not None:
            from ..backends.base import Workload

            w, h = size or (info.width, info.height)
            workload = Workload(((h, w),), batch, varying=Policy(policy) is Policy.LIVE)
        stages = [Preprocess(size), Inference(model, batch, workload), Postprocess(postprocess)]
        return cls(source, stages, sink, policy=policy, queue_size=queue_size)

    @property
    def inference(self) -> Inference | None:
        return next((s for s in self.stages if isinstance(s, Inference)), None)

    def stop(self) -> None:
        self.stopped.set()
        stop_source = getattr(self.source, "stop", None)
        if stop_source:
            stop_source()

    def _fail(self, exc: BaseException) -> None:
        with self._error_lock:
            if self.error is None:
                self.error = exc
        for q in self.queues:
            q.abort()

    def _read(self) -> None:
        out, timing = self.queues[0], self.stats.stage("source")
        try:
            frames = iter(self.source)
            while not self.stopped.is_set():
                t0 = time.perf_counter()
                frame = next(frames, END)
                if frame is END:
                    break
                timing.add((time.perf_counter() - t0) * 1000)
                self.stats.frames_in += 1
                if not out.put(frame):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to run()
            self._fail(exc)
        finally:
            out.put(END)

    def _work(self, stage: Stage, inbox: FrameQueue, outbox: FrameQueue) -> None:
        timing = self.stats.stage(stage.name)
        try:
            ended = False
            while not ended:
                group = [inbox.get(POLL_S if stage.pending() else None)]
                if group[0] is TIMEOUT:  # no new frame yet: hand on what the GPU has finished meanwhile
                    for frame in stage.poll():
                        if not outbox.put(frame):
                            return
                    continue
                if group[0] is END:
                    break
                if stage.batch > 1:
                    group += inbox.take(stage.batch - 1)
                    if group[-1] is END:
                        ended = True
                        group.pop()
                t0 = time.perf_counter()
                done = stage.process(group)
                ms = (time.perf_counter() - t0) * 1000 / len(group)
                device = stage.device_ms()
                for t in device if device is not None else [ms] * len(group):
                    timing.add(t)
                for frame in done:
                    if not outbox.put(frame):
                        return
            for frame in stage.flush():
                if not outbox.put(frame):
                    return
            for t in stage.device_ms() or []:
                timing.add(t)
        except BaseException as exc:  # noqa: BLE001
            self._fail(exc)
        finally:
            outbox.put(END)

    def _write(self) -> None:
        inbox, timing = self.queues[-1], self.stats.stage("sink")
        idle = getattr(self.sink, "idle", None)
        try:
            while True:
                frame = inbox.get(timeout=0.1)
                if frame is END:
                    break
                if frame is TIMEOUT:
                    if idle:
                        idle()
                    continue
                t0 = time.perf_counter()
                self.sink.write(frame)
                timing.add((time.perf_counter() - t0) * 1000)
                self.stats.written(frame.captured_at)
        except BaseException as exc:  # noqa: BLE001
            self._fail(exc)

    def run(self, on_tick: Callable[[PipelineStats], None] | None = None, tick: float = 0.25) -> PipelineStats:
        """Run to the end (or to `stop()`); re-raises the first stage error after cleanup."""
        self.stats.started = time.monotonic()
        targets: list[tuple[str, Callable, tuple]] = [("source", self._read, ())]
        targets += [(s.name, self._work, (s, self.queues[i], self.queues[i + 1])) for i, s in enumerate(self.stages)]
        targets.append(("sink", self._write, ()))
        threads = [threading.Thread(target=fn, args=args, name=f"rtstyle-{name}", daemon=True)
                   for name, fn, args in targets]
        for t in threads:
            t.start()
        try:
            while threads[-1].is_alive():
                threads[-1].join(tick)
                if on_tick:
                    on_tick(self.stats)
        except BaseException:
            self.stop()  # KeyboardInterrupt without a signal handler: still finish the output
            raise
        finally:
            self._finish(threads)
        if self.error is not None:
            raise self.error
        return self.stats

    def _finish(self, threads: list[threading.Thread]) -> None:
        if any(t.is_alive() for t in threads):  # interrupted: make sure nothing waits on a queue
            self.stop()
            deadline = time.monotonic() + JOIN_TIMEOUT
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
            for q in self.queues:
                q.abort()
        for t in threads:
            t.join(JOIN_TIMEOUT)
        self.stats.finished = time.monotonic()
        truncated = self.stopped.is_set() or self.error is not None
        try:
            self.sink.close(truncated=truncated)
        except BaseException as exc:  # noqa: BLE001
            self._fail(exc)
