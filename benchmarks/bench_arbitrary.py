"""Arbitrary styles on the CPU: frames per second and style-switch time.

    python benchmarks/bench_arbitrary.py [--fixtures DIR] [--runs 7] [--models adain magenta]
        [--adain STYLE ...]

For each model (the built-in AdaIN on PyTorch and on ONNX Runtime; the fixture
Magenta pair, imported into a temporary style library, on ONNX Runtime) it measures
(median of --runs) the stylization of a 640x360 and a 1280x720 frame at alpha 1 and
0.5 (for Magenta, alpha < 1 adds a predictor run on the frame; for AdaIN it costs
nothing extra), and the time to switch to another style image (read it and compute
its style vector or statistics: what `rtstyle live`'s n/b keys cost with
--style-dir), over the five fixture style images, three times. `--adain` names the
AdaIN styles to measure (default the built-in; several compare them side by side).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2

FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", "../shared/fixtures"))
STYLES = ("candy", "mosaic", "rain-princess-cropped", "starry_night", "udnie")


def backends(models: list[str], fixtures: Path, adain: list[str]) -> list[tuple[str, object]]:
    from rtstyle.backends import create_backend
    from rtstyle.models import import_style, resolve_style

    out = []
    if "adain" in models:
        out += [(f"{Path(spec).stem} ({name})", create_backend(resolve_style(spec), name))
                for spec in adain for name in ("torch", "onnxruntime")]
    if "magenta" in models:
        pair = fixtures / "onnx" / "magenta_arbitrary"
        style = import_style(pair / "arbitrary_transform.onnx", "magenta", predictor=pair / "arbitrary_predict.onnx")
        out.append(("magenta (onnxruntime)", create_backend(style)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", type=Path, default=FIXTURES)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--models", nargs="+", choices=["adain", "magenta"], default=["adain", "magenta"])
    ap.add_argument("--adain", nargs="+", default=["adain"], metavar="STYLE", help="AdaIN styles (names or files)")
    args = ap.parse_args()
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="rtstyle-bench-")
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="rtstyle-bench-cache-")  # first switches are cold
    from rtstyle.images import read_image

    style_path = lambda name: args.fixtures / "images" / "style" / f"{name}.jpg"  # noqa: E731
    photo = read_image(args.fixtures / "images" / "content" / "golden_gate.jpg")
    print("| model | frame | alpha | fps | ms per frame |\n|---|---|---|---|---|")
    switches = {}
    for label, base in backends(args.models, args.fixtures, args.adain):
        switch = []
        for _ in range(3):
            for name in STYLES:
                t0 = time.perf_counter()
                base.with_style([read_image(style_path(name))])
                switch.append((time.perf_counter() - t0) * 1000)
        switches[label] = switch
        for size in ((640, 360), (1280, 720)):
            frame = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
            for alpha in (1.0, 0.5):
                bound = base.with_style([read_image(style_path("candy"))], alpha=alpha)
                bound(frame)  # warm-up
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    bound(frame)
                    times.append(time.perf_counter() - t0)
                ms = statistics.median(times) * 1000
                print(f"| {label} | {size[0]}x{size[1]} | {alpha} | {1000 / ms:.1f} | {ms:.0f} |", flush=True)
    for label, switch in switches.items():
        cold, warm = switch[:len(STYLES)], switch[len(STYLES):]
        print(f"\n{label}: style switch (read image + statistics/vector): first time median "
              f"{statistics.median(cold):.1f} ms (max {max(cold):.1f}); again median {statistics.median(warm):.1f} ms "
              f"(max {max(warm):.1f}) over {len(warm)} switches")


if __name__ == "__main__":
    main()
