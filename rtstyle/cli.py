"""`rtstyle` command line. Each subcommand is a thin layer over the Python API.

Errors in the user's input end in one line on stderr and a non-zero exit:
1 error, 2 usage, 3 output written but the input was damaged, 130/143 interrupted
(the output holds the frames done so far).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from . import __version__
from .errors import RtstyleError, UsageError
from .output_files import check_output, free_path, write_whole

EXIT_ERROR, EXIT_USAGE, EXIT_DAMAGED_INPUT = 1, 2, 3


def _console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _add_style_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", "-s", help="built-in or imported style name, a blend of presets (starry:0.7,udnie:0.3), "
                                         "or a .pth/.model/.safetensors/.onnx file (default: starry)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"],
                   help="inference backend (default: auto: TensorRT on a GPU where installed, else PyTorch on a "
                        "GPU; on a CPU ONNX Runtime for presets and ONNX files, PyTorch for other weights)")
    p.add_argument("--precision", choices=["fp32", "fp16", "bf16"],
                   help="network precision (default: fp16 on a GPU, fp32 on the CPU)")
    p.add_argument("--cuda-graphs", action="store_true", help="torch on a GPU: replay CUDA graphs per frame size")
    p.add_argument("--compile", choices=["inductor", "tensorrt"],
                   help="torch: torch.compile with inductor, or torch-tensorrt (engines cached)")
    p.add_argument("--style-image", action="append", metavar="IMAGE",
                   help="with an arbitrary-style model: any image as the style (repeat to mix several); "
                        "eval-temporal also measures the style loss against it")
    p.add_argument("--style-weights", type=float, nargs="+", metavar="W",
                   help="weights for mixing several --style-image (normalised to sum to 1)")
    p.add_argument("--strength", "--alpha", dest="alpha", type=float, metavar="0..1",
                   help="style strength, 0 keeps the content: arbitrary styles move the style toward the frame's "
                        "own, other styles mix the frame back in (default: the preset's own, else 1)")
    p.add_argument("--stroke", type=float, metavar="S",
                   help="presets: stroke size relative to the frame, 2 twice as coarse, 0.5 finer (default: 1, the "
                        "preset's own, the same at any resolution)")
    p.add_argument("--preserve-color", action="store_true",
                   help="keep the content's colours, take the style's texture (luminance-only transfer, any style)")
    p.add_argument("--lite", action="store_true",
                   help="the style's lite variant, made for CPUs (STYLE_lite); with it --infer-scale defaults to "
                        "0.5 on frames of 360 lines or more")
    p.add_argument("--infer-scale", type=float, metavar="0.25..1",
                   help="run the network at this fraction of the frame's size and upsample with the frame's own "
                        "detail: 0.5 costs about a quarter, strokes get coarser (default: 1)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--height", type=count, help="resize to this height before stylizing (aspect kept)")
    size.add_argument("--scale", type=positive, help="resize by this factor before stylizing")
    p.add_argument("-y", "--overwrite", action="store_true", help="overwrite the output file if it exists")


def _add_temporal_args(p: argparse.ArgumentParser) -> None:
    from .temporal import DEFAULT_MODE, DEFAULT_STRENGTH, MODE_NAMES

    p.add_argument("--temporal", choices=MODE_NAMES, default=DEFAULT_MODE,
                   help=f"flicker smoothing along the optical flow: off, fast (DIS flow at 320 px) or quality "
                        f"(finer flow at 640 px, slower) (default: {DEFAULT_MODE})")
    p.add_argument("--temporal-strength", type=float, metavar="0..1",
                   help=f"how much of the previous frame is carried over; 0 is off (default: the style's own "
                        f"where it names one, lighter for networks trained for stability; else {DEFAULT_STRENGTH})")


def _smoother(args: argparse.Namespace):
    from .temporal import TemporalSmoother

    return TemporalSmoother(args.temporal, args.temporal_strength)


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--realtime", action="store_true", help="read a file source at its own pace, like a camera")
    p.add_argument("--loop", action="store_true", help="start a file source over at its end")
    p.add_argument("--timeout", type=positive, default=5.0, help="network read/connect timeout in s (default: 5)")
    p.add_argument("--reconnect-timeout", type=positive, default=30.0,
                   help="give up when a network source stays lost this many s (default: 30)")
    p.add_argument("--camera-size", metavar="WxH", help="resolution to ask of a camera, e.g. 1280x720")
    p.add_argument("--camera-fps", type=positive, help="frame rate to ask of a camera")


def _add_encoder_args(p: argparse.ArgumentParser, crf: int) -> None:
    p.add_argument("--codec", default="libx264", help="video encoder (default: libx264)")
    p.add_argument("--crf", type=crf_value, default=crf, help=f"constant rate factor, lower is better (default: {crf})")
    p.add_argument("--preset", default="veryfast", help="encoder preset (default: veryfast)")
    p.add_argument("--batch", type=count, default=1, help="frames per inference call (default: 1)")


def _load_backend(args: argparse.Namespace, style=None, bind: bool = True):
    """The backend the style options ask for (`style` overrides --style: live switches styles),
    bound to the --style-image(s) for arbitrary-style models unless `bind` is False (then a
    per-style network accepts --style-image too: eval-temporal measures against it)."""
    from .backends import StyleImages
    from .convert import load_backend
    from .models.registry import ARBITRARY_DEFAULT

    options = {"cuda_graphs": True} if args.cuda_graphs else {}
    if args.compile:
        options["compile"] = args.compile
    # --style-image alone: the built-in arbitrary network (Magenta's)
    name = style or args.style or (ARBITRARY_DEFAULT if args.style_image or getattr(args, "style_dir", None) else None)
    backend = load_backend(name, args.backend, args.precision, lite=args.lite, infer_scale=args.infer_scale,
                           stroke=args.stroke, **options)
    if isinstance(backend, StyleImages):
        return _bind_style_images(backend, args) if bind else backend
    if args.style_weights:
        raise RtstyleError(f"--style-weights applies to several --style-image; style {backend.style.name!r} is a "
                           f"per-style network (blend presets with --style a:0.7,b:0.3)")
    if args.alpha is not None:
        if not 0.0 <= args.alpha <= 1.0:
            raise UsageError(f"--strength must be between 0 and 1, got {args.alpha}")
        backend.strength = args.alpha
    if args.style_image and bind:
        raise RtstyleError(f"--style-image needs an arbitrary-style model; style {backend.style.name!r} is a "
                           f"per-style network (import one with: rtstyle import TRANSFORM.onnx --predictor "
                           f"PREDICT.onnx --name NAME)")
    backend.preserve_color = args.preserve_color
    return backend


def _bind_style_images(backend, args: argparse.Namespace):
    from .images import read_image

    paths = args.style_image or []
    return backend.with_style([read_image(p) for p in paths], args.style_weights, _alpha(args), args.preserve_color)


def _alpha(args: argparse.Namespace) -> float:
    """--strength for an arbitrary-style model: full style unless given."""
    return 1.0 if args.alpha is None else args.alpha


def _warn_fixed_size(backend) -> None:
    if backend.fixed_size:
        h, w = backend.fixed_size
        _console().print(f"[yellow]note: style {backend.style.name!r} only takes {w}x{h} input: "
                         f"frames are resized to that and back, so fine detail is lost[/]")


CLEAR_LINE = "\r\x1b[K"  # back to the start of the terminal line and erase it


class _LogHandler(logging.Handler):
    """rtstyle's warnings (a stream reconnecting, say) as one line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"{CLEAR_LINE if sys.stderr.isatty() else ''}rtstyle: {record.levelname.lower()}: "
                         f"{record.getMessage()}\n")
        sys.stderr.flush()


