"""The one way frames reach a network and come back, on every path (numpy on the host, torch
tensors on any device, the CUDA-streams runner).

A backend describes what its network takes (`stride`, `fixed_size`, and the user's settings:
`preserve_color`, the reduced size of `--infer-scale` or a preset's stroke size, `strength`);
`stylize` applies all of it around `run`, the backend's bare network call on NHWC uint8 frames
of a size the network accepts. The pieces are small functions on numpy or torch alike, so the
host and the device compute the same picture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from .arrays import is_tensor
from .color import as_uint8, gray3, keep_chroma
from .upsample import at_reduced_size, network_size, resize

if TYPE_CHECKING:
    from .arrays import Frames
    from .base import Backend

MIN_SIDE = 8  # the 9x9 reflection pad and two stride-2 convs need at least this


def _reflect(n: int, size: int) -> np.ndarray:
    """Indices 0..size-1 followed by their mirror image (without repeating the edge), to `n`."""
    if size == 1:
        return np.zeros(n, dtype=np.int64)
    period = np.concatenate([np.arange(size), np.arange(size - 2, 0, -1)])
    return period[np.arange(n) % len(period)]


def padded_size(h: int, w: int, multiple: int) -> tuple[int, int]:
    """(h, w) rounded up to multiples of `multiple`, at least MIN_SIDE each."""
    return max(-(-h // multiple) * multiple, MIN_SIDE), max(-(-w // multiple) * multiple, MIN_SIDE)


def pad_to_multiple(frames: Frames, multiple: int) -> Frames:
    """Reflect-pad the bottom/right of NHWC frames to a multiple of `multiple` (at least
    MIN_SIDE); the original frames are the top-left corner of the result."""
    h, w = frames.shape[1:3]
    ph, pw = padded_size(h, w, multiple)
    if (ph, pw) == (h, w):
        return frames
    rows, cols = _reflect(ph, h), _reflect(pw, w)
    if is_tensor(frames):
        import torch

        rows, cols = (torch.from_numpy(i).to(frames.device) for i in (rows, cols))
    return frames[:, rows][:, :, cols]


def mix(frames: Frames, stylized: Frames, strength: float) -> Frames:
    """`strength` of the stylization over the frame (NHWC uint8, numpy or torch)."""
    return as_uint8(frames * (1.0 - strength) + stylized * strength)


def run_size(backend: Backend, h: int, w: int) -> tuple[int, int]:
    """The (h, w) `stylize` runs the network at for h x w frames: what an engine's profile must cover."""
    if backend.fixed_size:
        return backend.fixed_size
    if (scale := backend.scale_for(h, w)) < 1.0:
        return network_size(h, w, scale, backend.stride)
    return padded_size(h, w, backend.stride)


def stylize(frames: Frames, backend: Backend, run: Callable[[Frames], Frames]) -> Frames:
    """Stylize NHWC uint8 frames of any size with `backend`'s settings around `run`."""
    h, w = frames.shape[1:3]
    x = gray3(frames) if backend.preserve_color else frames
    if backend.fixed_size:
        out = resize(run(resize(x, backend.fixed_size, "area")), (h, w), "bicubic")
    elif (scale := backend.scale_for(h, w)) < 1.0:
        out = at_reduced_size(x, scale, backend.stride, run)  # at multiples of the stride already
    else:
        out = run(pad_to_multiple(x, backend.stride))[:, :h, :w]
    if backend.strength < 1.0:
        out = mix(x, out, backend.strength)
    return keep_chroma(frames, out) if backend.preserve_color else out
