"""Frame <-> network tensor conversions as small functions on torch tensors.

They run wherever the tensor lives, so on a GPU the uint8 frame crosses the bus
(a quarter of the bytes of float32) and is converted, resized and scaled on the
device, and the output is rounded back to uint8 there before it returns.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_network(frames: torch.Tensor, dtype: torch.dtype, scale: float, size: tuple[int, int] | None = None,
               channels_last: bool = False) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, h, w) `dtype` in the network's range (pixels * `scale`).

    `size` = (h, w) resizes with antialiasing (area-like when shrinking, as OpenCV's INTER_AREA).
    """
    x = frames.permute(0, 3, 1, 2).to(dtype)
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x.float(), size=size, mode="bilinear", antialias=True, align_corners=False).to(dtype)
    if scale != 1.0:
        x = x * scale
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def from_network(y: torch.Tensor, scale: float) -> torch.Tensor:
    """(N, 3, H, W) network output -> (N, H, W, 3) uint8, clamped and rounded."""
    y = y.float()
    if scale != 1.0:
        y = y / scale
    return y.clamp_(0, 255).round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
