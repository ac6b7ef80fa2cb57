"""Write the AdaIN decoder's training style set, made by the project itself.

Usage: python tools/make_style_set.py CONTENT_DIR OUT_DIR [--jitter 2]

- every photo of CONTENT_DIR (tools/make_content_set.py: CC0 / public-domain photos)
  as it is, so photographic statistics are covered;
- each photo through the built-in style networks of NETWORK_STYLES (painterly textures
  and palettes);
- the stained-glass drawing and the brush painting of tools/make_style_image.py at
  several seeds;
- each of those in `--jitter` colour-jittered copies (hue, saturation, contrast; seeded):
  a decoder trained on few palettes reproduces those palettes instead of the style's.
Nothing third-party beyond the content set's photos; SOURCES.md lists every file.
The same inputs give the same set.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import torch
from make_style_image import brush_strokes, stained_glass

from rtstyle.backends import create_backend
from rtstyle.images import IMAGE_SUFFIXES, read_image, resize_long_side, write_image
from rtstyle.models.library import available_styles
from rtstyle.train_adain import jitter_colours

# starry and udnie learnt the fixture paintings that tools/eval_style.py scores the decoder
# on (The Starry Night, Udnie): their renders are in the set that trained the shipped
# decoder, so the model card reports those two apart. candy and mosaic (also eval
# paintings) are kept out, so three of the five eval styles stay unseen.
NETWORK_STYLES = ("starry", "udnie", "stained_glass")
GLASS_SEEDS = (1, 2, 3, 4, 5, 6)
STROKE_SEEDS = tuple(range(1, 13))


def jittered(image: np.ndarray, seed: int) -> np.ndarray:
    x = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
    return (jitter_colours(x, random.Random(seed)) * 255.0).round().byte().permute(1, 2, 0).numpy()


def main(content: str, out: str, jitter: int = 2) -> None:
    if not Path(content).is_dir():
        raise SystemExit(f"{content}: no such folder")
    photos = sorted(p for p in Path(content).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    images = {p.stem: resize_long_side(read_image(p), 512) for p in photos}
    made: dict[str, tuple[np.ndarray, str]] = {}  # file name: (image, where it came from)
    for stem, img in images.items():
        made[f"photo_{stem}.png"] = img, f"the content set's {stem}"
    styles = available_styles()
    for style in (styles[name] for name in NETWORK_STYLES):
        backend = create_backend(style, "torch")
        for stem, img in images.items():
            made[f"{style.name}_{stem}.png"] = backend(img), f"photo {stem} through the built-in style {style.name}"
    for kind, draw, seeds in (("glass", stained_glass, GLASS_SEEDS), ("strokes", brush_strokes, STROKE_SEEDS)):
        for seed in seeds:
            made[f"{kind}_{seed}.png"] = draw(512, seed), f"tools/make_style_image.py --kind {kind} --seed {seed}"
    for i, name in enumerate(sorted(made)):
        for j in range(jitter):
            seed = 1000 * i + j
            how = f"{name} colour-jittered (rtstyle.train_adain.jitter_colours, seed {seed})"
            made[f"{name[:-4]}_jitter{j}.png"] = jittered(made[name][0], seed), how
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (img, _) in made.items():
        write_image(folder / name, img)
    lines = ["# AdaIN training style set", "", *(f"- {name}: {source}" for name, (_, source) in made.items())]
    (folder / "SOURCES.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(made)} style images to {folder}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("content")
    ap.add_argument("out")
    ap.add_argument("--jitter", type=int, default=2, help="colour-jittered copies of each image (default 2)")
    args = ap.parse_args()
    main(args.content, args.out, args.jitter)
