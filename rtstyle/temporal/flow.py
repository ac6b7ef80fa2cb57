"""Optical flow and the pieces built on it: warping and the trust map (NumPy/OpenCV).

Convention (OpenCV's): `flow(a, b)` is F with a(x) ≈ b(x + F(x)). To bring the
previous frame onto the current one we take F = flow(current, previous) and sample
the previous frame at x + F(x) (backward warping: every output pixel gets a value,
no holes to fill).

Motion is analysed on small greyscale frames (a few hundred pixels wide): DIS flow
and the occlusion tests cost about a millisecond there, and the result is upsampled
to the frame size only where it is applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


MIN_FLOW_SIDE = 12  # DIS flow needs frames at least this wide and high


def small_frame(rgb: np.ndarray, long_side: int | None) -> np.ndarray:
    """The frame shrunk so the long side is at most `long_side` (None: full size); always a new
    array (the smoother keeps it while the frame itself moves on)."""
    h, w = rgb.shape[:2]
    if long_side and max(h, w) > long_side:
        s = long_side / max(h, w)
        return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return rgb.copy()


def change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| per pixel of two RGB frames in grey levels, the largest over the colour channels
    (float32): a red object on a grey wall of the same brightness is a change too."""
    d = cv2.absdiff(a, b)
    return cv2.max(cv2.max(d[..., 0], d[..., 1]), d[..., 2]).astype(np.float32)  # numpy's reduction is slower


class DisFlow:
    """OpenCV's DIS optical flow (Kroeger et al. 2016): dense, and fast enough for every frame on a CPU."""

    def __init__(self, preset: str = "ultrafast"):
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """F (H, W, 2) float32 with a(x) ≈ b(x + F(x)); a and b greyscale uint8 of one size."""
        return self._dis.calc(a, b, None)


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> np.ndarray:
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    grid.flags.writeable = False
    return grid


def sample_map(flow: np.ndarray) -> np.ndarray:
    """Absolute sampling positions x + F(x), as cv2.remap takes them."""
    return _grid(*flow.shape[:2]) + flow


def remap(image: np.ndarray, at: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """`image` sampled at the positions `at` (a `sample_map`; outside the frame the border repeats)."""
    return cv2.remap(image, at, None, interpolation, borderMode=cv2.BORDER_REPLICATE)


def warp(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """`image` sampled at x + F(x)."""
    return remap(image, sample_map(flow), interpolation)


def squared_length(flow: np.ndarray) -> np.ndarray:
    return flow[..., 0] * flow[..., 0] + flow[..., 1] * flow[..., 1]


def inside(at: np.ndarray) -> np.ndarray:
    """Where the positions `at` (a `sample_map`) fall inside the frame: elsewhere a warp has nothing to show."""
    h, w = at.shape[:2]
    return cv2.inRange(at, (0.0, 0.0), (w - 1.0, h - 1.0)) > 0  # one pass over both coordinates


def consistent(backward: np.ndarray, forward: np.ndarray, at: np.ndarray,
               alpha: float = 0.01, beta: float = 0.5) -> np.ndarray:
    """Forward-backward check (Sundaram et al. 2010, as in Ruder et al. 2016).

    backward = flow(current, previous), forward = flow(previous, current), `at` = backward's
    `sample_map`. Following a pixel back and forth should return it where it started; where it
    does not, it was occluded or disoccluded between the frames, or the flow is wrong there.
    """
    fwd_back = remap(forward, at)
    err = squared_length(fwd_back + backward)
    return err <= alpha * (squared_length(fwd_back) + squared_length(backward)) + beta


def trackable(backward: np.ndarray, forward: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
    """Pixels of the current frame that can be followed to the previous one: consistent and in frame
    (`at`: backward's `sample_map`, where the caller has it)."""
    at = sample_map(backward) if at is None else at
    return consistent(backward, forward, at) & inside(at)


STILL_WINDOW = 5  # pixels of the analysis size: the neighbourhood the "did it move?" test looks at
STILL_MARGIN = 2.0  # grey levels: no motion wins unless the flow explains the input this much better
JITTER = 2.0  # pixels: the most motion DIS makes up on a flat, noisy area


@dataclass
class Motion:
    """What one frame pair tells the smoother, at the analysis resolution."""

    flow: np.ndarray  # (h, w, 2) backward flow: current -> previous (0 where still)
    trust: np.ndarray  # (h, w) float32 0..1: how far the warped previous frame can be trusted
    occluded: np.ndarray  # (h, w) bool: failed the geometric tests (trust 0)
    still: np.ndarray | None = None  # (h, w) bool: no motion explains the input as well as the flow


def analyse(current: np.ndarray, previous: np.ndarray, estimator: DisFlow,
            photo_lo: float = 8.0, photo_hi: float = 24.0) -> Motion:
    """Flow from `current` to `previous` (small RGB frames) and the trust in warping along it. The
    flow is measured on grey levels, the errors in colour.

    Where the input did not move (no motion explains the neighbourhood as well as the flow,
    within STILL_MARGIN), the flow is 0: DIS makes up a pixel or two of motion on flat,
    noisy areas (a wall, a sky), and warping along it frame after frame would smear them.
    Trust is 0 elsewhere where the forward-backward check fails or the flow leaves the frame
    (occlusions), and falls from 1 to 0 as the photometric error of the warped input
    grows from `photo_lo` to `photo_hi` grey levels (lighting changes, flow errors the
    geometric test misses).
    """
    now, before = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (current, previous))
    backward = estimator(now, before)
    forward = estimator(before, now)
    at = sample_map(backward)  # one map for the three warps along it
    occluded = ~trackable(backward, forward, at)
    err = change(current, remap(previous, at))  # the photometric error of the warped input
    err0 = change(current, previous)
    box = (STILL_WINDOW, STILL_WINDOW)
    still = cv2.blur(err0, box) <= cv2.blur(err, box) + STILL_MARGIN
    occluded &= ~(still & (squared_length(backward) < JITTER**2))  # made-up motion, not an occlusion
    still &= ~occluded
    # masked stores through OpenCV: numpy's broadcasts and boolean stores are several times slower
    moving = (~still).astype(np.float32)
    backward = cv2.multiply(backward, cv2.merge((moving, moving)))  # 0 where still
    err = cv2.copyTo(err0, still.view(np.uint8), err)
    trust = np.clip((photo_hi - err) / (photo_hi - photo_lo), 0.0, 1.0)
    trust = cv2.multiply(trust, (~occluded).astype(np.float32))
    return Motion(backward, trust, occluded, still)


def upsample(motion: Motion, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The flow (in pixels of the new size) and trust map at `size` = (width, height)."""
    w, h = size
    fh, fw = motion.flow.shape[:2]
    if (fw, fh) == (w, h):
        return motion.flow, motion.trust
    flow = cv2.resize(motion.flow, (w, h), interpolation=cv2.INTER_LINEAR)
    flow[..., 0] *= w / fw
    flow[..., 1] *= h / fh
    # occluded stays untrusted after resizing: nearest keeps the zeros sharp at their edges
    trust = cv2.resize(motion.trust, (w, h), interpolation=cv2.INTER_LINEAR)
    np.putmask(trust, cv2.resize(motion.occluded.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST), 0.0)
    return flow, trust
