"""`rtstyle stream`: a camera, network stream or file, restyled into a stream, a file or a virtual webcam."""

from __future__ import annotations

import argparse

from ..errors import RtstyleError
from ..output_files import check_output
from .args import (add_batch_arg, add_encoder_args, add_source_args, add_style_args, add_temporal_args,
                   backend_from_args, encoder, positive, smoother, source_options)
from .terminal import StatsPrinter, graceful_stop, terminal, warn_fixed_size


def cmd_stream(args: argparse.Namespace) -> int:
    from ..sinks import is_stream_target, is_v4l2_target
    from ..sinks.v4l2 import check_output_device
    from ..sources import redact
    from ..stream_job import StreamJob

    if not args.out and not args.serve:
        raise RtstyleError("say where the stream goes: --out FILE|URL|- or --serve rtsp://HOST:PORT/NAME")
    if args.out and is_v4l2_target(args.out):  # a virtual webcam: checked before the model loads
        check_output_device(args.out)
        args.realtime = True  # a camera shows frames at their pace: a file plays at its own
    elif args.out and not is_stream_target(args.out):  # before the model loads: fail fast
        check_output(args.out, args.overwrite, (args.input,))
    options = source_options(args)
    temporal = smoother(args)
    backend = backend_from_args(args)
    warn_fixed_size(backend)
    job = StreamJob(args.input, args.out, backend, source=options, encoder=encoder(args), serve=args.serve,
                    batch=args.batch, policy=args.policy, duration=args.duration, temporal=temporal,
                    overwrite=args.overwrite)
    console = terminal()
    where = args.serve or ("stdout (MPEG-TS)" if args.out == "-" else redact(args.out))
    console.print(f"streaming {job.source.describe()} → {where}: style {backend.style.name} on {backend!r}, "
                  f"temporal {temporal.describe()}, {job.policy.value} policy")
    stats = StatsPrinter(args.stats)
    with graceful_stop(job.stop, "stopping: finishing the stream…") as caught:
        result = job.run(stats)
    stats.summary(result)
    console.print(f"streamed {result.frames_out} frames in {result.elapsed:.1f} s ({result.fps:.1f} fps), "
                  f"{result.total_dropped} dropped")
    return 128 + caught[0] if caught else 0


def add_parsers(sub) -> None:
    p = sub.add_parser("stream", help="restyle a camera, network stream or file into a stream or file")
    p.add_argument("input", help="a camera index (0), /dev/videoN, rtsp:// rtmp:// http(s):// URL, or a file")
    p.add_argument("--out", help="rtsp:// or rtmp:// URL to publish to, a file, - for MPEG-TS on stdout, or "
                                 "/dev/videoN, a v4l2loopback device: a virtual webcam for Zoom, Meet, OBS")
    p.add_argument("--serve", metavar="URL", help="serve the output yourself at rtsp://HOST:PORT/NAME "
                                                  "(needs GStreamer's RTSP server)")
    add_style_args(p)
    add_temporal_args(p)
    add_source_args(p)
    add_encoder_args(p, crf=23)
    add_batch_arg(p)
    p.add_argument("--policy", choices=["live", "offline"],
                   help="live drops frames to stay current, offline keeps every frame (default: live for "
                        "cameras, URLs and --realtime files, else offline)")
    p.add_argument("--duration", type=positive, help="stop after this many seconds")
    p.add_argument("--stats", action="store_true", help="per-stage timings once a second and at the end")
    p.set_defaults(func=cmd_stream)
