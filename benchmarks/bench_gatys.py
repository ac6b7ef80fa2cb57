"""Gatys et al. as the quality reference: style-loss ratio and time against the built-in AdaIN.

    RTSTYLE_FIXTURES=../shared/fixtures python benchmarks/bench_gatys.py \
        [--photo amber.jpg] [--style starry_night.jpg] [--iterations 150] [--size 256]

Stylizes one fixture photo with one fixture style image both ways at the same size
(`--size` on the long side, Gatys' default) and prints each result's style-loss ratio
(`metrics.style_loss_ratio`, what tools/eval_style.py reports; lower is better) and
its wall time. Gatys optimises that very loss, so its ratio is the floor a feed-forward
model can hope to approach.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rtstyle.backends import create_backend
from rtstyle.configs import GatysConfig
from rtstyle.gatys import gatys
from rtstyle.images import read_image, resize_long_side
from rtstyle.metrics import style_loss_ratio
from rtstyle.models import resolve_style

FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", "../shared/fixtures"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", default="amber.jpg")
    ap.add_argument("--style", default="starry_night.jpg")
    ap.add_argument("--iterations", type=int, default=GatysConfig.iterations)
    ap.add_argument("--size", type=int, default=GatysConfig.size)
    args = ap.parse_args()
    photo = resize_long_side(read_image(FIXTURES / "images" / "content" / args.photo), args.size)
    style = read_image(FIXTURES / "images" / "style" / args.style)

    t0 = time.perf_counter()
    adain = create_backend(resolve_style("adain"), "torch").with_style([style])(photo)
    t1 = time.perf_counter()
    reference = gatys(photo, style, GatysConfig(iterations=args.iterations, size=args.size))
    t2 = time.perf_counter()
    print(f"{args.photo} in the style of {args.style}, {photo.shape[1]}x{photo.shape[0]}")
    print(f"adain (built-in decoder)     ratio {style_loss_ratio(adain, photo, style):.3f}  {t1 - t0:6.1f} s")
    print(f"gatys ({args.iterations} L-BFGS steps)    ratio {style_loss_ratio(reference, photo, style):.3f}  "
          f"{t2 - t1:6.1f} s")


if __name__ == "__main__":
    main()
