"""Quality measures shared by the evaluation tools.

Two numbers, because a stylizer can win either one by giving up the other:

Style loss ratio: the VGG-19 Gram style loss (relu1_1..relu4_1, images at 512 px on
the long side) of a stylized image against the painting, divided by the same loss for
the unstylized photo. 1.0 means no closer to the style than the photo was; lower is
more painterly.

Structure score: the Pearson correlation of the luminance-gradient magnitude (BT.601
luma, Gaussian blur sigma 1, 3x3 Sobel) of the stylized image and the photo, both at
128 px on the long side, where brush texture is mostly gone and the scene's edges are
left. 1 means the scene is kept, about 0 that it is lost.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import torch

from .images import resize_long_side
from .models.vgg import STYLE_LAYERS, gram, gram_distance, vgg19_features

EVAL_LONG_SIDE = 512
STRUCTURE_LONG_SIDE = 128


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two 0..255 images (the reconstruction half of the AdaIN bar); finite
    for identical ones."""
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return 10 * float(np.log10(255**2 / max(mse, 1e-12)))


GRAM_MEMO = 32  # images whose Grams are kept: the photos of an evaluation, asked for once per painting
_grams: OrderedDict[tuple, dict[str, torch.Tensor]] = OrderedDict()
_grams_lock = threading.Lock()


@torch.no_grad()
def gram_targets(rgb: np.ndarray, long_side: int = EVAL_LONG_SIDE) -> dict[str, torch.Tensor]:
    """The VGG-19 Gram matrices of an image (read-only). Memoised by the image's bytes: a style
    ratio divides by the photo's own loss, and every evaluation asks for that photo's Grams once
    per painting, a VGG pass each time (about a second on a CPU) for the same numbers."""
    rgb = np.ascontiguousarray(rgb)
    key = (rgb.shape, rgb.dtype.str, long_side, hashlib.blake2b(memoryview(rgb).cast("B"), digest_size=16).digest())
    with _grams_lock:
        if key in _grams:
            _grams.move_to_end(key)
            return _grams[key]
    x = torch.from_numpy(resize_long_side(rgb, long_side)).permute(2, 0, 1).float()[None]
    grams = {k: gram(v) for k, v in vgg19_features("relu4_1")(x, STYLE_LAYERS).items()}
    with _grams_lock:
        _grams[key] = grams
        while len(_grams) > GRAM_MEMO:
            _grams.popitem(last=False)
    return grams


@torch.no_grad()
def style_loss(rgb: np.ndarray, style: dict[str, torch.Tensor], long_side: int = EVAL_LONG_SIDE) -> float:
    return float(gram_distance(gram_targets(rgb, long_side), style))


def style_loss_ratio(stylized: np.ndarray, content: np.ndarray, style_image: np.ndarray) -> float:
    target = gram_targets(style_image)
    return style_loss(stylized, target) / style_loss(content, target)


def _edges(rgb: np.ndarray) -> np.ndarray:
    """Gradient magnitude of the blurred luma, normalised to zero mean and unit variance
    (all zeros for a flat image, so it correlates with nothing)."""
    luma = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    luma = cv2.GaussianBlur(luma, (0, 0), sigmaX=1)
    mag = np.hypot(cv2.Sobel(luma, cv2.CV_64F, 1, 0, ksize=3), cv2.Sobel(luma, cv2.CV_64F, 0, 1, ksize=3))
    std = mag.std()
    return (mag - mag.mean()) / std if std > 1e-8 else np.zeros_like(mag)


def structure_score(stylized: np.ndarray, photo: np.ndarray) -> float:
    """Correlation of the two images' edge maps at STRUCTURE_LONG_SIDE (see the module
    docstring). The stylized image is brought to the photo's size, so a network that
    pads or crops a few pixels is still compared point for point."""
    ref = resize_long_side(photo, STRUCTURE_LONG_SIDE)
    out = resize_long_side(stylized, STRUCTURE_LONG_SIDE)
    if out.shape[:2] != ref.shape[:2]:
        out = cv2.resize(out, (ref.shape[1], ref.shape[0]), interpolation=cv2.INTER_AREA)
    return float((_edges(out) * _edges(ref)).mean())


@dataclass(frozen=True)
class Judgement:
    """Both measures on each photo: what `rtstyle train`, `train-adain` and the model cards report."""

    structure: tuple[float, ...]
    ratio: tuple[float, ...]

    def __str__(self) -> str:
        def span(values: tuple[float, ...]) -> str:
            return f"{np.mean(values):.2f} ({min(values):.2f}-{max(values):.2f})"

        return (f"structure {span(self.structure)} (1 = scene kept), style ratio {span(self.ratio)} "
                f"(lower = more painterly) on {len(self.structure)} photos")

    def as_dict(self) -> dict[str, list[float]]:
        return {"structure": [round(v, 4) for v in self.structure], "style_ratio": [round(v, 4) for v in self.ratio]}


def judge(stylize: Callable[[np.ndarray, int], np.ndarray], photos: list[np.ndarray],
          paintings: list[np.ndarray], long_side: int = EVAL_LONG_SIDE) -> Judgement:
    """Structure and style ratio of `stylize` on every photo (given it at `long_side`; measured
    at EVAL_LONG_SIDE as always) against every painting in turn: `stylize(photo, i)` paints
    `paintings[i]` (a per-style network ignores i)."""
    structure, ratio = [], []
    for i, painting in enumerate(paintings):
        target = gram_targets(painting)
        for photo in photos:
            photo = resize_long_side(photo, long_side)
            out = stylize(photo, i)
            structure.append(structure_score(out, photo))
            ratio.append(style_loss(out, target) / style_loss(photo, target))
    return Judgement(tuple(structure), tuple(ratio))
