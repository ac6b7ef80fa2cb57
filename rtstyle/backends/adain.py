"""AdaIN's adapter: the style as the network's inputs besides the image, on every runtime.

The style is a pair of (1, 512, 1, 1) tensors, the mean and standard deviation of
the style image's relu4_1 features, computed once per style image by the PyTorch
encoder (`style_stats`) and then fed to the network with every frame, with `alpha`:
as keyword arguments of `AdaINNet.forward` in PyTorch, as the `style_mean`/`style_std`/
`alpha` inputs of the exported graph in ONNX Runtime and TensorRT. A new style image costs one encoder pass
(under 100 ms on a CPU at STYLE_LONG_SIDE); its statistics are then cached in memory and on disk by
the image's content, so switching back, or to an image `rtstyle live` warmed up in the
background, costs milliseconds. The network is never rebuilt.
"""

from __future__ import annotations

import hashlib
from functools import cache, lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..images import resize_long_side
from ..output_files import write_array
from ..models.adain import STATS_CHANNELS, AdaINNet, StyleStats
from ..models.formats import weights_hash
from ..models.library import Style
from ..paths import cache_dir
from .base import FrameOf, StyleImages
from .runtime import Inputs, Runtime

# Style images are measured at this size. The paper uses 512; for our decoder (trained on
# 128 px crops) 256 styles better (mean style-loss ratio 0.576 against 0.615 on the fixture
# styles) and costs a quarter: a first-time switch fits in 100 ms on two CPU cores.
STYLE_LONG_SIDE = 256


_STATS: dict[str, StyleStats] = {}  # this process's statistics, by `stats_key`


def stats_key(image: np.ndarray, encoder_id: str) -> str:
    h = hashlib.sha256(image.tobytes())
    h.update(f"{image.shape} {encoder_id} {STYLE_LONG_SIDE}".encode())
    return h.hexdigest()[:32]


def image_stats(net: AdaINNet, image: np.ndarray, encoder_id: str) -> StyleStats:
    """Statistics of one RGB uint8 style image (at STYLE_LONG_SIDE), cached in memory and on
    disk (4 kB each): an encoder pass takes tens of milliseconds on a CPU, a cached one a few."""
    key = stats_key(image, encoder_id)
    if key in _STATS:
        return _STATS[key]
    path = cache_dir("adain_stats") / f"{key}.npy"
    try:
        mean, std = torch.from_numpy(np.load(path)).view(2, 1, STATS_CHANNELS, 1, 1)
        stats = StyleStats(mean, std)
    except (OSError, ValueError, RuntimeError):  # not cached yet (or a damaged entry)
        device = next(net.parameters()).device
        x = torch.from_numpy(resize_long_side(image, STYLE_LONG_SIDE)).permute(2, 0, 1)[None]
        x = (x.to(device, torch.float32) / 255.0).contiguous(memory_format=torch.channels_last)
        stats = net.stats_of(x)
        stats = StyleStats(stats.mean.cpu(), stats.std.cpu())
        path.parent.mkdir(parents=True, exist_ok=True)
        write_array(path, torch.stack([stats.mean, stats.std]).numpy())
    _STATS[key] = stats
    return stats


def style_stats(net: AdaINNet, images: list[np.ndarray], weights: np.ndarray, encoder_id: str) -> StyleStats:
    """Mixed statistics of RGB uint8 style images (on the CPU)."""
    return StyleStats.mix([image_stats(net, im, encoder_id) for im in images], weights.tolist())


@lru_cache(maxsize=16)
def encoder_id(path: Path) -> str:
    """Names the encoder in the statistics cache: the style file's hash (imports bring their own VGG)."""
    return weights_hash(path)


class AdaINStats(StyleImages):
    """The style images' mixed statistics, from an fp32 PyTorch encoder (`encoder()`, built once
    and shared by every binding)."""

    caches_styles = True

    def __init__(self, style: Style, encoder: Callable[[], AdaINNet], stats: StyleStats | None = None,
                 alpha: float = 1.0):
        super().__init__(style, alpha)
        self.encoder = encoder
        self._inputs = None if stats is None else {
            "style_mean": stats.mean.numpy(), "style_std": stats.std.numpy(),
            "alpha": np.array([alpha], dtype=np.float32)}

    @classmethod
    def create(cls, style: Style, runtime: Runtime) -> "AdaINStats":
        """The statistics come from an fp32 PyTorch encoder: the runtime's own network where it is
        one, else a CPU copy built on first use."""
        from .torch_runtime import TorchRuntime

        if isinstance(runtime, TorchRuntime) and runtime.dtype == torch.float32:
            return cls(style, lambda: runtime.model)
        return cls(style, cache(lambda: style.build().to(memory_format=torch.channels_last)))

    def bound(self, images: list[np.ndarray], weights: np.ndarray, alpha: float) -> "AdaINStats":
        stats = style_stats(self.encoder(), images, weights, encoder_id(self.style.path))
        return AdaINStats(self.style, self.encoder, stats, alpha)

    def inputs(self, frame: FrameOf) -> Inputs:
        if self._inputs is None:
            raise self.unbound()
        return self._inputs
