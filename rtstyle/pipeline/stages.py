"""The processing stages between source and sink. Each runs on its own thread.

A stage takes a list of frames (a batch: `batch` frames at most, only those already
waiting, so batching never adds latency) and returns the frames that are ready, which
may lag behind (inference on CUDA keeps a few batches in flight); `flush()` returns
the rest at the end of the stream.
"""

from __future__ import annotations

import threading
from itertools import groupby
from typing import TYPE_CHECKING, Callable, Protocol

import cv2
import numpy as np

from ..frames import Frame, network_scale

if TYPE_CHECKING:
    from ..backends.base import Workload


class Stage:
    name = "stage"
    batch = 1

    def process(self, frames: list[Frame]) -> list[Frame]:
        raise NotImplementedError

    def flush(self) -> list[Frame]:
        return []

    def device_ms(self) -> list[float] | None:
        """Per-frame ms of the work done on a device since the last call, where the work runs
        there asynchronously (timing `process` would measure the queueing); None: time `process`."""
        return None

    def pending(self) -> bool:
        """Whether work is in flight that `poll` may hand back before the next frame arrives."""
        return False

    def poll(self) -> list[Frame]:
        """Frames finished since the last call, without waiting (asynchronous stages only)."""
        return []


class Preprocess(Stage):
    """Brings frames to the working size and keeps the input for later stages."""

    name = "preprocess"

    def __init__(self, size: tuple[int, int] | None = None):
        self.size = size  # (width, height); None keeps the source's size

    def process(self, frames: list[Frame]) -> list[Frame]:
        for f in frames:
            if self.size and (f.image.shape[1], f.image.shape[0]) != self.size:
                f.image = cv2.resize(f.image, self.size, interpolation=cv2.INTER_AREA)
            f.original = f.image
        return frames


class Model(Protocol):
    """What inference needs of a backend: (N, H, W, 3) uint8 in, the same shape out."""

    def __call__(self, frames: np.ndarray) -> np.ndarray: ...


class SyncRunner:
    """Runs each batch to completion on submit (CPU backends)."""

    def __init__(self, model: Model):
        self.model = model
        self._done: list[Frame] = []

    def submit(self, frames: list[Frame]) -> None:
        out = self.model(np.stack([f.image for f in frames]))
        for f, image in zip(frames, out):
            f.image = image
        self._done += frames

    def ready(self) -> list[Frame]:
        done, self._done = self._done, []
        return done

    drain = ready

    def pending(self) -> bool:
        return False  # done as soon as submitted


def make_runner(model: Model) -> SyncRunner:
    """The CUDA-streams runner for tensor backends (PyTorch, TensorRT) on a GPU, else the synchronous one."""
    from ..backends import Backend

    if isinstance(model, Backend) and model.on_device:
        from .cuda import CudaStreamRunner

        return CudaStreamRunner(model)
    return SyncRunner(model)


class Inference(Stage):
    """Runs the style network; `set_model` swaps it (a style switch) between two batches."""

    name = "inference"

    def __init__(self, model: Model, batch: int = 1, workload: Workload | None = None):
        """`workload`: what the source will send, so a model that compiles for shapes (TensorRT) gets
        ready before the first frame, and again for each model switched to."""
        self.batch = max(1, batch)
        self.workload = workload
        self.model = model
        self._prepare(model)
        self._runner = make_runner(model)
        self._next: Model | None = None
        self._lock = threading.Lock()
        self.generation = 0  # counts style switches; frames carry it as `styled_by`
        self._timed: list[float] = []  # device times of a runner switched away from

    def set_model(self, model: Model) -> None:
        """Thread-safe: the next batch runs on `model`; batches in flight finish on the old one."""
        with self._lock:
            self._next = model

    def _switch(self) -> list[Frame]:
        with self._lock:
            model, self._next = self._next, None
        if model is None:
            return []
        self._prepare(model)  # a no-op where whoever loaded it prepared it (live does, on its loader thread)
        finished = self._runner.drain()
        self._timed += getattr(self._runner, "device_ms", list)()  # the old runner's, reported with the next
        self.model, self._runner = model, make_runner(model)
        self.generation += 1
        return finished

    def _prepare(self, model: Model) -> None:
        prepare = getattr(model, "prepare", None)
        if self.workload and prepare:
            prepare(self.workload)

    def process(self, frames: list[Frame]) -> list[Frame]:
        done = self._switch()
        for f in frames:
            f.styled_by = self.generation
            f.styled_at = network_scale(self.model, *f.image.shape[:2])
        for _, same_size in groupby(frames, key=lambda f: f.image.shape):
            self._runner.submit(list(same_size))
        return done + self._runner.ready()

    def flush(self) -> list[Frame]:
        return self._runner.drain()

    def device_ms(self) -> list[float] | None:
        timed = getattr(self._runner, "device_ms", None)
        if timed is None:
            return None
        taken, self._timed = self._timed + timed(), []
        return taken

    def pending(self) -> bool:
        return self._runner.pending()

    def poll(self) -> list[Frame]:
        return self._runner.ready()


class Postprocess(Stage):
    """Per-frame steps after stylization, in order (temporal smoothing goes here)."""

    name = "postprocess"

    def __init__(self, steps: list[Callable[[Frame], Frame]] | None = None):
        self.steps = list(steps or [])

    def process(self, frames: list[Frame]) -> list[Frame]:
        for step in self.steps:
            frames = [step(f) for f in frames]
        return frames
