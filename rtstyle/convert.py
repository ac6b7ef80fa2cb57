"""The offline jobs: a video file or a still image in, its stylized version out."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .backends import Backend, Workload
from .errors import RtstyleError
from .images import encode_image, read_image
from .models.library import DATA_DIR
from .pipeline import Pipeline, PipelineStats
from .sinks import EncoderSettings, VideoFileSink
from .output_files import OutputFile, check_output, write_whole
from .sources import VideoFileSource, scaled_size
from .temporal import TemporalSmoother

SAMPLE_CLIP = DATA_DIR / "sample.mp4"
SAMPLE_SHOTS = (20, 70, 95, 120)  # astronaut, coffee, chelsea, rocket: one frame of each shot


def sample_frames(indices: tuple[int, ...] = SAMPLE_SHOTS) -> list[np.ndarray]:
    """Frames of the bundled clip (RGB uint8): photos every install has, for previews and reports."""
    frames: dict[int, np.ndarray] = {}
    source = VideoFileSource(SAMPLE_CLIP)
    try:
        for i, f in enumerate(source):
            if i in indices:
                frames[i] = f.image
            if len(frames) == len(set(indices)):
                break
    finally:
        source.close()
    if len(frames) < len(set(indices)):
        raise RtstyleError(f"{SAMPLE_CLIP}: fewer than {max(indices) + 1} frames")
    return [frames[i] for i in indices]


@dataclass
class ConvertResult:
    output: Path
    frames: int
    width: int
    height: int
    seconds: float
    video_errors: int  # damaged video packets: frames are missing from the output
    missing_frames: int  # frames the input's index lists but its data lacks (truncated file)
    corrupt_frames: int  # frames that decoded with concealed damage (kept)
    audio_errors: int  # damaged audio packets left out (the rest of the audio is intact)
    audio: str
    interrupted: bool
    backend: str

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class VideoConversion:
    """One `rtstyle convert` run. Build it, optionally hook `stop()` to a signal, `run()` it."""

    def __init__(self, src: str | Path, dst: str | Path, backend: Backend, *, height: int | None = None,
                 scale: float | None = None, encoder: EncoderSettings | None = None, batch: int = 1,
                 temporal: TemporalSmoother | None = None, overwrite: bool = False, default_name: bool = False):
        """`dst` is written whole or not at all (`output_files.OutputFile`); an existing `dst` is
        replaced only with `overwrite`, and never when it is `src` under another name."""
        self.src = Path(src)
        check_output(dst, overwrite, inputs=(self.src,))
        self.backend = backend
        with contextlib.ExitStack() as undo:  # what is open is closed again if a later step fails
            self.source = VideoFileSource(self.src, height=height, scale=scale)
            undo.callback(self.source.close)
            self.output = OutputFile(dst, overwrite=overwrite, default_name=default_name)
            undo.callback(self.output.discard)
            self.dst = self.output.target
            self.sink = VideoFileSink(self.output.path, encoder, rate=self.source.info.rate, audio_from=self.src,
                                      shown_as=self.dst)
            undo.callback(self.sink.close)
            self.temporal = temporal or TemporalSmoother()
            self.temporal.follow(backend.meta)
            self.pipeline = Pipeline.standard(self.source, backend, self.sink, batch=batch,
                                              postprocess=[self.temporal])
            undo.pop_all()

    @property
    def info(self):
        return self.source.info

    def stop(self) -> None:
        self.pipeline.stop()  # stops the source too

    def run(self, on_tick: Callable[[PipelineStats], None] | None = None) -> ConvertResult:
        """Convert; an interrupted run (`stop()`) keeps the frames done so far, a run whose
        output failed (a full disk) leaves `dst` as it was."""
        try:
            stats = self.pipeline.run(on_tick)
        except BaseException:  # an input that broke off still leaves what was done, if it was written whole
            self.output.keep_if(self.sink.whole)
            raise
        finally:
            self.source.close()
        if stats.frames_out == 0:
            self.output.discard()
            if self.pipeline.stopped.is_set():
                raise RtstyleError("interrupted before the first frame: no output written")
            raise RtstyleError(f"{self.src}: no video frame could be decoded")
        self.dst = self.output.commit()
        audio = self.sink.audio.describe() if self.sink.audio else "none"
        return ConvertResult(self.dst, stats.frames_out, self.info.width, self.info.height, stats.elapsed,
                             self.source.decode_errors, self.source.missing_frames, self.source.corrupt_frames,
                             self.sink.audio.errors if self.sink.audio else 0,
                             audio, self.pipeline.stopped.is_set(), repr(self.backend))


def image_workload(src: str | Path, height: int | None = None, scale: float | None = None) -> Workload | None:
    """What stylizing the image `src` will feed the network, from its header (None where it cannot
    be read: `stylize_image` says why)."""
    from PIL import Image

    try:
        with Image.open(src) as im:
            w, h = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # turned a quarter, as `read_image` shows it
                w, h = h, w
            w, h = scaled_size(w, h, height, scale)
    except (OSError, RtstyleError):
        return None
    return Workload(((h, w),), long=False)


def stylize_image(src: str | Path, dst: str | Path, backend: Backend, *, height: int | None = None,
                  scale: float | None = None, overwrite: bool = False, default_name: bool = False) -> np.ndarray:
    """Stylize one still image file; returns the stylized RGB array it wrote. `dst` is
    checked and written as `VideoConversion` does."""
    import cv2

    check_output(dst, overwrite, inputs=(src,))
    image = read_image(src)
    w, h = scaled_size(image.shape[1], image.shape[0], height, scale)
    if (w, h) != (image.shape[1], image.shape[0]):
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    out = backend(image)
    write_whole(dst, encode_image(out, Path(dst)), overwrite=overwrite, default_name=default_name)
    return out
