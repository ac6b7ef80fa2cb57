"""Style-loss ratio (lower is better) and structure score (higher is better) of a style network on photos.

    python tools/eval_style.py --style starry --style-image starry_night.jpg \
        [--content ../shared/fixtures/images/content] [--save-dir out/] [--json out.json]
    python tools/eval_style.py --style adain --style-image a.jpg --style-image b.jpg ...

For each photo (resized to 512 px on the long side) it stylizes, then prints
loss(stylized, style) / loss(photo, style), the structure score of the stylized image
against the photo (`rtstyle.metrics`: 1 = scene kept, ~0 = lost), and the means of both:
a low ratio alone can come from painting over the scene. A preset runs at its defaults
(stroke size and strength, as `rtstyle.backends.load_backend` sets them): the built-in
presets with a painting must keep structure >= 0.65 and reach a ratio <= 0.8 on every
photo (model cards). An arbitrary-style model (AdaIN) is bound to each style
image in turn (alpha 1), and its reconstruction (alpha 0) PSNR against each photo is
reported too: its bar is a mean ratio <= 0.5 and PSNR >= 20 dB. `--alphas 0.25 0.5 ...`
adds the mean ratio and PSNR at those alphas: the slider from content to style, which
should move both one way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from rtstyle.backends import create_backend
from rtstyle.backends import load_backend
from rtstyle.images import IMAGE_SUFFIXES, read_image, resize_long_side, write_image
from rtstyle.metrics import (
    EVAL_LONG_SIDE,
    gram_targets,
    psnr,
    structure_score,
    style_loss,
)
from rtstyle.models import resolve_style
from rtstyle.models.library import needs_style_image


def photos(content_dir: Path) -> list[Path]:
    return sorted(p for p in content_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def evaluate(style: str, style_image: Path, content_dir: Path, save_dir: Path | None = None, backend=None) -> dict:
    backend = backend or load_backend(style, "torch")  # a preset at its own stroke size and strength
    target = gram_targets(read_image(style_image))
    rows, structure = {}, {}
    for photo in photos(content_dir):
        content = resize_long_side(read_image(photo), EVAL_LONG_SIDE)
        stylized = backend(content)
        rows[photo.name] = style_loss(stylized, target) / style_loss(content, target)
        structure[photo.name] = structure_score(stylized, content)
        if save_dir:
            save_dir.mkdir(parents=True, exist_ok=True)
            write_image(save_dir / f"{backend.style.name}_{Path(style_image).stem}_{photo.stem}.png", stylized)
    return {"style": style, "style_image": str(style_image), "ratios": rows,
            "mean": sum(rows.values()) / len(rows), "structure": structure,
            "structure_mean": sum(structure.values()) / len(structure)}


def evaluate_arbitrary(style: str, style_images: list[Path], content_dir: Path, save_dir: Path | None = None,
                       alphas: tuple[float, ...] = ()) -> dict:
    """Every style image at alpha 1 (style-loss ratios and structure scores), and alpha 0
    (reconstruction PSNR); at each of `alphas`, the means of all three over every style
    image and photo, so the slider's trade of scene for style shows in one table."""
    base = create_backend(resolve_style(style), "torch")
    per_style = {p.name: evaluate(style, p, content_dir, save_dir, base.with_style([read_image(p)]))
                 for p in style_images}
    identity = base.with_style([read_image(style_images[0])], alpha=0.0)
    contents = {photo.name: resize_long_side(read_image(photo), EVAL_LONG_SIDE) for photo in photos(content_dir)}
    recons = {name: identity(content) for name, content in contents.items()}
    recon = {name: psnr(recons[name], content) for name, content in contents.items()}
    ratios = [r for s in per_style.values() for r in s["ratios"].values()]
    structure = [r for s in per_style.values() for r in s["structure"].values()]
    curve = {}
    targets = {image: gram_targets(read_image(image)) for image in style_images} if alphas else {}
    for alpha in alphas:
        rows = []
        for image, target in targets.items():
            bound = base.with_style([read_image(image)], alpha=alpha)
            for name, content in contents.items():
                out = recons[name] if alpha == 0 else bound(content)  # alpha 0 ignores the style
                rows.append((style_loss(out, target) / style_loss(content, target), psnr(out, content),
                             structure_score(out, content)))
        ratio, quality, kept = np.mean(rows, axis=0)
        curve[str(alpha)] = {"mean": float(ratio), "psnr_mean": float(quality), "structure_mean": float(kept)}
    return {"style": style, "per_style": per_style, "mean": float(np.mean(ratios)),
            "structure_mean": float(np.mean(structure)),
            "psnr_alpha0": recon, "psnr_alpha0_mean": float(np.mean(list(recon.values()))), "alphas": curve}


def main(argv: list[str] | None = None) -> int:
    default_content = Path(os.environ.get("RTSTYLE_FIXTURES", "../shared/fixtures")) / "images" / "content"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", required=True, help="style name or weights file")
    ap.add_argument("--style-image", required=True, type=Path, action="append",
                    help="repeat for an arbitrary-style model: each image is evaluated in turn")
    ap.add_argument("--content", type=Path, default=default_content)
    ap.add_argument("--save-dir", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--alphas", type=float, nargs="+", default=[], metavar="A",
                    help="arbitrary-style models: also the mean ratio, PSNR and structure at these alphas")
    args = ap.parse_args(argv)
    if needs_style_image(resolve_style(args.style)):  # AdaIN, Magenta's arbitrary network (magenta)
        result = evaluate_arbitrary(args.style, args.style_image, args.content, args.save_dir, tuple(args.alphas))
        print(f"{'style image':28s} photo ratio/structure ...")
        for style_name, r in result["per_style"].items():
            print(" ".join([f"{style_name:28s}"] + [f"{n} {v:.3f}/{r['structure'][n]:.3f}"
                                                     for n, v in r["ratios"].items()]) +
                  f"  mean {r['mean']:.3f}/{r['structure_mean']:.3f}")
        print(f"{'mean ratio/structure (a 1)':28s} {result['mean']:.3f}/{result['structure_mean']:.3f}")
        print(" ".join([f"{'PSNR dB (alpha 0)':28s}"] + [f"{n} {v:.2f}" for n, v in result["psnr_alpha0"].items()]) +
              f"  mean {result['psnr_alpha0_mean']:.2f}")
        for alpha, r in result["alphas"].items():
            print(f"{'alpha ' + alpha:28s} mean ratio {r['mean']:.3f}  mean PSNR dB {r['psnr_mean']:.2f}"
                  f"  mean structure {r['structure_mean']:.3f}")
    elif args.alphas:
        raise SystemExit("eval_style.py: --alphas is for arbitrary-style models")
    else:
        result = evaluate(args.style, args.style_image[0], args.content, args.save_dir)
        print(f"{'photo':24s} {'ratio':>6s} {'structure':>9s}")
        for name, r in result["ratios"].items():
            print(f"{name:24s} {r:6.3f} {result['structure'][name]:9.3f}")
        print(f"{'mean':24s} {result['mean']:6.3f} {result['structure_mean']:9.3f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
