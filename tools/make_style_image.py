"""Draw the 'stained glass' style image: a seeded Voronoi mosaic of saturated glass
panes with dark leading and a little texture. Made by the project, so its weights
carry no third-party artwork.

Usage: python tools/make_style_image.py OUT.png [--size 512] [--seed 7]
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

PALETTE = np.array([  # RGB glass colours
    (196, 30, 58), (230, 150, 20), (250, 210, 60), (30, 110, 190), (20, 60, 140),
    (40, 150, 90), (120, 40, 150), (235, 235, 220), (200, 80, 30), (70, 180, 200),
], dtype=np.float32)


def stained_glass(size: int = 512, seed: int = 7, cells: int = 140) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, size, (cells, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    d = (xx[..., None] - points[:, 0]) ** 2 + (yy[..., None] - points[:, 1]) ** 2
    order = np.argsort(d, axis=2)
    nearest, second = order[..., 0], order[..., 1]
    d1 = np.take_along_axis(d, nearest[..., None], 2)[..., 0] ** 0.5
    d2 = np.take_along_axis(d, second[..., None], 2)[..., 0] ** 0.5
    colours = PALETTE[rng.integers(0, len(PALETTE), cells)]
    img = colours[nearest]
    # light falls off towards each pane's edge, like thick glass
    img *= (0.75 + 0.25 * np.clip((d2 - d1) / 12.0, 0, 1))[..., None]
    grain = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.5)
    img *= (1 + 0.12 * grain)[..., None]
    lead = (d2 - d1) < 3.5
    img[lead] = (25, 20, 18)
    return np.clip(img, 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    img = stained_glass(args.size, args.seed)
    cv2.imwrite(args.out, img[:, :, ::-1])


if __name__ == "__main__":
    main()
