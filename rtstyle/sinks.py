"""Frame sinks. `VideoFileSink` encodes with PyAV and carries the input's audio across.

The output video stream keeps the input's time base and each frame's pts, so frame
count, timestamps (variable frame rate too) and duration survive; the display
rotation is copied. Audio is copied packet for packet when the output container
accepts the codec, else decoded and re-encoded to AAC. Audio is interleaved as video
advances, and `close()` always leaves a finished, playable file: it is what an
interrupted conversion calls too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from .errors import RtstyleError
from .frames import Frame
from .sources import open_input


@dataclass
class EncoderSettings:
    codec: str = "libx264"
    crf: int | None = 20
    preset: str | None = "veryfast"
    pix_fmt: str = "yuv420p"
    options: dict[str, str] = field(default_factory=dict)

    def codec_options(self) -> dict[str, str]:
        opts = dict(self.options)
        if self.crf is not None:
            opts.setdefault("crf", str(self.crf))
        if self.preset:
            opts.setdefault("preset", self.preset)
        return opts


class _AudioTrack:
    """One input audio stream, copied or re-encoded into the output."""

    def __init__(self, out: av.container.OutputContainer, src: av.audio.stream.AudioStream):
        self.src = src
        self.copy = src.codec_context.name in out.supported_codecs
        if self.copy:
            self.dst = out.add_stream_from_template(src)
        else:
            self.dst = out.add_stream("aac", rate=src.codec_context.sample_rate or 48000)
            self.dst.layout = src.codec_context.layout.name if src.codec_context.layout else "stereo"
        self.description = f"{'copied' if self.copy else 'to aac from'} {src.codec_context.name}"

    def write(self, out: av.container.OutputContainer, packet: av.Packet) -> None:
        if self.copy:
            if packet.dts is None and packet.pts is None:
                return
            packet.stream = self.dst
            out.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # let the encoder number samples continuously
            out.mux(self.dst.encode(frame))

    def flush(self, out: av.container.OutputContainer) -> None:
        if not self.copy:
            out.mux(self.dst.encode(None))


class AudioPassthrough:
    """Reads the input's audio through its own demuxer and feeds it to the output in step."""

    def __init__(self, path: Path, out: av.container.OutputContainer):
        self.container = open_input(path)
        self.tracks = {s.index: _AudioTrack(out, s) for s in self.container.streams.audio}
        self.out = out
        self.errors = 0
        self._packets = self.container.demux(*[t.src for t in self.tracks.values()]) if self.tracks else iter(())
        self._pending: av.Packet | None = None
        self._done = not self.tracks

    def describe(self) -> str:
        return ", ".join(t.description for t in self.tracks.values()) or "none"

    def _next(self) -> av.Packet | None:
        while not self._done:
            try:
                packet = next(self._packets)
            except StopIteration:
                self._done = True
            except av.error.FFmpegError:
                self.errors += 1
                self._done = True
            else:
                if packet.size:  # skip the empty flush packets demux yields at the end
                    return packet
        return None

    def pump(self, until: float | None) -> None:
        """Write audio packets that start before `until` seconds (all of them for None)."""
        while True:
            packet = self._pending or self._next()
            self._pending = None
            if packet is None:
                return
            t = float(packet.pts * packet.time_base) if packet.pts is not None else None
            if until is not None and t is not None and t >= until:
                self._pending = packet
                return
            try:
                self.tracks[packet.stream.index].write(self.out, packet)
            except av.error.FFmpegError:
                self.errors += 1

    def close(self) -> None:
        for track in self.tracks.values():
            try:
                track.flush(self.out)
            except av.error.FFmpegError:
                self.errors += 1
        self.container.close()


class VideoFileSink:
    """Encodes RGB frames into a file; the streams are created on the first frame."""

    def __init__(self, path: str | Path, settings: EncoderSettings | None = None,
                 rate: Fraction = Fraction(25), audio_from: str | Path | None = None):
        self.path = Path(path)
        self.settings = settings or EncoderSettings()
        self.rate = rate
        self.audio_from = Path(audio_from) if audio_from else None
        if self.path.is_dir():
            raise RtstyleError(f"cannot write {path}: is a directory")
        try:
            self.container = av.open(str(self.path), "w")
        except av.error.FFmpegError as exc:
            raise RtstyleError(f"cannot write {path}: {exc.strerror}") from None
        except ValueError as exc:  # unknown extension
            raise RtstyleError(f"cannot write {path}: {exc}") from None
        self.stream: av.video.stream.VideoStream | None = None
        self.audio: AudioPassthrough | None = None
        self.frames = 0
        self._end_time: float | None = None
        self._closed = False

    def _open_streams(self, frame: Frame) -> None:
        s = self.settings
        h, w = frame.image.shape[:2]
        try:
            stream = self.container.add_stream(s.codec, rate=self.rate, options=s.codec_options())
        except (av.error.FFmpegError, ValueError) as exc:
            raise RtstyleError(f"video codec {s.codec!r} is not available: {exc}") from None
        if stream.type != "video":
            raise RtstyleError(f"{s.codec!r} is not a video codec")
        stream.width, stream.height, stream.pix_fmt = w, h, s.pix_fmt
        tb = frame.time_base or 1 / self.rate
        stream.time_base = tb
        stream.codec_context.time_base = tb
        if frame.rotation:
            stream.set_display_rotation(frame.rotation)
        self.stream = stream
        if self.audio_from is not None:
            self.audio = AudioPassthrough(self.audio_from, self.container)

    def write(self, frame: Frame) -> None:
        if self.stream is None:
            self._open_streams(frame)
        vf = av.VideoFrame.from_ndarray(frame.image, format="rgb24")
        vf.pts = frame.pts if frame.pts is not None else self.frames
        vf.time_base = self.stream.codec_context.time_base
        if frame.duration:
            vf.duration = frame.duration
        try:
            packets = self.stream.encode(vf)
        except av.error.FFmpegError as exc:
            raise RtstyleError(f"encoding failed ({self.settings.codec}): {exc.strerror}") from None
        self.container.mux(packets)
        self.frames += 1
        t = frame.time
        if t is not None:
            dur = float(frame.duration * frame.time_base) if frame.duration else float(1 / self.rate)
            self._end_time = t + dur
        if self.audio:
            self.audio.pump(t)

    def close(self, truncated: bool = False) -> None:
        """Flush the encoder, finish the audio and write the index.

        A `truncated` conversion (interrupted, or the input broke off) gets the audio
        only up to the end of its last video frame.
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self.stream is not None:
                self.container.mux(self.stream.encode(None))
            if self.audio:
                self.audio.pump(self._end_time if truncated else None)
                self.audio.close()
        finally:
            self.container.close()
