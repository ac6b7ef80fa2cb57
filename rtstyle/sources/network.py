"""Network streams (rtsp://, rtmp://, http(s)://, srt://, udp://) through PyAV, kept alive.

Opened with low-latency options: RTSP over TCP (no lost UDP packets, works through
NAT), a small probe and explicit timeouts, so a dead camera is noticed in seconds
instead of hanging. (No "nobuffer": it discards the packets read while probing, and
with them the keyframe a stream with long GOPs needs to start decoding.) When the
stream drops, the source reconnects with exponential backoff (0.5 s doubling to 8 s),
logging each try, and yields frames again as soon as it is back; the pipeline and its
output keep running meanwhile. It gives up with an error once `reconnect_timeout`
seconds have passed without a frame.

A stream that is finite (it declares its duration, as video on demand over RTSP does,
or it is an HTTP resource of known length, a file) ends cleanly when it reaches its
end; the end of an endless stream (a camera), or an end well before the declared
duration, counts as a drop.

Frames are stamped from the capture clock (90 kHz), so timestamps keep increasing
across reconnections and gaps show up as gaps, not as a restart at zero.
"""

from __future__ import annotations

import logging
import threading
import time
from fractions import Fraction
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import av

from ..errors import RtstyleError
from ..frames import Frame
from .files import DECODE_THREADING
from .files import VideoInfo, output_size

log = logging.getLogger("rtstyle.sources")

SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "srt", "udp", "tcp")
CLOCK = Fraction(1, 90000)


def is_url(spec: str) -> bool:
    return urlsplit(spec).scheme.lower() in SCHEMES


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def input_options(url: str, timeout: float) -> dict[str, str]:
    """FFmpeg demuxer/protocol options for a low-latency read with bounded waits."""
    us = str(int(timeout * 1_000_000))
    opts = {"probesize": "65536", "analyzeduration": "1000000"}
    scheme = urlsplit(url).scheme.lower()
    if scheme.startswith("rtsp"):
        opts.update(rtsp_transport="tcp", timeout=us)
    elif scheme in ("http", "https"):
        opts.update(rw_timeout=us, reconnect="0")
    else:
        opts.update(rw_timeout=us)
    return opts


