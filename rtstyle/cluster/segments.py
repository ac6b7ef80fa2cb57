"""One video as independent segments, so many workers share it, joined back without re-encoding.

`plan` cuts a file at keyframes into segments of about `seconds` each, from its packets alone
(no decoding). Each segment is converted on its own (`convert_segment`): decoding starts at a
keyframe before it, the last `warm` frames before its start go through the network and the
smoother, so the smoother is warmed up at the seam, and are then dropped; frames from the
segment's start up to the next one's are encoded with their own timestamps. Where a fixed
camera's still areas are held (static-region locking), a segment holds the painting of the
frame they became still in, which the next segment, starting fresh, cannot know: so over the
frames the next segment warms up on, a segment cross-fades into what the next segment's
smoother makes of them (`TemporalSmoother.hand_over`), and the join shows no jump. (Where FFmpeg's
seek lands after the keyframe asked for, as in some MPEG-TS files, the warm-up is shorter or
none: the frames are still all there.) `join` copies the
segments' packets into one file, in order, and the input's audio once, whole. The result has
the frames and timestamps of `rtstyle convert` on the whole file.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import av

from ..backends import Backend
from ..errors import RtstyleError
from ..frames import Frame
from ..output_files import OutputFile
from ..pipeline import Pipeline
from ..sinks import EncoderSettings, VideoFileSink
from ..sinks.encode import AudioPassthrough
from ..sources import VideoFileSource
from ..sources.files import open_input
from ..temporal import TemporalSmoother

SEGMENT_SECONDS = 4.0
WARM_FRAMES = 8  # stylized before a segment's start and dropped: the smoother's history at the seam


@dataclass(frozen=True)
class Segment:
    index: int
    start: int  # first pts of the segment (a keyframe's), in the video stream's time base
    end: int | None  # the next segment's start; None for the last
    warm: int  # first pts stylized (the warm-up frames are dropped)
    decode: int | None  # keyframe pts decoding starts at (None: the file's start)
    # Where the next segment's warm-up starts, and its frames after that one, up to this segment's end:
    # over those the smoother hands over to what the next segment paints (`TemporalSmoother.hand_over`)
    hand_over: int | None = None
    hand_over_frames: int = 0


def plan(path: Path, seconds: float = SEGMENT_SECONDS, warm: int = WARM_FRAMES) -> list[Segment]:
    """Segments of about `seconds` cut at keyframes. One segment where the file's packets lack
    timestamps or keyframes to cut at, or count frames instead."""
    with open_input(path) as container:
        if not container.streams.video:
            raise RtstyleError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        tb = stream.time_base
        rate = stream.average_rate or stream.guessed_rate
        if not tb or (rate and tb == 1 / rate):
            # AVI and the like count frames: their packets' pts are off by the B-frame delay, so a
            # cut there would not land where decoding counts (sources.files.FrameTimestamps)
            return [Segment(0, 0, None, 0, None)]
        pts, keys = [], []
        for packet in container.demux(stream):
            if not packet.size:
                continue
            if packet.pts is None:
                return [Segment(0, 0, None, 0, None)]
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
    if not pts:
        return [Segment(0, 0, None, 0, None)]
    pts.sort()
    keys.sort()
    order = {p: i for i, p in enumerate(pts)}
    starts = [pts[0]]
    for k in keys:
        if k in order and float((k - starts[-1]) * tb) >= seconds:
            starts.append(k)
    segments = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        if end is not None:  # the next segment's warm-up: its first frame, and the frames after it here
            lead = order[end] - max(0, order[end] - warm)
            hand_over, frames = (pts[order[end] - lead], lead - 1) if lead > 1 else (None, 0)
        else:
            hand_over, frames = None, 0
        if i == 0:
            segments.append(Segment(0, start, end, start, None, hand_over, frames))
            continue
        first = pts[max(0, order[start] - warm)]
        decode = max(k for k in keys if k <= first) if any(k <= first for k in keys) else None
        segments.append(Segment(i, start, end, first, decode, hand_over, frames))
    return segments


class _SegmentSource:
    """The frames of `segment` and its warm-up, from a source that starts decoding at its keyframe."""

    def __init__(self, path: Path, segment: Segment, height: int | None):
        self.segment = segment
        self.source = VideoFileSource(path, height, start_pts=segment.decode)
        self.info = self.source.info

    def __iter__(self):
        s = self.segment
        for frame in self.source:
            if frame.pts < s.warm:
                continue
            if s.end is not None and frame.pts >= s.end:
                return
            yield frame

    def describe(self) -> str:
        return f"{self.source.describe()}, segment {self.segment.index}"

    def stop(self) -> None:
        self.source.stop()

    def close(self) -> None:
        self.source.close()


class _DropWarmup:
    """The sink, minus the warm-up frames. The segment's file starts at 0: MP4 would record a
    later start in an edit list in milliseconds, which moves every frame by the rounding;
    `join` adds the start back, exactly."""

    def __init__(self, sink: VideoFileSink, start: int):
        self.sink, self.start = sink, start

    def write(self, frame: Frame) -> None:
        if frame.pts >= self.start:
            frame.pts -= self.start
            self.sink.write(frame)

    def close(self, truncated: bool = False) -> None:
        self.sink.close(truncated)


def convert_segment(path: Path, segment: Segment, dst: Path, backend: Backend, *, height: int | None = None,
                    encoder: EncoderSettings | None = None, temporal: TemporalSmoother | None = None) -> int:
    """Convert one segment of `path` into `dst` (video only, whole or not at all); returns its frames."""
    source = _SegmentSource(path, segment, height)
    with contextlib.ExitStack() as undo:
        undo.callback(source.close)
        output = OutputFile(dst, overwrite=True)
        sink = VideoFileSink(output.path, encoder, rate=source.info.rate, shown_as=dst)
        smoother = temporal or TemporalSmoother()
        smoother.follow(backend.meta)
        if segment.hand_over is not None:
            smoother.hand_over(segment.hand_over, segment.hand_over_frames)
        pipeline = Pipeline.standard(source, backend, _DropWarmup(sink, segment.start), postprocess=[smoother])
        try:
            pipeline.run()
        except BaseException:
            output.discard()
            raise
        if not sink.whole:
            output.discard()
            raise RtstyleError(f"{path}: segment {segment.index} produced no frames")
        output.commit()
        return sink.frames


def join(src: Path, parts: list[tuple[Path, Segment]], dst: Path, *, overwrite: bool = False) -> int:
    """The segments' video packets, in order, at their times in `src`, and `src`'s audio, into
    `dst`; returns the frames."""
    with open_input(src) as container:
        time_base = container.streams.video[0].time_base
    output = OutputFile(dst, overwrite=overwrite)
    frames = 0
    try:
        with av.open(str(output.path), "w") as out:
            inputs = [av.open(str(p)) for p, _ in parts]
            try:
                video = out.add_stream_from_template(inputs[0].streams.video[0])
                audio = AudioPassthrough(src, out)
                for part, (_, segment) in zip(inputs, parts):
                    for packet in part.demux(part.streams.video[0]):
                        if not packet.size:
                            continue
                        shift = round(segment.start * time_base / packet.time_base)
                        packet.pts = None if packet.pts is None else packet.pts + shift
                        packet.dts = None if packet.dts is None else packet.dts + shift
                        t = float(packet.pts * packet.time_base) if packet.pts is not None else None
                        packet.stream = video
                        out.mux(packet)
                        frames += 1
                        audio.pump(t)
                audio.pump(None)
                audio.close()
            finally:
                for part in inputs:
                    part.close()
    except av.error.FFmpegError as exc:
        output.discard()
        raise RtstyleError(f"joining the segments of {src.name} failed: {exc.strerror or exc}") from None
    except BaseException:
        output.discard()
        raise
    output.commit()
    return frames
