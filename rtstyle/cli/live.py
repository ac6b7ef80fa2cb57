"""`rtstyle live`: the stylized camera in a window, with hotkeys."""

from __future__ import annotations

import argparse
from pathlib import Path
import contextlib
import threading

from ..errors import RtstyleError
from .args import (add_source_args, add_style_args, add_temporal_args, backend_from_args, backend_settings, smoother,
                   source_options)
from .terminal import StatsPrinter, graceful_stop, helper_thread, terminal


def cmd_live(args: argparse.Namespace) -> int:
    from ..live.app import LiveApp
    from ..live.switcher import style_cycle, style_image_cycle
    from ..sinks.window import Window

    args.realtime = not args.as_fast_as_possible  # a file plays at its own pace, as a camera would
    options = source_options(args)
    temporal = smoother(args)
    if not Path(args.snapshot_dir).is_dir():
        raise RtstyleError(f"--snapshot-dir {args.snapshot_dir}: no such folder")
    if args.style_dir or args.style_image:
        base = backend_from_args(args, bind=False)
        if not base.takes_style_images:
            raise RtstyleError(f"--style-image/--style-dir need an arbitrary-style model; style {base.style.name!r} "
                               f"is a per-style network")
        cycle = style_image_cycle(base, _style_images(args), backend_settings(args).alpha, args.preserve_color)
    else:
        cycle = style_cycle(args.style, args.lite, lambda name: backend_from_args(args, name))
    app = LiveApp(args.source, cycle, Window(), source=options, snapshot_dir=Path(args.snapshot_dir),
                  temporal=temporal, quality=args.quality)
    terminal().print(f"live: {app.job.source.describe()}, style {cycle.labels[cycle.start]}, "
                     f"temporal {temporal.describe()}, "
                     f"{app.quality_line()}; press h in the window for help")
    stats = StatsPrinter(args.stats)

    def tick(stop: threading.Event) -> None:
        while not stop.wait(0.25):
            stats(app.job.pipeline.stats)

    with graceful_stop(app.stop, "stopping…") as caught, contextlib.ExitStack() as helpers:
        helpers.enter_context(helper_thread(tick, "rtstyle-stats"))
        if cycle.warm_up:
            helpers.enter_context(helper_thread(cycle.warm_up, "rtstyle-style-warmup"))
        result = app.run()
    stats.summary(result)
    for path in app.captures.snapshots + app.captures.recordings:
        terminal().print(f"wrote {path}")
    return 128 + caught[0] if caught else 0


def _style_images(args: argparse.Namespace) -> list[Path]:
    """--style-image files, then the images in --style-dir."""
    from ..images import IMAGE_SUFFIXES

    paths = [Path(p) for p in args.style_image or []]
    if args.style_dir:
        folder = Path(args.style_dir)
        if not folder.is_dir():
            raise RtstyleError(f"--style-dir {folder}: no such folder")
        paths += sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise RtstyleError(f"--style-dir {args.style_dir}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return paths


def add_parsers(sub) -> None:
    p = sub.add_parser("live", help="the stylized camera (or stream, or file) in a window, with hotkeys")
    p.add_argument("--source", default="0", help="camera index, /dev/videoN, URL or file (default: camera 0)")
    add_style_args(p)
    add_temporal_args(p)
    add_source_args(p)
    p.add_argument("--snapshot-dir", default=".", help="where snapshots and recordings go (default: here)")
    p.add_argument("--style-dir", help="with an arbitrary-style model: a folder of style images, cycled with n / b")
    p.add_argument("--stats", action="store_true", help="per-stage timings once a second and at the end")
    p.add_argument("--quality", choices=["auto", "max"], default="auto",
                   help="auto (default): run the network as large as still holds 20 fps here (measured at start, "
                        "adapted while running, shown in the window); max: every style at its own size")
    p.add_argument("--as-fast-as-possible", action="store_true",
                   help="a file source: decode as fast as possible (the live view then drops most frames) "
                        "instead of at its own pace")
    p.set_defaults(func=cmd_live, opens_window=True)
