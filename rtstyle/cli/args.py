"""Options shared by several commands, their argparse types, and the objects they describe."""

from __future__ import annotations

import argparse
from pathlib import Path
import math

from ..errors import RtstyleError
from ..output_files import check_output, free_path
from ..capabilities import BACKEND_CHOICES, PRECISIONS
from ..spec import COMPILERS


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
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def crf_value(text: str) -> int:
    """argparse type: a constant rate factor, 0..63 (x264/x265 take up to 51, VP9/AV1 63)."""
    value = _parsed(text, int)
    if not 0 <= value <= 63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 63 (51 for libx264/libx265), got {value}")
    return value


def add_network_args(p: argparse.ArgumentParser) -> None:
    """The options of `spec.BackendSettings`: every command that runs a network takes them alike."""
    p.add_argument("--style", "-s", help="built-in or imported style name, a blend of presets (starry:0.7,udnie:0.3), "
                                         "or a .pth/.model/.safetensors/.onnx file (default: starry)")
    p.add_argument("--backend", default="auto", choices=BACKEND_CHOICES,
                   help="inference backend (default: auto: TensorRT on a GPU where installed, else PyTorch on a "
                        "GPU; on a CPU ONNX Runtime for presets and ONNX files, PyTorch for other weights)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="network precision (default: fp16 on a GPU, fp32 on the CPU)")
    p.add_argument("--cuda-graphs", action="store_true", help="torch on a GPU: replay CUDA graphs per frame size")
    p.add_argument("--compile", choices=COMPILERS,
                   help="torch: torch.compile with inductor, or torch-tensorrt (engines cached)")
    p.add_argument("--strength", "--alpha", type=float, metavar="0..1",
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


def add_style_args(p: argparse.ArgumentParser) -> None:
    """The network's options, any image as the style, the size it runs at and -y."""
    add_network_args(p)
    p.add_argument("--style-image", action="append", metavar="IMAGE",
                   help="with an arbitrary-style model: any image as the style (repeat to mix several); "
                        "eval-temporal also measures the style loss against it")
    p.add_argument("--style-weights", type=float, nargs="+", metavar="W",
                   help="weights for mixing several --style-image (normalised to sum to 1)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--height", type=count, help="resize to this height before stylizing (aspect kept)")
    size.add_argument("--scale", type=positive, help="resize by this factor before stylizing")
    p.add_argument("-y", "--overwrite", action="store_true", help="overwrite the output file if it exists")


def add_temporal_args(p: argparse.ArgumentParser) -> None:
    from ..temporal import DEFAULT_MODE, DEFAULT_STRENGTH, MODE_NAMES

    p.add_argument("--temporal", choices=MODE_NAMES, default=DEFAULT_MODE,
                   help=f"flicker smoothing along the optical flow: off, fast (DIS flow at 320 px) or quality "
                        f"(finer flow at 640 px, slower) (default: {DEFAULT_MODE})")
    p.add_argument("--temporal-strength", type=float, metavar="0..1",
                   help=f"how much of the previous frame is carried over; 0 is off (default: the style's own "
                        f"where it names one, lighter for networks trained for stability; else {DEFAULT_STRENGTH})")


def backend_settings(args: argparse.Namespace, style: str | None = None):
    """The network options as a checked `BackendSettings` (`style` overrides --style: live switches
    styles). --style-image alone means the built-in arbitrary network (Magenta's)."""
    from ..models.library import STYLE_IMAGE_DEFAULT
    from ..spec import BackendSettings

    images = getattr(args, "style_image", None) or getattr(args, "style_dir", None)
    return BackendSettings(style=style or args.style or (STYLE_IMAGE_DEFAULT if images else None),
                           backend=args.backend, precision=args.precision, lite=args.lite, strength=args.strength,
                           stroke=args.stroke, infer_scale=args.infer_scale, preserve_color=args.preserve_color,
                           cuda_graphs=args.cuda_graphs, compile=args.compile)


def job_spec(args: argparse.Namespace):
    """The whole job the options describe, checked in one place (`spec.JobSpec`): the network's
    settings, and of the size, smoothing and encoder options those the command has."""
    from dataclasses import fields

    from ..spec import JobSpec

    given = {f.name: getattr(args, f.name) for f in fields(JobSpec) if f.name != "backend" and hasattr(args, f.name)}
    return JobSpec(backend=backend_settings(args), **given)


def smoother(args: argparse.Namespace):
    return job_spec(args).smoother()


def add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--realtime", action="store_true", help="read a file source at its own pace, like a camera")
    p.add_argument("--loop", action="store_true", help="start a file source over at its end")
    p.add_argument("--timeout", type=positive, default=5.0, help="network read/connect timeout in s (default: 5)")
    p.add_argument("--reconnect-timeout", type=positive, default=30.0,
                   help="give up when a network source stays lost this many s (default: 30)")
    p.add_argument("--camera-size", metavar="WxH", help="resolution to ask of a camera, e.g. 1280x720")
    p.add_argument("--camera-fps", type=positive, help="frame rate to ask of a camera")


def add_encoder_args(p: argparse.ArgumentParser, crf: int) -> None:
    p.add_argument("--codec", default="libx264", help="video encoder (default: libx264)")
    p.add_argument("--crf", type=crf_value, default=crf, help=f"constant rate factor, lower is better (default: {crf})")
    p.add_argument("--preset", default="veryfast", help="encoder preset (default: veryfast)")


def add_batch_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=count, default=1,
                   help="images per network call: frames stylized together (default: 1)")


def backend_from_args(args: argparse.Namespace, style=None, bind: bool = True, workload=None):
    """The backend the style options ask for (`style` overrides --style: live switches styles),
    bound to the --style-image(s) for arbitrary-style models unless `bind` is False (then a
    per-style network accepts --style-image too: eval-temporal measures against it). `workload`:
    the job, where it is known first (`load_backend`)."""
    backend = backend_settings(args, style).load(workload=workload)
    if backend.takes_style_images:
        return bind_style_images(backend, args) if bind else backend
    if args.style_weights:
        raise RtstyleError(f"--style-weights applies to several --style-image; style {backend.style.name!r} is a "
                           f"per-style network (blend presets with --style a:0.7,b:0.3)")
    if args.style_image and bind:
        raise RtstyleError(f"--style-image needs an arbitrary-style model; style {backend.style.name!r} is a "
                           f"per-style network (import one with: rtstyle import TRANSFORM.onnx --predictor "
                           f"PREDICT.onnx --name NAME)")
    return backend


def bind_style_images(backend, args: argparse.Namespace):
    from ..images import read_image

    paths = args.style_image or []
    return backend.with_style([read_image(p) for p in paths], args.style_weights, backend_settings(args).alpha,
                              args.preserve_color)


def source_options(args: argparse.Namespace):
    from ..stream_job import SourceOptions

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


def encoder(args: argparse.Namespace):
    return job_spec(args).encoder()


def output_name(args: argparse.Namespace, src: Path, suffix: str) -> Path:
    """`-o` checked (never the input, `-y` to replace), or a free default name in this folder."""

    if args.output:
        return check_output(args.output, args.overwrite, (src,))
    return free_path(Path(f"{src.stem}{suffix}"))
