"""Temporal consistency: flow-guided smoothing of stylized video, and how to measure it.

`flow` (optical flow, warping, occlusion tests) and `composite` (warp + blend on NumPy
or torch) are the functional pieces; `TemporalSmoother` strings them together as a
pipeline step; `evaluate` measures flicker (warping error) and what smoothing costs
the style. `settings` is what the command line needs of it, without OpenCV.
"""

from __future__ import annotations

from .settings import DEFAULT_MODE, DEFAULT_STRENGTH, MODE_NAMES, MODES, check_settings


def __getattr__(name: str):
    if name == "TemporalSmoother":  # loads OpenCV: on first use, not with the command line's options
        from .smoother import TemporalSmoother

        return TemporalSmoother
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_MODE", "DEFAULT_STRENGTH", "MODE_NAMES", "MODES", "TemporalSmoother", "check_settings"]
