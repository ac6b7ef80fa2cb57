"""Frame sinks. `VideoFileSink` encodes with PyAV and carries the input's audio across.

The output video stream keeps the input's time base and each frame's pts, so frame
count, timestamps (variable frame rate too) and duration survive; the display
rotation is copied. Audio is copied packet for packet when the output container
accepts the codec, else decoded and re-encoded to AAC. Audio is interleaved as video
advances, and `close()` always leaves a finished, playable file: it is what an
interrupted conversion calls too.
"""

from __future__ import annotations

import contextlib
import errno
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import logging

import av
import av.logging

from ..errors import RtstyleError
from ..frames import Frame
from ..sources import open_input


# FFmpeg's messages, where they reach Python, are captured (`_AudioTrack.intact`), not printed:
# the user sees rtstyle's own summary instead. The command line also keeps FFmpeg's own stderr
# quiet (`cli.terminal.setup_logging`); a library user's log level is theirs.
logging.getLogger("libav").addHandler(logging.NullHandler())
logging.getLogger("libav").propagate = False


@contextlib.contextmanager
def ffmpeg_errors():
    """Capture FFmpeg's messages of the block: its errors at least, whatever the process's log
    level (PyAV captures nothing while the level is unset, FFmpeg's default)."""
    unset = av.logging.get_level() is None
    if unset:
        av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as logs:
            yield logs
    finally:
        if unset:
            av.logging.set_level(None)


@dataclass
class EncoderSettings:
    codec: str = "libx264"
    crf: int | None = 20
    preset: str | None = "veryfast"
    pix_fmt: str = "yuv420p"
    options: dict[str, str] = field(default_factory=dict)

    def codec_options(self) -> dict[str, str]:
        opts = dict(self.options)
        if self.codec == "libx265":  # x265 logs two dozen info lines to the terminal by default
            opts.setdefault("x265-params", "log-level=error")
        if self.crf is not None:
            opts.setdefault("crf", str(self.crf))
        if self.preset:
            opts.setdefault("preset", self.preset)
        return opts


# Audio codecs MP4/MOV players take; FFmpeg's muxer accepts more (Vorbis) that few players play.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}


class _AudioTrack:
    """One input audio stream, copied or re-encoded into the output."""

    def __init__(self, out: av.container.OutputContainer, src: av.audio.stream.AudioStream):
        self.src = src
        name = src.codec_context.name
        mp4 = "mp4" in out.format.name or "mov" in out.format.name
        self.copy = name in out.supported_codecs and (not mp4 or name in MP4_AUDIO)
        if self.copy:
            self.dst = out.add_stream_from_template(src)
        else:
            cc = src.codec_context
            channels = cc.layout.nb_channels if cc.layout else 2
            layout = {1: "mono", 6: "5.1", 8: "7.1"}.get(channels, "stereo")  # named layouts AAC accepts
            self.dst = out.add_stream("aac", rate=cc.sample_rate or 48000, layout=layout)
        self.description = f"{'copied' if self.copy else 'to aac from'} {src.codec_context.name}"
        self._silence: bytes | None = None

    def intact(self, packet: av.Packet) -> bool:
        """Whether the decoder takes `packet` without complaint (damaged packets are not copied)."""
        with ffmpeg_errors() as logs:
            try:
                self.src.decode(packet)
            except av.error.FFmpegError:
                return False
        return not any(level <= av.logging.ERROR for level, _, _ in logs)

    def silence(self) -> bytes | None:
        """One frame of silence in the stream's own codec and settings, or None if FFmpeg
        has no encoder for it. It stands in for damaged packets, keeping the duration."""
        if self._silence is None:
            cc = self.src.codec_context
            try:
                enc = av.CodecContext.create(cc.name, "w")
                enc.sample_rate, enc.layout, enc.bit_rate = cc.sample_rate, cc.layout, cc.bit_rate
                enc.format = enc.codec.audio_formats[0]
                enc.time_base = Fraction(1, cc.sample_rate)
                enc.open()
                frame = av.AudioFrame(format=enc.format.name, layout=cc.layout.name, samples=enc.frame_size or 1024)
                for plane in frame.planes:
                    plane.update(bytes(plane.buffer_size))
                frame.sample_rate, frame.pts = cc.sample_rate, 0
                packets = enc.encode(frame) + enc.encode(None)
                self._silence = bytes(packets[0]) if packets else b""
            except (av.error.FFmpegError, ValueError, AttributeError):
                self._silence = b""
        return self._silence or None

    def write(self, out: av.container.OutputContainer, packet: av.Packet) -> bool:
        """Copy or re-encode one packet; False if it was damaged (copies get silence instead).
        Errors writing the output raise: they are the output's failure, not the input's."""
        if self.copy:
            if packet.dts is None and packet.pts is None:
                return True
            intact = self.intact(packet)
            if not intact:
                quiet = self.silence()
                if quiet is None:
                    return False
                stand_in = av.Packet(quiet)
                stand_in.pts, stand_in.dts, stand_in.duration = packet.pts, packet.dts, packet.duration
                stand_in.time_base = packet.time_base
                packet = stand_in
            packet.stream = self.dst
            out.mux(packet)
            return intact
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            return False
        for frame in frames:
            frame.pts = None  # let the encoder number samples continuously
            out.mux(self.dst.encode(frame))
        return True

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
            self.errors += not self.tracks[packet.stream.index].write(self.out, packet)

    def close(self) -> None:
        """Flush the re-encoders; a failed write of the output raises, as in `pump`."""
        try:
            for track in self.tracks.values():
                track.flush(self.out)
        finally:
            self.container.close()


