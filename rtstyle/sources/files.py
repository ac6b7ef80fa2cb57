"""Video files. `VideoFileSource` mirrors PyAV: container -> video stream -> frames.

Decoding is slice-threaded inside FFmpeg (see DECODE_THREADING); frames are converted to RGB (and scaled, when
asked) by swscale in the same call, so the pipeline receives ready-to-use arrays.
Undecodable packets are counted, not fatal: a damaged file converts what it can.
`realtime` paces frames like a camera; `loop` starts over at the end (for demos and
long-running tests), with timestamps that keep increasing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av

from ..errors import RtstyleError
from ..frames import Frame


@dataclass
class VideoInfo:
    width: int  # of the frames the source yields
    height: int
    source_width: int
    source_height: int
    rate: Fraction
    time_base: Fraction
    frames: int  # container's count or an estimate from the duration; 0 if unknown
    duration: float | None
    codec: str


TEXT_FORMATS = {"tty"}

# Slice threads only, never frame threads. A frame-threaded decoder closed before the
# end of its stream (a stop, --frames, a live source) can deadlock: its threads log on
# teardown through PyAV's Python log callback (which rtstyle installs at ERROR level,
# see sinks.encode) while the closing thread holds the GIL (PyAV issues #909, #1849).
# tests/test_convert.py::test_early_close_does_not_hang reproduces it with "AUTO".
DECODE_THREADING = "SLICE"


def open_input(path: str | Path, **options) -> av.container.InputContainer:
    """`av.open` with the failure modes a user meets turned into one-line errors."""
    p = Path(path)
    if not p.exists():
        raise RtstyleError(f"{path}: no such file")
    if p.is_dir():
        raise RtstyleError(f"{path}: is a directory, not a video")
    reason = "not a video file, or damaged (truncated files lose their index)"
    try:
        container = av.open(str(p), **options)
    except av.error.FFmpegError as exc:
        raise RtstyleError(f"{path}: cannot read: {reason} [{exc.strerror}]") from None
    if container.format.name in TEXT_FORMATS:  # FFmpeg renders any text file as "ANSI art" video
        container.close()
        raise RtstyleError(f"{path}: cannot read: {reason} [text file]")
    return container


def even(n: int) -> int:
    return max(2, n - n % 2)


MAX_SIDE = 8192  # H.264's largest level (6.2) holds 8192x4320; larger frames are refused up front
BYTES_PER_PIXEL = 240  # a job's peak memory per output pixel (2000x2000 preset run: +0.94 GB over 360p)


def scaled_size(width: int, height: int, target_height: int | None = None,
                scale: float | None = None) -> tuple[int, int]:
    """Frame size after --height (aspect kept) or --scale; refused in one line, before any
    work, when it is larger than MAX_SIDE or than this machine's free memory holds."""
    if target_height:
        w, h = width * target_height / height, target_height
    elif scale:
        w, h = width * scale, height * scale
    else:
        w, h = width, height
    w, h = max(1, round(w)), max(1, round(h))
    how = f" (--height {target_height})" if target_height else f" (--scale {scale:g})" if scale else ""
    if max(w, h) > MAX_SIDE:
        raise RtstyleError(f"frames of {w}x{h}{how} are larger than rtstyle handles ({MAX_SIDE} px a side): "
                           "use --height or --scale to make them smaller")
    free = available_memory()
    if free is not None and w * h * BYTES_PER_PIXEL > free:
        raise RtstyleError(f"frames of {w}x{h}{how} need about {w * h * BYTES_PER_PIXEL / 1e9:.1f} GB of memory and "
                           f"{free / 1e9:.1f} GB is free: use --height or --scale to make them smaller")
    return w, h


