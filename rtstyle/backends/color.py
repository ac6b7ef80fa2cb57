"""Colour pieces shared by the backends and the upsampler: BT.601 luminance, and
luminance-only transfer (`--preserve-color`). Each takes NHWC frames, numpy or torch."""

from __future__ import annotations

import numpy as np

from .arrays import is_tensor


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def luma(frames):
    """BT.601 luminance of NHWC RGB frames (numpy or torch), shaped (..., 1), as float."""
    return frames[..., 0:1] * 0.299 + frames[..., 1:2] * 0.587 + frames[..., 2:3] * 0.114


def as_uint8(x):
    """`to_uint8` for numpy or torch."""
    return x.round().clamp(0, 255).byte() if is_tensor(x) else to_uint8(x)


def gray3(frames):
    """NHWC uint8 RGB (numpy or torch) -> its luminance in all three channels, uint8."""
    y = as_uint8(luma(frames))
    return np.repeat(y, 3, -1) if isinstance(y, np.ndarray) else y.expand(*y.shape[:-1], 3).contiguous()


def keep_chroma(content, stylized):
    """`stylized`'s luminance with `content`'s colours (NHWC uint8, numpy or torch).

    Adding one delta to R, G and B moves the luminance by that delta and leaves the
    colour differences R-Y and B-Y as they were: luminance-only transfer (Gatys et al.
    2017), exact up to clipping at 0 and 255."""
    return as_uint8(content + (luma(stylized) - luma(content)))
