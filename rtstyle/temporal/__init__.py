"""Temporal consistency: flow-guided smoothing of stylized video, and how to measure it.

`flow` (optical flow, warping, occlusion tests) and `composite` (warp + blend on NumPy
or torch) are the functional pieces; `TemporalSmoother` strings them together as a
pipeline step; `evaluate` measures flicker (warping error) and what smoothing costs
the style.
"""

from .smoother import DEFAULT_MODE, DEFAULT_STRENGTH, MODE_NAMES, MODES, TemporalSmoother, check_settings

__all__ = ["DEFAULT_MODE", "DEFAULT_STRENGTH", "MODE_NAMES", "MODES", "TemporalSmoother", "check_settings"]
