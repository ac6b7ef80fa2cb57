"""`rtstyle styles` and `rtstyle import`: the style library."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import RtstyleError


def cmd_styles(args: argparse.Namespace) -> int:
    from ..models.library import available_styles, describe, user_dir

    styles = available_styles()
    w = max([16, *map(len, styles)])  # user styles can have long names
    print(f"{'name':{w}s} {'origin':9s} {'format':6s} {'architecture':16s} details")
    for name, s in styles.items():
        try:
            m = s.meta
        except RtstyleError as exc:  # one damaged file must not hide the others
            print(f"{name:{w}s} {s.origin:9s} {s.format:6s} {'?':16s} unreadable: {exc}")
            continue
        print(f"{name:{w}s} {s.origin:9s} {s.format:6s} {m.architecture:16s} {describe(s)}")
    print(f"\nuser styles live in {user_dir()} (add with: rtstyle import PATH --name NAME)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..models.importing import import_style

    style = import_style(Path(args.path), args.name, args.input_range,
                         Path(args.predictor) if args.predictor else None, Path(args.vgg) if args.vgg else None,
                         force=args.force)
    m = style.meta
    print(f"imported {args.path} as style {style.name!r} ({m.architecture}, {style.format}) -> {style.path}")
    return 0


def add_parsers(sub) -> None:
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
