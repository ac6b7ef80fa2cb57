"""A backend: a runtime running a model, behind one interface (uint8 RGB frames in and out).

It is composed of two parts, so each kind of model runs on each runtime without a class per
pair: the `Runtime` (PyTorch, ONNX Runtime, TensorRT: `runtime.py`) makes the network call;
the `Adapter` says what the kind of model feeds the network besides the image (nothing for a
per-style network, a preset's condition, a style image's vector or AdaIN's statistics).
Around the call is `transform.stylize` (padding to the stride, resizing for fixed-shape
models, reduced size, colour, strength), the one path the host, the device and the
CUDA-streams runner share, driven by the style's `InputSpec` and the settings below.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import RtstyleError
from ..models.library import Style
from ..spec import check_range
from .color import gray3
from .runtime import Inputs, Runtime
from .transform import MIN_SIDE, padded_size, run_size, stylize

FrameOf = Callable[[], np.ndarray]  # the batch's first frame as RGB uint8, made only if asked for
Shape = tuple[int, int, int, int]  # N, C, H, W: what the network is called with


@dataclass(frozen=True)
class Workload:
    """What a job will feed a backend, known once its source is open: the frame sizes (h, w; the
    first is the usual one), the images per network call, whether the network's size changes
    while it runs (live: the quality ladder and the stroke keys), and whether the job runs long
    enough to pay for compiling an engine (a video or a stream does; one image does not)."""

    sizes: tuple[tuple[int, int], ...]
    batch: int = 1
    varying: bool = False
    long: bool = True


class Adapter:
    """A kind of model: what it feeds its network besides the image. Per-style networks feed nothing."""

    takes_style_images = False
    caches_styles = False  # True where binding a style image again is cheap (worth warming up ahead)

    @classmethod
    def create(cls, style: Style, runtime: Runtime) -> "Adapter":
        """The adapter for `style` running on `runtime` (`backends.factory`; most need the style alone)."""
        return cls(style)

    def inputs(self, frame: FrameOf) -> Inputs:
        return {}


class StyleImages(Adapter, ABC):
    """Arbitrary-style models: any image is the style, bound with `Backend.with_style`.

    `bound` returns a new adapter for the images that shares what is loaded (switching style
    re-computes the style's statistics only, no reload). `alpha` sets the strength.
    """

    takes_style_images = True

    def __init__(self, style: Style, alpha: float = 1.0):
        self.style, self.alpha = style, alpha

    @abstractmethod
    def bound(self, images: list[np.ndarray], weights: np.ndarray, alpha: float) -> "StyleImages":
        """An adapter for `images` mixed by `weights` (summing to 1), sharing what this one loaded."""

    def unbound(self) -> RtstyleError:
        """The error for running, or binding nothing: this model needs a style image."""
        return RtstyleError(f"style {self.style.name!r} is an arbitrary-style model: give --style-image")


class Backend:
    """`runtime` running `adapter`'s model for `style`, with the user's settings around it."""

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
    SETTINGS = ("preserve_color", "infer_scale", "infer_min_side", "network_long_side", "stroke", "strength")

    def __init__(self, style: Style, runtime: Runtime, adapter: Adapter | None = None):
        self.style, self.meta = style, style.meta
        self.runtime = runtime
        self.adapter = adapter or Adapter()

    @property
    def name(self) -> str:
        return self.runtime.name

    @property
    def device(self) -> str:
        return self.runtime.device

    @property
    def precision(self) -> str:
        return self.runtime.precision

    @property
    def stride(self) -> int:
        return self.runtime.spec.stride

    @property
    def fixed_size(self) -> tuple[int, int] | None:
        """(height, width) for networks that only take one input size."""
        return self.runtime.fixed_size

    @property
    def on_device(self) -> bool:
        """Whether `forward` takes frames already on a CUDA device (PyTorch and TensorRT there)."""
        return self.runtime.takes_tensors and self.device.startswith("cuda")

    @property
    def takes_style_images(self) -> bool:
        return self.adapter.takes_style_images

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """The bare network call on an (N, H, W, 3) uint8 batch the network accepts as is."""
        return self.runtime.run(batch, self.adapter.inputs(lambda: batch[0]))

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Stylize (N, H, W, 3) or (H, W, 3) uint8 RGB frames of any size."""
        single = frames.ndim == 3
        batch = frames[None] if single else frames
        if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8:
            raise ValueError(f"expected uint8 (N, H, W, 3) frames, got {batch.dtype} {batch.shape}")
        out = stylize(batch, self, self._run)
        return out[0] if single else out

    def forward(self, frames):
        """(N, H, W, 3) uint8 torch frames of any size on the runtime's device -> the same,
        stylized: `__call__`'s path on the device (tensor runtimes only)."""
        runtime = self.runtime
        if not runtime.takes_tensors:
            raise TypeError(f"the {self.name} backend runs numpy frames: call it")
        return stylize(frames, self, lambda x: runtime.forward(x, self.adapter.inputs(lambda: x[0].cpu().numpy())))

    def with_style(self, images: list[np.ndarray], weights: list[float] | None = None, alpha: float = 1.0,
                   preserve_color: bool = False) -> "Backend":
        """A backend sharing this one's runtime, its arbitrary-style model bound to `images`: several
        mix by `weights`, `alpha` sets the strength, `preserve_color` keeps the content's colours
        (the style images then give their luminance only, like the frames)."""
        adapter = self.adapter
        if not isinstance(adapter, StyleImages):
            raise RtstyleError(f"style {self.style.name!r} has a look of its own; --style-image needs an "
                               f"arbitrary-style model")
        if not images:
            raise adapter.unbound()
        check_range("strength", alpha)
        w = mix_weights(len(images), weights)
        if preserve_color:
            images = [gray3(im[None])[0] for im in images]
        bound = Backend(self.style, self.runtime, adapter.bound(images, w, alpha))
        for setting in self.SETTINGS:
            setattr(bound, setting, getattr(self, setting))
        bound.preserve_color = preserve_color
        return bound

    def network_shapes(self, workload: Workload) -> list[Shape]:
        """The NCHW shapes the network will be called with for `workload`, the usual one first: up to
        `batch` frames a call (a stream's last call, or a live one, may have fewer). A varying size
        spans from the smallest network input to the whole frame."""
        n = workload.batch
        shapes = [(n, 3, *run_size(self, h, w)) for h, w in workload.sizes]
        if n > 1:
            shapes.append((1, *shapes[0][1:]))
        if workload.varying and not self.fixed_size:
            smallest = max(2 * self.stride, MIN_SIDE)
            shapes += [(n, 3, smallest, smallest)]
            shapes += [(n, 3, *padded_size(h, w, self.stride)) for h, w in workload.sizes]
        return shapes

    def prepare(self, workload: Workload) -> None:
        """Get ready for `workload` ahead of its first frame: a TensorRT engine is chosen (or built)
        for the shapes it will see. Other runtimes need nothing."""
        self.runtime.prepare(self.network_shapes(workload))

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


def mix_weights(count: int, weights: list[float] | None) -> np.ndarray:
    """Weights for `count` style images, non-negative and normalised to sum to 1."""
    w = np.ones(count) if not weights else np.asarray(weights, dtype=np.float64)
    if len(w) != count or (w < 0).any() or w.sum() <= 0:
        raise RtstyleError(f"--style-weights: give {count} non-negative numbers with a positive sum, one per "
                           f"--style-image")
    return w / w.sum()
