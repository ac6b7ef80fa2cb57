"""Reduced-resolution inference (`--infer-scale`): speed and look, and the upsampler choice.

    python benchmarks/bench_infer_scale.py [--style starry] [--style-image IMG] [--runs 5]
        [--scales 0.75 0.5] [--clip cutBunny.mp4] [--convert-runs 3]

1. Per fixture photo at 640x360: the network at full size and at each scale (model time,
   median of --runs), and for each scale the upsampled result from four upsamplers:
   bilinear, bicubic, a fast guided filter (He & Sun 2015; radius 2 and eps 1e-3 at the
   network's size, gray guide) and rtstyle's detail transfer (`backends.upsample`).
   Quality: Gram style-loss ratio against the style image (lower is more stylized; the
   full-size stylization is the reference point) and PSNR against the full-size output.
2. End to end: `rtstyle convert` of the clip (640x360) at scale 1 and at the smallest
   scale, interleaved, --convert-runs each; median wall time and fps.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from rtstyle.backends.upsample import detail_upsample, network_size
from rtstyle.backends import load_backend
from rtstyle.images import read_image
from rtstyle.metrics import style_loss_ratio

FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", "../shared/fixtures"))
PHOTOS = ("amber", "golden_gate", "sailboat")


def fast_guided_filter(frame: np.ndarray, small: np.ndarray, out: np.ndarray, r: int = 2,
                       eps: float = 1e-3) -> np.ndarray:
    """The comparison baseline: local linear model of the output in the guide's luminance."""
    def box(x):
        return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)

    def luma(a):
        return (torch.from_numpy(a).float() @ torch.tensor([0.299, 0.587, 0.114]) / 255)[None, None]

    g, p = luma(small), torch.from_numpy(out).permute(2, 0, 1)[None].float() / 255
    mg, mp = box(g), box(p)
    a = (box(g * p) - mg * mp) / (box(g * g) - mg * mg + eps)
    b = mp - a * mg
    size = frame.shape[:2]
    q = F.interpolate(box(a), size=size, mode="bilinear") * luma(frame) + F.interpolate(box(b), size=size,
                                                                                           mode="bilinear")
    return (q[0].permute(1, 2, 0) * 255).round().clamp(0, 255).byte().numpy()


def timed(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def quality(args, net, style_image) -> None:
    print("| scale | network size | model ms | upsampler | style-loss ratio | PSNR vs full (dB) |\n"
          "|---|---|---|---|---|---|")
    rows: dict[tuple, list] = {}
    times: dict[float, list] = {}
    for name in PHOTOS:
        frame = cv2.resize(read_image(FIXTURES / "images" / "content" / f"{name}.jpg"), (640, 360),
                           interpolation=cv2.INTER_AREA)
        full = net(frame)
        times.setdefault(1.0, []).append(timed(lambda: net(frame), args.runs))
        rows.setdefault((1.0, "-"), []).append((style_loss_ratio(full, frame, style_image), float("inf")))
        for scale in args.scales:
            h, w = network_size(360, 640, scale, net.stride)
            small = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
            out = net(small)
            times.setdefault(scale, []).append(timed(lambda: net(small), args.runs))
            t = [torch.from_numpy(a[None]) for a in (frame, small, out)]
            ups = {"bilinear": cv2.resize(out, (640, 360), interpolation=cv2.INTER_LINEAR),
                   "bicubic": cv2.resize(out, (640, 360), interpolation=cv2.INTER_CUBIC),
                   "fast guided filter": fast_guided_filter(frame, small, out),
                   "detail transfer (rtstyle)": detail_upsample(*t)[0].numpy()}
            for label, up in ups.items():
                rows.setdefault((scale, label), []).append((style_loss_ratio(up, frame, style_image),
                                                            cv2.PSNR(up, full)))
    for (scale, label), vals in rows.items():
        h, w = network_size(360, 640, scale, net.stride)
        psnr = statistics.mean(v[1] for v in vals)
        print(f"| {scale:g} | {w}x{h} | {statistics.median(times[scale]):.0f} | {label} | "
              f"{statistics.mean(v[0] for v in vals):.3f} | {'-' if psnr == float('inf') else f'{psnr:.2f}'} |",
              flush=True)


def end_to_end(args) -> None:
    clip = FIXTURES / "video" / args.clip
    scales = (1.0, min(args.scales))
    walls: dict[float, list[float]] = {s: [] for s in scales}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.convert_runs):
            for s in scales:
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "rtstyle", "convert", str(clip), "-o", f"{tmp}/o.mp4", "-y",
                                "-q", "--style", args.style, "--infer-scale", str(s)], check=True)
                walls[s].append(time.perf_counter() - t0)
    n = cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT)
    print(f"\n`rtstyle convert {args.clip} --style {args.style}` (default temporal smoothing), median of "
          f"{args.convert_runs}, interleaved:")
    base = statistics.median(walls[1.0])
    for s in scales:
        wall = statistics.median(walls[s])
        print(f"- --infer-scale {s:g}: {wall:.1f} s, {n / wall:.1f} fps ({base / wall:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="starry")
    ap.add_argument("--style-image", type=Path, default=FIXTURES / "images" / "style" / "starry_night.jpg")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--scales", type=float, nargs="+", default=[0.75, 0.5])
    ap.add_argument("--clip", default="cutBunny.mp4")
    ap.add_argument("--convert-runs", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    quality(args, load_backend(args.style), read_image(args.style_image))
    if args.convert_runs:
        end_to_end(args)


if __name__ == "__main__":
    main()
