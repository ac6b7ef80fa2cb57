"""`rtstyle eval-temporal`: flicker (warping error) and style fidelity, smoothing off against on."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..output_files import check_output
from .args import add_style_args, add_temporal_args, backend_from_args, bind_style_images, count, smoother
from .terminal import terminal


def cmd_eval_temporal(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..images import read_image
    from ..sources import VideoFileSource
    from ..temporal.evaluate import evaluate, write_json, write_plot

    temporal = smoother(args)
    backend = backend_from_args(args, bind=False)  # a per-style network takes --style-image for the loss only
    if backend.takes_style_images:
        backend = bind_style_images(backend, args)
    temporal.follow(backend.meta)
    style_image = read_image(args.style_image[0]) if args.style_image else None
    src = Path(args.input)
    prefix = Path(args.output) if args.output else Path(f"{src.stem}_{backend.style.name}_temporal")
    paths = [prefix.with_name(prefix.name + ext) for ext in (".json", ".png", "_strip.png")]
    for path in paths:
        check_output(path, args.overwrite)
    source = VideoFileSource(src, height=args.height, scale=args.scale)
    console = terminal()
    if style_image is None:
        console.print("[yellow]note: no --style-image: the style loss is not measured[/]")
    total = min(filter(None, (source.info.frames, args.frames)), default=None)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=args.quiet, transient=True) as bar:
        task = bar.add_task(f"measuring {src.name}", total=total)
        try:
            report = evaluate(source, backend, temporal, style_image=style_image, every=args.every,
                              max_frames=args.frames, strip=paths[2], names=(str(src), backend.style.name),
                              on_frame=lambda n: bar.update(task, completed=n))
        finally:
            source.close()
    write_json(report, paths[0])
    write_plot(report, paths[1])
    console.print(report.summary())
    console.print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("eval-temporal", help="measure flicker (warping error) and style fidelity, smoothing off vs on")
    p.add_argument("input", help="input video")
    add_style_args(p)
    add_temporal_args(p)
    p.add_argument("--frames", type=count, help="measure the first N frames only")
    p.add_argument("--every", type=count, default=8, help="style loss on every N-th frame (VGG-19 is slow; default: 8)")
    p.add_argument("-o", "--output", help="output prefix for .json, .png and _strip.png "
                                          "(default: INPUT_STYLE_temporal)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval_temporal)