def available_memory() -> int | None:
    """Bytes of memory free for a new job (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def output_size(width: int, height: int, target_height: int | None = None,
                scale: float | None = None) -> tuple[int, int]:
    """`scaled_size` with even sides, as 4:2:0 video needs."""
    w, h = scaled_size(width, height, target_height, scale)
    return even(w), even(h)


class FrameTimestamps:
    """Presentation timestamps for decoded frames, strictly increasing as encoders need.

    Containers that count frames (time base = 1/frame rate, as AVI) get the frame
    number: their per-frame pts are unreliable with packed B-frames. Others follow
    FFmpeg's best-effort rule: trust pts unless it has gone backwards more often than
    dts; synthesize from the frame rate when neither is set.
    """

    def __init__(self, rate: Fraction, time_base: Fraction, start: int = 0):
        self.counts_frames = time_base == 1 / rate
        self.start = start
        self.ticks_per_frame = 1 / (rate * time_base)
        self.last_pts = self.last_dts = self.last = None
        self.faulty_pts = self.faulty_dts = 0

    def next(self, index: int, pts: int | None, dts: int | None) -> int:
        if self.counts_frames:
            value = self.start + index
        else:
            if pts is not None:
                self.faulty_pts += self.last_pts is not None and pts <= self.last_pts
                self.last_pts = pts
            if dts is not None:
                self.faulty_dts += self.last_dts is not None and dts <= self.last_dts
                self.last_dts = dts
            if pts is not None and (self.faulty_pts <= self.faulty_dts or dts is None):
                value = pts
            elif dts is not None:
                value = dts
            else:
                value = self.start + round(index * self.ticks_per_frame)
        if self.last is not None and value <= self.last:
            value = self.last + 1
        self.last = value
        return value


class Pacer:
    """Releases frames at their presentation times, as a camera would deliver them."""

    def __init__(self, stopped: threading.Event):
        self.stopped = stopped
        self.origin: tuple[float, float] | None = None  # (wall clock, media time) of the first frame

    def wait(self, media_time: float | None) -> None:
        if media_time is None:
            return
        now = time.monotonic()
        if self.origin is None:
            self.origin = (now, media_time)
            return
        delay = self.origin[0] + media_time - self.origin[1] - now
        if delay > 0:
            self.stopped.wait(delay)


class VideoFileSource:
    """Decoded RGB frames of the first video stream of a file, in presentation order."""

    def __init__(self, path: str | Path, height: int | None = None, scale: float | None = None, threads: int = 0,
                 realtime: bool = False, loop: bool = False, start_pts: int | None = None):
        """`start_pts`: start decoding at the keyframe with this pts (a segment of the file,
        `cluster.segments`); frames keep the timestamps they have in the whole file."""
        self.path = Path(path)
        self.realtime, self.loop = realtime, loop
        self.start_pts = start_pts
        self.container = open_input(self.path)
        if not self.container.streams.video:
            self.container.close()
            raise RtstyleError(f"{path}: has no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = DECODE_THREADING
        if threads:
            self.stream.codec_context.thread_count = threads
        cc = self.stream.codec_context
        if not cc.width or not cc.height:
            self.container.close()
            raise RtstyleError(f"{path}: video stream has no frame size (unsupported or damaged)")
        w, h = output_size(cc.width, cc.height, height, scale)
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(25)
        duration = None
        if self.stream.duration is not None and self.stream.time_base:
            duration = float(self.stream.duration * self.stream.time_base)
        elif self.container.duration:
            duration = self.container.duration / av.time_base
        frames = self.stream.frames or (round(duration * rate) if duration else 0)
        self.info = VideoInfo(w, h, cc.width, cc.height, Fraction(rate), self.stream.time_base or 1 / Fraction(rate),
                              frames, duration, cc.name)
        self.decode_errors = 0
        self.corrupt_frames = 0  # decoded, but the decoder had to conceal damage
        self.indexed_frames = self.stream.frames  # what the container's index promises (0: no index)
        self.decoded_frames = 0
        self._stop = threading.Event()
        # close() may come from another thread mid-read: PyAV >= 18.1.1 refuses to demux or seek a
        # closed container (AssertionError), and FFmpeg frees what a read in progress uses
        self._lock = threading.Lock()
        self._closed = False

    @property
    def _stopped(self) -> bool:
        return self._stop.is_set()

    def describe(self) -> str:
        i = self.info
        return f"{self.path.name} ({i.source_width}x{i.source_height} {i.codec} at {float(i.rate):.3g} fps)"

    def stop(self) -> None:
        """Make iteration end after the current frame (thread-safe)."""
        self._stop.set()

    def _decoded(self) -> Iterator[av.VideoFrame]:
        packets = self.container.demux(self.stream)
        while not self._stopped:
            with self._lock:
                if self._closed:
                    return
                try:
                    packet = next(packets)
                except StopIteration:
                    return
                except av.error.FFmpegError:
                    self.decode_errors += 1  # truncated or garbled container data: stop reading
                    return
            try:
                yield from packet.decode()  # an empty packet at the end flushes the decoder
            except av.error.FFmpegError:
                self.decode_errors += 1

    def __iter__(self) -> Iterator[Frame]:
        info = self.info
        with self._lock:
            if self._closed:
                return
            start = self.stream.start_time or 0
            if self.start_pts is not None:
                self.container.seek(self.start_pts, stream=self.stream, backward=True)
                start = self.start_pts
        pacer = Pacer(self._stop) if self.realtime else None
        index, offset, end = 0, 0, start  # offset: added to the pts of each further loop
        while True:
            timestamps = FrameTimestamps(info.rate, info.time_base, start)
            self.decoded_frames = 0
            for i, vf in enumerate(self._decoded()):
                pts = offset + timestamps.next(i, vf.pts, vf.dts)
                duration = vf.duration or round(timestamps.ticks_per_frame)
                end = pts + duration
                image = vf.to_ndarray(width=info.width, height=info.height, format="rgb24")
                self.decoded_frames = i + 1
                self.corrupt_frames += bool(vf.is_corrupt)
                if pacer:
                    pacer.wait(float(pts * info.time_base))
                yield Frame(index, image, pts, vf.duration or None, info.time_base, int(vf.rotation or 0),
                            time.monotonic())
                index += 1
            if not self.loop or self._stopped or not self.decoded_frames:
                return
            offset = end - start
            with self._lock:
                if self._closed:
                    return
                self.container.seek(0)
            self.stream.codec_context.flush_buffers()

    @property
    def missing_frames(self) -> int:
        """Frames the index lists but the data did not deliver (a cut-off file), once read to the end."""
        if self._stopped or not self.indexed_frames:
            return 0
        missing = self.indexed_frames - self.decoded_frames
        return missing if missing > max(1, self.indexed_frames // 100) else 0

    def close(self) -> None:
        """Thread-safe: a read in progress finishes first; iteration then ends (not `stop()`:
        `missing_frames` still tells a cut-off file)."""
        with self._lock:
            self._closed = True
            self.container.close()

    def __enter__(self) -> "VideoFileSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
