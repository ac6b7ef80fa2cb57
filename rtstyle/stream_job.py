"""The live jobs' common core: any source -> the style network -> any sink, on the pipeline.

Cameras, network streams and files read at real-time pace run under the live policy
(drop rather than fall behind); files read as fast as possible run offline (every
frame, in order).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .backends import Backend
from .pipeline import Pipeline, PipelineStats, Policy, Sink
from .sinks import EncoderSettings, VideoFileSink, is_stream_target, open_sink
from .output_files import OutputFile, check_output
from .sources import VideoFileSource, open_source
from .temporal import TemporalSmoother


@dataclass
class SourceOptions:
    height: int | None = None
    scale: float | None = None
    realtime: bool = False
    loop: bool = False
    timeout: float = 5.0
    reconnect_timeout: float = 30.0
    camera_size: tuple[int, int] | None = None
    camera_fps: float | None = None


def default_policy(source) -> Policy:
    if isinstance(source, VideoFileSource) and not source.realtime:
        return Policy.OFFLINE
    return Policy.LIVE


class StreamJob:
    """`rtstyle stream`: restyle `src` into `out` (a file, a URL, "-", or `serve` as an RTSP server)."""

    def __init__(self, src: str | Path, out: str | None, backend: Backend, *, source: SourceOptions | None = None,
                 encoder: EncoderSettings | None = None, serve: str | None = None, batch: int = 1,
                 policy: Policy | str | None = None, duration: float | None = None,
                 sink: Sink | None = None, temporal: TemporalSmoother | None = None, overwrite: bool = False):
        """A file `out` is written whole or not at all, as `convert` writes (`output_files`)."""
        to_file = bool(out) and sink is None and not serve and not is_stream_target(out)
        if to_file:
            check_output(out, overwrite, inputs=(src,))
        o = source or SourceOptions()
        self.output: OutputFile | None = None
        with contextlib.ExitStack() as undo:  # what is open is closed again if a later step fails
            self.source = open_source(src, height=o.height, scale=o.scale, realtime=o.realtime, loop=o.loop,
                                      timeout=o.timeout, reconnect_timeout=o.reconnect_timeout,
                                      camera_size=o.camera_size, camera_fps=o.camera_fps)
            undo.callback(self.source.close)
            self.policy = Policy(policy) if policy else default_policy(self.source)
            if sink is None:
                rate = self.source.info.rate
                if serve:
                    from .sinks.serve import ServedSink

                    sink = ServedSink(serve, encoder, rate)
                elif to_file:
                    self.output = OutputFile(out, overwrite=overwrite)
                    undo.callback(self.output.discard)
                    sink = VideoFileSink(self.output.path, encoder, rate, shown_as=out,
                                         live=default_policy(self.source) is Policy.LIVE)
                else:
                    sink = open_sink(out, rate=rate, settings=encoder)
                undo.callback(sink.close)  # a sink the caller gave stays the caller's
            self.sink = sink
            self.temporal = temporal or TemporalSmoother()
            self.temporal.follow(backend.meta)
            self.pipeline = Pipeline.standard(self.source, backend, sink, batch=batch, policy=self.policy,
                                              postprocess=[self.temporal])
            undo.pop_all()
        self.duration = duration

    def stop(self) -> None:
        self.pipeline.stop()

    def run(self, on_tick: Callable[[PipelineStats], None] | None = None) -> PipelineStats:
        timer = threading.Timer(self.duration, self.stop) if self.duration else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            stats = self.pipeline.run(on_tick)
        except BaseException:  # a source that died leaves what was recorded, if it was written whole
            if self.output:
                self.output.keep_if(self.sink.whole)
            raise
        finally:
            if timer:
                timer.cancel()
            self.source.close()
        if self.output:
            self.output.keep_if(self.sink.whole)
        return stats
