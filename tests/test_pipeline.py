"""The threaded pipeline: order, batching, back-pressure, errors and stopping."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rtstyle.frames import Frame
from rtstyle.pipeline import Pipeline


class ListSink:
    def __init__(self, fail_at: int | None = None):
        self.frames: list[Frame] = []
        self.closed_as: bool | None = None
        self.fail_at = fail_at

    def write(self, frame: Frame) -> None:
        if self.fail_at is not None and len(self.frames) == self.fail_at:
            raise OSError("disk full")
        self.frames.append(frame)

    def close(self, truncated: bool = False) -> None:
        self.closed_as = truncated


def source(n: int, sizes=((8, 8),), fail_at: int | None = None):
    for i in range(n):
        if i == fail_at:
            raise ValueError("bad packet")
        h, w = sizes[i % len(sizes)]
        yield Frame(i, np.full((h, w, 3), i % 256, np.uint8), pts=i)


def invert(batch: np.ndarray) -> np.ndarray:
    return 255 - batch


@pytest.mark.timeout(30)
@pytest.mark.parametrize("batch", [1, 3])
def test_order_and_content_kept(batch):
    sink = ListSink()
    stats = Pipeline.standard(source(50, sizes=((8, 8), (8, 12))), invert, sink, batch=batch, queue_size=2).run()
    assert [f.index for f in sink.frames] == list(range(50))
    assert all(f.image[0, 0, 0] == 255 - f.index for f in sink.frames)
    assert stats.frames_out == 50 and sink.closed_as is False


@pytest.mark.timeout(30)
def test_batches_form_from_waiting_frames():
    seen: list[int] = []

    def slow(batch):
        seen.append(len(batch))
        time.sleep(0.02)
        return batch

    Pipeline.standard(source(40), slow, ListSink(), batch=4, queue_size=8).run()
    assert max(seen) == 4 and sum(seen) == 40


@pytest.mark.timeout(30)
def test_backpressure_bounds_the_queues():
    produced, sink = [], ListSink()

    def counting():
        for f in source(100):
            produced.append(f.index)
            yield f

    def slow_sink_write(frame):
        # by the time frame i is written, the reader can be at most the queues' capacity ahead
        assert len(produced) - frame.index <= 4 * 2 + 5
        time.sleep(0.005)
        ListSink.write(sink, frame)

    sink.write = slow_sink_write
    Pipeline.standard(counting(), invert, sink, queue_size=2).run()
    assert len(sink.frames) == 100


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", ["source", "stylize", "sink"])
def test_a_failing_stage_stops_everything_and_reports_once(where):
    sink = ListSink(fail_at=20 if where == "sink" else None)

    def stylize(batch):
        if where == "stylize" and batch[0, 0, 0, 0] == 30:
            raise RuntimeError("model exploded")
        return batch

    frames = source(10_000, fail_at=25 if where == "source" else None)
    before = threading.active_count()
    with pytest.raises((ValueError, RuntimeError, OSError)) as err:
        Pipeline.standard(frames, stylize, sink).run()
    assert str(err.value) in {"bad packet", "model exploded", "disk full"}
    assert sink.closed_as is True  # the sink was still finalised
    assert len(sink.frames) < 40
    assert threading.active_count() == before  # no stage thread left behind


@pytest.mark.timeout(30)
def test_stop_finishes_what_is_queued():
    sink = ListSink()
    pipe = Pipeline.standard(source(10_000), invert, sink)
    threading.Timer(0.2, pipe.stop).start()
    stats = pipe.run()
    assert 0 < stats.frames_out < 10_000 and sink.closed_as is True
    assert [f.index for f in sink.frames] == list(range(stats.frames_out))


def timed_source(n: int, fps: float):
    """Frames at a camera's pace, stamped with their capture time."""
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i / fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield Frame(i, np.full((8, 8, 3), i % 256, np.uint8), pts=i, captured_at=time.monotonic())


@pytest.mark.timeout(30)
def test_live_policy_drops_oldest_and_bounds_latency():
    def slow(batch):  # inference at 10 fps against a 100 fps source
        time.sleep(0.1)
        return batch

    sink = ListSink()
    pipe = Pipeline.standard(timed_source(200, 100), slow, sink, policy="live", queue_size=2)
    stats = pipe.run()
    got = [f.index for f in sink.frames]
    assert got == sorted(got) and len(got) < 60  # order kept, most frames dropped
    assert stats.total_dropped == 200 - len(got) == stats.frames_in - stats.frames_out
    assert set(stats.dropped) == {"inference"}  # dropped where the work piles up
    # the newest frames get through: nothing waits more than the queue ahead of inference
    snap = stats.snapshot()
    assert snap["latency"]["p95_ms"] < 450 and snap["drop_rate"] > 0.6
    assert got[-1] >= 190  # the end of the stream is not lost


