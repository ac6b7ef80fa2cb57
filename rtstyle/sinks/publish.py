"""Live outputs: publish to an RTSP/RTMP/SRT/UDP URL, or MPEG-TS on stdout ("-").

H.264 with zero-latency settings (no B-frames, no lookahead) and a keyframe every two
seconds so viewers can join at any time. While no new frame arrives (a network
source reconnecting), the last frame is repeated every `keepalive` seconds so
servers and players do not drop the stream.
"""

from __future__ import annotations

import time
from dataclasses import replace
from fractions import Fraction
from urllib.parse import urlsplit

import av

from ..errors import RtstyleError
from ..frames import Frame
from ..sources import redact
from .encode import EncoderSettings, VideoFileSink
from .v4l2 import is_v4l2_target

FORMATS = {"rtsp": "rtsp", "rtsps": "rtsp", "rtmp": "flv", "rtmps": "flv", "srt": "mpegts", "udp": "mpegts",
           "tcp": "mpegts"}


def is_stream_target(target: str) -> bool:
    """A live target (a URL, stdout, a virtual webcam), not a file."""
    return target == "-" or urlsplit(target).scheme.lower() in FORMATS or is_v4l2_target(target)


def low_latency(settings: EncoderSettings, rate: Fraction) -> EncoderSettings:
    opts = {"tune": "zerolatency", "g": str(max(1, round(2 * rate))), "bf": "0", **settings.options}
    return replace(settings, options=opts)


class StreamSink(VideoFileSink):
    def __init__(self, target: str, settings: EncoderSettings | None = None, rate: Fraction = Fraction(25),
                 keepalive: float = 1.0):
        self.target = target
        self.keepalive = keepalive
        self.repeated = 0
        self._last: Frame | None = None
        self._last_write = 0.0
        super().__init__(target, low_latency(settings or EncoderSettings(), rate), rate,
                         shown_as="stdout" if target == "-" else redact(target))  # never a password in a message

    def _open(self) -> av.container.OutputContainer:
        if self.target == "-":
            url, fmt, opts = "pipe:1", "mpegts", {}
        else:
            url, fmt = self.target, FORMATS[urlsplit(self.target).scheme.lower()]
            opts = {"rtsp_transport": "tcp"} if fmt == "rtsp" else {}
        try:
            return av.open(url, "w", format=fmt, options=opts)
        except av.error.FFmpegError as exc:
            raise RtstyleError(f"{self.name}: cannot open for writing: {exc.strerror or exc}") from None

    def _failed(self, exc: av.error.FFmpegError) -> RtstyleError:
        reason = exc.strerror or str(exc)
        if self.target == "-" and "pipe" in reason.lower():
            return RtstyleError("stdout was closed by the reader (broken pipe)")
        return RtstyleError(f"{self.name}: publishing failed: {reason}")

    def write(self, frame: Frame) -> None:
        super().write(frame)
        self._last, self._last_write = frame, time.monotonic()

    def idle(self) -> None:
        """Repeat the last frame when none has come for `keepalive` seconds."""
        if self._last is None or not self.keepalive or self.stream is None:
            return
        now = time.monotonic()
        if now - self._last_write < self.keepalive:
            return
        tb = self.stream.codec_context.time_base
        pts = self._last_pts + max(1, round((now - self._last_write) / tb))
        repeat = Frame(self._last.index, self._last.image, pts, None, tb, self._last.rotation)
        super().write(repeat)
        self._last_write = now
        self.repeated += 1
