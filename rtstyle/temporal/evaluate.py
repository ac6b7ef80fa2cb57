"""Measure flicker and what smoothing costs: `rtstyle eval-temporal`.

One pass over a clip stylizes every frame once and smooths a copy, so the
per-frame ("off") and smoothed ("on") outputs are compared on the same frames:

- warping error (Lai et al. 2018): mean squared difference, over non-occluded
  pixels, between each output frame and the previous output frame warped by the
  *input's* optical flow (colours in 0..1). Lower is steadier. The flow here is
  Farneback's at full size, not the DIS flow the smoother uses, so the smoother is
  not graded by its own estimate. It is a measure within a shot: a pair of frames
  across a cut (a fade from black, a new scene: the input itself warps CUT_RATIO times
  worse than the clip's median pair, and by more than CUT_MIN) has no motion to follow,
  and its error, ten times any other or more and the same off and on, would swamp the
  mean; such pairs are left out of it and listed (`warping_error["cuts"]`).
- fidelity to the unsmoothed output: the VGG-19 Gram style loss against the style
  image (on every `every`-th frame), as a relative change, and PSNR.

It also saves a strip of the clip's fastest-moving stretch, off above on, where
ghost trails (a fading copy of a moving edge) would show.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import RtstyleError
from ..frames import Frame, network_scale
from ..metrics import gram_targets, style_loss
from .flow import trackable, warp
from .smoother import TemporalSmoother

STRIP_FRAMES = 6
CUT_RATIO = 20.0  # a frame pair whose input warps this much worse than the clip's median pair...
CUT_MIN = 0.005  # ...and worse than this (RMS 18 grey levels; pairs within a shot: 1e-4 to 1e-3) is a cut


def farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """F with a(x) ≈ b(x + F(x)), greyscale inputs."""
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 3, 7, 1.5, 0)


def warping_error(current: np.ndarray, previous: np.ndarray, flow: np.ndarray, valid: np.ndarray) -> float:
    """Lai et al.'s per-frame term: mean over valid pixels of the squared RGB difference (0..1 scale)."""
    d = (current.astype(np.float32) - warp(previous, flow).astype(np.float32)) / 255.0
    return float((d**2).mean(axis=-1)[valid].mean()) if valid.any() else 0.0


@dataclass
class TemporalReport:
    input: str
    style: str
    temporal: str
    frames: int = 0
    size: tuple[int, int] = (0, 0)
    cuts: int = 0
    stylize_ms: float = 0.0  # median time of the style network per frame
    smoothing_ms: float = 0.0  # median time of the smoothing step per frame
    warping_error: dict = field(default_factory=dict)  # off, on, ratio (within shots); cuts: pairs left out
    style_loss: dict | None = None  # off, on, change (None without a style image)
    psnr: dict = field(default_factory=dict)  # smoothed vs unsmoothed: mean, min
    per_frame: dict = field(default_factory=dict)

    def summary(self) -> str:
        w = self.warping_error
        text = f"{self.frames} frames: warping error {w['off']:.5f} -> {w['on']:.5f} (x{w['ratio']:.2f})"
        if w["cuts"]:
            text += f" leaving out {len(w['cuts'])} pair(s) across a cut"
        text += f", PSNR vs unsmoothed {self.psnr['mean']:.1f} dB"
        if self.style_loss:
            text += f", style loss {self.style_loss['change']:+.1%}"
        return text + (f", smoothing {self.smoothing_ms:.1f} ms/frame (stylizing {self.stylize_ms:.0f} ms), "
                       f"{self.cuts} cut(s)")


