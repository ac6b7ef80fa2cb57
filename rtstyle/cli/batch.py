"""`rtstyle batch`: many videos into one folder, here or on a Ray cluster, with one progress line."""

from __future__ import annotations

import argparse
from pathlib import Path

from .args import add_encoder_args, add_network_args, add_temporal_args, count, job_spec, positive
from .terminal import terminal

EXIT_SOME_FAILED = 1


def cmd_batch(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from ..cluster.batch import Batch, expand_inputs

    spec = job_spec(args)
    inputs = expand_inputs(args.inputs)
    batch = Batch(inputs, Path(args.output), spec, overwrite=args.overwrite)
    console = terminal()
    where = f"on Ray ({args.ray})" if args.ray else "here, one after another"
    console.print(f"batch: {len(inputs)} file(s) into {args.output}, style {batch.style_name}, {where}")
    columns = [TextColumn("files {task.fields[files]}"), BarColumn(), TextColumn("{task.completed:.0f} frames"),
               TextColumn("{task.fields[fps]:.1f} fps"), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=args.quiet, transient=True) as bar:
        task = bar.add_task("", total=None, files=f"0/{len(inputs)}", fps=0.0)

        def show(p):
            bar.update(task, completed=p.frames, total=p.total_frames or None, files=f"{p.files_done}/{p.files}",
                       fps=p.fps)

        if args.ray:
            results = batch.run_ray(args.ray, show, args.segment_seconds)
        else:
            results = batch.run_local(show)
    table = Table(title=None, show_edge=False)
    for column in ("input", "output", "frames", "fps", "result"):
        table.add_column(column)
    for r in results:
        table.add_row(r.input.name, r.output.name if not r.error else "-", str(r.frames), f"{r.fps:.1f}",
                      "[red]failed[/]" if r.error else f"ok ({r.segments} segment{'s' if r.segments > 1 else ''})")
    console.print(table)
    failed = sum(1 for r in results if r.error)
    for r in results:
        if r.error:
            console.print(f"[red]{r.error if str(r.input) in r.error else f'{r.input}: {r.error}'}[/]", soft_wrap=True)
    console.print(f"{len(results) - failed} of {len(results)} converted" + (f", {failed} failed" if failed else ""))
    return EXIT_SOME_FAILED if failed else 0


def add_parsers(sub) -> None:
    p = sub.add_parser("batch", help="convert many videos (files, folders, globs), here or on a Ray cluster")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, folders (searched recursively) or globs")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for INPUT_STYLE.mp4 files")
    p.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                   help="run on Ray: segments of every file as tasks (auto: a running cluster, else a local one; "
                        "or ray://HOST:10001); needs the ray extra")
    p.add_argument("--segment-seconds", type=positive, help="--ray: length of a segment (default: 4)")
    add_network_args(p)
    p.add_argument("--height", type=count, help="resize to this height before stylizing (aspect kept)")
    add_temporal_args(p)
    add_encoder_args(p, crf=20)
    p.add_argument("-y", "--overwrite", action="store_true", help="replace outputs that exist")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_batch)
