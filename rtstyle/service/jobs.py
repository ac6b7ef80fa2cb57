"""Video jobs: a queue in the jobs database, run by `workers` threads with the CLI's own
`VideoConversion` (files) or `StreamJob` (URLs), on models shared through the `ModelPool`.

Each job owns a folder `jobs/ID/` under the data folder (the ID is a UUID the server made,
never a client's string): its input (uploaded, or downloaded from an http(s) URL by the
worker), its style image, its result. An rtsp:// URL is recorded as it streams. Cancelling a running job
stops it the way Ctrl-C stops `rtstyle convert`: the result holds the frames done so far and
plays. Stopping the server puts running jobs back in the queue, and the next start runs them.
Ended jobs stay, results and all, until a client deletes them or, with `keep_days`
(`--keep-jobs`), until they ended that long ago: checked at start and every PRUNE_EVERY seconds.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from urllib.parse import urlsplit
from dataclasses import dataclass
from pathlib import Path

from ..errors import RtstyleError
from ..images import read_image, write_image
from ..pipeline import PipelineStats
from .http import ApiError
from .models import ModelKey, ModelPool
from .requests import SmoothedOptions
from .store import ACTIVE, Job, JobStore
from .uploads import download

log = logging.getLogger(__name__)

INPUT, RESULT, STYLE_IMAGE = "input", "result.mp4", "style.png"
PROGRESS_EVERY = 0.5  # s between progress writes to the database
PRUNE_EVERY = 600.0  # s between looks for jobs past `keep_days`


@dataclass
class JobOptions(SmoothedOptions):
    """A video job's options: the image options, smoothing, and a duration for live streams."""

    duration: float | None = None  # seconds of a live URL to record (None: until it ends or is cancelled)

    @classmethod
    def parse(cls, form: dict) -> "JobOptions":
        opts = super().parse(form)
        opts.duration = cls.number(form, "duration", (0.1, 24 * 3600.0))
        return opts


