"""Where stylized frames go: encoded files (with the input's audio), live streams, the RTSP
server (`serve`) and `rtstyle live`'s window (`window`, imported from there: it needs OpenCV's GUI).

`open_sink` picks one from what the user typed: /dev/videoN is a virtual webcam, "-" or
a URL a live stream, anything else a file.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from .encode import AudioPassthrough, EncoderSettings, VideoFileSink, check_codec
from .publish import StreamSink, is_stream_target
from .v4l2 import V4l2Sink, is_v4l2_target


def open_sink(target: str | Path, *, rate: Fraction, settings: EncoderSettings | None = None,
              audio_from: str | Path | None = None) -> VideoFileSink:
    text = str(target)
    if is_v4l2_target(text):
        return V4l2Sink(text, rate)
    if is_stream_target(text):
        return StreamSink(text, settings, rate)
    return VideoFileSink(Path(text), settings, rate, audio_from)


__all__ = ["AudioPassthrough", "EncoderSettings", "StreamSink", "V4l2Sink", "VideoFileSink", "check_codec",
           "is_stream_target", "is_v4l2_target", "open_sink"]