class _Strip:
    """Keeps the stretch of STRIP_FRAMES frames with the most motion, and where it is."""

    def __init__(self):
        self.window: deque = deque(maxlen=STRIP_FRAMES)
        self.best: tuple[float, list, tuple[int, int]] | None = None

    def add(self, raw: np.ndarray, smoothed: np.ndarray, motion: np.ndarray) -> None:
        self.window.append((raw, smoothed, motion))
        if len(self.window) < STRIP_FRAMES:
            return
        score = float(np.mean([m.mean() for _, _, m in self.window]))
        if self.best is None or score > self.best[0]:
            total = sum(m for _, _, m in self.window)
            y, x = np.unravel_index(np.argmax(cv2.blur(total, (31, 31))), total.shape)
            self.best = (score, [(r, s) for r, s, _ in self.window], (int(x), int(y)))

    def write(self, path: Path) -> None:
        if self.best is None:
            return
        _, frames, (cx, cy) = self.best
        h, w = frames[0][0].shape[:2]
        side = min(h, w, max(96, h // 2))
        x0, y0 = min(max(0, cx - side // 2), w - side), min(max(0, cy - side // 2), h - side)
        rows = [np.hstack([f[k][y0:y0 + side, x0:x0 + side] for f in frames]) for k in (0, 1)]
        label = np.zeros((24, rows[0].shape[1], 3), np.uint8)
        parts = []
        for text, row in zip(("temporal off (per-frame)", "temporal on"), rows):
            bar = label.copy()
            cv2.putText(bar, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
            parts += [bar, row]
        cv2.imwrite(str(path), cv2.cvtColor(np.vstack(parts), cv2.COLOR_RGB2BGR))


def evaluate(source, model: Callable[[np.ndarray], np.ndarray], smoother: TemporalSmoother, *,
             style_image: np.ndarray | None = None, every: int = 8, max_frames: int | None = None,
             strip: Path | None = None, on_frame: Callable[[int], None] | None = None,
             names: tuple[str, str] = ("", "")) -> TemporalReport:
    """Run `model` over `source` (frames of the input), with and without `smoother`."""
    target = gram_targets(style_image) if style_image is not None else None
    report = TemporalReport(input=names[0], style=names[1], temporal=smoother.describe())
    pf: dict[str, list] = {"pairs": [], "warping_error_off": [], "warping_error_on": [], "warping_error_input": [],
                           "psnr": [], "style_frames": [],
                           "style_loss_off": [], "style_loss_on": [], "stylize_ms": [], "smoothing_ms": []}
    keeper = _Strip()
    prev = None  # (gray input, raw, smoothed, input)
    for frame in source:
        if max_frames and report.frames >= max_frames:
            break
        image = frame.image
        t = time.perf_counter()
        raw = model(image)
        pf["stylize_ms"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        smoothed = smoother(Frame(frame.index, raw.copy(), original=image,
                                  styled_at=network_scale(model, *image.shape[:2]))).image
        pf["smoothing_ms"].append((time.perf_counter() - t) * 1000)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if prev is not None and prev[0].shape == gray.shape:
            backward, forward = farneback(gray, prev[0]), farneback(prev[0], gray)
            valid = trackable(backward, forward)
            pf["pairs"].append(report.frames)  # numbered by their second frame
            pf["warping_error_input"].append(warping_error(image, prev[3], backward, valid))
            pf["warping_error_off"].append(warping_error(raw, prev[1], backward, valid))
            pf["warping_error_on"].append(warping_error(smoothed, prev[2], backward, valid))
            keeper.add(raw, smoothed, np.linalg.norm(backward, axis=-1))
            pf["psnr"].append(min(float(cv2.PSNR(raw, smoothed)), 100.0))  # identical frames: 100 dB, not inf
        if target is not None and report.frames % every == every - 1:  # the first frame is never smoothed
            pf["style_frames"].append(report.frames)
            pf["style_loss_off"].append(style_loss(raw, target))
            pf["style_loss_on"].append(style_loss(smoothed, target))
        prev = (gray, raw, smoothed, image)
        report.frames += 1
        report.size = (image.shape[1], image.shape[0])
        if on_frame:
            on_frame(report.frames)
    if report.frames < 2:
        raise RtstyleError(f"{names[0]}: needs at least 2 frames to measure flicker, got {report.frames}")
    report.warping_error = _within_shots(pf)
    report.psnr = {"mean": float(np.mean(pf["psnr"])), "min": float(np.min(pf["psnr"]))}
    if target is not None:
        so, sn = float(np.mean(pf["style_loss_off"])), float(np.mean(pf["style_loss_on"]))
        report.style_loss = {"off": so, "on": sn, "change": sn / so - 1.0, "every": every}
    report.cuts = smoother.cuts
    report.stylize_ms = float(np.median(pf["stylize_ms"]))
    report.smoothing_ms = float(np.median(pf["smoothing_ms"]))
    report.per_frame = pf
    if strip:
        keeper.write(strip)
    return report


def _within_shots(pf: dict[str, list]) -> dict:
    """Mean warping error off and on over the frame pairs within a shot, and the pairs left out
    (numbered by their second frame)."""
    inputs = np.array(pf["warping_error_input"])
    cut = (inputs > CUT_RATIO * float(np.median(inputs))) & (inputs > CUT_MIN)
    off, on = (float(np.mean(np.array(pf[k])[~cut])) for k in ("warping_error_off", "warping_error_on"))
    return {"off": off, "on": on, "ratio": on / off if off > 0 else 1.0,
            "cuts": [pf["pairs"][i] for i in np.flatnonzero(cut)]}


def write_json(report: TemporalReport, path: Path) -> None:
    path.write_text(json.dumps(asdict(report), indent=1) + "\n")


def write_plot(report: TemporalReport, path: Path) -> None:
    """Warping error along the clip (off vs on), and the fidelity measures below it. Drawn on a
    figure of its own (no pyplot), so the process's matplotlib backend is left as it was."""
    from matplotlib.figure import Figure

    pf = report.per_frame
    fig = Figure(figsize=(10, 6))
    top, bottom = fig.subplots(2, 1, sharex=True)
    frames = np.arange(1, len(pf["warping_error_off"]) + 1)
    top.plot(frames, pf["warping_error_off"], label="temporal off (per-frame)", color="tab:red", lw=1)
    top.plot(frames, pf["warping_error_on"], label=f"temporal {report.temporal}", color="tab:blue", lw=1)
    top.set_ylabel("warping error")
    top.set_title(f"{Path(report.input).name}, style {report.style}: {report.summary()}", fontsize=8)
    top.legend(fontsize=8)
    bottom.plot(frames, pf["psnr"], color="tab:green", lw=1, label="PSNR on vs off")
    bottom.set_ylabel("PSNR (dB)")
    bottom.set_xlabel("frame")
    if pf["style_frames"]:
        right = bottom.twinx()
        change = np.array(pf["style_loss_on"]) / np.array(pf["style_loss_off"]) - 1.0
        right.plot(pf["style_frames"], change * 100, "o-", color="tab:purple", ms=3, lw=1,
                   label="style loss change")
        right.set_ylabel("style loss change (%)")
        right.legend(fontsize=8, loc="upper right")
    bottom.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


class Replay:
    """A model whose outputs are computed once and handed out again, in order, after each
    `rewind()`: several smoothing settings then differ in the smoothing alone."""

    def __init__(self, model: Callable[[np.ndarray], np.ndarray]):
        self.model, self.frames, self.i = model, [], 0

    def rewind(self) -> None:
        self.i = 0

    def scale_for(self, h: int, w: int) -> float:
        """The fraction of an h x w frame's size the model runs at (the smoother reads it)."""
        return network_scale(self.model, h, w)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self.i == len(self.frames):
            self.frames.append(self.model(image))
        self.i += 1
        return self.frames[self.i - 1]
