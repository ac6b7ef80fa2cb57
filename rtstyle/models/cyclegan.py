"""CycleGAN / pix2pix ResNet generator (Zhu et al. 2017), in the state_dict layout of the
pytorch-CycleGAN-and-pix2pix project, so its `latest_net_G.pth` files load unchanged.

That project builds the generator as one `nn.Sequential` named `model`, so parameters are
addressed by position (`model.1.weight`, `model.10.conv_block.5.weight`, ...). We build
the same sequence, and read its width, depth, normalisation and dropout back from the keys.
The network works on RGB in -1..1; `forward` maps our 0..255 to that and back, so every
backend, export and engine sees the same 0..255 interface as a TransformerNet.
"""

from __future__ import annotations

import re

from torch import Tensor, nn

from .formats import StyleMeta

ARCHITECTURE = "cyclegan_resnet"
NORMS = ("instance", "batch")


def _norm(kind: str, channels: int) -> nn.Module:
    # Upstream's instance norm has no affine parameters and no running statistics.
    return nn.InstanceNorm2d(channels) if kind == "instance" else nn.BatchNorm2d(channels)


class ResnetBlock(nn.Module):
    """x + (pad, conv3, norm, relu, [dropout], pad, conv3, norm): the layer indices of
    `conv_block` are part of the file format, dropout included (it shifts the second conv)."""

    def __init__(self, dim: int, norm: str, dropout: bool):
        super().__init__()
        bias = norm == "instance"
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), _norm(norm, dim), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), _norm(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """7x7 conv, two stride-2 convs, `num_blocks` residual blocks, two transposed convs, 7x7 conv, tanh.

    `width` is upstream's `ngf` (64 for the published models); `num_blocks` is 9
    (`resnet_9blocks`, CycleGAN's default) or 6. Convolutions carry a bias only with
    instance norm, as upstream.
    """

    stride = 4

    def __init__(self, width: int = 64, num_blocks: int = 9, norm: str = "instance", dropout: bool = False):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")
        bias = norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, width, 7, bias=bias), _norm(norm, width),
                                   nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(width * mult, width * mult * 2, 3, stride=2, padding=1, bias=bias),
                       _norm(norm, width * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(width * 4, norm, dropout) for _ in range(num_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(width * mult, width * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=bias),
                       _norm(norm, width * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, H, W) RGB 0..255 -> the same; H and W multiples of `stride`."""
        return (self.model(x / 127.5 - 1.0) + 1.0) * 127.5


_BLOCK = re.compile(r"^model\.(\d+)\.conv_block\.")
_UNUSED = re.compile(r"\.(running_mean|running_var|num_batches_tracked)$")


def is_cyclegan_state(state: dict[str, Tensor]) -> bool:
    return "model.1.weight" in state and any(_BLOCK.match(k) for k in state)


def clean_cyclegan_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """With instance norm, drop the running statistics that checkpoints from old PyTorch
    versions carry (upstream deletes them the same way); batch norm uses its own."""
    if "model.2.weight" in state:  # batch norm: its statistics are used
        return state
    return {k: v for k, v in state.items() if not _UNUSED.search(k)}


def cyclegan_config(state: dict[str, Tensor]) -> dict[str, object]:
    """Width, block count, normalisation and dropout of the generator that saved `state`.
    Raises KeyError when it is not a ResNet generator."""
    if not is_cyclegan_state(state):
        raise KeyError("model.1.weight")
    first = state["model.1.weight"]
    if first.ndim != 4 or first.shape[1:] != (3, 7, 7):
        raise KeyError("model.1.weight of shape (ngf, 3, 7, 7)")
    blocks = {int(m.group(1)) for k in state if (m := _BLOCK.match(k))}
    dropout = any(k.startswith(f"model.{min(blocks)}.conv_block.6.") for k in state)
    return {"width": int(first.shape[0]), "num_residual": len(blocks),
            "extra": {"norm": "batch" if "model.2.weight" in state else "instance", "dropout": str(dropout).lower()}}


def build(meta: StyleMeta) -> ResnetGenerator:
    """The generator `meta` describes (`models.architectures`)."""
    return ResnetGenerator(width=meta.width, num_blocks=meta.num_residual, norm=meta.extra.get("norm", "instance"),
                           dropout=meta.extra.get("dropout") == "true")
