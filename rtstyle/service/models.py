"""Many clients, one model: loaded backends shared by every request and live session, with
frames from several clients run in one network call.

A `SharedModel` is one loaded backend (one style on one runtime). Clients ask it for a
`view` with their own settings (strength, stroke size, a style image): a `Backend` that
shares the runtime, so nothing is loaded twice. With batching, `run` queues a frame; one
thread per model takes what is waiting, waits at most `max_wait` for more, and runs frames
of the same view and size as one batch: on a GPU one call for several frames costs little
more than one. On a CPU a batch costs what its frames cost one by one, and clients calling
at once use the cores better than one batching thread (BENCHMARKS.md, "Serving"), so
batching is on where the model runs on a GPU unless asked for.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..backends import Backend, Workload
from ..errors import RtstyleError, UsageError

SERVED_SIZES = ((1080, 1920), (1920, 1080))  # frames (h, w) an engine is made for up front; larger ones widen it

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelKey:
    style: str  # a registered name or a blend of names, never a path (`service.requests.style_name`)
    backend: str = "auto"
    lite: bool = False


class SharedModel:
    """One loaded backend and the thread that batches its frames."""

    def __init__(self, backend: Backend, *, max_batch: int = 8, max_wait: float = 0.005, batching: bool = True):
        self.backend, self.max_batch, self.max_wait = backend, max_batch, max_wait
        self.batching = batching
        self.calls = self.frames = 0  # network calls made and frames they ran: the batching gain
        self._count = threading.Lock()
        self._closing = threading.Lock()
        self._views: OrderedDict[tuple, Backend] = OrderedDict()
        self._views_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        # Not batching: each frame runs on its own, in threads enough to keep the cores busy.
        self._pool = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix=f"model-{backend.style.name}")
        if batching:  # up to 1080p either way up, max_batch frames a call: a TensorRT engine is made for that now
            backend.prepare(Workload(SERVED_SIZES, batch=max_batch, varying=True))
            threading.Thread(target=self._serve, name=f"model-{backend.style.name}", daemon=True).start()

    def view(self, strength: float | None = None, stroke: float | None = None,
             style_images: list[np.ndarray] | None = None) -> Backend:
        """A backend with these settings sharing the loaded runtime. Views without style images are
        kept (frames of one view batch together); a style image's view is the caller's own."""
        b = self.backend  # the values are in their ranges: a request's `spec.BackendSettings` checked them
        if stroke is not None and not b.network_long_side:
            raise UsageError(f"stroke: style {b.style.name!r} is not a preset (its strokes are set by its training)")
        if b.takes_style_images:
            if not style_images:
                raise RtstyleError(f"style {b.style.name!r} needs a style image (style_image)")
            return b.with_style(style_images, alpha=1.0 if strength is None else strength)
        if style_images:
            raise RtstyleError(f"style {b.style.name!r} has a look of its own; a style image needs an "
                               f"arbitrary-style model (style=magenta)")
        key = (strength, stroke)
        with self._views_lock:
            if key not in self._views:
                v = Backend(b.style, b.runtime, b.adapter)
                for setting in Backend.SETTINGS:
                    setattr(v, setting, getattr(b, setting))
                if strength is not None:
                    v.strength = strength
                if stroke is not None:
                    v.stroke = stroke
                self._views[key] = v
                while len(self._views) > 64:  # settings are client input: keep a bounded few
                    self._views.popitem(last=False)
            return self._views[key]

    def run(self, view: Backend, frame: np.ndarray, timeout: float = 120.0) -> np.ndarray:
        """Stylize one (H, W, 3) uint8 RGB frame with `view`, batched with other clients' frames."""
        return self.submit(view, frame).result(timeout)

    def submit(self, view: Backend, frame: np.ndarray) -> Future:
        """`run` without waiting: for callers on an event loop (`asyncio.wrap_future`)."""
        done: Future = Future()
        item = (view, frame, done)
        with self._closing:  # a frame is queued before the end mark or not at all
            if self.batching:
                self._queue.put(item)
                return done
        self._pool.submit(self._run_group, [item])
        return done

    def close(self) -> None:
        """Stop the batching thread once what is queued has run; frames still coming run on their own."""
        with self._closing:
            if self.batching:
                self.batching = False
                self._queue.put(None)

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            waiting = [first]
            deadline = time.monotonic() + self.max_wait
            while len(waiting) < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                waiting.append(item)
            groups: dict[tuple, list] = {}
            for item in waiting:  # only frames of one view and one size stack into a batch
                groups.setdefault((id(item[0]), item[1].shape), []).append(item)
            for items in groups.values():
                self._run_group(items)

    def _run_group(self, items: list) -> None:
        items = [item for item in items if item[2].set_running_or_notify_cancel()]  # a client gone: skipped
        if not items:
            return
        view = items[0][0]
        try:
            out = view(np.stack([frame for _, frame, _ in items]))
        except Exception as exc:  # the clients get the error, the model thread goes on
            for _, _, done in items:
                done.set_exception(exc)
            return
        with self._count:
            self.calls, self.frames = self.calls + 1, self.frames + len(items)
        for i, (_, _, done) in enumerate(items):
            done.set_result(out[i])


class ModelPool:
    """Loaded models by key, loaded once on first use, the least recently used unloaded beyond `limit`."""

    def __init__(self, limit: int = 4, *, max_batch: int = 8, max_wait: float = 0.005,
                 batching: bool | None = None):
        """`batching` None: on for models on a GPU, off on a CPU."""
        self.limit, self.max_batch, self.max_wait, self.batching = limit, max_batch, max_wait, batching
        self._models: OrderedDict[ModelKey, SharedModel] = OrderedDict()
        self._loading: dict[ModelKey, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: ModelKey) -> SharedModel:
        """The shared model for `key`, loading it if needed (clients asking at once wait for one load)."""
        from ..backends import load_backend

        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                if key in self._models:
                    return self._models[key]
            log.info("loading style %s on %s%s", key.style, key.backend, " (lite)" if key.lite else "")
            backend = load_backend(key.style, key.backend, lite=key.lite)
            batching = backend.device.startswith("cuda") if self.batching is None else self.batching
            model = SharedModel(backend, max_batch=self.max_batch, max_wait=self.max_wait, batching=batching)
            with self._lock:
                self._models[key] = model
                self._loading.pop(key, None)
                while len(self._models) > self.limit:
                    _, old = self._models.popitem(last=False)
                    old.close()  # clients holding it finish on it; it is freed when they let go
        return model

    def loaded(self) -> list[ModelKey]:
        with self._lock:
            return list(self._models)

    def close(self) -> None:
        with self._lock:
            for model in self._models.values():
                model.close()
            self._models.clear()
