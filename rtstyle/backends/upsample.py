"""Bringing a reduced-resolution stylization back to the frame's size (`--infer-scale`).

Running the network at half size quarters its cost, but upsampling its output loses the
frame's fine edges. What is lost is known exactly: the frame's detail that downscaling
removed, `luma(frame) - up(luma(small frame))`. We upsample the stylization (bicubic) and
add that detail back to every channel: a detail transfer guided by the full-resolution
frame (after Petschnigg et al. 2004). Measured against the full-resolution stylization on
the fixture photos at 640x360, half-size inference (starry): style-loss ratio 0.498 with
the detail, 0.649 bicubic, 0.744 bilinear; a fast guided filter (He & Sun 2015, any radius
and eps tried) scored 1.1-1.8, because its local linear model of the luminance replaces
the network's texture (docs/benchmarks/history.md, issue #7).

Works on NHWC uint8 frames: torch tensors on any device (F.interpolate), or numpy arrays,
which OpenCV resizes (the same half-pixel bicubic and area filters) four times faster than
torch on a CPU: 3.5 against 15 ms a 640x360 frame on one core (docs/benchmarks/history.md, issue #20).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from .arrays import is_tensor, no_autograd
from .color import as_uint8, luma

if TYPE_CHECKING:
    from .arrays import Frames


def _resize(x: Frames, size: tuple[int, int], mode: str) -> Frames:
    """Float NHWC frames resized to `size` (h, w) with "area" or "bicubic" filtering."""
    if is_tensor(x):
        from torch.nn import functional as F

        return F.interpolate(x.permute(0, 3, 1, 2), size=size, mode=mode,
                             **({"align_corners": False} if mode == "bicubic" else {})).permute(0, 2, 3, 1)
    flag = cv2.INTER_AREA if mode == "area" else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, size[::-1], interpolation=flag).reshape(*size, -1) for f in x])


def _float(x: Frames) -> Frames:
    return x.float() if is_tensor(x) else x.astype(np.float32)


def resize(frames: Frames, size: tuple[int, int], mode: str) -> Frames:
    """NHWC uint8 frames at `size` (h, w), "area" or "bicubic" filtered."""
    with no_autograd(frames):
        out = as_uint8(_resize(_float(frames), size, mode))
    return out.contiguous() if is_tensor(out) else out


def detail_upsample(frames: Frames, small_frames: Frames, small_out: Frames) -> Frames:
    """Upsample `small_out`, the network's output on `small_frames` (the `frames` downscaled),
    to the size of `frames`, with the frames' lost detail added back. All (N, H, W, 3) uint8,
    all numpy or all torch."""
    size = tuple(frames.shape[1:3])
    with no_autograd(frames):
        lost = luma(_float(frames)) - _resize(luma(_float(small_frames)), size, "bicubic")
        out = as_uint8(_resize(_float(small_out), size, "bicubic") + lost)
    return out.contiguous() if is_tensor(out) else out


def network_size(h: int, w: int, scale: float, stride: int) -> tuple[int, int]:
    """(h, w) times `scale`, rounded to multiples of the network's stride (at least two strides)."""
    return (max(2 * stride, round(h * scale / stride) * stride), max(2 * stride, round(w * scale / stride) * stride))


def at_reduced_size(frames: Frames, scale: float, stride: int, run) -> Frames:
    """`run` (NHWC uint8 -> the same, numpy or torch as `frames`) on `frames` downscaled by
    `scale` (area filter), brought back to their size by `detail_upsample`."""
    small = resize(frames, network_size(*frames.shape[1:3], scale, stride), "area")
    return detail_upsample(frames, small, run(small))
