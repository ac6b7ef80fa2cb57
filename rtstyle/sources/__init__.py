"""Where frames come from: video files, webcams and network streams.

Every source is an iterable of `Frame`s with `info` (a `VideoInfo`), `describe()`,
`stop()` (thread-safe: iteration ends soon after) and `close()`. `open_source` picks
one from what the user typed: a camera index or /dev/video path, a URL, or a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Protocol

from ..frames import Frame
from .files import (FrameTimestamps, Pacer, VideoFileSource, VideoInfo, even, open_input, output_size,
                    scaled_size)
from .network import NetworkSource, is_url, redact


class Source(Protocol, Iterable[Frame]):
    info: VideoInfo

    def describe(self) -> str: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


def is_camera(spec: str) -> bool:
    return spec.isdigit() or spec.startswith("/dev/video")


def open_source(spec: str | Path, *, height: int | None = None, scale: float | None = None,
                realtime: bool = False, loop: bool = False, timeout: float = 5.0,
                reconnect_timeout: float = 30.0, camera_size: tuple[int, int] | None = None,
                camera_fps: float | None = None) -> Source:
    """The source for `spec`: "0" (webcam 0), "/dev/video2", "rtsp://...", or a file path.

    Files are read as fast as the pipeline takes them unless `realtime`; `loop` starts
    them over at the end. Network streams reconnect for up to `reconnect_timeout` s.
    """
    text = str(spec)
    if is_camera(text):
        from .camera import CameraSource

        w, h = camera_size or (None, None)
        return CameraSource(int(text) if text.isdigit() else text, height, scale, width=w, capture_height=h,
                            fps=camera_fps)
    if is_url(text):
        return NetworkSource(text, height, scale, timeout=timeout, reconnect_timeout=reconnect_timeout)
    return VideoFileSource(Path(text), height, scale, realtime=realtime, loop=loop)


__all__ = ["FrameTimestamps", "NetworkSource", "Pacer", "Source", "VideoFileSource", "VideoInfo", "even",
           "is_camera", "is_url", "open_input", "open_source", "output_size", "redact", "scaled_size"]
