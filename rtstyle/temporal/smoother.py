"""The temporal smoother: a postprocess step that removes frame-to-frame flicker.

Per-frame stylization is unstable: a still scene gets crawling textures and pulsing
colours. After each frame is stylized, the smoother warps its own previous output
onto the current frame along the optical flow of the *input* frames and blends it
in where the warp can be trusted (a recursive filter that follows the motion).
Occluded and disoccluded pixels, and every pixel after a scene cut, a size change or
a style switch, take the fresh stylization as it is.

Where the input has not changed at all (no motion, no new light: a fixed camera's
background), the previous output is *held* rather than blended (static-region locking): a
per-frame network repaints such areas with a new pattern every frame, and only holding
keeps them both still and sharp. A held pixel is refreshed once its input drifts DRIFT
grey levels from the input its output was made from (a slow change of light, a fade).

A stream cut into pieces that are smoothed apart (`rtstyle batch --ray`) would show a jump
where they meet: a piece holds the painting of the frame an area became still in, the next
piece the painting of its own first frame. `hand_over` makes a piece cross-fade, over the
frames the next piece warms up on, into what the next piece makes of them: its last frame is
then the next piece's own, and the join is like any other pair of frames.

Where the network ran at or below the analysis size (`--lite` runs it at half size), everything
it painted is at that size: what the frame holds finer is its own detail, put back by the
upsampler, and as steady as the frame. The smoother then works at the analysis size and adds
back to the fresh frame only what it changed there (`composite.with_change`): the same
steadiness on a quarter of the pixels (11.5 -> 6.2 ms a 640x360 frame on two cores). At
`fast`'s 320 px that is `--lite` up to 640 px wide; larger frames run the network above it.

How much to carry over depends on the network: one trained for stability (`rtstyle
train --temporal-weight`) flickers little by itself, and blending costs style (see
docs/benchmarks/history.md), so such a style names its own lighter strength in its metadata
(`temporal_strength`). Unless the user fixes `--temporal-strength`, the smoother
follows the style it is given (`follow`), also across live style switches.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..frames import Frame
from .composite import composite, composite_torch, with_change
from .flow import MIN_FLOW_SIDE, STILL_WINDOW, DisFlow, Motion, analyse, change, small_frame
from .settings import DEFAULT_MODE, DEFAULT_STRENGTH, MODES, check_settings

if TYPE_CHECKING:
    from ..models.formats import StyleMeta


CUT_FRACTION = 0.6  # more of the frame than this untrusted: a new shot, start over
CUT_MEAN = 10.0  # grey levels the mean brightness moves between two frames: a cut or a fade from black
DRIFT = 6.0  # grey levels a held pixel's input may move from the input its output was made from


class TemporalSmoother:
    """Callable on frames in display order (a `Postprocess` step). Thread-confined: one pipeline."""

    def __init__(self, mode: str = DEFAULT_MODE, strength: float | None = None,
                 cut_fraction: float = CUT_FRACTION):
        """`strength` None: the style's own (see `follow`), DEFAULT_STRENGTH until one is given."""
        check_settings(mode, DEFAULT_STRENGTH if strength is None else strength)
        self.enabled = mode != "off"
        self.mode = mode if self.enabled else DEFAULT_MODE  # what the live toggle turns on
        self.fixed = strength is not None
        self.strength = DEFAULT_STRENGTH if strength is None else strength
        self.cut_fraction = cut_fraction
        self._settings = MODES[self.mode]
        self._flow = DisFlow(self._settings.preset)
        self.cuts = 0  # times it started over: scene cuts, size changes, style switches
        self.last_motion: Motion | None = None
        self._hand_over: tuple[int, int] | None = None  # (pts, frames): see `hand_over`
        self.reset()

    @property
    def active(self) -> bool:
        return self.enabled and self.strength > 0

    def describe(self) -> str:
        return f"{self.mode} (strength {self.strength:g})" if self.active else "off"

    def follow(self, meta: StyleMeta) -> None:
        """Take the strength this style's network asks for, unless the user fixed one."""
        if not self.fixed:
            own = meta.temporal_strength  # checked there: a number in 0..1
            self.strength = DEFAULT_STRENGTH if own is None else own

    def set_strength(self, strength: float) -> float:
        """Set the strength while frames flow (the live keys; any thread, from the next frame on),
        clamped to 0..1; from then on it no longer follows the style. Returns the value set."""
        self.strength, self.fixed = min(max(float(strength), 0.0), 1.0), True
        return self.strength

    def toggle(self) -> bool:
        """Live hotkey: on <-> off. Takes effect at the next frame; returns the new state."""
        self.enabled = not self.enabled
        return self.enabled

    def hand_over(self, pts: int, frames: int) -> None:
        """From the frame at `pts` on, cross-fade over the next `frames` frames into what a smoother
        starting fresh at `pts` makes of them (the next Ray segment starts there), run alongside:
        the last of them is that smoother's output exactly."""
        self._hand_over = (pts, frames) if frames > 0 else None

    def reset(self) -> None:
        self._successor: tuple[TemporalSmoother, int, int] | None = None  # (fresh smoother, frames seen, of)
        self._prev_small: np.ndarray | None = None  # the last input, small (RGB)
        self._prev_out = None
        self._prev_key: tuple | None = None
        self._made_from: np.ndarray | None = None  # per pixel, the input the output there was made from
        self.held = 0.0  # the fraction of the last frame held (static-region locking)

    def __call__(self, frame: Frame) -> Frame:
        if not self.active:
            self.reset()  # turned back on later, it starts from the frame it sees then
            return frame
        source = frame.original if frame.original is not None else frame.image
        fresh = frame.image
        small = small_frame(_host(source), self._settings.long_side)
        if min(small.shape[:2]) < MIN_FLOW_SIDE:  # too small to measure motion in: passed through as it is
            self.reset()
            return frame
        coarse = _coarse(frame, small)
        key = (tuple(frame.image.shape), small.shape, frame.styled_by)
        # what is smoothed: the frame, or under `coarse` the frame at the analysis size
        work = cv2.resize(fresh, small.shape[1::-1], interpolation=cv2.INTER_AREA) if coarse else fresh
        self.last_motion, made_from, self.held = None, small, 0.0
        if self._prev_small is not None and key == self._prev_key:
            motion = None
            if abs(float(small.mean()) - float(self._prev_small.mean())) <= CUT_MEAN:
                motion = self.last_motion = analyse(small, self._prev_small, self._flow)
            if motion is None or 1.0 - float(np.mean(motion.trust > 0.5)) > self.cut_fraction:
                self.cuts += 1
            else:
                hold = self._hold(small, motion)
                blend = composite if isinstance(work, np.ndarray) else composite_torch
                smoothed = blend(work, self._at_size(work), motion, self.strength, hold)
                frame.image = with_change(fresh, work, smoothed, motion.trust == 0) if coarse else smoothed
                work = smoothed
                made_from = cv2.copyTo(self._made_from, hold.view(np.uint8), small.copy())  # held: as before
                self.held = float(hold.mean())
        elif self._prev_small is not None:
            self.cuts += 1  # a new size or a new style: nothing to carry over
        self._prev_small, self._prev_out, self._prev_key, self._made_from = small, work, key, made_from
        if self._hand_over or self._successor:
            frame.image = self._handing_over(frame, fresh)
        return frame

    def _handing_over(self, frame: Frame, fresh):
        """`frame.image` cross-faded into the successor's output (`hand_over`); the state stays this
        smoother's own. The successor starts at the first frame at or after the hand-over's pts."""
        if self._hand_over and frame.pts is not None and frame.pts >= self._hand_over[0]:
            self._successor = (TemporalSmoother(self.mode, self.strength, self.cut_fraction), 0, self._hand_over[1])
            self._hand_over = None  # once
        if self._successor is None:
            return frame.image
        from ..backends.transform import mix  # here: the CLI's parser imports this module, not torch

        successor, seen, frames = self._successor
        theirs = successor(replace(frame, image=fresh)).image
        self._successor = (successor, seen + 1, frames) if seen < frames else None
        return mix(frame.image, theirs, min(seen / frames, 1.0))

    def _at_size(self, work):
        """The previous output at the size of `work`: live's quality ladder can move the network
        across the analysis size mid-stream (full-size smoothing <-> `coarse`), no reason to start over."""
        prev = self._prev_out
        if prev.shape == work.shape:
            return prev
        shrink = prev.shape[0] > work.shape[0]
        return cv2.resize(prev, work.shape[1::-1], interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)

    def _hold(self, small: np.ndarray, motion: Motion) -> np.ndarray:
        """Where the input is unchanged: still, trusted, and near the input the output was made from."""
        drift = cv2.blur(change(small, self._made_from), (STILL_WINDOW, STILL_WINDOW))
        return motion.still & (motion.trust > 0.5) & (drift < DRIFT)


def _coarse(frame: Frame, small: np.ndarray) -> bool:
    """Whether to smooth at the analysis size: the network ran at or below it (`--lite`), so the
    frame holds nothing of the network's finer than that (`composite.with_change`). CPU frames only:
    on a GPU the full-size composite is cheap."""
    long_side = max(frame.image.shape[:2])
    analysed = max(small.shape[:2])
    return (isinstance(frame.image, np.ndarray) and analysed < long_side
            and frame.styled_at * long_side <= analysed + 0.5)


def _host(image) -> np.ndarray:
    """Frames may live on a GPU (torch tensors); the flow runs on the CPU."""
    return image if isinstance(image, np.ndarray) else image.cpu().numpy()