def _setup_logging() -> None:
    logger = logging.getLogger("rtstyle")
    if not logger.handlers:
        logger.addHandler(_LogHandler())
        logger.setLevel(logging.INFO)
        logger.propagate = False


class StatsPrinter:
    """--stats: one updating line on stderr about once a second, and the summary at the end."""

    def __init__(self, enabled: bool, interval: float = 1.0):
        self.enabled, self.interval = enabled, interval
        self.tty = sys.stderr.isatty()
        self._next = time.monotonic() + interval

    def __call__(self, stats) -> None:
        if not self.enabled or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.interval
        end = "" if self.tty else "\n"
        sys.stderr.write(f"{CLEAR_LINE if self.tty else ''}stats: {stats.line()}{end}")
        sys.stderr.flush()

    def summary(self, stats) -> None:
        if self.enabled:
            sys.stderr.write(("\n" if self.tty else "") + "stats summary:\n" + stats.report() + "\n")
            sys.stderr.flush()


@contextlib.contextmanager
def _graceful_stop(stop, message: str):
    """SIGINT/SIGTERM call `stop()` once (the output is finished); a second SIGINT aborts.

    Yields the list of signals caught, for the exit code (128 + signal)."""
    caught: list[int] = []

    def on_signal(signum, _frame):
        if caught:  # a second Ctrl-C: the user really wants out
            raise KeyboardInterrupt
        caught.append(signum)
        _console().print(f"[yellow]{message}[/]")
        stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _parsed(text: str, kind: type) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None


