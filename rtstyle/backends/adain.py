"""AdaIN behind the backend interface: PyTorch (CPU/CUDA) and ONNX Runtime (TensorRT:
`tensorrt_backend.AdaINTensorRTBackend`, on the same export).

The style is a pair of (1, 512, 1, 1) tensors, the mean and standard deviation of
the style image's relu4_1 features, computed once per style image by the PyTorch
encoder (`style_stats`) and then fed to the network with every frame: as arguments
of `AdaINNet.forward` in PyTorch, as the `style_mean`/`style_std`/`alpha` inputs
of the exported ONNX graph in ONNX Runtime. A new style image costs one encoder pass
(under 100 ms on a CPU at STYLE_LONG_SIDE); its statistics are then cached in memory and on disk by
the image's content, so switching back, or to an image `rtstyle live` warmed up in the
background, costs milliseconds. The network is never rebuilt.
"""

from __future__ import annotations

import copy
import hashlib
from functools import cached_property

import numpy as np
import torch

from ..errors import RtstyleError
from ..images import resize_long_side
from ..output_files import write_array
from ..models.adain import STATS_CHANNELS, AdaINNet, StyleStats
from ..models.export import weights_hash
from ..models.registry import Style
from ..paths import cache_dir
from .base import StyleImages
from .onnx_backend import OnnxBackend
from .torch_backend import TorchBackend

ARCHITECTURE = "adain"
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


class AdaINStyle(StyleImages):
    """What the AdaIN backends share: style statistics from an fp32 PyTorch encoder (`_encoder`)."""

    caches_styles = True

    @cached_property
    def _encoder_id(self) -> str:
        """Names the encoder in the statistics cache: the style file's hash (imports bring their own VGG)."""
        return weights_hash(self.style.path)

    def _stats(self, images: list[np.ndarray], weights: np.ndarray) -> StyleStats:
        return style_stats(self._encoder, images, weights, self._encoder_id)

    @cached_property
    def _encoder(self) -> AdaINNet:
        """An fp32 PyTorch copy on the CPU (backends whose network is an export or an engine)."""
        return self.style.build().to(memory_format=torch.channels_last)

    @property
    def stride(self) -> int:
        return AdaINNet.stride


class AdaINTorchBackend(AdaINStyle, TorchBackend):
    def __init__(self, style: Style, device: str | None = None, precision: str | None = None, **options):
        if options.get("cuda_graphs") or options.get("compile"):
            raise RtstyleError("--cuda-graphs and --compile are not available for AdaIN styles")
        # NHWC on the CPU too: oneDNN runs these plain VGG-style convolutions faster in it
        # (a 640x360 frame 629 -> 485 ms, a 256 px style image 76 -> 63 ms; docs/benchmarks/history.md)
        options.setdefault("channels_last", True)
        super().__init__(style, device, precision, **options)
        self.stats: StyleStats | None = None

    def _bound(self, images: list[np.ndarray], weights: np.ndarray) -> "AdaINTorchBackend":
        bound = copy.copy(self)  # shares the network
        stats = self._stats(images, weights)
        bound.stats = StyleStats(stats.mean.to(self._device, self.dtype), stats.std.to(self._device, self.dtype))
        return bound

    @cached_property
    def _encoder(self) -> AdaINNet:
        """An fp32 copy for the statistics when the network runs in half precision."""
        return self.model if self.dtype == torch.float32 else copy.deepcopy(self.model).float()

    def _core(self, x: torch.Tensor) -> torch.Tensor:
        if self.stats is None:
            raise self.unbound()
        return self.model(x, self.stats.mean, self.stats.std, self.alpha)


class AdaINOnnxBackend(AdaINStyle, OnnxBackend):
    """The exported graph (image + statistics inputs); statistics from the PyTorch encoder on the CPU."""

    def __init__(self, style: Style, device: str | None = None, precision: str | None = None):
        super().__init__(style, device, precision)
        self.feeds: dict[str, np.ndarray] | None = None

    def _bound(self, images: list[np.ndarray], weights: np.ndarray) -> "AdaINOnnxBackend":
        bound = copy.copy(self)  # shares the session
        stats = self._stats(images, weights)
        bound.feeds = {"style_mean": stats.mean.numpy(), "style_std": stats.std.numpy()}
        return bound

    def _feeds(self, x: np.ndarray, batch: np.ndarray) -> dict[str, np.ndarray]:
        if self.feeds is None:
            raise self.unbound()
        extra = self.feeds | {"alpha": np.array([self.alpha], dtype=np.float32)}
        return super()._feeds(x, batch) | {k: v.astype(self.input_dtype) for k, v in extra.items()}
