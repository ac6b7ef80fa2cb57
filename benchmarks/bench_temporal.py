"""Temporal smoothing on the fixture clips: flicker removed vs style kept, per setting.

    python benchmarks/bench_temporal.py [--clips DIR] [--style starry --style-image IMG]
        [--settings fast:0.3 fast:style quality:0.5] [--height 360] [--every 8] [--out DIR]
        [--frames N] [--baseline STYLE] [--infer-scale 0.5]

A setting is MODE:STRENGTH, or MODE:style for the strength the style names (the CLI's
default). Each clip is stylized once (frames cached in memory); every setting then runs
`rtstyle.temporal.evaluate` over the same stylized frames, so the settings differ
only in the smoothing. Writes DIR/<clip>_<mode>_<strength>.{json,png,_strip.png} and
prints a Markdown table: warping error off/on and its ratio, style loss change, PSNR
vs unsmoothed, and the smoothing time as a share of the stylization time.

With `--baseline STYLE` (e.g. a network trained without the stability loss), each row
also compares the smoothed output with that network's per-frame output on the same
clip: the flicker and style a user gets, against what per-frame stylization gave them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rtstyle.backends import load_backend
from rtstyle.images import read_image
from rtstyle.sources import VideoFileSource
from rtstyle.temporal import TemporalSmoother
from rtstyle.temporal.evaluate import Replay, evaluate, write_json, write_plot

FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", "../shared/fixtures"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", nargs="*", default=[str(FIXTURES / "video" / n)
                                                  for n in ("cup.mp4", "cutBunny.mp4", "Megamind.avi")])
    ap.add_argument("--style", default="starry")
    ap.add_argument("--style-image", default=str(FIXTURES / "images/style/starry_night.jpg"))
    ap.add_argument("--settings", nargs="*", default=["fast:0.3", "fast:0.5", "fast:0.7", "quality:0.5"])
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--every", type=int, default=8)
    ap.add_argument("--out", default="work/bench_temporal")
    ap.add_argument("--frames", type=int, help="only the first N frames of each clip")
    ap.add_argument("--baseline", help="also compare against this style's per-frame output")
    ap.add_argument("--infer-scale", type=float,
                    help="run the networks at this fraction of the frame size (0.5: what --lite does at 360 lines)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backend = load_backend(args.style, infer_scale=args.infer_scale)
    style_image = read_image(args.style_image)
    baseline = load_backend(args.baseline, infer_scale=args.infer_scale) if args.baseline else None
    extra = " vs baseline: warping error ratio | style loss change |" if baseline else ""
    print("| clip | setting | warping error off | on | ratio | style loss change | PSNR vs off (dB) | "
          "smoothing ms | stylize ms | share |" + extra)
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if baseline else ""))
    for clip in map(Path, args.clips):
        base = None
        if baseline:
            source = VideoFileSource(clip, height=args.height)
            try:  # strength 0: the baseline's per-frame output, through the same measurement
                base = evaluate(source, baseline, TemporalSmoother("fast", 0.0), style_image=style_image,
                                every=args.every, max_frames=args.frames, names=(str(clip), args.baseline))
            finally:
                source.close()
            write_json(base, out / f"{clip.stem}_baseline.json")
        replay = Replay(backend)
        stylize_ms = None
        for setting in args.settings:
            mode, strength = setting.split(":")
            smoother = TemporalSmoother(mode, None if strength == "style" else float(strength))
            smoother.follow(backend.meta)
            strength = f"{smoother.strength:g}"
            replay.rewind()
            source = VideoFileSource(clip, height=args.height)
            try:
                report = evaluate(source, replay, smoother,
                                  style_image=style_image, every=args.every, max_frames=args.frames,
                                  strip=out / f"{clip.stem}_{mode}_{strength}_strip.png",
                                  names=(str(clip), backend.style.name))
            finally:
                source.close()
            stylize_ms = stylize_ms or report.stylize_ms  # the first pass is the one that stylized
            stem = f"{clip.stem}_{mode}_{strength}"
            write_json(report, out / f"{stem}.json")
            write_plot(report, out / f"{stem}.png")
            w, s = report.warping_error, report.style_loss
            print(f"| {clip.name} {report.size[0]}x{report.size[1]}, {report.frames} frames | {mode} {strength} | "
                  f"{w['off']:.5f} | {w['on']:.5f} | {w['ratio']:.2f} | {s['change']:+.1%} | "
                  f"{report.psnr['mean']:.1f} | {report.smoothing_ms:.1f} | {stylize_ms:.0f} | "
                  f"{report.smoothing_ms / stylize_ms:.1%} |" + (
                      f" {w['on'] / base.warping_error['off']:.2f} | {s['on'] / base.style_loss['off'] - 1:+.1%} |"
                      if base else ""), flush=True)


if __name__ == "__main__":
    main()