def count(text: str) -> int:
    """argparse type: a whole number >= 1 (frames, batch sizes, iterations, pixels)."""
    value = _parsed(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive(text: str) -> float:
    """argparse type: a finite number > 0 (seconds, scale factors, frame rates)."""
    value = _parsed(text, float)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def crf_value(text: str) -> int:
    """argparse type: a constant rate factor, 0..63 (x264/x265 take up to 51, VP9/AV1 63)."""
    value = _parsed(text, int)
    if not 0 <= value <= 63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 63 (51 for libx264/libx265), got {value}")
    return value


def cmd_convert(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .convert import SAMPLE_CLIP, VideoConversion

    temporal = _smoother(args)
    src = Path(args.input) if args.input else SAMPLE_CLIP
    backend = _load_backend(args)
    _warn_fixed_size(backend)
    dst = _output_name(args, src, f"_{backend.style.name}.mp4")
    job = VideoConversion(src, dst, backend, height=args.height, scale=args.scale, encoder=_encoder(args),
                          batch=args.batch, temporal=temporal, overwrite=args.overwrite, default_name=not args.output)
    console = _console()
    info = job.info
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[fps]:.1f} fps"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn()]
    stats = StatsPrinter(args.stats)
    with _graceful_stop(job.stop, "interrupted: finishing the file with the frames done so far…") as caught:
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


def _source_options(args: argparse.Namespace):
    from .stream import SourceOptions

    size = None
    if args.camera_size:
        try:
            w, h = (int(v) for v in args.camera_size.lower().split("x"))
        except ValueError:
            raise RtstyleError(f"--camera-size {args.camera_size}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
        size = (w, h)
    return SourceOptions(height=args.height, scale=args.scale, realtime=args.realtime, loop=args.loop,
                         timeout=args.timeout, reconnect_timeout=args.reconnect_timeout, camera_size=size,
                         camera_fps=args.camera_fps)


def _encoder(args: argparse.Namespace):
    from .sinks import EncoderSettings

    return EncoderSettings(codec=args.codec, crf=args.crf, preset=args.preset)


def cmd_stream(args: argparse.Namespace) -> int:
    from .sinks import is_stream_target, is_v4l2_target
    from .sinks.v4l2 import check_output_device
    from .sources import redact
    from .stream import StreamJob

    if not args.out and not args.serve:
        raise RtstyleError("say where the stream goes: --out FILE|URL|- or --serve rtsp://HOST:PORT/NAME")
    if args.out and is_v4l2_target(args.out):  # a virtual webcam: checked before the model loads
        check_output_device(args.out)
        args.realtime = True  # a camera shows frames at their pace: a file plays at its own
    elif args.out and not is_stream_target(args.out):  # before the model loads: fail fast
        check_output(args.out, args.overwrite, (args.input,))
    options = _source_options(args)
    temporal = _smoother(args)
    backend = _load_backend(args)
    _warn_fixed_size(backend)
    job = StreamJob(args.input, args.out, backend, source=options, encoder=_encoder(args), serve=args.serve,
                    batch=args.batch, policy=args.policy, duration=args.duration, temporal=temporal,
                    overwrite=args.overwrite)
    console = _console()
    where = args.serve or ("stdout (MPEG-TS)" if args.out == "-" else redact(args.out))
    console.print(f"streaming {job.source.describe()} → {where}: style {backend.style.name} on {backend!r}, "
                  f"temporal {temporal.describe()}, {job.policy.value} policy")
    stats = StatsPrinter(args.stats)
    with _graceful_stop(job.stop, "stopping: finishing the stream…") as caught:
        result = job.run(stats)
    stats.summary(result)
    console.print(f"streamed {result.frames_out} frames in {result.elapsed:.1f} s ({result.fps:.1f} fps), "
                  f"{result.total_dropped} dropped")
    return 128 + caught[0] if caught else 0


def cmd_live(args: argparse.Namespace) -> int:
    from .live import LiveApp
    from .models.registry import (DEFAULT_STYLE, LITE_SUFFIX, PRESET_ARCHITECTURES, available_styles, is_lite,
                                  needs_style_image)

    args.realtime = not args.as_fast_as_possible  # a file plays at its own pace, as a camera would
    options = _source_options(args)
    temporal = _smoother(args)
    if not Path(args.snapshot_dir).is_dir():
        raise RtstyleError(f"--snapshot-dir {args.snapshot_dir}: no such folder")
    warm_up = None
    if args.style_dir or args.style_image:
        styles, first, load, warm_up = _live_style_images(args)
    else:
        # the n/b cycle: styles that need no style image (lite variants come in through --lite)
        styles = [n for n, st in available_styles().items() if not needs_style_image(st) and not is_lite(st)]
        if args.lite:  # presets are their own lite variant
            styles = [n for n in styles if f"{n}{LITE_SUFFIX}" in available_styles()
                      or available_styles()[n].meta.architecture in PRESET_ARCHITECTURES]
        first = args.style or DEFAULT_STYLE
        if first not in styles:
            styles.insert(0, first)  # a style file given by path joins the cycle
        load = lambda name: _load_backend(args, name)  # noqa: E731
    app = LiveApp(args.source, styles, styles.index(first), load,
                  source=options, snapshot_dir=Path(args.snapshot_dir), temporal=temporal, quality=args.quality)
    _console().print(f"live: {app.job.source.describe()}, style {first}, temporal {temporal.describe()}, "
                     f"{app.quality_line()}; press h in the window for help")
    stats = StatsPrinter(args.stats)

    def tick(stop: threading.Event) -> None:
        while not stop.wait(0.25):
            stats(app.job.pipeline.stats)

    with _graceful_stop(app.stop, "stopping…") as caught, contextlib.ExitStack() as helpers:
        helpers.enter_context(_helper_thread(tick, "rtstyle-stats"))
        if warm_up:
            helpers.enter_context(_helper_thread(warm_up, "rtstyle-style-warmup"))
        result = app.run()
    stats.summary(result)
    for path in app.snapshots + app.recordings:
        _console().print(f"wrote {path}")
    return 128 + caught[0] if caught else 0


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def _live_style_images(args: argparse.Namespace):
    """Live with an arbitrary-style model: n/b cycle through --style-image files and the --style-dir folder.

    Each image is bound to the model when chosen. Where the model caches what it computes of a
    style image (AdaIN's statistics), the returned `warm_up(stop)` does that for every image
    ahead, for the caller to run on a helper thread, so a switch costs milliseconds."""
    from .backends import StyleImages
    from .images import read_image

    base = _load_backend(args, bind=False)
    if not isinstance(base, StyleImages):
        raise RtstyleError(f"--style-image/--style-dir need an arbitrary-style model; style {base.style.name!r} is a "
                           f"per-style network")
    paths = [Path(p) for p in args.style_image or []]
    if args.style_dir:
        folder = Path(args.style_dir)
        if not folder.is_dir():
            raise RtstyleError(f"--style-dir {folder}: no such folder")
        paths += sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise RtstyleError(f"--style-dir {args.style_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    by_label = {}
    for p in paths:
        label = p.stem if p.stem not in by_label else f"{p.stem}-{len(by_label)}"
        by_label[label] = p
    read_image(paths[0])  # a bad first image fails here, with one line, before the window opens

    def load(label: str):
        return base.with_style([read_image(by_label[label])], alpha=_alpha(args), preserve_color=args.preserve_color)

    def warm_up(stop: threading.Event) -> None:  # every image's style statistics, cached before its key is pressed
        for label in list(by_label)[1:]:
            if stop.is_set():
                return
            try:
                load(label)
            except RtstyleError:
                pass  # reported when the user picks it

    labels = list(by_label)
    return labels, labels[0], load, warm_up if base.caches_styles else None


@contextlib.contextmanager
def _helper_thread(work: Callable[[threading.Event], None], name: str):
    """Run `work(stop)` on a thread for the length of the block, then set `stop` and join it.

    Never leave such a thread running when the command returns: a thread still inside
    torch while Python shuts down is killed there, and the process aborts ("terminate
    called without an active exception") after its output was already written."""
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,), name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _output_name(args: argparse.Namespace, src: Path, suffix: str) -> Path:
    """`-o` checked (never the input, `-y` to replace), or a free default name in this folder."""

    if args.output:
        return check_output(args.output, args.overwrite, (src,))
    return free_path(Path(f"{src.stem}{suffix}"))


def cmd_image(args: argparse.Namespace) -> int:
    from .convert import stylize_image

    if args.method == "gatys":
        return _image_gatys(args)
    backend = _load_backend(args)
    _warn_fixed_size(backend)
    src = Path(args.input)
    dst = _output_name(args, src, f"_{backend.style.name}.png")
    out = stylize_image(src, dst, backend, height=args.height, scale=args.scale, overwrite=args.overwrite,
                        default_name=not args.output)
    _console().print(f"wrote {dst}: {out.shape[1]}x{out.shape[0]}, style {backend.style.name} on {backend!r}")
    return 0


def _image_gatys(args: argparse.Namespace) -> int:
    """`rtstyle image --method gatys`: optimise the pixels (Gatys et al.), with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    import cv2

    from .backends.color import keep_chroma
    from .gatys import GatysConfig, gatys
    from .images import encode_image, read_image

    if not args.style_image or len(args.style_image) != 1:
        raise RtstyleError("--method gatys takes exactly one --style-image")
    if args.style or args.height or args.scale or args.alpha is not None or args.lite or args.infer_scale is not None:
        raise RtstyleError("--method gatys optimises the image itself: use --size (long side) and --style-weight, "
                           "not --style/--height/--scale/--alpha/--lite/--infer-scale")
    content, style = read_image(args.input), read_image(args.style_image[0])
    src = Path(args.input)
    dst = _output_name(args, src, "_gatys.png")
    cfg = GatysConfig(iterations=args.iterations, size=args.size, optimizer=args.optimizer,
                      style_weight=args.style_weight)
    cfg.check()
    columns = [TextColumn("gatys"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.4g}"),
               TimeRemainingColumn()]
    with Progress(*columns, console=_console()) as bar:
        task = bar.add_task("", total=cfg.iterations, loss=float("nan"))
        out = gatys(content, style, cfg, lambda i, loss: bar.update(task, completed=i, loss=loss))
    if args.preserve_color:
        out = keep_chroma(cv2.resize(content, out.shape[1::-1], interpolation=cv2.INTER_AREA), out)
    dst = write_whole(dst, encode_image(out, dst), overwrite=args.overwrite, default_name=not args.output)
    _console().print(f"wrote {dst}: {out.shape[1]}x{out.shape[0]}, Gatys et al. ({cfg.iterations} {cfg.optimizer} "
                     f"iterations)")
    return 0


def cmd_eval_temporal(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .images import read_image
    from .sources import VideoFileSource
    from .temporal.evaluate import evaluate, write_json, write_plot

    from .backends import StyleImages

    temporal = _smoother(args)
    backend = _load_backend(args, bind=False)  # a per-style network takes --style-image for the loss only
    if isinstance(backend, StyleImages):
        backend = _bind_style_images(backend, args)
    temporal.follow(backend.meta)
    style_image = read_image(args.style_image[0]) if args.style_image else None
    src = Path(args.input)
    prefix = Path(args.output) if args.output else Path(f"{src.stem}_{backend.style.name}_temporal")
    paths = [prefix.with_name(prefix.name + ext) for ext in (".json", ".png", "_strip.png")]
    for path in paths:
        check_output(path, args.overwrite)
    source = VideoFileSource(src, height=args.height, scale=args.scale)
    console = _console()
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


def cmd_export(args: argparse.Namespace) -> int:
    from .models.export import ExportSpec, default_export_path, export_style
    from .models.registry import resolve_style

    style = resolve_style(args.style)
    if style.format == "onnx":
        raise RtstyleError(f"style {style.name!r} is already an ONNX model ({style.path})")
    spec = ExportSpec(height=args.height, width=args.width, dynamic=args.dynamic, batch=args.batch,
                      fp16=args.fp16, opset=args.opset)
    out = Path(args.output) if args.output else default_export_path(style, spec)
    if args.output:
        check_output(out, args.overwrite)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        check_output(out, True)
    info = export_style(style, out, spec)["export"]
    diffs = ", ".join(f"{k}: {v:.4f}" for k, v in info["max_abs_diff_vs_pytorch_fp32"].items())
    print(f"wrote {out} (opset {spec.opset}, {spec.precision}, input {info['input']['shape']}) and "
          f"{out.with_suffix('.json').name}")
    print(f"onnx.checker: ok; ONNX Runtime vs PyTorch fp32, max |diff| on 0..255: {diffs}")
    return 0


def cmd_build_engine(args: argparse.Namespace) -> int:
    from .compile.cache import EngineCache
    from .compile.profiles import onnx_input, parse_shape, profile_for
    from .compile.tensorrt_build import BuildPlan, engine_for

    src = Path(args.onnx)
    _, dims = onnx_input(src)
    shapes = {k: parse_shape(getattr(args, k), k) if getattr(args, k) else None for k in ("min", "opt", "max")}
    profile = profile_for(dims, shapes["min"], shapes["opt"], shapes["max"], stride=_export_stride(src))
    precision = "fp16" if args.fp16 else "fp32"
    if args.via == "torch-tensorrt":
        return _build_torch_tensorrt(args, profile, precision)
    plan = BuildPlan.from_onnx(src, profile, precision)
    cache = EngineCache(Path(args.cache) if args.cache else None)
    path, built = engine_for(plan, cache, rebuild=args.rebuild)
    print(f"{'built' if built else 'cached'}: {path} ({precision}, profile {profile})")
    if args.out:
        import shutil

        shutil.copyfile(path, check_output(args.out, args.overwrite))
        print(f"wrote {args.out}")
    return 0


def _export_stride(onnx_path: Path) -> int:
    """The network's stride from the sidecar `rtstyle export` wrote (8 for AdaIN), else 4."""
    import json

    from .models.export import sidecar_path

    side = sidecar_path(onnx_path)
    try:
        return int(json.loads(side.read_text())["export"]["stride"])
    except (OSError, ValueError, KeyError, TypeError):
        return 4


def _build_torch_tensorrt(args: argparse.Namespace, profile, precision: str) -> int:
    """The alternative path: the PyTorch model the ONNX was exported from, compiled by torch-tensorrt."""
    import json

    from .compile.torch_trt import compile_style
    from .models.export import sidecar_path
    from .models.registry import resolve_style

    side = sidecar_path(Path(args.onnx))
    if not side.is_file():
        raise RtstyleError(f"{side}: missing; --via torch-tensorrt needs an ONNX file made by rtstyle export")
    style = resolve_style(json.loads(side.read_text())["export"]["source"])
    if style.meta.architecture == "adain":
        raise RtstyleError("--via torch-tensorrt compiles one-input networks; build AdaIN exports from ONNX (the "
                           "default)")
    compile_style(style.build(), profile, precision)
    print(f"compiled {style.name} with torch-tensorrt ({precision}, profile {profile}); engines cached for "
          f"--backend torch --compile tensorrt")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import SIZES, BenchConfig, run_bench, table, write_report

    cfg = BenchConfig(styles=tuple(args.style or (None,)), lite=tuple(v == "lite" for v in args.variants),
                      infer_scale=args.infer_scale, width=args.width, backends=tuple(args.backends),
                      precisions=tuple(args.precisions), sizes=tuple(args.sizes or SIZES), runs=args.runs,
                      warmup=args.warmup, e2e_frames=0 if args.model_only else args.frames,
                      temporal=args.temporal, encode_threads=tuple(args.encode_threads or ()),
                      cuda_graphs=args.cuda_graphs, compile=args.compile)
    report = run_bench(cfg, progress=(lambda _: None) if args.quiet else
                       (lambda line: print(line, file=sys.stderr, flush=True)))
    print(table(report))
    if args.json:
        write_report(report, Path(args.json))
        print(f"wrote {args.json}")
    return 0 if any(r["error"] is None for r in report["results"]) else EXIT_ERROR


def cmd_styles(args: argparse.Namespace) -> int:
    from .models.registry import available_styles, user_dir

    styles = available_styles()
    w = max([16, *map(len, styles)])  # user styles can have long names
    print(f"{'name':{w}s} {'origin':9s} {'format':6s} {'architecture':16s} details")
    for name, s in styles.items():
        try:
            m = s.meta
        except RtstyleError as exc:  # one damaged file must not hide the others
            print(f"{name:{w}s} {s.origin:9s} {s.format:6s} {'?':16s} unreadable: {exc}")
            continue
        if m.architecture == "adain":
            detail = f"decoder width {m.width}, any --style-image"
        elif m.architecture == "transformer_lite":
            detail = f"lite (CPU) variant, width {m.width}, {m.num_residual} separable blocks"
        elif m.architecture == "cyclegan_resnet":
            detail = f"ngf {m.width}, {m.num_residual} res blocks, {m.extra.get('norm', 'instance')} norm"
        elif "lite_of" in m.extra:
            detail = f"lite student of {m.extra['lite_of']} (rtstyle train --teacher)"
        elif m.stroke_long_side:  # a preset of Magenta's networks
            detail = f"{m.extra.get('summary', 'preset')}, strokes at {m.stroke_long_side} px"
            if "strength" in m.extra:
                detail += f", strength {float(m.extra['strength']):g}"
        elif s.meta.extra.get("style_image") == "required":
            detail = "Magenta's arbitrary network, any --style-image"
        elif m.width:
            detail = f"width {m.width}, {m.num_residual} res blocks"
        else:
            detail = f"layout {m.layout}"
        if m.temporal_strength is not None:
            detail += f", smoothing {m.temporal_strength:g}"  # the --temporal-strength it defaults to
        print(f"{name:{w}s} {s.origin:9s} {s.format:6s} {m.architecture:16s} {detail}, input {m.input_range}")
    print(f"\nuser styles live in {user_dir()} (add with: rtstyle import PATH --name NAME)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .models.registry import import_style

    style = import_style(Path(args.path), args.name, args.input_range,
                         Path(args.predictor) if args.predictor else None, Path(args.vgg) if args.vgg else None,
                         force=args.force)
    m = style.meta
    print(f"imported {args.path} as style {style.name!r} ({m.architecture}, {style.format}) -> {style.path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .models.lite import LITE_BLOCKS, LITE_WIDTH
    from .train import TrainConfig, train

    if args.teacher:
        return _distill(args)
    if not args.style_image or not args.name:
        raise RtstyleError("rtstyle train needs --style-image and --name (or --teacher PRESET to distil a lite student)")
    _check_eval_photos(args)
    d = TrainConfig
    if args.temporal_weight < 0:
        raise UsageError(f"--temporal-weight must be 0 (off) or more, got {args.temporal_weight}")
    lite = args.lite
    width, residual = (LITE_WIDTH, LITE_BLOCKS) if lite else (d.width, d.num_residual)
    if args.init:  # fine-tuning: the network is the one being started from
        from .models.lite import ARCHITECTURE as LITE
        from .models.registry import resolve_style

        m = resolve_style(args.init).meta
        if m.architecture not in ("transformer_net", LITE):
            raise RtstyleError(f"--init {args.init}: a {m.architecture} network cannot be trained here")
        if args.lite and m.architecture != LITE:
            raise RtstyleError(f"--init {args.init} is a full-size network: drop --lite, or start from a lite style")
        lite, width, residual = m.architecture == LITE, m.width, m.num_residual
    content_weight = d.content_weight if args.content_weight is None else args.content_weight
    cfg = TrainConfig(style_image=args.style_image, content=args.content, out=args.out, name=args.name,
                      width=args.width or width, num_residual=args.residual or residual, lite=lite,
                      size=args.size, style_size=args.style_size, batch=args.batch or d.batch,
                      iters=args.iters or d.iters, lr=args.lr or d.lr, content_weight=content_weight,
                      style_weight=args.style_weight, tv_weight=args.tv_weight,
                      temporal_weight=args.temporal_weight, init=args.init, device=args.device)
    dest = train(cfg, progress=not args.quiet)
    print(f"wrote {dest} (use it with --style {dest}, or: rtstyle import {dest} --name {args.name})")
    _report(dest, [Path(args.style_image)], args.eval_photos)
    return 0


def _distill(args: argparse.Namespace) -> int:
    from .distill import DistillConfig, distill, lite_report
    from .models.registry import builtin_dir

    if args.init or args.lite:
        raise RtstyleError("--teacher tunes the teacher's own condition: drop --init/--lite")
    _check_eval_photos(args)
    d = DistillConfig
    cfg = DistillConfig(teacher=args.teacher, content=args.content, out=args.out, name=args.name,
                        scale=args.teacher_scale, size=args.size, batch=args.batch or d.batch,
                        iters=args.iters or d.iters, lr=args.lr or d.lr, device=args.device,
                        content_weight=d.content_weight if args.content_weight is None else args.content_weight)
    dest = distill(cfg, progress=not args.quiet)
    shadow = " --force" if (builtin_dir() / dest.name).exists() else ""  # in place of the built-in student
    print(f"wrote {dest} (rtstyle import {dest} --name {dest.stem}{shadow} makes --lite --style {args.teacher} "
          f"use it)")
    if args.style_image:  # the teacher's painting: both measures, teacher against student
        from .convert import sample_frames
        from .images import read_image
        from .train import load_content

        photos = load_content(Path(args.eval_photos), cfg.frame, 4) if args.eval_photos else sample_frames()
        for label, result in lite_report(dest, args.teacher, read_image(args.style_image), photos).items():
            print(f"quality, {label}: {result}")
    return 0


REPORT_PAINTINGS = 3  # train-adain judges its decoder on the first three style images


def _check_eval_photos(args: argparse.Namespace) -> None:
    """Before training, not after it: a mistyped folder must not cost the run."""
    if args.eval_photos and not Path(args.eval_photos).is_dir():
        raise RtstyleError(f"--eval-photos {args.eval_photos}: no such folder")


def _report(weights: Path, paintings: list[Path], photos: str | None) -> None:
    from .images import read_image
    from .train import report

    result = report(weights, [read_image(p) for p in paintings], photos)
    print(f"quality: {result} -> {weights.with_suffix('.quality.json')}")


def cmd_train_adain(args: argparse.Namespace) -> int:
    from .train_adain import ARCHITECTURE, AdaINTrainConfig, train_adain

    if not args.styles and not args.alpha0:
        raise RtstyleError("train-adain needs --styles (a folder of style images)")
    _check_eval_photos(args)
    for folder in (args.content, args.styles):
        if folder and not Path(folder).is_dir():
            raise RtstyleError(f"{folder}: no such folder")
    width = args.decoder_width or AdaINTrainConfig.decoder_width
    if args.init:  # fine-tuning: the decoder is the one being started from
        from .models.registry import resolve_style

        m = resolve_style(args.init).meta
        if m.architecture != ARCHITECTURE:
            raise RtstyleError(f"--init {args.init}: a {m.architecture} network has no AdaIN decoder")
        if args.decoder_width and args.decoder_width != m.width:
            raise RtstyleError(f"--init {args.init} has a decoder of width {m.width}, not --decoder-width "
                               f"{args.decoder_width}")
        width = m.width
    cfg = AdaINTrainConfig(content=args.content, styles=args.styles, out=args.out, name=args.name,
                           decoder_width=width, size=args.size, batch=args.batch, iters=args.iters,
                           lr=args.lr, style_weight=args.style_weight, identity=args.identity,
                           pixel_weight=args.pixel_weight, colour_jitter=args.colour_jitter,
                           precision=args.precision, device=args.device, init=args.init, alpha0=args.alpha0)
    dest = train_adain(cfg, progress=not args.quiet)
    print(f"wrote {dest} (use it with --style {dest} --style-image IMAGE)")
    if args.styles:  # an --alpha0 decoder paints nothing: there is no style to judge
        paintings = sorted(p for p in Path(args.styles).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        _report(dest, paintings[:REPORT_PAINTINGS], args.eval_photos)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .models.lite import LITE_BLOCKS, LITE_WIDTH
    from .distill import DistillConfig
    from .train import DEVICES, TrainConfig
    from .train_adain import PRECISIONS, AdaINTrainConfig

    ap = argparse.ArgumentParser(prog="rtstyle", description="Real-time neural style transfer for video.")
    ap.add_argument("--version", action="version", version=f"rtstyle {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("convert", help="stylize a video file (default: the bundled sample clip)")
    p.add_argument("input", nargs="?", help="input video (default: bundled sample clip)")
    p.add_argument("-o", "--output", help="output video (default: INPUT_STYLE.mp4 in this folder)")
    _add_style_args(p)
    _add_temporal_args(p)
    _add_encoder_args(p, crf=20)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--stats", action="store_true", help="per-stage timings once a second and at the end")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("stream", help="restyle a camera, network stream or file into a stream or file")
    p.add_argument("input", help="a camera index (0), /dev/videoN, rtsp:// rtmp:// http(s):// URL, or a file")
    p.add_argument("--out", help="rtsp:// or rtmp:// URL to publish to, a file, - for MPEG-TS on stdout, or "
                                 "/dev/videoN, a v4l2loopback device: a virtual webcam for Zoom, Meet, OBS")
    p.add_argument("--serve", metavar="URL", help="serve the output yourself at rtsp://HOST:PORT/NAME "
                                                  "(needs GStreamer's RTSP server)")
    _add_style_args(p)
    _add_temporal_args(p)
    _add_source_args(p)
    _add_encoder_args(p, crf=23)
    p.add_argument("--policy", choices=["live", "offline"],
                   help="live drops frames to stay current, offline keeps every frame (default: live for "
                        "cameras, URLs and --realtime files, else offline)")
    p.add_argument("--duration", type=positive, help="stop after this many seconds")
    p.add_argument("--stats", action="store_true", help="per-stage timings once a second and at the end")
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("live", help="the stylized camera (or stream, or file) in a window, with hotkeys")
    p.add_argument("--source", default="0", help="camera index, /dev/videoN, URL or file (default: camera 0)")
    _add_style_args(p)
    _add_temporal_args(p)
    _add_source_args(p)
    p.add_argument("--snapshot-dir", default=".", help="where snapshots and recordings go (default: here)")
    p.add_argument("--style-dir", help="with an arbitrary-style model: a folder of style images, cycled with n / b")
    p.add_argument("--stats", action="store_true", help="per-stage timings once a second and at the end")
    p.add_argument("--quality", choices=["auto", "max"], default="auto",
                   help="auto (default): run the network as large as still holds 20 fps here (measured at start, "
                        "adapted while running, shown in the window); max: every style at its own size")
    p.add_argument("--as-fast-as-possible", action="store_true",
                   help="a file source: decode as fast as possible (the live view then drops most frames) "
                        "instead of at its own pace")
    p.set_defaults(func=cmd_live)

    from .gatys import GatysConfig

    g = GatysConfig
    p = sub.add_parser("image", help="stylize a still image")
    p.add_argument("input")
    p.add_argument("-o", "--output", help="output image (default: INPUT_STYLE.png)")
    _add_style_args(p)
    p.add_argument("--method", choices=["network", "gatys"], default="network",
                   help="network: a style network (default); gatys: optimise the image on VGG-19 losses (slow, any "
                        "--style-image)")
    p.add_argument("--iterations", type=count, default=g.iterations, help=f"gatys: iterations (default {g.iterations})")
    p.add_argument("--size", type=count, default=g.size, help=f"gatys: long side in pixels (default {g.size})")
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default=g.optimizer, help="gatys: optimiser")
    p.add_argument("--style-weight", type=float, default=g.style_weight,
                   help=f"gatys: style vs content (default {g.style_weight:g})")
    p.set_defaults(func=cmd_image)

    p = sub.add_parser("eval-temporal", help="measure flicker (warping error) and style fidelity, smoothing off vs on")
    p.add_argument("input", help="input video")
    _add_style_args(p)
    _add_temporal_args(p)
    p.add_argument("--frames", type=count, help="measure the first N frames only")
    p.add_argument("--every", type=count, default=8, help="style loss on every N-th frame (VGG-19 is slow; default: 8)")
    p.add_argument("-o", "--output", help="output prefix for .json, .png and _strip.png "
                                          "(default: INPUT_STYLE_temporal)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval_temporal)

    p = sub.add_parser("export", help="export a style network to ONNX (checked against PyTorch)")
    p.add_argument("--style", "-s", help="built-in or imported style name, or a weights file (default: starry)")
    p.add_argument("-o", "--output", help="output .onnx (default: engines/STYLE/STYLE_SHAPE_bN_PRECISION_opN.onnx)")
    p.add_argument("--dynamic", action="store_true", help="free batch, height and width (multiples of 4)")
    p.add_argument("--height", type=count, default=360, help="input height (static), or the example (default: 360)")
    p.add_argument("--width", type=count, default=640, help="input width (static), or the example (default: 640)")
    p.add_argument("--batch", type=count, default=1, help="batch size of a static export (default: 1)")
    p.add_argument("--fp16", action="store_true", help="fp16 weights and input/output")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset, 17 or newer (default: 18)")
    p.add_argument("-y", "--overwrite", action="store_true", help="overwrite the output file if it exists")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("build-engine", help="build (or find in the cache) a TensorRT engine for an ONNX file")
    p.add_argument("onnx", help="ONNX style model (e.g. from rtstyle export)")
    p.add_argument("--fp16", action="store_true", help="fp16 engine (instance norm kept in fp32)")
    for bound, example in (("min", "1x3x256x256"), ("opt", "1x3x720x1280"), ("max", "1x3x1088x1920")):
        p.add_argument(f"--{bound}", metavar="SHAPE", help=f"{bound} input shape, NxCxHxW or HxW "
                                                           f"(default for dynamic models: {example})")
    p.add_argument("--via", choices=["tensorrt", "torch-tensorrt"], default="tensorrt",
                   help="TensorRT's ONNX parser, or torch-tensorrt on the source PyTorch model (default: tensorrt)")
    p.add_argument("--cache", help="engine cache folder (default: ~/.cache/rtstyle/engines)")
    p.add_argument("--rebuild", action="store_true", help="build even if the cache has this engine")
    p.add_argument("--out", help="also copy the engine here (e.g. engines/STYLE/STYLE.engine)")
    p.add_argument("-y", "--overwrite", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_build_engine)

    p = sub.add_parser("bench", help="per-stage timings and fps per backend, precision and frame size")
    p.add_argument("--style", "-s", nargs="+", help="styles to time (default: starry)")
    p.add_argument("--variants", nargs="+", choices=["full", "lite"], default=["full"],
                   help="full and/or lite variants of each style (default: full)")
    p.add_argument("--infer-scale", type=float, metavar="0.25..1",
                   help="network at this fraction of the frame size (default: 1; lite: 0.5 from 360 lines)")
    p.add_argument("--width", type=count, help="time an untrained TransformerNet of this width instead "
                                             "(32: the full pytorch/examples network)")
    p.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"],
                   choices=["torch", "onnxruntime", "tensorrt"])
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "fp16", "bf16"])
    p.add_argument("--sizes", nargs="+", metavar="WxH", help="frame sizes (default: 640x360 1280x720 1920x1080)")
    p.add_argument("--runs", type=count, default=5, help="timed model runs per setting (median; default: 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default: 2)")
    p.add_argument("--frames", type=count, default=24, help="frames of the end-to-end conversion (default: 24)")
    p.add_argument("--model-only", action="store_true", help="skip the end-to-end conversions")
    p.add_argument("--temporal", choices=["off", "fast", "quality"], default="off",
                   help="smoothing in the end-to-end runs (default: off)")
    p.add_argument("--encode-threads", nargs="*", type=count, metavar="N",
                   help="also time the encoder alone with these thread counts")
    p.add_argument("--cuda-graphs", action="store_true", help="torch on a GPU: CUDA graphs")
    p.add_argument("--compile", choices=["inductor", "tensorrt"], help="torch: torch.compile")
    p.add_argument("--json", help="write the full report here")
    p.add_argument("-q", "--quiet", action="store_true", help="only the table")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("styles", help="list built-in and imported styles")
    p.set_defaults(func=cmd_styles)

    p = sub.add_parser("import", help="add a pytorch/examples checkpoint, a CycleGAN generator (latest_net_G.pth) "
                                      "or an ONNX style model to your styles")
    p.add_argument("path")
    p.add_argument("--name", required=True)
    p.add_argument("--input-range", choices=["0-255", "0-1"], help="override the model's input range")
    p.add_argument("--predictor", metavar="ONNX", help="PATH is the transformer of an arbitrary-style pair "
                                                       "(e.g. Magenta's) and this its style predictor")
    p.add_argument("--vgg", metavar="PTH", help="PATH is a pytorch-AdaIN decoder.pth and this its "
                                                "vgg_normalised.pth")
    p.add_argument("--force", action="store_true", help="import under a built-in style's name, shadowing it")
    p.set_defaults(func=cmd_import)

    d = TrainConfig
    p = sub.add_parser("train", help="train a feed-forward network for one style image, or (--teacher) distil a "
                                     "preset into a lite student")
    p.add_argument("--style-image", help="the painting (--teacher: the teacher's, for the quality report)")
    p.add_argument("--content", required=True, help="folder of images and/or videos")
    p.add_argument("--name", help="the new style's name (--teacher: default TEACHER_lite)")
    p.add_argument("--teacher", metavar="PRESET",
                   help="tune this preset's condition so that, run at --teacher-scale of the frame's size, it "
                        "paints what the preset paints at its own stroke size (for --lite)")
    p.add_argument("--teacher-scale", type=float, default=0.5, help="--teacher: the student's size (default 0.5)")
    p.add_argument("--out", default="trained", help="folder for weights, checkpoint and loss log")
    p.add_argument("--lite", action="store_true", help="train the CPU architecture (depthwise-separable blocks)")
    p.add_argument("--width", type=count, help=f"channels of the first layer (default {d.width}, lite {LITE_WIDTH})")
    p.add_argument("--residual", type=count, help=f"residual blocks (default {d.num_residual}, lite {LITE_BLOCKS})")
    p.add_argument("--size", type=count, default=d.size, help="training crop size")
    p.add_argument("--style-size", type=count, default=d.style_size)
    p.add_argument("--batch", type=count, help=f"default {d.batch} (--teacher: {DistillConfig.batch})")
    p.add_argument("--iters", type=count, help=f"default {d.iters} (--teacher: {DistillConfig.iters})")
    p.add_argument("--lr", type=positive, help=f"default {d.lr} (--teacher: {DistillConfig.lr})")
    p.add_argument("--content-weight", type=float,
                   help=f"default {d.content_weight:g} (--teacher: {DistillConfig.content_weight:g}, against the "
                        f"teacher's features)")
    p.add_argument("--style-weight", type=float, default=d.style_weight)
    p.add_argument("--tv-weight", type=float, default=d.tv_weight)
    p.add_argument("--temporal-weight", type=float, default=d.temporal_weight,
                   help="weight of the stability loss (outputs of shifted, noisy views must agree); "
                        "0 = off. Makes video flicker less (see BENCHMARKS.md)")
    p.add_argument("--init", metavar="STYLE", help="start from this style's weights (name or file), "
                                                   "e.g. to fine-tune it with --temporal-weight")
    p.add_argument("--device", choices=DEVICES, default=d.device,
                   help="auto: the GPU where PyTorch sees one, else the CPU")
    p.add_argument("--eval-photos", metavar="DIR",
                   help="photos the closing report judges on (structure and style ratio; default: frames of the "
                        "bundled clip)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    a = AdaINTrainConfig
    p = sub.add_parser("train-adain", help="train an AdaIN decoder (any style image at run time)")
    p.add_argument("--content", required=True, help="folder of content images and/or videos")
    p.add_argument("--styles", help="folder of style images (not needed with --alpha0)")
    p.add_argument("--name", default=a.name)
    p.add_argument("--out", default="trained", help="folder for weights, checkpoint and loss log")
    p.add_argument("--decoder-width", type=count,
                   help=f"channels of the decoder's first conv (pytorch-AdaIN: 256; default {a.decoder_width}, "
                        "or --init's)")
    p.add_argument("--init", metavar="STYLE", help="start from this AdaIN style's decoder (name or file), e.g. "
                                                   "to train the built-in `adain` further")
    p.add_argument("--alpha0", action="store_true",
                   help="train --init's reconstruction decoder, which alpha 0 uses (alpha blends the two "
                        "decoders' weights), on pixels alone; its style decoder, and so alpha 1, stay as they are")
    p.add_argument("--size", type=count, default=a.size, help="training crop size")
    p.add_argument("--batch", type=count, default=a.batch)
    p.add_argument("--iters", type=count, default=a.iters)
    p.add_argument("--lr", type=positive, default=a.lr)
    p.add_argument("--style-weight", type=float, default=a.style_weight)
    p.add_argument("--identity", type=float, default=a.identity,
                   help="fraction of pairs where the content is its own style (teaches reconstruction)")
    p.add_argument("--pixel-weight", type=float, default=a.pixel_weight, help="pixel loss on those pairs")
    p.add_argument("--colour-jitter", type=float, default=a.colour_jitter,
                   help="fraction of content crops with a random tone (gamma, gain, offset), most of them also "
                        "with random hue, saturation and contrast (default %(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default=a.precision,
                   help="auto: bfloat16 autocast where the device runs it natively (a GPU from Ampere on, a "
                        "CPU with AVX512-BF16/AMX), else fp32")
    p.add_argument("--device", choices=DEVICES, default=a.device,
                   help="auto: the GPU where PyTorch sees one, else the CPU")
    p.add_argument("--eval-photos", metavar="DIR",
                   help="photos the closing report judges on (structure and style ratio; default: frames of the "
                        "bundled clip)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_train_adain)
    return ap


def main(argv: list[str] | None = None) -> int:
    try:  # Ctrl-C can come while the parser or a command imports torch: one line then, too
        args = build_parser().parse_args(argv)
        _setup_logging()
        return args.func(args)
    except UsageError as exc:
        print(f"rtstyle: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RtstyleError as exc:
        print(f"rtstyle: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rtstyle: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`rtstyle styles | head`): stop quietly, as shell tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 141
    except Exception as exc:  # a bug: one line by default, the traceback on request
        if os.environ.get("RTSTYLE_DEBUG"):
            raise
        print(f"rtstyle: internal error: {type(exc).__name__}: {exc} (set RTSTYLE_DEBUG=1 for details)",
              file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
