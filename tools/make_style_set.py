"""Write the AdaIN decoder's training style set, made by the project itself.

Usage: python tools/make_style_set.py CONTENT_DIR OUT_DIR

- every photo of CONTENT_DIR (tools/make_content_set.py: CC0 / public-domain photos)
  as it is, so photographic statistics are covered;
- each photo through each built-in style network (painterly textures and palettes);
- the stained-glass drawing of tools/make_style_image.py at several seeds.
Nothing third-party beyond the content set's photos; SOURCES.md lists every file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from make_style_image import stained_glass

from rtstyle.backends import create_backend
from rtstyle.images import IMAGE_SUFFIXES, read_image, resize_long_side, write_image
from rtstyle.models.registry import available_styles

SEEDS = (1, 2, 3, 4, 5, 6)


def main(content: str, out: str) -> None:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    photos = sorted(p for p in Path(content).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    lines = ["# AdaIN training style set", ""]
    images = {p.stem: resize_long_side(read_image(p), 512) for p in photos}
    for stem, img in images.items():
        write_image(folder / f"photo_{stem}.png", img)
        lines.append(f"- photo_{stem}.png: the content set's {stem}")
    for style in (s for s in available_styles().values()
                  if s.origin == "built-in" and s.meta.architecture == "transformer_net"):
        backend = create_backend(style, "torch")
        for stem, img in images.items():
            write_image(folder / f"{style.name}_{stem}.png", backend(img))
            lines.append(f"- {style.name}_{stem}.png: photo {stem} through the built-in style {style.name}")
    for seed in SEEDS:
        write_image(folder / f"glass_{seed}.png", stained_glass(512, seed))
        lines.append(f"- glass_{seed}.png: tools/make_style_image.py --seed {seed}")
    (folder / "SOURCES.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines) - 2} style images to {folder}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
