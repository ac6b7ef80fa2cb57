"""Warp the previous output onto the current frame and blend it in, on NumPy or torch.

    blend = stylized + strength * trust * (warped_previous - stylized)

Where trust is 0 (occlusions, disocclusions) the fresh stylization is kept exactly.

Where the smoother *holds* a pixel (its input has not changed: static-region locking), the
output is the previous output as it was. Holding, not blending, is what keeps a still
area still: a per-frame network paints a wall or a sky with a new pattern every frame, and
any mix of two unrelated patterns, repeated, averages them into a grey wash, while a held
pattern stays sharp and does not move at all. The hold map is feathered over a few pixels.

Blending two stylizations whose brush texture does not line up averages the texture
away: the output turns soft and loses the style (the Gram style loss rises sharply
even for a half-pixel blur). So the blend's local contrast is then raised back to the
fresh frame's: within a small window, deviations from the local mean are scaled by
std(stylized) / std(blend) (at most `MAX_GAIN`). The texture then follows the motion,
as the smoothing wants, at the strength the style needs.

The NumPy path runs on the CPU with OpenCV; the torch path keeps frames on their
device (CUDA) and warps with `grid_sample`, so only the small flow and trust maps
cross from the host. Both warp bicubically: bilinear warps, repeated frame after
frame, blur the texture.
"""

from __future__ import annotations

import cv2
import numpy as np

from .flow import Motion, upsample, warp

WINDOW = 9  # pixels: the contrast-matching window
MAX_GAIN = 2.0
EPS = 4.0  # grey levels squared: flat areas are left alone


