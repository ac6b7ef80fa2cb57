"""Inference on CUDA with copies overlapping compute.

Each batch goes through a slot: a pinned host input buffer, a pinned host output
buffer and four events. Host-to-device copy, the network and device-to-host copy are
queued on three streams, each waiting on the event of the step before, so batch k's
copies run while batch k-1 (or k+1) computes. At most `depth` batches wait in flight;
`ready()` returns every batch the GPU has finished, oldest first, without waiting, and the
pipeline polls it every few ms while work is in flight (`Stage.poll`), so a live stream
gets each frame back as soon as it is done, not when later frames arrive.

Slot buffers are sized for the largest batch seen and used as views, so a short last
batch (or a live stream's varying batch) does not reallocate pinned memory. The network's
time is measured on the GPU between two events, not as the time it took to queue the work.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from ..backends import Backend
from ..frames import Frame


@dataclass
class _Slot:
    host_in: torch.Tensor | None = None  # (capacity, H, W, 3) pinned
    host_out: torch.Tensor | None = None
    copied: torch.cuda.Event | None = None
    started: torch.cuda.Event | None = None
    computed: torch.cuda.Event | None = None
    done: torch.cuda.Event | None = None
    n: int = 0  # frames of the batch in the slot

    def fit(self, shape: tuple[int, ...]) -> None:
        """Buffers that hold an `shape` batch, reallocated only for a new frame size or a larger batch."""
        if self.host_in is None or self.host_in.shape[1:] != shape[1:] or self.host_in.shape[0] < shape[0]:
            self.host_in = torch.empty(shape, dtype=torch.uint8, pin_memory=True)
            self.host_out = torch.empty(shape, dtype=torch.uint8, pin_memory=True)
            self.copied, self.done = torch.cuda.Event(), torch.cuda.Event()
            self.started, self.computed = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        self.n = shape[0]


class CudaStreamRunner:
    def __init__(self, backend: Backend, depth: int = 2):
        self.backend = backend
        self.device = torch.device(backend.device)
        self.depth = depth
        self.h2d, self.compute, self.d2h = (torch.cuda.Stream(self.device) for _ in range(3))
        self.slots = [_Slot() for _ in range(depth + 1)]
        self._next_slot = 0
        self._in_flight: deque[tuple[list[Frame], _Slot]] = deque()
        self._collected: list[Frame] = []  # read back early to free a slot
        self._device_ms: list[float] = []  # the network's GPU time per frame, for frames collected

    @torch.inference_mode()
    def submit(self, frames: list[Frame]) -> None:
        batch = np.stack([f.image for f in frames])  # any size: `forward` pads, as the host path does
        while len(self._in_flight) >= len(self.slots):
            self._collected += self._collect()
        slot = self.slots[self._next_slot]
        self._next_slot = (self._next_slot + 1) % len(self.slots)
        if slot.done is not None:
            slot.done.synchronize()
        slot.fit(batch.shape)
        host_in, host_out = slot.host_in[:slot.n], slot.host_out[:slot.n]
        host_in.numpy()[...] = batch
        with torch.cuda.stream(self.h2d):
            x = host_in.to(self.device, non_blocking=True)
            slot.copied.record(self.h2d)
        with torch.cuda.stream(self.compute):
            self.compute.wait_event(slot.copied)
            x.record_stream(self.compute)  # x was allocated on h2d but is used here
            slot.started.record(self.compute)
            y = self.backend.forward(x)
            slot.computed.record(self.compute)
        with torch.cuda.stream(self.d2h):
            self.d2h.wait_event(slot.computed)
            y.record_stream(self.d2h)
            host_out.copy_(y, non_blocking=True)
            slot.done.record(self.d2h)
        self._in_flight.append((frames, slot))

    def _collect(self) -> list[Frame]:
        frames, slot = self._in_flight.popleft()
        slot.done.synchronize()
        out = slot.host_out[:slot.n].numpy().copy()
        for f, image in zip(frames, out):
            f.image = image
        self._device_ms += [slot.started.elapsed_time(slot.computed) / slot.n] * slot.n
        return frames

    def ready(self) -> list[Frame]:
        """Every batch the GPU has finished, and the oldest beyond `depth` (waited for), in order."""
        done, self._collected = self._collected, []
        while self._in_flight and (len(self._in_flight) > self.depth or self._in_flight[0][1].done.query()):
            done += self._collect()
        return done

    def pending(self) -> bool:
        return bool(self._in_flight or self._collected)

    def drain(self) -> list[Frame]:
        done, self._collected = self._collected, []
        while self._in_flight:
            done += self._collect()
        return done

    def device_ms(self) -> list[float]:
        """The network's GPU time (ms) for each frame collected since the last call."""
        taken, self._device_ms = self._device_ms, []
        return taken
