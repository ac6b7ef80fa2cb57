"""Johnson et al. (2016) feed-forward style network.

The module and parameter names follow pytorch/examples `fast_neural_style`
(`conv1.conv2d.weight`, `res1.in1.weight`, `deconv3.conv2d.bias`, ...) so their
checkpoints load with a plain `load_state_dict`, whatever their channel width.
Input and output are RGB in 0..255, NCHW float.
"""

from __future__ import annotations

import re

from torch import Tensor, nn
from torch.nn import functional as F

from .formats import StyleMeta


class ConvLayer(nn.Module):
    """Reflection padding + convolution: no zero borders leaking into the style."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: int = 1):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: Tensor) -> Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


def add_encoder(net: nn.Module, width: int, kernel: int) -> None:
    """Johnson et al.'s encoder as `net.conv1`..`net.in3` (top-level names: the checkpoint
    format): a `kernel`-sized convolution to `width` channels, then two stride-2 ones doubling it."""
    net.conv1 = ConvLayer(3, width, kernel)
    net.in1 = nn.InstanceNorm2d(width, affine=True)
    net.conv2 = ConvLayer(width, width * 2, 3, stride=2)
    net.in2 = nn.InstanceNorm2d(width * 2, affine=True)
    net.conv3 = ConvLayer(width * 2, width * 4, 3, stride=2)
    net.in3 = nn.InstanceNorm2d(width * 4, affine=True)


def encode(net: nn.Module, x: Tensor) -> Tensor:
    """The encoder `add_encoder` put on `net`."""
    y = F.relu(net.in1(net.conv1(x)))
    y = F.relu(net.in2(net.conv2(y)))
    return F.relu(net.in3(net.conv3(y)))


class TransformerNet(nn.Module):
    """Encoder (9x9, two stride-2 convs), residual blocks, nearest-upsample decoder.

    `width` is the channel count of the first layer (32 upstream); the encoder doubles
    it twice. Spatial sizes must be multiples of `stride` for the output to match the
    input; backends pad to that.
    """

    stride = 4

    def __init__(self, width: int = 32, num_residual: int = 5):
        super().__init__()
        self.width = width
        self.num_residual = num_residual
        w1, w2, w3 = width, width * 2, width * 4
        add_encoder(self, width, 9)
        for i in range(1, num_residual + 1):
            self.add_module(f"res{i}", ResidualBlock(w3))
        self.deconv1 = ConvLayer(w3, w2, 3, upsample=2)
        self.in4 = nn.InstanceNorm2d(w2, affine=True)
        self.deconv2 = ConvLayer(w2, w1, 3, upsample=2)
        self.in5 = nn.InstanceNorm2d(w1, affine=True)
        self.deconv3 = ConvLayer(w1, 3, 9)

    def forward(self, x: Tensor) -> Tensor:
        y = encode(self, x)
        for i in range(1, self.num_residual + 1):
            y = getattr(self, f"res{i}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)

    @staticmethod
    def config_from_state_dict(state: dict[str, Tensor]) -> dict[str, int]:
        """Width and depth of the network that produced `state`."""
        if "conv1.conv2d.weight" not in state:
            raise KeyError("conv1.conv2d.weight")
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"res(\d+)\.", k))}
        return {"width": int(state["conv1.conv2d.weight"].shape[0]), "num_residual": len(blocks)}


_RUNNING_STATS = re.compile(r"in\d+\.running_(mean|var)$|\.num_batches_tracked$")


def clean_state_dict(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Drop InstanceNorm running statistics that some torch versions saved (unused)."""
    return {k: v for k, v in state.items() if not _RUNNING_STATS.search(k)}


def build(meta: StyleMeta) -> TransformerNet:
    """The network `meta` describes (`models.architectures`)."""
    return TransformerNet(width=meta.width, num_residual=meta.num_residual)