def _contrast_gain(blend: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """Per pixel, from the grey level (one channel: cheaper, and no colour shift)."""
    def var(rgb):
        x = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        m = cv2.blur(x, (WINDOW, WINDOW))
        return np.maximum(cv2.sqrBoxFilter(x, cv2.CV_32F, (WINDOW, WINDOW)) - m * m, 0.0)

    gain = cv2.sqrt((var(fresh) + EPS) / (var(blend) + EPS))
    return np.clip(gain, 1.0, MAX_GAIN, out=gain)


def feathered(hold: np.ndarray) -> np.ndarray:
    """The hold map (bool, analysis size) as float32 weights with soft edges."""
    return cv2.blur(hold.astype(np.float32), (3, 3))


def composite(stylized: np.ndarray, previous: np.ndarray, motion: Motion, strength: float,
              hold: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8 frames; the motion and `hold` (where to keep the previous output, bool)
    may be at a lower resolution."""
    h, w = stylized.shape[:2]
    flow, trust = upsample(motion, (w, h))
    weight = trust * np.float32(strength)
    warped = warp(previous, flow, cv2.INTER_CUBIC)
    # blendLinear: (a * wa + b * wb) / (wa + wb) per pixel, straight on uint8
    blend = cv2.blendLinear(warped, stylized, weight, 1.0 - weight)
    mean = cv2.blur(blend, (WINDOW, WINDOW))
    gain = _contrast_gain(blend, stylized)
    detail = cv2.multiply(cv2.subtract(blend, mean, dtype=cv2.CV_32F), cv2.merge((gain, gain, gain)))
    out = cv2.add(detail, mean, dtype=cv2.CV_8U)  # rounds and saturates
    if hold is not None and hold.any():
        keep = cv2.resize(feathered(hold), (w, h), interpolation=cv2.INTER_LINEAR)
        out = cv2.blendLinear(warped, out, keep, 1.0 - keep)  # flow is 0 where held: the previous output
    return cv2.copyTo(stylized, (weight == 0).view(np.uint8), out)  # untrusted: exactly the fresh frame


def with_change(fresh: np.ndarray, fresh_small: np.ndarray, out_small: np.ndarray,
                untrusted: np.ndarray) -> np.ndarray:
    """`fresh` plus what smoothing changed at a lower resolution (`out_small - fresh_small`, the
    small frame `fresh` downscaled), brought up to its size bicubically; `untrusted` (bool, small)
    stays exactly the fresh frame, as in `composite`. Where the network painted nothing finer than
    that resolution (`--lite`), what is finer is the frame's own detail, as steady as the frame,
    and smoothing touches a quarter of the pixels."""
    h, w = fresh.shape[:2]
    change = cv2.subtract(out_small, fresh_small, dtype=cv2.CV_16S)
    out = cv2.add(fresh.astype(np.int16), cv2.resize(change, (w, h), interpolation=cv2.INTER_CUBIC))
    out = np.clip(out, 0, 255, out=out).astype(np.uint8)  # as cv2.add(..., dtype=CV_8U), which is slower
    return cv2.copyTo(fresh, cv2.resize(untrusted.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST), out)


def _torch_restore_contrast(blend, fresh):
    import torch
    import torch.nn.functional as F

    luma = torch.tensor([0.299, 0.587, 0.114], device=blend.device).view(1, 3, 1, 1)  # as cv2's RGB2GRAY

    def box(y):  # reflect padding, as cv2.blur's default border
        return F.avg_pool2d(F.pad(y, (WINDOW // 2,) * 4, mode="reflect"), WINDOW, stride=1)

    def var(x):
        return (box(x * x) - box(x) ** 2).clamp_(min=0.0)

    def gray(x):
        return (x * luma).sum(1, keepdim=True)

    gain = (var(gray(fresh)) + EPS) / (var(gray(blend)) + EPS)
    gain = gain.sqrt_().clamp_(1.0, MAX_GAIN)
    mean = box(blend)
    return mean + (blend - mean) * gain


def composite_torch(stylized, previous, motion: Motion, strength: float, hold: np.ndarray | None = None):
    """As `composite`, for (H, W, 3) uint8 torch tensors on any device (CUDA in the pipeline)."""
    import torch
    import torch.nn.functional as F

    h, w = stylized.shape[:2]
    dev = stylized.device
    flow = torch.from_numpy(motion.flow).to(dev).permute(2, 0, 1)[None]  # (1, 2, h', w')
    trust = torch.from_numpy(motion.trust).to(dev)[None, None]
    fh, fw = flow.shape[-2:]
    if (fh, fw) != (h, w):
        flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
        flow = flow * torch.tensor([w / fw, h / fh], device=dev).view(1, 2, 1, 1)
        occluded = torch.from_numpy(motion.occluded).to(dev)[None, None].float()
        trust = F.interpolate(trust, size=(h, w), mode="bilinear", align_corners=False)
        trust = trust * (F.interpolate(occluded, size=(h, w), mode="nearest") == 0)
    # grid_sample wants positions in -1..1 (align_corners=True: -1 and 1 are the edge pixel centres)
    ys, xs = torch.meshgrid(torch.arange(h, device=dev, dtype=torch.float32),
                            torch.arange(w, device=dev, dtype=torch.float32), indexing="ij")
    grid = torch.stack([(xs + flow[0, 0]) * (2.0 / max(w - 1, 1)) - 1.0,
                        (ys + flow[0, 1]) * (2.0 / max(h - 1, 1)) - 1.0], -1)[None]
    prev = previous.permute(2, 0, 1)[None].float()
    warped = F.grid_sample(prev, grid, mode="bicubic", padding_mode="border", align_corners=True)
    fresh = stylized.permute(2, 0, 1)[None].float()
    weight = trust * strength
    blend = fresh + weight * (warped - fresh)
    out = _torch_restore_contrast(blend, fresh)
    if hold is not None and hold.any():
        keep = torch.from_numpy(feathered(hold)).to(dev)[None, None]
        keep = F.interpolate(keep, size=(h, w), mode="bilinear", align_corners=False)
        out = out + keep * (warped - out)
    out = torch.where(weight > 0, out, fresh)
    return out[0].permute(1, 2, 0).clamp_(0, 255).add_(0.5).to(torch.uint8)
