"""`rtstyle batch`: a library of videos, one after another here, or as segments on a Ray cluster.

Locally each file is one `VideoConversion`. On Ray every file is cut into segments
(`segments.plan`) that run as tasks on any worker (`ray_tasks.convert`); a worker that dies
mid-segment has its task retried by Ray; the driver joins each file's segments once they are
all done. A file that fails is reported and the others go on.
"""

from __future__ import annotations

import glob
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import av

from ..errors import RtstyleError
from ..output_files import check_output
from ..sources import VideoFileSource
from ..spec import JobSpec

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".ts", ".flv", ".mpg", ".mpeg"}
PARTS = ".rtstyle-parts-"  # segments waiting to be joined, in a folder of the output folder


@dataclass
class FileResult:
    input: Path
    output: Path
    frames: int = 0
    seconds: float = 0.0
    segments: int = 1
    error: str | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Progress:
    """The whole batch so far, for a progress line."""

    files: int
    total_frames: int  # 0 where unknown
    files_done: int = 0
    frames: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def fps(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.frames / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        if not self.total_frames or self.fps <= 0:
            return None
        return max(0.0, (self.total_frames - self.frames) / self.fps)


def expand_inputs(specs: list[str]) -> list[Path]:
    """Files, folders (their videos, recursively) and globs, in order, each once."""
    found: list[Path] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        elif path.exists():
            matches = [path]
        else:
            matches = [Path(p) for p in sorted(glob.glob(str(path), recursive=True)) if Path(p).is_file()]
            if not matches:
                raise RtstyleError(f"{spec}: no such file, and no file matches it")
        found.extend(matches)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise RtstyleError(f"no videos in {' '.join(specs)} ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return unique


class Batch:
    """Convert `inputs` into `out_dir` as INPUT_STYLE.mp4 as `spec` says."""

    def __init__(self, inputs: list[Path], out_dir: Path, spec: JobSpec, *, overwrite: bool = False):
        self.inputs, self.out_dir, self.spec, self.overwrite = inputs, out_dir, spec, overwrite
        out_dir.mkdir(parents=True, exist_ok=True)
        self.style_name = spec.backend.load().style.name  # the style loads once here, where its errors are plain
        names = [self.output_for(p) for p in inputs]
        if len(set(names)) < len(names):
            raise RtstyleError("two inputs have the same name: their outputs would collide in "
                               f"{out_dir} (convert them in separate batches)")

    def output_for(self, src: Path) -> Path:
        return self.out_dir / f"{src.stem}_{self.style_name}.mp4"

    def _frames(self, src: Path) -> int:
        try:
            with VideoFileSource(src) as s:
                return s.info.frames
        except RtstyleError:
            return 0

    def run_local(self, on_progress: Callable[[Progress], None] = lambda p: None) -> list[FileResult]:
        """One file after another in this process, one backend for all."""
        from ..convert import VideoConversion

        backend = self.spec.backend.load()
        progress = Progress(len(self.inputs), sum(self._frames(p) for p in self.inputs))
        results = []
        for src in self.inputs:
            result = FileResult(src, self.output_for(src))
            done_before, t0 = progress.frames, time.monotonic()
            try:
                job = VideoConversion(src, result.output, backend, height=self.spec.height, scale=self.spec.scale,
                                      encoder=self.spec.encoder(), temporal=self.spec.smoother(),
                                      batch=self.spec.batch, overwrite=self.overwrite)

                def tick(stats, base=done_before):
                    progress.frames = base + stats.frames_out
                    on_progress(progress)

                result.frames = job.run(tick).frames
            except (RtstyleError, OSError) as exc:  # this file failed; the others go on
                result.error = str(exc)
            result.seconds = time.monotonic() - t0
            progress.frames, progress.files_done = done_before + result.frames, progress.files_done + 1
            on_progress(progress)
            results.append(result)
        return results

    def run_ray(self, address: str | None, on_progress: Callable[[Progress], None] = lambda p: None,
                segment_seconds: float | None = None) -> list[FileResult]:
        """Every file's segments as Ray tasks on the cluster at `address` (None: Ray's own choice,
        a running cluster or a new local one); joined here as each file completes."""
        from . import ray_tasks
        from .segments import SEGMENT_SECONDS, join, plan

        ray = ray_tasks.connect(address)
        weights = ray_tasks.ship_weights(self.spec.backend)  # once, through the object store
        progress = Progress(len(self.inputs), 0)
        results = {src: FileResult(src, self.output_for(src)) for src in self.inputs}
        pending: dict = {}  # task -> (file, its segment)
        parts: dict[Path, list] = {}
        started: dict[Path, float] = {}
        work = Path(tempfile.mkdtemp(prefix=PARTS, dir=self.out_dir))  # this batch's own: others may share out_dir
        for src in self.inputs:
            result = results[src]
            try:
                check_output(result.output, self.overwrite, inputs=(src,))
                segments = plan(src, segment_seconds or SEGMENT_SECONDS)
                progress.total_frames += self._frames(src)
            except (RtstyleError, av.error.FFmpegError, OSError) as exc:  # damaged past its header: this file only
                result.error = str(exc)
                progress.files_done += 1
                continue
            folder = work / f"{src.stem}-{abs(hash(str(src))):x}"
            folder.mkdir(parents=True, exist_ok=True)
            result.segments, started[src] = len(segments), time.monotonic()
            parts[src] = [(folder / f"{s.index:05d}.mp4", s) for s in segments]
            for part, segment in parts[src]:
                task = ray_tasks.convert.remote(str(src), segment, str(part), self.spec, weights)
                pending[task] = (src, segment)
        on_progress(progress)
        left = {src: len(p) for src, p in parts.items()}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                for task in done:
                    src, segment = pending.pop(task)
                    result = results[src]
                    try:
                        frames = ray.get(task)
                    except Exception as exc:  # the segment's error, or Ray's after its retries
                        frames = 0
                        if result.error is None:
                            result.error = ray_tasks.error_line(exc)
                            for other in [t for t, (s, _) in pending.items() if s == src]:
                                ray.cancel(other)
                    result.frames += frames
                    progress.frames += frames
                    left[src] -= 1
                    if left[src] == 0:
                        self._finish(src, result, parts[src], started[src], join)
                        progress.files_done += 1
                on_progress(progress)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            ray.shutdown()  # a local cluster this started goes with it; a running one stays
        return [results[src] for src in self.inputs]

    def _finish(self, src: Path, result: FileResult, parts: list, started: float, join) -> None:
        """Join a file whose segments are all done (or fail it cleanly)."""
        if result.error is None:
            try:
                joined = join(src, parts, result.output, overwrite=self.overwrite)
                if joined != result.frames:
                    raise RtstyleError(f"{src}: {joined} frames joined of {result.frames} converted")
            except (RtstyleError, OSError) as exc:
                result.error = str(exc)
        for part, _ in parts:
            part.unlink(missing_ok=True)
        result.seconds = time.monotonic() - started
