"""Gatys et al. (2016) style transfer for still images: optimise the pixels themselves.

No network is trained: starting from the content photo, the image is changed until
its VGG-19 features match the content's at relu4_2 and its Gram matrices match the
style image's at relu1_1..relu4_1 (the layers `metrics` and the trainers use), with a
total-variation term against pixel noise. Slow (seconds per iteration on a CPU), but
any style image works and the result is the classic reference the feed-forward
models are judged against.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from .configs import GatysConfig
from .images import resize_long_side
from .models.vgg import STYLE_LAYERS, gram, gram_style_loss, vgg19_features
from .train import total_variation

CONTENT_LAYER = "relu4_2"


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1).float()[None].contiguous()


def gatys(content: np.ndarray, style: np.ndarray, cfg: GatysConfig,
          progress: Callable[[int, float], None] = lambda i, loss: None) -> np.ndarray:
    """The stylized image (RGB uint8, `content` resized to `cfg.size` on its long side);
    `progress(iteration, loss)` after each iteration."""
    cfg.check()
    vgg = vgg19_features("relu4_2")
    x0 = _tensor(resize_long_side(content, cfg.size))
    with torch.no_grad():
        target_content = vgg(x0, (CONTENT_LAYER,))[CONTENT_LAYER]
        target_grams = {k: gram(v) for k, v in vgg(_tensor(resize_long_side(style, cfg.size)), STYLE_LAYERS).items()}
        content_scale = float(target_content.pow(2).mean())
        style_scale = sum(float(g.pow(2).mean()) for g in target_grams.values())
    image = x0.clone().requires_grad_(True)
    if cfg.optimizer == "lbfgs":
        # no early stop: the normalised losses have tiny pixel gradients, under L-BFGS's default
        # tolerances, and the iteration count is the user's
        opt = torch.optim.LBFGS([image], lr=1.0, max_iter=1, history_size=20,
                                tolerance_grad=0.0, tolerance_change=0.0)
    else:
        opt = torch.optim.Adam([image], lr=cfg.lr)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        feats = vgg(image, STYLE_LAYERS + (CONTENT_LAYER,))
        loss = (cfg.content_weight * F.mse_loss(feats[CONTENT_LAYER], target_content) / content_scale
                + cfg.style_weight * gram_style_loss(feats, target_grams) / style_scale
                + cfg.tv_weight * total_variation(image))
        loss.backward()
        return loss

    for i in range(cfg.iterations):
        loss = opt.step(closure)
        progress(i + 1, float(loss.detach()))
    # clamped once at the end: clamping between steps would break L-BFGS's curvature history
    return image.detach()[0].permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()
