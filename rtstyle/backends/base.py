"""The backend interface: uint8 RGB frames in, uint8 RGB frames out.

Every backend (PyTorch, ONNX Runtime, later TensorRT) implements only `_run` on a
batch whose size the network accepts; padding to the stride, resizing for
fixed-shape models and cropping back live here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np

from ..models.registry import Style

MIN_SIDE = 8  # the 9x9 reflection pad and two stride-2 convs need at least this


class Backend(ABC):
    name: str = "base"

    def __init__(self, style: Style):
        self.style = style
        self.meta = style.meta

    @property
    @abstractmethod
    def device(self) -> str:
        """Where the network runs: "cpu", "cuda:0"..."""

    @property
    @abstractmethod
    def precision(self) -> str:
        """"fp32", "fp16" or "bf16"."""

    @property
    def stride(self) -> int:
        return 4

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        """(height, width) for networks that only take one input size."""
        return None

    @abstractmethod
    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Stylize an (N, H, W, 3) uint8 batch the network accepts as is."""

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Stylize (N, H, W, 3) or (H, W, 3) uint8 RGB frames of any size."""
        single = frames.ndim == 3
        batch = frames[None] if single else frames
        if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8:
            raise ValueError(f"expected uint8 (N, H, W, 3) frames, got {batch.dtype} {batch.shape}")
        h, w = batch.shape[1:3]
        if self.fixed_size:
            fh, fw = self.fixed_size
            resized = np.stack([cv2.resize(f, (fw, fh), interpolation=cv2.INTER_AREA) for f in batch])
            out = self._run(resized)
            out = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in out])
        else:
            out = self._run(pad_to_multiple(batch, self.stride))[:, :h, :w]
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"{self.name}({self.style.name}, {self.device}, {self.precision})"


def pad_to_multiple(batch: np.ndarray, multiple: int) -> np.ndarray:
    """Reflect-pad the bottom/right of NHWC frames to a multiple of `multiple` (min MIN_SIDE)."""
    h, w = batch.shape[1:3]
    ph = max(-(-h // multiple) * multiple, MIN_SIDE) - h
    pw = max(-(-w // multiple) * multiple, MIN_SIDE) - w
    if ph == 0 and pw == 0:
        return batch
    mode = "reflect" if min(h, w) > 1 else "edge"
    return np.pad(batch, ((0, 0), (0, ph), (0, pw), (0, 0)), mode=mode)


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)
