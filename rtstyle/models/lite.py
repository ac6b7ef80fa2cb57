"""A TransformerNet for CPUs: the same encoder / residual / decoder plan at a fraction of the cost.

Where the time goes in a width-16 TransformerNet at 640x360 on a CPU: the 9x9 convolutions
and the last 3x3 one run at full resolution. The lite network keeps Johnson et al.'s plan
(two stride-2 convolutions down, residual blocks, nearest-upsampling convolutions up) and
cuts those: 5x5 instead of 9x9 at the ends, depthwise-separable convolutions (a 3x3 per
channel, then a 1x1 across channels; MobileNet, Howard et al. 2017) in the residual blocks
and the upsampling path, fewer blocks. Instance norm stays: it is what lets one network
restyle any photo's contrast, and at these widths it is cheap.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from ..configs import LITE_BLOCKS, LITE_WIDTH
from .formats import StyleMeta
from .transformer_net import ConvLayer, add_encoder, encode

ARCHITECTURE = "transformer_lite"


class SeparableConv(nn.Module):
    """Reflection pad, depthwise 3x3, pointwise 1x1; optional nearest upsampling first."""

    def __init__(self, cin: int, cout: int, upsample: int = 1):
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(1)
        self.depthwise = nn.Conv2d(cin, cin, 3, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.pointwise(self.depthwise(self.pad(x)))


class SeparableResidual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = SeparableConv(channels, channels)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = SeparableConv(channels, channels)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class LiteTransformerNet(nn.Module):
    """RGB 0..255 NCHW in and out, like TransformerNet; sides multiples of `stride`."""

    stride = 4

    def __init__(self, width: int = LITE_WIDTH, num_residual: int = LITE_BLOCKS):
        super().__init__()
        self.width = width
        self.num_residual = num_residual
        w1, w2, w3 = width, width * 2, width * 4
        add_encoder(self, width, 5)
        self.res = nn.Sequential(*(SeparableResidual(w3) for _ in range(num_residual)))
        self.up1 = SeparableConv(w3, w2, upsample=2)
        self.in4 = nn.InstanceNorm2d(w2, affine=True)
        self.up2 = SeparableConv(w2, w1, upsample=2)
        self.in5 = nn.InstanceNorm2d(w1, affine=True)
        self.conv_out = ConvLayer(w1, 3, 5)

    def forward(self, x: Tensor) -> Tensor:
        y = self.res(encode(self, x))
        y = F.relu(self.in4(self.up1(y)))
        y = F.relu(self.in5(self.up2(y)))
        return self.conv_out(y)


def build(meta: StyleMeta) -> LiteTransformerNet:
    """The network `meta` describes (`models.architectures`)."""
    return LiteTransformerNet(width=meta.width, num_residual=meta.num_residual)
