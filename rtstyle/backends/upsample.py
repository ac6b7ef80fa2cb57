"""Bringing a reduced-resolution stylization back to the frame's size (`--infer-scale`).

Running the network at half size quarters its cost, but upsampling its output loses the
frame's fine edges. What is lost is known exactly: the frame's detail that downscaling
removed, `luma(frame) - up(luma(small frame))`. We upsample the stylization (bicubic) and
add that detail back to every channel: a detail transfer guided by the full-resolution
frame (after Petschnigg et al. 2004). Measured against the full-resolution stylization on
the fixture photos at 640x360, half-size inference (starry): style-loss ratio 0.498 with
the detail, 0.649 bicubic, 0.744 bilinear; a fast guided filter (He & Sun 2015, any radius
and eps tried) scored 1.1-1.8, because its local linear model of the luminance replaces
the network's texture (BENCHMARKS.md, issue #7). Works on NHWC uint8 tensors on any device.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .color import luma



def _luma(nhwc_u8: torch.Tensor) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 1, H, W) float luminance on the 0..255 scale."""
    return luma(nhwc_u8.float()).permute(0, 3, 1, 2)


@torch.inference_mode()
def detail_upsample(frames: torch.Tensor, small_frames: torch.Tensor, small_out: torch.Tensor) -> torch.Tensor:
    """Upsample `small_out`, the network's output on `small_frames` (the `frames` downscaled),
    to the size of `frames`, with the frames' lost detail added back. All (N, H, W, 3) uint8."""
    size = frames.shape[1:3]
    up = F.interpolate(small_out.permute(0, 3, 1, 2).float(), size=size, mode="bicubic", align_corners=False)
    lost = _luma(frames) - F.interpolate(_luma(small_frames), size=size, mode="bicubic", align_corners=False)
    return (up + lost).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def network_size(h: int, w: int, scale: float, stride: int) -> tuple[int, int]:
    """(h, w) times `scale`, rounded to multiples of the network's stride (at least two strides)."""
    return (max(2 * stride, round(h * scale / stride) * stride), max(2 * stride, round(w * scale / stride) * stride))


@torch.inference_mode()
def at_reduced_size(frames: torch.Tensor, scale: float, stride: int, run) -> torch.Tensor:
    """`run` (NHWC uint8 -> the same) on `frames` downscaled by `scale` (area filter), brought
    back to their size by `detail_upsample`."""
    size = network_size(*frames.shape[1:3], scale, stride)
    small = F.interpolate(frames.permute(0, 3, 1, 2).float(), size=size, mode="area")
    small = small.round_().to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    return detail_upsample(frames, small, run(small))
