"""AdaIN behind the backend interface: PyTorch (CPU/CUDA) and ONNX Runtime.

The style is a pair of (1, 512, 1, 1) tensors, the mean and standard deviation of
the style image's relu4_1 features, computed once per style image by the PyTorch
encoder (`style_stats`) and then fed to the network with every frame: as arguments
of `AdaINNet.forward_with` in PyTorch, as the `style_mean`/`style_std`/`alpha` inputs
of the exported ONNX graph in ONNX Runtime. A style switch costs one encoder pass on
the style image; the network is never rebuilt.
"""

from __future__ import annotations

import copy
from functools import cached_property

import numpy as np
import torch

from ..errors import RtstyleError
from ..images import resize_long_side
from ..models.adain import AdaINNet, StyleStats
from ..models.registry import Style
from .base import StyleImages
from .onnx_backend import OnnxBackend
from .torch_backend import TorchBackend

ARCHITECTURE = "adain"
STYLE_LONG_SIDE = 512  # style images are measured at this size, as in the paper's training


def style_stats(net: AdaINNet, images: list[np.ndarray], weights: np.ndarray) -> StyleStats:
    """Mixed statistics of RGB uint8 style images (each at 512 px on its long side) on `net`'s device."""
    device = next(net.parameters()).device
    stats = []
    for image in images:
        x = torch.from_numpy(resize_long_side(image, STYLE_LONG_SIDE)).permute(2, 0, 1)[None]
        stats.append(net.stats_of(x.to(device, torch.float32) / 255.0))
    return StyleStats.mix(stats, weights.tolist())


class AdaINTorchBackend(StyleImages, TorchBackend):
    def __init__(self, style: Style, device: str | None = None, precision: str | None = None, **options):
        if options.get("cuda_graphs") or options.get("compile"):
            raise RtstyleError("--cuda-graphs and --compile are not available for AdaIN styles")
        super().__init__(style, device, precision, **options)
        self.stats: StyleStats | None = None

    def _bound(self, images: list[np.ndarray], weights: np.ndarray) -> "AdaINTorchBackend":
        bound = copy.copy(self)  # shares the network
        stats = style_stats(self._encoder, images, weights)
        bound.stats = StyleStats(stats.mean.to(self.dtype), stats.std.to(self.dtype))
        return bound

    @cached_property
    def _encoder(self) -> AdaINNet:
        """An fp32 copy for the statistics when the network runs in half precision."""
        return self.model if self.dtype == torch.float32 else copy.deepcopy(self.model).float()

    def _core(self, x: torch.Tensor) -> torch.Tensor:
        if self.stats is None:
            raise RtstyleError(f"style {self.style.name!r} is an arbitrary-style model: give --style-image")
        return self.model.forward_with(x, self.stats.mean, self.stats.std, self.alpha)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self._colour_kept(frames, super().forward)


class AdaINOnnxBackend(StyleImages, OnnxBackend):
    """The exported graph (image + statistics inputs); statistics from the PyTorch encoder on the CPU."""

    def __init__(self, style: Style, device: str | None = None, precision: str | None = None):
        super().__init__(style, device, precision)
        self.feeds: dict[str, np.ndarray] | None = None

    @cached_property
    def _encoder(self) -> AdaINNet:
        return self.style.build()

    @property
    def stride(self) -> int:
        return AdaINNet.stride

    def _bound(self, images: list[np.ndarray], weights: np.ndarray) -> "AdaINOnnxBackend":
        bound = copy.copy(self)  # shares the session
        stats = style_stats(self._encoder, images, weights)
        bound.feeds = {"style_mean": stats.mean.numpy(), "style_std": stats.std.numpy()}
        return bound

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self._colour_kept(batch, super()._run)

    def _feeds(self, x: np.ndarray, batch: np.ndarray) -> dict[str, np.ndarray]:
        if self.feeds is None:
            raise RtstyleError(f"style {self.style.name!r} is an arbitrary-style model: give --style-image")
        extra = self.feeds | {"alpha": np.array([self.alpha], dtype=np.float32)}
        return super()._feeds(x, batch) | {k: v.astype(self.input_dtype) for k, v in extra.items()}
