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