@pytest.mark.timeout(30)
def test_offline_policy_never_drops_under_the_same_load():
    def slow(batch):
        time.sleep(0.01)
        return batch

    sink = ListSink()
    stats = Pipeline.standard(timed_source(100, 400), slow, sink, policy="offline", queue_size=2).run()
    assert [f.index for f in sink.frames] == list(range(100)) and stats.total_dropped == 0


@pytest.mark.timeout(30)
def test_stats_report_every_stage():
    def slow(batch):
        time.sleep(0.02)
        return batch

    stats = Pipeline.standard(timed_source(30, 200), slow, ListSink()).run()
    snap = stats.snapshot()
    assert list(snap["stages"]) == ["source", "preprocess", "inference", "postprocess", "sink"]
    inf = snap["stages"]["inference"]
    assert 19 < inf["median_ms"] < 40 and inf["p95_ms"] >= inf["median_ms"]
    assert snap["latency"]["median_ms"] >= 20 and snap["frames_out"] == 30
    assert "inference" in stats.line() and "latency" in stats.report()


def test_distribution_percentiles_match_numpy():
    from rtstyle.pipeline import Distribution

    values = np.random.default_rng(0).lognormal(3, 1, 5000)
    d = Distribution()
    for v in values:
        d.add(float(v))
    for q in (50, 95):
        assert d.percentile(q) == pytest.approx(np.percentile(values, q), rel=0.02)
    assert d.recent_percentile(50) == pytest.approx(np.percentile(values[-256:], 50))


def test_style_switch_takes_effect_on_the_next_batch():
    from rtstyle.pipeline import Inference

    stage = Inference(invert)
    a = stage.process([Frame(0, np.full((8, 8, 3), 10, np.uint8))])
    stage.set_model(lambda b: b // 2)
    b = stage.process([Frame(1, np.full((8, 8, 3), 10, np.uint8))])
    assert a[0].image[0, 0, 0] == 245 and b[0].image[0, 0, 0] == 5


class LaggingRunner:
    """Holds one batch back, as the CUDA runner keeps batches in flight."""

    def __init__(self, model):
        self.model, self.held = model, []

    def submit(self, frames):
        for f in frames:
            f.image = self.model(f.image[None])[0]
        self.held.append(frames)

    def ready(self):
        return self.held.pop(0) if len(self.held) > 1 else []

    def pending(self):
        return bool(self.held)

    def drain(self):
        out = [f for group in self.held for f in group]
        self.held = []
        return out


@pytest.mark.timeout(30)
def test_frames_held_in_flight_come_out_at_the_end_and_on_a_switch(monkeypatch):
    import rtstyle.pipeline.stages as stages

    monkeypatch.setattr(stages, "make_runner", LaggingRunner)
    sink = ListSink()
    pipe = Pipeline.standard(source(20), invert, sink)
    stats = pipe.run()
    assert [f.index for f in sink.frames] == list(range(20)) and stats.frames_out == 20

    stage = stages.Inference(invert)
    assert stage.process([Frame(0, np.zeros((8, 8, 3), np.uint8))]) == []  # held
    stage.set_model(invert)
    assert [f.index for f in stage.process([Frame(1, np.zeros((8, 8, 3), np.uint8))])] == [0]


@pytest.mark.cuda
def test_cuda_stream_runner_matches_the_plain_backend():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU (torch.cuda.is_available() is False)")
    from conftest import fixture, MOSAIC8
    from rtstyle.backends import create_backend
    from rtstyle.models import resolve_style
    from rtstyle.pipeline.cuda import CudaStreamRunner

    backend = create_backend(resolve_style(str(fixture(MOSAIC8))), "torch", device="cuda")
    runner = CudaStreamRunner(backend, depth=2)
    rng = np.random.default_rng(0)
    frames = [Frame(i, rng.integers(0, 255, (90, 130, 3), np.uint8)) for i in range(7)]
    want = [backend(f.image) for f in frames]
    got = []
    for f in frames:
        runner.submit([Frame(f.index, f.image.copy())])
        got += runner.ready()
    got += runner.drain()
    assert [f.index for f in got] == list(range(7))
    for f, w in zip(got, want):
        assert np.abs(f.image.astype(int) - w.astype(int)).max() <= 1
