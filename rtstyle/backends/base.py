"""The backend interface: uint8 RGB frames in, uint8 RGB frames out.

Every backend (PyTorch, ONNX Runtime, TensorRT) implements only `_run` on a batch whose
size the network accepts; everything around it (padding to the stride, resizing for
fixed-shape models, reduced size, colour, strength) is `transform.stylize`, the one path
the host, the device and the CUDA-streams runner share.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..errors import RtstyleError, UsageError
from ..models.registry import Style
from .color import gray3
from .transform import stylize

class Backend(ABC):
    name: str = "base"
    # Luminance-only transfer (Gatys et al. 2017): the network sees the frame's luminance
    # and the frame's own chroma goes back on, so the style gives texture, not colours.
    preserve_color: bool = False
    # Run the network at this fraction of the frame's size and upsample with the frame's own
    # detail (`upsample.at_reduced_size`): 0.5 costs about a quarter.
    infer_scale: float = 1.0
    infer_min_side: int = 0  # ...unless the frame's shorter side would fall below this (an automatic choice)
    # Presets' stroke size: the network runs with the frame's long side at `network_long_side`
    # divided by `stroke` (never above the frame's own size), so strokes look the same at 360p
    # and at 1080p, where a network trained around 256 px would otherwise paint fine grain.
    network_long_side: int = 0  # 0: at the frame's size
    stroke: float = 1.0
    # Per-style networks: 1 is the network's output; less mixes the frame back in (pixel space).
    strength: float = 1.0

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
        out = stylize(batch, self, self._run)
        return out[0] if single else out

    def scale_for(self, h: int, w: int) -> float:
        """The scale the network runs at for an h x w frame."""
        scale = self.infer_scale
        if min(h, w) * scale < self.infer_min_side:  # the automatic choice keeps small frames whole...
            scale = 1.0
        if self.network_long_side:  # ...and never overrides a preset's stroke size
            scale = min(scale, self.network_long_side / (self.stroke * max(h, w)))
        return min(scale, 1.0)

    def __repr__(self) -> str:
        scale = f", infer-scale {self.infer_scale:g}" if self.infer_scale < 1.0 else ""
        scale += f" from {round(self.infer_min_side / self.infer_scale)} lines" if scale and self.infer_min_side else ""
        if self.network_long_side:
            scale += f", strokes at {round(self.network_long_side / self.stroke)} px"
        if self.strength < 1.0:
            scale += f", strength {self.strength:g}"
        return f"{self.name}({self.style.name}, {self.device}, {self.precision}{scale})"


class StyleImages(ABC):
    """Arbitrary-style backends: any image is the style, bound with `with_style`.

    `with_style` returns a copy bound to the images that shares the loaded network
    (switching style re-computes the style's statistics only, no reload); weights mix
    several images, `alpha` sets the strength and `preserve_color` keeps the content's
    colours (the style images then give their luminance only, like the frames).
    """

    alpha: float = 1.0
    caches_styles: bool = False  # True where binding an image again is cheap (worth warming up ahead)

    def with_style(self, images: list[np.ndarray], weights: list[float] | None = None, alpha: float = 1.0,
                   preserve_color: bool = False):
        if not images:
            raise self.unbound()
        if not 0.0 <= alpha <= 1.0:
            raise UsageError(f"--alpha must be between 0 and 1, got {alpha}")
        w = mix_weights(len(images), weights)
        if preserve_color:
            images = [gray3(im[None])[0] for im in images]
        bound = self._bound(images, w)
        bound.alpha, bound.preserve_color = alpha, preserve_color
        return bound

    def unbound(self) -> RtstyleError:
        """The error for running, or binding nothing: this model needs a style image."""
        return RtstyleError(f"style {self.style.name!r} is an arbitrary-style model: give --style-image")

    @abstractmethod
    def _bound(self, images: list[np.ndarray], weights: np.ndarray):
        """A copy sharing the network, bound to `images` mixed by `weights` (summing to 1)."""


def mix_weights(count: int, weights: list[float] | None) -> np.ndarray:
    """Weights for `count` style images, non-negative and normalised to sum to 1."""
    w = np.ones(count) if not weights else np.asarray(weights, dtype=np.float64)
    if len(w) != count or (w < 0).any() or w.sum() <= 0:
        raise RtstyleError(f"--style-weights: give {count} non-negative numbers with a positive sum, one per "
                           f"--style-image")
    return w / w.sum()
