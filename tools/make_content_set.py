"""Write the training content set: scikit-image's bundled sample photos (CC0 / public domain).

Usage: python tools/make_content_set.py OUT_DIR
Each image's licence is printed and written to OUT_DIR/SOURCES.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# (skimage.data function, licence as stated in scikit-image's docstrings)
IMAGES = {
    "astronaut": "public domain (NASA)",
    "chelsea": "CC0 (Stefan van der Walt)",
    "coffee": "CC0 (Rachel Michetti)",
    "rocket": "public domain (SpaceX)",
    "hubble_deep_field": "public domain (NASA)",
    "camera": "CC0 (Lav Varshney)",
    "brick": "CC0 (CC0Textures)",
    "grass": "CC0 (CC0Textures)",
    "gravel": "CC0 (CC0Textures)",
    "coins": "public domain (Brooklyn Museum)",
}


def main(out: str) -> None:
    from skimage import data

    from rtstyle.images import write_image

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["# Training content set", ""]
    for name, licence in IMAGES.items():
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        write_image(folder / f"{name}.png", img[:, :, :3])
        lines.append(f"- {name}.png: skimage.data.{name}(), {licence}")
        print(lines[-1])
    (folder / "SOURCES.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "work/content")
