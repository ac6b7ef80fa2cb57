"""`rtstyle image`: a still image, by a style network or by Gatys et al.'s optimisation."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..configs import GatysConfig
from ..errors import RtstyleError
from ..output_files import write_whole
from .args import add_style_args, backend_from_args, count, output_name
from .terminal import terminal, warn_fixed_size


def cmd_image(args: argparse.Namespace) -> int:
    from ..convert import image_workload, stylize_image

    if args.method == "gatys":
        return _image_gatys(args)
    backend = backend_from_args(args, workload=image_workload(args.input, args.height, args.scale))
    warn_fixed_size(backend)
    src = Path(args.input)
    dst = output_name(args, src, f"_{backend.style.name}.png")
    out = stylize_image(src, dst, backend, height=args.height, scale=args.scale, overwrite=args.overwrite,
                        default_name=not args.output)
    terminal().print(f"wrote {dst}: {out.shape[1]}x{out.shape[0]}, style {backend.style.name} on {backend!r}")
    return 0


def _image_gatys(args: argparse.Namespace) -> int:
    """`rtstyle image --method gatys`: optimise the pixels (Gatys et al.), with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    import cv2

    from ..backends.color import keep_chroma
    from ..gatys import GatysConfig, gatys
    from ..images import encode_image, read_image

    if not args.style_image or len(args.style_image) != 1:
        raise RtstyleError("--method gatys takes exactly one --style-image")
    if (args.style or args.height or args.scale or args.strength is not None or args.lite
            or args.infer_scale is not None):
        raise RtstyleError("--method gatys optimises the image itself: use --size (long side) and --style-weight, "
                           "not --style/--height/--scale/--alpha/--lite/--infer-scale")
    content, style = read_image(args.input), read_image(args.style_image[0])
    src = Path(args.input)
    dst = output_name(args, src, "_gatys.png")
    cfg = GatysConfig(iterations=args.iterations, size=args.size, optimizer=args.optimizer,
                      style_weight=args.style_weight)
    cfg.check()
    columns = [TextColumn("gatys"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.4g}"),
               TimeRemainingColumn()]
    with Progress(*columns, console=terminal(), disable=args.quiet) as bar:
        task = bar.add_task("", total=cfg.iterations, loss=float("nan"))
        out = gatys(content, style, cfg, lambda i, loss: bar.update(task, completed=i, loss=loss))
    if args.preserve_color:
        out = keep_chroma(cv2.resize(content, out.shape[1::-1], interpolation=cv2.INTER_AREA), out)
    dst = write_whole(dst, encode_image(out, dst), overwrite=args.overwrite, default_name=not args.output)
    terminal().print(f"wrote {dst}: {out.shape[1]}x{out.shape[0]}, Gatys et al. ({cfg.iterations} {cfg.optimizer} "
                     f"iterations)")
    return 0


def add_parsers(sub) -> None:
    g = GatysConfig
    p = sub.add_parser("image", help="stylize a still image")
    p.add_argument("input")
    p.add_argument("-o", "--output", help="output image (default: INPUT_STYLE.png)")
    add_style_args(p)
    p.add_argument("--method", choices=["network", "gatys"], default="network",
                   help="network: a style network (default); gatys: optimise the image on VGG-19 losses (slow, any "
                        "--style-image)")
    p.add_argument("--iterations", type=count, default=g.iterations, help=f"gatys: iterations (default {g.iterations})")
    p.add_argument("--size", type=count, default=g.size, help=f"gatys: long side in pixels (default {g.size})")
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default=g.optimizer, help="gatys: optimiser")
    p.add_argument("--style-weight", type=float, default=g.style_weight,
                   help=f"gatys: style vs content (default {g.style_weight:g})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_image)