class NetworkSource:
    """Decoded RGB frames of a network stream's first video stream, reconnecting when it drops."""

    def __init__(self, url: str, height: int | None = None, scale: float | None = None, *,
                 timeout: float = 5.0, reconnect_timeout: float = 30.0):
        self.url, self.name = url, redact(url)
        self.timeout, self.reconnect_timeout = timeout, reconnect_timeout
        self.reconnects = 0
        self._reconnected = False  # until the first frame after a reconnection
        self._alive_at = time.monotonic()  # last frame (or the first connection): the give-up clock
        self._delay = 0.5  # reconnect backoff; grows across tries that bring no frame
        self.gaps: list[float] = []  # seconds without frames, one per reconnection
        self._stop = threading.Event()
        # close() may come from another thread mid-read or mid-reconnect: PyAV >= 18.1.1 refuses a
        # closed container (AssertionError), and FFmpeg frees what a read in progress uses
        self._lock = threading.Lock()
        self._closed = False
        self.container = self._connect()  # the first connection fails fast: likely a wrong URL
        stream = self.container.streams.video[0]
        cc = stream.codec_context
        w, h = output_size(cc.width, cc.height, height, scale)
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        self.info = VideoInfo(w, h, cc.width, cc.height, Fraction(rate), CLOCK, 0, None, cc.name)

    def describe(self) -> str:
        i = self.info
        return f"{self.name} ({i.source_width}x{i.source_height} {i.codec})"

    def _connect(self) -> av.container.InputContainer:
        try:
            container = av.open(self.url, container_options=input_options(self.url, self.timeout),
                                timeout=(self.timeout, self.timeout))
        except av.error.FFmpegError as exc:
            raise RtstyleError(f"{self.name}: cannot connect: {exc.strerror or exc}") from None
        if not container.streams.video:
            container.close()
            raise RtstyleError(f"{self.name}: the stream has no video")
        cc = container.streams.video[0].codec_context
        if not cc.width or not cc.height:
            container.close()
            raise RtstyleError(f"{self.name}: video stream has no frame size (unsupported codec?)")
        container.streams.video[0].thread_type = DECODE_THREADING  # no frame-thread delay, no teardown hang
        return container

    def _reconnect(self, reason: str) -> bool:
        """Reopen with backoff; False when stopped meanwhile. Raises once `reconnect_timeout` has
        passed without a frame (a server that accepts but sends nothing counts as lost too)."""
        log.warning("%s: stream lost (%s); reconnecting", self.name, reason)
        attempt, why = 0, reason
        while not self._stop.wait(self._delay):
            waited = time.monotonic() - self._alive_at
            if waited >= self.reconnect_timeout:
                raise RtstyleError(f"{self.name}: no frames for {waited:.0f} s (last: {why}), giving up")
            self._delay = min(self._delay * 2, 8.0, max(0.1, self.reconnect_timeout - waited))
            attempt += 1
            try:
                container = self._connect()
            except RtstyleError as exc:
                why = str(exc).split(": ", 1)[-1]
                log.warning("%s: reconnect try %d failed (%s); next in %.1f s", self.name, attempt, why,
                            self._delay)
                continue
            with self._lock:
                if self._closed:  # closed while connecting: this connection is not used
                    container.close()
                    return False
                self.container = container
            self.reconnects += 1
            self._reconnected = True
            return True
        return False

    def _frames(self) -> Iterator[av.VideoFrame]:
        """Frames from the current connection until it drops; returns the reason."""
        with self._lock:
            if self._closed:
                return "closed"
            packets = self.container.demux(self.container.streams.video[0])
        while not self._stop.is_set():
            with self._lock:
                if self._closed:
                    return "closed"
                try:
                    packet = next(packets)
                except StopIteration:
                    return "end of stream"
                except av.error.FFmpegError as exc:
                    return exc.strerror or str(exc)
            try:
                yield from packet.decode()
            except av.error.FFmpegError:
                continue  # a damaged packet: the next keyframe recovers
        return "stopped"

    def _finished(self, reason: str, position: float | None) -> bool:
        """Whether an end of stream is the real end of an on-demand stream, not a drop: the
        declared duration was reached, or an HTTP resource of known length was read."""
        if reason != "end of stream":
            return False
        duration = self.container.duration
        if duration and position is not None:
            return position >= duration / av.time_base - 1.0
        return urlsplit(self.url).scheme.lower() in ("http", "https") and self.container.size > 0

    def __iter__(self) -> Iterator[Frame]:
        index, origin = 0, None
        while not self._stop.is_set():
            frames, position = self._frames(), None
            while True:
                try:
                    vf = next(frames)
                except StopIteration as end:
                    reason = end.value
                    break
                now = time.monotonic()
                origin = now if origin is None else origin
                if self._reconnected:
                    self._reconnected = False
                    gap = now - self._alive_at
                    self.gaps.append(gap)
                    log.warning("%s: back after %.1f s without frames", self.name, gap)
                self._alive_at, self._delay, position = now, 0.5, vf.time
                image = vf.to_ndarray(width=self.info.width, height=self.info.height, format="rgb24")
                pts = round((now - origin) / CLOCK)
                yield Frame(index, image, pts, None, CLOCK, int(vf.rotation or 0), now)
                index += 1
            with self._lock:
                if self._closed:
                    return
                if self._finished(reason, position):
                    log.info("%s: end of stream", self.name)
                    return
                self.container.close()
            if self._stop.is_set() or not self._reconnect(reason):
                return

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Thread-safe: a read in progress finishes first (within `timeout`); iteration, and
        a reconnection under way, then end."""
        self._stop.set()
        with self._lock:
            self._closed = True
            self.container.close()
