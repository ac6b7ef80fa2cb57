"""`rtstyle convert`: a video file, stylized, with a progress bar."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import (add_batch_arg, add_encoder_args, add_style_args, add_temporal_args, backend_from_args, encoder,
                   output_name, smoother)
from .terminal import EXIT_DAMAGED_INPUT, StatsPrinter, graceful_stop, terminal, warn_fixed_size


def cmd_convert(args: argparse.Namespace) -> int:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    from ..convert import SAMPLE_CLIP, VideoConversion
    from ..sources import VideoFileSource

    temporal = smoother(args)
    src = Path(args.input) if args.input else SAMPLE_CLIP
    VideoFileSource(src, height=args.height, scale=args.scale).close()  # its errors before a network loads
    backend = backend_from_args(args)
    warn_fixed_size(backend)
    dst = output_name(args, src, f"_{backend.style.name}.mp4")
    job = VideoConversion(src, dst, backend, height=args.height, scale=args.scale, encoder=encoder(args),
                          batch=args.batch, temporal=temporal, overwrite=args.overwrite, default_name=not args.output)
    console = terminal()
    info = job.info
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[fps]:.1f} fps"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn()]
    stats = StatsPrinter(args.stats)
    with graceful_stop(job.stop, "interrupted: finishing the file with the frames done so far…") as caught:
        # --stats replaces the progress bar: both want the last line of the terminal
        with Progress(*columns, console=console, disable=args.quiet or args.stats, transient=True) as bar:
            task = bar.add_task(f"{src.name} → {dst.name}", total=info.frames or None, fps=0.0)

            def tick(st):
                bar.update(task, completed=st.frames_out, fps=st.fps)
                stats(st)

            result = job.run(tick)
            bar.update(task, completed=result.frames, total=max(result.frames, info.frames or 0))
    stats.summary(job.pipeline.stats)
    summary = (f"{'interrupted: ' if result.interrupted else ''}wrote {result.output}: {result.frames} frames "
               f"{result.width}x{result.height} in {result.seconds:.1f} s ({result.fps:.1f} fps), "
               f"style {backend.style.name} on {result.backend}, temporal {temporal.describe()}, "
               f"audio {result.audio}")
    console.print(summary)
    if caught:
        return 128 + caught[0]
    if result.audio_errors:
        console.print(f"[yellow]warning: {src}: {result.audio_errors} damaged audio packet(s) replaced by silence[/]")
    damaged_inside = result.video_errors or result.corrupt_frames
    if result.missing_frames and not damaged_inside:  # nothing broke on the way: the data just stops
        console.print(f"[yellow]warning: {src}: the input ends early (truncated?): "
                      f"{result.missing_frames} indexed frame(s) have no data[/]")
    if damaged_inside:
        missing = f", {result.missing_frames} indexed frame(s) missing" if result.missing_frames else ""
        console.print(f"[yellow]warning: {src}: damaged video: {result.video_errors} packet(s) did not decode, "
                      f"{result.corrupt_frames} frame(s) decoded with errors{missing}; the output holds the "
                      f"{result.frames} frames that decoded[/]")
    damaged = result.video_errors or result.missing_frames or result.corrupt_frames
    return EXIT_DAMAGED_INPUT if damaged else 0


def add_parsers(sub) -> None:
    p = sub.add_parser("convert", help="stylize a video file (default: the bundled sample clip)")
    p.add_argument("input", nargs="?", help="input video (default: bundled sample clip)")
    p.add_argument("-o", "--output", help="output video (default: INPUT_STYLE.mp4 in this folder)")
    add_style_args(p)
    add_temporal_args(p)
    add_encoder_args(p, crf=20)
    add_batch_arg(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--stats", action="store_true", help="per-stage timings once a second and at the end")
    p.set_defaults(func=cmd_convert)
