"""Style-loss ratio of a style network on a set of content photos (lower is better).

    python tools/eval_style.py --style starry --style-image starry_night.jpg \
        [--content ../shared/fixtures/images/content] [--save-dir out/] [--json out.json]

For each photo (resized to 512 px on the long side) it stylizes, then prints
loss(stylized, style) / loss(photo, style) and the mean. The built-in styles must
reach a mean of 0.6 or less.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rtstyle.backends import create_backend
from rtstyle.images import IMAGE_SUFFIXES, read_image, resize_long_side, write_image
from rtstyle.metrics import EVAL_LONG_SIDE, gram_targets, style_loss
from rtstyle.models import resolve_style


def evaluate(style: str, style_image: Path, content_dir: Path, save_dir: Path | None = None) -> dict:
    backend = create_backend(resolve_style(style), "torch")
    target = gram_targets(read_image(style_image))
    rows = {}
    for photo in sorted(p for p in content_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        content = resize_long_side(read_image(photo), EVAL_LONG_SIDE)
        stylized = backend(content)
        rows[photo.name] = style_loss(stylized, target) / style_loss(content, target)
        if save_dir:
            save_dir.mkdir(parents=True, exist_ok=True)
            write_image(save_dir / f"{backend.style.name}_{photo.stem}.png", stylized)
    return {"style": style, "style_image": str(style_image), "ratios": rows,
            "mean": sum(rows.values()) / len(rows)}


def main(argv: list[str] | None = None) -> int:
    default_content = Path(os.environ.get("RTSTYLE_FIXTURES", "../shared/fixtures")) / "images" / "content"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", required=True, help="style name or weights file")
    ap.add_argument("--style-image", required=True, type=Path)
    ap.add_argument("--content", type=Path, default=default_content)
    ap.add_argument("--save-dir", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    result = evaluate(args.style, args.style_image, args.content, args.save_dir)
    for name, r in result["ratios"].items():
        print(f"{name:24s} {r:.3f}")
    print(f"{'mean':24s} {result['mean']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
