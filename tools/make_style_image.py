"""Draw the project's own style images, so its weights carry no third-party artwork:
- glass: the 'stained glass' image, a seeded Voronoi mosaic of saturated glass panes
  with dark leading and a little texture;
- strokes: a seeded brush painting, curved strokes in a few bold colours that swirl
  round random vortices (AdaIN decoder training: painterly palettes and strokes).

Usage: python tools/make_style_image.py OUT.png [--kind glass|strokes] [--size 512] [--seed 7]
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


def brush_strokes(size: int = 512, seed: int = 7) -> np.ndarray:
    """Broad, then finer layers of short curved strokes along a swirling flow field, each
    seed its own palette of seven colours: painterly texture the photos do not have."""
    rng = np.random.default_rng(seed)
    hsv = np.stack([rng.uniform(0, 180, 7), rng.uniform(110, 255, 7), rng.uniform(60, 255, 7)], 1)
    palette = cv2.cvtColor(hsv[None].astype(np.uint8), cv2.COLOR_HSV2RGB)[0].astype(np.float32)
    # where each colour dominates: a coarse random grid of palette entries, so the strokes
    # form regions of colour, as in a painting, rather than confetti
    regions = rng.integers(0, len(palette), (4, 4))
    centres = rng.uniform(0, size, (int(rng.integers(2, 6)), 2))
    spins = rng.choice([-1.0, 1.0], len(centres)) * rng.uniform(0.5, 1.5, len(centres))
    drift = rng.uniform(-1, 1, 2)

    def direction(p: np.ndarray) -> np.ndarray:
        r = p - centres
        d2 = (r**2).sum(1, keepdims=True) + (size / 6) ** 2
        v = drift + (spins[:, None] * np.stack([-r[:, 1], r[:, 0]], 1) / d2 * size / 4).sum(0)
        return v / (np.linalg.norm(v) + 1e-6)

    img = np.empty((size, size, 3), np.float32)
    img[:] = palette[regions[0, 0]]
    layers = ((300, size // 32, size / 10), (900, size // 64, size / 16), (1600, size // 128, size / 28))
    for count, width, length in layers:  # strokes: how many, how thick, how long
        for _ in range(count):
            p = rng.uniform(0, size, 2)
            cell = regions[min(int(p[1] * 4 / size), 3), min(int(p[0] * 4 / size), 3)]
            colour = palette[cell if rng.random() < 0.7 else rng.integers(0, len(palette))]
            points = [p]
            for _ in range(6):
                points.append(points[-1] + direction(points[-1]) * length / 6)
            shade = np.clip(colour * rng.uniform(0.8, 1.2), 0, 255)
            stroke = [np.round(points).astype(np.int32)]
            cv2.polylines(img, stroke, False, shade.tolist(), max(width, 1), cv2.LINE_AA)
    grain = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 1.0)
    img *= (1 + 0.08 * grain)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


KINDS = {"glass": stained_glass, "strokes": brush_strokes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--kind", choices=KINDS, default="glass")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    img = KINDS[args.kind](args.size, args.seed)
    cv2.imwrite(args.out, img[:, :, ::-1])


if __name__ == "__main__":
    main()
