"""Quality measures shared by the evaluation tools.

Style loss ratio: the VGG-19 Gram style loss (relu1_1..relu4_1, images at 512 px on
the long side) of a stylized image against the style image, divided by the same
loss for the unstylized content. 1.0 means no closer to the style than the photo
was; lower is better.
"""

from __future__ import annotations

import numpy as np
import torch

from .images import resize_long_side
from .models.vgg import STYLE_LAYERS, gram, gram_style_loss, vgg19_features

EVAL_LONG_SIDE = 512


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two 0..255 images (the reconstruction half of the AdaIN bar); finite
    for identical ones."""
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return 10 * float(np.log10(255**2 / max(mse, 1e-12)))


@torch.no_grad()
def gram_targets(rgb: np.ndarray, long_side: int = EVAL_LONG_SIDE) -> dict[str, torch.Tensor]:
    x = torch.from_numpy(resize_long_side(rgb, long_side)).permute(2, 0, 1).float()[None]
    return {k: gram(v) for k, v in vgg19_features("relu4_1")(x, STYLE_LAYERS).items()}


@torch.no_grad()
def style_loss(rgb: np.ndarray, style: dict[str, torch.Tensor], long_side: int = EVAL_LONG_SIDE) -> float:
    x = torch.from_numpy(resize_long_side(rgb, long_side)).permute(2, 0, 1).float()[None]
    return float(gram_style_loss(vgg19_features("relu4_1")(x, STYLE_LAYERS), style))


def style_loss_ratio(stylized: np.ndarray, content: np.ndarray, style_image: np.ndarray) -> float:
    target = gram_targets(style_image)
    return style_loss(stylized, target) / style_loss(content, target)