class JobRunner:
    """The queue's workers. `start` re-queues what a stopped server left running."""

    def __init__(self, store: JobStore, root: Path, pool: ModelPool, workers: int = 1,
                 max_video_bytes: int = 1 << 31, private_urls: bool = True, keep_days: float | None = None):
        self.store, self.root, self.pool, self.workers = store, root, pool, workers
        self.keep_days = keep_days  # ended jobs older than this are deleted (None: kept until deleted)
        self.max_video_bytes = max_video_bytes  # for videos the server downloads itself
        self.private_urls = private_urls  # ...from private addresses too (`uploads.check_url`)
        self.root.mkdir(parents=True, exist_ok=True)
        self._wake = threading.Condition()
        self._running: dict[str, object] = {}  # job id -> its VideoConversion / StreamJob
        self._cancelled: set[str] = set()
        self._closing = False
        self._closed = threading.Event()  # for the pruning thread, which waits on nothing else
        self._threads: list[threading.Thread] = []

    def folder(self, job_id: str) -> Path:
        return self.root / str(uuid.UUID(job_id))  # a UUID or ValueError: an id never becomes a path

    def result(self, job_id: str) -> Path:
        return self.folder(job_id) / RESULT

    def start(self) -> None:
        requeued = self.store.requeue_running()
        if requeued:
            log.info("%d job(s) left running by the last server: queued again", requeued)
        known = {j.id for j in self.store.list()}
        for leftover in self.root.iterdir():  # folders of uploads that never became jobs (only those)
            if leftover.is_dir() and _is_uuid(leftover.name) and leftover.name not in known:
                shutil.rmtree(leftover, ignore_errors=True)
        self.prune()
        threads = [(self._work, f"job-worker-{i}") for i in range(self.workers)]
        if self.keep_days is not None:
            threads.append((self._pruning, "job-pruner"))
        for target, name in threads:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def new_folder(self) -> tuple[str, Path]:
        job_id = str(uuid.uuid4())
        folder = self.folder(job_id)
        folder.mkdir()
        return job_id, folder

    def add(self, job_id: str, source: str, options: JobOptions) -> Job:
        job = self.store.add(job_id, source, options.to_dict())
        with self._wake:
            self._wake.notify()
        return job

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job (a running one keeps what it made)."""
        with self._wake:
            job = self.store.get(job_id)
            if job is None or job.state not in ACTIVE:
                return job
            if job.state == "queued":
                self.store.update(job_id, state="cancelled")
                (self.folder(job_id) / INPUT).unlink(missing_ok=True)
            else:
                self._cancelled.add(job_id)
                running = self._running.get(job_id)
                if running is not None:
                    running.stop()
        deadline = time.monotonic() + 10
        while (job := self.store.get(job_id)).state == "running" and time.monotonic() < deadline:
            time.sleep(0.05)  # the worker writes the file's end and the final state
        return job

    def delete(self, job_id: str) -> None:
        self.store.delete(job_id)
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def prune(self) -> None:
        """Delete the jobs that ended more than `keep_days` ago, results and all."""
        if self.keep_days is None:
            return
        old = self.store.ended_before(time.time() - self.keep_days * 86400)
        for job_id in old:
            self.delete(job_id)
        if old:
            log.info("%d job(s) that ended over %g day(s) ago deleted (--keep-jobs)", len(old), self.keep_days)

    def _pruning(self) -> None:
        while not self._closed.wait(PRUNE_EVERY):
            try:
                self.prune()
            except Exception:  # a locked database, a full disk: try again next time, the server goes on
                log.exception("deleting old jobs failed")

    def close(self) -> None:
        """Stop the workers; jobs they were running go back in the queue for the next start."""
        self._closed.set()
        with self._wake:
            self._closing = True
            for running in self._running.values():
                running.stop()
            self._wake.notify_all()
        for t in self._threads:
            t.join(30)

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._closing and (job := self.store.claim()) is None:
                    self._wake.wait(1.0)
                if self._closing:
                    return
            self._run(job)

    def _run(self, job: Job) -> None:
        folder = self.folder(job.id)
        error, task = None, None
        try:
            task = self._open(job, folder)  # a download happens here: it can be cancelled or stopped too
        except Exception as exc:
            error = self._one_line(exc, folder)
        if task is not None:
            error = self._convert(job, task, folder)
        with self._wake:
            self._running.pop(job.id, None)
            cancelled = job.id in self._cancelled
            self._cancelled.discard(job.id)
        if cancelled:
            state = "cancelled"
        elif self._closing:
            state = "queued"  # the next start runs it again
        else:
            state = "failed" if error else "done"
        stats = task.pipeline.stats if task is not None else None
        has_result = (folder / RESULT).is_file() and state != "queued"
        self._finish(job.id, state, error=error if state == "failed" else None,
                     frames=stats.frames_out if stats else 0, fps=stats.fps if stats else 0.0,
                     has_result=int(has_result))
        if state != "queued":
            (folder / INPUT).unlink(missing_ok=True)  # up to 2 GB no longer needed

    def _convert(self, job: Job, task, folder: Path) -> str | None:
        """Run `task`, its progress into the database; the error line, if it failed."""
        with self._wake:
            self._running[job.id] = task
            if self._closing or job.id in self._cancelled:
                task.stop()
        last = [0.0]

        def tick(stats: PipelineStats) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                self.store.update(job.id, frames=stats.frames_out, fps=stats.fps)

        try:
            task.run(tick)
        except Exception as exc:
            return self._one_line(exc, folder)
        return None

    def _open(self, job: Job, folder: Path):
        """The conversion (an uploaded file) or stream job (a URL) for `job`."""
        from ..convert import VideoConversion
        from ..stream_job import SourceOptions, StreamJob

        opts = JobOptions.from_dict(job.options)
        source = folder / INPUT
        if urlsplit(job.input).scheme.lower() in ("http", "https"):  # as `uploads.check_url` parsed it
            download(job.input, source, self.max_video_bytes, self.private_urls,
                     lambda: self._closing or job.id in self._cancelled)
        if self._closing or job.id in self._cancelled:  # before a model load of seconds
            raise ApiError(409, "stopped before it started")
        model = self.pool.get(ModelKey(opts.style, lite=opts.lite))
        style_images = [read_image(folder / STYLE_IMAGE)] if (folder / STYLE_IMAGE).exists() else None
        backend = model.view(opts.strength, opts.stroke, style_images)
        temporal = opts.spec.smoother()
        if source.exists():
            task = VideoConversion(source, folder / RESULT, backend, height=opts.height, temporal=temporal,
                                   overwrite=True)
            self.store.update(job.id, total_frames=task.info.frames or None, frames=0)
        else:  # a live stream: recorded as it comes
            task = StreamJob(job.input, str(folder / RESULT), backend, temporal=temporal, overwrite=True,
                             source=SourceOptions(height=opts.height, timeout=10, reconnect_timeout=10),
                             duration=opts.duration)
        return task

    def _finish(self, job_id: str, state: str, **values) -> None:
        self.store.update(job_id, state=state, **values)
        log.info("job %s: %s%s", job_id, state, f": {values['error']}" if values.get("error") else "")

    @staticmethod
    def _one_line(exc: Exception, folder: Path) -> str:
        """The error for the client: one line, with the server's folders left out."""
        if isinstance(exc, (RtstyleError, ApiError)):
            text = str(exc)
        else:
            log.error("job failed", exc_info=exc)
            text = f"internal error: {type(exc).__name__}"
        return text.replace(str(folder) + "/", "").splitlines()[0] if text else "failed"


def _is_uuid(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


def save_style_image(folder: Path, image) -> None:
    """The job's style image, decoded and checked already, kept in its folder as PNG."""
    write_image(folder / STYLE_IMAGE, image)