def check_codec(name: str) -> None:
    try:
        codec = av.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):  # PyAV raises UnknownCodecError, a ValueError
        raise RtstyleError(f"video codec {name!r} is not available in this FFmpeg") from None
    if codec.type != "video":
        raise RtstyleError(f"{name!r} is not a video codec")


class VideoFileSink:
    """Encodes RGB frames into a file; the streams are created on the first frame."""

    def __init__(self, path: str | Path, settings: EncoderSettings | None = None,
                 rate: Fraction = Fraction(25), audio_from: str | Path | None = None, shown_as: str | Path | None = None,
                 live: bool = False):
        """`shown_as`: the name errors give (the final name, where `path` is a temporary file).
        `live`: a recording of a live stream; every packet goes to disk at once (FFmpeg's
        32 KiB write buffer held a low-bitrate stream back for half a minute)."""
        self.path = Path(path)
        self.live = live
        self.name = str(shown_as or path)
        self.settings = settings or EncoderSettings()
        self.rate = rate
        self.audio_from = Path(audio_from) if audio_from else None
        check_codec(self.settings.codec)
        self.container = self._open()
        self.stream: av.video.stream.VideoStream | None = None
        self.audio: AudioPassthrough | None = None
        self.frames = 0
        self._last_pts: int | None = None
        self._end_time: float | None = None
        self._closed = False
        self.broken = False

    def _open(self) -> av.container.OutputContainer:
        if self.path.is_dir():
            raise RtstyleError(f"cannot write {self.name}: is a directory")
        try:
            return av.open(str(self.path), "w", options={"flush_packets": "1"} if self.live else None)
        except av.error.FFmpegError as exc:
            raise RtstyleError(f"cannot write {self.name}: {exc.strerror}") from None
        except ValueError as exc:  # unknown extension
            raise RtstyleError(f"cannot write {self.name}: {exc}") from None

    def _failed(self, exc: av.error.FFmpegError) -> RtstyleError:
        """The output is broken (full disk, I/O error): nothing more is written to it. PyAV
        crashes muxing into a container whose header failed, so this is a hard stop."""
        self.broken = True
        reason = exc.strerror or str(exc)
        if getattr(exc, "errno", None) == errno.ENOSPC:
            reason = "no space left on device"
        return RtstyleError(f"writing {self.name} failed: {reason}")

    def _open_streams(self, frame: Frame) -> None:
        s = self.settings
        h, w = frame.image.shape[:2]
        stream = self.container.add_stream(s.codec, rate=self.rate, options=s.codec_options())
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
        pts = frame.pts if frame.pts is not None else self.frames
        if self._last_pts is not None and pts <= self._last_pts:  # encoders need increasing pts
            pts = self._last_pts + 1
        vf.pts = self._last_pts = pts
        vf.time_base = self.stream.codec_context.time_base
        if frame.duration:
            vf.duration = frame.duration
        try:
            packets = self.stream.encode(vf)
        except av.error.FFmpegError as exc:
            raise RtstyleError(f"encoding failed ({self.settings.codec}): {exc.strerror}") from None
        try:
            self.container.mux(packets)
            self.frames += 1
            t = frame.time
            if t is not None:
                dur = float(frame.duration * frame.time_base) if frame.duration else float(1 / self.rate)
                self._end_time = t + dur
            if self.audio:
                self.audio.pump(t)
        except av.error.FFmpegError as exc:
            raise self._failed(exc) from None

    def close(self, truncated: bool = False) -> None:
        """Flush the encoder, finish the audio and write the index.

        A `truncated` conversion (interrupted, or the input broke off) gets the audio
        only up to the end of its last video frame. Raises if the file could not be
        written whole (then it is not playable: callers discard it).
        """
        if self._closed:
            return
        self._closed = True
        if self.broken:
            self._close_container()
            return
        try:
            if self.stream is not None:
                self.container.mux(self.stream.encode(None))
            if self.audio:
                self.audio.pump(self._end_time if truncated else None)
                self.audio.close()
            self.container.close()
        except av.error.FFmpegError as exc:
            self._close_container()
            raise self._failed(exc) from None
        self.check_written()

    @property
    def whole(self) -> bool:
        """Closed, with every frame written: the file plays, even if the job then failed."""
        return self._closed and not self.broken and self.frames > 0

    def _close_container(self) -> None:
        try:
            self.container.close()
        except av.error.FFmpegError:
            pass  # the output already failed; that error is the one reported
        if self.audio:
            self.audio.container.close()

    def check_written(self) -> None:
        """Read the finished file's video packets back: every frame encoded must be there.
        FFmpeg reports some write errors only by leaving the data out; this catches those."""
        if not self.path.is_file() or self.stream is None:
            return
        try:
            with av.open(str(self.path)) as c:
                found = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
        except (av.error.FFmpegError, IndexError):
            found = 0
        if found < self.frames:
            self.broken = True
            raise RtstyleError(f"writing {self.name} failed: {found} of {self.frames} frames reached the file "
                               "(disk full?)")
