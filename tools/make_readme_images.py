"""Compose the README's pictures; every pixel comes from rtstyle:
- docs/images/before_after.jpg: a frame of the bundled sample clip, original and
  stylized with every built-in style network, in a 2-column grid;
- docs/images/style_adain.jpg (the adain model card's preview): that frame, then through
  the built-in AdaIN model with the stained-glass drawing as the style, then the same
  with colour preservation.

Usage: python tools/make_readme_images.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from rtstyle.backends import create_backend
from rtstyle.images import write_image
from rtstyle.models.registry import available_styles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = img.copy()
    cv2.rectangle(out, (0, 0), (12 + 11 * len(text), 30), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def adain_preview(frame: np.ndarray) -> np.ndarray:
    from make_style_image import stained_glass

    model = create_backend(available_styles()["adain"], "torch")
    glass = [stained_glass()]
    tiles = [frame, model.with_style(glass)(frame), model.with_style(glass, preserve_color=True)(frame)]
    return np.hstack([cv2.resize(t, (320, 180), interpolation=cv2.INTER_AREA) for t in tiles])


def main() -> int:
    from publish_style import sample_frame

    frame = sample_frame()
    adain = ROOT / "docs" / "images" / "style_adain.jpg"
    write_image(adain, adain_preview(frame))
    print(f"wrote {adain}")
    tiles = [label(frame, "original")]
    for name, style in available_styles().items():  # the full per-style networks (lite ones look alike)
        if style.origin == "built-in" and style.meta.architecture == "transformer_net":
            tiles.append(label(create_backend(style, "torch")(frame), name))
    tiles = [cv2.resize(t, (480, 270), interpolation=cv2.INTER_AREA) for t in tiles]
    if len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.vstack([np.hstack(tiles[i:i + 2]) for i in range(0, len(tiles), 2)])
    out = ROOT / "docs" / "images" / "before_after.jpg"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_image(out, grid)
    print(f"wrote {out} ({grid.shape[1]}x{grid.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
